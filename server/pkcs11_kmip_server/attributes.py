"""Attributes on the server: the spec's rules, and the 1.x and 2.x forms.

Inside the server every object's attributes are one `Attributes` list in the 2.x
form. KMIP 1.x clients send and receive named `Attribute` structures; custom "x-"
and "y-" attributes are the 2.x vendor attributes of vendors "x" and "y" (KMIP 2.1
§4.54), so both generations of clients see the same attributes.
"""

from __future__ import annotations

import enum
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages import ATTRIBUTE_TYPES, Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.structures import AttributeReference
from pkcs11_kmip.kmip.spec import Tag, Version, _tables
from pkcs11_kmip.kmip.spec.enums import ResultReason, State
from pkcs11_kmip.kmip.ttlv import Item
from pkcs11_kmip_server.errors import KmipError


class Modifiable(enum.Enum):
    NEVER = "never"
    ALWAYS = "always"
    PRE_ACTIVE = "while Pre-Active"
    PRE_ACTIVE_OR_ACTIVE = "while Pre-Active or Active"


@dataclass(frozen=True)
class AttributeRule:
    """What the spec's rule table says of one attribute, interpreted."""

    client_sets_initially: bool
    client_modifies: Modifiable
    client_deletes: bool
    multiple: bool

    def client_may_modify(self, state: State) -> bool:
        if self.client_modifies is Modifiable.ALWAYS:
            return True
        if self.client_modifies is Modifiable.PRE_ACTIVE:
            return state is State.PRE_ACTIVE
        if self.client_modifies is Modifiable.PRE_ACTIVE_OR_ACTIVE:
            return state in (State.PRE_ACTIVE, State.ACTIVE)
        return False


# Vendor attributes (and 1.x custom attributes) belong to their client entirely.
VENDOR_RULE = AttributeRule(True, Modifiable.ALWAYS, True, True)
UNKNOWN_RULE = AttributeRule(False, Modifiable.NEVER, False, False)


def _interpret(words: tuple[str, ...]) -> AttributeRule:
    _always, initially, _server, client, deletable, multiple, _implicit, _applies = words
    if client.startswith("Yes, only while in Pre-Active or Active"):
        modifies = Modifiable.PRE_ACTIVE_OR_ACTIVE
    elif client.startswith("Yes, only while in Pre-Active"):
        modifies = Modifiable.PRE_ACTIVE
    elif client.startswith("Yes"):
        modifies = Modifiable.ALWAYS
    else:
        modifies = Modifiable.NEVER
    return AttributeRule(
        client_sets_initially="Client" in initially,
        client_modifies=modifies,
        client_deletes=deletable.startswith("Yes"),
        multiple=multiple.startswith("Yes"),
    )


@cache
def rule(tag: int) -> AttributeRule:
    if tag == Tag.ATTRIBUTE:
        return VENDOR_RULE
    words = _tables.ATTRIBUTE_RULES.get(tag)
    if words is None:
        # The Certificate Attributes parts share the rule of their group (KMIP 2.1 §4.8,
        # Table 40): set by the server from the certificate, each part possibly repeated.
        name = spec.tag_xml_name(tag) or ""
        if name.startswith(("CertificateSubject", "CertificateIssuer")):
            return AttributeRule(False, Modifiable.NEVER, False, True)
        return UNKNOWN_RULE
    return _interpret(words)


def is_attribute(tag: int) -> bool:
    return tag == Tag.ATTRIBUTE or tag in _tables.ATTRIBUTE_RULES or tag in ATTRIBUTE_TYPES_TAGS


ATTRIBUTE_TYPES_TAGS = frozenset(int(tag) for tag in ATTRIBUTE_TYPES)


# --- KMIP 1.x named attributes <-> the canonical form ----------------------------------


def vendor_of_custom_name(name: str) -> tuple[str, str]:
    """A 1.x custom attribute name as (vendor, name): "x-foo" is vendor "x", name "foo"."""
    if len(name) > 2 and name[1] == "-" and name[0] in "xy":
        return name[0], name[2:]
    return "", name


def custom_name_of_vendor(vendor: str, name: str) -> str:
    return f"{vendor}-{name}" if vendor in ("x", "y") else name


# The standard attributes by their 1.x Attribute Name: spec.tag_by_name's tag for each name
# that names an attribute (not just a field), looked up once per name here.
_ATTRIBUTE_TAG_BY_NAME = {
    row.name: tag
    for row in _tables.TAGS
    if (tag := spec.tag_by_name(row.name)) is not None and int(tag) in ATTRIBUTE_TYPES_TAGS
}


_new_entry = tuple.__new__  # AttributeEntry(tag, value) without the NamedTuple's Python-level __new__


