"""Encrypt and Decrypt over real TLS: published vectors, cross-checks, streams, refusals.

Known-answer vectors are copied from their publications (named at each one); the
cross-checks register a key the test knows and check with pyca/cryptography that
what the server encrypts decrypts locally and the reverse. Streams are checked to
give what one part gives. Every refusal is checked for its Result Reason, in KMIP 2.1
and (mapped by the engine) 1.4.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import (
    KeyBlock,
    KeyValue,
    OpaqueObject,
    PrivateKey,
    PublicKey,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import (
    DecryptRequest,
    DecryptResponse,
    EncryptRequest,
    EncryptResponse,
    GetAttributesRequest,
    RegisterRequest,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, RevocationReason, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultReason,
    RevocationReasonCode,
    UsageLimitsUnit,
)
from pkcs11_kmip_server.crypto.streams import Stream, StreamTable
from pkcs11_kmip_server.errors import KmipError
from testsupport.kmip_builders import AttributeSpec, attribute_fields
from testsupport.managed_keys import an_hour_ago, client_fixture
from testsupport.managed_keys import reason_of_version as expected
from testsupport.managed_keys import refusal as refused
from testsupport.server import RunningServer

A = CryptographicAlgorithm
M = BlockCipherMode
P = PaddingMethod
H = HashingAlgorithm
ENCRYPT, DECRYPT = CryptographicUsageMask.ENCRYPT, CryptographicUsageMask.DECRYPT
V1, V2 = (1, 4), (2, 1)
CLIENT = "encrypt-decrypt"
h = bytes.fromhex


v2 = client_fixture(CLIENT, V2)
v1 = client_fixture(CLIENT, V1)
kmip = client_fixture(CLIENT, V1, V2)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


# --- helpers ---------------------------------------------------------------------------------


def register(
    kmip: KmipClient,
    algorithm: CryptographicAlgorithm,
    material: bytes,
    *extra: AttributeSpec,
    usage: CryptographicUsageMask = ENCRYPT | DECRYPT,
    active: bool = True,
) -> str:
    """A symmetric key the test knows, Active unless asked otherwise."""
    block = KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=material),
        cryptographic_algorithm=algorithm,
        cryptographic_length=168 if algorithm is A.DES3 else 8 * len(material),
    )
    dates: tuple[AttributeSpec, ...] = ((Tag.ACTIVATION_DATE, an_hour_ago()),) if active else ()
    uid: str = kmip.call(
        RegisterRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            object=SymmetricKey(key_block=block),
            **attribute_fields(kmip.version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage), *dates, *extra),
        )
    ).unique_identifier
    return uid


def register_rsa(
    kmip: KmipClient,
    key: rsa.RSAPrivateKey,
    usages: tuple[CryptographicUsageMask, CryptographicUsageMask] = (ENCRYPT, DECRYPT),
) -> tuple[str, str]:
    """The pair as two registered objects: (public key, private key), both Active."""

    def block(key_format: KeyFormatType, der: bytes) -> KeyBlock:
        return KeyBlock(
            key_format_type=key_format,
            key_value=KeyValue(key_material=der),
            cryptographic_algorithm=A.RSA,
            cryptographic_length=key.key_size,
        )

    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    uids = []
    for object_type, value, usage in (
        (ObjectType.PUBLIC_KEY, PublicKey(key_block=block(KeyFormatType.X_509, public)), usages[0]),
        (ObjectType.PRIVATE_KEY, PrivateKey(key_block=block(KeyFormatType.PKCS_8, private)), usages[1]),
    ):
        fields = attribute_fields(
            kmip.version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage), (Tag.ACTIVATION_DATE, an_hour_ago())
        )
        uids.append(
            kmip.call(RegisterRequest(object_type=object_type, object=value, **fields)).unique_identifier
        )
    return uids[0], uids[1]


def params(**fields: Any) -> CryptographicParameters:
    return CryptographicParameters(**fields)


def encrypt(kmip: KmipClient, uid: str, data: bytes | None, **fields: Any) -> EncryptResponse:
    answer: EncryptResponse = kmip.call(EncryptRequest(unique_identifier=uid, data=data, **fields))
    return answer


def decrypt(kmip: KmipClient, uid: str, data: bytes | None, **fields: Any) -> DecryptResponse:
    answer: DecryptResponse = kmip.call(DecryptRequest(unique_identifier=uid, data=data, **fields))
    return answer


# --- known answers, from the publications ----------------------------------------------------


@dataclass(frozen=True)
class Vector:
    source: str
    algorithm: CryptographicAlgorithm
    key: str
    plaintext: str
    ciphertext: str
    parameters: dict[str, Any] = field(default_factory=dict)
    iv: str | None = None
    aad: str | None = None
    tag: str | None = None


_SP800_38A_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
_SP800_38A_PLAINTEXT = (
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
_RFC8439_SUNSCREEN = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future,"
    b" sunscreen would be it."
).hex()

VECTORS = [
    Vector(
        "NIST SP 800-38A F.1.1 ECB-AES128.Encrypt",
        A.AES,
        _SP800_38A_KEY,
        _SP800_38A_PLAINTEXT,
        "3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
        "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4",
        {"block_cipher_mode": M.ECB},
    ),
    Vector(
        "NIST SP 800-38A F.2.1 CBC-AES128.Encrypt",
        A.AES,
        _SP800_38A_KEY,
        _SP800_38A_PLAINTEXT,
        "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
        "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
        {"block_cipher_mode": M.CBC},
        iv="000102030405060708090a0b0c0d0e0f",
    ),
    Vector(
        "NIST SP 800-38A F.5.1 CTR-AES128.Encrypt",
        A.AES,
        _SP800_38A_KEY,
        _SP800_38A_PLAINTEXT,
        "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
        "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee",
        {"block_cipher_mode": M.CTR},
        iv="f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
    ),
    Vector(
        "McGrew & Viega, The Galois/Counter Mode of Operation (GCM), Test Case 2 (as SP 800-38D uses)",
        A.AES,
        "00000000000000000000000000000000",
        "00000000000000000000000000000000",
        "0388dace60b6a392f328c2b971b2fe78",
        {"block_cipher_mode": M.GCM, "tag_length": 16},
        iv="000000000000000000000000",
        tag="ab6e47d42cec13bdf53a67b21257bddf",
    ),
    Vector(
        "McGrew & Viega, The Galois/Counter Mode of Operation, Test Case 4 (with additional data)",
        A.AES,
        "feffe9928665731c6d6a8f9467308308",
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
        "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
        {"block_cipher_mode": M.GCM, "tag_length": 16},
        iv="cafebabefacedbaddecaf888",
        aad="feedfacedeadbeeffeedfacedeadbeefabaddad2",
        tag="5bc94fbc3221a5db94fae95ae7121a47",
    ),
    Vector(
        "IEEE 1619-2007 Annex B, XTS-AES-128 vector 2 (data unit 0x3333333333)",
        A.AES,
        "1111111111111111111111111111111122222222222222222222222222222222",
        "44" * 32,
        "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0",
        {"block_cipher_mode": M.XTS},
        iv="3333333333" + "00" * 11,
    ),
    Vector(
        "RFC 3394 §4.1, 128 bits of key data with a 128-bit KEK",
        A.AES,
        "000102030405060708090a0b0c0d0e0f",
        "00112233445566778899aabbccddeeff",
        "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
        {"block_cipher_mode": M.NIST_KEY_WRAP},
    ),
    Vector(
        "RFC 5649 §6, 20 octets with a 192-bit KEK",
        A.AES,
        "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
        "c37b7e6492584340bed12207808941155068f738",
        "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        {"block_cipher_mode": M.AES_KEY_WRAP_PADDING},
    ),
    Vector(
        "RFC 5649 §6, 7 octets with a 192-bit KEK",
        A.AES,
        "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
        "466f7250617369",
        "afbeb0f07dfbf5419200f2ccb50bb24f",
        {"block_cipher_mode": M.AES_KEY_WRAP_PADDING},
    ),
    Vector(
        "NIST SP 800-67 Rev. 2, TDEA example ('The qufck brown fox jump', three keys, ECB)",
        A.DES3,
        "0123456789abcdef23456789abcdef01456789abcdef0123",
        b"The qufck brown fox jump".hex(),
        "a826fd8ce53b855fcce21c8112256fe668d5c05dd9b6b900",
        {"block_cipher_mode": M.ECB},
    ),
    Vector(
        "RFC 8439 §2.4.2, ChaCha20 encryption (block counter 1)",
        A.CHACHA20,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        _RFC8439_SUNSCREEN,
        "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
        "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
        "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
        "5af90bbf74a35be6b40b8eedf2785e42874d",
        {"initial_counter_value": 1},
        iv="000000000000004a00000000",
    ),
    Vector(
        "RFC 8439 §2.8.2, AEAD_CHACHA20_POLY1305",
        A.CHACHA20_POLY1305,
        "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        _RFC8439_SUNSCREEN,
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
        "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
        "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
        "3ff4def08e4b7a9de576d26586cec64b6116",
        {"block_cipher_mode": M.AEAD, "tag_length": 16},
        iv="070000004041424344454647",
        aad="50515253c0c1c2c3c4c5c6c7",
        tag="1ae10b594f09e26a7e902ecbd0600691",
    ),
]


def _vector_fields(vector: Vector) -> dict[str, Any]:
    fields: dict[str, Any] = {"cryptographic_parameters": params(**vector.parameters)}
    if vector.iv is not None:
        fields["iv_counter_nonce"] = h(vector.iv)
    if vector.aad is not None:
        fields["authenticated_encryption_additional_data"] = h(vector.aad)
    return fields


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[v.source.split(",")[0] + f" #{i}" for i, v in enumerate(VECTORS)]
)
def test_known_answers_both_ways(kmip: KmipClient, vector: Vector) -> None:
    uid = register(kmip, vector.algorithm, h(vector.key))
    fields = _vector_fields(vector)
    encrypted = encrypt(kmip, uid, h(vector.plaintext), **fields)
    assert encrypted.unique_identifier == uid
    assert encrypted.data == h(vector.ciphertext), vector.source
    assert encrypted.iv_counter_nonce is None  # the client gave it (or none is used)
    assert encrypted.authenticated_encryption_tag == (h(vector.tag) if vector.tag else None)
    if vector.tag is not None:
        fields["authenticated_encryption_tag"] = h(vector.tag)
    decrypted = decrypt(kmip, uid, h(vector.ciphertext), **fields)
    assert (decrypted.unique_identifier, decrypted.data) == (uid, h(vector.plaintext))


def test_truncated_gcm_tags_verify_by_their_prefix(v2: KmipClient) -> None:
    """Tag Length 12 to 16 (SP 800-38D §5.2.1.2): the tag is the full tag's prefix."""
    case = VECTORS[4]
    uid = register(v2, A.AES, h(case.key))
    assert case.tag is not None
    for length in range(12, 17):
        fields = _vector_fields(case)
        fields["cryptographic_parameters"] = params(block_cipher_mode=M.GCM, tag_length=length)
        assert (
            encrypt(v2, uid, h(case.plaintext), **fields).authenticated_encryption_tag == h(case.tag)[:length]
        )
        plain = decrypt(
            v2, uid, h(case.ciphertext), authenticated_encryption_tag=h(case.tag)[:length], **fields
        )
        assert plain.data == h(case.plaintext)


