"""Sign and Signature Verify over real TLS: published vectors, cross-checks, streams, refusals.

The keys are made here and registered, so pyca/cryptography can check each way: what
the server signs verifies locally with the public key, and what pyca signs the server
finds Valid (and a changed signature Invalid). PKCS#1 v1.5 and EdDSA are
deterministic, so there the server's signature must equal pyca's byte for byte; RFC
8032's Ed25519 vectors pin the scheme to the publication. Streams must give what one
part gives. Every refusal is checked for its Result Reason, in KMIP 2.1 and (mapped by
the engine) 1.4.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes, RequestPayload
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, PrivateKey
from pkcs11_kmip.kmip.messages.payloads import (
    RevokeRequest,
    SignatureVerifyRequest,
    SignatureVerifyResponse,
    SignRequest,
    SignResponse,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, RevocationReason, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    PaddingMethod,
    ResultReason,
    RevocationReasonCode,
    UsageLimitsUnit,
    ValidityIndicator,
)
from pkcs11_kmip_server.crypto import pyca
from pkcs11_kmip_server.store import ObjectRecord
from testsupport import managed_keys
from testsupport.kmip_builders import AttributeSpec, aes_register
from testsupport.managed_keys import an_hour_ago
from testsupport.managed_keys import reason_of_version as expected
from testsupport.managed_keys import refusal as refused
from testsupport.server import RunningServer

A = CryptographicAlgorithm
H = HashingAlgorithm
P = PaddingMethod
D = DigitalSignatureAlgorithm
SIGN, VERIFY = CryptographicUsageMask.SIGN, CryptographicUsageMask.VERIFY
VALID, INVALID = ValidityIndicator.VALID, ValidityIndicator.INVALID
V1, V2 = (1, 4), (2, 1)
CLIENT = "sign-verify"
DATA = b"The data a KMIP client has the server sign, " * 3
h = bytes.fromhex

PYCA_HASHES: dict[HashingAlgorithm, type[hashes.HashAlgorithm]] = {
    H.SHA_1: hashes.SHA1,
    H.SHA_224: hashes.SHA224,
    H.SHA_256: hashes.SHA256,
    H.SHA_384: hashes.SHA384,
    H.SHA_512: hashes.SHA512,
    H.SHA3_224: hashes.SHA3_224,
    H.SHA3_256: hashes.SHA3_256,
    H.SHA3_384: hashes.SHA3_384,
    H.SHA3_512: hashes.SHA3_512,
}
PrivateKeyType = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)


@pytest.fixture
def v2(kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client(CLIENT, version=V2) as client:
        yield client


@pytest.fixture(params=[V1, V2], ids=["1.4", "2.1"])
def kmip(request: pytest.FixtureRequest, kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client(CLIENT, version=request.param) as client:
        yield client


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def ec_keys() -> dict[int, ec.EllipticCurvePrivateKey]:
    return {
        curve.key_size: ec.generate_private_key(curve)
        for curve in (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1())
    }


# --- helpers ---------------------------------------------------------------------------------


def algorithm_of(key: PrivateKeyType) -> CryptographicAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey):
        return A.RSA
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return A.EC
    return A.ED25519 if isinstance(key, ed25519.Ed25519PrivateKey) else A.ED448


@dataclass(frozen=True)
class Pair:
    public: str
    private: str


def register_pair(
    kmip: KmipClient,
    key: PrivateKeyType,
    *extra: AttributeSpec,
    usages: tuple[CryptographicUsageMask, CryptographicUsageMask] = (VERIFY, SIGN),
    active: bool = True,
) -> Pair:
    """The key pair as two registered objects (X.509 public, PKCS#8 private), Active unless asked."""
    public, private = managed_keys.register_pair(kmip, key, algorithm_of(key), usages, *extra, active=active)
    return Pair(public, private)


def params(**fields: Any) -> CryptographicParameters:
    return CryptographicParameters(**fields)


def sign(kmip: KmipClient, uid: str, data: bytes | None = None, **fields: Any) -> SignResponse:
    answer: SignResponse = kmip.call(SignRequest(unique_identifier=uid, data=data, **fields))
    return answer


def verify(kmip: KmipClient, uid: str, data: bytes | None, signature: bytes | None, **fields: Any) -> Any:
    answer: SignatureVerifyResponse = kmip.call(
        SignatureVerifyRequest(unique_identifier=uid, data=data, signature_data=signature, **fields)
    )
    return answer.validity_indicator


def flip(signature: bytes) -> bytes:
    return signature[:-1] + bytes([signature[-1] ^ 1])


def pyca_verify(key: PrivateKeyType, signature: bytes, data: bytes, scheme: Scheme) -> None:
    """Raises InvalidSignature unless pyca finds the signature valid."""
    public: Any = key.public_key()
    public.verify(signature, data, *scheme.pyca_arguments())


def pyca_sign(key: PrivateKeyType, data: bytes, scheme: Scheme) -> bytes:
    signer: Any = key
    return bytes(signer.sign(data, *scheme.pyca_arguments()))


# --- the schemes, each way -------------------------------------------------------------------


@dataclass(frozen=True)
class Scheme:
    """A signature scheme as the KMIP request names it and as pyca computes it."""

    key: str  # "rsa", "ec256", "ec384", "ec521", "ed25519", "ed448"
    parameters: CryptographicParameters | None
    padding: str | None = None  # "pkcs1", "pss" (RSA)
    hashing: HashingAlgorithm | None = None
    deterministic: bool = False

    def pyca_arguments(self) -> tuple[Any, ...]:
        if self.hashing is None:
            return ()
        algorithm = PYCA_HASHES[self.hashing]()
        if self.padding == "pkcs1":
            return padding.PKCS1v15(), algorithm
        if self.padding == "pss":
            return padding.PSS(padding.MGF1(algorithm), padding.PSS.DIGEST_LENGTH), algorithm
        return (ec.ECDSA(algorithm),)


def _rsa_schemes() -> list[Scheme]:
    schemes = [
        Scheme("rsa", params(padding_method=P.PKCS1_V1_5, hashing_algorithm=hashing), "pkcs1", hashing, True)
        for hashing in PYCA_HASHES
        if hashing is not H.SHA3_224  # OpenSSL has no DigestInfo for SHA3-224 in PKCS#1 v1.5
    ]
    schemes += [
        Scheme("rsa", params(padding_method=P.PSS, hashing_algorithm=hashing), "pss", hashing)
        for hashing in (H.SHA_1, H.SHA_256, H.SHA_384, H.SHA_512, H.SHA3_256, H.SHA3_512)
    ]
    schemes.append(Scheme("rsa", None, "pkcs1", H.SHA_256, True))  # the server's default
    schemes.append(
        Scheme(
            "rsa", params(digital_signature_algorithm=D.SHA_384_WITH_RSA_ENCRYPTION), "pkcs1", H.SHA_384, True
        )
    )
    schemes.append(
        Scheme(
            "rsa",
            params(digital_signature_algorithm=D.RSASSA_PSS, hashing_algorithm=H.SHA_512),
            "pss",
            H.SHA_512,
        )
    )
    return schemes


SCHEMES = [
    *_rsa_schemes(),
    Scheme("ec256", None, None, H.SHA_256),  # the curve's default hash
    Scheme("ec384", None, None, H.SHA_384),
    Scheme("ec521", None, None, H.SHA_512),
    Scheme("ec256", params(cryptographic_algorithm=A.ECDSA, hashing_algorithm=H.SHA_512), None, H.SHA_512),
    Scheme("ec384", params(digital_signature_algorithm=D.ECDSA_WITH_SHA256), None, H.SHA_256),
    Scheme("ec521", params(hashing_algorithm=H.SHA3_512), None, H.SHA3_512),
    Scheme("ed25519", None, deterministic=True),
    Scheme("ed448", None, deterministic=True),
]


def _scheme_id(scheme: Scheme) -> str:
    named = scheme.parameters
    if named is None:
        return f"{scheme.key}-default"
    parts = [named.digital_signature_algorithm, named.padding_method, named.hashing_algorithm]
    return "-".join([scheme.key, *(part.name for part in parts if part is not None)])


@pytest.fixture(scope="module")
def keys(
    rsa_key: rsa.RSAPrivateKey, ec_keys: dict[int, ec.EllipticCurvePrivateKey]
) -> dict[str, PrivateKeyType]:
    return {
        "rsa": rsa_key,
        **{f"ec{size}": key for size, key in ec_keys.items()},
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
        "ed448": ed448.Ed448PrivateKey.generate(),
    }


@pytest.fixture(scope="module")
def registered(kmip_server: RunningServer, keys: dict[str, PrivateKeyType]) -> dict[str, Pair]:
    with kmip_server.client(CLIENT, version=V2) as client:
        return {name: register_pair(client, key) for name, key in keys.items()}


@pytest.mark.parametrize("scheme", SCHEMES, ids=_scheme_id)
def test_what_the_server_signs_pyca_verifies_and_the_reverse(
    v2: KmipClient, keys: dict[str, PrivateKeyType], registered: dict[str, Pair], scheme: Scheme
) -> None:
    key, pair = keys[scheme.key], registered[scheme.key]
    fields = {"cryptographic_parameters": scheme.parameters}
    signature = sign(v2, pair.private, DATA, **fields).signature_data
    assert signature is not None
    pyca_verify(key, signature, DATA, scheme)
    local = pyca_sign(key, DATA, scheme)
    if scheme.deterministic:
        assert signature == local
    assert verify(v2, pair.public, DATA, local, **fields) is VALID
    assert verify(v2, pair.public, DATA, signature, **fields) is VALID
    assert verify(v2, pair.public, DATA, flip(local), **fields) is INVALID
    assert verify(v2, pair.public, DATA + b"!", local, **fields) is INVALID


# RFC 8032 §7.1 (Ed25519) TEST 1 (empty message) and TEST 2 (one octet); §7.4 (Ed448) "Blank".
RFC8032 = [
    pytest.param(
        ed25519.Ed25519PrivateKey,
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        id="Ed25519 TEST 1",
    ),
    pytest.param(
        ed25519.Ed25519PrivateKey,
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        id="Ed25519 TEST 2",
    ),
    pytest.param(
        ed448.Ed448PrivateKey,
        "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
        "",
        "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600",
        id="Ed448 Blank",
    ),
]


@pytest.mark.parametrize(("kind", "secret", "message", "signature"), RFC8032)
def test_eddsa_known_answers_of_rfc_8032(
    kmip: KmipClient, kind: Any, secret: str, message: str, signature: str
) -> None:
    pair = register_pair(kmip, kind.from_private_bytes(h(secret)))
    assert sign(kmip, pair.private, h(message)).signature_data == h(signature)
    assert verify(kmip, pair.public, h(message), h(signature)) is VALID
    assert verify(kmip, pair.public, h(message) + b"\0", h(signature)) is INVALID


# --- parameters from the key, digested data ---------------------------------------------------


def test_the_keys_own_parameters_apply_when_the_request_names_none(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """As CS-AC-M-1 registers its key: PSS with SHA-512 in the key's Cryptographic Parameters."""
    own = params(padding_method=P.PSS, hashing_algorithm=H.SHA_512, cryptographic_algorithm=A.RSA)
    pair = register_pair(kmip, rsa_key, (Tag.CRYPTOGRAPHIC_PARAMETERS, own))
    signature = sign(kmip, pair.private, DATA).signature_data
    assert signature is not None
    pss = Scheme("rsa", None, "pss", H.SHA_512)
    pyca_verify(rsa_key, signature, DATA, pss)
    assert verify(kmip, pair.public, DATA, signature) is VALID
    # The request's parameters are taken whole instead: PKCS#1 v1.5 does not verify a PSS signature.
    pkcs1 = params(padding_method=P.PKCS1_V1_5, hashing_algorithm=H.SHA_512)
    assert verify(kmip, pair.public, DATA, signature, cryptographic_parameters=pkcs1) is INVALID


def test_digested_data_is_signed_as_the_digest_of_the_data(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, ec_keys: dict[int, ec.EllipticCurvePrivateKey]
) -> None:
    digest = hashlib.sha384(DATA).digest()
    sha384 = params(hashing_algorithm=H.SHA_384)
    for key, scheme in (
        (rsa_key, Scheme("rsa", None, "pkcs1", H.SHA_384)),
        (ec_keys[384], Scheme("ec384", None, None, H.SHA_384)),
    ):
        pair = register_pair(kmip, key)
        signature = sign(
            kmip, pair.private, digested_data=digest, cryptographic_parameters=sha384
        ).signature_data
        assert signature is not None
        pyca_verify(key, signature, DATA, scheme)  # over the data itself
        assert verify(kmip, pair.public, DATA, signature, cryptographic_parameters=sha384) is VALID
        assert (
            verify(kmip, pair.public, None, signature, digested_data=digest, cryptographic_parameters=sha384)
            is VALID
        )


def test_rsa_digested_data_with_no_hash_named_is_signed_as_given(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    """No DigestInfo is added (CKM_RSA_PKCS): DigestInfo || SHA-256 sent gives PKCS#1 v1.5 with SHA-256."""
    digest_info = h("3031300d060960864801650304020105000420") + hashlib.sha256(DATA).digest()
    pair = register_pair(kmip, rsa_key)
    signature = sign(kmip, pair.private, digested_data=digest_info).signature_data
    assert signature is not None
    pyca_verify(rsa_key, signature, DATA, Scheme("rsa", None, "pkcs1", H.SHA_256))
    assert verify(kmip, pair.public, None, signature, digested_data=digest_info) is VALID


def test_ecdsa_signs_a_digest_shorter_than_the_curve(
    kmip: KmipClient, ec_keys: dict[int, ec.EllipticCurvePrivateKey]
) -> None:
    """16 bytes, as TC-ECDSA-SIGN-DIGESTEDDATA-1 signs: ECDSA takes the digest as an integer."""
    key = ec_keys[256]
    pair = register_pair(kmip, key)
    short = bytes(range(1, 17))
    signature = sign(kmip, pair.private, digested_data=short).signature_data
    assert signature is not None
    key.public_key().verify(signature, bytes(16) + short, ec.ECDSA(Prehashed(hashes.SHA256())))
    assert verify(kmip, pair.public, None, signature, digested_data=short) is VALID


# --- streams ----------------------------------------------------------------------------------


def _stream(
    kmip: KmipClient,
    request: type[SignRequest] | type[SignatureVerifyRequest],
    uid: str,
    parts: list[bytes],
    **first: Any,
) -> Any:
    answer = kmip.call(request(unique_identifier=uid, data=parts[0], init_indicator=True, **first))
    correlation = answer.correlation_value
    assert correlation is not None
    for part in parts[1:-1]:
        answer = kmip.call(request(unique_identifier=uid, data=part, correlation_value=correlation))
        assert answer.correlation_value == correlation
        assert getattr(answer, "signature_data", None) is None
        assert getattr(answer, "validity_indicator", None) is None
    return kmip.call(
        request(unique_identifier=uid, data=parts[-1], correlation_value=correlation, final_indicator=True)
    )


PARTS = [DATA[:5], DATA[5:70], b"", DATA[70:]]


@pytest.mark.parametrize("name", ["rsa", "ec256", "ed25519"])
def test_a_streamed_signature_equals_one_part(
    kmip: KmipClient, keys: dict[str, PrivateKeyType], name: str
) -> None:
    key = keys[name]
    pair = register_pair(kmip, key)
    streamed = _stream(kmip, SignRequest, pair.private, PARTS).signature_data
    one = sign(kmip, pair.private, DATA).signature_data
    if name != "ec256":  # ECDSA draws a fresh nonce: equal only as valid signatures
        assert streamed == one
    assert verify(kmip, pair.public, DATA, streamed) is VALID
    # Streamed verification: the signature with the first part (TC-STREAM-SIGNVFY-1) or the last.
    first = _stream(kmip, SignatureVerifyRequest, pair.public, PARTS, signature_data=streamed)
    assert first.validity_indicator is VALID
    last_parts = [*PARTS[:-1], PARTS[-1]]
    answer = kmip.call(
        SignatureVerifyRequest(unique_identifier=pair.public, data=last_parts[0], init_indicator=True)
    )
    correlation = answer.correlation_value
    for part in last_parts[1:-1]:
        kmip.call(
            SignatureVerifyRequest(unique_identifier=pair.public, data=part, correlation_value=correlation)
        )
    final = kmip.call(
        SignatureVerifyRequest(
            data=last_parts[-1],
            signature_data=flip(streamed),
            correlation_value=correlation,
            final_indicator=True,
        )
    )
    assert final.validity_indicator is INVALID


# --- usage enforcement ------------------------------------------------------------------------


def test_a_deactivated_key_verifies_but_does_not_sign(kmip: KmipClient, rsa_key: rsa.RSAPrivateKey) -> None:
    pair = register_pair(kmip, rsa_key)
    signature = sign(kmip, pair.private, DATA).signature_data
    for uid in (pair.public, pair.private):
        kmip.call(
            RevokeRequest(
                unique_identifier=uid,
                revocation_reason=RevocationReason(
                    revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION
                ),
            )
        )
    assert verify(kmip, pair.public, DATA, signature) is VALID
    reason = refused(kmip, SignRequest(unique_identifier=pair.private, data=DATA))
    assert reason is expected(kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE)


def test_a_pre_active_key_neither_signs_nor_verifies(kmip: KmipClient, rsa_key: rsa.RSAPrivateKey) -> None:
    pair = register_pair(kmip, rsa_key, active=False)
    wrong_state = expected(kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE)
    assert refused(kmip, SignRequest(unique_identifier=pair.private, data=DATA)) is wrong_state
    verify_request = SignatureVerifyRequest(
        unique_identifier=pair.public, data=DATA, signature_data=b"s" * 256
    )
    assert refused(kmip, verify_request) is wrong_state


def test_the_usage_mask_and_the_object_type_are_enforced(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey
) -> None:
    pair = register_pair(kmip, rsa_key, usages=(SIGN, VERIFY))  # each half with the other's use
    mask = expected(kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    assert refused(kmip, SignRequest(unique_identifier=pair.private, data=DATA)) is mask
    assert (
        refused(kmip, SignatureVerifyRequest(unique_identifier=pair.public, data=DATA, signature_data=b"s"))
        is mask
    )
    # A public key does not sign, a private key does not verify (whatever their masks say).
    wrong_type = expected(kmip, ResultReason.INVALID_OBJECT_TYPE)
    assert refused(kmip, SignRequest(unique_identifier=pair.public, data=DATA)) is wrong_type
    assert (
        refused(kmip, SignatureVerifyRequest(unique_identifier=pair.private, data=DATA, signature_data=b"s"))
        is wrong_type
    )


def test_usage_limits_are_spent_by_signing_only(kmip: KmipClient, rsa_key: rsa.RSAPrivateKey) -> None:
    limits = UsageLimits(usage_limits_total=2, usage_limits_unit=UsageLimitsUnit.OBJECT)
    pair = register_pair(kmip, rsa_key, (Tag.USAGE_LIMITS, limits))
    signature = sign(kmip, pair.private, DATA).signature_data
    streamed = _stream(kmip, SignRequest, pair.private, PARTS).signature_data  # a stream is one use
    assert signature == streamed
    reason = refused(kmip, SignRequest(unique_identifier=pair.private, data=DATA))
    assert reason is expected(kmip, ResultReason.PERMISSION_DENIED)
    assert verify(kmip, pair.public, DATA, signature) is VALID


# --- refusals and Invalid answers ---------------------------------------------------------------


def test_parameters_the_key_cannot_use(
    kmip: KmipClient, ec_keys: dict[int, ec.EllipticCurvePrivateKey]
) -> None:
    """Sign refuses them (Bad Cryptographic Parameters); Verify answers Invalid, as
    TC-ECDSA-SIGN-DIGESTEDDATA-1 expects."""
    pair = register_pair(kmip, ec_keys[256])
    rsa_pss = params(cryptographic_algorithm=A.RSA, padding_method=P.PSS, hashing_algorithm=H.SHA_1)
    reason = refused(
        kmip, SignRequest(unique_identifier=pair.private, data=DATA, cryptographic_parameters=rsa_pss)
    )
    assert reason is expected(kmip, ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS)
    signature = sign(kmip, pair.private, DATA).signature_data
    assert verify(kmip, pair.public, DATA, signature, cryptographic_parameters=rsa_pss) is INVALID
    sha1_rsa = params(digital_signature_algorithm=D.SHA_1_WITH_RSA_ENCRYPTION)
    assert verify(kmip, pair.public, DATA, signature, cryptographic_parameters=sha1_rsa) is INVALID


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        (
            params(digital_signature_algorithm=D.DSA_WITH_SHA256),
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        ),
        (params(hashing_algorithm=H.MD5), ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
        (params(padding_method=P.OAEP), ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
        (
            params(digital_signature_algorithm=D.SHA_256_WITH_RSA_ENCRYPTION, hashing_algorithm=H.SHA_1),
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
        ),
        (
            params(padding_method=P.PSS, salt_length=300),
            ResultReason.INVALID_FIELD,
        ),  # longer than the key holds
    ],
    ids=["DSA", "MD5", "OAEP", "two hashes", "salt too long"],
)
def test_bad_rsa_parameters(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, parameters: CryptographicParameters, reason: ResultReason
) -> None:
    pair = register_pair(kmip, rsa_key)
    request = SignRequest(unique_identifier=pair.private, data=DATA, cryptographic_parameters=parameters)
    assert refused(kmip, request) is expected(kmip, reason)


def test_bad_data(kmip: KmipClient, keys: dict[str, PrivateKeyType]) -> None:
    rsa_pair = register_pair(kmip, keys["rsa"])
    ed_pair = register_pair(kmip, keys["ed25519"])
    digest = hashlib.sha256(DATA).digest()
    invalid, missing = expected(kmip, ResultReason.INVALID_FIELD), expected(kmip, ResultReason.MISSING_DATA)
    cases: list[tuple[RequestPayload, ResultReason]] = [
        (SignRequest(unique_identifier=rsa_pair.private, data=DATA, digested_data=digest), invalid),
        (SignRequest(unique_identifier=rsa_pair.private), missing),
        (  # a SHA-512 digest is 64 bytes
            SignRequest(
                unique_identifier=rsa_pair.private,
                digested_data=digest,
                cryptographic_parameters=params(hashing_algorithm=H.SHA_512),
            ),
            invalid,
        ),
        (SignRequest(unique_identifier=rsa_pair.private, digested_data=digest, init_indicator=True), invalid),
        (
            SignRequest(unique_identifier=rsa_pair.private, digested_data=bytes(300)),
            invalid,
        ),  # > k - 11 bytes
        (
            SignRequest(unique_identifier=ed_pair.private, digested_data=digest),
            expected(kmip, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
        ),
        (
            SignRequest(
                unique_identifier=ed_pair.private,
                data=DATA,
                cryptographic_parameters=params(hashing_algorithm=H.SHA_512),
            ),
            expected(kmip, ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS),
        ),
        (SignatureVerifyRequest(unique_identifier=rsa_pair.public, data=DATA), missing),
    ]
    for request, reason in cases:
        assert refused(kmip, request) is reason, request


def test_a_signature_of_the_wrong_size_or_shape_is_invalid(
    kmip: KmipClient, keys: dict[str, PrivateKeyType]
) -> None:
    for name in ("rsa", "ec256", "ed25519"):
        pair = register_pair(kmip, keys[name])
        for signature in (b"", b"\x30", bytes(7), bytes(600)):
            assert verify(kmip, pair.public, DATA, signature) is INVALID, (name, signature)


def test_correlation_values_are_checked(
    kmip: KmipClient, kmip_server: RunningServer, rsa_key: rsa.RSAPrivateKey
) -> None:
    pair = register_pair(kmip, rsa_key)
    unknown = expected(kmip, ResultReason.INVALID_CORRELATION_VALUE)
    assert (
        refused(kmip, SignRequest(unique_identifier=pair.private, data=DATA, correlation_value=bytes(16)))
        is unknown
    )
    opened = kmip.call(SignRequest(unique_identifier=pair.private, data=DATA, init_indicator=True))
    correlation = opened.correlation_value
    # Another operation, another key, or another client cannot continue it.
    other = SignatureVerifyRequest(unique_identifier=pair.public, data=DATA, correlation_value=correlation)
    assert refused(kmip, other) is unknown
    with kmip_server.client("sign-verify-other", version=kmip.version) as stranger:
        assert refused(stranger, SignRequest(data=DATA, correlation_value=correlation)) is unknown
    # The owner still can: a refused part of someone else's does not end it.
    done = kmip.call(SignRequest(data=b"", correlation_value=correlation, final_indicator=True))
    pyca_verify(rsa_key, done.signature_data, DATA, Scheme("rsa", None, "pkcs1", H.SHA_256))
    # A finished stream is gone.
    assert (
        refused(kmip, SignRequest(data=DATA, correlation_value=correlation, final_indicator=True)) is unknown
    )


def test_nothing_signs_with_a_key_of_another_kind(kmip: KmipClient) -> None:
    """A symmetric key is no signing key (Invalid Object Type)."""
    uid = kmip.call(
        aes_register(kmip.version, bytes(16), (Tag.ACTIVATION_DATE, an_hour_ago()))
    ).unique_identifier
    wrong_type = expected(kmip, ResultReason.INVALID_OBJECT_TYPE)
    assert refused(kmip, SignRequest(unique_identifier=uid, data=DATA)) is wrong_type
    assert (
        refused(kmip, SignatureVerifyRequest(unique_identifier=uid, data=DATA, signature_data=b"s"))
        is wrong_type
    )


def test_pyca_agrees_that_changed_signatures_fail(keys: dict[str, PrivateKeyType]) -> None:
    """The Invalid answers above mean something: pyca rejects the same changed signature."""
    scheme = Scheme("rsa", None, "pkcs1", H.SHA_256)
    good = pyca_sign(keys["rsa"], DATA, scheme)
    with pytest.raises(InvalidSignature):
        pyca_verify(keys["rsa"], flip(good), DATA, scheme)


def test_a_stored_key_is_parsed_once_per_value(rsa_key: rsa.RSAPrivateKey) -> None:
    """pyca checks an RSA private key as it parses it (~100 signatures' worth): the provider keeps it."""
    other = rsa.generate_private_key(65537, 2048)

    def record(key: rsa.RSAPrivateKey) -> ObjectRecord:
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        block = KeyBlock(
            key_format_type=KeyFormatType.PKCS_8,
            key_value=KeyValue(key_material=der),
            cryptographic_algorithm=A.RSA,
            cryptographic_length=2048,
        )
        return ObjectRecord(
            "kept-key", ObjectType.PRIVATE_KEY, "owner", Attributes(), PrivateKey(key_block=block)
        )

    first = pyca.loaded_key(record(rsa_key), private=True)
    assert pyca.loaded_key(record(rsa_key), private=True) is first
    changed = pyca.loaded_key(record(other), private=True)  # same object, another value: parsed again
    assert changed is not first
    assert changed.private_numbers() == other.private_numbers()
