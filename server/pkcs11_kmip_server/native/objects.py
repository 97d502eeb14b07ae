"""KMIP managed objects as Cryptoki objects, and Cryptoki templates as KMIP attributes.

The tables say what maps to what (docs/native-token.md); the functions are generic
over them. Values are in the wire codec's native form: a CK_ULONG attribute is
sizeof(CK_ULONG) bytes in host order, a CK_BBOOL one byte.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from pkcs11_kmip.cryptoki.constants import CKA, CKK, CKM, CKO, CKR, UNAVAILABLE
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import NATIVE_ULONG
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.objects import Certificate, KeyValue, OpaqueObject
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicDomainParameters,
    CryptographicParameters,
    Link,
    Name,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CertificateType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    LinkType,
    NameType,
    ObjectType,
    RecommendedCurve,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.generic_secret import KEY_TYPE_ATTRIBUTE, is_generic_secret, vendor_attribute
from pkcs11_kmip_server.native import mechanisms, storage_flags
from pkcs11_kmip_server.native.constants import (
    CKC_X_509,
    CKO_CERTIFICATE,
    CKO_DATA,
    MoreCKA,
    MoreCKK,
    MoreCKM,
)
from pkcs11_kmip_server.objects import key_block_of
from pkcs11_kmip_server.store import ObjectRecord

A = CryptographicAlgorithm
U = CryptographicUsageMask
X_509 = CertificateType.X_509

CLASSES: dict[ObjectType, int] = {
    ObjectType.SYMMETRIC_KEY: CKO.SECRET_KEY,
    ObjectType.PRIVATE_KEY: CKO.PRIVATE_KEY,
    ObjectType.PUBLIC_KEY: CKO.PUBLIC_KEY,
    ObjectType.CERTIFICATE: CKO_CERTIFICATE,
    # Data objects: KMIP's two kinds of bytes that are no key (docs/native-token.md).
    ObjectType.SECRET_DATA: CKO_DATA,
    ObjectType.OPAQUE_OBJECT: CKO_DATA,
}
OBJECT_TYPES: dict[int, tuple[ObjectType, ...]] = {
    cko: tuple(object_type for object_type, shown in CLASSES.items() if shown == cko)
    for cko in set(CLASSES.values())
}

KEY_TYPES: dict[CryptographicAlgorithm, int] = {
    A.AES: CKK.AES,
    A.DES3: CKK.DES3,
    A.RSA: CKK.RSA,
    A.EC: CKK.EC,
    A.ECDSA: CKK.EC,
    A.HMAC_SHA1: CKK.SHA_1_HMAC,
    A.HMAC_SHA224: CKK.SHA224_HMAC,
    A.HMAC_SHA256: CKK.SHA256_HMAC,
    A.HMAC_SHA384: CKK.SHA384_HMAC,
    A.HMAC_SHA512: CKK.SHA512_HMAC,
    A.HMAC_SHA3_224: MoreCKK.SHA3_224_HMAC,
    A.HMAC_SHA3_256: MoreCKK.SHA3_256_HMAC,
    A.HMAC_SHA3_384: MoreCKK.SHA3_384_HMAC,
    A.HMAC_SHA3_512: MoreCKK.SHA3_512_HMAC,
    A.ED25519: MoreCKK.EC_EDWARDS,
    A.ED448: MoreCKK.EC_EDWARDS,
    A.CHACHA20: MoreCKK.CHACHA20,
    A.CHACHA20_POLY1305: MoreCKK.CHACHA20,  # the same 32-byte key (crypto.mechanisms.KEY_SHARING)
}
# The KMIP algorithm of a secret key of each type the token makes. KMIP has no generic
# secret: a CKK_GENERIC_SECRET key is an HMAC-SHA256 key (the server's HMAC keys name their
# hash), marked with the vendor attribute KEY_TYPE_ATTRIBUTE so that it reads back as one.
SECRET_ALGORITHMS: dict[int, CryptographicAlgorithm] = {
    CKK.AES: A.AES,
    CKK.DES3: A.DES3,
    MoreCKK.DES2: A.DES3,  # two keys, 128 bits with parity (is_two_key)
    MoreCKK.GENERIC_SECRET: A.HMAC_SHA256,
    MoreCKK.CHACHA20: A.CHACHA20,
    MoreCKK.AES_XTS: A.AES,  # two AES keys, 256 or 512 bits, named for XTS (is_xts)
    **{ckk: algorithm for algorithm, ckk in KEY_TYPES.items() if algorithm.name.startswith("HMAC_")},
}

# CKA_<flag> <-> a Cryptographic Usage Mask bit.
USAGE: dict[CKA, CryptographicUsageMask] = {
    CKA.ENCRYPT: U.ENCRYPT,
    CKA.DECRYPT: U.DECRYPT,
    CKA.WRAP: U.WRAP_KEY,
    CKA.UNWRAP: U.UNWRAP_KEY,
    CKA.SIGN: U.SIGN,
    CKA.VERIFY: U.VERIFY,
    CKA.DERIVE: U.DERIVE_KEY,
}
# A secret key signs and verifies as KMIP MAC / MAC Verify (HMAC, CMAC): CKA_SIGN, CKA_VERIFY show
# those bits too, and a secret key's template sets them (not Sign/Verify, which no secret key does).
MAC_USAGE: dict[CKA, CryptographicUsageMask] = {CKA.SIGN: U.MAC_GENERATE, CKA.VERIFY: U.MAC_VERIFY}
SECRET_USAGE: dict[CKA, CryptographicUsageMask] = {**USAGE, **MAC_USAGE}

# The usage a generated key gets for the flags its template leaves out.
_MACS = frozenset({CKA.SIGN, CKA.VERIFY})
DEFAULT_USAGE: dict[tuple[CKO, int], frozenset[CKA]] = {
    (CKO.SECRET_KEY, CKK.AES): frozenset({CKA.ENCRYPT, CKA.DECRYPT, CKA.WRAP, CKA.UNWRAP}),
    (CKO.SECRET_KEY, CKK.DES3): frozenset({CKA.ENCRYPT, CKA.DECRYPT}),
    (CKO.SECRET_KEY, MoreCKK.DES2): frozenset({CKA.ENCRYPT, CKA.DECRYPT}),
    (CKO.SECRET_KEY, MoreCKK.CHACHA20): frozenset({CKA.ENCRYPT, CKA.DECRYPT}),
    (CKO.SECRET_KEY, MoreCKK.AES_XTS): frozenset({CKA.ENCRYPT, CKA.DECRYPT}),
    **{(CKO.SECRET_KEY, ckk): _MACS for ckk, a in SECRET_ALGORITHMS.items() if a.name.startswith("HMAC_")},
    (CKO.PRIVATE_KEY, MoreCKK.EC_EDWARDS): frozenset({CKA.SIGN}),
    (CKO.PUBLIC_KEY, MoreCKK.EC_EDWARDS): frozenset({CKA.VERIFY}),
    (CKO.PRIVATE_KEY, CKK.RSA): frozenset({CKA.SIGN, CKA.DECRYPT, CKA.UNWRAP}),
    (CKO.PUBLIC_KEY, CKK.RSA): frozenset({CKA.VERIFY, CKA.ENCRYPT, CKA.WRAP}),
    (CKO.PRIVATE_KEY, CKK.EC): frozenset({CKA.SIGN}),
    (CKO.PRIVATE_KEY, MoreCKK.EC_MONTGOMERY): frozenset({CKA.DERIVE}),  # all it does
    (CKO.PUBLIC_KEY, CKK.EC): frozenset({CKA.VERIFY}),
}

# CKA_EC_PARAMS (the DER of the curve's OID) <-> Recommended Curve.
CURVES: dict[bytes, RecommendedCurve] = {
    bytes.fromhex("06082a8648ce3d030107"): RecommendedCurve.P_256,
    bytes.fromhex("06052b81040022"): RecommendedCurve.P_384,
    bytes.fromhex("06052b81040023"): RecommendedCurve.P_521,
}
CURVE_PARAMS = {curve: der for der, curve in CURVES.items()}
# CKA_EC_PARAMS of an Edwards key (PKCS#11 3.0 §2.3.5): the curve's name as a DER
# PrintableString, the RFC 8410 OID, or (OpenSC's pkcs11-tool before 0.24) GnuPG's
# Ed25519 OID. The token shows the RFC 8410 OID.
EDWARDS_CURVES: dict[bytes, CryptographicAlgorithm] = {
    b"\x13\x0cedwards25519": A.ED25519,
    b"\x13\x0aedwards448": A.ED448,
    bytes.fromhex("06032b6570"): A.ED25519,
    bytes.fromhex("06032b6571"): A.ED448,
    bytes.fromhex("06092b06010401da470f01"): A.ED25519,
}
EDWARDS_PARAMS = {A.ED25519: bytes.fromhex("06032b6570"), A.ED448: bytes.fromhex("06032b6571")}
# CKA_EC_PARAMS of a Montgomery key (X25519, X448): the curve's name as a PrintableString,
# the RFC 8410 OID (1.3.101.110/111), which the token shows, GnuPG's Curve25519 OID, or what
# OpenSC's pkcs11-tool 0.23 sends for EC:curve25519 (the name with a length one too long).
# KMIP: ECDH on Curve25519/Curve448.
MONTGOMERY_CURVES: dict[bytes, RecommendedCurve] = {
    b"\x13\x0acurve25519": RecommendedCurve.CURVE25519,
    b"\x13\x08curve448": RecommendedCurve.CURVE448,
    bytes.fromhex("06032b656e"): RecommendedCurve.CURVE25519,
    bytes.fromhex("06032b656f"): RecommendedCurve.CURVE448,
    bytes.fromhex("060a2b060104019755010501"): RecommendedCurve.CURVE25519,  # GnuPG's
    b"\x13\x0bcurve25519": RecommendedCurve.CURVE25519,  # OpenSC 0.23's (its length says 11)
}
MONTGOMERY_PARAMS = {
    RecommendedCurve.CURVE25519: bytes.fromhex("06032b656e"),
    RecommendedCurve.CURVE448: bytes.fromhex("06032b656f"),
}
MONTGOMERY_ALGORITHMS = frozenset({A.ECDH, A.EC})

KEY_GEN_MECHANISMS: dict[int, int] = {
    CKK.AES: CKM.AES_KEY_GEN,
    CKK.DES3: MoreCKM.DES3_KEY_GEN,
    MoreCKK.DES2: MoreCKM.DES2_KEY_GEN,
    MoreCKK.CHACHA20: MoreCKM.CHACHA20_KEY_GEN,
    MoreCKK.AES_XTS: MoreCKM.AES_XTS_KEY_GEN,
    CKK.RSA: CKM.RSA_PKCS_KEY_PAIR_GEN,
    CKK.EC: CKM.EC_KEY_PAIR_GEN,
    MoreCKK.EC_EDWARDS: MoreCKM.EC_EDWARDS_KEY_PAIR_GEN,
    MoreCKK.EC_MONTGOMERY: MoreCKM.EC_MONTGOMERY_KEY_PAIR_GEN,
    **{
        ckk: MoreCKM.GENERIC_SECRET_KEY_GEN
        for ckk, a in SECRET_ALGORITHMS.items()
        if a.name.startswith("HMAC_")
    },
}

ID_BYTES = 8
"""CKA_ID: the first bytes of SHA-256 over the private (or secret) key's Unique Identifier."""
ID_ATTRIBUTE = ("x", "pkcs11-id")
"""A CKA_ID the application chose: the vendor attribute "x" "pkcs11-id" (1.x: x-pkcs11-id)."""
MAX_ID_BYTES = 255


