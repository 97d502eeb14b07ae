"""Derive Key over real TLS: published vectors, ECDH against pyca/cryptography, links, refusals.

Known answers are copied from RFC 6070 (PBKDF2-HMAC-SHA1), RFC 5869 appendix A (HKDF),
NIST CAVP KBKDF (SP 800-108 counter, feedback and double-pipeline modes, HMAC and
CMAC-AES PRFs, 32-bit counters), FIPS-197 appendix C.1 (Encrypt) and TC-DERIVEKEY-1/2-20
(HASH, HMAC). SP 800-108 counter mode is compared with pyca's KBKDFHMAC/KBKDFCMAC,
feedback mode with OpenSSL's KBKDF (`openssl kdf`; pyca has no feedback mode), ECDH
(P-256/384/521, X25519, X448) secrets with pyca's exchange of the same keys and RFC 7748
§6's X25519/X448 answers, and a derived AES key is used.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, KBKDFHMAC, CounterLocation, Mode

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.objects import KeyValue
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    DeriveKeyRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    DerivationParameters,
    Link,
    UsageLimits,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DerivationMethod,
    HashingAlgorithm,
    LinkType,
    ObjectType,
    ResultReason,
    UsageLimitsUnit,
)
from testsupport.kmip_builders import attribute_fields
from testsupport.managed_keys import (
    AnyPrivateKey,
    client_fixture,
    reason_of_version,
    refusal,
    register_key,
    register_object,
    register_pair,
    secret_data,
)

A = CryptographicAlgorithm
D = DerivationMethod
H = HashingAlgorithm
U = CryptographicUsageMask
CLIENT = "derive-key"
h = bytes.fromhex


kmip = client_fixture(CLIENT, (1, 4), (2, 1))
v2 = client_fixture(CLIENT, (2, 1))


def derive_request(
    kmip: KmipClient,
    sources: list[str],
    method: DerivationMethod,
    bits: int | None,
    *,
    object_type: ObjectType = ObjectType.SECRET_DATA,
    algorithm: CryptographicAlgorithm | None = None,
    hashing: HashingAlgorithm | None = None,
    **parameters: Any,
) -> DeriveKeyRequest:
    named = CryptographicParameters(hashing_algorithm=hashing) if hashing is not None else None
    attributes: list[tuple[int, Any]] = [(Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT | U.DECRYPT)]
    if bits is not None:
        attributes.append((Tag.CRYPTOGRAPHIC_LENGTH, bits))
    if algorithm is not None:
        attributes.append((Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm))
    return DeriveKeyRequest(
        object_type=object_type,
        unique_identifiers=sources,
        derivation_method=method,
        derivation_parameters=DerivationParameters(cryptographic_parameters=named, **parameters),
        **attribute_fields(kmip.version, *attributes),
    )


def derived_bytes(kmip: KmipClient, request: DeriveKeyRequest) -> bytes:
    uid = kmip.call(request).unique_identifier
    value = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value
    assert isinstance(value, KeyValue) and isinstance(value.key_material, bytes)
    return value.key_material


def secret(kmip: KmipClient, material: bytes, usage: U = U.DERIVE_KEY, **options: Any) -> str:
    return register_object(kmip, ObjectType.SECRET_DATA, secret_data(material), usage, **options)


# --- known answers ---------------------------------------------------------------------------

PBKDF2_SHA1 = [  # RFC 6070 §2: (P, S, c, DK)
    (b"password", b"salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
    (b"password", b"salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
    (b"password", b"salt", 4096, "4b007901b765489abead49d926f721d065a429c1"),
    (b"passwordPASSWORDpassword", b"saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096,
     "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"),
    (b"pass\0word", b"sa\0lt", 4096, "56fa6aa75548099dcc37d7f03425e0c3"),
]  # fmt: skip


@pytest.mark.parametrize(("password", "salt", "count", "expected"), PBKDF2_SHA1)
def test_pbkdf2_rfc6070(kmip: KmipClient, password: bytes, salt: bytes, count: int, expected: str) -> None:
    source = secret(kmip, password)
    request = derive_request(kmip, [source], D.PBKDF2, 4 * len(expected), salt=salt, iteration_count=count)
    assert derived_bytes(kmip, request) == h(expected)


HKDF_VECTORS = [  # RFC 5869 appendix A: (hash, IKM, salt, info, OKM)
    (H.SHA_256, "0b" * 22, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
     "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),  # A.1
    (H.SHA_256, "0b" * 22, None, None,
     "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),  # A.3
    (H.SHA_1, "0b" * 11, "000102030405060708090a0b0c", "f0f1f2f3f4f5f6f7f8f9",
     "085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896"),  # A.4
]  # fmt: skip


@pytest.mark.parametrize(("hashing", "ikm", "salt", "info", "okm"), HKDF_VECTORS)
def test_hkdf_rfc5869(
    kmip: KmipClient, hashing: HashingAlgorithm, ikm: str, salt: str | None, info: str | None, okm: str
) -> None:
    source = secret(kmip, h(ikm))
    default = hashing is H.SHA_256  # KMIP 2.1 §7.12: SHA-256 when none is named
    request = derive_request(
        kmip,
        [source],
        D.HKDF,
        4 * len(okm),
        hashing=None if default else hashing,
        salt=h(salt) if salt else None,
        derivation_data=h(info) if info else None,
    )
    assert derived_bytes(kmip, request) == h(okm)


SP800_108_COUNTER = [  # CAVP KDFCTR_gen.rsp, HMAC_SHA256, BEFORE_FIXED, RLEN=32_BITS: (KI, fixed, KO)
    ("dd1d91b7d90b2bd3138533ce92b272fbf8a369316aefe242e659cc0ae238afe0",
     "01322b96b30acd197979444e468e1c5c6859bf1b1cf951b7e725303e237e46b864a145fab25e517b08f8683d0315bb2911d80a0e8aba17f3b413faac",
     "10621342bfb0fd40046c0e29f2cfdbf0"),  # COUNT=0, L=128
    ("e204d6d466aad507ffaf6d6dab0a5b26152c9e21e764370464e360c8fbc765c6",
     "7b03b98d9f94b899e591f3ef264b71b193fba7043c7e953cde23bc5384bc1a6293580115fae3495fd845dadbd02bd6455cf48d0f62b33e62364a3a80",
     "770dfab6a6a4a4bee0257ff335213f78d8287b4fd537d5c1fffa956910e7c779"),  # COUNT=10, L=256
]  # fmt: skip


@pytest.mark.parametrize(("ki", "fixed", "ko"), SP800_108_COUNTER)
def test_sp800_108_counter_mode(kmip: KmipClient, ki: str, fixed: str, ko: str) -> None:
    key = register_key(kmip, A.HMAC_SHA256, h(ki), U.DERIVE_KEY)
    request = derive_request(kmip, [key], D.NIST800_108_C, 4 * len(ko), derivation_data=h(fixed))
    assert derived_bytes(kmip, request) == h(ko)


# NIST CAVP KBKDF vectors, 32-bit counter: CounterMode [PRF=CMAC_AES128] COUNT=0 and 10 and
# [PRF=CMAC_AES256] COUNT=0 (BEFORE_FIXED); FeedbackModeNOzeroiv [PRF=HMAC_SHA256] COUNT=0
# (AFTER_ITER); PipelineModewithCounter [PRF=HMAC_SHA256] (AFTER_ITER), two cases.
SP800_108_VECTORS = [  # (method, PRF key algorithm, KI, IV, fixed input data, KO)
    pytest.param(D.NIST800_108_C, A.AES, "c10b152e8c97b77e18704e0f0bd38305", "",
     "98cd4cbbbebe15d17dc86e6dbad800a2dcbd64f7c7ad0e78e9cf94ffdba89d03e97eadf6c4f7b806caf52aa38f09d0eb71d71f497bcc6906b48d36c4",
     "26faf61908ad9ee881b8305c221db53f", id="counter-CMAC-AES128-0"),
    pytest.param(D.NIST800_108_C, A.AES, "695f1b1a16c949cea51cdf2554ec9d42", "",
     "4fce5942832a390aa1cbe8a0bf9d202cb799e986c9d6b51f45e4d597a6b57f06a4ebfec6467335d116b7f5f9c5b954062f661820f5db2a5bbb3e0625",
     "d34b601ec18c34dfa0f9e0b7523e218bdddb9befe8d08b6c0202d75ace0dba89", id="counter-CMAC-AES128-10"),
    pytest.param(D.NIST800_108_C, A.AES,
     "d0b1b3b70b2393c48ca05159e7e28cbeadea93f28a7cdae964e5136070c45d5c", "",
     "dd2f151a3f173492a6fbbb602189d51ddf8ef79fc8e96b8fcbe6dabe73a35b48104f9dff2d63d48786d2b3af177091d646a9efae005bdfacb61a1214",
     "8c449fb474d1c1d4d2a33827103b656a", id="counter-CMAC-AES256-0"),
    pytest.param(D.NIST800_108_F, A.HMAC_SHA256,
     "93f698e842eed75394d629d957e2e89c6e741f810b623c8b901e38376d068e7b",
     "9f575d9059d3e0c0803f08112f8a806de3c3471912cdf42b095388b14b33508e",
     "53b89c18690e2057a1d167822e636de50be0018532c431f7f5e37f77139220d5e042599ebe266af5767ee18cd2c5c19a1f0f80",
     "bd1476f43a4e315747cf5918e0ea5bc0d98769457477c3ab18b742def0e079a9"
     "33b756365afb5541f253fee43c6fd788a44041038509e9eeb68f7d65ffbb5f95", id="feedback-HMAC-SHA256-0"),
    pytest.param(D.NIST800_108_DPI, A.HMAC_SHA256,
     "02d36fa021c20ddbdee469f0579468bae5cb13b548b6c61cdf9d3ec419111de2", "",
     "85abe38bf265fbdc6445ae5c71159f1548c73b7d526a623104904a0f8792070b3df9902b9669490425a385eadb0f9c76e46f0f",
     "d69f74f518c9f64f90a0beebab69f689b73b5c13eb0f860a95cad7d9814f8c50"
     "6eb7b179a5c5b4466a9ec154c3bf1c13efd6ec0d82b02c29af2c690299edc453", id="pipeline-HMAC-SHA256-a"),
    pytest.param(D.NIST800_108_DPI, A.HMAC_SHA256, "3d361a9f28aad722f68ebdc298439da1", "",
     "405344b2a4b83164b06ebac5421bf10183dc4e0f8c2e58728472ddd5ccb10bdf",
     "3422683b2d4bed1a05", id="pipeline-HMAC-SHA256-b"),
]  # fmt: skip

CMAC_PRF = CryptographicParameters(block_cipher_mode=BlockCipherMode.CMAC)


@pytest.mark.parametrize(("method", "algorithm", "ki", "iv", "fixed", "ko"), SP800_108_VECTORS)
def test_sp800_108_modes_and_prfs(
    kmip: KmipClient,
    method: DerivationMethod,
    algorithm: CryptographicAlgorithm,
    ki: str,
    iv: str,
    fixed: str,
    ko: str,
) -> None:
    key = register_key(kmip, algorithm, h(ki), U.DERIVE_KEY)
    request = derive_request(
        kmip,
        [key],
        method,
        4 * len(ko),
        derivation_data=h(fixed),
        initialization_vector=h(iv) if iv else None,
    )
    if algorithm is A.AES:  # CMAC named; an AES key with no PRF named gets HMAC-SHA256
        request.derivation_parameters.cryptographic_parameters = CMAC_PRF  # type: ignore[union-attr]
    assert derived_bytes(kmip, request) == h(ko)


@pytest.mark.parametrize("prf", ["HMAC-SHA384", "CMAC-AES192"])
def test_sp800_108_counter_mode_equals_pycas_kbkdf(kmip: KmipClient, prf: str) -> None:
    fixed, length = os.urandom(40), 80  # several PRF blocks
    if prf == "CMAC-AES192":
        ki = os.urandom(24)
        key = register_key(kmip, A.AES, ki, U.DERIVE_KEY)
        parameters = CMAC_PRF
        kdf: Any = KBKDFCMAC(algorithms.AES, Mode.CounterMode, length, 4, None, CounterLocation.BeforeFixed,
                             None, None, fixed)  # fmt: skip
    else:
        ki = os.urandom(48)
        key = secret(kmip, ki)
        parameters = CryptographicParameters(hashing_algorithm=H.SHA_384)
        kdf = KBKDFHMAC(hashes.SHA384(), Mode.CounterMode, length, 4, None, CounterLocation.BeforeFixed,
                        None, None, fixed)  # fmt: skip
    request = derive_request(kmip, [key], D.NIST800_108_C, 8 * length, derivation_data=fixed)
    request.derivation_parameters.cryptographic_parameters = parameters  # type: ignore[union-attr]
    assert derived_bytes(kmip, request) == kdf.derive(ki)


def _openssl_kbkdf(mac: list[str], key: bytes, iv: bytes, fixed: bytes, length: int) -> bytes:
    """OpenSSL's KBKDF in feedback mode, fixed input as given (no separator, no [L])."""
    options = [
        *mac,
        f"hexkey:{key.hex()}",
        "mode:FEEDBACK",
        f"hexinfo:{fixed.hex()}",
        "use-l:0",
        "use-separator:0",
    ]
    if iv:
        options.append(f"hexseed:{iv.hex()}")
    command = ["openssl", "kdf", "-keylen", str(length)]
    for option in options:
        command += ["-kdfopt", option]
    answer = subprocess.run([*command, "KBKDF"], capture_output=True, text=True, check=True).stdout
    return bytes.fromhex(answer.strip().replace(":", ""))


