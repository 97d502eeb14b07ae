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
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, Self

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import KmipEnum, KmipMask, Version
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, Limits, binary
from pkcs11_kmip.kmip.ttlv.limits import MAX_SUPPORTED_DEPTH

LATEST: Version = (2, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC_TYPES = (ItemType.INTEGER, ItemType.LONG_INTEGER, ItemType.BIG_INTEGER, ItemType.INTERVAL)


def version_text(version: Version) -> str:
    return f"{version[0]}.{version[1]}"


# --- value converters -------------------------------------------------------------------


class Converter(Protocol):
    """Maps one kind of Python value to items of one type, and writes it as TTLV."""

    item_type: ItemType

    def accepts(self, value: object) -> bool: ...

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None: ...

    def decode(self, item: Item, version: Version) -> Any: ...


@typing.runtime_checkable
class LeafConverter(Converter, Protocol):
    """A converter of values that are one leaf item: it needs only the item's value."""

    def decode_value(self, value: Any, tag: int) -> Any:
        """The typed value of a leaf item's value (`tag`: the item's, for error messages)."""
        ...


class _Plain:
    """str, bytes, bool and int values, stored in the item as they are."""

    def __init__(self, item_type: ItemType, python_type: type) -> None:
        self.item_type = item_type
        self.python_type = python_type
        self.writer = binary.LEAF_WRITERS[item_type]

    def accepts(self, value: object) -> bool:
        if self.python_type is int:
            return type(value) is int
        return isinstance(value, self.python_type)

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        self.writer(out, (tag << 8) | self.item_type, value)

    def decode(self, item: Item, version: Version) -> Any:
        return item.value

    def decode_value(self, value: Any, tag: int) -> Any:
        return value


class _DateTime:
    """datetime values (timezone-aware, UTC) as Date-Time or Date-Time Extended items."""

    def __init__(self, item_type: ItemType) -> None:
        self.item_type = item_type
        self.extended = item_type is ItemType.DATE_TIME_EXTENDED
        self.writer = binary.LEAF_WRITERS[item_type]

    def accepts(self, value: object) -> bool:
        return isinstance(value, datetime)

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        moment: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        delta = moment - _EPOCH
        seconds = delta.days * 86400 + delta.seconds
        number = seconds * 1_000_000 + delta.microseconds if self.extended else seconds
        self.writer(out, (tag << 8) | self.item_type, number)

    def decode(self, item: Item, version: Version) -> Any:
        return self.decode_value(item.value, item.tag)

    def decode_value(self, value: Any, tag: int) -> Any:
        assert isinstance(value, int)
        try:
            if self.extended:
                return _EPOCH + timedelta(microseconds=value)
            return _EPOCH + timedelta(seconds=value)
        except OverflowError:
            raise CodecError(f"date-time {value} of 0x{tag:06X} is out of range") from None


class _Enum:
    def __init__(self, enum_class: type[KmipEnum]) -> None:
        self.item_type = ItemType.ENUMERATION
        self.enum_class = enum_class
        self.members = enum_class._value2member_map_
        self.writer = binary.LEAF_WRITERS[ItemType.ENUMERATION]

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.enum_class)

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        self.writer(out, (tag << 8) | self.item_type, int(value))

    def decode(self, item: Item, version: Version) -> Any:
        return self.decode_value(item.value, item.tag)

    def decode_value(self, value: Any, tag: int) -> Any:
        member = self.members.get(value)
        return member if member is not None else self.enum_class(value)


class _Mask:
    def __init__(self, mask_class: type[KmipMask]) -> None:
        self.item_type = ItemType.INTEGER
        self.mask_class = mask_class
        # The masks met so far (the flag class adds each new combination to it).
        self.members = mask_class._value2member_map_
        self.writer = binary.LEAF_WRITERS[ItemType.INTEGER]

    def accepts(self, value: object) -> bool:
        return isinstance(value, self.mask_class)

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        raw = int(value) & 0xFFFFFFFF
        number = raw - (1 << 32) if raw >= 1 << 31 else raw
        self.writer(out, (tag << 8) | self.item_type, number)

    def decode(self, item: Item, version: Version) -> Any:
        return self.decode_value(item.value, item.tag)

    def decode_value(self, value: Any, tag: int) -> Any:
        assert isinstance(value, int)
        value &= 0xFFFFFFFF
        # What mask_class(value) finds first, without the enum machinery's calls around it.
        member = self.members.get(value)
        return member if member is not None else self.mask_class(value)


