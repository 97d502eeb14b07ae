"""Key Format Types: the forms in which keys enter and leave the server (KMIP 2.1 §2.1.7, §3, §11.25).

Every asymmetric key kind (RSA, EC, the Edwards and Montgomery curves) lists the
formats it can take. Each format has a reader (key material -> a pyca/cryptography
key, refusing malformed material with Invalid Field) and a writer (key -> key
material), so any two formats of one kind convert through the key. Symmetric keys
convert between Raw and Transparent Symmetric Key. An object keeps the format it was
registered or generated in; Get converts on request, or answers Key Format Type Not
Supported when the two formats cannot carry the same key.

These are pure functions of key material, so a hardware crypto provider can share them.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import (
    Certificate,
    CertificateRequest,
    KeyBlock,
    KeyValue,
    OpaqueObject,
    PrivateKey,
    PublicKey,
    SymmetricKey,
    TransparentKeyMaterial,
)
from pkcs11_kmip.kmip.spec.enums import (
    CertificateRequestType,
    CryptographicAlgorithm,
    KeyCompressionType,
    KeyFormatType,
    RecommendedCurve,
    ResultReason,
)
from pkcs11_kmip_server.errors import KmipError

F = KeyFormatType
A = CryptographicAlgorithm
RC = RecommendedCurve

PrivateKeyType = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | x25519.X25519PrivateKey
    | x448.X448PrivateKey
)
PublicKeyType = (
    rsa.RSAPublicKey
    | ec.EllipticCurvePublicKey
    | ed25519.Ed25519PublicKey
    | ed448.Ed448PublicKey
    | x25519.X25519PublicKey
    | x448.X448PublicKey
)
AnyKey = PrivateKeyType | PublicKeyType
Material = bytes | TransparentKeyMaterial

# Recommended Curve -> the prime curves pyca/cryptography implements.
EC_CURVES: dict[RecommendedCurve, type[ec.EllipticCurve]] = {
    RC.P_192: ec.SECP192R1,
    RC.P_224: ec.SECP224R1,
    RC.P_256: ec.SECP256R1,
    RC.P_384: ec.SECP384R1,
    RC.P_521: ec.SECP521R1,
    RC.SECP256_K1: ec.SECP256K1,
    RC.BRAINPOOLP256_R1: ec.BrainpoolP256R1,
    RC.BRAINPOOLP384_R1: ec.BrainpoolP384R1,
    RC.BRAINPOOLP512_R1: ec.BrainpoolP512R1,
}
_CURVE_BY_NAME: dict[str, RecommendedCurve] = {curve().name: rc for rc, curve in EC_CURVES.items()}

# The Transparent EC formats: the 2.x one, and the 1.x per-algorithm twins of the same shape.
EC_PRIVATE_TRANSPARENT = (
    F.TRANSPARENT_EC_PRIVATE_KEY,
    F.TRANSPARENT_ECDSA_PRIVATE_KEY,
    F.TRANSPARENT_ECDH_PRIVATE_KEY,
    F.TRANSPARENT_ECMQV_PRIVATE_KEY,
)
EC_PUBLIC_TRANSPARENT = (
    F.TRANSPARENT_EC_PUBLIC_KEY,
    F.TRANSPARENT_ECDSA_PUBLIC_KEY,
    F.TRANSPARENT_ECDH_PUBLIC_KEY,
    F.TRANSPARENT_ECMQV_PUBLIC_KEY,
)


@dataclass(frozen=True)
class KeyKind:
    """One kind of asymmetric key: the algorithms that name it and the formats that carry it.

    The first algorithm is the one recorded when a client named none. The first format
    of each tuple is the one generated keys are stored in: the KMIP 2.1 §4.26 defaults
    (PKCS#1 for RSA, Transparent EC for EC); the spec gives none for the Edwards and
    Montgomery curves, so PKCS#8 and X.509 (SubjectPublicKeyInfo), which name the curve.
    Keys that are octet strings (RFC 7748, RFC 8032) have a fixed curve (the Recommended
    Curve of their Transparent form), Cryptographic Length and raw sizes in bytes.
    """

    name: str
    algorithms: tuple[CryptographicAlgorithm, ...]
    private_type: type
    public_type: type
    private_formats: tuple[KeyFormatType, ...]
    public_formats: tuple[KeyFormatType, ...]
    curve: RecommendedCurve | None = None
    length: int | None = None
    private_size: int | None = None
    public_size: int | None = None

    @property
    def octets(self) -> bool:
        return self.private_size is not None


_OCTET_PRIVATE = (F.PKCS_8, F.RAW, F.TRANSPARENT_EC_PRIVATE_KEY)
_OCTET_PUBLIC = (F.X_509, F.RAW, F.TRANSPARENT_EC_PUBLIC_KEY)
_MONTGOMERY = (A.ECDH, A.EC)

RSA = KeyKind(
    "RSA",
    (A.RSA,),
    rsa.RSAPrivateKey,
    rsa.RSAPublicKey,
    (F.PKCS_1, F.PKCS_8, F.TRANSPARENT_RSA_PRIVATE_KEY),
    (F.PKCS_1, F.X_509, F.TRANSPARENT_RSA_PUBLIC_KEY),
)
EC = KeyKind(
    "EC",
    (A.EC, A.ECDSA, A.ECDH, A.ECMQV),
    ec.EllipticCurvePrivateKey,
    ec.EllipticCurvePublicKey,
    (EC_PRIVATE_TRANSPARENT[0], F.EC_PRIVATE_KEY, F.PKCS_8, *EC_PRIVATE_TRANSPARENT[1:]),
    (EC_PUBLIC_TRANSPARENT[0], F.X_509, *EC_PUBLIC_TRANSPARENT[1:]),
)
ED25519 = KeyKind(
    "Ed25519",
    (A.ED25519,),
    ed25519.Ed25519PrivateKey,
    ed25519.Ed25519PublicKey,
    _OCTET_PRIVATE,
    _OCTET_PUBLIC,
    RC.CURVE25519,
    256,
    32,
    32,
)
ED448 = KeyKind(
    "Ed448",
    (A.ED448,),
    ed448.Ed448PrivateKey,
    ed448.Ed448PublicKey,
    _OCTET_PRIVATE,
    _OCTET_PUBLIC,
    RC.CURVE448,
    448,
    57,
    57,
)
X25519 = KeyKind(
    "X25519",
    _MONTGOMERY,
    x25519.X25519PrivateKey,
    x25519.X25519PublicKey,
    _OCTET_PRIVATE,
    _OCTET_PUBLIC,
    RC.CURVE25519,
    256,
    32,
    32,
)
X448 = KeyKind(
    "X448",
    _MONTGOMERY,
    x448.X448PrivateKey,
    x448.X448PublicKey,
    _OCTET_PRIVATE,
    _OCTET_PUBLIC,
    RC.CURVE448,
    448,
    56,
    56,
)
KINDS = (RSA, EC, ED25519, ED448, X25519, X448)
OCTET_KINDS = tuple(kind for kind in KINDS if kind.octets)


def kind_of(key: AnyKey) -> KeyKind:
    for kind in KINDS:
        if isinstance(key, (kind.private_type, kind.public_type)):
            return kind
    raise KmipError(ResultReason.INVALID_FIELD, f"{type(key).__name__} keys are not supported")


def octet_kind(algorithm: CryptographicAlgorithm | None, curve: RecommendedCurve | None) -> KeyKind | None:
    """The Edwards or Montgomery kind an algorithm and curve name, if any.

    Curve25519 and Curve448 name both an Edwards and a Montgomery kind: the algorithm
    decides (Ed25519/Ed448, else EC or ECDH: X25519/X448).
    """
    for kind in OCTET_KINDS:
        if curve is kind.curve and (
            algorithm in kind.algorithms or (algorithm is None and kind.algorithms == _MONTGOMERY)
        ):
            return kind
    return None


def curve_of(key: AnyKey) -> RecommendedCurve | None:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        return _CURVE_BY_NAME.get(key.curve.name)
    return kind_of(key).curve


def length_of(key: AnyKey) -> int:
    """The Cryptographic Length: modulus bits for RSA, the curve's bits for EC (KMIP 2.1 §6.1.9)."""
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePrivateKey):
        return key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.key_size
    length = kind_of(key).length
    assert length is not None
    return length