# --- cross-checks with pyca/cryptography -------------------------------------------------------


@dataclass(frozen=True)
class Local:
    """A mechanism as the test runs it locally: the server's parameters and pyca's cipher."""

    name: str
    algorithm: CryptographicAlgorithm
    key_size: int  # bytes
    parameters: dict[str, Any]
    iv_size: int | None
    data_size: int
    # (key, iv, aad, data) -> (ciphertext, tag) and its inverse, with pyca.
    seal: Callable[[bytes, bytes | None, bytes, bytes, int | None], tuple[bytes, bytes | None]]
    open: Callable[[bytes, bytes | None, bytes, bytes, bytes | None], bytes]
    aead: bool = False


def _pyca(make: Callable[[bytes, bytes | None], tuple[Any, Any]], pad: int | None = None) -> tuple[Any, Any]:
    def seal(
        key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag_length: int | None
    ) -> tuple[bytes, None]:
        algorithm, mode = make(key, iv)
        if pad:
            padder = _padding(pad).padder()
            data = padder.update(data) + padder.finalize()
        context = Cipher(algorithm, mode).encryptor()
        return context.update(data) + context.finalize(), None

    def open_(key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag: bytes | None) -> bytes:
        algorithm, mode = make(key, iv)
        context = Cipher(algorithm, mode).decryptor()
        plain = context.update(data) + context.finalize()
        if pad:
            unpadder = _padding(pad).unpadder()
            plain = unpadder.update(plain) + unpadder.finalize()
        return plain

    return seal, open_


def _padding(block_bits: int) -> Any:
    from cryptography.hazmat.primitives import padding as symmetric_padding

    return symmetric_padding.PKCS7(block_bits)


