"""New managed objects: the attributes a client asked for, and those the server sets.

Create, Register, Create Key Pair, Re-key and the others all make objects the same
way: the client's attributes (checked against the spec's rules), then what the
server sets on every new object (identifier, type, state, dates, digest, the
Sensitive/Extractable flags and their "always/never" companions).
"""

from __future__ import annotations

import hashlib
import os
import time
from datetime import datetime

from pkcs11_kmip.kmip.messages import AttributeEntry, Attributes, Structure
from pkcs11_kmip.kmip.messages.attributes import TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import Certificate, KeyBlock, KeyValue, OpaqueObject
from pkcs11_kmip.kmip.messages.structures import Digest, RandomNumberGenerator
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    ProtectionStorageMask,
    ResultReason,
    RNGAlgorithm,
    State,
)
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import set_single
from pkcs11_kmip_server.store import ObjectRecord, share_encoding
from pkcs11_kmip_server.templates import template_attributes


def requested_attributes(
    context: RequestContext,
    *,
    attributes: Attributes | None = None,
    template_attribute: TemplateAttribute | None = None,
) -> Attributes:
    """The attributes a creating request asks for, in the canonical form, checked."""
    if attributes is not None:
        requested = Attributes(entries=list(attributes.entries))
    elif template_attribute is not None:
        requested = template_attributes(context, template_attribute)
    else:
        requested = Attributes()
    rules.check_client_settable(requested)
    rules.check_single_valued(requested)
    return requested


def key_block_of(material: Structure | None) -> KeyBlock | None:
    block = getattr(material, "key_block", None)
    return block if isinstance(block, KeyBlock) else None


def digest_of(material: Structure | None) -> Digest | None:
    """SHA-256 over the object's value as stored (KMIP 2.1 §4.18)."""
    value: bytes | None = None
    key_format: KeyFormatType | None = None
    block = key_block_of(material)
    if (
        block is not None
        and isinstance(block.key_value, KeyValue)
        and isinstance(block.key_value.key_material, bytes)
    ):
        value, key_format = block.key_value.key_material, block.key_format_type
    elif isinstance(material, Certificate):
        value = material.certificate_value
    elif isinstance(material, OpaqueObject):
        value = material.opaque_data_value
    if value is None:
        return None
    return Digest(
        hashing_algorithm=_SHA_256,
        digest_value=hashlib.sha256(value).digest(),
        key_format_type=key_format,
    )