@pytest.mark.parametrize("prf", ["HMAC-SHA512", "CMAC-AES256"])
@pytest.mark.parametrize("with_iv", [False, True])
def test_sp800_108_feedback_mode_equals_openssls_kbkdf(v2: KmipClient, prf: str, with_iv: bool) -> None:
    # OpenSSL takes an IV as long as the PRF's output, or none.
    iv = os.urandom(16 if prf == "CMAC-AES256" else 64) if with_iv else b""
    ki, fixed, length = os.urandom(32), os.urandom(30), 100
    if prf == "CMAC-AES256":
        key = register_key(v2, A.AES, ki, U.DERIVE_KEY)
        mac = ["mac:CMAC", "cipher:AES-256-CBC"]
    else:
        key = register_key(v2, A.HMAC_SHA512, ki, U.DERIVE_KEY)  # the key names its PRF
        mac = ["mac:HMAC", "digest:SHA512"]
    request = derive_request(
        v2, [key], D.NIST800_108_F, 8 * length, derivation_data=fixed, initialization_vector=iv or None
    )
    if prf == "CMAC-AES256":
        request.derivation_parameters.cryptographic_parameters = CMAC_PRF  # type: ignore[union-attr]
    assert derived_bytes(v2, request) == _openssl_kbkdf(mac, ki, iv, fixed, length)