def from_named(attribute: Attribute) -> AttributeEntry:
    """One 1.x Attribute as a canonical entry (a standard tag, or a vendor attribute)."""
    name = attribute.attribute_name or ""
    tag = _ATTRIBUTE_TAG_BY_NAME.get(name) if attribute.vendor_identification is None else None
    if tag is not None:
        if isinstance(attribute.attribute_value, Item):
            raise KmipError(ResultReason.INVALID_FIELD, f"attribute {name!r} has a value of the wrong type")
        if attribute.attribute_value is None:
            raise KmipError(ResultReason.INVALID_FIELD, f"attribute {name!r} has no value")
        return _new_entry(AttributeEntry, (tag, attribute.attribute_value))
    if attribute.vendor_identification is not None:
        return AttributeEntry(Tag.ATTRIBUTE, attribute)
    vendor, short = vendor_of_custom_name(name)
    return AttributeEntry(
        Tag.ATTRIBUTE,
        Attribute(
            vendor_identification=vendor, attribute_name=short, attribute_value=attribute.attribute_value
        ),
    )


def from_named_list(attributes: Iterable[Attribute]) -> Attributes:
    return Attributes(entries=[from_named(attribute) for attribute in attributes])


def to_named(entry: AttributeEntry, index: int) -> Attribute:
    """A canonical entry as the 1.x Attribute a 1.x client understands."""
    if isinstance(entry.value, Attribute):
        vendor = entry.value.vendor_identification or ""
        return Attribute(
            attribute_name=custom_name_of_vendor(vendor, entry.value.attribute_name or ""),
            attribute_index=index or None,
            attribute_value=entry.value.attribute_value,
        )
    row = spec.tag_info(entry.tag)
    name = row.name if row is not None else f"0x{entry.tag:06X}"
    return Attribute(attribute_name=name, attribute_index=index or None, attribute_value=entry.value)


def to_named_list(
    attributes: Iterable[AttributeEntry], version: Version, vacated: Mapping[str, list[int]] | None = None
) -> list[Attribute]:
    """Entries as 1.x Attributes, leaving out what `version` does not define; each instance
    with its Attribute Index (`vacated`: the object's `vacated_indexes`)."""
    seen: dict[int | tuple[Any, ...], int] = {}
    out = []
    for entry in attributes:
        if entry.tag != Tag.ATTRIBUTE and not spec.attribute_defined_in(entry.tag, version):
            continue
        key = _identity(entry)
        count = seen.get(key, 0)
        seen[key] = count + 1
        gone = vacated.get(name_of(entry)) if vacated else None
        out.append(to_named(entry, indexes(count + 1, gone)[-1] if gone else count))
    return out


# --- KMIP 1.x Attribute Indexes ------------------------------------------------------------

# KMIP 1.4 §2.1.1: an instance's Attribute Index "SHALL NOT change when other instances are
# added or deleted". The 2.x form the server keeps has no indexes, so an object remembers,
# per attribute, the indexes that deletions left vacant, under a tag no KMIP version
# defines: no response carries it (for_version and to_named_list leave it out).
VACATED_INDEXES = 0x42FFFE


def vacated_indexes(attributes: Attributes) -> dict[str, list[int]]:
    """The Attribute Indexes deletions vacated, by attribute name (empty for most objects)."""
    kept = attributes.get(VACATED_INDEXES)
    if not isinstance(kept, Item) or not isinstance(kept.value, str):
        return {}
    found: dict[str, list[int]] = json.loads(kept.value)
    return found


def indexes(count: int, vacated: Iterable[int] | None) -> list[int]:
    """The Attribute Indexes of an attribute's `count` instances, in order: the smallest
    numbers that are not vacant (0, 1, 2 ... for an attribute that never lost one)."""
    gone = set(vacated or ())
    return list(itertools.islice((n for n in itertools.count() if n not in gone), count))


def for_version(attributes: Iterable[AttributeEntry], version: Version) -> Attributes:
    """Entries a 2.x client of `version` may receive (1.x-only attributes left out)."""
    return Attributes(
        entries=[e for e in attributes if e.tag == Tag.ATTRIBUTE or spec.attribute_defined_in(e.tag, version)]
    )


def _identity(entry: AttributeEntry) -> int | tuple[Any, ...]:
    """Which attribute an entry is an instance of: its tag, or a vendor attribute's names
    (the tag alone, not a tuple of it: every Create counts its entries by this)."""
    if isinstance(entry.value, Attribute):
        return (Tag.ATTRIBUTE, entry.value.vendor_identification or "", entry.value.attribute_name)
    return entry.tag


# --- selecting attributes by name or reference -----------------------------------------