def _gcm_seal(
    key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag_length: int | None
) -> tuple[bytes, bytes]:
    assert iv is not None
    context = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    context.authenticate_additional_data(aad)
    out = context.update(data) + context.finalize()
    return out, context.tag[: tag_length or 16]


def _gcm_open(key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag: bytes | None) -> bytes:
    assert iv is not None and tag is not None
    context = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=len(tag))).decryptor()
    context.authenticate_additional_data(aad)
    return context.update(data) + context.finalize()


def _chachapoly_seal(
    key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag_length: int | None
) -> tuple[bytes, bytes]:
    assert iv is not None
    sealed = ChaCha20Poly1305(key).encrypt(iv, data, aad)
    return sealed[:-16], sealed[-16:]


def _chachapoly_open(key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag: bytes | None) -> bytes:
    assert iv is not None and tag is not None
    return ChaCha20Poly1305(key).decrypt(iv, data + tag, aad)


def _wrap(padded: bool) -> tuple[Any, Any]:
    def seal(
        key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag_length: int | None
    ) -> tuple[bytes, None]:
        wrap = keywrap.aes_key_wrap_with_padding if padded else keywrap.aes_key_wrap
        return wrap(key, data), None

    def open_(key: bytes, iv: bytes | None, aad: bytes, data: bytes, tag: bytes | None) -> bytes:
        unwrap = keywrap.aes_key_unwrap_with_padding if padded else keywrap.aes_key_unwrap
        return unwrap(key, data)

    return seal, open_


def _chacha20(key: bytes, iv: bytes | None) -> tuple[Any, None]:
    assert iv is not None
    return algorithms.ChaCha20(key, bytes(16 - len(iv)) + iv), None


LOCALS = [
    *(
        Local(
            f"AES-{bits}-ECB-PKCS5",
            A.AES,
            bits // 8,
            {"block_cipher_mode": M.ECB, "padding_method": P.PKCS5},
            None,
            45,
            *_pyca(lambda k, iv: (algorithms.AES(k), modes.ECB()), 128),
        )
        for bits in (128, 192, 256)
    ),
    Local(
        "AES-CBC",
        A.AES,
        32,
        {"block_cipher_mode": M.CBC},
        16,
        64,
        *_pyca(lambda k, iv: (algorithms.AES(k), modes.CBC(iv))),
    ),
    Local(
        "AES-CBC-PKCS5",
        A.AES,
        16,
        {"block_cipher_mode": M.CBC, "padding_method": P.PKCS5},
        16,
        77,
        *_pyca(lambda k, iv: (algorithms.AES(k), modes.CBC(iv)), 128),
    ),
    Local(
        "AES-CTR",
        A.AES,
        24,
        {"block_cipher_mode": M.CTR},
        16,
        100,
        *_pyca(lambda k, iv: (algorithms.AES(k), modes.CTR(iv))),
    ),
    Local(
        "AES-GCM-96",
        A.AES,
        32,
        {"block_cipher_mode": M.GCM, "tag_length": 16},
        12,
        61,
        _gcm_seal,
        _gcm_open,
        aead=True,
    ),
    Local(
        "AES-GCM-tag13-iv8",
        A.AES,
        16,
        {"block_cipher_mode": M.GCM, "tag_length": 13},
        8,
        33,
        _gcm_seal,
        _gcm_open,
        aead=True,
    ),
    Local(
        "AES-XTS-128",
        A.AES,
        32,
        {"block_cipher_mode": M.XTS},
        16,
        50,
        *_pyca(lambda k, iv: (algorithms.AES(k), modes.XTS(iv))),
    ),
    Local("AES-KW", A.AES, 32, {"block_cipher_mode": M.NIST_KEY_WRAP}, None, 32, *_wrap(False)),
    Local("AES-KWP", A.AES, 24, {"block_cipher_mode": M.AES_KEY_WRAP_PADDING}, None, 21, *_wrap(True)),
    Local(
        "3DES-ECB",
        A.DES3,
        24,
        {"block_cipher_mode": M.ECB},
        None,
        40,
        *_pyca(lambda k, iv: (TripleDES(k), modes.ECB())),
    ),
    Local(
        "3DES-CBC-PKCS5",
        A.DES3,
        24,
        {"block_cipher_mode": M.CBC, "padding_method": P.PKCS5},
        8,
        43,
        *_pyca(lambda k, iv: (TripleDES(k), modes.CBC(iv)), 64),
    ),
    Local("ChaCha20-96", A.CHACHA20, 32, {}, 12, 150, *_pyca(_chacha20)),
    Local("ChaCha20-64", A.CHACHA20, 32, {}, 8, 150, *_pyca(_chacha20)),
    Local(
        "ChaCha20-Poly1305",
        A.CHACHA20_POLY1305,
        32,
        {"tag_length": 16},
        12,
        99,
        _chachapoly_seal,
        _chachapoly_open,
        aead=True,
    ),
]


def _fields(local: Local, iv: bytes | None, aad: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = {"cryptographic_parameters": params(**local.parameters), "iv_counter_nonce": iv}
    if local.aead:
        fields["authenticated_encryption_additional_data"] = aad
    return fields


def _local_key(local: Local) -> bytes:
    key = os.urandom(local.key_size)
    if local.algorithm is A.DES3:  # three distinct DES keys with odd parity
        key = bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in key)
    return key


@pytest.mark.parametrize("local", LOCALS, ids=[local.name for local in LOCALS])
def test_what_the_server_encrypts_pyca_decrypts_and_the_reverse(kmip: KmipClient, local: Local) -> None:
    key = _local_key(local)
    uid = register(kmip, local.algorithm, key)
    data, aad = os.urandom(local.data_size), os.urandom(20) if local.aead else b""
    iv = os.urandom(local.iv_size) if local.iv_size else None
    tag_length = local.parameters.get("tag_length")

    encrypted = encrypt(kmip, uid, data, **_fields(local, iv, aad))
    assert local.open(key, iv, aad, encrypted.data or b"", encrypted.authenticated_encryption_tag) == data

    sealed, tag = local.seal(key, iv, aad, data, tag_length)
    fields = _fields(local, iv, aad)
    if local.aead:
        fields["authenticated_encryption_tag"] = tag
    assert decrypt(kmip, uid, sealed, **fields).data == data


