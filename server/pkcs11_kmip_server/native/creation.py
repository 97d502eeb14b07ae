"""C_CreateObject: a Cryptoki template as the KMIP Register request that stores it.

An object an application imports becomes a managed object of the client's like a
generated one (docs/native-token.md): secret keys (AES, 3DES, generic secret, HMAC) from
CKA_VALUE, RSA, EC and Edwards keys
from their components (kept as PKCS#8 or SubjectPublicKeyInfo DER, which Register
reads back and checks), X.509 certificates from CKA_VALUE (Register reads the subject,
issuer and serial number; a template that names others is CKR_TEMPLATE_INCONSISTENT).
The usage flags, label, CKA_ID, Sensitive and Extractable are those of a generation
template (`objects.key_template`), with the same defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pkcs11_kmip.cryptoki.constants import CKA, CKK, CKO, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.kmip.messages import AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.objects import (
    Certificate,
    KeyBlock,
    KeyValue,
    PrivateKey,
    PublicKey,
    SecretData,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import RegisterRequest
from pkcs11_kmip.kmip.messages.structures import EncryptionKeyInformation, KeyWrappingData
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    EncodingOption,
    KeyFormatType,
    ObjectType,
    RecommendedCurve,
    SecretDataType,
    WrappingMethod,
)
from pkcs11_kmip.kmip.ttlv import ItemType
from pkcs11_kmip_server import certificates, formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.native import mechanisms, objects, storage_flags
from pkcs11_kmip_server.native.constants import CKC_X_509, CKO_CERTIFICATE, CKO_DATA, MoreCKA, MoreCKK

AES_BYTES = mechanisms.AES_BYTES
_RSA_PRIVATE = (CKA.MODULUS, CKA.PUBLIC_EXPONENT, *objects.RSA_PRIVATE_COMPONENTS)
# What each kind of key is made of; the rest of its template is objects.key_template's.
COMPONENTS: dict[tuple[int, int], tuple[int, ...]] = {
    (CKO.SECRET_KEY, CKK.AES): (CKA.VALUE,),
    (CKO.PUBLIC_KEY, CKK.RSA): (CKA.MODULUS, CKA.PUBLIC_EXPONENT),
    (CKO.PRIVATE_KEY, CKK.RSA): _RSA_PRIVATE,
    (CKO.PUBLIC_KEY, CKK.EC): (CKA.EC_PARAMS, CKA.EC_POINT),
    (CKO.PRIVATE_KEY, CKK.EC): (CKA.EC_PARAMS, CKA.VALUE),
    (CKO.PUBLIC_KEY, MoreCKK.EC_EDWARDS): (CKA.EC_PARAMS, CKA.EC_POINT),
    (CKO.PRIVATE_KEY, MoreCKK.EC_EDWARDS): (CKA.EC_PARAMS, CKA.VALUE),
    (CKO.PUBLIC_KEY, MoreCKK.EC_MONTGOMERY): (CKA.EC_PARAMS, CKA.EC_POINT),
    (CKO.PRIVATE_KEY, MoreCKK.EC_MONTGOMERY): (CKA.EC_PARAMS, CKA.VALUE),
    **{(CKO.SECRET_KEY, ckk): (CKA.VALUE,) for ckk in objects.SECRET_ALGORITHMS if ckk != CKK.AES},
}
# The sizes of the secret keys C_CreateObject takes besides AES, in bytes: HMAC keys as the
# server's HMAC keys are, 3DES keys 24 bytes (three keys with their parity bits; two-key
# ones 16), ChaCha20
# 32, AES-XTS 32 or 64 (two AES-128 or two AES-256 keys).
SECRET_BYTES: dict[int, Collection[int]] = {
    CKK.DES3: range(24, 25),
    MoreCKK.DES2: range(16, 17),
    MoreCKK.CHACHA20: (mechanisms.CHACHA20_BYTES,),
    MoreCKK.AES_XTS: mechanisms.XTS_BYTES,
}
HMAC_BYTES = range(mechanisms.HMAC_KEY_BYTES[0], mechanisms.HMAC_KEY_BYTES[1] + 1)
# Certificate attributes a template may carry besides CKA_VALUE: those the server reads
# out of the certificate must agree with it; the others are Cryptoki's defaults only.
CERTIFICATE_ACCEPTED = frozenset(
    {
        CKA.CLASS,
        CKA.TOKEN,
        CKA.PRIVATE,
        CKA.LABEL,
        CKA.ID,
        CKA.VALUE,
        CKA.MODIFIABLE,
        CKA.COPYABLE,
        CKA.DESTROYABLE,
        MoreCKA.CERTIFICATE_TYPE,
        MoreCKA.SUBJECT,
        MoreCKA.ISSUER,
        MoreCKA.SERIAL_NUMBER,
        MoreCKA.TRUSTED,
        MoreCKA.CERTIFICATE_CATEGORY,
    }
)
# A data object's template (PKCS#11 3.0 4.5); the value is needed (Secret Data is not empty).
DATA_ACCEPTED = frozenset(
    {
        CKA.CLASS,
        CKA.TOKEN,
        CKA.PRIVATE,
        CKA.LABEL,
        CKA.VALUE,
        MoreCKA.APPLICATION,
        MoreCKA.OBJECT_ID,
        *storage_flags.NAMES,
    }
)
DATA_TYPE = SecretDataType.SEED
"""The Secret Data Type of a data object the token registers: KMIP has Password (text) and
Seed (bytes), and a data object's value is bytes."""
KMIP_CLASSES: dict[int, ObjectType] = {
    CKO.SECRET_KEY: ObjectType.SYMMETRIC_KEY,
    CKO.PUBLIC_KEY: ObjectType.PUBLIC_KEY,
    CKO.PRIVATE_KEY: ObjectType.PRIVATE_KEY,
}