def test_sp800_108_refusals(kmip: KmipClient) -> None:
    hmac_key = register_key(kmip, A.HMAC_SHA256, os.urandom(32), U.DERIVE_KEY)
    des3 = register_key(kmip, A.DES3, os.urandom(24), U.DERIVE_KEY)
    odd = secret(kmip, os.urandom(20))

    def reason(
        source: str, method: DerivationMethod, parameters: CryptographicParameters | None, **fields: Any
    ) -> Any:
        request = derive_request(kmip, [source], method, 128, **fields)
        request.derivation_parameters.cryptographic_parameters = parameters  # type: ignore[union-attr]
        return refusal(kmip, request)

    bad = reason_of_version(kmip, ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS)
    assert reason(hmac_key, D.NIST800_108_C, CMAC_PRF, derivation_data=b"x") is bad  # an HMAC key's own PRF
    assert reason(des3, D.NIST800_108_DPI, CMAC_PRF, derivation_data=b"x") is bad
    assert (
        reason(
            hmac_key,
            D.NIST800_108_C,
            CryptographicParameters(block_cipher_mode=BlockCipherMode.CMAC, cryptographic_algorithm=A.DES3),
            derivation_data=b"x",
        )
        is bad
    )
    invalid = ResultReason.INVALID_FIELD
    assert reason(odd, D.NIST800_108_F, CMAC_PRF, derivation_data=b"x") is invalid  # not an AES key's length
    assert reason(hmac_key, D.NIST800_108_F, None) is invalid  # no fixed data
    # Only feedback mode has a K(0).
    assert (
        reason(hmac_key, D.NIST800_108_C, None, derivation_data=b"x", initialization_vector=b"iv") is invalid
    )
    assert (
        reason(hmac_key, D.NIST800_108_DPI, None, derivation_data=b"x", initialization_vector=b"iv")
        is invalid
    )