OAEP_HASHES = [H.SHA_1, H.SHA_224, H.SHA_256, H.SHA_384, H.SHA_512]
_PYCA_HASHES: dict[HashingAlgorithm, type[hashes.HashAlgorithm]] = {
    H.SHA_1: hashes.SHA1,
    H.SHA_224: hashes.SHA224,
    H.SHA_256: hashes.SHA256,
    H.SHA_384: hashes.SHA384,
    H.SHA_512: hashes.SHA512,
}


def _oaep(hashing: HashingAlgorithm, mgf: HashingAlgorithm, label: bytes | None) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(_PYCA_HASHES[mgf]()), algorithm=_PYCA_HASHES[hashing](), label=label)


@pytest.mark.parametrize("hashing", OAEP_HASHES, ids=[h.name for h in OAEP_HASHES])
def test_rsa_oaep_with_each_hash_both_ways(v2: KmipClient, rsa_key: rsa.RSAPrivateKey, hashing: H) -> None:
    public_uid, private_uid = register_rsa(v2, rsa_key)
    mgf = H.SHA_1 if hashing is H.SHA_512 else hashing  # an MGF1 hash of its own, too
    parameters = params(
        padding_method=P.OAEP,
        hashing_algorithm=hashing,
        mask_generator_hashing_algorithm=mgf,
        p_source=b"label",
    )
    message = os.urandom(32)
    encrypted = encrypt(v2, public_uid, message, cryptographic_parameters=parameters)
    assert rsa_key.decrypt(encrypted.data or b"", _oaep(hashing, mgf, b"label")) == message
    sealed = rsa_key.public_key().encrypt(message, _oaep(hashing, mgf, b"label"))
    assert decrypt(v2, private_uid, sealed, cryptographic_parameters=parameters).data == message


def test_rsa_pkcs1_v1_5_and_the_oaep_defaults(kmip: KmipClient, rsa_key: rsa.RSAPrivateKey) -> None:
    public_uid, private_uid = register_rsa(kmip, rsa_key)
    message = os.urandom(100)
    pkcs1 = params(padding_method=P.PKCS1_V1_5)
    encrypted = encrypt(kmip, public_uid, message, cryptographic_parameters=pkcs1)
    assert rsa_key.decrypt(encrypted.data or b"", padding.PKCS1v15()) == message
    sealed = rsa_key.public_key().encrypt(message, padding.PKCS1v15())
    assert decrypt(kmip, private_uid, sealed, cryptographic_parameters=pkcs1).data == message
    # OAEP named without its hashes: SHA-1 and MGF1 with SHA-1 (KMIP 2.1 §4.16, PKCS #1).
    oaep = params(padding_method=P.OAEP)
    encrypted = encrypt(kmip, public_uid, message, cryptographic_parameters=oaep)
    assert rsa_key.decrypt(encrypted.data or b"", _oaep(H.SHA_1, H.SHA_1, None)) == message
    # No parameters at all: the server's default, OAEP with SHA-256 and MGF1 with SHA-256.
    encrypted = encrypt(kmip, public_uid, message)
    assert rsa_key.decrypt(encrypted.data or b"", _oaep(H.SHA_256, H.SHA_256, None)) == message
    assert decrypt(kmip, private_uid, encrypted.data).data == message


def test_rsa_refuses_the_wrong_half_and_too_much_data(v2: KmipClient, rsa_key: rsa.RSAPrivateKey) -> None:
    public_uid, private_uid = register_rsa(v2, rsa_key)
    oaep = params(padding_method=P.OAEP, hashing_algorithm=H.SHA_256)
    too_long = os.urandom(256 - 2 * 32 - 1)
    assert refused(
        v2, EncryptRequest(unique_identifier=public_uid, data=too_long, cryptographic_parameters=oaep)
    ) is (ResultReason.INVALID_FIELD)
    wrong_size = DecryptRequest(unique_identifier=private_uid, data=b"x" * 255, cryptographic_parameters=oaep)
    assert refused(v2, wrong_size) is ResultReason.INVALID_FIELD
    garbage = DecryptRequest(unique_identifier=private_uid, data=b"x" * 256, cryptographic_parameters=oaep)
    assert refused(v2, garbage) is ResultReason.CRYPTOGRAPHIC_FAILURE
    # The usage masks keep each half to its use; past them, the object type decides.
    assert refused(v2, DecryptRequest(unique_identifier=public_uid, data=b"x" * 256)) is (
        ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )
    both = ENCRYPT | DECRYPT
    public_uid, private_uid = register_rsa(v2, rsa_key, (both, both))
    assert (
        refused(v2, EncryptRequest(unique_identifier=private_uid, data=b"x"))
        is ResultReason.INVALID_OBJECT_TYPE
    )
    assert refused(v2, DecryptRequest(unique_identifier=public_uid, data=b"x" * 256)) is (
        ResultReason.INVALID_OBJECT_TYPE
    )


# --- parameters: the request's, the key's, the server's defaults, Random IV -------------------


def test_random_iv_is_made_returned_and_fresh(kmip: KmipClient) -> None:
    key = os.urandom(16)
    uid = register(kmip, A.AES, key)
    cbc = params(block_cipher_mode=M.CBC, padding_method=P.PKCS5, random_iv=True)
    first = encrypt(kmip, uid, b"attack at dawn", cryptographic_parameters=cbc)
    second = encrypt(kmip, uid, b"attack at dawn", cryptographic_parameters=cbc)
    assert first.iv_counter_nonce is not None and len(first.iv_counter_nonce) == 16
    assert first.iv_counter_nonce != second.iv_counter_nonce and first.data != second.data
    back = decrypt(
        kmip, uid, first.data, cryptographic_parameters=cbc, iv_counter_nonce=first.iv_counter_nonce
    )
    assert back.data == b"attack at dawn"
    # IV Length (bits) chooses the size of a random GCM IV.
    gcm = params(block_cipher_mode=M.GCM, random_iv=True, iv_length=128, tag_length=16)
    sealed = encrypt(kmip, uid, b"x" * 5, cryptographic_parameters=gcm)
    assert sealed.iv_counter_nonce is not None and len(sealed.iv_counter_nonce) == 16
    assert (
        _gcm_open(key, sealed.iv_counter_nonce, b"", sealed.data or b"", sealed.authenticated_encryption_tag)
        == b"x" * 5
    )