class _Nested:
    def __init__(self, structure: type[Structure]) -> None:
        self.item_type = ItemType.STRUCTURE
        self.structure = structure

    def accepts(self, value: object) -> bool:
        return type(value) is self.structure

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        # The field decides the tag (e.g. RNG Parameters under Random Number Generator).
        value.write_to(out, version, tag)

    def decode(self, item: Item, version: Version) -> Any:
        return self.structure.from_item(item, version)


class _RawItem:
    """Any item, kept as it is (vendor extensions, values of unknown attributes)."""

    item_type = ItemType.STRUCTURE  # nominal: accepts items of every type

    def accepts(self, value: object) -> bool:
        return isinstance(value, Item)

    def write(self, out: bytearray, tag: int, value: Any, version: Version) -> None:
        binary.encode_into(out, value if value.tag == tag else Item(tag, value.type, value.value))

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


class FieldSpec:
    """One field of a structure: which children it holds and how they convert.

    The converters are indexed once, by item type (or by child tag for a union of
    structures) for decoding and by Python type for encoding, so the per-item cost
    is a dictionary lookup.
    """

    __slots__ = (
        "_by_python_type",
        "_decoders",
        "converters",
        "name",
        "raw",
        "repeated",
        "required",
        "since",
        "tag",
        "until",
    )

    def __init__(
        self,
        name: str,
        tag: int | None,
        converters: tuple[Converter, ...],
        repeated: bool,
        required: bool,
        since: Version | None,
        until: Version | None,
    ) -> None:
        self.name = name
        self.tag = tag  # None: the tag of the value's own class (a union of structures)
        self.converters = converters
        self.repeated = repeated
        self.required = required
        self.since = since
        self.until = until
        self.raw = RAW_ITEM in converters
        self._decoders: dict[int, Converter] = {}
        for converter in reversed(converters):  # the first listed wins
            if tag is None and isinstance(converter, _Nested):
                self._decoders[converter.structure.TAG] = converter
            else:
                self._decoders[converter.item_type] = converter
        self._by_python_type: dict[type, Converter] = {}

    def defined_in(self, version: Version) -> bool:
        if self.since is not None and version < self.since:
            return False
        return self.until is None or version <= self.until

    def tags(self) -> tuple[int, ...]:
        if self.tag is not None:
            return (self.tag,)
        return tuple(c.structure.TAG for c in self.converters if isinstance(c, _Nested))

    def converter_for_item(self, item: Item) -> Converter | None:
        if self.raw:
            return RAW_ITEM
        return self._decoders.get(item.tag if self.tag is None else item.type)

    def converter_for_value(self, value: object) -> Converter | None:
        kind = type(value)
        converter = self._by_python_type.get(kind)
        if converter is None:
            for candidate in self.converters:
                if candidate.accepts(value):
                    converter = self._by_python_type[kind] = candidate
                    break
        return converter


def kmip(
    tag: int | None,
    *,
    required: bool = False,
    since: Version | None = None,
    until: Version | None = None,
    item_type: ItemType | None = None,
    repeated: bool = False,
) -> Any:
    """Declare a dataclass field that maps to child items with `tag`.

    `since`/`until` bound the protocol versions that define the field (default:
    what the tag table says); `item_type` picks Long Integer, Big Integer or
    Interval for an `int` where the tag alone does not say. A repeated field (its
    annotation a `list[...]`) defaults to an empty list, any other to None.
    """
    metadata = {"kmip": (tag, required, since, until, item_type)}
    if repeated:
        return dataclasses.field(default_factory=list, metadata=metadata)
    return dataclasses.field(default=None, metadata=metadata)