class Sensitive(Exception):
    """The attribute exists but may not be revealed (CKR_ATTRIBUTE_SENSITIVE)."""


def ulong(value: int) -> bytes:
    return value.to_bytes(NATIVE_ULONG, sys.byteorder)


def bbool(value: object) -> bytes:
    return b"\x01" if value else b"\x00"


def read_ulong(attribute: CkAttribute) -> int:
    if not isinstance(attribute.value, bytes) or len(attribute.value) != NATIVE_ULONG:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"attribute 0x{attribute.type:X} is a CK_ULONG")
    return int.from_bytes(attribute.value, sys.byteorder)


def read_bool(attribute: CkAttribute) -> bool:
    if not isinstance(attribute.value, bytes) or len(attribute.value) != 1:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"attribute 0x{attribute.type:X} is a CK_BBOOL")
    return attribute.value != b"\x00"


def der_octet_string(data: bytes) -> bytes:
    """CKA_EC_POINT: the point in a DER OCTET STRING."""
    size = len(data)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x80 | ((size.bit_length() + 7) // 8)])
        + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return b"\x04" + length + data


# --- a managed object, seen as a Cryptoki object ------------------------------------------


def object_class(record: ObjectRecord) -> int | None:
    """The CKO_* of a record the token shows (None: not shown: another type, a key of an
    unknown algorithm, a certificate that is not X.509)."""
    cko = CLASSES.get(record.object_type)
    if cko == CKO_CERTIFICATE:
        certificate = record.material
        return cko if isinstance(certificate, Certificate) and certificate.certificate_type is X_509 else None
    if cko == CKO_DATA:
        return cko
    if cko is None or key_type(record) is None:
        return None
    return cko


def key_type(record: ObjectRecord) -> int | None:
    """CKA_KEY_TYPE: from the Cryptographic Algorithm, or the type the token marked (generic secrets)."""
    algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    if is_generic_secret(record):
        return MoreCKK.GENERIC_SECRET
    if algorithm is A.AES and is_xts(record):
        return MoreCKK.AES_XTS
    if algorithm is A.DES3 and is_two_key(record):
        return MoreCKK.DES2
    if algorithm in MONTGOMERY_ALGORITHMS and _named_curve(record) in MONTGOMERY_PARAMS:
        return MoreCKK.EC_MONTGOMERY
    return KEY_TYPES.get(algorithm)


TWO_KEY_BITS = 128
"""The longest two-key 3DES key: 16 bytes, parity bits counted."""

XTS = CryptographicParameters(block_cipher_mode=BlockCipherMode.XTS)
"""The Cryptographic Parameters of an AES-XTS key (KMIP's AX profile: an AES key named for XTS)."""


def is_xts(record: ObjectRecord) -> bool:
    """Whether an AES key is an AES-XTS key (CKK_AES_XTS): 512 bits (two AES-256 keys; no
    AES key is that long), or Cryptographic Parameters that name XTS (as KMIP's AX profile
    and the token make them)."""
    if record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 8 * max(mechanisms.XTS_BYTES):
        return True
    return any(
        isinstance(p, CryptographicParameters) and p.block_cipher_mode is BlockCipherMode.XTS
        for p in record.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS)
    )