def test_hash_and_hmac_as_tc_derivekey_1_and_2(kmip: KmipClient) -> None:
    key_bytes = h("00112233445566778899aabbccddeeff")
    key = register_key(kmip, A.AES, key_bytes, U.DERIVE_KEY | U.ENCRYPT)
    hashed = derive_request(kmip, [key], D.HASH, 128, hashing=H.SHA_256)
    assert derived_bytes(kmip, hashed) == h("a8faed6abbf35c12a4b26e40f6feb19d")
    maced = derive_request(kmip, [key], D.HMAC, 128, hashing=H.SHA_256, derivation_data=h("0102"))
    assert derived_bytes(kmip, maced) == h("1e15c1f1da233629f770fb0a04a5020e")
    # An HMAC key's own hash is the PRF's, whatever the parameters name (KMIP 2.1 §7.12).
    hmac_key_bytes = os.urandom(64)
    hmac_key = register_key(kmip, A.HMAC_SHA512, hmac_key_bytes, U.DERIVE_KEY)
    own = derive_request(kmip, [hmac_key], D.HMAC, 512, hashing=H.SHA_256, derivation_data=b"data")
    assert derived_bytes(kmip, own) == hmac.new(hmac_key_bytes, b"data", "sha512").digest()
    # Derivation Data given as a Secret Data object.
    data_object = secret(kmip, b"as an object")
    from_object = derive_request(kmip, [hmac_key, data_object], D.HMAC, 256)
    assert (
        derived_bytes(kmip, from_object) == hmac.new(hmac_key_bytes, b"as an object", "sha512").digest()[:32]
    )
    sha3 = derive_request(kmip, [key], D.HASH, 224, hashing=H.SHA3_224)
    assert derived_bytes(kmip, sha3) == hashlib.sha3_224(key_bytes).digest()