# --- DER: just enough to tell one encoding of a key from another ---------------------

DER_INTEGER, DER_BIT_STRING, DER_OCTET_STRING, DER_SEQUENCE = 0x02, 0x03, 0x04, 0x30


def der_element(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """(tag, start of content, end of element) of the DER element at `offset`."""
    if offset + 2 > len(data) or data[offset] & 0x1F == 0x1F:
        raise ValueError("truncated or multi-byte DER tag")
    tag, first = data[offset], data[offset + 1]
    start = offset + 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or start + count > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    else:
        length = first
    end = start + length
    if end > len(data):
        raise ValueError("DER element overruns its data")
    return tag, start, end


def der_children(data: bytes) -> list[tuple[int, bytes]]:
    """The elements inside the one constructed DER element `data` is: (tag, element bytes)."""
    _tag, start, end = der_element(data)
    if end != len(data):
        raise ValueError("trailing bytes after the DER element")
    children = []
    while start < end:
        tag, _content, after = der_element(data, start)
        children.append((tag, data[start:after]))
        start = after
    return children


def _der_shape(data: bytes) -> tuple[int, ...]:
    """The outer tag and the tags of the first two children: enough to name PKCS#1/#8, SPKI, RFC 5915."""
    tag = der_element(data)[0]
    return (tag, *(child for child, _ in der_children(data)[:2]))


# --- readers: key material -> key --------------------------------------------------------


class _Malformed(ValueError):
    """The material does not hold a key of the format claimed."""


Reader = Callable[[Material, CryptographicAlgorithm | None], AnyKey]


def _need_bytes(material: Material) -> bytes:
    if not isinstance(material, bytes):
        raise _Malformed("this format's Key Material is a Byte String, not a structure")
    return material


def _need_structure(material: Material) -> TransparentKeyMaterial:
    if not isinstance(material, TransparentKeyMaterial):
        raise _Malformed("a Transparent format's Key Material is a structure")
    return material


def _der_private(shape: tuple[int, ...]) -> Reader:
    def read(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
        data = _need_bytes(material)
        if _der_shape(data) != shape:
            raise _Malformed("the DER structure is not this format's")
        return serialization.load_der_private_key(data, password=None)  # type: ignore[return-value]

    return read


def _der_public(shape: tuple[int, ...]) -> Reader:
    def read(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
        data = _need_bytes(material)
        if _der_shape(data) != shape:
            raise _Malformed("the DER structure is not this format's")
        return serialization.load_der_public_key(data)  # type: ignore[return-value]

    return read


def _octet_kind_for_raw(algorithm: CryptographicAlgorithm | None, size: int, private: bool) -> KeyKind:
    """Raw asymmetric keys are octet-string keys: the algorithm and the size say which."""
    for kind in OCTET_KINDS:
        if algorithm in kind.algorithms and size == (kind.private_size if private else kind.public_size):
            return kind
    raise _Malformed("a Raw asymmetric key is an Ed25519, Ed448, X25519 or X448 key of its exact size")


def _raw_private(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    data = _need_bytes(material)
    kind = _octet_kind_for_raw(algorithm, len(data), private=True)
    return kind.private_type.from_private_bytes(data)  # type: ignore[attr-defined,no-any-return]


def _raw_public(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    data = _need_bytes(material)
    kind = _octet_kind_for_raw(algorithm, len(data), private=False)
    return kind.public_type.from_public_bytes(data)  # type: ignore[attr-defined,no-any-return]


def _transparent_rsa_private(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    """An RSA private key from whichever of its numbers were given (KMIP 2.1 §3.4)."""
    m = _need_structure(material)
    n, e, d, p, q = m.modulus, m.public_exponent, m.private_exponent, m.p, m.q
    if n is None:
        raise _Malformed("a Transparent RSA Private Key needs its Modulus")
    if p is None or q is None:
        if e is None or d is None:
            raise _Malformed("a Transparent RSA Private Key needs P and Q, or both exponents")
        p, q = rsa.rsa_recover_prime_factors(n, e, d)
    if p * q != n:
        raise _Malformed("P times Q is not the Modulus")
    carmichael = math.lcm(p - 1, q - 1)
    if e is None and d is None:
        raise _Malformed("a Transparent RSA Private Key needs an exponent")
    if e is None:
        assert d is not None
        e = pow(d, -1, carmichael)
    if d is None:
        d = pow(e, -1, carmichael)
    numbers = rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=m.prime_exponent_p if m.prime_exponent_p is not None else rsa.rsa_crt_dmp1(d, p),
        dmq1=m.prime_exponent_q if m.prime_exponent_q is not None else rsa.rsa_crt_dmq1(d, q),
        iqmp=m.crt_coefficient if m.crt_coefficient is not None else rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e, n),
    )
    return numbers.private_key()


def _transparent_rsa_public(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    m = _need_structure(material)
    if m.modulus is None or m.public_exponent is None:
        raise _Malformed("a Transparent RSA Public Key needs its Modulus and Public Exponent")
    return rsa.RSAPublicNumbers(m.public_exponent, m.modulus).public_key()


def _transparent_curve(m: TransparentKeyMaterial, algorithm: CryptographicAlgorithm | None) -> Any:
    """The pyca curve (prime curves) or octet key kind a Transparent EC key's Recommended Curve names."""
    if m.recommended_curve is None:
        raise _Malformed("a Transparent EC key needs its Recommended Curve")
    if m.recommended_curve in EC_CURVES:
        return EC_CURVES[m.recommended_curve]()
    kind = octet_kind(algorithm, m.recommended_curve)
    if kind is None:
        raise _Malformed(f"curve {m.recommended_curve.name} is not supported")
    return kind


def _transparent_ec_private(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    """D is the private scalar; for octet-string keys, the raw private key read as a big-endian number."""
    m = _need_structure(material)
    curve = _transparent_curve(m, algorithm)
    if m.d is None:
        raise _Malformed("a Transparent EC Private Key needs D")
    if isinstance(curve, KeyKind):
        assert curve.private_size is not None
        return curve.private_type.from_private_bytes(m.d.to_bytes(curve.private_size, "big"))  # type: ignore[attr-defined,no-any-return]
    return ec.derive_private_key(m.d, curve)


def _transparent_ec_public(material: Material, algorithm: CryptographicAlgorithm | None) -> AnyKey:
    """Q String is the X9.62 point (compressed or not); for octet-string keys, the raw public key."""
    m = _need_structure(material)
    curve = _transparent_curve(m, algorithm)
    if m.q_string is None:
        raise _Malformed("a Transparent EC Public Key needs its Q String")
    if isinstance(curve, KeyKind):
        return curve.public_type.from_public_bytes(m.q_string)  # type: ignore[attr-defined,no-any-return]
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, m.q_string)


PRIVATE_READERS: dict[KeyFormatType, Reader] = {
    F.PKCS_1: _der_private((DER_SEQUENCE, DER_INTEGER, DER_INTEGER)),
    F.PKCS_8: _der_private((DER_SEQUENCE, DER_INTEGER, DER_SEQUENCE)),
    F.EC_PRIVATE_KEY: _der_private((DER_SEQUENCE, DER_INTEGER, DER_OCTET_STRING)),
    F.RAW: _raw_private,
    F.TRANSPARENT_RSA_PRIVATE_KEY: _transparent_rsa_private,
    **dict.fromkeys(EC_PRIVATE_TRANSPARENT, _transparent_ec_private),
}
PUBLIC_READERS: dict[KeyFormatType, Reader] = {
    F.PKCS_1: _der_public((DER_SEQUENCE, DER_INTEGER, DER_INTEGER)),
    F.X_509: _der_public((DER_SEQUENCE, DER_SEQUENCE, DER_BIT_STRING)),
    F.RAW: _raw_public,
    F.TRANSPARENT_RSA_PUBLIC_KEY: _transparent_rsa_public,
    **dict.fromkeys(EC_PUBLIC_TRANSPARENT, _transparent_ec_public),
}


# --- writers: key -> key material ---------------------------------------------------------

_NO_ENCRYPTION = serialization.NoEncryption()
_DER = serialization.Encoding.DER


def _private_der(form: serialization.PrivateFormat) -> Callable[[Any, KeyCompressionType | None], Material]:
    return lambda key, _compression: key.private_bytes(_DER, form, _NO_ENCRYPTION)


def _public_der(form: serialization.PublicFormat) -> Callable[[Any, KeyCompressionType | None], Material]:
    return lambda key, _compression: key.public_bytes(_DER, form)


def _raw_private_bytes(key: Any, compression: KeyCompressionType | None) -> Material:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, _NO_ENCRYPTION)  # type: ignore[no-any-return]


def _raw_public_bytes(key: Any, compression: KeyCompressionType | None) -> Material:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[no-any-return]


def _rsa_private_numbers(key: Any, compression: KeyCompressionType | None) -> Material:
    numbers: rsa.RSAPrivateNumbers = key.private_numbers()
    return TransparentKeyMaterial(
        modulus=numbers.public_numbers.n,
        private_exponent=numbers.d,
        public_exponent=numbers.public_numbers.e,
        p=numbers.p,
        q=numbers.q,
        prime_exponent_p=numbers.dmp1,
        prime_exponent_q=numbers.dmq1,
        crt_coefficient=numbers.iqmp,
    )


def _rsa_public_numbers(key: Any, compression: KeyCompressionType | None) -> Material:
    numbers: rsa.RSAPublicNumbers = key.public_numbers()
    return TransparentKeyMaterial(modulus=numbers.n, public_exponent=numbers.e)


def _ec_private_transparent(key: Any, compression: KeyCompressionType | None) -> Material:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        d = key.private_numbers().private_value
    else:
        d = int.from_bytes(_raw_private_bytes(key, None), "big")  # type: ignore[arg-type]
    return TransparentKeyMaterial(recommended_curve=_known_curve(key), d=d)


def _ec_public_transparent(key: Any, compression: KeyCompressionType | None) -> Material:
    if isinstance(key, ec.EllipticCurvePublicKey):
        form = (
            serialization.PublicFormat.CompressedPoint
            if compression is KeyCompressionType.EC_PUBLIC_KEY_TYPE_X9_62_COMPRESSED_PRIME
            else serialization.PublicFormat.UncompressedPoint
        )
        q = key.public_bytes(serialization.Encoding.X962, form)
    else:
        q = _raw_public_bytes(key, None)  # type: ignore[assignment]
    return TransparentKeyMaterial(recommended_curve=_known_curve(key), q_string=q)


def _known_curve(key: AnyKey) -> RecommendedCurve:
    curve = curve_of(key)
    if curve is None:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "the key's curve has no KMIP Recommended Curve"
        )
    return curve


Writer = Callable[[Any, KeyCompressionType | None], Material]
_PKCS_1_OR_RFC_5915 = _private_der(serialization.PrivateFormat.TraditionalOpenSSL)

PRIVATE_WRITERS: dict[KeyFormatType, Writer] = {
    F.PKCS_1: _PKCS_1_OR_RFC_5915,
    F.EC_PRIVATE_KEY: _PKCS_1_OR_RFC_5915,
    F.PKCS_8: _private_der(serialization.PrivateFormat.PKCS8),
    F.RAW: _raw_private_bytes,
    F.TRANSPARENT_RSA_PRIVATE_KEY: _rsa_private_numbers,
    **dict.fromkeys(EC_PRIVATE_TRANSPARENT, _ec_private_transparent),
}
PUBLIC_WRITERS: dict[KeyFormatType, Writer] = {
    F.PKCS_1: _public_der(serialization.PublicFormat.PKCS1),
    F.X_509: _public_der(serialization.PublicFormat.SubjectPublicKeyInfo),
    F.RAW: _raw_public_bytes,
    F.TRANSPARENT_RSA_PUBLIC_KEY: _rsa_public_numbers,
    **dict.fromkeys(EC_PUBLIC_TRANSPARENT, _ec_public_transparent),
}

# Key Compression Types a format can honour (KMIP 2.1 §11.24): EC points, compressed or not.
COMPRESSIONS: dict[KeyFormatType, frozenset[KeyCompressionType]] = dict.fromkeys(
    EC_PUBLIC_TRANSPARENT,
    frozenset(
        {
            KeyCompressionType.EC_PUBLIC_KEY_TYPE_UNCOMPRESSED,
            KeyCompressionType.EC_PUBLIC_KEY_TYPE_X9_62_COMPRESSED_PRIME,
        }
    ),
)


# --- asymmetric keys: loading, checking, converting ----------------------------------------


def _name(key_format: KeyFormatType | None) -> str:
    return key_format.name if key_format is not None else "no Key Format Type"


def _plain_material(block: KeyBlock) -> Material | None:
    """The block's key material, or None if it is wrapped (the server cannot read it)."""
    value = block.key_value
    if block.key_wrapping_data is not None or not isinstance(value, KeyValue):
        return None
    material = value.key_material
    return material if isinstance(material, bytes | TransparentKeyMaterial) else None


# Checking a key costs time that grows fast with its size: the largest RSA modulus read
# (OpenSSL's own limit), and the largest encoding that can hold it.
MAX_KEY_BITS = 16384
_MAX_KEY_BYTES = 12 * MAX_KEY_BITS // 8


def _too_large(material: Material) -> bool:
    if isinstance(material, bytes):
        return len(material) > _MAX_KEY_BYTES
    return any(
        isinstance(number, int) and number.bit_length() > MAX_KEY_BITS
        for number in (material.modulus, material.private_exponent, material.p, material.q, material.d)
    )


def readable(block: KeyBlock) -> bool:
    """Whether the server holds the block's key material in the clear (not wrapped, not elsewhere)."""
    return _plain_material(block) is not None


def load_key(block: KeyBlock, private: bool) -> AnyKey:
    """The key a block holds, checked against its format and algorithm (else Invalid Field)."""
    readers = PRIVATE_READERS if private else PUBLIC_READERS
    reader = readers.get(block.key_format_type) if block.key_format_type is not None else None
    half = "private" if private else "public"
    if reader is None:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"{_name(block.key_format_type)} is not a {half} key format this server reads",
        )
    material = _plain_material(block)
    if material is None:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "a wrapped key cannot be converted")
    if _too_large(material):
        raise KmipError(ResultReason.INVALID_FIELD, f"keys larger than {MAX_KEY_BITS} bits are not read")
    try:
        key = reader(material, block.cryptographic_algorithm)
    except (ValueError, TypeError, OverflowError, UnsupportedAlgorithm) as error:
        why = str(error) if isinstance(error, _Malformed) else "it does not decode"
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"the key material is not a {_name(block.key_format_type)} {half} key: {why}",
        ) from None
    if not isinstance(key, tuple(k.private_type if private else k.public_type for k in KINDS)):
        kinds = ", ".join(k.name for k in KINDS)
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED, f"the {half} key is none of the kinds supported ({kinds})"
        )
    kind = kind_of(key)
    if block.key_format_type not in (kind.private_formats if private else kind.public_formats):
        raise KmipError(
            ResultReason.INVALID_FIELD, f"{_name(block.key_format_type)} does not carry {kind.name} keys"
        )
    if block.cryptographic_algorithm is not None and block.cryptographic_algorithm not in kind.algorithms:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"the key is an {kind.name} key, not {block.cryptographic_algorithm.name}",
        )
    return key


