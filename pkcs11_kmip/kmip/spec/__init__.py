"""KMIP 1.0-2.1 as data: tags, enumerations, masks and the versions that define them.

The tables are generated from the OASIS specifications (tools/gen_spec.py); this module
adds the lookups the codecs need. Nothing here rejects a value for being unknown:
extension tags (0x54xxxx) and enumeration values (0x8xxxxxxx) are ordinary values
that simply have no name.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.spec import _tables
from pkcs11_kmip.kmip.spec.enums import ENUM_CLASSES, MASK_CLASSES, Tag
from pkcs11_kmip.kmip.spec.model import EnumValueRow, KmipEnum, KmipMask, TagRow, Version

__all__ = [
    "ENUM_CLASSES",
    "KMIP_VERSIONS",
    "MASK_CLASSES",
    "EnumTable",
    "KmipEnum",
    "KmipMask",
    "Tag",
    "TagRow",
    "Version",
    "attribute_defined_in",
    "enum_table_for_tag",
    "enumeration",
    "is_extension_tag",
    "mask",
    "mask_table_for_tag",
    "tag_by_name",
    "tag_by_xml_name",
    "tag_defined_in",
    "tag_info",
    "tag_xml_name",
]

KMIP_VERSIONS: tuple[Version, ...] = ((1, 0), (1, 1), (1, 2), (1, 3), (1, 4), (2, 0), (2, 1))

_TAGS: dict[int, TagRow] = {row.value: row for row in _tables.TAGS}
_TAG_BY_XML: dict[str, int] = {row.xml: row.value for row in _tables.TAGS}
_TAG_BY_NAME: dict[str, int] = {row.name: row.value for row in _tables.TAGS}


def tag_info(tag: int) -> TagRow | None:
    """What the spec says about a tag, or None for extension and unallocated tags."""
    return _TAGS.get(tag)


def tag_xml_name(tag: int) -> str | None:
    row = _TAGS.get(tag)
    return row.xml if row else None


def tag_by_xml_name(name: str) -> int | None:
    return _TAG_BY_XML.get(name)


def tag_by_name(name: str) -> int | None:
    """A tag from its spec name ("Cryptographic Algorithm"), as KMIP 1.x Attribute Names use."""
    return _TAG_BY_NAME.get(name)


def is_extension_tag(tag: int) -> bool:
    return 0x540000 <= tag <= 0x54FFFF


def tag_defined_in(tag: int, version: Version) -> bool:
    """Whether a message of `version` may carry `tag` (extension tags: always)."""
    row = _TAGS.get(tag)
    if row is None:
        return is_extension_tag(tag)
    return row.since <= version and (row.until is None or version <= row.until)


def attribute_defined_in(tag: int, version: Version) -> bool:
    """Whether a client of `version` knows `tag` as an attribute (not just as a field)."""
    if version < (2, 0) and not is_extension_tag(tag) and tag not in _tables.ATTRIBUTES_1X:
        return False
    return tag_defined_in(tag, version)


class EnumTable:
    """Names of one enumeration or mask, both ways, for the text encodings."""

    __slots__ = ("_by_text", "_by_value", "name", "rows")

    def __init__(self, name: str, rows: tuple[EnumValueRow, ...]) -> None:
        self.name = name
        self.rows = rows
        self._by_value = {row.value: row for row in rows}
        self._by_text: dict[str, int] = {}
        for row in rows:
            self._by_text.setdefault(row.xml, row.value)
            for alias in row.aliases:
                self._by_text.setdefault(alias, row.value)

    def xml_name(self, value: int) -> str | None:
        row = self._by_value.get(value)
        return row.xml if row else None

    def value_of(self, text: str) -> int | None:
        return self._by_text.get(text)


def _tag_pseudo_enumeration() -> EnumTable:
    """Attribute Reference and Tag carry a tag value as an Enumeration, named by the tag."""
    rows = tuple(EnumValueRow(row.value, row.name, row.xml, (), row.since, row.until) for row in _tables.TAGS)
    return EnumTable("Tag", rows)


_ENUM_TABLES: dict[str, EnumTable] = {
    name: EnumTable(name, rows) for name, rows in _tables.ENUMERATIONS.items()
}
_ENUM_TABLES["Tag"] = _tag_pseudo_enumeration()
_MASK_TABLES: dict[str, EnumTable] = {name: EnumTable(name, rows) for name, rows in _tables.MASKS.items()}


def enumeration(name: str) -> EnumTable:
    return _ENUM_TABLES[name]


def mask(name: str) -> EnumTable:
    return _MASK_TABLES[name]


def enum_table_for_tag(tag: int) -> EnumTable | None:
    """The enumeration an Enumeration-typed item with this tag draws its values from."""
    name = _tables.TAG_ENUMERATION.get(tag)
    return _ENUM_TABLES[name] if name else None


def mask_table_for_tag(tag: int) -> EnumTable | None:
    """The mask whose bits an Integer-typed item with this tag holds."""
    name = _tables.TAG_MASK.get(tag)
    return _MASK_TABLES[name] if name else None
