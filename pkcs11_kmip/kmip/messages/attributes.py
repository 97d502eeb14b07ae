"""Managed-object attributes in both of KMIP's forms.

KMIP 1.x sends each attribute as an `Attribute` structure (Attribute Name, optional
Attribute Index, Attribute Value), grouped in Template-Attribute structures. KMIP 2.x
sends each attribute as an item with the attribute's own tag inside an `Attributes`
structure, and vendor attributes as `Attribute` structures with a Vendor
Identification. Both forms decode into typed values through one table,
`ATTRIBUTE_TYPES`; names nobody knows (custom "x-..." attributes, vendor tags) keep
their raw item, whatever its type.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple, Self

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages.core import (
    _UNLIMITED,
    LATEST,
    RAW_ITEM,
    Converter,
    FieldSpec,
    LeafConverter,
    Structure,
    _members,
    converter_for,
    kmip,
    kmip_list,
    structure,
    value_writer,
    version_text,
)
from pkcs11_kmip.kmip.messages.structures import (
    V2_0,
    AlternativeName,
    ApplicationSpecificInformation,
    CertificateIdentifier,
    CertificateIssuer,
    CertificateSubject,
    CryptographicDomainParameters,
    CryptographicParameters,
    Digest,
    KeyValueLocation,
    Link,
    Name,
    RandomNumberGenerator,
    RevocationReason,
    RotateName,
    UniqueId,
    UsageLimits,
    X509CertificateIdentifier,
    X509CertificateIssuer,
    X509CertificateSubject,
)
from pkcs11_kmip.kmip.spec import KmipEnum, KmipMask, Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
    KeyFormatType,
    NISTKeyType,
    ObjectType,
    ProtectionLevel,
    ProtectionStorageMask,
    State,
)
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary

# The value type of every attribute KMIP 1.0-2.1 defines (KMIP 1.4 §3, 2.1 §4).
ATTRIBUTE_TYPES: dict[Tag, Any] = {
    Tag.UNIQUE_IDENTIFIER: UniqueId,
    Tag.NAME: Name,
    Tag.OBJECT_TYPE: ObjectType,
    Tag.CRYPTOGRAPHIC_ALGORITHM: CryptographicAlgorithm,
    Tag.CRYPTOGRAPHIC_LENGTH: int,
    Tag.CRYPTOGRAPHIC_PARAMETERS: CryptographicParameters,
    Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS: CryptographicDomainParameters,
    Tag.CERTIFICATE_TYPE: CertificateType,
    Tag.CERTIFICATE_LENGTH: int,
    Tag.X_509_CERTIFICATE_IDENTIFIER: X509CertificateIdentifier,
    Tag.X_509_CERTIFICATE_SUBJECT: X509CertificateSubject,
    Tag.X_509_CERTIFICATE_ISSUER: X509CertificateIssuer,
    Tag.CERTIFICATE_IDENTIFIER: CertificateIdentifier,
    Tag.CERTIFICATE_SUBJECT: CertificateSubject,
    Tag.CERTIFICATE_ISSUER: CertificateIssuer,
    Tag.DIGITAL_SIGNATURE_ALGORITHM: DigitalSignatureAlgorithm,
    Tag.DIGEST: Digest,
    Tag.OPERATION_POLICY_NAME: str,
    Tag.CRYPTOGRAPHIC_USAGE_MASK: CryptographicUsageMask,
    Tag.LEASE_TIME: int,
    Tag.USAGE_LIMITS: UsageLimits,
    Tag.STATE: State,
    Tag.INITIAL_DATE: datetime,
    Tag.ACTIVATION_DATE: datetime,
    Tag.PROCESS_START_DATE: datetime,
    Tag.PROTECT_STOP_DATE: datetime,
    Tag.DEACTIVATION_DATE: datetime,
    Tag.DESTROY_DATE: datetime,
    Tag.COMPROMISE_OCCURRENCE_DATE: datetime,
    Tag.COMPROMISE_DATE: datetime,
    Tag.REVOCATION_REASON: RevocationReason,
    Tag.ARCHIVE_DATE: datetime,
    Tag.OBJECT_GROUP: str,
    Tag.FRESH: bool,
    Tag.LINK: Link,
    Tag.APPLICATION_SPECIFIC_INFORMATION: ApplicationSpecificInformation,
    Tag.CONTACT_INFORMATION: str,
    Tag.LAST_CHANGE_DATE: datetime,
    Tag.ALTERNATIVE_NAME: AlternativeName,
    Tag.KEY_VALUE_PRESENT: bool,
    Tag.KEY_VALUE_LOCATION: KeyValueLocation,
    Tag.ORIGINAL_CREATION_DATE: datetime,
    Tag.RANDOM_NUMBER_GENERATOR: RandomNumberGenerator,
    Tag.PKCS_12_FRIENDLY_NAME: str,
    Tag.DESCRIPTION: str,
    Tag.COMMENT: str,
    Tag.SENSITIVE: bool,
    Tag.ALWAYS_SENSITIVE: bool,
    Tag.EXTRACTABLE: bool,
    Tag.NEVER_EXTRACTABLE: bool,
    Tag.KEY_FORMAT_TYPE: KeyFormatType,
    Tag.NIST_KEY_TYPE: NISTKeyType,
    Tag.OPAQUE_DATA_TYPE: int,  # an enumeration with only extension values
    Tag.PROTECTION_LEVEL: ProtectionLevel,
    Tag.PROTECTION_PERIOD: int,
    Tag.PROTECTION_STORAGE_MASK: ProtectionStorageMask,
    Tag.QUANTUM_SAFE: bool,
    Tag.SHORT_UNIQUE_IDENTIFIER: bytes,
    Tag.ROTATE_AUTOMATIC: bool,
    Tag.ROTATE_DATE: datetime,
    Tag.ROTATE_GENERATION: int,
    Tag.ROTATE_INTERVAL: int,
    Tag.ROTATE_LATEST: bool,
    Tag.ROTATE_NAME: RotateName,
    Tag.ROTATE_OFFSET: int,
    # KMIP 2.x Certificate Attributes: one text attribute per distinguished-name part.
    **{
        Tag[f"CERTIFICATE_{party}_{part}"]: str
        for party in ("SUBJECT", "ISSUER")
        for part in (
            "CN",
            "O",
            "OU",
            "EMAIL",
            "C",
            "ST",
            "L",
            "UID",
            "SERIAL_NUMBER",
            "TITLE",
            "DC",
            "DN_QUALIFIER",
        )
    },
}

_converter_cache: dict[int, tuple[Converter, ...]] = {}


def attribute_converters(tag: int) -> tuple[Converter, ...]:
    """How values of the attribute with this tag convert (a raw item for unknown attributes)."""
    converters = _converter_cache.get(tag)
    if converters is None:
        annotation = ATTRIBUTE_TYPES.get(tag)  # type: ignore[call-overload]
        if annotation is None:
            converters = (RAW_ITEM,)
        else:
            converters = tuple(converter_for(member, tag) for member in _members(annotation)[1])
        _converter_cache[tag] = converters
    return converters


ValueDecoder = Callable[[Item, Version], Any]

# tag << 8 | item type -> the decode of the converter for values of that tag and type.
_decoder_cache: dict[int, ValueDecoder] = {}


def _value_decoder(tag: int, item_type: ItemType) -> ValueDecoder | None:
    """How an item of this type decodes as a value of attribute `tag` (None: it cannot)."""
    for converter in attribute_converters(tag):
        if converter is RAW_ITEM or converter.item_type is item_type:
            decoder = _decoder_cache[tag << 8 | item_type] = converter.decode
            return decoder
    return None


def _decoder_for(tag: int, item_type: ItemType, where: str) -> ValueDecoder:
    decoder = _decoder_cache.get(tag << 8 | item_type) or _value_decoder(tag, item_type)
    if decoder is None:
        name = spec.tag_xml_name(tag) or hex(tag)
        raise CodecError(f"{where}: attribute {name} cannot be a {item_type.name}")
    return decoder


def decode_attribute_value(tag: int, item: Item, version: Version, where: str) -> Any:
    return _decoder_for(tag, item.type, where)(item, version)


# (a 1.x Attribute Name, item type) -> the decode of its value: one lookup per Attribute.
_named_decoders: dict[tuple[str | None, ItemType], ValueDecoder] = {}


_writer_cache: dict[tuple[int, type], Converter] = {}


def _value_converter(tag: int, value: Any, where: str) -> Converter:
    """The converter that writes `value` as attribute `tag` (chosen by the value's class alone)."""
    key = (tag, type(value))
    converter = _writer_cache.get(key)
    if converter is None:
        for candidate in attribute_converters(tag):
            if candidate.accepts(value):
                converter = _writer_cache[key] = candidate
                break
        else:
            name = spec.tag_xml_name(tag) or hex(tag)
            raise CodecError(f"{where}: {value!r} is not a value of attribute {name}")
    return converter


def write_attribute_value(
    out: bytearray, tag: int, item_tag: int, value: Any, version: Version, where: str
) -> None:
    """Write the value of attribute `tag` under `item_tag` (the attribute's own tag, or Attribute Value)."""
    converter = _value_converter(tag, value, where)
    try:
        converter.write(out, item_tag, value, version)
    except binary.ENCODE_ERRORS as error:
        raise CodecError(f"{where}: {error}") from None


# How one entry of an Attributes structure writes itself: (output, value).
EntryWriter = Callable[[bytearray, Any], None]

# Values of these classes are immutable and come from a small set (enumeration members,
# flags, booleans): an entry writer keeps the TTLV it wrote for each, up to _KEPT_PER_WRITER.
_MEMOIZED = (KmipEnum, KmipMask, bool)
_KEPT_PER_WRITER = 64
# Values of these classes repeat from one object to the next (the dates of objects made in
# the same second, a length): an entry writer keeps the last one's TTLV. Equal values write
# equal bytes (aware datetimes equal as instants; a naive one is never equal to them).
_KEPT_LAST = (datetime, int)
_NOTHING = object()

# version (None: each in the newest defining it) -> class of the value -> tag -> its writer
# (nested by the parts of the key: cheaper to look up than one tuple of them per entry).
_entry_writers: dict[Version | None, dict[type, dict[int, EntryWriter]]] = {}


def _entry_writer(tag: int, value: Any, version: Version | None, where: str) -> EntryWriter:
    """The writer of entries of attribute `tag` whose values are of `value`'s class, made
    once: what `write_attribute_value` (or a vendor Attribute's write_to) does, with the
    converter and the version chosen ahead, and the bytes of memoizable values kept."""
    written_in = version or _newest_defining(tag)
    write: EntryWriter
    if isinstance(value, Attribute):

        def write(out: bytearray, value: Any) -> None:
            value.write_to(out, written_in)

    else:
        write_value = value_writer(_value_converter(tag, value, where), tag, written_in)
        if isinstance(value, _MEMOIZED):
            kept: dict[Any, bytes] = {}

            def write(out: bytearray, value: Any) -> None:
                encoded = kept.get(value)
                if encoded is None:
                    piece = bytearray()
                    write_value(piece, value)
                    encoded = bytes(piece)
                    if len(kept) < _KEPT_PER_WRITER:
                        kept[value] = encoded
                out += encoded

        elif type(value) in _KEPT_LAST:
            # The last value written and its bytes, one tuple: read whole by every thread.
            last: list[tuple[Any, bytes]] = [(_NOTHING, b"")]

            def write(out: bytearray, value: Any) -> None:
                seen, encoded = last[0]
                if value != seen:
                    piece = bytearray()
                    write_value(piece, value)
                    encoded = bytes(piece)
                    last[0] = (value, encoded)
                out += encoded

        else:
            write = write_value

    _entry_writers.setdefault(version, {}).setdefault(type(value), {})[tag] = write
    return write


# --- KMIP 1.x: Attribute structures ------------------------------------------------------


@structure
class Attribute(Structure):
    """One attribute by name: the KMIP 1.x form, and KMIP 2.x vendor attributes.

    `attribute_value` holds the typed value when the name is a standard attribute
    ("Cryptographic Algorithm" -> CryptographicAlgorithm.AES), else the raw item.
    """

    TAG = Tag.ATTRIBUTE
    CUSTOM_WRITE = frozenset({"attribute_value"})
    vendor_identification: str | None = kmip(Tag.VENDOR_IDENTIFICATION, since=V2_0)
    attribute_name: str | None = kmip(Tag.ATTRIBUTE_NAME, required=True)
    attribute_index: int | None = kmip(Tag.ATTRIBUTE_INDEX)
    attribute_value: Any = kmip(Tag.ATTRIBUTE_VALUE)

    @property
    def attribute_tag(self) -> int | None:
        """The tag of the standard attribute this names (None for custom and vendor ones)."""
        if self.vendor_identification is not None or self.attribute_name is None:
            return None
        return spec.tag_by_name(self.attribute_name)

    def _decoded(self, version: Version) -> None:
        raw = self.attribute_value
        if not isinstance(raw, Item) or self.vendor_identification is not None:
            return
        decoder = _named_decoders.get((self.attribute_name, raw.type))
        if decoder is None:
            tag = self.attribute_tag
            if tag is None:  # a custom attribute: the raw item
                return
            decoder = _decoder_for(tag, raw.type, self.attribute_name or "")
            _named_decoders[self.attribute_name, raw.type] = decoder
        self.attribute_value = decoder(raw, version)

    def _write_value(self, out: bytearray, field: FieldSpec, value: Any, version: Version) -> None:
        tag = self.attribute_tag
        if tag is not None and not isinstance(value, Item):
            write_attribute_value(out, tag, Tag.ATTRIBUTE_VALUE, value, version, self.attribute_name or "")
        else:
            super()._write_value(out, field, value, version)


@structure
class TemplateAttribute(Structure):
    """KMIP 1.x attributes for a new object: templates by Name, and individual attributes."""

    TAG = Tag.TEMPLATE_ATTRIBUTE
    names: list[Name] = kmip_list(Tag.NAME)
    attributes: list[Attribute] = kmip_list(Tag.ATTRIBUTE)


@structure
class CommonTemplateAttribute(TemplateAttribute):
    TAG = Tag.COMMON_TEMPLATE_ATTRIBUTE


@structure
class PrivateKeyTemplateAttribute(TemplateAttribute):
    TAG = Tag.PRIVATE_KEY_TEMPLATE_ATTRIBUTE


@structure
class PublicKeyTemplateAttribute(TemplateAttribute):
    TAG = Tag.PUBLIC_KEY_TEMPLATE_ATTRIBUTE


# --- KMIP 2.x: Attributes structures -----------------------------------------------------


class AttributeEntry(NamedTuple):
    """One attribute of a 2.x Attributes structure: its tag and its typed value."""

    tag: int
    value: Any


# AttributeEntry(tag, value) without the Python-level __new__ of a NamedTuple.
_new_entry = tuple.__new__
_ATTRIBUTE = int(Tag.ATTRIBUTE)


@structure
class Attributes(Structure):
    """KMIP 2.x Attributes: any attributes, each under its own tag, in the order given.

    Vendor attributes are `Attribute` values under Tag.ATTRIBUTE; an unknown tag keeps
    its raw item.
    """

    TAG = Tag.ATTRIBUTES
    entries: list[AttributeEntry] = dataclasses.field(default_factory=list)

    @classmethod
    def of(cls, *entries: tuple[int, Any]) -> Self:
        return cls(entries=[AttributeEntry(tag, value) for tag, value in entries])

    def __iter__(self) -> Iterator[AttributeEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, tag: int) -> Any:
        """The first value of the attribute, or None."""
        for entry in self.entries:
            if entry.tag == tag:
                return entry.value
        return None

    def get_all(self, tag: int) -> list[Any]:
        return [entry.value for entry in self.entries if entry.tag == tag]

    def add(self, tag: int, value: Any) -> None:
        self.entries.append(AttributeEntry(tag, value))

    def remove(self, tag: int) -> None:
        self.entries = [entry for entry in self.entries if entry.tag != tag]

    @classmethod
    def from_item(cls, item: Item, version: Version = LATEST) -> Self:
        if item.type is not ItemType.STRUCTURE:
            raise CodecError(f"{cls.__name__} must be a Structure, got a {item.type.name}")
        where = cls.__name__
        entries = [
            _new_entry(AttributeEntry, (c.tag, _entry_value(c, version, where))) for c in item.children
        ]
        return cls(entries=entries)

    def _write_fields(self, out: bytearray, version: Version) -> None:
        for tag, _value in self.entries:
            if not spec.tag_defined_in(tag, version):
                name = spec.tag_xml_name(tag)
                raise CodecError(f"attribute {name} is not defined in KMIP {version_text(version)}")
        self._write_entries(out, version)

    def _write_entries(self, out: bytearray, version: Version | None) -> None:
        """Write the entries in `version`, or (None) each in the newest that defines it.

        Every stored object's attributes are written here (encode_any_version), mostly the
        same few kinds of entry: each goes through its writer made once (`_entry_writer`).
        """
        writers = _entry_writers.get(version) or {}
        try:
            for tag, value in self.entries:
                by_tag = writers.get(type(value))
                write = by_tag.get(tag) if by_tag is not None else None
                if write is None:
                    write = _entry_writer(tag, value, version, type(self).__name__)
                write(out, value)
        except binary.ENCODE_ERRORS as error:
            raise CodecError(f"{type(self).__name__}: {error}") from None

    def encode_any_version(self) -> bytes:
        """These attributes as TTLV, whichever versions define them: for storage, never the wire.

        Each entry is written in the newest version that defines it, so 1.x-only
        structures (Certificate Identifier, ...) keep their 1.x fields.
        """
        out = bytearray()
        mark = len(out)
        out += bytes(binary.HEADER_SIZE)
        self._write_entries(out, None)
        binary.end_structure(out, mark, self.TAG)
        return bytes(out)

    @classmethod
    def decode_any_version(cls, data: bytes) -> Self:
        """Attributes that `encode_any_version` wrote (what `from_item` of their item gives).

        A stored object's attributes are read on every load, so this reads the
        entries straight from the bytes, without an item tree for them.
        """
        return cls(entries=binary.decode_children(data, _stored_entry, _UNLIMITED))


def _entry_value(item: Item, version: Version, where: str) -> Any:
    """The value of one entry of an Attributes structure (a vendor attribute: an Attribute)."""
    if item.tag == _ATTRIBUTE:
        return Attribute.from_item(item, version)
    return decode_attribute_value(item.tag, item, version, where)


def _entry_value_through_item(item_type: ItemType, value: Any, tag: int) -> Any:
    return _entry_value(Item(tag, item_type, value), LATEST, Attributes.__name__)


# tag << 8 | item type -> (value of the item, tag) -> the typed value of a stored entry.
_stored_decoders: dict[int, Callable[[Any, int], Any]] = {}


def _stored_decoder(tag: int, item_type: ItemType) -> Callable[[Any, int], Any]:
    """A leaf converts from its value alone; anything else (a structure, a vendor
    attribute, an unknown attribute's raw item) goes through an Item as in from_item."""
    converters = attribute_converters(tag)
    converter = next((c for c in converters if c is RAW_ITEM or c.item_type is item_type), None)
    decoder: Callable[[Any, int], Any]
    if isinstance(converter, LeafConverter):
        decoder = converter.decode_value
    else:
        decoder = functools.partial(_entry_value_through_item, item_type)
    _stored_decoders[tag << 8 | item_type] = decoder
    return decoder


def _stored_entry(tag: int, item_type: ItemType, value: Any) -> AttributeEntry:
    """One entry of stored attributes, from what its item would hold (binary.decode_children)."""
    decoder = _stored_decoders.get(tag << 8 | item_type) or _stored_decoder(tag, item_type)
    return _new_entry(AttributeEntry, (tag, decoder(value, tag)))


@functools.cache  # once per tag: storing an object writes every attribute through here
def _newest_defining(tag: int) -> Version:
    if spec.tag_defined_in(tag, LATEST):
        return LATEST
    return next((v for v in reversed(spec.KMIP_VERSIONS) if spec.tag_defined_in(tag, v)), LATEST)


@structure
class CommonAttributes(Attributes):
    TAG = Tag.COMMON_ATTRIBUTES


@structure
class PrivateKeyAttributes(Attributes):
    TAG = Tag.PRIVATE_KEY_ATTRIBUTES


@structure
class PublicKeyAttributes(Attributes):
    TAG = Tag.PUBLIC_KEY_ATTRIBUTES


@structure
class CurrentAttribute(Attributes):
    """The one attribute (instance) an Add/Modify/Delete Attribute request acts on."""

    TAG = Tag.CURRENT_ATTRIBUTE


@structure
class NewAttribute(Attributes):
    TAG = Tag.NEW_ATTRIBUTE