@dataclass(frozen=True)
class Import:
    """A Register request, and what the new object's label is (the token shows it)."""

    request: RegisterRequest
    label: str | None
    token: bool  # CKA_TOKEN


def _ulong(entries: dict[int, CkAttribute], type_: int) -> int:
    entry = entries.get(type_)
    if entry is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, f"attribute 0x{type_:X} is needed")
    return objects.read_ulong(entry)


def _bytes(entries: dict[int, CkAttribute], type_: int) -> bytes:
    entry = entries.get(type_)
    if entry is None or not isinstance(entry.value, bytes) or not entry.value:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, f"attribute 0x{type_:X} is needed")
    return entry.value


def _integer(entries: dict[int, CkAttribute], type_: int) -> int:
    return int.from_bytes(_bytes(entries, type_), "big")


def register_request(template: tuple[CkAttribute, ...]) -> Import:
    """The Register request for a C_CreateObject template (CKRError for one the token
    does not take: the class or key type (CKR_TEMPLATE_INCONSISTENT / _INCOMPLETE), a
    value that is no key (CKR_ATTRIBUTE_VALUE_INVALID))."""
    entries = {entry.type: entry for entry in template}
    cko = _ulong(entries, CKA.CLASS)
    if cko == CKO_CERTIFICATE:
        return _certificate(template, entries)
    if cko == CKO_DATA:
        return _data(template, entries)
    if cko not in KMIP_CLASSES:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"the token does not create objects of class {cko}")
    ckk = _ulong(entries, CKA.KEY_TYPE)
    components = COMPONENTS.get((cko, ckk))
    if components is None:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"the token does not import keys of type 0x{ckk:X}")
    rest = tuple(entry for entry in template if entry.type not in components)
    wanted = objects.key_template(rest, CKO(cko), ckk)
    try:
        block = BUILDERS[(cko, ckk)](entries)
    except ValueError as error:  # cryptography's refusal of numbers that make no key
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"not a key: {error}") from error
    if (
        cko == CKO.SECRET_KEY
        and wanted.value_len is not None
        and wanted.value_len * 8 != (block.cryptographic_length or 0)
    ):
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN is not the length of CKA_VALUE")
    attributes = objects.kmip_attributes(wanted)
    material: SymmetricKey = {
        CKO.SECRET_KEY: SymmetricKey,
        CKO.PUBLIC_KEY: PublicKey,
        CKO.PRIVATE_KEY: PrivateKey,
    }[CKO(cko)](key_block=block)
    request = RegisterRequest(object_type=KMIP_CLASSES[cko], attributes=attributes, object=material)
    return Import(request, wanted.label, wanted.token)