# --- ECDH against pyca/cryptography ------------------------------------------------------------

CURVES = [
    pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()), A.EC, id="P-256"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP384R1()), A.EC, id="P-384"),
    pytest.param(lambda: ec.generate_private_key(ec.SECP521R1()), A.EC, id="P-521"),
    pytest.param(x25519.X25519PrivateKey.generate, A.ECDH, id="X25519"),
    pytest.param(x448.X448PrivateKey.generate, A.ECDH, id="X448"),
]


def point_of(key: AnyPrivateKey) -> bytes:
    """The public key as PKCS#11 gives ECDH its peer: an X9.62 point, or X25519's/X448's raw bytes."""
    if isinstance(key, x25519.X25519PrivateKey | x448.X448PrivateKey):
        return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def exchange(mine: AnyPrivateKey, theirs: AnyPrivateKey) -> bytes:
    if isinstance(mine, x25519.X25519PrivateKey) and isinstance(theirs, x25519.X25519PrivateKey):
        return mine.exchange(theirs.public_key())
    if isinstance(mine, x448.X448PrivateKey) and isinstance(theirs, x448.X448PrivateKey):
        return mine.exchange(theirs.public_key())
    assert isinstance(mine, ec.EllipticCurvePrivateKey) and isinstance(theirs, ec.EllipticCurvePrivateKey)
    return mine.exchange(ec.ECDH(), theirs.public_key())


