"""Key Format Types over TLS: Get in every format, Register in each, bad material, certificates.

Each result is decoded here with pyca/cryptography alone (never with the server's own
conversion code) and compared with the key the test made or fetched first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, x25519
from cryptography.x509.oid import NameOID

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes
from pkcs11_kmip.kmip.messages.objects import (
    Certificate,
    KeyBlock,
    KeyValue,
    OpaqueObject,
    PrivateKey,
    PublicKey,
    SymmetricKey,
    TransparentKeyMaterial,
)
from pkcs11_kmip.kmip.messages.payloads import (
    CreateKeyPairRequest,
    CreateRequest,
    GetAttributesRequest,
    GetRequest,
    RegisterRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicDomainParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    DigitalSignatureAlgorithm,
    KeyCompressionType,
    KeyFormatType,
    ObjectType,
    RecommendedCurve,
    ResultReason,
)
from pkcs11_kmip.kmip.ttlv import ItemType, xml_codec
from testsupport.server import RunningServer

A = CryptographicAlgorithm
F = KeyFormatType
RC = RecommendedCurve
TESTCASES = Path("/work/shared/kmip/testcases")
_DER = serialization.Encoding.DER
_NONE = serialization.NoEncryption()


def spki(key: Any) -> bytes:
    """SubjectPublicKeyInfo: one byte string to compare any two public keys by."""
    public = key.public_key() if hasattr(key, "private_bytes") else key
    return public.public_bytes(_DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def material(block: KeyBlock) -> bytes | TransparentKeyMaterial:
    assert isinstance(block.key_value, KeyValue)
    value = block.key_value.key_material
    assert value is not None
    return value


def der_second_tag(data: bytes) -> int:
    """The tag of the second element inside a DER SEQUENCE: tells PKCS#1 from PKCS#8, SPKI, RFC 5915."""

    def content(offset: int) -> tuple[int, int]:
        first = data[offset + 1]
        if not first & 0x80:
            return offset + 2, first
        count = first & 0x7F
        return offset + 2 + count, int.from_bytes(data[offset + 2 : offset + 2 + count], "big")

    inside, _length = content(0)
    start, length = content(inside)
    return data[start + length]


# --- each format, decoded by the test --------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One key kind as the test knows it: how to make one, and the formats KMIP gives it in."""

    name: str
    algorithm: CryptographicAlgorithm
    generate: Callable[[], Any]
    private_formats: tuple[KeyFormatType, ...]
    public_formats: tuple[KeyFormatType, ...]
    curve: RecommendedCurve | None = None


RSA = Kind(
    "rsa",
    A.RSA,
    lambda: rsa.generate_private_key(65537, 2048),
    (F.PKCS_1, F.PKCS_8, F.TRANSPARENT_RSA_PRIVATE_KEY),
    (F.PKCS_1, F.X_509, F.TRANSPARENT_RSA_PUBLIC_KEY),
)
EC = Kind(
    "ec-p256",
    A.EC,
    lambda: ec.generate_private_key(ec.SECP256R1()),
    (F.EC_PRIVATE_KEY, F.PKCS_8, F.TRANSPARENT_EC_PRIVATE_KEY),
    (F.X_509, F.TRANSPARENT_EC_PUBLIC_KEY),
    RC.P_256,
)
ED25519 = Kind(
    "ed25519",
    A.ED25519,
    ed25519.Ed25519PrivateKey.generate,
    (F.PKCS_8, F.RAW, F.TRANSPARENT_EC_PRIVATE_KEY),
    (F.X_509, F.RAW, F.TRANSPARENT_EC_PUBLIC_KEY),
    RC.CURVE25519,
)
X25519 = Kind(
    "x25519",
    A.ECDH,
    x25519.X25519PrivateKey.generate,
    (F.PKCS_8, F.RAW, F.TRANSPARENT_EC_PRIVATE_KEY),
    (F.X_509, F.RAW, F.TRANSPARENT_EC_PUBLIC_KEY),
    RC.CURVE25519,
)
KINDS = (RSA, EC, ED25519, X25519)


def decode_private(kind: Kind, block: KeyBlock) -> Any:
    """The private key in a block, read the way the format's definition says."""
    value, key_format = material(block), block.key_format_type
    if key_format in (F.PKCS_1, F.PKCS_8, F.EC_PRIVATE_KEY):
        assert isinstance(value, bytes)
        expected_tag = {F.PKCS_1: 0x02, F.PKCS_8: 0x30, F.EC_PRIVATE_KEY: 0x04}[key_format]
        assert der_second_tag(value) == expected_tag
        return serialization.load_der_private_key(value, None)
    if key_format is F.RAW:
        assert isinstance(value, bytes)
        return private_class(kind).from_private_bytes(value)
    assert isinstance(value, TransparentKeyMaterial)
    if key_format is F.TRANSPARENT_RSA_PRIVATE_KEY:
        numbers = rsa.RSAPrivateNumbers(
            value.p,
            value.q,
            value.private_exponent,
            value.prime_exponent_p,
            value.prime_exponent_q,
            value.crt_coefficient,
            rsa.RSAPublicNumbers(value.public_exponent, value.modulus),
        )
        return numbers.private_key()
    assert key_format is F.TRANSPARENT_EC_PRIVATE_KEY and value.recommended_curve is kind.curve
    assert value.d is not None
    if kind is EC:
        return ec.derive_private_key(value.d, ec.SECP256R1())
    return private_class(kind).from_private_bytes(value.d.to_bytes(32, "big"))