def test_the_keys_cryptographic_parameters_apply_when_the_request_has_none(kmip: KmipClient) -> None:
    key = os.urandom(32)
    stored = params(block_cipher_mode=M.CBC, padding_method=P.PKCS5, random_iv=True)
    uid = register(kmip, A.AES, key, (Tag.CRYPTOGRAPHIC_PARAMETERS, stored))
    sealed = encrypt(kmip, uid, b"seventeen bytes!!")
    assert sealed.iv_counter_nonce is not None
    assert (
        _pyca(lambda k, iv: (algorithms.AES(k), modes.CBC(iv)), 128)[1](
            key, sealed.iv_counter_nonce, b"", sealed.data or b"", None
        )
        == b"seventeen bytes!!"
    )
    assert (
        decrypt(kmip, uid, sealed.data, iv_counter_nonce=sealed.iv_counter_nonce).data == b"seventeen bytes!!"
    )
    # The request's parameters replace the key's whole (ECB needs no IV).
    ecb = encrypt(kmip, uid, bytes(16), cryptographic_parameters=params(block_cipher_mode=M.ECB))
    assert ecb.iv_counter_nonce is None and len(ecb.data or b"") == 16


def test_server_defaults_are_authenticated_with_a_random_iv(kmip: KmipClient) -> None:
    """No parameters anywhere: AES-GCM (16-byte tag, random 12-byte IV); ChaCha20-Poly1305 likewise."""
    key = os.urandom(16)
    uid = register(kmip, A.AES, key)
    sealed = encrypt(kmip, uid, b"defaults")
    assert sealed.iv_counter_nonce is not None and len(sealed.iv_counter_nonce) == 12
    assert sealed.authenticated_encryption_tag is not None and len(sealed.authenticated_encryption_tag) == 16
    assert _gcm_open(
        key, sealed.iv_counter_nonce, b"", sealed.data or b"", sealed.authenticated_encryption_tag
    ) == (b"defaults")
    back = decrypt(
        kmip,
        uid,
        sealed.data,
        iv_counter_nonce=sealed.iv_counter_nonce,
        authenticated_encryption_tag=sealed.authenticated_encryption_tag,
    )
    assert back.data == b"defaults"
    chacha_key = os.urandom(32)
    chacha = register(kmip, A.CHACHA20_POLY1305, chacha_key)
    sealed = encrypt(kmip, chacha, b"defaults", authenticated_encryption_additional_data=b"aad")
    assert sealed.iv_counter_nonce is not None
    assert _chachapoly_open(
        chacha_key, sealed.iv_counter_nonce, b"aad", sealed.data or b"", sealed.authenticated_encryption_tag
    ) == (b"defaults")


def test_a_chacha20_key_is_a_chacha20_poly1305_key_and_the_reverse(kmip: KmipClient) -> None:
    """Parameters naming the other ChaCha20 algorithm use the key as that one (the PKCS#11
    token's CKK_CHACHA20 keys do both); AES named for a ChaCha20 key stays refused."""
    key, nonce = os.urandom(32), os.urandom(12)
    chacha = register(kmip, A.CHACHA20, key)
    aead = params(cryptographic_algorithm=A.CHACHA20_POLY1305)
    sealed = encrypt(
        kmip,
        chacha,
        b"both ways",
        cryptographic_parameters=aead,
        iv_counter_nonce=nonce,
        authenticated_encryption_additional_data=b"aad",
    )
    assert _chachapoly_open(key, nonce, b"aad", sealed.data or b"", sealed.authenticated_encryption_tag) == (
        b"both ways"
    )
    poly = register(kmip, A.CHACHA20_POLY1305, key)
    stream = encrypt(
        kmip,
        poly,
        b"both ways",
        cryptographic_parameters=params(cryptographic_algorithm=A.CHACHA20),
        iv_counter_nonce=nonce,
    )
    cipher = Cipher(algorithms.ChaCha20(key, bytes(4) + nonce), mode=None).encryptor()
    assert stream.data == cipher.update(b"both ways")
    aes = params(cryptographic_algorithm=A.AES)
    request = EncryptRequest(unique_identifier=chacha, data=b"x", cryptographic_parameters=aes)
    assert refused(kmip, request) is expected(kmip, ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS)


def test_empty_data_is_a_valid_input(v2: KmipClient) -> None:
    """GCM over no data still authenticates the additional data (as CS-BC-M-GCM-2 shows)."""
    key = os.urandom(16)
    uid = register(v2, A.AES, key)
    gcm = params(block_cipher_mode=M.GCM, tag_length=16)
    iv = os.urandom(12)
    sealed = encrypt(
        v2,
        uid,
        b"",
        cryptographic_parameters=gcm,
        iv_counter_nonce=iv,
        authenticated_encryption_additional_data=b"a",
    )
    assert sealed.data == b""
    assert sealed.authenticated_encryption_tag == _gcm_seal(key, iv, b"a", b"", 16)[1]


# --- streams -------------------------------------------------------------------------------------


def _split(data: bytes, seed: int) -> list[bytes]:
    """`data` in parts of random sizes (some empty), the same for a seed."""
    rng, parts, start = random.Random(seed), [], 0
    while start < len(data):
        size = rng.choice([0, 1, 3, 7, 16, 17, 33])
        parts.append(data[start : start + size])
        start += size
    return parts


def stream(
    kmip: KmipClient, request: type[EncryptRequest], uid: str, parts: list[bytes], **first: Any
) -> tuple[bytes, Any]:
    """Send the parts as one stream (the first with `first`); the joined output and the last answer."""
    answer = kmip.call(request(unique_identifier=uid, data=parts[0], init_indicator=True, **first))
    correlation, output = answer.correlation_value, answer.data or b""
    assert correlation is not None
    for index, part in enumerate(parts[1:], start=1):
        final = index == len(parts) - 1
        answer = kmip.call(
            request(
                unique_identifier=uid,
                data=part or None,
                correlation_value=correlation,
                final_indicator=final or None,
            )
        )
        assert (answer.correlation_value is None) is final
        assert answer.data != b"", "a stream part answers no Data rather than empty Data"
        output += answer.data or b""
    return output, answer


@pytest.mark.parametrize("local", LOCALS, ids=[local.name for local in LOCALS])
def test_a_stream_gives_what_one_part_gives(v2: KmipClient, local: Local) -> None:
    key = _local_key(local)
    uid = register(v2, local.algorithm, key)
    data, aad = os.urandom(local.data_size + 80), os.urandom(9) if local.aead else b""  # keeps whole blocks
    iv = os.urandom(local.iv_size) if local.iv_size else None
    one = encrypt(v2, uid, data, **_fields(local, iv, aad))
    parts = [b"", *_split(data, local.data_size), b""]
    streamed, last = stream(v2, EncryptRequest, uid, parts, **_fields(local, iv, aad))
    assert streamed == one.data
    assert last.authenticated_encryption_tag == one.authenticated_encryption_tag

    fields = _fields(local, iv, aad)
    if local.aead:
        fields["authenticated_encryption_tag"] = one.authenticated_encryption_tag
    plain, _ = stream(
        v2, DecryptRequest, uid, [b"", *_split(one.data or b"", local.data_size + 1), b""], **fields
    )
    assert plain == data