def _aes(entries: dict[int, CkAttribute]) -> KeyBlock:
    value = _bytes(entries, CKA.VALUE)
    if len(value) not in AES_BYTES:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "an AES key is 16, 24 or 32 bytes")
    return KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=value),
        cryptographic_algorithm=CryptographicAlgorithm.AES,
        cryptographic_length=len(value) * 8,
    )


def _secret(ckk: int) -> Callable[[dict[int, CkAttribute]], KeyBlock]:
    """A secret key other than AES (3DES, generic secret, HMAC) from CKA_VALUE."""

    def build(entries: dict[int, CkAttribute]) -> KeyBlock:
        value = _bytes(entries, CKA.VALUE)
        if len(value) not in SECRET_BYTES.get(ckk, HMAC_BYTES):
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, f"not the size of a key of type 0x{ckk:X}")
        return KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=value),
            cryptographic_algorithm=objects.SECRET_ALGORITHMS[ckk],
            cryptographic_length=len(value) * 8,
        )

    return build


def _edwards(entries: dict[int, CkAttribute], private: bool) -> KeyBlock:
    """An Ed25519/Ed448 key from its RFC 8032 bytes: CKA_EC_POINT (in an OCTET STRING or
    bare) or the private CKA_VALUE."""
    algorithm = objects.EDWARDS_CURVES.get(_bytes(entries, CKA.EC_PARAMS))
    if algorithm is None:
        raise CKRError(CKR.CURVE_NOT_SUPPORTED, "Edwards keys are Ed25519 or Ed448")
    ed25519_key = algorithm is CryptographicAlgorithm.ED25519
    if private:
        secret = _bytes(entries, CKA.VALUE)
        private_key = (
            ed25519.Ed25519PrivateKey.from_private_bytes(secret)
            if ed25519_key
            else ed448.Ed448PrivateKey.from_private_bytes(secret)
        )
        return formats.write_key(private_key, KeyFormatType.PKCS_8, algorithm)
    public_type = ed25519.Ed25519PublicKey if ed25519_key else ed448.Ed448PublicKey
    return formats.write_key(public_type.from_public_bytes(_octets(entries)), KeyFormatType.X_509, algorithm)


def _octets(entries: dict[int, CkAttribute]) -> bytes:
    """An Edwards or Montgomery CKA_EC_POINT: the public key's bytes, in a DER OCTET STRING
    (PKCS#11 3.0 §2.3.5) or bare."""
    value = _bytes(entries, CKA.EC_POINT)
    if len(value) > 2 and value[0] == 0x04 and value[1] == len(value) - 2:
        value = value[2:]
    return value


def _montgomery(entries: dict[int, CkAttribute], private: bool) -> KeyBlock:
    """An X25519/X448 key (KMIP ECDH on Curve25519/Curve448) from its RFC 7748 bytes:
    CKA_EC_POINT or the private CKA_VALUE; CKA_EC_PARAMS as key generation takes it."""
    curve = objects.MONTGOMERY_CURVES.get(_bytes(entries, CKA.EC_PARAMS))
    if curve is None:
        raise CKRError(CKR.CURVE_NOT_SUPPORTED, "Montgomery keys are X25519 or X448")
    on_25519 = curve is RecommendedCurve.CURVE25519
    if private:
        private_type = x25519.X25519PrivateKey if on_25519 else x448.X448PrivateKey
        key = private_type.from_private_bytes(_bytes(entries, CKA.VALUE))
        return formats.write_key(key, KeyFormatType.PKCS_8, CryptographicAlgorithm.ECDH)
    public_type = x25519.X25519PublicKey if on_25519 else x448.X448PublicKey
    public = public_type.from_public_bytes(_octets(entries))
    return formats.write_key(public, KeyFormatType.X_509, CryptographicAlgorithm.ECDH)