def is_two_key(record: ObjectRecord) -> bool:
    """Whether a 3DES key is a two-key one (CKK_DES2): 112 bits, or 128 with the parity bits
    (KMIP counts either way; the server's 3DES takes both, as K1 K2 K1)."""
    length = record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    return isinstance(length, int) and length <= TWO_KEY_BITS


def _named_curve(record: ObjectRecord) -> RecommendedCurve | None:
    domain = record.attributes.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
    return domain.recommended_curve if isinstance(domain, CryptographicDomainParameters) else None


def montgomery_curve(record: ObjectRecord) -> RecommendedCurve | None:
    """The curve of an X25519/X448 key (None: not one)."""
    return _named_curve(record) if key_type(record) == MoreCKK.EC_MONTGOMERY else None


SESSION_MARK = "\x1fsession-objects\x1f"
"""In the owner of session objects (CKA_TOKEN=FALSE): the client's name, this mark and a
random tail. No certificate names a client so, so no KMIP client owns or sees them."""


def is_session_object(record: ObjectRecord) -> bool:
    return SESSION_MARK in record.owner


PRIVATE_ATTRIBUTE = ("x", "pkcs11-private")
"""CKA_PRIVATE FALSE of a data object: the vendor attribute "x" "pkcs11-private" (Boolean)."""
APPLICATION_ATTRIBUTE = ("x", "pkcs11-application")
"""A data object's CKA_APPLICATION: the vendor attribute "x" "pkcs11-application" (Text String)."""
OBJECT_ID_ATTRIBUTE = ("x", "pkcs11-object-id")
"""A data object's CKA_OBJECT_ID (a DER OID): the vendor attribute "x" "pkcs11-object-id" (Byte String)."""


