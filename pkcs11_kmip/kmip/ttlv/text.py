"""Values as text, shared by the XML and JSON encodings (KMIP Profiles, XML/JSON encoding).

Both encodings name enumeration values and mask bits, write byte strings in hex and
date-times in ISO 8601, and accept the hex form "0x..." for any numeric value. Which
enumeration or mask applies depends on the tag, and for a KMIP 1.x Attribute Value on
the Attribute Name just before it: `ValueContext` carries that choice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import EnumTable, Tag
from pkcs11_kmip.kmip.ttlv.binary import big_integer_bytes
from pkcs11_kmip.kmip.ttlv.errors import CodecError
from pkcs11_kmip.kmip.ttlv.item import INT_RANGES, Item, ItemType

# Called with the item type and the placeholder text (e.g. "$NOW"); returns the value.
PlaceholderResolver = Callable[[ItemType, str], "int | bool | str | bytes"]

_HEX = re.compile(r"0x[0-9A-Fa-f]+\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ValueContext:
    """The enumeration and mask an item's value is named from (either may be None)."""

    enumeration: EnumTable | None = None
    mask: EnumTable | None = None


_NO_CONTEXT = ValueContext()
_context_cache: dict[int, ValueContext] = {}


def context_for_tag(tag: int) -> ValueContext:
    context = _context_cache.get(tag)
    if context is None:
        context = ValueContext(spec.enum_table_for_tag(tag), spec.mask_table_for_tag(tag))
        _context_cache[tag] = context
    return context


def context_for_attribute_name(name: str) -> ValueContext:
    """A KMIP 1.x Attribute Value is named by the attribute its Attribute Name gives."""
    tag = spec.tag_by_name(name)
    return _NO_CONTEXT if tag is None else context_for_tag(tag)


class StructureScope:
    """Tracks, while walking a Structure's children, the context of the next one."""

    __slots__ = ("attribute_context",)

    def __init__(self) -> None:
        self.attribute_context = _NO_CONTEXT

    def context(self, item_tag: int) -> ValueContext:
        if item_tag == Tag.ATTRIBUTE_VALUE:
            return self.attribute_context
        return context_for_tag(item_tag)

    def saw(self, item: Item) -> None:
        if item.tag == Tag.ATTRIBUTE_NAME and isinstance(item.value, str):
            self.attribute_context = context_for_attribute_name(item.value)


def byte_size(document: str | bytes) -> int:
    """The size a document's limit applies to: its UTF-8 bytes, however it was passed."""
    if isinstance(document, str):
        return len(document.encode("utf-8", "surrogatepass"))
    return len(document)


# --- value -> text ----------------------------------------------------------------------


def enum_text(value: int, table: EnumTable | None) -> str:
    name = table.xml_name(value) if table else None
    return name if name is not None else f"0x{value:08X}"


def mask_text(value: int, table: EnumTable, separator: str) -> str:
    if value == 0:
        return "0"
    names = []
    rest = value & 0xFFFFFFFF
    bit = 1
    while bit <= rest:
        if rest & bit:
            name = table.xml_name(bit)
            if name is not None:
                names.append(name)
                rest &= ~bit
        bit <<= 1
    if rest:
        names.append(f"0x{rest:08X}")
    return separator.join(names)


def datetime_text(seconds: int) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return f"0x{seconds & 0xFFFFFFFFFFFFFFFF:016X}"  # beyond what ISO 8601 years can show
    return moment.isoformat()


def datetime_extended_text(microseconds: int) -> str:
    seconds, micros = divmod(microseconds, 1_000_000)
    try:
        moment = datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)
    except (OverflowError, OSError, ValueError):
        return f"0x{microseconds & 0xFFFFFFFFFFFFFFFF:016X}"
    return moment.isoformat(timespec="microseconds")


def big_integer_hex(value: int) -> str:
    return big_integer_bytes(value).hex()


# --- text -> value ----------------------------------------------------------------------


def _signed(raw: int, bits: int) -> int:
    return raw - (1 << bits) if raw >= 1 << (bits - 1) else raw


def parse_hex_number(text: str, bits: int, *, signed: bool) -> int:
    if not _HEX.match(text) or len(text) - 2 > bits // 4:
        raise CodecError(f"{text!r} is not a {bits}-bit hex value")
    raw = int(text, 16)
    return _signed(raw, bits) if signed else raw