RFC7748 = [  # §6.1 (X25519) and §6.2 (X448): Alice's private key, Bob's public key, the shared secret
    pytest.param(x25519.X25519PrivateKey, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                 "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
                 "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", id="X25519"),
    pytest.param(x448.X448PrivateKey,
                 "9a8f4925d1519f5775cf46b04b5800d4ee9ee8bae8bc5565d498c28dd9c9baf5"
                 "74a9419744897391006382a6f127ab1d9ac2d8c0a598726b",
                 "3eb7a829b0cd20f5bcfc0b599b6feccf6da4627107bdb0d4f345b43027d8b972"
                 "fc3e34fb4232a13ca706dcb57aec3dae07bdc1c67bf33609",
                 "07fff4181ac6cc95ec1c16a94a0f74d12da232ce40a77552281d282bb60c0b56"
                 "fd2464c335543936521c24403085d59a449a5037514a879d", id="X448"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "alice", "bob_public", "shared"), RFC7748)
def test_x25519_and_x448_known_answers_of_rfc_7748(
    v2: KmipClient, kind: Any, alice: str, bob_public: str, shared: str
) -> None:
    _, private = register_pair(v2, kind.from_private_bytes(h(alice)), A.ECDH, (U.DERIVE_KEY, U.DERIVE_KEY))
    request = derive_request(v2, [private], D.ASYMMETRIC_KEY, 4 * len(shared), derivation_data=h(bob_public))
    assert derived_bytes(v2, request) == h(shared)
    # A low-order peer point (u = 0) gives the all-zero secret RFC 7748 §6 says to refuse.
    zero = derive_request(v2, [private], D.ASYMMETRIC_KEY, 128, derivation_data=bytes(len(h(bob_public))))
    assert refusal(v2, zero) is ResultReason.CRYPTOGRAPHIC_FAILURE


@pytest.mark.parametrize(("generate", "algorithm"), CURVES)
def test_ecdh_equals_pycas_exchange(v2: KmipClient, generate: Any, algorithm: CryptographicAlgorithm) -> None:
    ours, theirs = generate(), generate()
    _, private = register_pair(v2, ours, algorithm, (U.DERIVE_KEY, U.DERIVE_KEY))
    their_public, _ = register_pair(v2, theirs, algorithm, (U.DERIVE_KEY, U.DERIVE_KEY))
    expected = exchange(ours, theirs)
    bits = 8 * len(expected)
    with_object = derive_request(v2, [private, their_public], D.ASYMMETRIC_KEY, bits)
    assert derived_bytes(v2, with_object) == expected
    with_data = derive_request(v2, [private], D.ASYMMETRIC_KEY, 128, derivation_data=point_of(theirs))
    assert derived_bytes(v2, with_data) == expected[:16]  # truncated, as CKD_NULL
    too_long = derive_request(v2, [private], D.ASYMMETRIC_KEY, bits + 8, derivation_data=point_of(theirs))
    assert refusal(v2, too_long) is ResultReason.INVALID_FIELD