def write_key(
    key: AnyKey,
    wanted: KeyFormatType,
    algorithm: CryptographicAlgorithm | None = None,
    compression: KeyCompressionType | None = None,
) -> KeyBlock:
    """A key block holding `key` in the format asked for, or Key Format Type Not Supported."""
    kind = kind_of(key)
    private = isinstance(key, kind.private_type)
    formats = kind.private_formats if private else kind.public_formats
    if wanted not in formats:
        half = "private" if private else "public"
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"an {kind.name} {half} key cannot be given as {wanted.name}",
        )
    if compression is not None and (
        kind is not EC or compression not in COMPRESSIONS.get(wanted, frozenset())
    ):
        raise KmipError(
            ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED,
            f"{compression.name if compression else ''} does not apply to {wanted.name} {kind.name} keys",
        )
    writer = (PRIVATE_WRITERS if private else PUBLIC_WRITERS)[wanted]
    return KeyBlock(
        key_format_type=wanted,
        key_compression_type=compression,
        key_value=KeyValue(key_material=writer(key, compression)),
        cryptographic_algorithm=algorithm if algorithm is not None else kind.algorithms[0],
        cryptographic_length=length_of(key),
    )


def convert_key_block(
    block: KeyBlock, wanted: KeyFormatType, private: bool, compression: KeyCompressionType | None = None
) -> KeyBlock:
    """An asymmetric key block in another format (the same block if nothing changes)."""
    if block.key_format_type is wanted and compression == block.key_compression_type:
        return block
    key = load_key(block, private)
    converted = write_key(key, wanted, block.cryptographic_algorithm, compression)
    value = block.key_value
    assert isinstance(value, KeyValue) and isinstance(converted.key_value, KeyValue)
    return dataclasses.replace(
        block,
        key_format_type=converted.key_format_type,
        key_compression_type=converted.key_compression_type,
        key_value=dataclasses.replace(value, key_material=converted.key_value.key_material),
    )