def _curve(entries: dict[int, CkAttribute]) -> ec.EllipticCurve:
    curve = objects.CURVES.get(_bytes(entries, CKA.EC_PARAMS))
    if curve is None:
        raise CKRError(CKR.CURVE_NOT_SUPPORTED, "EC keys are on P-256, P-384 or P-521")
    return formats.EC_CURVES[curve]()


def ec_point(curve: ec.EllipticCurve, value: bytes) -> ec.EllipticCurvePublicKey:
    """A point as CKA_EC_POINT has it: in a DER OCTET STRING, or (as some applications
    send it) bare."""
    size = (curve.key_size + 7) // 8
    bare = 1 + 2 * size
    if len(value) > bare and value[0] == 0x04:
        _, start, end = formats.der_element(value)
        if end == len(value):
            value = value[start:end]
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, value)


MONTGOMERY_BYTES = {RecommendedCurve.CURVE25519: 32, RecommendedCurve.CURVE448: 56}


def peer_public_data(curve: RecommendedCurve, value: bytes) -> bytes:
    """CKM_ECDH1_DERIVE's pPublicData as KMIP Derivation Data: an EC point (checked on the
    key's curve, sent uncompressed) or X25519's/X448's 32/56 bytes (bare or in a DER OCTET
    STRING); anything else CKR_MECHANISM_PARAM_INVALID."""
    size = MONTGOMERY_BYTES.get(curve)
    if size is not None:
        if len(value) == size + 2 and value[:2] == bytes([0x04, size]):
            value = value[2:]
        if len(value) != size:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"the peer's public key is {size} bytes")
        return value
    try:
        point = ec_point(formats.EC_CURVES[curve](), value)
    except ValueError as error:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "the peer's point is not on the key's curve") from error
    return point.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _ec_public(entries: dict[int, CkAttribute]) -> KeyBlock:
    key = ec_point(_curve(entries), _bytes(entries, CKA.EC_POINT))
    return formats.write_key(key, KeyFormatType.X_509, CryptographicAlgorithm.EC)


def _ec_private(entries: dict[int, CkAttribute]) -> KeyBlock:
    key = ec.derive_private_key(_integer(entries, CKA.VALUE), _curve(entries))
    return formats.write_key(key, KeyFormatType.PKCS_8, CryptographicAlgorithm.EC)


def _rsa_public(entries: dict[int, CkAttribute]) -> KeyBlock:
    numbers = rsa.RSAPublicNumbers(_integer(entries, CKA.PUBLIC_EXPONENT), _integer(entries, CKA.MODULUS))
    return formats.write_key(numbers.public_key(), KeyFormatType.X_509)


def _rsa_private(entries: dict[int, CkAttribute]) -> KeyBlock:
    n, e, d, p, q, dp, dq, qi = (_integer(entries, type_) for type_ in _RSA_PRIVATE)
    numbers = rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n))
    return formats.write_key(numbers.private_key(), KeyFormatType.PKCS_8)


BUILDERS: dict[tuple[int, int], Callable[[dict[int, CkAttribute]], KeyBlock]] = {
    (CKO.SECRET_KEY, CKK.AES): _aes,
    (CKO.PUBLIC_KEY, CKK.RSA): _rsa_public,
    (CKO.PRIVATE_KEY, CKK.RSA): _rsa_private,
    (CKO.PUBLIC_KEY, CKK.EC): _ec_public,
    (CKO.PRIVATE_KEY, CKK.EC): _ec_private,
    (CKO.PUBLIC_KEY, MoreCKK.EC_EDWARDS): lambda entries: _edwards(entries, private=False),
    (CKO.PRIVATE_KEY, MoreCKK.EC_EDWARDS): lambda entries: _edwards(entries, private=True),
    (CKO.PUBLIC_KEY, MoreCKK.EC_MONTGOMERY): lambda entries: _montgomery(entries, private=False),
    (CKO.PRIVATE_KEY, MoreCKK.EC_MONTGOMERY): lambda entries: _montgomery(entries, private=True),
    **{(CKO.SECRET_KEY, ckk): _secret(ckk) for ckk in objects.SECRET_ALGORITHMS if ckk != CKK.AES},
}

# CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER: where the server keeps what it read.
CERTIFICATE_FIELDS = {
    MoreCKA.SUBJECT: (Tag.X_509_CERTIFICATE_SUBJECT, "subject_distinguished_name"),
    MoreCKA.ISSUER: (Tag.X_509_CERTIFICATE_ISSUER, "issuer_distinguished_name"),
    MoreCKA.SERIAL_NUMBER: (Tag.X_509_CERTIFICATE_IDENTIFIER, "certificate_serial_number"),
}


def _certificate(template: tuple[CkAttribute, ...], entries: dict[int, CkAttribute]) -> Import:
    for entry in template:
        if entry.type not in CERTIFICATE_ACCEPTED:
            raise CKRError(
                CKR.ATTRIBUTE_TYPE_INVALID, f"attribute 0x{entry.type:X} in a certificate template"
            )
    if _ulong(entries, MoreCKA.CERTIFICATE_TYPE) != CKC_X_509:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, "the token keeps X.509 certificates only")
    certificate = Certificate(
        certificate_type=CertificateType.X_509, certificate_value=_bytes(entries, CKA.VALUE)
    )
    try:
        read = certificates.certificate_attributes(certificate)
    except KmipError as error:
        raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "CKA_VALUE is not a DER X.509 certificate") from error
    for type_, (tag, field) in CERTIFICATE_FIELDS.items():
        given = entries.get(type_)
        if given is not None and given.value != getattr(read.get(tag), field, None):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"attribute 0x{type_:X} is not the certificate's")
    # Label, CKA_ID and the storage flags as for keys; a certificate has no usage of its own.
    wanted, attributes = _named(template, (CKA.ID,))
    request = RegisterRequest(object_type=ObjectType.CERTIFICATE, attributes=attributes, object=certificate)
    return Import(request, wanted.label, wanted.token)


def _named(
    template: tuple[CkAttribute, ...], more: tuple[int, ...]
) -> tuple[objects.KeyTemplate, Attributes]:
    """The label, CKA_TOKEN, the storage flags (and `more` of a key's attributes) of an object
    that is no key, read as a key's are, and the KMIP Name and vendor attributes they make."""
    kept_types = (CKA.LABEL, CKA.TOKEN, *storage_flags.NAMES, *more)
    names = tuple(entry for entry in template if entry.type in kept_types)
    wanted = objects.key_template(names, CKO.PUBLIC_KEY, CKK.RSA)
    attributes = Attributes()
    for kept in objects.kmip_attributes(wanted).entries:
        if kept.tag in (Tag.NAME, Tag.ATTRIBUTE):
            attributes.entries.append(kept)
    return wanted, attributes


def _data(template: tuple[CkAttribute, ...], entries: dict[int, CkAttribute]) -> Import:
    """A data object as Secret Data (Seed) of its CKA_VALUE, neither Sensitive nor unextractable
    (Cryptoki has no such flags for data; a KMIP client may set them later). CKA_PRIVATE FALSE,
    CKA_APPLICATION and CKA_OBJECT_ID are vendor attributes (objects.DATA_READERS)."""
    for entry in template:
        if entry.type not in DATA_ACCEPTED:
            raise CKRError(
                CKR.ATTRIBUTE_TYPE_INVALID, f"attribute 0x{entry.type:X} in a data object template"
            )
    wanted, attributes = _named(template, ())
    attributes.add(Tag.SENSITIVE, False)
    attributes.add(Tag.EXTRACTABLE, True)
    attributes.entries += _data_vendor_attributes(entries)
    block = KeyBlock(
        key_format_type=KeyFormatType.OPAQUE, key_value=KeyValue(key_material=_bytes(entries, CKA.VALUE))
    )
    secret = SecretData(secret_data_type=DATA_TYPE, key_block=block)
    request = RegisterRequest(object_type=ObjectType.SECRET_DATA, attributes=attributes, object=secret)
    return Import(request, wanted.label, wanted.token)