def decode_public(kind: Kind, block: KeyBlock) -> Any:
    value, key_format = material(block), block.key_format_type
    if key_format in (F.PKCS_1, F.X_509):
        assert isinstance(value, bytes)
        assert der_second_tag(value) == (0x02 if key_format is F.PKCS_1 else 0x03)
        return serialization.load_der_public_key(value)
    if key_format is F.RAW:
        assert isinstance(value, bytes)
        return public_class(kind).from_public_bytes(value)
    assert isinstance(value, TransparentKeyMaterial)
    if key_format is F.TRANSPARENT_RSA_PUBLIC_KEY:
        assert value.public_exponent is not None and value.modulus is not None
        return rsa.RSAPublicNumbers(value.public_exponent, value.modulus).public_key()
    assert key_format is F.TRANSPARENT_EC_PUBLIC_KEY and value.recommended_curve is kind.curve
    assert value.q_string is not None
    if kind is EC:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), value.q_string)
    return public_class(kind).from_public_bytes(value.q_string)


def private_class(kind: Kind) -> Any:
    return ed25519.Ed25519PrivateKey if kind is ED25519 else x25519.X25519PrivateKey


def public_class(kind: Kind) -> Any:
    return ed25519.Ed25519PublicKey if kind is ED25519 else x25519.X25519PublicKey


def encode_private(key: Any, key_format: KeyFormatType) -> bytes | TransparentKeyMaterial:
    """A key in a format, written by the test (the client's side of Register)."""
    if key_format in (F.PKCS_1, F.EC_PRIVATE_KEY):
        return key.private_bytes(_DER, serialization.PrivateFormat.TraditionalOpenSSL, _NONE)  # type: ignore[no-any-return]
    if key_format is F.PKCS_8:
        return key.private_bytes(_DER, serialization.PrivateFormat.PKCS8, _NONE)  # type: ignore[no-any-return]
    raw = serialization.Encoding.Raw
    if key_format is F.RAW:
        return key.private_bytes(raw, serialization.PrivateFormat.Raw, _NONE)  # type: ignore[no-any-return]
    if key_format is F.TRANSPARENT_RSA_PRIVATE_KEY:
        numbers = key.private_numbers()
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
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return TransparentKeyMaterial(recommended_curve=RC.P_256, d=key.private_numbers().private_value)
    d = int.from_bytes(key.private_bytes(raw, serialization.PrivateFormat.Raw, _NONE), "big")
    return TransparentKeyMaterial(recommended_curve=RC.CURVE25519, d=d)


def encode_public(key: Any, key_format: KeyFormatType) -> bytes | TransparentKeyMaterial:
    if key_format is F.PKCS_1:
        return key.public_bytes(_DER, serialization.PublicFormat.PKCS1)  # type: ignore[no-any-return]
    if key_format is F.X_509:
        return spki(key)
    if key_format is F.RAW:
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[no-any-return]
    if key_format is F.TRANSPARENT_RSA_PUBLIC_KEY:
        numbers = key.public_numbers()
        return TransparentKeyMaterial(modulus=numbers.n, public_exponent=numbers.e)
    if isinstance(key, ec.EllipticCurvePublicKey):
        point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return TransparentKeyMaterial(recommended_curve=RC.P_256, q_string=point)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return TransparentKeyMaterial(recommended_curve=RC.CURVE25519, q_string=raw)


def register_key(
    kmip: KmipClient,
    private: bool,
    key_format: KeyFormatType,
    value: bytes | TransparentKeyMaterial,
    algorithm: CryptographicAlgorithm | None,
    attributes: Attributes | None = None,
    length: int | None = None,
) -> str:
    block = KeyBlock(
        key_format_type=key_format,
        key_value=KeyValue(key_material=value),
        cryptographic_algorithm=algorithm,
        cryptographic_length=length,
    )
    request = RegisterRequest(
        object_type=ObjectType.PRIVATE_KEY if private else ObjectType.PUBLIC_KEY,
        attributes=attributes or Attributes(),
        object=PrivateKey(key_block=block) if private else PublicKey(key_block=block),
    )
    uid = kmip.call(request).unique_identifier
    assert isinstance(uid, str)
    return uid


def get_block(
    kmip: KmipClient,
    uid: str,
    key_format: KeyFormatType | None = None,
    compression: KeyCompressionType | None = None,
) -> KeyBlock:
    request = GetRequest(unique_identifier=uid, key_format_type=key_format, key_compression_type=compression)
    block = kmip.call(request).object.key_block
    assert isinstance(block, KeyBlock)
    return block


def attributes_of(kmip: KmipClient, uid: str) -> Attributes:
    attributes = kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes
    assert isinstance(attributes, Attributes)
    return attributes


