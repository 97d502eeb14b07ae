#!/usr/bin/env python3
"""Generate the KMIP spec tables (tags, enumerations, masks) for KMIP 1.0-2.1.

Sources, all under ../shared/kmip (see SOURCES.md there):
  tables/kmip-v2.0-tags.csv, tables/kmip-v2.1-tags.csv      tags of 2.0 and 2.1
  tables/kmip-v2.{0,1}-spec-tables.json                    enumerations and masks of 2.0 and 2.1
  spec/kmip-spec-v1.4-os.html                              tags and enumerations of 1.x
  tables/kmip-pkcs11-{function,return-code}-enum.csv       PKCS#11 Function / Return Code

Outputs (committed; `--check` fails when they are stale, CI runs it):
  pkcs11_kmip/kmip/spec/_tables.py   plain data the codecs work from
  pkcs11_kmip/kmip/spec/enums.py     Tag and one IntEnum/IntFlag per enumeration/mask

Facts the source tables do not carry are kept here as small, named tables
(tag allocation ranges per 1.x version, types of tags that 2.0 retired, the
enumeration a tag uses where the names differ, spelling variants seen in the
OASIS test cases).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES_OUT = ROOT / "pkcs11_kmip" / "kmip" / "spec" / "_tables.py"
ENUMS_OUT = ROOT / "pkcs11_kmip" / "kmip" / "spec" / "enums.py"

Version = tuple[int, int]
V1_0: Version = (1, 0)
V1_4: Version = (1, 4)
V2_0: Version = (2, 0)
V2_1: Version = (2, 1)

# KMIP allocates tag values in order, version by version (KMIP 1.0 ... 1.4 specs):
# the first tag value each 1.x version introduced.
FIRST_TAG_OF_VERSION: tuple[tuple[int, Version], ...] = (
    (0x420001, (1, 0)),
    (0x4200A2, (1, 1)),
    (0x4200B8, (1, 2)),
    (0x4200D4, (1, 3)),
    (0x4200F8, (1, 4)),
)

# Tags that KMIP 2.0 marked "(Reserved)": their 1.x item types (KMIP 1.4 §2).
RETIRED_TAG_TYPES: dict[str, tuple[str, ...]] = {
    "Attribute Index": ("Integer",),
    "Common Template-Attribute": ("Structure",),
    "Custom Attribute": ("Structure",),
    "Private Key Template-Attribute": ("Structure",),
    "Public Key Template-Attribute": ("Structure",),
    "Template": ("Structure",),
    "Template-Attribute": ("Structure",),
    "Certificate Identifier": ("Structure",),
    "Certificate Issuer": ("Structure",),
    "Certificate Issuer Alternative Name": ("TextString",),
    "Certificate Issuer Distinguished Name": ("TextString",),
    "Certificate Subject": ("Structure",),
    "Certificate Subject Alternative Name": ("TextString",),
    "Certificate Subject Distinguished Name": ("TextString",),
    "Issuer": ("TextString",),
    "Serial Number": ("TextString",),
    "Operation Policy Name": ("TextString",),
}

# Item types of tags the 2.x tag tables leave blank (KMIP 2.1 §2-§7 and §11).
UNTYPED_TAG_TYPES: dict[str, tuple[str, ...]] = {
    "Cancellation Result": ("Enumeration",),
    "Offset": ("Interval",),
    "Put Function": ("Enumeration",),
    "Replaced Unique Identifier": ("TextString",),
    "Storage Status Mask": ("Integer",),
    "Validity Date": ("DateTime",),
    "Object Group Member": ("Enumeration",),
    "Client Registration Method": ("Enumeration",),
    "Comment": ("TextString",),
    "Server Name": ("TextString",),
    "Server Serial Number": ("TextString",),
    "Server Version": ("TextString",),
    "Server Load": ("TextString",),
    "Product Name": ("TextString",),
    "Build Level": ("TextString",),
    "Build Date": ("TextString",),
    "Cluster Info": ("TextString",),
    "Alternate Failover Endpoints": ("TextString",),
    "Tag": ("Enumeration",),
    "Certificate Request Unique Identifier": ("TextString",),
    "Endpoint Role": ("Enumeration",),
    "Ephemeral": ("Boolean",),
    "Server Hashed Password": ("ByteString",),
    "Adjustment Type": ("Enumeration",),
    "Adjustment Value": ("Integer", "LongInteger", "BigInteger", "DateTime", "Interval"),
    "Common Protection Storage Masks": ("Structure",),
    "Private Protection Storage Masks": ("Structure",),
    "Public Protection Storage Masks": ("Structure",),
}

# Tags that KMIP 2.x lets carry more than the tag tables say: a Unique Identifier may
# be a Text String, a Unique Identifier Enumeration value, or an Integer (KMIP 2.1 §7).
EXTRA_TAG_TYPES: dict[str, tuple[str, ...]] = {
    "Unique Identifier": ("Enumeration", "Integer"),
    "Linked Object Identifier": ("Enumeration", "Integer"),
}

# Enumeration-typed tags whose enumeration has another name ("Tag" is the
# pseudo-enumeration whose values are tag values, used by Attribute Reference).
TAG_ENUMERATION_ALIASES: dict[str, str] = {
    "Extension Type": "Item Type",
    "Mask Generator Hashing Algorithm": "Hashing Algorithm",
    "Attribute Reference": "Tag",
    "Tag": "Tag",
    "Linked Object Identifier": "Unique Identifier",
    "PKCS#11 Function": "PKCS#11 Function",
    "PKCS#11 Return Code": "PKCS#11 Return Code",
}

# Integer-typed tags whose values are bit masks, and the mask they use.
TAG_MASKS: dict[str, str] = {
    "Cryptographic Usage Mask": "Cryptographic Usage Mask",
    "Storage Status Mask": "Storage Status Mask",
    "Protection Storage Mask": "Protection Storage Mask",
}

# Spellings seen in the OASIS test cases that differ from the spec (SOURCES.md, "Quirks").
# (enumeration or mask, value) -> extra accepted XML names; the spec's name stays primary.
EXTRA_XML_SPELLINGS: dict[tuple[str, int], tuple[str, ...]] = {
    ("Mask Generator", 0x00000001): ("MGF1",),
    ("Result Reason", 0x00000039): ("NotAuthorized",),  # the spec's "Not Authorised"
    ("Cryptographic Usage Mask", 0x00000040): ("ContentCommitment",),
}

ITEM_TYPE_NAMES: dict[str, str] = {
    "Structure": "Structure",
    "Integer": "Integer",
    "Long Integer": "LongInteger",
    "Big Integer": "BigInteger",
    "Enumeration": "Enumeration",
    "Boolean": "Boolean",
    "Text String": "TextString",
    "Byte String": "ByteString",
    "Date-Time": "DateTime",
    "Interval": "Interval",
    "Date-Time Extended": "DateTimeExtended",
}


def clean(text: str) -> str:
    """Collapse the spec's whitespace (including no-break spaces) to single spaces."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\ufffd", " ")).strip()