# --- symmetric keys ------------------------------------------------------------------------


def _symmetric_bytes(block: KeyBlock) -> bytes | None:
    material = _plain_material(block)
    if isinstance(material, bytes) and block.key_format_type is F.RAW:
        return material
    if isinstance(material, TransparentKeyMaterial) and block.key_format_type is F.TRANSPARENT_SYMMETRIC_KEY:
        return material.key
    return None


def symmetric_key_bytes(block: KeyBlock) -> bytes:
    """A symmetric key's bytes (Raw or Transparent Symmetric Key), or Invalid Field."""
    key = _symmetric_bytes(block)
    if not key:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"a {_name(block.key_format_type)} symmetric key needs its key bytes",
        )
    return key


def _convert_symmetric(block: KeyBlock, wanted: KeyFormatType) -> KeyBlock:
    key = _symmetric_bytes(block)
    value = block.key_value
    if key is None or not isinstance(value, KeyValue) or wanted not in (F.RAW, F.TRANSPARENT_SYMMETRIC_KEY):
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"cannot give a {_name(block.key_format_type)} symmetric key as {wanted.name}",
        )
    material: Material = key if wanted is F.RAW else TransparentKeyMaterial(key=key)
    return dataclasses.replace(
        block, key_format_type=wanted, key_value=dataclasses.replace(value, key_material=material)
    )