def test_a_stream_asks_for_a_random_iv_on_its_first_part(kmip: KmipClient) -> None:
    key = os.urandom(16)
    uid = register(kmip, A.AES, key)
    gcm = params(block_cipher_mode=M.GCM, random_iv=True, tag_length=16)
    first = kmip.call(
        EncryptRequest(unique_identifier=uid, cryptographic_parameters=gcm, init_indicator=True)
    )
    assert first.iv_counter_nonce is not None and first.data is None
    last = kmip.call(
        EncryptRequest(
            unique_identifier=uid,
            data=b"streamed",
            correlation_value=first.correlation_value,
            final_indicator=True,
        )
    )
    assert (
        _gcm_open(key, first.iv_counter_nonce, b"", last.data, last.authenticated_encryption_tag)
        == b"streamed"
    )


def test_a_decryption_stream_fails_at_the_end_when_the_tag_does_not_verify(kmip: KmipClient) -> None:
    key = os.urandom(16)
    uid = register(kmip, A.AES, key)
    iv = os.urandom(12)
    sealed, _tag = _gcm_seal(key, iv, b"", b"sixteen bytes!!!", 16)
    gcm = params(block_cipher_mode=M.GCM, tag_length=16)
    first = kmip.call(
        DecryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=gcm,
            iv_counter_nonce=iv,
            authenticated_encryption_tag=bytes(16),
            data=sealed,
            init_indicator=True,
        )
    )
    final = DecryptRequest(
        unique_identifier=uid, correlation_value=first.correlation_value, final_indicator=True
    )
    assert refused(kmip, final) is ResultReason.CRYPTOGRAPHIC_FAILURE
    assert refused(kmip, final) is expected(
        kmip, ResultReason.INVALID_CORRELATION_VALUE
    )  # ended by its failure


def test_correlation_values_belong_to_their_client_and_operation(
    kmip_server: RunningServer, v2: KmipClient
) -> None:
    uid = register(v2, A.AES, os.urandom(16))
    ecb = params(block_cipher_mode=M.ECB)
    opened = v2.call(EncryptRequest(unique_identifier=uid, cryptographic_parameters=ecb, init_indicator=True))
    correlation = opened.correlation_value
    with kmip_server.client("encrypt-decrypt-other", version=V2) as other:
        # Another client names the stream: as unknown as a value never issued.
        assert refused(other, EncryptRequest(data=bytes(16), correlation_value=correlation)) is (
            ResultReason.INVALID_CORRELATION_VALUE
        )
    assert refused(v2, DecryptRequest(data=bytes(16), correlation_value=correlation)) is (
        ResultReason.INVALID_CORRELATION_VALUE
    )
    assert refused(v2, EncryptRequest(data=bytes(16), correlation_value=os.urandom(16))) is (
        ResultReason.INVALID_CORRELATION_VALUE
    )
    # The owner's stream survived all that.
    part = v2.call(EncryptRequest(unique_identifier=uid, data=bytes(16), correlation_value=correlation))
    assert part.correlation_value == correlation and len(part.data) == 16
    other_key = register(v2, A.AES, os.urandom(16))
    assert refused(
        v2, EncryptRequest(unique_identifier=other_key, data=bytes(16), correlation_value=correlation)
    ) is (ResultReason.INVALID_CORRELATION_VALUE)


def test_a_stream_keeps_its_first_parameters(v2: KmipClient) -> None:
    uid = register(v2, A.AES, os.urandom(16))
    ecb = params(block_cipher_mode=M.ECB)
    opened = v2.call(EncryptRequest(unique_identifier=uid, cryptographic_parameters=ecb, init_indicator=True))
    # Repeating them is fine (as CS-BC-M-GCM-3 does); changing them, or an IV later, is not.
    again = EncryptRequest(
        data=bytes(16), cryptographic_parameters=ecb, correlation_value=opened.correlation_value
    )
    assert len(v2.call(again).data) == 16
    cbc = params(block_cipher_mode=M.CBC)
    changed = EncryptRequest(
        data=bytes(16), cryptographic_parameters=cbc, correlation_value=opened.correlation_value
    )
    assert refused(v2, changed) is ResultReason.INVALID_FIELD
    # That failure ended the stream.
    assert refused(v2, again) is ResultReason.INVALID_CORRELATION_VALUE
    both = EncryptRequest(unique_identifier=uid, init_indicator=True, correlation_value=os.urandom(16))
    assert refused(v2, both) is ResultReason.INVALID_FIELD


def test_a_key_revoked_mid_stream_stops_the_stream(v2: KmipClient) -> None:
    uid = register(v2, A.AES, os.urandom(16))
    ecb = params(block_cipher_mode=M.ECB)
    opened = v2.call(EncryptRequest(unique_identifier=uid, cryptographic_parameters=ecb, init_indicator=True))
    v2.call(
        RevokeRequest(
            unique_identifier=uid,
            revocation_reason=RevocationReason(revocation_reason_code=RevocationReasonCode.KEY_COMPROMISE),
        )
    )
    part = EncryptRequest(data=bytes(16), correlation_value=opened.correlation_value)
    assert refused(v2, part) is ResultReason.WRONG_KEY_LIFECYCLE_STATE


def test_a_client_has_a_bounded_number_of_streams(kmip_server: RunningServer) -> None:
    with kmip_server.client("encrypt-decrypt-many-streams", version=V2) as kmip:
        uid = register(kmip, A.AES, os.urandom(16))
        init = EncryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=params(block_cipher_mode=M.ECB),
            init_indicator=True,
        )
        opened = [kmip.call(init).correlation_value for _ in range(StreamTable().per_client)]
        assert len(set(opened)) == len(opened)
        assert refused(kmip, init) is ResultReason.SERVER_LIMIT_EXCEEDED
        kmip.call(EncryptRequest(unique_identifier=uid, correlation_value=opened[0], final_indicator=True))
        assert kmip.call(init).correlation_value == opened[0]  # a cleanly finished value is handed on


