"""The generic engine behind every typed KMIP structure.

A structure is declared once, as a dataclass whose annotations are the schema:

    @dataclass(kw_only=True)
    class Name(Structure):
        TAG = Tag.NAME
        name_value: str | None = kmip(Tag.NAME_VALUE, required=True)
        name_type: NameType | None = kmip(Tag.NAME_TYPE, required=True)

From the annotations `Structure` derives how each field maps to items (str -> Text
String, an enum class -> Enumeration, a mask class -> Integer, `list[...]` ->
repeated, a union -> chosen by item type on decode and by Python type on encode),
then decodes leniently (children in any order; children it has no field for are
kept verbatim in `other`) and encodes canonically (declared order) and strictly
per protocol version (a field the version does not define is an error, never
silently sent).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, Self

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import KmipEnum, KmipMask, Version
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType

LATEST: Version = (2, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC_TYPES = (ItemType.INTEGER, ItemType.LONG_INTEGER, ItemType.BIG_INTEGER, ItemType.INTERVAL)


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


# --- value converters -------------------------------------------------------------------


class Converter(Protocol):
    """Maps one kind of Python value to items of one type (and back)."""

    item_type: ItemType

    def accepts(self, value: object) -> bool: ...

    def encode(self, tag: int, value: Any, version: Version) -> Item: ...

    def decode(self, item: Item, version: Version) -> Any: ...


class _Plain:
    """str, bytes, bool and int values, stored in the item as they are."""

    def __init__(self, item_type: ItemType, python_type: type) -> None:
        self.item_type = item_type
        self.python_type = python_type

    def accepts(self, value: object) -> bool:
        if self.python_type is int:
            return type(value) is int
        return isinstance(value, self.python_type)

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        return Item(tag, self.item_type, value)

    def decode(self, item: Item, version: Version) -> Any:
        return item.value


class _DateTime:
    """datetime values (timezone-aware, UTC) as Date-Time or Date-Time Extended items."""

    def __init__(self, item_type: ItemType) -> None:
        self.item_type = item_type
        self.unit = 1_000_000 if item_type is ItemType.DATE_TIME_EXTENDED else 1

    def accepts(self, value: object) -> bool:
        return isinstance(value, datetime)

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        whole = delta.days * 86400 + delta.seconds
        if self.unit == 1:
            return Item(tag, self.item_type, whole)
        return Item(tag, self.item_type, whole * self.unit + delta.microseconds)

    def decode(self, item: Item, version: Version) -> Any:
        assert isinstance(item.value, int)
        try:
            return (
                _EPOCH + timedelta(microseconds=item.value)
                if self.unit != 1
                else _EPOCH + timedelta(seconds=item.value)
            )
        except OverflowError:
            raise CodecError(f"date-time {item.value} of 0x{item.tag:06X} is out of range") from None


class _Enum:
    def __init__(self, enum_class: type[KmipEnum]) -> None:
        self.item_type = ItemType.ENUMERATION
        self.enum_class = enum_class

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.enum_class)

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        return Item(tag, ItemType.ENUMERATION, int(value))

    def decode(self, item: Item, version: Version) -> Any:
        assert isinstance(item.value, int)
        return self.enum_class(item.value)


class _Mask:
    def __init__(self, mask_class: type[KmipMask]) -> None:
        self.item_type = ItemType.INTEGER
        self.mask_class = mask_class

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.mask_class)

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        raw = int(value) & 0xFFFFFFFF
        return Item(tag, ItemType.INTEGER, raw - (1 << 32) if raw >= 1 << 31 else raw)

    def decode(self, item: Item, version: Version) -> Any:
        assert isinstance(item.value, int)
        return self.mask_class(item.value & 0xFFFFFFFF)


class _Nested:
    def __init__(self, structure: type[Structure]) -> None:
        self.item_type = ItemType.STRUCTURE
        self.structure = structure

    def accepts(self, value: object) -> bool:
        return type(value) is self.structure

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        item: Item = value.to_item(version)
        # The field decides the tag (e.g. RNG Parameters under Random Number Generator).
        return item if item.tag == tag else Item(tag, item.type, item.value)

    def decode(self, item: Item, version: Version) -> Any:
        return self.structure.from_item(item, version)


class _RawItem:
    """Any item, kept as it is (vendor extensions, values of unknown attributes)."""

    item_type = ItemType.STRUCTURE  # nominal: accepts items of every type

    def accepts(self, value: object) -> bool:
        return isinstance(value, Item)

    def encode(self, tag: int, value: Any, version: Version) -> Item:
        return Item(tag, value.type, value.value)

    def decode(self, item: Item, version: Version) -> Any:
        return item


RAW_ITEM = _RawItem()


def _int_item_type(tag: int | None, explicit: ItemType | None) -> ItemType:
    if explicit is not None:
        return explicit
    row = spec.tag_info(tag) if tag is not None else None
    if row:
        for name in row.types:
            candidate = ItemType[_SNAKE[name]]
            if candidate in _NUMERIC_TYPES:
                return candidate
        if "Enumeration" in row.types:  # an enumeration without named values
            return ItemType.ENUMERATION
    return ItemType.INTEGER


_SNAKE = {
    "Integer": "INTEGER",
    "LongInteger": "LONG_INTEGER",
    "BigInteger": "BIG_INTEGER",
    "Interval": "INTERVAL",
    "Enumeration": "ENUMERATION",
    "Boolean": "BOOLEAN",
    "TextString": "TEXT_STRING",
    "ByteString": "BYTE_STRING",
    "DateTime": "DATE_TIME",
    "DateTimeExtended": "DATE_TIME_EXTENDED",
    "Structure": "STRUCTURE",
}


def converter_for(python_type: Any, tag: int | None, item_type: ItemType | None = None) -> Converter:
    """The converter for one member of a field's annotation."""
    if python_type is str:
        return _Plain(ItemType.TEXT_STRING, str)
    if python_type is bytes:
        return _Plain(ItemType.BYTE_STRING, bytes)
    if python_type is bool:
        return _Plain(ItemType.BOOLEAN, bool)
    if python_type is int:
        return _Plain(_int_item_type(tag, item_type), int)
    if python_type is datetime:
        row = spec.tag_info(tag) if tag is not None else None
        extended = item_type is ItemType.DATE_TIME_EXTENDED or (
            row is not None and "DateTimeExtended" in row.types and "DateTime" not in row.types
        )
        return _DateTime(ItemType.DATE_TIME_EXTENDED if extended else ItemType.DATE_TIME)
    if python_type is Item or python_type is Any:
        return RAW_ITEM
    if isinstance(python_type, type):
        if issubclass(python_type, KmipMask):
            return _Mask(python_type)
        if issubclass(python_type, KmipEnum):
            return _Enum(python_type)
        if issubclass(python_type, Structure):
            return _Nested(python_type)
    raise TypeError(f"no KMIP mapping for {python_type!r}")