# --- Get ----------------------------------------------------------------------------------


def _blockless_format(material: Structure) -> KeyFormatType | None:
    """The one format of an object without a key block (KMIP 2.1 §4.26, Table 81)."""
    if isinstance(material, Certificate):
        return F.X_509
    if isinstance(material, CertificateRequest):
        return F.PKCS_10 if material.certificate_request_type is CertificateRequestType.PKCS_10 else None
    if isinstance(material, OpaqueObject):
        return F.OPAQUE
    return None


def convert_block(
    block: KeyBlock, wanted: KeyFormatType, owner: type, compression: KeyCompressionType | None = None
) -> KeyBlock:
    """`block` (of an object of class `owner`) in the format asked for."""
    if block.key_format_type is wanted and compression == block.key_compression_type:
        return block
    if _plain_material(block) is None:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            "a wrapped key is given only in the format it is stored in",
        )
    if owner in (PrivateKey, PublicKey):
        return convert_key_block(block, wanted, owner is PrivateKey, compression)
    if compression is not None:
        raise KmipError(ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED, "only EC public keys are compressed")
    if owner is SymmetricKey:
        return _convert_symmetric(block, wanted)
    raise KmipError(
        ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
        f"cannot give a {_name(block.key_format_type)} {owner.__name__} as {wanted.name}",
    )


def convert_material(
    material: Structure, wanted: KeyFormatType | None, compression: KeyCompressionType | None
) -> Structure:
    """The object, with its key block in the format asked for (unchanged if none asked)."""
    block = getattr(material, "key_block", None)
    if not isinstance(block, KeyBlock):
        have = _blockless_format(material)
        if wanted not in (None, have):
            raise KmipError(
                ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
                f"a {type(material).__name__} is given only as {_name(have)}",
            )
        if compression is not None:
            raise KmipError(
                ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED,
                f"a {type(material).__name__} has no key to compress",
            )
        return material
    if wanted is None and compression is None:
        return material
    target = wanted if wanted is not None else block.key_format_type
    if target is None:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "the stored key has no Key Format Type")
    converted = copy.copy(material)
    converted.key_block = convert_block(block, target, type(material), compression)  # type: ignore[attr-defined]
    return converted