def normalize_name(name: str) -> str:
    """KMIP's rule for turning a spec name into an XML/JSON name (e.g. "PKCS#11 Function" ->
    "PKCS_11Function", "3DES" -> "DES3"), from KMIP Additional Message Encodings §4.1.3."""
    text = re.sub(r"[()]", " ", name)
    text = re.sub(r"[^\w\s](?=[A-Za-z][a-z])", " ", text)
    text = re.sub(r"[^\w\s]", "_", text)
    words = text.split()
    if not words:
        return ""
    leading = re.match(r"\d+", words[0])
    if leading:
        words[0] = words[0][leading.end() :] + leading.group()
    return "".join(w[:1].upper() + w[1:] for w in words)


# XML names the CamelCase split would mangle ("ChaCha20" is one word, not "CHA_CHA20").
IDENTIFIER_OVERRIDES: dict[str, str] = {
    "ChaCha20": "CHACHA20",
    "ChaCha20Poly1305": "CHACHA20_POLY1305",
    "QueryRNGs": "QUERY_RNGS",
}


def identifier(xml_name: str) -> str:
    """UPPER_SNAKE Python identifier for an XML name ("ReKeyKeyPair" -> "RE_KEY_KEY_PAIR")."""
    if xml_name in IDENTIFIER_OVERRIDES:
        return IDENTIFIER_OVERRIDES[xml_name]
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", xml_name)
    text = re.sub(r"(?<=[A-Z])(?=[A-Z][a-z])", "_", text)
    text = re.sub(r"_+", "_", text).upper()
    return text if text[:1].isalpha() else f"V_{text}"