def test_the_stream_table_expires_idle_streams_and_never_reissues_their_values() -> None:
    now = [0.0]
    table = StreamTable(per_client=2, total=3, idle_seconds=10, clock=lambda: now[0])

    def new(owner: str = "a") -> Stream:
        return Stream(owner, Operation.ENCRYPT, "key", object())

    first = table.open(new())
    now[0] = 5
    second = table.open(new())
    with pytest.raises(KmipError) as full:
        table.open(new())
    assert full.value.reason is ResultReason.SERVER_LIMIT_EXCEEDED
    now[0] = 11  # the first is idle for 11 s, the second for 6 s
    with pytest.raises(KmipError) as gone:
        table.take("a", first, Operation.ENCRYPT)
    assert gone.value.reason is ResultReason.INVALID_CORRELATION_VALUE
    third = table.open(new())
    assert third not in (first, second)  # an expired value is not handed on
    taken = table.take("a", second, Operation.ENCRYPT)
    with pytest.raises(KmipError):  # busy: a second part of the same stream waits for none
        table.take("a", second, Operation.ENCRYPT)
    with pytest.raises(KmipError) as limit:  # a busy stream still counts against its client
        table.open(new())
    assert limit.value.reason is ResultReason.SERVER_LIMIT_EXCEEDED
    table.end(taken, finished=True)
    assert table.open(new()) == second
    assert table.open(new("b")) not in (first, second, third)
    assert len(table) == 3


# --- usage enforcement and the precise reasons ------------------------------------------------


def test_usage_limits_count_encrypted_bytes_and_then_refuse(kmip: KmipClient) -> None:
    limits = UsageLimits(usage_limits_total=40, usage_limits_unit=UsageLimitsUnit.BYTE)
    uid = register(kmip, A.AES, os.urandom(16), (Tag.USAGE_LIMITS, limits))
    ecb = params(block_cipher_mode=M.ECB)
    sealed = encrypt(kmip, uid, bytes(32), cryptographic_parameters=ecb)
    decrypt(kmip, uid, sealed.data, cryptographic_parameters=ecb)  # decrypting spends nothing
    if kmip.version >= (2, 0):
        read = GetAttributesRequest(unique_identifier=uid, attribute_references=[Tag.USAGE_LIMITS])
        answer = kmip.call(read)
        assert isinstance(answer.attributes, Attributes)
        assert answer.attributes.get(Tag.USAGE_LIMITS).usage_limits_count == 8
    over = EncryptRequest(unique_identifier=uid, data=bytes(16), cryptographic_parameters=ecb)
    assert refused(kmip, over) is ResultReason.PERMISSION_DENIED  # KMIP 2.1 §6.1.17, CS-BC-M-7
    # A stream spends per part, before the part is encrypted.
    opened = kmip.call(
        EncryptRequest(
            unique_identifier=uid, data=bytes(8), cryptographic_parameters=ecb, init_indicator=True
        )
    )
    part = EncryptRequest(unique_identifier=uid, data=bytes(8), correlation_value=opened.correlation_value)
    assert refused(kmip, part) is ResultReason.PERMISSION_DENIED


def test_usage_limits_in_objects_count_operations(v2: KmipClient) -> None:
    limits = UsageLimits(usage_limits_total=2, usage_limits_unit=UsageLimitsUnit.OBJECT)
    uid = register(v2, A.AES, os.urandom(16), (Tag.USAGE_LIMITS, limits))
    ecb = params(block_cipher_mode=M.ECB)
    stream(
        v2, EncryptRequest, uid, [bytes(16), bytes(16), bytes(16)], cryptographic_parameters=ecb
    )  # one use
    encrypt(v2, uid, bytes(64), cryptographic_parameters=ecb)
    assert refused(
        v2, EncryptRequest(unique_identifier=uid, data=bytes(16), cryptographic_parameters=ecb)
    ) is (ResultReason.PERMISSION_DENIED)


def test_the_usage_mask_and_the_object_type(kmip: KmipClient) -> None:
    decrypt_only = register(kmip, A.AES, os.urandom(16), usage=DECRYPT)
    ecb = params(block_cipher_mode=M.ECB)
    assert refused(
        kmip, EncryptRequest(unique_identifier=decrypt_only, data=bytes(16), cryptographic_parameters=ecb)
    ) is (expected(kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK))
    decrypt(kmip, decrypt_only, bytes(16), cryptographic_parameters=ecb)
    opaque = kmip.call(
        RegisterRequest(
            object_type=ObjectType.OPAQUE_OBJECT,
            object=OpaqueObject(opaque_data_type=0x80000001, opaque_data_value=b"x"),
        )
    ).unique_identifier
    assert refused(kmip, EncryptRequest(unique_identifier=opaque, data=bytes(16))) is expected(
        kmip, ResultReason.INVALID_OBJECT_TYPE
    )


def test_what_each_state_allows(kmip: KmipClient) -> None:
    """NIST SP 800-57: only an Active key protects; a Deactivated or Compromised one still decrypts."""
    ecb = params(block_cipher_mode=M.ECB)
    wrong_state = expected(kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE)

    def encrypts(uid: str) -> ResultReason | None:
        try:
            encrypt(kmip, uid, bytes(16), cryptographic_parameters=ecb)
        except KmipResultError as error:
            return error.reason
        return None

    def decrypts(uid: str) -> ResultReason | None:
        try:
            decrypt(kmip, uid, bytes(16), cryptographic_parameters=ecb)
        except KmipResultError as error:
            return error.reason
        return None

    pre_active = register(kmip, A.AES, os.urandom(16), active=False)
    assert (encrypts(pre_active), decrypts(pre_active)) == (wrong_state, wrong_state)
    deactivated = register(
        kmip, A.AES, os.urandom(16), (Tag.DEACTIVATION_DATE, an_hour_ago() + timedelta(minutes=1))
    )
    assert (encrypts(deactivated), decrypts(deactivated)) == (wrong_state, None)
    compromised = register(kmip, A.AES, os.urandom(16))
    kmip.call(
        RevokeRequest(
            unique_identifier=compromised,
            revocation_reason=RevocationReason(revocation_reason_code=RevocationReasonCode.KEY_COMPROMISE),
        )
    )
    assert (encrypts(compromised), decrypts(compromised)) == (wrong_state, None)


def test_another_clients_key_is_not_found(kmip_server: RunningServer, v2: KmipClient) -> None:
    uid = register(v2, A.AES, os.urandom(16))
    with kmip_server.client("encrypt-decrypt-stranger", version=V2) as stranger:
        assert (
            refused(stranger, EncryptRequest(unique_identifier=uid, data=bytes(16)))
            is ResultReason.OBJECT_NOT_FOUND
        )


