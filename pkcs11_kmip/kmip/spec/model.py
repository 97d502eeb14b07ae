"""The shapes of the generated spec tables, and the enum base classes.

KMIP lets vendors extend every enumeration (values 0x8xxxxxxx) and tag (0x54xxxx);
a closed Python enum would reject them, so `KmipEnum` accepts any 32-bit value and
makes a pseudo-member for values the spec does not name.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

Version = tuple[int, int]


class TagRow(NamedTuple):
    value: int
    name: str  # as the spec writes it, e.g. "Unique Identifier"
    xml: str  # the XML/JSON name, e.g. "UniqueIdentifier"
    types: tuple[str, ...]  # item types the spec or the test cases use for it
    since: Version
    until: Version | None  # last version that defines it (None: still defined in 2.1)


class EnumValueRow(NamedTuple):
    value: int
    name: str
    xml: str
    aliases: tuple[str, ...]  # other XML spellings accepted on input
    since: Version
    until: Version | None


class KmipEnum(enum.IntEnum):
    """An enumeration open to values the spec does not name (extensions, newer versions)."""

    @classmethod
    def _missing_(cls, value: object) -> KmipEnum | None:
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            return None
        member = int.__new__(cls, value)
        member._name_ = f"0x{value:08X}"
        member._value_ = value
        # Cache it so the same unnamed value is always the same member.
        return cls._value2member_map_.setdefault(value, member)  # type: ignore[return-value]


class KmipMask(enum.IntFlag, boundary=enum.KEEP):
    """A bit mask that keeps bits the spec does not name."""