def is_private(record: ObjectRecord) -> bool:
    """CKA_PRIVATE: keys that are secret need a login to be seen; public keys and
    certificates do not. A data object is private unless its vendor attribute says not
    (C_CreateObject with CKA_PRIVATE FALSE): Secret Data is secret, and KMIP says nothing."""
    if CLASSES.get(record.object_type) == CKO_DATA:
        return _vendor_value(record, PRIVATE_ATTRIBUTE) is not False
    return record.object_type not in (ObjectType.PUBLIC_KEY, ObjectType.CERTIFICATE)


def _vendor_value(record: ObjectRecord, name: tuple[str, str]) -> object:
    """The value of one of the token's vendor attributes (None: the object has none)."""
    entry = vendor_attribute(record, name)
    value = entry.attribute_value if entry is not None else None
    return value.value if isinstance(value, Item) else None


def linked(record: ObjectRecord, link_type: LinkType) -> str | None:
    for link in record.attributes.get_all(Tag.LINK):
        if (
            isinstance(link, Link)
            and link.link_type is link_type
            and isinstance(link.linked_object_identifier, str)
        ):
            return link.linked_object_identifier
    return None


def id_attribute(record: ObjectRecord) -> Attribute | None:
    """The vendor attribute holding the CKA_ID the application chose, if it chose one."""
    entry = vendor_attribute(record, ID_ATTRIBUTE)
    if (
        entry is not None
        and isinstance(entry.attribute_value, Item)
        and isinstance(entry.attribute_value.value, bytes)
    ):
        return entry
    return None


def vendor_entry(name: tuple[str, str], kind: ItemType, value: int | bytes | str) -> AttributeEntry:
    """One of the token's vendor attributes (CKA_ID, the generic secret mark, a data object's), to add."""
    vendor, attribute_name = name
    item = Item(Tag.ATTRIBUTE_VALUE, kind, value)
    return AttributeEntry(
        Tag.ATTRIBUTE,
        Attribute(vendor_identification=vendor, attribute_name=attribute_name, attribute_value=item),
    )


def id_entry(key_id: bytes) -> AttributeEntry:
    return vendor_entry(ID_ATTRIBUTE, ItemType.BYTE_STRING, key_id)


def name_entry(label: str) -> AttributeEntry:
    return AttributeEntry(Tag.NAME, Name(name_value=label, name_type=NameType.UNINTERPRETED_TEXT_STRING))


def parse_id(entry: CkAttribute) -> bytes:
    """A CKA_ID of 0 to 255 bytes. Empty is allowed: python-pkcs11's default templates send
    one, and SoftHSM2 keeps it and reads it back empty, as the token does (an object without
    a CKA_ID in its template gets the derived one, object_id)."""
    if entry.value is None:
        return b""
    if not isinstance(entry.value, bytes) or len(entry.value) > MAX_ID_BYTES:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"CKA_ID is at most {MAX_ID_BYTES} bytes")
    return entry.value


def object_id(record: ObjectRecord) -> bytes:
    """CKA_ID: the one the application gave (a vendor attribute), else one derived from the
    Unique Identifier: stable and short, the same for both halves of a key pair."""
    chosen = id_attribute(record)
    if chosen is not None:
        assert isinstance(chosen.attribute_value, Item) and isinstance(chosen.attribute_value.value, bytes)
        return chosen.attribute_value.value
    uid = record.uid
    if record.object_type is ObjectType.PUBLIC_KEY:
        uid = linked(record, LinkType.PRIVATE_KEY_LINK) or uid
    return hashlib.sha256(uid.encode()).digest()[:ID_BYTES]