def kmip_list(tag: int | None, **options: Any) -> Any:
    """Declare a repeated field: `kmip(tag, repeated=True, ...)`."""
    return kmip(tag, repeated=True, **options)


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
    # version -> (names of the fields it defines, fields it requires)
    _per_version: ClassVar[dict[Version, tuple[frozenset[str], tuple[FieldSpec, ...]]]]
    # version -> the compiled writer of this class (see _compile_writer)
    _writers: ClassVar[dict[Version, Callable[[Any, bytearray, Version, int], None]]]
    # version -> the compiled reader of this class (see _compile_reader)
    _readers: ClassVar[dict[Version, Callable[[Item, Version], Any]]]
    # Defaults of dataclass fields that no item fills, for building decoded instances.
    _blank: ClassVar[dict[str, Any]]
    # Fields whose values this class writes itself, through _write_value.
    CUSTOM_WRITE: ClassVar[frozenset[str]] = frozenset()

    # Children no field holds (vendor extensions, items of newer versions), kept
    # verbatim and re-encoded after the declared fields.
    other: list[Item] = dataclasses.field(default_factory=list, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Each class's own compiled readers and writers, so `cls._writers` never finds a
        # base class's: read through the type's attribute cache, not a `cls.__dict__` proxy.
        super().__init_subclass__(**kwargs)
        cls._writers = {}
        cls._readers = {}

    @classmethod
    def fields(cls) -> tuple[FieldSpec, ...]:
        if cls.__dict__.get("_fields") is None:
            cls._build_fields()
        assert cls._fields is not None
        return cls._fields

    @classmethod
    def _version_rules(cls, version: Version) -> tuple[frozenset[str], tuple[FieldSpec, ...]]:
        """The fields `version` defines, and those it requires (computed once per version)."""
        fields = cls.fields()
        rules = cls._per_version.get(version)
        if rules is None:
            defined = [f for f in fields if f.defined_in(version)]
            rules = (frozenset(f.name for f in defined), tuple(f for f in defined if f.required))
            cls._per_version[version] = rules
        return rules

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
                spec_field.since, spec_field.until = _tag_since_until(spec_field.tags())
            specs.append(spec_field)
        declared = {f.name for f in specs}
        blank: dict[str, Any] = {}  # defaults of the dataclass fields no item fills
        for field in dataclasses.fields(cls):
            if field.name in declared or field.name == "other":
                continue
            if field.default_factory is not dataclasses.MISSING:
                raise TypeError(
                    f"{cls.__name__}.{field.name}: a decoded structure cannot run default factories"
                )
            blank[field.name] = field.default
        cls._by_tag = {tag: f for f in specs for tag in f.tags()}
        cls._per_version = {}
        cls._blank = blank
        # Last: `fields()` takes a set _fields to mean every table is there, and another
        # thread may be asking (two threads that both build make the same tables).
        cls._fields = tuple(specs)

    # --- decoding -----------------------------------------------------------------------

    @classmethod
    def from_item(cls, item: Item, version: Version = LATEST) -> Self:
        if item.type is not ItemType.STRUCTURE:
            raise CodecError(f"{cls.__name__} must be a Structure, got a {item.type.name}")
        instance: Self = _reader(cls, version)(item, version)
        return instance

    def _decoded(self, version: Version) -> None:
        """Called on a decoded instance once every field holds its value, for structures
        whose fields depend on each other (a payload on its Operation); none by default."""

    # --- encoding -----------------------------------------------------------------------

    def write_to(self, out: bytearray, version: Version = LATEST, tag: int | None = None) -> None:
        """Append this structure's TTLV to `out`, as `version` defines it (under `tag`, if
        given: a field's tag, e.g. RNG Parameters under Random Number Generator)."""
        cls = type(self)
        try:
            writer = cls._writers[version]
        except KeyError:
            if not hasattr(cls, "_write_fields"):  # else it writes its children itself: no tables
                cls.fields()  # builds this class's tables
            writer = cls._writers[version] = _compile_writer(cls, version)
        writer(self, out, version, self.TAG if tag is None else tag)

    def _write_value(self, out: bytearray, field: FieldSpec, value: Any, version: Version) -> None:
        converter = field._by_python_type.get(type(value)) or field.converter_for_value(value)
        if converter is None:
            raise CodecError(f"{type(self).__name__}.{field.name} cannot hold {value!r}")
        converter.write(out, field.tag if field.tag is not None else type(value).TAG, value, version)

    def encode(self, version: Version = LATEST) -> bytes:
        """This structure as TTLV bytes, in `version`."""
        out = bytearray()
        self.write_to(out, version)
        return bytes(out)

    def to_item(self, version: Version = LATEST) -> Item:
        """This structure as an item tree (for the XML and JSON encodings)."""
        return binary.decode(self.encode(version), _UNLIMITED)


def _reader(cls: type[Structure], version: Version) -> Callable[[Item, Version], Any]:
    """The compiled reader of `cls` structures in `version` (compiled on first use)."""
    try:
        reader: Callable[[Item, Version], Any] = cls._readers[version]
    except KeyError:
        cls.fields()  # builds this class's tables
        reader = cls._readers[version] = _compile_reader(cls, version)
    return reader


# (class, version) of the readers being compiled: a structure nested in itself is read
# through from_item, not a reader that does not exist yet.
_compiling: set[tuple[type[Structure], Version]] = set()


def _read_expression(converter: Converter, index: int, version: Version, env: dict[str, Any]) -> str:
    """What the compiled reader evaluates for a `child` item of the converter's item type:
    the converter's own `decode`, with the calls it would make in between left out (a
    nested structure: its reader, unless its class decodes itself)."""
    if isinstance(converter, _Plain):
        return "child.value"
    if isinstance(converter, _Enum):  # decode_value: the member, else the class's _missing_
        env[f"M{index}"], env[f"E{index}"] = converter.members, converter.enum_class
        return f"(M{index}.get(child.value) or E{index}(child.value))"
    if isinstance(converter, _Mask | _DateTime):
        env[f"D{index}"] = converter.decode_value
        return f"D{index}(child.value, t)"
    if isinstance(converter, _Nested):
        nested = converter.structure
        plain = nested.from_item.__func__ is Structure.from_item.__func__  # type: ignore[attr-defined]
        if plain and (nested, version) not in _compiling:
            env[f"D{index}"] = _reader(nested, version)
        else:
            env[f"D{index}"] = nested.from_item
    else:
        env[f"D{index}"] = converter.decode
    return f"D{index}(child, version)"


def _compile_reader(cls: type[Structure], version: Version) -> Callable[[Item, Version], Any]:
    """Straight-line code that reads a `cls` structure item in `version` into an instance.

    The counterpart of _compile_writer: one branch per field tag, values kept in
    local variables, unknown children collected in `other`; it raises on a child of
    the wrong item type, a repeated single-valued field, or a missing required one.
    Building the instance directly, not through the keyword-argument __init__, is
    most of what the reader saves over a generic loop.
    """
    _compiling.add((cls, version))
    try:
        return _generate_reader(cls, version)
    finally:
        _compiling.discard((cls, version))


def _generate_reader(cls: type[Structure], version: Version) -> Callable[[Item, Version], Any]:
    """_compile_reader's work, while (cls, version) is in _compiling."""
    required = {f.name for f in cls._version_rules(version)[1]}
    name = cls.__name__
    env: dict[str, Any] = {"CodecError": CodecError}
    lines = ["def read_structure(item, version):", "    other = []"]
    fields = cls.fields()
    for index, field in enumerate(fields):
        lines.append(f"    v{index} = {'[]' if field.repeated else 'None'}")
    lines.append("    for child in item.value:")
    lines.append("        t = child.tag")
    keyword = "if"
    for index, field in enumerate(fields):
        for tag in field.tags():
            lines.append(f"        {keyword} t == {tag}:")
            keyword = "elif"
            wrong_type = f"f'{name}.{field.name} cannot be a {{child.type.name}}'"
            if len(field.converters) == 1 and field.tag is not None and not field.raw:
                converter = field.converters[0]
                env[f"T{index}"] = converter.item_type
                lines += [
                    f"            if child.type is not T{index}:",
                    f"                raise CodecError({wrong_type})",
                ]
                value = _read_expression(converter, index, version, env)
            elif field.raw:  # converter_for_item is RAW_ITEM, whose decode is the item
                value = "child"
            else:
                env[f"F{index}"] = field
                lines += [
                    f"            c = F{index}.converter_for_item(child)",
                    "            if c is None:",
                    f"                raise CodecError({wrong_type})",
                ]
                value = "c.decode(child, version)"
            if field.repeated:
                lines.append(f"            v{index}.append({value})")
            else:
                lines += [
                    f"            if v{index} is not None:",
                    f"                raise CodecError({f'{name}.{field.name} appears more than once'!r})",
                    f"            v{index} = {value}",
                ]
    lines += (
        ["        else:", "            other.append(child)"] if fields else ["        other.append(child)"]
    )
    for index, field in enumerate(fields):
        if field.name in required:
            missing = f"not v{index}" if field.repeated else f"v{index} is None"
            lines += [
                f"    if {missing}:",
                f"        raise CodecError({f'{name} lacks its required {field.name}'!r})",
            ]
    pairs = ", ".join(f"{field.name!r}: v{index}" for index, field in enumerate(fields))
    # The instance without __init__ (these dataclasses have no __post_init__ and every field
    # a default): the defaults no item fills, the fields, then `other`.
    env["NEW"], env["CLS"] = cls.__new__, cls
    blanks = []
    for number, (blank, default) in enumerate(cls._blank.items()):
        env[f"B{number}"] = default
        blanks.append(f"{blank!r}: B{number}, ")
    lines += [
        "    instance = NEW(CLS)",
        f"    instance.__dict__ = {{{''.join(blanks)}{pairs}{', ' if pairs else ''}'other': other}}",
    ]
    if cls._decoded is not Structure._decoded:
        lines.append("    instance._decoded(version)")
    lines.append("    return instance")
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<kmip reader {name} {version_text(version)}>", "exec"), env, namespace)
    reader: Callable[[Item, Version], Any] = namespace["read_structure"]
    return reader


def _write_statement(converter: Converter, index: int, tag: int, env: dict[str, Any]) -> str:
    """How the compiled writer writes a value `e` through the converter: its own `write`,
    with the calls it would make in between left out (an enumeration member, an Integer
    or a Boolean: the bytes its item had the first time, kept by the writer)."""
    if isinstance(converter, _Enum | _Plain):
        head = (tag << 8) | converter.item_type
        env[f"L{index}"] = converter.writer
        if isinstance(converter, _Plain) and converter.item_type not in _KEPT_ITEM_TYPES:
            return f"L{index}(out, {head}, e)"
        kind = converter.enum_class if isinstance(converter, _Enum) else converter.python_type
        env[f"C{index}"], env[f"K{index}"], env["KEPT_ITEM"] = kind, {}, _kept_item
        written = "int(e)" if isinstance(converter, _Enum) else "e"
        kept = f"(K{index}.get(e) if type(e) is C{index} else None)"
        return f"out += {kept} or KEPT_ITEM(K{index}, C{index}, L{index}, {head}, e, {written})"
    if isinstance(converter, _Nested):
        # The nested class's compiled writer, called as write_to would call it (a value of
        # another class, or a writer not compiled yet: through write_to).
        env[f"S{index}"] = converter.structure
        nested = f"type(e) is S{index} and (w := S{index}._writers.get(version)) is not None"
        return f"w(e, out, version, {tag}) if {nested} else e.write_to(out, version, {tag})"
    env[f"W{index}"] = converter.write
    return f"W{index}(out, {tag}, e, version)"


# Plain items a compiled writer keeps (besides enumeration members): Integers and Booleans,
# few distinct values per field (lengths, counts, flags). Never a Big Integer: those carry
# key material (a transparent key's private exponent), which no cache may hold.
_KEPT_ITEM_TYPES = (ItemType.INTEGER, ItemType.BOOLEAN)
# Values whose items a compiled writer keeps, per field: the first ones met (pseudo-members
# of extension values are made on demand, ints are many: the bound keeps memory finite).
_KEPT_MEMBERS = 64


def _kept_item(
    kept: dict[Any, bytes], kind: type, leaf: binary.LeafWriter, head: int, value: Any, written: Any
) -> bytes:
    """The item (head: tag << 8 | type) the leaf writer writes for `written` (what the field
    writes for `value`: itself, or int() of a member), kept in `kept` if `value` is of `kind`
    (so a value it refuses raises what it raises, and is never kept)."""
    piece = bytearray()
    leaf(piece, head, written)
    encoded = bytes(piece)
    if type(value) is kind and len(kept) < _KEPT_MEMBERS:
        kept[value] = encoded
    return encoded


ValueWriter = Callable[[bytearray, Any], None]


def value_writer(converter: Converter, tag: int, version: Version) -> ValueWriter:
    """`converter.write(out, tag, value, version)` as a function of (out, value), with the
    calls it would make in between left out (as the compiled writers do)."""
    if isinstance(converter, _Plain):
        leaf, head = converter.writer, (tag << 8) | converter.item_type

        def write_plain(out: bytearray, value: Any) -> None:
            leaf(out, head, value)

        return write_plain
    if isinstance(converter, _Nested):
        structure, writers = converter.structure, converter.structure._writers

        def write_nested(out: bytearray, value: Any) -> None:
            # As the compiled writers write a nested structure (see _write_statement).
            if type(value) is structure and (w := writers.get(version)) is not None:
                w(value, out, version, tag)
            else:
                value.write_to(out, version, tag)

        return write_nested
    write = converter.write

    def write_value(out: bytearray, value: Any) -> None:
        write(out, tag, value, version)

    return write_value


def _compile_writer(cls: type[Structure], version: Version) -> Callable[[Any, bytearray, Version, int], None]:
    """Straight-line code that writes a `cls` structure as `version` defines it.

    Like dataclasses' generated __init__, this turns the field table into a plain
    function once per class and version: no loop over absent fields, no per-value
    dispatch where a field has a single converter. It raises what the generic rules
    say: a missing required field, a field the version does not define, a value of
    the wrong type (as CodecError naming the field). A class with a `_write_fields`
    of its own (Attributes) writes its children there.
    """
    name = cls.__name__
    env: dict[str, Any] = {
        "CodecError": CodecError,
        "ENCODE_ERRORS": binary.ENCODE_ERRORS,
        "PLACEHOLDER": _STRUCTURE_PLACEHOLDER,
        "ENCODE_INTO": binary.encode_into,
        "PACK_INTO": binary.HEADER.pack_into,
    }
    lines = ["def write_structure(self, out, version, tag):", "    mark = len(out)", "    out += PLACEHOLDER"]
    own = hasattr(cls, "_write_fields")
    if own:
        lines.append("    self._write_fields(out, version)")
    defined = frozenset[str]() if own else cls._version_rules(version)[0]
    for index, field in enumerate(() if own else cls.fields()):
        attribute = field.name
        present = "v" if field.repeated else "v is not None"
        lines.append(f"    v = self.{attribute}")
        if attribute not in defined:
            message = f"{name}.{attribute} is not defined in KMIP {version_text(version)}"
            lines += [f"    if {present}:", f"        raise CodecError({message!r})"]
            continue
        union = len(field.converters) != 1
        if (
            attribute in cls.CUSTOM_WRITE
            or field.tag is None
            or (union and cls._write_value is not _GENERIC_WRITE)
        ):
            env[f"F{index}"] = field
            call = f"self._write_value(out, F{index}, e, version)"
        elif union:
            # A union (bytes | TransparentKeyMaterial): the writer of each class of value
            # met, made once (what _write_value would call, without the calls between).
            env[f"F{index}"], env[f"V{index}"], env["NEW_WRITER"] = field, {}, _union_writer
            call = f"(V{index}.get(type(e)) or NEW_WRITER(V{index}, F{index}, e, version, {name!r}))(out, e)"
        else:
            call = _write_statement(field.converters[0], index, field.tag, env)
        lines += [f"    if {present}:", "        try:"]
        if field.repeated:
            lines += ["            for e in v:", f"                {call}"]
        else:
            lines += ["            e = v", f"            {call}"]
        lines += [
            "        except ENCODE_ERRORS as error:",
            f"            raise CodecError(f'{name}.{attribute}: {{error}}') from None",
        ]
        if field.required:
            lines += ["    else:", f"        raise CodecError({f'{name}.{attribute} is required'!r})"]
    lines += [
        "    for item in self.other:",
        "        ENCODE_INTO(out, item)",
        "    PACK_INTO(out, mark, tag << 8 | 1, len(out) - mark - 8)",
    ]
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), f"<kmip writer {name} {version_text(version)}>", "exec"), env, namespace)
    writer: Callable[[Any, bytearray, Version, int], None] = namespace["write_structure"]
    return writer


_GENERIC_WRITE = Structure._write_value


def _union_writer(
    writers: dict[type, ValueWriter], field: FieldSpec, value: Any, version: Version, owner: str
) -> ValueWriter:
    """The writer of `value`'s class for a field of several converters, kept in `writers`:
    the converter `Structure._write_value` picks, and its error if there is none."""
    converter = field._by_python_type.get(type(value)) or field.converter_for_value(value)
    if converter is None:
        raise CodecError(f"{owner}.{field.name} cannot hold {value!r}")
    assert field.tag is not None  # fields of no tag write through _write_value
    write = writers[type(value)] = value_writer(converter, field.tag, version)
    return write


_STRUCTURE_PLACEHOLDER = bytes(binary.HEADER_SIZE)  # a Structure's header, filled in once its length is known

# Re-reading our own output: no size limit, the deepest nesting the decoder supports.
_UNLIMITED = Limits(max_message_size=2**62, max_depth=MAX_SUPPORTED_DEPTH)