def refused(call: Callable[[], object]) -> ResultReason | None:
    with pytest.raises(KmipResultError) as error:
        call()
    assert error.value.message
    return error.value.reason


@pytest.fixture(scope="module")
def kmip(kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client("formats") as client:
        yield client


@pytest.fixture(scope="module")
def pairs(kmip: KmipClient) -> dict[str, tuple[str, str]]:
    """One generated pair per kind, made once: (private uid, public uid)."""
    common = {
        RSA.name: [(Tag.CRYPTOGRAPHIC_ALGORITHM, A.RSA), (Tag.CRYPTOGRAPHIC_LENGTH, 2048)],
        EC.name: [(Tag.CRYPTOGRAPHIC_ALGORITHM, A.EC), (Tag.CRYPTOGRAPHIC_LENGTH, 256)],
        ED25519.name: [(Tag.CRYPTOGRAPHIC_ALGORITHM, A.ED25519)],
        X25519.name: [
            (Tag.CRYPTOGRAPHIC_ALGORITHM, A.ECDH),
            (
                Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
                CryptographicDomainParameters(recommended_curve=RC.CURVE25519),
            ),
        ],
    }
    made = {}
    for name, attributes in common.items():
        response = kmip.call(
            CreateKeyPairRequest(
                common_attributes=CommonAttributes.of(*attributes),
                private_key_attributes=PrivateKeyAttributes(),
                public_key_attributes=PublicKeyAttributes(),
            )
        )
        made[name] = (response.private_key_unique_identifier, response.public_key_unique_identifier)
    return made


# --- Get in every format ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name)
def test_get_a_generated_pair_in_every_format(
    kmip: KmipClient, pairs: dict[str, tuple[str, str]], kind: Kind
) -> None:
    private_uid, public_uid = pairs[kind.name]
    reference = decode_private(kind, get_block(kmip, private_uid, kind.private_formats[0]))
    for key_format in kind.private_formats:
        block = get_block(kmip, private_uid, key_format)
        assert block.key_format_type is key_format
        assert block.cryptographic_algorithm is kind.algorithm
        private = decode_private(kind, block)
        assert spki(private) == spki(reference)
        if isinstance(private, rsa.RSAPrivateKey):
            assert private.private_numbers() == reference.private_numbers()
    for key_format in kind.public_formats:
        block = get_block(kmip, public_uid, key_format)
        assert block.key_format_type is key_format
        assert spki(decode_public(kind, block)) == spki(reference)


NOT_CARRIED = [
    (RSA, True, F.EC_PRIVATE_KEY),
    (RSA, True, F.X_509),
    (RSA, True, F.RAW),
    (RSA, True, F.TRANSPARENT_EC_PRIVATE_KEY),
    (RSA, False, F.PKCS_8),
    (RSA, False, F.TRANSPARENT_RSA_PRIVATE_KEY),
    (EC, True, F.PKCS_1),
    (EC, True, F.TRANSPARENT_RSA_PRIVATE_KEY),
    (EC, False, F.PKCS_1),
    (EC, False, F.RAW),
    (ED25519, True, F.PKCS_1),
    (ED25519, True, F.EC_PRIVATE_KEY),
    (ED25519, False, F.PKCS_1),
    (X25519, False, F.TRANSPARENT_RSA_PUBLIC_KEY),
    (RSA, False, F.PKCS_12),  # PKCS#12 carries private keys (with a password: test_split_keys.py)
    (EC, False, F.PKCS_10),
    (RSA, True, F.OPAQUE),
    (RSA, True, F.TRANSPARENT_SYMMETRIC_KEY),
]


@pytest.mark.parametrize(
    ("kind", "private", "key_format"),
    NOT_CARRIED,
    ids=[f"{k.name}-{'private' if p else 'public'}-{f.name}" for k, p, f in NOT_CARRIED],
)
def test_a_format_that_cannot_carry_the_key_is_refused(
    kmip: KmipClient, pairs: dict[str, tuple[str, str]], kind: Kind, private: bool, key_format: KeyFormatType
) -> None:
    uid = pairs[kind.name][0 if private else 1]
    assert refused(lambda: get_block(kmip, uid, key_format)) is ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED


def test_ec_public_keys_compressed_on_request(kmip: KmipClient, pairs: dict[str, tuple[str, str]]) -> None:
    _private_uid, public_uid = pairs[EC.name]
    full = decode_public(EC, get_block(kmip, public_uid, F.X_509))
    compressed = KeyCompressionType.EC_PUBLIC_KEY_TYPE_X9_62_COMPRESSED_PRIME
    for key_format in (None, F.TRANSPARENT_EC_PUBLIC_KEY):
        block = get_block(kmip, public_uid, key_format, compressed)
        assert block.key_compression_type is compressed
        value = material(block)
        assert isinstance(value, TransparentKeyMaterial) and value.q_string is not None
        assert len(value.q_string) == 33 and value.q_string[0] in (2, 3)
        assert spki(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), value.q_string)) == spki(
            full
        )
    uncompressed = get_block(
        kmip, public_uid, F.TRANSPARENT_EC_PUBLIC_KEY, KeyCompressionType.EC_PUBLIC_KEY_TYPE_UNCOMPRESSED
    )
    q_string = material(uncompressed).q_string  # type: ignore[union-attr]
    assert q_string is not None and len(q_string) == 65
    for uid, key_format in (
        (pairs[RSA.name][1], None),
        (public_uid, F.X_509),
        (pairs[ED25519.name][1], None),
    ):
        reason = refused(lambda uid=uid, key_format=key_format: get_block(kmip, uid, key_format, compressed))
        assert reason is ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED


def test_kmip_1_x_transparent_ecdsa_formats(
    kmip_server: RunningServer, pairs: dict[str, tuple[str, str]]
) -> None:
    """KMIP 1.x names Transparent EC keys per algorithm (ECDSA/ECDH/ECMQV); they carry the same numbers."""
    private_uid, public_uid = pairs[EC.name]
    with kmip_server.client("formats", version=(1, 2)) as old:
        reference = decode_private(EC, get_block(old, private_uid, F.PKCS_8))
        private = get_block(old, private_uid, F.TRANSPARENT_ECDSA_PRIVATE_KEY)
        public = get_block(old, public_uid, F.TRANSPARENT_ECDH_PUBLIC_KEY)
    value = material(private)
    assert isinstance(value, TransparentKeyMaterial)
    assert value.d == reference.private_numbers().private_value
    point = material(public)
    assert isinstance(point, TransparentKeyMaterial) and point.q_string is not None
    assert spki(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point.q_string)) == spki(
        reference
    )


def test_symmetric_keys_convert_between_raw_and_transparent_only(kmip: KmipClient) -> None:
    uid = kmip.call(
        CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=Attributes.of((Tag.CRYPTOGRAPHIC_ALGORITHM, A.AES), (Tag.CRYPTOGRAPHIC_LENGTH, 128)),
        )
    ).unique_identifier
    raw = material(get_block(kmip, uid, F.RAW))
    transparent = material(get_block(kmip, uid, F.TRANSPARENT_SYMMETRIC_KEY))
    assert isinstance(raw, bytes) and len(raw) == 16
    assert isinstance(transparent, TransparentKeyMaterial) and transparent.key == raw
    for key_format in (F.PKCS_8, F.X_509, F.TRANSPARENT_RSA_PRIVATE_KEY):
        assert refused(lambda key_format=key_format: get_block(kmip, uid, key_format)) is (
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
        )


# --- Register in each format, Get in the others --------------------------------------------

REGISTERED = [
    (kind, private, key_format)
    for kind in KINDS
    for private in (True, False)
    for key_format in (kind.private_formats if private else kind.public_formats)
]


@pytest.mark.parametrize(
    ("kind", "private", "key_format"),
    REGISTERED,
    ids=[f"{k.name}-{'private' if p else 'public'}-{f.name}" for k, p, f in REGISTERED],
)
def test_register_in_one_format_get_in_every_other(
    kmip: KmipClient, kind: Kind, private: bool, key_format: KeyFormatType
) -> None:
    key = kind.generate()
    mine = key if private else key.public_key()
    value = encode_private(mine, key_format) if private else encode_public(mine, key_format)
    # Raw and Transparent octet-string keys say Ed25519 or X25519 only by their algorithm.
    says_which = key_format in (F.PKCS_8, F.X_509)
    algorithm = None if kind in (RSA, EC) or says_which else kind.algorithm
    uid = register_key(kmip, private, key_format, value, algorithm)
    stored = get_block(kmip, uid)
    assert stored.key_format_type is key_format
    assert material(stored) == value  # as registered (KMIP 2.1 §6.1.19)
    attributes = attributes_of(kmip, uid)
    assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is kind.algorithm
    assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == (2048 if kind is RSA else 256)
    domain = attributes.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
    assert (domain.recommended_curve if domain is not None else None) is kind.curve
    decode = decode_private if private else decode_public
    for other in kind.private_formats if private else kind.public_formats:
        assert spki(decode(kind, get_block(kmip, uid, other))) == spki(key)


def test_transparent_rsa_private_key_from_its_exponents_only(kmip: KmipClient) -> None:
    """KMIP 2.1 §3.4 lets a client send the Modulus and the two exponents; the primes are recovered."""
    key = rsa.generate_private_key(65537, 2048)
    numbers = key.private_numbers()
    value = TransparentKeyMaterial(
        modulus=numbers.public_numbers.n, private_exponent=numbers.d, public_exponent=numbers.public_numbers.e
    )
    uid = register_key(kmip, True, F.TRANSPARENT_RSA_PRIVATE_KEY, value, A.RSA)
    restored = decode_private(RSA, get_block(kmip, uid, F.PKCS_1))
    assert {restored.private_numbers().p, restored.private_numbers().q} == {numbers.p, numbers.q}