def class_name(spec_name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", spec_name) if w)


# --- reading the sources -------------------------------------------------------------------


class _TableParser(HTMLParser):
    """Collects every HTML table as rows of cell texts, with the heading above it."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._open: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self._last_heading = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._open.append((self._last_heading, []))
        elif tag == "tr" and self._open:
            self._open[-1][1].append([])
        elif tag in ("td", "th") and self._open:
            self._cell = []
        elif re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self.tables.append(self._open.pop())
        elif tag in ("td", "th") and self._cell is not None and self._open:
            rows = self._open[-1][1]
            if rows:
                rows[-1].append(clean("".join(self._cell)))
            self._cell = None
        elif re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self._last_heading = clean("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


@dataclass
class TagRow:
    value: int
    name: str
    xml: str
    types: tuple[str, ...]
    since: Version
    until: Version | None = None


@dataclass
class EnumValue:
    value: int
    name: str
    xml: str
    since: Version
    until: Version | None = None
    aliases: tuple[str, ...] = ()


@dataclass
class Enumeration:
    name: str
    section: str
    values: dict[int, EnumValue] = field(default_factory=dict)


def _hex6(text: str) -> int | None:
    text = text.replace(" ", "")
    return int(text, 16) if re.fullmatch(r"[0-9A-Fa-f]{6}", text) else None


def _hex8(text: str) -> int | None:
    text = text.replace(" ", "")
    return int(text, 16) if re.fullmatch(r"[0-9A-Fa-f]{8}", text) else None


def _types(*fields: str) -> tuple[str, ...]:
    found: list[str] = []
    for text in fields:
        for part in text.split("|"):
            spec = re.sub(r"\s*\(.*\)\s*$", "", part).strip()
            if spec in ITEM_TYPE_NAMES and ITEM_TYPE_NAMES[spec] not in found:
                found.append(ITEM_TYPE_NAMES[spec])
    return tuple(found)


def version_of_1x_tag(value: int) -> Version:
    since = V1_0
    for first, version in FIRST_TAG_OF_VERSION:
        if value >= first:
            since = version
    return since


def read_tags(shared: Path, html_tables: list[tuple[str, list[list[str]]]]) -> list[TagRow]:
    tags: dict[int, TagRow] = {}
    for version in (V2_0, V2_1):
        path = shared / "tables" / f"kmip-v{version[0]}.{version[1]}-tags.csv"
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                value = _hex6(row["hex"])
                if value is None or row["name"].strip("()") == "Reserved":
                    continue
                types = _types(row["spec_encoding"], row["observed_type_in_oasis_xml_testcases"])
                if value in tags:
                    tags[value].types = tuple(dict.fromkeys(tags[value].types + types))
                    continue
                since = version_of_1x_tag(value) if value <= 0x420124 else version
                name = clean(row["name"])
                types = (types or UNTYPED_TAG_TYPES.get(name, ())) + EXTRA_TAG_TYPES.get(name, ())
                tags[value] = TagRow(value, name, row["xml_name"], types, since)
    for _heading, rows in html_tables:
        for cells in rows:
            hex_cell = cells[1].split("(")[0] if len(cells) >= 2 else ""
            if (value := _hex6(hex_cell)) is None or value in tags:
                continue
            name = clean(cells[0])
            tags[value] = TagRow(
                value,
                name,
                normalize_name(name),
                RETIRED_TAG_TYPES.get(name, ()),
                version_of_1x_tag(value),
                V1_4,
            )
    missing = [t.name for t in tags.values() if not t.types]
    if missing:
        raise SystemExit(f"gen_spec: no item type known for tags {missing}")
    return sorted(tags.values(), key=lambda t: t.value)


def read_enumerations(
    shared: Path, html_tables: list[tuple[str, list[list[str]]]]
) -> tuple[dict[str, Enumeration], dict[str, Enumeration]]:
    """Enumerations and masks of 2.0/2.1 (JSON) merged with the 1.4 ones (HTML)."""
    enums: dict[str, Enumeration] = {}
    masks: dict[str, Enumeration] = {}
    for version in (V2_0, V2_1):
        data = json.loads(
            (shared / "tables" / f"kmip-v{version[0]}.{version[1]}-spec-tables.json").read_text()
        )
        for group, target in (("enumerations", enums), ("masks", masks)):
            for name, table in data[group].items():
                if name == "Bit Masks":
                    continue
                enum = target.setdefault(name, Enumeration(name, table["section"]))
                for entry in table["values"]:
                    value = _hex8(entry["value"])
                    if value is None or entry["name"].strip("()") == "Reserved":
                        continue
                    if value not in enum.values:
                        enum.values[value] = EnumValue(value, clean(entry["name"]), entry["xml"], version)
    for heading, rows in html_tables:
        match = re.match(r"9\.1\.3\.([23])\.\d+ (.+?)( Enumeration)?$", heading)
        if not match or len(rows) < 3:
            continue
        name = match.group(2)
        target = masks if match.group(1) == "3" else enums
        enum = target.setdefault(name, Enumeration(name, "1.4 " + heading.split()[0]))
        for cells in rows[2:]:
            # A value cell may carry a note, e.g. "00000006 (deprecated)".
            if len(cells) < 2 or (value := _hex8(cells[1].split("(")[0])) is None:
                continue
            spec_name = clean(cells[0])
            if spec_name.strip("()").startswith("Reserved"):
                continue
            if value in enum.values:
                known = enum.values[value]
                known.since = V1_0
                legacy = normalize_name(spec_name)
                if legacy != known.xml and legacy not in known.aliases:
                    known.aliases += (legacy,)
            else:
                enum.values[value] = EnumValue(value, spec_name, normalize_name(spec_name), V1_0, V1_4)
    for (enum_name, value), spellings in EXTRA_XML_SPELLINGS.items():
        table = enums.get(enum_name) or masks[enum_name]
        entry = table.values.get(value)
        if entry is None:
            table.values[value] = EnumValue(value, spellings[0], spellings[0], V2_0)
        else:
            entry.aliases += tuple(s for s in spellings if s not in entry.aliases and s != entry.xml)
    return enums, masks


RULE_KEYS = (
    "SHALL always have a value",
    "Initially set by",
    "Modifiable by server",
    "Modifiable by client",
    "Deletable by client",
    "Multiple instances permitted",
    "When implicitly set",
    "Applies to Object Types",
)


def read_attribute_rules(
    shared: Path, html_tables: list[tuple[str, list[list[str]]]], tags: list[TagRow]
) -> dict[int, tuple[str, ...]]:
    """Each attribute's rule table (KMIP 2.1 §4, and 1.4 §3 for attributes 2.x dropped),
    as the spec words it; the server interprets the words."""
    by_name = {tag.name: tag.value for tag in tags}
    rules: dict[int, tuple[str, ...]] = {}
    data = json.loads((shared / "tables" / "kmip-v2.1-spec-tables.json").read_text())
    for name, attribute in data["attributes"].items():
        if name in by_name:
            rules[by_name[name]] = tuple(clean(attribute["rules"].get(key, "")) for key in RULE_KEYS)
    for heading, rows in html_tables:
        if not rows or not rows[0] or rows[0][0] != RULE_KEYS[0]:
            continue
        name = re.sub(r"^[\d.]+ ", "", heading)
        table = {cells[0]: clean(cells[1]) for cells in rows if len(cells) >= 2}
        # "3 Attributes" heads the legend that explains the rows, not an attribute.
        if name in by_name and by_name[name] not in rules and name != "Attributes":
            rules[by_name[name]] = tuple(table.get(key, "") for key in RULE_KEYS)
    return rules


def read_pkcs11_enumerations(shared: Path) -> list[Enumeration]:
    functions = Enumeration("PKCS#11 Function", "11.38")
    with (shared / "tables" / "kmip-pkcs11-function-enum.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            value = int(row["value_hex"], 16)
            functions.values[value] = EnumValue(value, row["function"], row["xml_enum_name"], V2_0)
    codes = Enumeration("PKCS#11 Return Code", "11.39")
    with (shared / "tables" / "kmip-pkcs11-return-code-enum.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            value = int(row["value_hex"], 16)
            xml = row["xml_enum_name_observed_convention"]
            codes.values[value] = EnumValue(value, row["ckr_name"], xml, V2_0, aliases=(row["ckr_name"],))
    return [functions, codes]


# --- checks on the facts -------------------------------------------------------------------


def check_normalization(tags: Iterable[TagRow], enums: Iterable[Enumeration]) -> list[str]:
    """Our name rule must reproduce every XML name the 2.x tables give."""
    problems = []
    for tag in tags:
        if tag.until is None and normalize_name(tag.name) != tag.xml:
            problems.append(f"tag {tag.name!r}: rule gives {normalize_name(tag.name)!r}, table {tag.xml!r}")
    for enum in enums:
        for entry in enum.values.values():
            derived = normalize_name(entry.name)
            if entry.until is None and derived != entry.xml:
                problems.append(f"{enum.name} {entry.name!r}: rule gives {derived!r}, table {entry.xml!r}")
    return problems


# --- writing -------------------------------------------------------------------------------


HEADER = '''"""{doc}

Generated by tools/gen_spec.py from ../shared/kmip; do not edit by hand.
"""

'''


def read_attributes_1x(html_tables: list[tuple[str, list[list[str]]]], tags: list[TagRow]) -> set[int]:
    """The tags KMIP 1.4 §3 defines as attributes: a 1.x client knows no others.

    (Some tags, such as Key Format Type, exist in 1.x inside structures but became
    attributes only in 2.0.)"""
    by_name = {tag.name: tag.value for tag in tags}
    found = set()
    for heading, rows in html_tables:
        match = re.fullmatch(r"3\.\d+ (.+)", heading)
        if match and rows and rows[0] and rows[0][0] == RULE_KEYS[0] and match.group(1) in by_name:
            found.add(by_name[match.group(1)])
    return found


def _version(version: Version | None) -> str:
    return "None" if version is None else f"({version[0]}, {version[1]})"


def render_tables(
    tags: list[TagRow],
    enums: dict[str, Enumeration],
    masks: dict[str, Enumeration],
    tag_enumeration: dict[int, str],
    tag_mask: dict[int, str],
    attribute_rules: dict[int, tuple[str, ...]],
    attributes_1x: set[int],
) -> str:
    out = [HEADER.format(doc="KMIP tags, enumerations and masks of versions 1.0-2.1, as plain data.")]
    out.append("from __future__ import annotations\n\n")
    out.append("from pkcs11_kmip.kmip.spec.model import EnumValueRow, TagRow\n\n")
    out.append("TAGS: tuple[TagRow, ...] = (\n")
    for tag in tags:
        out.append(
            f"    TagRow(0x{tag.value:06X}, {tag.name!r}, {tag.xml!r}, {tag.types!r}, "
            f"{_version(tag.since)}, {_version(tag.until)}),\n"
        )
    out.append(")\n\n")
    for title, group in (("ENUMERATIONS", enums), ("MASKS", masks)):
        out.append(f"{title}: dict[str, tuple[EnumValueRow, ...]] = {{\n")
        for name in sorted(group):
            out.append(f"    {name!r}: (\n")
            for entry in sorted(group[name].values.values(), key=lambda e: e.value):
                out.append(
                    f"        EnumValueRow(0x{entry.value:08X}, {entry.name!r}, {entry.xml!r}, "
                    f"{entry.aliases!r}, {_version(entry.since)}, {_version(entry.until)}),\n"
                )
            out.append("    ),\n")
        out.append("}\n\n")
    out.append("# Enumeration-typed tags -> the enumeration their values come from.\n")
    out.append("TAG_ENUMERATION: dict[int, str] = {\n")
    for value in sorted(tag_enumeration):
        out.append(f"    0x{value:06X}: {tag_enumeration[value]!r},\n")
    out.append("}\n\n")
    out.append("# Integer-typed tags whose value is a bit mask -> the mask.\n")
    out.append("TAG_MASK: dict[int, str] = {\n")
    for value in sorted(tag_mask):
        out.append(f"    0x{value:06X}: {tag_mask[value]!r},\n")
    out.append("}\n\n")
    out.append("# Attribute tag -> its rules, worded as the spec words them, in this order:\n")
    out.extend(f"#   {key}\n" for key in RULE_KEYS)
    out.append("ATTRIBUTE_RULES: dict[int, tuple[str, ...]] = {\n")
    for value in sorted(attribute_rules):
        out.append(f"    0x{value:06X}: (\n")
        out.extend(f"        {text!r},\n" for text in attribute_rules[value])
        out.append("    ),\n")
    out.append("}\n\n")
    out.append("# The attributes KMIP 1.x defines (1.4 §3); 1.x clients are sent no others.\n")
    out.append("ATTRIBUTES_1X: frozenset[int] = frozenset(\n    {\n")
    out.extend(f"        0x{value:06X},\n" for value in sorted(attributes_1x))
    out.append("    }\n)\n")
    return "".join(out)


def render_enums(tags: list[TagRow], enums: dict[str, Enumeration], masks: dict[str, Enumeration]) -> str:
    out = [HEADER.format(doc="Python names for KMIP tags, enumerations and masks (KMIP 1.0-2.1).")]
    out.append("from __future__ import annotations\n\n")
    out.append("from pkcs11_kmip.kmip.spec.model import KmipEnum, KmipMask\n\n\n")
    out.append('class Tag(KmipEnum):\n    """Every tag any KMIP version 1.0-2.1 defines."""\n\n')
    seen: set[str] = set()
    for tag in tags:
        name = identifier(tag.xml)
        if name in seen:
            raise SystemExit(f"gen_spec: duplicate tag identifier {name}")
        seen.add(name)
        out.append(f"    {name} = 0x{tag.value:06X}\n")
    # An enumeration with no named values (Opaque Data Type: extensions only) gets no
    # class: Python enums need a member; its values stay plain ints.
    enums = {name: enum for name, enum in enums.items() if enum.values}
    for group, base in ((enums, "KmipEnum"), (masks, "KmipMask")):
        for enum_name in sorted(group):
            enum = group[enum_name]
            out.append(f"\n\nclass {class_name(enum_name)}({base}):\n")
            out.append(f'    """{enum_name} (KMIP §{enum.section})."""\n\n')
            names: set[str] = set()
            for entry in sorted(enum.values.values(), key=lambda e: e.value):
                name = identifier(entry.xml)
                if name in names:
                    raise SystemExit(f"gen_spec: duplicate member {name} in {enum_name}")
                names.add(name)
                out.append(f"    {name} = 0x{entry.value:08X}\n")
    out.append("\n\nENUM_CLASSES: dict[str, type[KmipEnum]] = {\n")
    for enum_name in sorted(enums):
        out.append(f"    {enum_name!r}: {class_name(enum_name)},\n")
    out.append("}\n\nMASK_CLASSES: dict[str, type[KmipMask]] = {\n")
    for mask_name in sorted(masks):
        out.append(f"    {mask_name!r}: {class_name(mask_name)},\n")
    out.append("}\n")
    return "".join(out)


def generate(shared: Path) -> dict[Path, str]:
    parser = _TableParser()
    parser.feed((shared / "spec" / "kmip-spec-v1.4-os.html").read_text(encoding="utf-8", errors="replace"))
    tags = read_tags(shared, parser.tables)
    enums, masks = read_enumerations(shared, parser.tables)
    problems = check_normalization(tags, [*enums.values(), *masks.values()])
    if problems:
        raise SystemExit("gen_spec: the XML name rule disagrees with the tables:\n  " + "\n  ".join(problems))
    # The PKCS#11 names follow Cryptoki's spelling, not the KMIP name rule.
    for pkcs11_enum in read_pkcs11_enumerations(shared):
        enums[pkcs11_enum.name] = pkcs11_enum

    by_name = {tag.name: tag for tag in tags}
    tag_enumeration: dict[int, str] = {}
    for tag in tags:
        if "Enumeration" not in tag.types:
            continue
        enum_name = TAG_ENUMERATION_ALIASES.get(tag.name, tag.name)
        if enum_name in enums or enum_name == "Tag":
            tag_enumeration[tag.value] = enum_name
    tag_mask = {by_name[name].value: mask for name, mask in TAG_MASKS.items()}
    attribute_rules = read_attribute_rules(shared, parser.tables, tags)
    return {
        TABLES_OUT: render_tables(
            tags,
            enums,
            masks,
            tag_enumeration,
            tag_mask,
            attribute_rules,
            read_attributes_1x(parser.tables, tags),
        ),
        ENUMS_OUT: render_enums(tags, enums, masks),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "kmip")
    parser.add_argument("--check", action="store_true", help="fail if the committed output is stale")
    options = parser.parse_args(argv)
    outputs = generate(options.shared)
    stale = [path for path, text in outputs.items() if not path.exists() or path.read_text() != text]
    if options.check:
        for path in stale:
            print(f"gen_spec: {path.relative_to(ROOT)} is stale; run tools/gen_spec.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(outputs[path])
        print(f"gen_spec: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