def test_a_derived_key_is_linked_and_usable(v2: KmipClient) -> None:
    ikm, info = os.urandom(32), b"an AES key"
    source = secret(v2, ikm)
    request = derive_request(
        v2, [source], D.HKDF, 256, object_type=ObjectType.SYMMETRIC_KEY, algorithm=A.AES, derivation_data=info
    )
    uid = v2.call(request).unique_identifier

    def links(of: str) -> list[Any]:
        answer = v2.call(GetAttributesRequest(unique_identifier=of, attribute_references=[Tag.LINK]))
        return [entry.value for entry in answer.attributes]

    assert links(uid) == [
        Link(link_type=LinkType.DERIVATION_BASE_OBJECT_LINK, linked_object_identifier=source)
    ]
    assert links(source) == [Link(link_type=LinkType.DERIVED_KEY_LINK, linked_object_identifier=uid)]
    key = HKDF(hashes.SHA256(), 32, None, info).derive(ikm)
    v2.call(ActivateRequest(unique_identifier=uid))
    nonce = os.urandom(12)
    answer = v2.call(
        EncryptRequest(
            unique_identifier=uid,
            data=b"derived",
            cryptographic_parameters=CryptographicParameters(block_cipher_mode=BlockCipherMode.GCM),
            iv_counter_nonce=nonce,
        )
    )
    assert AESGCM(key).decrypt(nonce, answer.data + answer.authenticated_encryption_tag, None) == b"derived"


# --- refusals ---------------------------------------------------------------------------------


def test_every_bad_request_gets_its_reason(kmip: KmipClient) -> None:
    password = secret(kmip, b"password")

    def reason(*args: Any, **kwargs: Any) -> ResultReason | None:
        return refusal(kmip, derive_request(kmip, *args, **kwargs))

    pbkdf2 = {"salt": b"salt", "iteration_count": 2}
    no_derive = secret(kmip, b"password", U.ENCRYPT)
    assert reason([no_derive], D.PBKDF2, 128, **pbkdf2) is reason_of_version(
        kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )
    pre_active = secret(kmip, b"password", active=False)
    assert reason([pre_active], D.PBKDF2, 128, **pbkdf2) is reason_of_version(
        kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE
    )
    invalid = ResultReason.INVALID_FIELD
    wrong_type = reason_of_version(kmip, ResultReason.INVALID_OBJECT_TYPE)
    assert reason([password], D.PBKDF2, None, **pbkdf2) is invalid  # no Cryptographic Length
    assert reason([password], D.PBKDF2, 100, **pbkdf2) is invalid  # not whole bytes
    assert reason([password], D.PBKDF2, 128, object_type=ObjectType.SYMMETRIC_KEY, **pbkdf2) is invalid
    assert reason([password], D.PBKDF2, 128, salt=b"salt") is invalid  # no Iteration Count
    assert reason([password], D.PBKDF2, 128, salt=b"s", iteration_count=0) is invalid
    assert reason([password], D.PBKDF2, 128, derivation_data=b"x", **pbkdf2) is invalid
    assert reason([password], D.HASH, 128) is invalid  # HASH names its hash
    assert reason([password], D.HASH, 264, hashing=H.SHA_256) is invalid  # beyond SHA-256's 256 bits
    assert reason([password], D.HMAC, 128, hashing=H.SHA_256) is invalid  # HMAC over no data
    assert reason([password, password], D.HKDF, 128, derivation_data=b"x") is invalid  # data twice
    assert reason([password], D.HKDF, 128, initialization_vector=b"iv") is invalid
    assert reason([password], D.HASH, 128, hashing=H.SHA_256, salt=b"s") is invalid
    aes = {"object_type": ObjectType.SYMMETRIC_KEY, "algorithm": A.AES}
    assert reason([password], D.HKDF, 136, **aes) is invalid  # not an AES length
    assert reason([password], D.HASH, 128, hashing=H.MD5) is reason_of_version(
        kmip, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS
    )
    assert reason([password], D.AWS_SIGNATURE_VERSION4, 128) is reason_of_version(
        kmip, ResultReason.FEATURE_NOT_SUPPORTED
    )
    assert reason([password], D.HKDF, 128, object_type=ObjectType.PUBLIC_KEY) is wrong_type
    public, private = register_pair(
        kmip, ec.generate_private_key(ec.SECP256R1()), A.EC, (U.DERIVE_KEY, U.DERIVE_KEY)
    )
    assert reason([private], D.HKDF, 128) is wrong_type  # not a secret
    other_curve, _ = register_pair(
        kmip, ec.generate_private_key(ec.SECP384R1()), A.EC, (U.DERIVE_KEY, U.DERIVE_KEY)
    )
    assert reason([private, other_curve], D.ASYMMETRIC_KEY, 128) is wrong_type
    assert reason([private], D.ASYMMETRIC_KEY, 128) is invalid  # no peer key
    assert reason([private, public], D.ASYMMETRIC_KEY, 128, derivation_data=b"\x04" * 65) is invalid
    assert reason([private], D.ASYMMETRIC_KEY, 128, derivation_data=b"\x04" + bytes(64)) is invalid
    assert refusal(kmip, derive_request(kmip, ["no-such-object"], D.HKDF, 128)) is reason_of_version(
        kmip, ResultReason.OBJECT_NOT_FOUND
    )