def test_the_oasis_ec_vectors_register_and_convert(kmip: KmipClient) -> None:
    """TC-ECC-1-20: an ECPrivateKey and an X.509 public key on secp256k1, as a client sends them."""
    text = (TESTCASES / "kmip-testcases-v2.0-cnd02/TC-ECC-1-20.xml").read_text()
    private_hex, public_hex = re.findall(r'<KeyMaterial type="ByteString" value="([0-9a-f]+)"/>', text)[:2]
    private_uid = register_key(kmip, True, F.EC_PRIVATE_KEY, bytes.fromhex(private_hex), A.EC)
    public_uid = register_key(kmip, False, F.X_509, bytes.fromhex(public_hex), A.EC)
    assert material(get_block(kmip, private_uid)) == bytes.fromhex(private_hex)
    private = serialization.load_der_private_key(der_bytes(get_block(kmip, private_uid, F.PKCS_8)), None)
    public = material(get_block(kmip, public_uid, F.TRANSPARENT_EC_PUBLIC_KEY))
    assert isinstance(public, TransparentKeyMaterial) and public.recommended_curve is RC.SECP256_K1
    assert spki(private) == bytes.fromhex(public_hex)
    assert attributes_of(kmip, private_uid).get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS).recommended_curve is (
        RC.SECP256_K1
    )


def der_bytes(block: KeyBlock) -> bytes:
    value = material(block)
    assert isinstance(value, bytes)
    return value


def test_keys_of_other_kinds_are_not_supported(kmip: KmipClient) -> None:
    dsa_key = dsa.generate_private_key(2048).private_bytes(_DER, serialization.PrivateFormat.PKCS8, _NONE)
    reason = refused(lambda: register_key(kmip, True, F.PKCS_8, dsa_key, A.DSA))
    assert reason is ResultReason.FEATURE_NOT_SUPPORTED


def test_opaque_keys_are_kept_as_they_are(kmip: KmipClient) -> None:
    uid = register_key(kmip, True, F.OPAQUE, b"an HSM blob the server cannot read", A.RSA)
    assert material(get_block(kmip, uid, F.OPAQUE)) == b"an HSM blob the server cannot read"
    assert refused(lambda: get_block(kmip, uid, F.PKCS_8)) is ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    opaque = kmip.call(
        RegisterRequest(
            object_type=ObjectType.OPAQUE_OBJECT,
            attributes=Attributes(),
            object=OpaqueObject(opaque_data_type=0x80000001, opaque_data_value=b"opaque"),
        )
    ).unique_identifier
    assert kmip.call(
        GetRequest(unique_identifier=opaque, key_format_type=F.OPAQUE)
    ).object.opaque_data_value == (b"opaque")
    assert refused(lambda: kmip.call(GetRequest(unique_identifier=opaque, key_format_type=F.RAW))) is (
        ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    )


# --- bad key material ----------------------------------------------------------------------

_RSA_KEY = rsa.generate_private_key(65537, 2048)
_RSA_PKCS1 = _RSA_KEY.private_bytes(_DER, serialization.PrivateFormat.TraditionalOpenSSL, _NONE)
_RSA_PKCS8 = _RSA_KEY.private_bytes(_DER, serialization.PrivateFormat.PKCS8, _NONE)
_RSA_PUBLIC_PKCS1 = _RSA_KEY.public_key().public_bytes(_DER, serialization.PublicFormat.PKCS1)
_NUMBERS = _RSA_KEY.private_numbers()
_OASIS_ENCRYPTED_PKCS8 = bytes.fromhex(
    "3081a9301c060a2a864886f70d010c0103300e0408dc4dc656aa7bcc0402020800048188824b0a6786064a1d5686b852d8ff"
    "3073cb3379397dee978c60031353e1835a1a3c6289f16ff617b2d8b2d32829c265b997b406a69b96894caa39cee1c556cda3"
    "80e7174271606a4dfde4bc6182943de6e827573ce3d877b72f1cdd3a59a3721b34740466fa43390ab29fb8ac01df172f9af6"
    "bb222aeee0f9be744b425e9620902ebc76ab8ceaa555"
)  # TC-ECC-2-20: an encrypted PKCS#8 the server has no password for