def own_label(record: ObjectRecord) -> str | None:
    name = record.attributes.get(Tag.NAME)
    return name.name_value if isinstance(name, Name) else None


def _public_key(record: ObjectRecord) -> object:
    """The public half of an asymmetric key (KeyError: the object has none)."""
    block = key_block_of(record.material)
    if block is None or record.object_type not in (ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY):
        raise KeyError("a public key")
    # (Imported here: the HSM key store's modules import this one.)
    from pkcs11_kmip_server.hsm_store.hooks import public_key_in_token

    try:
        held = public_key_in_token(record)  # a private key the HSM key store holds: from its token
        if held is not None:
            return held
        key = formats.load_key(block, record.object_type is ObjectType.PRIVATE_KEY)
    except KmipError as error:  # a form this server reads but cannot turn into a key
        raise KeyError("a public key") from error
    return key.public_key() if record.object_type is ObjectType.PRIVATE_KEY else key  # type: ignore[union-attr]


def curve_of(record: ObjectRecord) -> RecommendedCurve | None:
    """The curve of an EC key (None: not an EC key, or a curve the token does not know)."""
    if key_type(record) is not CKK.EC:
        return None
    try:
        curve = _curve(record)
    except KeyError:
        return None
    return curve if curve in CURVE_PARAMS else None


def _curve(record: ObjectRecord) -> RecommendedCurve | None:
    domain = record.attributes.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
    if isinstance(domain, CryptographicDomainParameters) and domain.recommended_curve is not None:
        return domain.recommended_curve
    key = _public_key(record)
    return formats.curve_of(key) if isinstance(key, ec.EllipticCurvePublicKey) else None


def _value(record: ObjectRecord) -> bytes:
    attributes = record.attributes
    if attributes.get(Tag.SENSITIVE) or attributes.get(Tag.EXTRACTABLE) is False:
        raise Sensitive
    if record.object_type is not ObjectType.SYMMETRIC_KEY:
        raise Sensitive  # private key components are not given out by this token
    block = key_block_of(record.material)
    assert block is not None
    return formats.symmetric_key_bytes(block)


def _modulus(record: ObjectRecord, part: str) -> bytes:
    key = _public_key(record)
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyError(part)
    number = getattr(key.public_numbers(), part)
    return int(number).to_bytes((int(number).bit_length() + 7) // 8, "big")


def _ec_point(record: ObjectRecord) -> bytes:
    """An EC public key's uncompressed point, an Edwards key's RFC 8032 encoding (32 or 57
    bytes), in a DER OCTET STRING."""
    if record.object_type is not ObjectType.PUBLIC_KEY:
        raise KeyError("CKA_EC_POINT")
    key = _public_key(record)
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    elif isinstance(
        key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | x25519.X25519PublicKey | x448.X448PublicKey
    ):
        point = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise KeyError("CKA_EC_POINT")
    return der_octet_string(point)


def _ec_params(record: ObjectRecord) -> bytes:
    if key_type(record) == MoreCKK.EC_EDWARDS:
        return EDWARDS_PARAMS[record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)]
    montgomery = montgomery_curve(record)
    if montgomery is not None:
        return MONTGOMERY_PARAMS[montgomery]
    curve = _curve(record) if key_type(record) is CKK.EC else None
    if curve not in CURVE_PARAMS:
        raise KeyError("CKA_EC_PARAMS")
    return CURVE_PARAMS[curve]


def _date(tag: int) -> Callable[[ObjectRecord, str | None], bytes]:
    def value(record: ObjectRecord, label: str | None) -> bytes:
        when = record.attributes.get(tag)
        return when.strftime("%Y%m%d").encode() if when is not None else b""

    return value


def _usage(flag: CKA) -> Callable[[ObjectRecord, str | None], bytes]:
    return lambda record, label: bbool(
        int(record.attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) or 0) & (USAGE[flag] | MAC_USAGE.get(flag, 0))
    )


def _only_for(cko: CKO, read: Callable[[ObjectRecord], bytes]) -> Callable[[ObjectRecord, str | None], bytes]:
    def value(record: ObjectRecord, label: str | None) -> bytes:
        if CLASSES[record.object_type] != cko:
            raise KeyError(cko.name)
        return read(record)

    return value


def _key_gen_mechanism(record: ObjectRecord, label: str | None) -> bytes:
    kind = key_type(record)
    if record.attributes.get(Tag.RANDOM_NUMBER_GENERATOR) is None or kind not in KEY_GEN_MECHANISMS:
        return ulong(UNAVAILABLE & (2 ** (8 * NATIVE_ULONG) - 1))
    return ulong(KEY_GEN_MECHANISMS[kind])


def _value_len(record: ObjectRecord) -> bytes:
    return ulong((record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) or 0) // 8)


def _modulus_bits(record: ObjectRecord, label: str | None) -> bytes:
    if key_type(record) is not CKK.RSA:
        raise KeyError("CKA_MODULUS_BITS")
    return ulong(record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) or 0)