def test_derivation_spends_the_sources_usage_limits(kmip: KmipClient) -> None:
    once = UsageLimits(usage_limits_total=1, usage_limits_unit=UsageLimitsUnit.OBJECT)
    source = register_object(
        kmip, ObjectType.SECRET_DATA, secret_data(b"password"), U.DERIVE_KEY, (Tag.USAGE_LIMITS, once)
    )
    request = derive_request(kmip, [source], D.HKDF, 128)
    kmip.call(request)
    assert refusal(kmip, request) is ResultReason.PERMISSION_DENIED


def test_encrypt_derivation(kmip: KmipClient) -> None:
    # FIPS-197 appendix C.1: AES-128 of 00112233...ff under 00010203...0f.
    key = register_key(kmip, A.AES, h("000102030405060708090a0b0c0d0e0f"), U.DERIVE_KEY)
    ecb = CryptographicParameters(block_cipher_mode=BlockCipherMode.ECB)
    request = derive_request(
        kmip, [key], D.ENCRYPT, 128, derivation_data=h("00112233445566778899aabbccddeeff")
    )
    request.derivation_parameters.cryptographic_parameters = ecb  # type: ignore[union-attr]
    assert derived_bytes(kmip, request) == h("69c4e0d86a7b0430d8cdb78070b4c55a")
    # CBC with the IV given, against pyca; without it there is nothing to repeat.
    key_bytes, iv, data = os.urandom(32), os.urandom(16), os.urandom(32)
    cbc_key = register_key(kmip, A.AES, key_bytes, U.DERIVE_KEY)
    cbc = CryptographicParameters(block_cipher_mode=BlockCipherMode.CBC)
    request = derive_request(kmip, [cbc_key], D.ENCRYPT, 256, derivation_data=data, initialization_vector=iv)
    request.derivation_parameters.cryptographic_parameters = cbc  # type: ignore[union-attr]
    encryptor = Cipher(algorithms.AES(key_bytes), modes.CBC(iv)).encryptor()
    assert derived_bytes(kmip, request) == encryptor.update(data) + encryptor.finalize()
    request.derivation_parameters.initialization_vector = None  # type: ignore[union-attr]
    assert refusal(kmip, request) is ResultReason.INVALID_FIELD
    longer = derive_request(kmip, [key], D.ENCRYPT, 256, derivation_data=bytes(16))
    longer.derivation_parameters.cryptographic_parameters = ecb  # type: ignore[union-attr]
    assert refusal(kmip, longer) is ResultReason.INVALID_FIELD  # one block of data, two asked for