def case(
    why: str, reason: ResultReason, iv: int | None = None, **fields: Any
) -> tuple[str, dict[str, Any], ResultReason]:
    """One refused Encrypt: 16 bytes of data, an IV of `iv` bytes, and these parameters (or fields)."""
    request: dict[str, Any] = {"data": bytes(16), "iv_counter_nonce": bytes(iv) if iv is not None else None}
    for name in ("data", "authenticated_encryption_additional_data"):
        if name in fields:
            request[name] = fields.pop(name)
    request["cryptographic_parameters"] = params(**fields)
    return why, request, reason


R = ResultReason
REFUSALS = [
    case("an IV of the wrong size", R.INVALID_FIELD, 15, block_cipher_mode=M.CBC),
    case("a GCM IV too short", R.INVALID_FIELD, 7, block_cipher_mode=M.GCM),
    case("an IV where none is used", R.INVALID_FIELD, 16, block_cipher_mode=M.ECB),
    case("IV Length against the IV", R.INVALID_FIELD, 16, block_cipher_mode=M.CBC, iv_length=64),
    case("no IV and no Random IV", R.MISSING_INITIALIZATION_VECTOR, block_cipher_mode=M.CBC),
    case("unpadded data, not whole blocks", R.INVALID_FIELD, block_cipher_mode=M.ECB, data=bytes(17)),
    case("a mode the server lacks", R.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, 16, block_cipher_mode=M.CFB),
    case(
        "a padding the mode does not take",
        R.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        12,
        block_cipher_mode=M.GCM,
        padding_method=P.PKCS5,
    ),
    case(
        "an algorithm that is not the key's",
        R.BAD_CRYPTOGRAPHIC_PARAMETERS,
        block_cipher_mode=M.ECB,
        cryptographic_algorithm=A.DES3,
    ),
    case("a mode for another key length", R.BAD_CRYPTOGRAPHIC_PARAMETERS, 16, block_cipher_mode=M.XTS),
    case(
        "a GCM tag under 12 bytes (CS-BC-M-GCM-1)",
        R.GENERAL_FAILURE,
        12,
        block_cipher_mode=M.GCM,
        tag_length=8,
    ),
    case(
        "additional data without authentication",
        R.INVALID_FIELD,
        16,
        block_cipher_mode=M.CTR,
        authenticated_encryption_additional_data=b"a",
    ),
    case(
        "an Initial Counter Value for AES",
        R.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        16,
        block_cipher_mode=M.CTR,
        initial_counter_value=1,
    ),
    case("a single part without Data", R.MISSING_DATA, block_cipher_mode=M.ECB, data=None),
]


@pytest.mark.parametrize(("why", "fields", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_encrypt_refuses_with_the_precise_reason(
    kmip: KmipClient, why: str, fields: dict[str, Any], reason: ResultReason
) -> None:
    uid = register(kmip, A.AES, os.urandom(16))
    request = EncryptRequest(unique_identifier=uid, **fields)
    assert refused(kmip, request) is expected(kmip, reason), why


def test_decrypt_refuses_with_the_precise_reason(kmip: KmipClient) -> None:
    key = os.urandom(16)
    uid = register(kmip, A.AES, key)
    gcm = params(block_cipher_mode=M.GCM, tag_length=16)
    iv = os.urandom(12)
    sealed, tag = _gcm_seal(key, iv, b"aad", b"secret", 16)

    def attempt(**fields: Any) -> ResultReason | None:
        base = {"cryptographic_parameters": gcm, "iv_counter_nonce": iv, "authenticated_encryption_tag": tag,
                "authenticated_encryption_additional_data": b"aad", "data": sealed}  # fmt: skip
        return refused(kmip, DecryptRequest(unique_identifier=uid, **{**base, **fields}))

    failure = ResultReason.CRYPTOGRAPHIC_FAILURE
    assert attempt(authenticated_encryption_tag=bytes(16)) is failure
    assert attempt(authenticated_encryption_additional_data=b"other") is failure
    assert attempt(data=bytes(len(sealed))) is failure
    assert attempt(iv_counter_nonce=None) is ResultReason.INVALID_MESSAGE  # as CS-BC-M-11/12/13
    assert attempt(authenticated_encryption_tag=None) is ResultReason.INVALID_MESSAGE
    assert attempt(authenticated_encryption_tag=tag[:12]) is ResultReason.INVALID_FIELD  # Tag Length says 16
    cbc = params(block_cipher_mode=M.CBC, padding_method=P.PKCS5)
    bad_padding = DecryptRequest(
        unique_identifier=uid, data=bytes(32), cryptographic_parameters=cbc, iv_counter_nonce=bytes(16)
    )
    assert refused(kmip, bad_padding) is failure
    not_blocks = DecryptRequest(
        unique_identifier=uid, data=bytes(20), cryptographic_parameters=cbc, iv_counter_nonce=bytes(16)
    )
    assert refused(kmip, not_blocks) is ResultReason.INVALID_FIELD
    wrapped = keywrap.aes_key_wrap(os.urandom(16), os.urandom(16))
    kw = DecryptRequest(
        unique_identifier=uid,
        data=wrapped,
        cryptographic_parameters=params(block_cipher_mode=M.NIST_KEY_WRAP),
    )
    assert refused(kmip, kw) is failure


@pytest.mark.parametrize("version", [(1, 2), (1, 3)], ids=["1.2", "1.3"])
def test_authenticated_encryption_before_1_4_is_refused_before_any_work(
    kmip_server: RunningServer, version: tuple[int, int]
) -> None:
    """Authenticated Encryption Tag came with KMIP 1.4: an older client could not be given the tag."""
    with kmip_server.client(CLIENT, version=version) as old:
        limits = UsageLimits(usage_limits_total=1, usage_limits_unit=UsageLimitsUnit.OBJECT)
        uid = register(old, A.AES, os.urandom(32), (Tag.USAGE_LIMITS, limits))
        gcm = params(cryptographic_algorithm=A.AES, block_cipher_mode=M.GCM, tag_length=16)
        payload = EncryptRequest(
            unique_identifier=uid, cryptographic_parameters=gcm, data=bytes(64), iv_counter_nonce=bytes(12)
        )
        assert refused(old, payload) is ResultReason.FEATURE_NOT_SUPPORTED
        # Nothing was spent: the key's one use still encrypts, in a mode the version can carry.
        cbc = params(cryptographic_algorithm=A.AES, block_cipher_mode=M.CBC, padding_method=P.PKCS5)
        answer = encrypt(old, uid, bytes(16), cryptographic_parameters=cbc, iv_counter_nonce=bytes(16))
        assert answer.data is not None and len(answer.data) == 32