def _data_vendor_attributes(entries: dict[int, CkAttribute]) -> list[AttributeEntry]:
    """CKA_PRIVATE FALSE, CKA_APPLICATION (UTF-8) and CKA_OBJECT_ID as the token's vendor attributes."""
    made = []
    private = entries.get(CKA.PRIVATE)
    if private is not None and not objects.read_bool(private):
        made.append(objects.vendor_entry(objects.PRIVATE_ATTRIBUTE, ItemType.BOOLEAN, False))
    application = entries.get(MoreCKA.APPLICATION)
    if application is not None and application.value:
        text = objects.parse_label(application)
        assert text is not None
        made.append(objects.vendor_entry(objects.APPLICATION_ATTRIBUTE, ItemType.TEXT_STRING, text))
    oid = entries.get(MoreCKA.OBJECT_ID)
    if oid is not None and isinstance(oid.value, bytes) and oid.value:
        made.append(objects.vendor_entry(objects.OBJECT_ID_ATTRIBUTE, ItemType.BYTE_STRING, oid.value))
    return made


# C_UnwrapKey: the form the unwrapped bytes are in, per class and key type.
UNWRAPPED: dict[tuple[int, int], tuple[KeyFormatType, CryptographicAlgorithm]] = {
    (CKO.SECRET_KEY, CKK.AES): (KeyFormatType.RAW, CryptographicAlgorithm.AES),
    (CKO.PRIVATE_KEY, CKK.RSA): (KeyFormatType.PKCS_8, CryptographicAlgorithm.RSA),
    (CKO.PRIVATE_KEY, CKK.EC): (KeyFormatType.PKCS_8, CryptographicAlgorithm.EC),
    (CKO.PRIVATE_KEY, MoreCKK.EC_MONTGOMERY): (KeyFormatType.PKCS_8, CryptographicAlgorithm.ECDH),
    **{(CKO.SECRET_KEY, ckk): (KeyFormatType.RAW, a) for ckk, a in objects.SECRET_ALGORITHMS.items()},
}


def unwrapped_request(
    template: tuple[CkAttribute, ...], wrapped: bytes, information: EncryptionKeyInformation
) -> Import:
    """The Register request of a C_UnwrapKey: the wrapped bytes in a key block whose Key
    Wrapping Data names the unwrapping key, and the template's attributes."""
    entries = {entry.type: entry for entry in template}
    cko, ckk = _ulong(entries, CKA.CLASS), _ulong(entries, CKA.KEY_TYPE)
    form = UNWRAPPED.get((cko, ckk))
    if form is None:
        raise CKRError(
            CKR.TEMPLATE_INCONSISTENT, "the token unwraps secret keys and RSA/EC/X25519/X448 private keys"
        )
    wanted = objects.key_template(template, CKO(cko), ckk)
    block = KeyBlock(
        key_format_type=form[0],
        key_value=wrapped,
        cryptographic_algorithm=form[1],
        key_wrapping_data=KeyWrappingData(
            wrapping_method=WrappingMethod.ENCRYPT,
            encryption_key_information=information,
            encoding_option=EncodingOption.NO_ENCODING,
        ),
    )
    material = SymmetricKey(key_block=block) if cko == CKO.SECRET_KEY else PrivateKey(key_block=block)
    request = RegisterRequest(
        object_type=KMIP_CLASSES[cko], attributes=objects.kmip_attributes(wanted), object=material
    )
    return Import(request, wanted.label, wanted.token)