BAD_KEYS: list[Any] = [
    pytest.param(True, F.PKCS_1, b"\x30\x03\x02\x01\x00", A.RSA, None, id="pkcs1-garbage"),
    pytest.param(True, F.PKCS_1, b"not DER at all", A.RSA, None, id="pkcs1-not-der"),
    pytest.param(True, F.PKCS_1, _RSA_PKCS8, A.RSA, None, id="pkcs8-labelled-pkcs1"),
    pytest.param(True, F.EC_PRIVATE_KEY, _RSA_PKCS1, A.EC, None, id="rsa-labelled-ecprivatekey"),
    pytest.param(True, F.PKCS_8, _RSA_PKCS8, A.EC, None, id="rsa-key-called-ec"),
    pytest.param(True, F.PKCS_1, _RSA_PUBLIC_PKCS1, A.RSA, None, id="public-key-registered-as-private"),
    pytest.param(False, F.PKCS_1, _RSA_PKCS1, A.RSA, None, id="private-key-registered-as-public"),
    pytest.param(False, F.X_509, _RSA_PUBLIC_PKCS1, A.RSA, None, id="pkcs1-labelled-x509"),
    pytest.param(True, F.PKCS_1, _RSA_PKCS1, A.RSA, 4096, id="wrong-length-in-the-key-block"),
    pytest.param(True, F.PKCS_8, _OASIS_ENCRYPTED_PKCS8, A.EC, None, id="encrypted-pkcs8"),
    pytest.param(
        True,
        F.TRANSPARENT_RSA_PRIVATE_KEY,
        TransparentKeyMaterial(
            modulus=_NUMBERS.public_numbers.n, p=_NUMBERS.p, q=_NUMBERS.q + 2, public_exponent=3
        ),
        A.RSA,
        None,
        id="transparent-rsa-p-q-not-the-modulus",
    ),
    pytest.param(
        True,
        F.TRANSPARENT_RSA_PRIVATE_KEY,
        TransparentKeyMaterial(modulus=_NUMBERS.public_numbers.n),
        A.RSA,
        None,
        id="transparent-rsa-modulus-only",
    ),
    pytest.param(
        True,
        F.TRANSPARENT_RSA_PRIVATE_KEY,
        b"\x01\x02",
        A.RSA,
        None,
        id="transparent-format-with-a-byte-string",
    ),
    pytest.param(
        False,
        F.TRANSPARENT_EC_PUBLIC_KEY,
        TransparentKeyMaterial(recommended_curve=RC.P_256, q_string=b"\x04" + bytes(64)),
        A.EC,
        None,
        id="ec-point-not-on-the-curve",
    ),
    pytest.param(
        False,
        F.TRANSPARENT_EC_PUBLIC_KEY,
        TransparentKeyMaterial(q_string=b"\x04" + bytes(64)),
        A.EC,
        None,
        id="ec-point-without-a-curve",
    ),
    pytest.param(
        True,
        F.TRANSPARENT_EC_PRIVATE_KEY,
        TransparentKeyMaterial(recommended_curve=RC.P_256, d=0),
        A.EC,
        None,
        id="ec-private-scalar-zero",
    ),
    pytest.param(True, F.RAW, bytes(31), A.ED25519, None, id="raw-ed25519-one-byte-short"),
    pytest.param(True, F.RAW, bytes(32), None, None, id="raw-private-key-of-no-algorithm"),
    pytest.param(True, F.RAW, bytes(32), A.RSA, None, id="raw-rsa-private-key"),
]


@pytest.mark.parametrize(("private", "key_format", "value", "algorithm", "length"), BAD_KEYS)
def test_bad_key_material_is_invalid_field(
    kmip: KmipClient,
    private: bool,
    key_format: KeyFormatType,
    value: bytes | TransparentKeyMaterial,
    algorithm: CryptographicAlgorithm | None,
    length: int | None,
) -> None:
    reason = refused(lambda: register_key(kmip, private, key_format, value, algorithm, length=length))
    assert reason is ResultReason.INVALID_FIELD


@pytest.mark.parametrize(
    ("key_format", "value"),
    [
        (F.TRANSPARENT_RSA_PRIVATE_KEY, TransparentKeyMaterial(modulus=(1 << 20000) + 1, private_exponent=3)),
        (F.PKCS_8, b"\x30\x82\x60\x00" + bytes(0x6000)),
    ],
    ids=["transparent", "der"],
)
def test_keys_too_large_to_check_are_refused_unread(
    kmip: KmipClient, key_format: KeyFormatType, value: bytes | TransparentKeyMaterial
) -> None:
    with pytest.raises(KmipResultError) as error:
        register_key(kmip, True, key_format, value, A.RSA)
    assert error.value.reason is ResultReason.INVALID_FIELD
    assert "larger than 16384 bits" in (error.value.message or "")


@pytest.mark.parametrize(
    ("given", "value"),
    [
        (Tag.CRYPTOGRAPHIC_LENGTH, 3072),
        (Tag.CRYPTOGRAPHIC_ALGORITHM, A.AES),
        (Tag.KEY_FORMAT_TYPE, F.PKCS_8),
        (Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS, CryptographicDomainParameters(recommended_curve=RC.P_256)),
    ],
    ids=lambda value: getattr(value, "name", type(value).__name__),
)
def test_attributes_that_contradict_the_key_are_invalid_field(
    kmip: KmipClient, given: Tag, value: Any
) -> None:
    reason = refused(
        lambda: register_key(kmip, True, F.PKCS_1, _RSA_PKCS1, A.RSA, Attributes.of((given, value)))
    )
    assert reason is ResultReason.INVALID_FIELD


def test_attributes_that_agree_with_the_key_are_kept(kmip: KmipClient) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    given = Attributes.of(
        (Tag.CRYPTOGRAPHIC_ALGORITHM, A.ECDSA),
        (Tag.CRYPTOGRAPHIC_LENGTH, 256),
        (Tag.KEY_FORMAT_TYPE, F.PKCS_8),
    )
    uid = register_key(kmip, True, F.PKCS_8, encode_private(key, F.PKCS_8), None, given)
    attributes = attributes_of(kmip, uid)
    assert attributes.get_all(Tag.CRYPTOGRAPHIC_ALGORITHM) == [A.ECDSA]
    assert attributes.get_all(Tag.CRYPTOGRAPHIC_LENGTH) == [256]
    assert attributes.get_all(Tag.KEY_FORMAT_TYPE) == [F.PKCS_8]
    assert get_block(kmip, uid).cryptographic_algorithm is A.ECDSA