def new_uid() -> str:
    """A time-ordered (version 7, RFC 9562) UUID as text: the Unix time in milliseconds,
    then 74 random bits. New objects' uids then sort after older ones, so the store's uid
    index grows at its end: a Create dirties the same last leaf as the others of its group
    instead of a random page of a large index (fewer pages written per COMMIT). The
    random bits keep uids unguessable; what they reveal is the creation time, to the
    millisecond, which the object's Initial Date already tells whoever may see it."""
    raw = bytearray((time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = raw[6] & 0x0F | 0x70  # the version, 7
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 9562 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def new_record(
    context: RequestContext,
    object_type: ObjectType,
    material: Structure | None,
    requested: Attributes,
    generated: bool = False,
) -> ObjectRecord:
    """A new object of the caller's, with the server-set attributes added to `requested`.

    `generated`: the server made the key material (Create, Create Key Pair, Re-key),
    so the object records the random number generator (KMIP 2.1 §4.46).
    """
    uid = new_uid()
    now = context.now
    given = {tag: value for tag, value in reversed(requested.entries)}  # each attribute's first value
    entries = [
        _new(AttributeEntry, (_UNIQUE_IDENTIFIER, uid)),
        _new(AttributeEntry, (_SHORT_UNIQUE_IDENTIFIER, hashlib.sha256(uid.encode()).digest())),
        _OBJECT_TYPE_ENTRIES.get(object_type) or _new(AttributeEntry, (_OBJECT_TYPE, object_type)),
    ]
    block = key_block_of(material)
    if block is not None:
        if block.cryptographic_algorithm is not None and given.get(_ALGORITHM) is None:
            entries.append(_new(AttributeEntry, (_ALGORITHM, block.cryptographic_algorithm)))
        if block.cryptographic_length is not None and given.get(_LENGTH) is None:
            entries.append(_new(AttributeEntry, (_LENGTH, block.cryptographic_length)))
        if block.key_format_type is not None:
            entries.append(_new(AttributeEntry, (_KEY_FORMAT_TYPE, block.key_format_type)))
    elif isinstance(material, Certificate) and given.get(_KEY_FORMAT_TYPE) is None:
        # Every object has a Key Format Type in KMIP 2.x; a certificate's is X.509 (2.1 §4.26's
        # table of defaults; TC-ECC-3-20 lists it). 1.x clients never see it (a key block field there).
        entries.append(_X_509_FORMAT)
    # A new object has lost no instance yet: the record of vacated 1.x Attribute Indexes of an
    # object whose attributes it takes (Re-key's existing key) is not its own.
    if rules.VACATED_INDEXES in given:
        entries.extend(entry for entry in requested if entry.tag != rules.VACATED_INDEXES)
    else:
        entries.extend(requested.entries)
    digest = digest_of(material)
    if digest is not None:
        entries.append(_new(AttributeEntry, (_DIGEST, digest)))
    entries.append(_PRE_ACTIVE)
    entries.extend([_new(AttributeEntry, (tag, now)) for tag in _CREATION_DATES])
    # Every object has the four flags (as AKLC-O-1 and TC-CERTATTR-1 show for public
    # keys and certificates), so PKCS#11 CKA_SENSITIVE/CKA_EXTRACTABLE always map.
    sensitive = given.get(_SENSITIVE)
    extractable = given.get(_EXTRACTABLE)
    if sensitive is None:
        entries.append(_NOT_SENSITIVE)
    if extractable is None:
        entries.append(_EXTRACTABLE_ENTRY)
    entries.append(_ALWAYS_SENSITIVE[bool(sensitive)])
    entries.append(_NEVER_EXTRACTABLE[extractable is False])
    if given.get(_FRESH) is None:  # a client may set it initially (BL-M-13-21)
        entries.append(_FRESH_ENTRY)
    if generated and given.get(_RANDOM_NUMBER_GENERATOR) is None:
        entries.append(_SERVER_RNG_ENTRY)
    attributes = Attributes(entries=entries)
    if given.get(_QUANTUM_SAFE) is True and not quantum_safe(attributes):
        raise KmipError(ResultReason.GENERAL_FAILURE, "NOT_SAFE: the key is not quantum safe")
    if given.get(_PROTECTION_STORAGE_MASK) is None:  # 2.x only; where the store keeps it
        entries.append(_SOFTWARE_STORAGE)
    policy.check_new(context, object_type, attributes)
    return ObjectRecord(uid, object_type, context.principal, attributes, material)


# The operating system's CSPRNG (Python's secrets; OpenSSL's DRBG for key pairs): no
# one NIST algorithm to name, which the spec says to record as Unspecified.
SERVER_RNG = RandomNumberGenerator(rng_algorithm=RNGAlgorithm.UNSPECIFIED)
share_encoding(SERVER_RNG)  # never changed: the store's column for it encodes it once

# What new_record needs, made once. An entry is an immutable (tag, value) pair, so new
# objects share those whose value is the same for all (enumerations, flags, the RNG), and
# it makes the others with tuple.__new__ rather than the NamedTuple's Python-level
# __new__; the tags are read once here, not through the Enum class's (slow) attribute
# lookup at every use: a Create makes about twenty entries.
_new = tuple.__new__
_UNIQUE_IDENTIFIER = Tag.UNIQUE_IDENTIFIER
_SHORT_UNIQUE_IDENTIFIER = Tag.SHORT_UNIQUE_IDENTIFIER
_OBJECT_TYPE = Tag.OBJECT_TYPE
_ALGORITHM = Tag.CRYPTOGRAPHIC_ALGORITHM
_LENGTH = Tag.CRYPTOGRAPHIC_LENGTH
_KEY_FORMAT_TYPE = Tag.KEY_FORMAT_TYPE
_DIGEST = Tag.DIGEST
_SHA_256 = HashingAlgorithm.SHA_256
_SENSITIVE = Tag.SENSITIVE
_EXTRACTABLE = Tag.EXTRACTABLE
_FRESH = Tag.FRESH
_RANDOM_NUMBER_GENERATOR = Tag.RANDOM_NUMBER_GENERATOR
_QUANTUM_SAFE = Tag.QUANTUM_SAFE
_PROTECTION_STORAGE_MASK = Tag.PROTECTION_STORAGE_MASK
_CREATION_DATES = (Tag.INITIAL_DATE, Tag.LAST_CHANGE_DATE, Tag.ORIGINAL_CREATION_DATE)
_OBJECT_TYPE_ENTRIES = {kind: AttributeEntry(Tag.OBJECT_TYPE, kind) for kind in ObjectType}
_X_509_FORMAT = AttributeEntry(Tag.KEY_FORMAT_TYPE, KeyFormatType.X_509)
_PRE_ACTIVE = AttributeEntry(Tag.STATE, State.PRE_ACTIVE)
_NOT_SENSITIVE = AttributeEntry(Tag.SENSITIVE, False)
_EXTRACTABLE_ENTRY = AttributeEntry(Tag.EXTRACTABLE, True)
_ALWAYS_SENSITIVE = {flag: AttributeEntry(Tag.ALWAYS_SENSITIVE, flag) for flag in (False, True)}
_NEVER_EXTRACTABLE = {flag: AttributeEntry(Tag.NEVER_EXTRACTABLE, flag) for flag in (False, True)}
_FRESH_ENTRY = AttributeEntry(Tag.FRESH, True)
_SERVER_RNG_ENTRY = AttributeEntry(Tag.RANDOM_NUMBER_GENERATOR, SERVER_RNG)
_SOFTWARE_STORAGE = AttributeEntry(Tag.PROTECTION_STORAGE_MASK, ProtectionStorageMask.SOFTWARE)

# Symmetric algorithms that keep a useful margin against Grover's search at 256 bits.
_QUANTUM_SAFE_SYMMETRIC = frozenset(
    {CryptographicAlgorithm.AES, CryptographicAlgorithm.CAMELLIA, CryptographicAlgorithm.CHACHA20}
)


def quantum_safe(attributes: Attributes) -> bool:
    """Whether the object's algorithm resists a quantum adversary: 256-bit symmetric keys
    and HMAC keys of 256 bits or more; no RSA, EC or (EC)DH key does."""
    algorithm = attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) or 0
    if algorithm in _QUANTUM_SAFE_SYMMETRIC:
        return bool(length >= 256)
    return algorithm is not None and algorithm.name.startswith("HMAC_SHA") and length >= 256


def place_digest(attributes: Attributes, digest: Digest) -> None:
    """Add the Digest of a key whose value came after its record (made from a placeholder
    block, as key pairs are), where new_record puts it: before the State."""
    at = next(
        (i for i, (tag, _) in enumerate(attributes.entries) if tag == Tag.STATE), len(attributes.entries)
    )
    attributes.entries.insert(at, AttributeEntry(Tag.DIGEST, digest))


def require_material(record: ObjectRecord) -> Structure:
    """The object's value, or Object Destroyed once Destroy has removed it."""
    if record.material is None:
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"the value of {record.uid} was destroyed")
    return record.material


def touch(record: ObjectRecord, now: datetime) -> None:
    """Record a change (Last Change Date) before saving."""
    set_single(record.attributes, Tag.LAST_CHANGE_DATE, now)