def _certificate_value(record: ObjectRecord) -> bytes:
    certificate = record.material
    assert isinstance(certificate, Certificate) and certificate.certificate_value is not None
    return certificate.certificate_value


def _certificate_field(tag: Tag, field: str) -> Callable[[ObjectRecord, str | None], bytes]:
    """CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER: the DER the server read out of the certificate."""

    def value(record: ObjectRecord, label: str | None) -> bytes:
        structure = record.attributes.get(tag)
        found = getattr(structure, field, None) if structure is not None else None
        return found if isinstance(found, bytes) else b""

    return value


RSA_PRIVATE_COMPONENTS = (
    MoreCKA.PRIVATE_EXPONENT,
    MoreCKA.PRIME_1,
    MoreCKA.PRIME_2,
    MoreCKA.EXPONENT_1,
    MoreCKA.EXPONENT_2,
    MoreCKA.COEFFICIENT,
)


def _private_component(record: ObjectRecord, label: str | None) -> bytes:
    """CKA_PRIVATE_EXPONENT, CKA_PRIME_1 ...: an RSA private key has them, never given out."""
    if record.object_type is ObjectType.PRIVATE_KEY and key_type(record) is CKK.RSA:
        raise Sensitive
    raise KeyError("an RSA private key component")


Reader = Callable[[ObjectRecord, str | None], bytes]


def _storage_flag(which: CKA) -> Reader:
    return lambda record, label: bbool(storage_flags.flag(record, which))


# What every object answers: storage attributes (PKCS#11 3.0 §4.4).
_STORAGE: dict[int, Reader] = {
    CKA.CLASS: lambda record, label: ulong(CLASSES[record.object_type]),
    CKA.TOKEN: lambda record, label: bbool(not is_session_object(record)),
    CKA.PRIVATE: lambda record, label: bbool(is_private(record)),
    CKA.LABEL: lambda record, label: (label or "").encode(),
    CKA.ID: lambda record, label: object_id(record),
    **{which: _storage_flag(which) for which in storage_flags.NAMES},
}

# A certificate's attributes (X.509 only).
CERTIFICATE_READERS: dict[int, Reader] = {
    **_STORAGE,
    MoreCKA.CERTIFICATE_TYPE: lambda record, label: ulong(CKC_X_509),
    MoreCKA.TRUSTED: lambda record, label: bbool(False),
    MoreCKA.CERTIFICATE_CATEGORY: lambda record, label: ulong(0),
    CKA.VALUE: lambda record, label: _certificate_value(record),
    MoreCKA.SUBJECT: _certificate_field(Tag.X_509_CERTIFICATE_SUBJECT, "subject_distinguished_name"),
    MoreCKA.ISSUER: _certificate_field(Tag.X_509_CERTIFICATE_ISSUER, "issuer_distinguished_name"),
    MoreCKA.SERIAL_NUMBER: _certificate_field(Tag.X_509_CERTIFICATE_IDENTIFIER, "certificate_serial_number"),
}


def data_bytes(record: ObjectRecord) -> bytes:
    """A data object's bytes: an Opaque Object's value, Secret Data's key material
    (KeyError: wrapped, which the token cannot show)."""
    material = record.material
    if isinstance(material, OpaqueObject) and material.opaque_data_value is not None:
        return material.opaque_data_value
    block = key_block_of(material)
    value = block.key_value if block is not None and block.key_wrapping_data is None else None
    if isinstance(value, KeyValue) and isinstance(value.key_material, bytes):
        return value.key_material
    raise KeyError("CKA_VALUE")


def _data_value(record: ObjectRecord, label: str | None) -> bytes:
    """CKA_VALUE of a data object: refused as a key's is when it is Sensitive or not Extractable."""
    if record.attributes.get(Tag.SENSITIVE) or record.attributes.get(Tag.EXTRACTABLE) is False:
        raise Sensitive
    return data_bytes(record)


def _vendor_bytes(name: tuple[str, str], text: bool) -> Reader:
    def value(record: ObjectRecord, label: str | None) -> bytes:
        found = _vendor_value(record, name)
        if isinstance(found, str) and text:
            return found.encode()
        return found if isinstance(found, bytes) and not text else b""

    return value


# A data object's attributes (PKCS#11 3.0 §4.5: no CKA_ID).
DATA_READERS: dict[int, Reader] = {
    **{type_: reader for type_, reader in _STORAGE.items() if type_ != CKA.ID},
    MoreCKA.APPLICATION: _vendor_bytes(APPLICATION_ATTRIBUTE, text=True),
    MoreCKA.OBJECT_ID: _vendor_bytes(OBJECT_ID_ATTRIBUTE, text=False),
    CKA.VALUE: _data_value,
}