@pytest.mark.parametrize(
    ("key_format", "value", "algorithm", "length"),
    [
        (F.RAW, bytes(10), A.AES, None),
        (F.RAW, bytes(16), A.AES, 256),
        (F.RAW, b"", A.HMAC_SHA256, None),
        (F.TRANSPARENT_SYMMETRIC_KEY, TransparentKeyMaterial(), A.AES, None),
    ],
    ids=["aes-10-bytes", "aes-length-not-its-bytes", "empty-hmac-key", "transparent-without-key"],
)
def test_bad_symmetric_keys_are_invalid_field(
    kmip: KmipClient,
    key_format: KeyFormatType,
    value: bytes | TransparentKeyMaterial,
    algorithm: CryptographicAlgorithm,
    length: int | None,
) -> None:
    block = KeyBlock(
        key_format_type=key_format,
        key_value=KeyValue(key_material=value),
        cryptographic_algorithm=algorithm,
        cryptographic_length=length,
    )
    request = RegisterRequest(
        object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes(), object=SymmetricKey(key_block=block)
    )
    assert refused(lambda: kmip.call(request)) is ResultReason.INVALID_FIELD


# --- certificates --------------------------------------------------------------------------


def _name(*parts: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


@pytest.fixture(scope="module")
def certificate() -> x509.Certificate:
    """An EC P-256 end-entity certificate issued by an RSA CA, with alternative names."""
    ca_key = rsa.generate_private_key(65537, 2048)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    issuer = _name(
        (NameOID.COUNTRY_NAME, "AU"), (NameOID.ORGANIZATION_NAME, "Kmip Test"), (NameOID.COMMON_NAME, "CA")
    )
    subject = _name(
        (NameOID.COUNTRY_NAME, "AU"),
        (NameOID.ORGANIZATION_NAME, "Kmip Test"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Keys"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "Certificates"),
        (NameOID.COMMON_NAME, "leaf.example.org"),
        (NameOID.EMAIL_ADDRESS, "keys@example.org"),
    )
    now = datetime.now(UTC)
    alternative = [
        x509.DNSName("leaf.example.org"),
        x509.RFC822Name("keys@example.org"),
        x509.IPAddress(IPv4Address("192.0.2.7")),
    ]
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(leaf_key.public_key())
        .serial_number(0x00C0FFEE_DECAFBAD)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        .add_extension(x509.IssuerAlternativeName([x509.DNSName("ca.example.org")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def register_certificate(kmip: KmipClient, der: bytes, attributes: Attributes | None = None) -> str:
    request = RegisterRequest(
        object_type=ObjectType.CERTIFICATE,
        attributes=attributes,
        object=Certificate(certificate_type=CertificateType.X_509, certificate_value=der),
    )
    uid = kmip.call(request).unique_identifier
    assert isinstance(uid, str)
    return uid


def test_a_registered_certificate_gets_its_derived_attributes(
    kmip: KmipClient, certificate: x509.Certificate
) -> None:
    der = certificate.public_bytes(_DER)
    uid = register_certificate(kmip, der)
    attributes = attributes_of(kmip, uid)
    assert attributes.get(Tag.CERTIFICATE_TYPE) is CertificateType.X_509
    assert attributes.get(Tag.CERTIFICATE_LENGTH) == len(der)
    identifier = attributes.get(Tag.X_509_CERTIFICATE_IDENTIFIER)
    assert identifier.issuer_distinguished_name == certificate.issuer.public_bytes()
    assert identifier.certificate_serial_number == bytes.fromhex("020800c0ffeedecafbad")  # DER INTEGER
    subject = attributes.get(Tag.X_509_CERTIFICATE_SUBJECT)
    assert subject.subject_distinguished_name == certificate.subject.public_bytes()
    assert subject.subject_alternative_names == [
        b"\x82\x10leaf.example.org",  # [2] dNSName
        b"\x81\x10keys@example.org",  # [1] rfc822Name
        b"\x87\x04\xc0\x00\x02\x07",  # [7] iPAddress
    ]
    issuer = attributes.get(Tag.X_509_CERTIFICATE_ISSUER)
    assert issuer.issuer_distinguished_name == certificate.issuer.public_bytes()
    assert issuer.issuer_alternative_names == [b"\x82\x0eca.example.org"]
    assert (
        attributes.get(Tag.DIGITAL_SIGNATURE_ALGORITHM)
        is DigitalSignatureAlgorithm.SHA_256_WITH_RSA_ENCRYPTION
    )
    assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is A.EC
    assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
    assert attributes.get_all(Tag.CERTIFICATE_SUBJECT_CN) == ["leaf.example.org"]
    assert attributes.get_all(Tag.CERTIFICATE_SUBJECT_OU) == ["Keys", "Certificates"]
    assert attributes.get_all(Tag.CERTIFICATE_SUBJECT_EMAIL) == ["keys@example.org"]
    assert attributes.get_all(Tag.CERTIFICATE_SUBJECT_C) == ["AU"]
    assert attributes.get_all(Tag.CERTIFICATE_ISSUER_CN) == ["CA"]
    assert attributes.get_all(Tag.CERTIFICATE_ISSUER_O) == ["Kmip Test"]
    value = kmip.call(GetRequest(unique_identifier=uid, key_format_type=F.X_509)).object.certificate_value
    assert value == der
    assert refused(lambda: kmip.call(GetRequest(unique_identifier=uid, key_format_type=F.PKCS_1))) is (
        ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED
    )


def test_kmip_1_x_clients_see_the_x509_certificate_attributes(
    kmip_server: RunningServer, certificate: x509.Certificate
) -> None:
    """KMIP 1.1 on names the X.509 Certificate Identifier/Subject/Issuer; 1.2 has no 2.x parts (CN, O ...)."""
    with kmip_server.client("formats-1x", version=(1, 2)) as old:
        uid = register_certificate(old, certificate.public_bytes(_DER))
        listed = old.call(GetAttributesRequest(unique_identifier=uid)).attribute_list
    values: dict[str, list[Any]] = {}
    for attribute in listed:
        values.setdefault(attribute.attribute_name, []).append(attribute.attribute_value)
    (identifier,) = values["X.509 Certificate Identifier"]
    assert identifier.issuer_distinguished_name == certificate.issuer.public_bytes()
    (subject,) = values["X.509 Certificate Subject"]
    assert subject.subject_distinguished_name == certificate.subject.public_bytes()
    assert values["Certificate Type"] == [CertificateType.X_509]
    assert values["Certificate Length"] == [len(certificate.public_bytes(_DER))]
    assert values["Digital Signature Algorithm"] == [DigitalSignatureAlgorithm.SHA_256_WITH_RSA_ENCRYPTION]
    assert "Certificate Subject CN" not in values


def test_the_oasis_certificate_gets_the_attributes_tc_certattr_expects(kmip: KmipClient) -> None:
    """TC-CERTATTR-1-20: the attributes a server derives from its certificate, as the test lists them."""
    document = (TESTCASES / "kmip-testcases-v2.0-cnd02/TC-CERTATTR-1-20.xml").read_bytes()
    messages = xml_codec.decode(
        document, placeholders=lambda item_type, text: "" if item_type is ItemType.TEXT_STRING else 0
    )
    register = RequestMessage.from_item(messages[0]).batch_items[0].request_payload
    expected = ResponseMessage.from_item(messages[3]).batch_items[0].response_payload.attributes
    uid = register_certificate(kmip, register.object.certificate_value, register.attributes)
    attributes = attributes_of(kmip, uid)
    derived = [
        Tag.CERTIFICATE_TYPE,
        Tag.CERTIFICATE_LENGTH,
        Tag.X_509_CERTIFICATE_IDENTIFIER,
        Tag.X_509_CERTIFICATE_SUBJECT,
        Tag.X_509_CERTIFICATE_ISSUER,
        Tag.DIGITAL_SIGNATURE_ALGORITHM,
        Tag.CRYPTOGRAPHIC_ALGORITHM,
        Tag.CRYPTOGRAPHIC_LENGTH,
        Tag.CERTIFICATE_SUBJECT_CN,
        Tag.CERTIFICATE_SUBJECT_O,
        Tag.CERTIFICATE_SUBJECT_C,
        Tag.CERTIFICATE_ISSUER_CN,
        Tag.CERTIFICATE_ISSUER_O,
        Tag.CERTIFICATE_ISSUER_C,
        Tag.CRYPTOGRAPHIC_USAGE_MASK,
    ]
    for tag in derived:
        assert expected.get_all(tag), Tag(tag).name
        assert attributes.get_all(tag) == expected.get_all(tag), Tag(tag).name


@pytest.mark.parametrize(
    ("value", "attributes"),
    [
        (b"\x30\x03\x02\x01\x00", None),
        (b"not a certificate", None),
        (None, Attributes.of((Tag.CERTIFICATE_TYPE, CertificateType.PGP))),
        (None, Attributes.of((Tag.CRYPTOGRAPHIC_ALGORITHM, A.RSA))),
        (None, Attributes.of((Tag.CERTIFICATE_SUBJECT_CN, "someone else"))),
    ],
    ids=["truncated-der", "not-der", "wrong-certificate-type", "wrong-algorithm", "wrong-subject-cn"],
)
def test_bad_certificates_are_invalid_field(
    kmip: KmipClient, certificate: x509.Certificate, value: bytes | None, attributes: Attributes | None
) -> None:
    der = value if value is not None else certificate.public_bytes(_DER)
    assert refused(lambda: register_certificate(kmip, der, attributes)) is ResultReason.INVALID_FIELD


def test_attributes_a_client_may_not_set_on_a_certificate(
    kmip: KmipClient, certificate: x509.Certificate
) -> None:
    given = Attributes.of((Tag.CERTIFICATE_LENGTH, 1))
    reason = refused(lambda: register_certificate(kmip, certificate.public_bytes(_DER), given))
    assert reason is ResultReason.ATTRIBUTE_READ_ONLY
