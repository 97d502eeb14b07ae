"""The generic KMIP item tree every encoding converts to and from.

An `Item` is one Tag-Type-Value node. Values are plain Python objects so that the
binary, XML and JSON codecs stay small and fast:

    Structure            list[Item]
    Integer, Long Integer, Big Integer, Enumeration, Interval    int
    Date-Time            int (seconds since the epoch, UTC)
    Date-Time Extended   int (microseconds since the epoch, UTC)
    Boolean              bool
    Text String          str
    Byte String          bytes
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import TypeAlias

from pkcs11_kmip.kmip.ttlv.errors import CodecError


class ItemType(enum.IntEnum):
    STRUCTURE = 0x01
    INTEGER = 0x02
    LONG_INTEGER = 0x03
    BIG_INTEGER = 0x04
    ENUMERATION = 0x05
    BOOLEAN = 0x06
    TEXT_STRING = 0x07
    BYTE_STRING = 0x08
    DATE_TIME = 0x09
    INTERVAL = 0x0A
    DATE_TIME_EXTENDED = 0x0B


# The names the XML and JSON encodings use for each type.
_STRUCTURE = ItemType.STRUCTURE  # read once: `children` runs for every find

TYPE_NAMES: dict[ItemType, str] = {
    ItemType.STRUCTURE: "Structure",
    ItemType.INTEGER: "Integer",
    ItemType.LONG_INTEGER: "LongInteger",
    ItemType.BIG_INTEGER: "BigInteger",
    ItemType.ENUMERATION: "Enumeration",
    ItemType.BOOLEAN: "Boolean",
    ItemType.TEXT_STRING: "TextString",
    ItemType.BYTE_STRING: "ByteString",
    ItemType.DATE_TIME: "DateTime",
    ItemType.INTERVAL: "Interval",
    ItemType.DATE_TIME_EXTENDED: "DateTimeExtended",
}
TYPES_BY_NAME: dict[str, ItemType] = {name: item_type for item_type, name in TYPE_NAMES.items()}

ItemValue: TypeAlias = list["Item"] | int | bool | str | bytes

# Value ranges of the fixed-size numeric types (Enumeration and Interval are unsigned).
INT_RANGES: dict[ItemType, tuple[int, int]] = {
    ItemType.INTEGER: (-(2**31), 2**31 - 1),
    ItemType.LONG_INTEGER: (-(2**63), 2**63 - 1),
    ItemType.ENUMERATION: (0, 2**32 - 1),
    ItemType.INTERVAL: (0, 2**32 - 1),
    ItemType.DATE_TIME: (-(2**63), 2**63 - 1),
    ItemType.DATE_TIME_EXTENDED: (-(2**63), 2**63 - 1),
}

_PYTHON_TYPES: dict[ItemType, type] = {
    ItemType.STRUCTURE: list,
    ItemType.BOOLEAN: bool,
    ItemType.TEXT_STRING: str,
    ItemType.BYTE_STRING: bytes,
}


def is_allocated_tag(tag: int) -> bool:
    """KMIP's own tags are 0x42xxxx and extensions 0x54xxxx; nothing else is allocated."""
    return 0x420000 <= tag <= 0x42FFFF or 0x540000 <= tag <= 0x54FFFF


class Item:
    """One KMIP Tag-Type-Value node; a Structure's value is the list of its children."""

    __slots__ = ("tag", "type", "value")

    def __init__(self, tag: int, type: ItemType, value: ItemValue) -> None:
        self.tag = tag
        self.type = type
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return self.tag == other.tag and self.type == other.type and self.value == other.value

    def __hash__(self) -> int:  # items are mutable; hash by identity like any mutable object
        return id(self)

    def __repr__(self) -> str:
        return f"Item(0x{self.tag:06X}, {self.type.name}, {self.value!r})"

    # --- structure helpers --------------------------------------------------------------

    @property
    def children(self) -> list[Item]:
        if self.type is not _STRUCTURE:
            raise CodecError(f"item 0x{self.tag:06X} is a {self.type.name}, not a Structure")
        value = self.value
        assert isinstance(value, list)
        return value

    def find(self, tag: int) -> Item | None:
        """The first child with this tag."""
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def find_all(self, tag: int) -> Iterator[Item]:
        return (child for child in self.children if child.tag == tag)

    def validate(self) -> None:
        """Check that every tag and value fits, so encoding cannot fail or write nonsense."""
        stack: list[object] = [self]
        while stack:
            item = stack.pop()
            if not isinstance(item, Item):
                raise CodecError(f"a Structure holds {type(item).__name__}, not an Item")
            if not isinstance(item.type, ItemType):
                raise CodecError(f"item 0x{item.tag:06X} has no valid item type")
            if not isinstance(item.tag, int) or not is_allocated_tag(item.tag):
                raise CodecError(
                    f"tag {item.tag!r} is outside the KMIP (0x42xxxx) and extension (0x54xxxx) ranges"
                )
            value = item.value
            expected = _PYTHON_TYPES.get(item.type)
            if expected is not None:
                if type(value) is not expected:
                    raise CodecError(f"{item!r}: a {item.type.name} needs a {expected.__name__} value")
                if isinstance(value, list):
                    stack.extend(value)
                continue
            if type(value) is not int:
                raise CodecError(f"{item!r}: a {item.type.name} needs an int value")
            bounds = INT_RANGES.get(item.type)
            if bounds and not bounds[0] <= value <= bounds[1]:
                raise CodecError(f"{item!r}: value out of range for a {item.type.name}")