# Every attribute the token answers for a key, and how; anything else is CKR_ATTRIBUTE_TYPE_INVALID.
READERS: dict[int, Reader] = {
    **_STORAGE,
    CKA.KEY_TYPE: lambda record, label: ulong(key_type(record) or 0),
    CKA.LOCAL: lambda record, label: bbool(record.attributes.get(Tag.RANDOM_NUMBER_GENERATOR) is not None),
    CKA.KEY_GEN_MECHANISM: _key_gen_mechanism,
    CKA.SENSITIVE: lambda record, label: bbool(record.attributes.get(Tag.SENSITIVE)),
    CKA.EXTRACTABLE: lambda record, label: bbool(record.attributes.get(Tag.EXTRACTABLE) is not False),
    CKA.ALWAYS_SENSITIVE: lambda record, label: bbool(record.attributes.get(Tag.ALWAYS_SENSITIVE)),
    CKA.NEVER_EXTRACTABLE: lambda record, label: bbool(record.attributes.get(Tag.NEVER_EXTRACTABLE)),
    CKA.ALWAYS_AUTHENTICATE: _only_for(CKO.PRIVATE_KEY, lambda record: bbool(False)),
    CKA.SIGN_RECOVER: lambda record, label: bbool(False),
    MoreCKA.WRAP_WITH_TRUSTED: lambda record, label: bbool(False),  # no trusted keys: any wraps
    CKA.VERIFY_RECOVER: lambda record, label: bbool(False),
    CKA.START_DATE: _date(Tag.ACTIVATION_DATE),
    CKA.END_DATE: _date(Tag.DEACTIVATION_DATE),
    CKA.VALUE: lambda record, label: _value(record),
    CKA.VALUE_LEN: _only_for(CKO.SECRET_KEY, _value_len),
    CKA.MODULUS: lambda record, label: _modulus(record, "n"),
    CKA.PUBLIC_EXPONENT: lambda record, label: _modulus(record, "e"),
    CKA.MODULUS_BITS: _modulus_bits,
    CKA.EC_PARAMS: lambda record, label: _ec_params(record),
    CKA.EC_POINT: lambda record, label: _ec_point(record),
    **{component: _private_component for component in RSA_PRIVATE_COMPONENTS},
    **{flag: _usage(flag) for flag in USAGE},
}


_READERS_OF: dict[int | None, dict[int, Reader]] = {
    CKO_CERTIFICATE: CERTIFICATE_READERS,
    CKO_DATA: DATA_READERS,
}


def attribute(record: ObjectRecord, type_: int, label: str | None) -> bytes | None:
    """The value of one attribute (None: the object has no such attribute); Sensitive if hidden."""
    readers = _READERS_OF.get(CLASSES.get(record.object_type), READERS)
    reader = readers.get(type_)
    if reader is None:
        return None
    try:
        return reader(record, label)
    except KeyError:
        return None


def matches(record: ObjectRecord, template: tuple[CkAttribute, ...], label: str | None) -> bool:
    """Whether every attribute of a C_FindObjectsInit template has the given value."""
    for wanted in template:
        try:
            value = attribute(record, wanted.type, label)
        except Sensitive:
            return False
        if value is None or value != wanted.value:
            return False
    return True


# --- a template, as the KMIP attributes of a new key --------------------------------------


@dataclass
class KeyTemplate:
    """What a generation template asks for, checked."""

    label: str | None = None
    usage: int = 0
    sensitive: bool = True
    extractable: bool = False
    value_len: int | None = None
    modulus_bits: int | None = None
    curve: RecommendedCurve | None = None
    edwards: CryptographicAlgorithm | None = None  # CKA_EC_PARAMS of an Edwards key: Ed25519, Ed448
    key_id: bytes | None = None
    token: bool = False  # CKA_TOKEN: Cryptoki's default is a session object
    key_type: int | None = None  # the CKK_* the key is made as
    storage: dict[CKA, bool] = field(default_factory=dict)  # CKA_MODIFIABLE/COPYABLE/DESTROYABLE given


# Attributes a template may carry, per class, besides the usage flags.
_COMMON = frozenset(
    {CKA.CLASS, CKA.KEY_TYPE, CKA.TOKEN, CKA.PRIVATE, CKA.LABEL, CKA.ID, *storage_flags.NAMES}
)
ACCEPTED: dict[CKO, frozenset[int]] = {
    CKO.SECRET_KEY: _COMMON | {CKA.VALUE_LEN, CKA.SENSITIVE, CKA.EXTRACTABLE},
    CKO.PRIVATE_KEY: _COMMON | {CKA.SENSITIVE, CKA.EXTRACTABLE},
    CKO.PUBLIC_KEY: _COMMON | {CKA.EC_PARAMS, CKA.MODULUS_BITS, CKA.PUBLIC_EXPONENT},
}
RSA_EXPONENT = 65537