def matches_name(entry: AttributeEntry, name: str) -> bool:
    """Whether a 1.x Attribute Name names this entry ("Name", "x-foo", ...)."""
    if isinstance(entry.value, Attribute):
        vendor = entry.value.vendor_identification or ""
        return custom_name_of_vendor(vendor, entry.value.attribute_name or "") == name
    row = spec.tag_info(entry.tag)
    return row is not None and row.name == name


def matches_reference(entry: AttributeEntry, reference: Tag | AttributeReference) -> bool:
    """Whether a 2.x Attribute Reference names this entry."""
    if isinstance(reference, AttributeReference):
        return (
            isinstance(entry.value, Attribute)
            and (entry.value.vendor_identification or "") == (reference.vendor_identification or "")
            and entry.value.attribute_name == reference.attribute_name
        )
    return entry.tag == reference


def select_by_names(attributes: Attributes, names: list[str]) -> list[AttributeEntry]:
    """The entries named, in the order the names were asked for."""
    return [entry for name in names for entry in attributes if matches_name(entry, name)]


def select_by_references(
    attributes: Attributes, references: list[Tag | AttributeReference]
) -> list[AttributeEntry]:
    return [entry for reference in references for entry in attributes if matches_reference(entry, reference)]


def reference_of(entry: AttributeEntry) -> Tag | AttributeReference:
    if isinstance(entry.value, Attribute):
        return AttributeReference(
            vendor_identification=entry.value.vendor_identification or "",
            attribute_name=entry.value.attribute_name,
        )
    return Tag(entry.tag)


def name_of(entry: AttributeEntry) -> str:
    if isinstance(entry.value, Attribute):
        vendor = entry.value.vendor_identification or ""
        return custom_name_of_vendor(vendor, entry.value.attribute_name or "")
    row = spec.tag_info(entry.tag)
    return row.name if row is not None else f"0x{entry.tag:06X}"


# --- what a client may set --------------------------------------------------------------


# Attributes the rule tables say the server sets, but that a client names as the
# parameters of what to create ("Create an AES 256-bit key").
CREATION_PARAMETERS = frozenset(
    {
        Tag.CRYPTOGRAPHIC_ALGORITHM,
        Tag.CRYPTOGRAPHIC_LENGTH,
        Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
        Tag.OBJECT_TYPE,
        Tag.CERTIFICATE_TYPE,
        Tag.OPAQUE_DATA_TYPE,
        Tag.DIGITAL_SIGNATURE_ALGORITHM,
        Tag.KEY_FORMAT_TYPE,
        Tag.PROTECTION_STORAGE_MASK,
    }
)


def server_only(tag: int) -> bool:
    """Whether only the server ever sets this attribute (State, Unique Identifier, dates ...)."""
    return not rule(tag).client_sets_initially and tag not in CREATION_PARAMETERS


@cache
def _read_only(tag: int) -> bool:
    """Whether a client may not set the attribute: the rule tables' server-only ones."""
    return server_only(tag) and tag in _tables.ATTRIBUTE_RULES


# The tags check_client_settable refuses, as one set: a request's attributes pass with one
# lookup each (the rule tables are fixed, so _read_only of a tag outside them is False).
_NOT_CLIENT_SETTABLE = frozenset(
    {VACATED_INDEXES, *(tag for tag in _tables.ATTRIBUTE_RULES if _read_only(tag))}
)


def check_client_settable(attributes: Iterable[AttributeEntry]) -> None:
    """Refuse attributes only the server sets (Unique Identifier, State, Initial Date ...)."""
    for entry in attributes:
        if entry.tag not in _NOT_CLIENT_SETTABLE:
            continue
        if entry.tag == VACATED_INDEXES:  # the server's own record, which no client may write
            raise KmipError(ResultReason.INVALID_ATTRIBUTE, f"0x{entry.tag:06X} is not an attribute")
        if _read_only(entry.tag):
            raise KmipError(ResultReason.ATTRIBUTE_READ_ONLY, f"{name_of(entry)} is set by the server")


def check_single_valued(attributes: Attributes) -> None:
    """Refuse a second value of a single-valued attribute (Multi-Valued Attribute)."""
    entries = attributes.entries
    if len({entry.tag for entry in entries}) == len(entries):  # no tag twice: no attribute twice
        return
    counts: dict[int | tuple[Any, ...], int] = {}
    for entry in attributes:
        key = _identity(entry)
        count = counts[key] = counts.get(key, 0) + 1
        if count > 1 and not rule(entry.tag).multiple:
            raise KmipError(ResultReason.MULTI_VALUED_ATTRIBUTE, f"{name_of(entry)} may have only one value")