# --- fields -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One field of a structure: which children it holds and how they convert."""

    name: str
    tag: int | None  # None: the tag of the value's own class (a union of structures)
    converters: tuple[Converter, ...]
    repeated: bool
    required: bool
    since: Version | None
    until: Version | None

    def defined_in(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return self.until is None or version <= self.until

    def tags(self) -> tuple[int, ...]:
        if self.tag is not None:
            return (self.tag,)
        return tuple(c.structure.TAG for c in self.converters if isinstance(c, _Nested))

    def converter_for_item(self, item: Item) -> Converter | None:
        for converter in self.converters:
            if converter is RAW_ITEM:
                return converter
            if converter.item_type is item.type:
                if (
                    self.tag is None
                    and isinstance(converter, _Nested)
                    and item.tag != converter.structure.TAG
                ):
                    continue
                return converter
        return None

    def converter_for_value(self, value: object) -> Converter | None:
        for converter in self.converters:
            if converter.accepts(value):
                return converter
        return None


def kmip(
    tag: int | None,
    *,
    required: bool = False,
    since: Version | None = None,
    until: Version | None = None,
    item_type: ItemType | None = None,
) -> Any:
    """Declare a dataclass field that maps to child items with `tag`.

    `since`/`until` bound the protocol versions that define the field (default:
    what the tag table says); `item_type` picks Long Integer, Big Integer or
    Interval for an `int` where the tag alone does not say.
    """
    metadata = {"kmip": (tag, required, since, until, item_type)}
    return dataclasses.field(default=None, metadata=metadata)


def kmip_list(
    tag: int | None,
    *,
    required: bool = False,
    since: Version | None = None,
    until: Version | None = None,
    item_type: ItemType | None = None,
) -> Any:
    """Declare a repeated field (a list, empty when absent)."""
    metadata = {"kmip": (tag, required, since, until, item_type)}
    return dataclasses.field(default_factory=list, metadata=metadata)


def _members(annotation: Any) -> tuple[bool, list[Any]]:
    """(repeated, the non-None members) of a field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        repeated = False
        if len(members) == 1 and typing.get_origin(members[0]) is list:
            repeated, members = True, list(typing.get_args(members[0]))
        flattened: list[Any] = []
        for member in members:
            flattened.extend(
                _members(member)[1]
                if typing.get_origin(member) in (typing.Union, types.UnionType)
                else [member]
            )
        return repeated, flattened
    if origin is list:
        inner = typing.get_args(annotation)[0]
        return True, _members(inner)[1]
    return False, [annotation]


def _tag_since_until(tags: Iterable[int]) -> tuple[Version | None, Version | None]:
    since: Version | None = None
    until: Version | None = None
    for tag in tags:
        row = spec.tag_info(tag)
        if row is None:
            continue
        since = row.since if since is None else min(since, row.since)
        until = row.until if until is None else max(until, row.until) if row.until else None
    return since, until


# --- structures -------------------------------------------------------------------------


T = typing.TypeVar("T")


@typing.dataclass_transform(kw_only_default=True)
def structure(cls: type[T]) -> type[T]:
    """Class decorator for Structure subclasses: a keyword-only dataclass."""
    return dataclasses.dataclass(kw_only=True)(cls)


@dataclasses.dataclass(kw_only=True)
class Structure:
    """Base of every typed KMIP structure (a `@structure` subclass with a TAG)."""

    TAG: ClassVar[int]
    # Filled on first use, once every class the annotations name exists.
    _fields: ClassVar[tuple[FieldSpec, ...] | None] = None
    _by_tag: ClassVar[dict[int, FieldSpec]]

    # Children no field holds (vendor extensions, items of newer versions), kept
    # verbatim and re-encoded after the declared fields.
    other: list[Item] = dataclasses.field(default_factory=list, repr=False)

    @classmethod
    def fields(cls) -> tuple[FieldSpec, ...]:
        if cls.__dict__.get("_fields") is None:
            cls._build_fields()
        assert cls._fields is not None
        return cls._fields

    @classmethod
    def _build_fields(cls) -> None:
        hints = typing.get_type_hints(cls)
        specs: list[FieldSpec] = []
        for field in dataclasses.fields(cls):
            declared = field.metadata.get("kmip")
            if declared is None:
                continue
            tag, required, since, until, item_type = declared
            repeated, members = _members(hints[field.name])
            converters = tuple(converter_for(member, tag, item_type) for member in members)
            spec_field = FieldSpec(field.name, tag, converters, repeated, required, since, until)
            if since is None and until is None:
                tag_since, tag_until = _tag_since_until(spec_field.tags())
                spec_field = dataclasses.replace(spec_field, since=tag_since, until=tag_until)
            specs.append(spec_field)
        cls._fields = tuple(specs)
        cls._by_tag = {tag: f for f in specs for tag in f.tags()}

    # --- decoding -----------------------------------------------------------------------

    @classmethod
    def from_item(cls, item: Item, version: Version = LATEST) -> Self:
        if item.type is not ItemType.STRUCTURE:
            raise CodecError(f"{cls.__name__} must be a Structure, got a {item.type.name}")
        fields = cls.fields()
        by_tag = cls._by_tag
        values: dict[str, Any] = {}
        other: list[Item] = []
        for child in item.children:
            field = by_tag.get(child.tag)
            if field is None:
                other.append(child)
                continue
            converter = field.converter_for_item(child)
            if converter is None:
                raise CodecError(f"{cls.__name__}.{field.name} cannot be a {child.type.name}")
            value = converter.decode(child, version)
            if field.repeated:
                values.setdefault(field.name, []).append(value)
            elif field.name in values:
                raise CodecError(f"{cls.__name__}.{field.name} appears more than once")
            else:
                values[field.name] = value
        for field in fields:
            if field.required and field.name not in values and field.defined_in(version):
                raise CodecError(f"{cls.__name__} lacks its required {field.name}")
        return cls._construct(values, other, item, version)

    @classmethod
    def _construct(cls, values: dict[str, Any], other: list[Item], item: Item, version: Version) -> Self:
        """Build the instance from decoded field values (structures with context override it)."""
        return cls(**values, other=other)

    # --- encoding -----------------------------------------------------------------------

    def to_item(self, version: Version = LATEST) -> Item:
        children: list[Item] = []
        for field in self.fields():
            value = getattr(self, field.name)
            if value is None or (field.repeated and not value):
                if field.required and field.defined_in(version):
                    raise CodecError(f"{type(self).__name__}.{field.name} is required")
                continue
            if not field.defined_in(version):
                raise CodecError(
                    f"{type(self).__name__}.{field.name} is not defined in KMIP {version_text(version)}"
                )
            for element in value if field.repeated else (value,):
                children.append(self._encode_value(field, element, version))
        children.extend(self.other)
        return Item(self.TAG, ItemType.STRUCTURE, children)

    def _encode_value(self, field: FieldSpec, value: Any, version: Version) -> Item:
        converter = field.converter_for_value(value)
        if converter is None:
            raise CodecError(f"{type(self).__name__}.{field.name} cannot hold {value!r}")
        tag = field.tag if field.tag is not None else type(value).TAG
        return converter.encode(tag, value, version)