def key_template(template: tuple[CkAttribute, ...], cko: CKO, ckk: int) -> KeyTemplate:
    """A generation template checked against the class and key type the mechanism makes."""
    wanted = KeyTemplate(sensitive=cko is not CKO.PUBLIC_KEY, extractable=cko is CKO.PUBLIC_KEY, key_type=ckk)
    flags = {flag: flag in DEFAULT_USAGE.get((cko, ckk), frozenset()) for flag in USAGE}
    for entry in template:
        type_ = entry.type
        if type_ in USAGE:
            flags[CKA(type_)] = read_bool(entry)
        elif type_ == CKA.ID:
            wanted.key_id = parse_id(entry)
        elif type_ not in ACCEPTED[cko]:
            raise CKRError(CKR.ATTRIBUTE_TYPE_INVALID, f"attribute 0x{type_:X} in a {cko.name} template")
        elif type_ in (CKA.CLASS, CKA.KEY_TYPE) and read_ulong(entry) != (cko if type_ == CKA.CLASS else ckk):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "the template names another class or key type")
        elif type_ == CKA.TOKEN:
            wanted.token = read_bool(entry)
        elif type_ in storage_flags.NAMES:
            wanted.storage[CKA(type_)] = read_bool(entry)
        elif type_ == CKA.PRIVATE:
            read_bool(entry)  # accepted, not kept: secret and private keys are always private
        elif type_ == CKA.LABEL:
            wanted.label = parse_label(entry)
        elif type_ == CKA.SENSITIVE:
            wanted.sensitive = read_bool(entry)
        elif type_ == CKA.EXTRACTABLE:
            wanted.extractable = read_bool(entry)
        elif type_ == CKA.VALUE_LEN:
            wanted.value_len = read_ulong(entry)
        elif type_ == CKA.MODULUS_BITS:
            wanted.modulus_bits = read_ulong(entry)
        elif type_ == CKA.PUBLIC_EXPONENT:
            if int.from_bytes(entry.value if isinstance(entry.value, bytes) else b"", "big") != RSA_EXPONENT:
                raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "the public exponent is 65537")
        elif type_ == CKA.EC_PARAMS:
            params = entry.value if isinstance(entry.value, bytes) else b""
            if ckk == MoreCKK.EC_EDWARDS:
                wanted.edwards = EDWARDS_CURVES.get(params)
                if wanted.edwards is None:
                    raise CKRError(CKR.CURVE_NOT_SUPPORTED, "Edwards keys are Ed25519 or Ed448")
                continue
            if ckk == MoreCKK.EC_MONTGOMERY:
                wanted.curve = MONTGOMERY_CURVES.get(params)
                if wanted.curve is None:
                    raise CKRError(CKR.CURVE_NOT_SUPPORTED, "Montgomery keys are X25519 or X448")
                continue
            curve = CURVES.get(params)
            if curve is None:
                raise CKRError(CKR.CURVE_NOT_SUPPORTED, "EC keys are on P-256, P-384 or P-521")
            wanted.curve = curve
    bits = SECRET_USAGE if cko is CKO.SECRET_KEY else USAGE
    wanted.usage = sum(int(bits[flag]) for flag, on in flags.items() if on)
    return wanted


def template_key_type(template: tuple[CkAttribute, ...], ckk: int, choices: frozenset[int]) -> int:
    """The key type a generation makes: the mechanism's, or another of `choices` the template's
    CKA_KEY_TYPE names (CKM_GENERIC_SECRET_KEY_GEN makes CKK_SHA*_HMAC keys too)."""
    for entry in template:
        if entry.type == CKA.KEY_TYPE and read_ulong(entry) in choices:
            return read_ulong(entry)
    return ckk


def parse_label(entry: CkAttribute) -> str | None:
    if not isinstance(entry.value, bytes):
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_LABEL has no value")
    try:
        text = entry.value.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_LABEL is not UTF-8") from error
    return text or None


def kmip_attributes(wanted: KeyTemplate, with_label: bool = True) -> Attributes:
    """The attributes of one key that a template sets (Name, usage, Sensitive/Extractable)."""
    attributes = Attributes()
    attributes.add(Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask(wanted.usage))
    if wanted.label is not None and with_label:
        attributes.entries.append(name_entry(wanted.label))
    attributes.add(Tag.SENSITIVE, wanted.sensitive)
    attributes.add(Tag.EXTRACTABLE, wanted.extractable)
    if wanted.key_id is not None:
        attributes.entries.append(id_entry(wanted.key_id))
    # CKA_MODIFIABLE/COPYABLE/DESTROYABLE FALSE: the vendor attributes storage_flags reads.
    attributes.entries += [storage_flags.entry(flag, False) for flag, on in wanted.storage.items() if not on]
    if wanted.key_type == MoreCKK.AES_XTS:
        attributes.add(Tag.CRYPTOGRAPHIC_PARAMETERS, XTS)
    wrapping = U.WRAP_KEY | U.UNWRAP_KEY
    if wanted.key_type == CKK.RSA:
        wrapping |= U.ENCRYPT | U.DECRYPT
    if wanted.key_type is not None and wanted.usage & wrapping:
        others = bool(wanted.usage & ~(U.WRAP_KEY | U.UNWRAP_KEY))
        for instance in mechanisms.wrapping_instances(wanted.key_type, others):
            attributes.add(Tag.CRYPTOGRAPHIC_PARAMETERS, instance)
    if wanted.key_type == MoreCKK.GENERIC_SECRET:
        attributes.entries.append(
            vendor_entry(KEY_TYPE_ATTRIBUTE, ItemType.INTEGER, MoreCKK.GENERIC_SECRET.value)
        )
    return attributes