def parse_enum(text: str, table: EnumTable | None) -> int:
    if table is not None:
        value = table.value_of(text)
        if value is not None:
            return value
    if _HEX.match(text):
        return parse_hex_number(text, 32, signed=False)
    where = f"enumeration {table.name!r}" if table else "this tag (no enumeration known)"
    raise CodecError(f"{text!r} is not a value of {where}")


def parse_mask(text: str, table: EnumTable) -> int:
    value = 0
    for token in re.split(r"[\s|]+", text.strip()):
        if not token:
            continue
        bit = table.value_of(token)
        if bit is None:
            if _HEX.match(token):
                bit = parse_hex_number(token, 32, signed=False)
            elif _DECIMAL.match(token):
                bit = int(token) & 0xFFFFFFFF
            else:
                raise CodecError(f"{token!r} is not a bit of mask {table.name!r}")
        value |= bit
    return _signed(value, 32)


_DECIMAL = re.compile(r"-?[0-9]{1,20}\Z")  # ASCII digits; no KMIP number needs more than 20


def parse_decimal(text: str, item_type: ItemType) -> int:
    if not _DECIMAL.match(text.strip()):
        raise CodecError(f"{text[:40]!r} is not a decimal {item_type.name} of at most 20 digits")
    value = int(text)
    low, high = INT_RANGES.get(item_type, (None, None))
    if low is not None and high is not None and not low <= value <= high:
        raise CodecError(f"{value} is out of range for a {item_type.name}")
    return value


def parse_datetime(text: str, *, extended: bool) -> int:
    if _HEX.match(text):
        return parse_hex_number(text, 64, signed=True)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CodecError(f"{text!r} is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    if extended:
        return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    return delta.days * 86400 + delta.seconds


def parse_hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise CodecError(f"{text[:40]!r} is not a hex byte string") from None


def parse_big_integer_hex(text: str) -> int:
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if not digits or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
        raise CodecError(f"{text[:40]!r} is not a hex big integer")
    return int.from_bytes(bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits), "big", signed=True)


def parse_boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "0x0000000000000001"):
        return True
    if lowered in ("false", "0", "0x0000000000000000"):
        return False
    raise CodecError(f"{text!r} is not a boolean")


def parse_text_value(item_type: ItemType, text: str, context: ValueContext) -> int | bool | str | bytes:
    """A value from its XML attribute text (JSON strings go through here too)."""
    if item_type is ItemType.TEXT_STRING:
        return text
    if item_type is ItemType.BYTE_STRING:
        return parse_hex_bytes(text)
    if item_type is ItemType.ENUMERATION:
        return parse_enum(text, context.enumeration)
    if item_type is ItemType.INTEGER:
        if context.mask is not None:
            return parse_mask(text, context.mask)
        if _HEX.match(text):
            return parse_hex_number(text, 32, signed=True)
        return parse_decimal(text, item_type)
    if item_type is ItemType.LONG_INTEGER:
        if _HEX.match(text):
            return parse_hex_number(text, 64, signed=True)
        return parse_decimal(text, item_type)
    if item_type is ItemType.INTERVAL:
        if _HEX.match(text):
            return parse_hex_number(text, 32, signed=False)
        return parse_decimal(text, item_type)
    if item_type is ItemType.BIG_INTEGER:
        return parse_big_integer_hex(text)
    if item_type is ItemType.BOOLEAN:
        return parse_boolean(text)
    if item_type is ItemType.DATE_TIME:
        return parse_datetime(text, extended=False)
    if item_type is ItemType.DATE_TIME_EXTENDED:
        return parse_datetime(text, extended=True)
    raise CodecError(f"a {item_type.name} has no text value")


def resolve_value(
    item_type: ItemType, text: str, context: ValueContext, resolver: PlaceholderResolver | None
) -> int | bool | str | bytes:
    """Like parse_text_value, but hands "$NAME" placeholders of test cases to `resolver`."""
    if text[:1] == "$" and item_type is not ItemType.TEXT_STRING:
        if resolver is None:
            raise CodecError(f"placeholder {text!r} has no value (give a placeholder resolver)")
        return resolver(item_type, text)
    return parse_text_value(item_type, text, context)
