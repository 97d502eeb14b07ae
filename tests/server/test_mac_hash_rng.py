"""MAC, MAC Verify, Hash, RNG Retrieve and RNG Seed over real TLS.

Known answers from their publications (RFC 4231 and RFC 2202 for HMAC, RFC 4231 test
case 5 for HMAC truncated by a Tag Length, NIST SP 800-38B Appendix D.1 for
CMAC-AES-128, FIPS 180-4 and FIPS 202 examples for the hashes);
HMAC with SHA-3 and CMAC with the other key sizes are cross-checked with
pyca/cryptography. Streams must give what one part gives. Every refusal is checked for
its Result Reason, in KMIP 2.1 and (mapped by the engine) 1.4.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import RequestPayload
from pkcs11_kmip.kmip.messages.payloads import (
    HashRequest,
    MACRequest,
    MACVerifyRequest,
    RevokeRequest,
    RNGRetrieveRequest,
    RNGSeedRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, RevocationReason, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    ObjectType,
    ResultReason,
    RevocationReasonCode,
    SecretDataType,
    UsageLimitsUnit,
    ValidityIndicator,
)
from testsupport import managed_keys
from testsupport.kmip_builders import AttributeSpec
from testsupport.managed_keys import reason_of_version as expected
from testsupport.managed_keys import refusal as refused
from testsupport.managed_keys import register_object, secret_data
from testsupport.server import RunningServer

A = CryptographicAlgorithm
H = HashingAlgorithm
MAC_BOTH = CryptographicUsageMask.MAC_GENERATE | CryptographicUsageMask.MAC_VERIFY
VALID, INVALID = ValidityIndicator.VALID, ValidityIndicator.INVALID
V1, V2 = (1, 4), (2, 1)
CLIENT = "mac-hash-rng"
h = bytes.fromhex


@pytest.fixture(params=[V1, V2], ids=["1.4", "2.1"])
def kmip(request: pytest.FixtureRequest, kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client(CLIENT, version=request.param) as client:
        yield client


def register_key(
    kmip: KmipClient,
    algorithm: CryptographicAlgorithm,
    material: bytes,
    *extra: AttributeSpec,
    usage: CryptographicUsageMask = MAC_BOTH,
    active: bool = True,
) -> str:
    """A Raw key the test knows (an HMAC key of any length, or AES), for MACs, Active unless asked."""
    return managed_keys.register_key(kmip, algorithm, material, usage, *extra, active=active)


def params(**fields: Any) -> CryptographicParameters:
    return CryptographicParameters(**fields)


def mac(kmip: KmipClient, uid: str, data: bytes, **fields: Any) -> bytes:
    answer = kmip.call(MACRequest(unique_identifier=uid, data=data, **fields))
    assert answer.unique_identifier == uid
    result: bytes = answer.mac_data
    return result


def mac_verify(kmip: KmipClient, uid: str, data: bytes, mac_data: bytes, **fields: Any) -> Any:
    return kmip.call(
        MACVerifyRequest(unique_identifier=uid, data=data, mac_data=mac_data, **fields)
    ).validity_indicator


# --- known answers ----------------------------------------------------------------------------

_RFC4231_1 = ("0b" * 20, b"Hi There".hex())
_RFC4231_2 = (b"Jefe".hex(), b"what do ya want for nothing?".hex())
HMAC_VECTORS = [
    ("RFC 2202 §3 test case 1", A.HMAC_SHA1, *_RFC4231_1, "b617318655057264e28bc0b6fb378c8ef146be00"),
    (
        "RFC 4231 §4.2 test case 1, HMAC-SHA-224",
        A.HMAC_SHA224,
        *_RFC4231_1,
        "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
    ),
    (
        "RFC 4231 §4.2 test case 1, HMAC-SHA-256",
        A.HMAC_SHA256,
        *_RFC4231_1,
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        "RFC 4231 §4.2 test case 1, HMAC-SHA-384",
        A.HMAC_SHA384,
        *_RFC4231_1,
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
    ),
    (
        "RFC 4231 §4.2 test case 1, HMAC-SHA-512",
        A.HMAC_SHA512,
        *_RFC4231_1,
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    ),
    (
        "RFC 4231 §4.3 test case 2, HMAC-SHA-256",
        A.HMAC_SHA256,
        *_RFC4231_2,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
]

_SP800_38B_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
_SP800_38B_MESSAGE = (
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
)
CMAC_VECTORS = [  # NIST SP 800-38B Appendix D.1, CMAC-AES128 examples 1 to 4
    ("example 1 (empty)", 0, "bb1d6929e95937287fa37d129b756746"),
    ("example 2 (16 bytes)", 16, "070a16b46b4d4144f79bdd9dd04a287c"),
    ("example 3 (40 bytes)", 40, "dfa66747de9ae63030ca32611497c827"),
    ("example 4 (64 bytes)", 64, "51f0bebf7e3b9d92fc49741779363cfe"),
]

HASH_VECTORS = [  # the "abc" examples of FIPS 180-4 (NIST CSRC) and FIPS 202
    (H.SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
    (H.SHA_224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7"),
    (H.SHA_256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        H.SHA_384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    ),
    (
        H.SHA_512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ),
    (H.SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
    (
        H.SHA3_512,
        "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e"
        "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
    ),
]


@pytest.mark.parametrize(
    ("source", "algorithm", "key", "data", "tag"), HMAC_VECTORS, ids=[v[0] for v in HMAC_VECTORS]
)
def test_hmac_known_answers(
    kmip: KmipClient, source: str, algorithm: CryptographicAlgorithm, key: str, data: str, tag: str
) -> None:
    uid = register_key(kmip, algorithm, h(key))
    assert mac(kmip, uid, h(data)) == h(tag)
    assert mac_verify(kmip, uid, h(data), h(tag)) is VALID
    assert mac_verify(kmip, uid, h(data), h(tag)[:-1] + bytes([h(tag)[-1] ^ 1])) is INVALID
    assert mac_verify(kmip, uid, h(data), h(tag)[:16]) is INVALID  # truncated, with no Tag Length


@pytest.mark.parametrize(("source", "size", "tag"), CMAC_VECTORS, ids=[v[0] for v in CMAC_VECTORS])
def test_cmac_known_answers(kmip: KmipClient, source: str, size: int, tag: str) -> None:
    """An AES key MACs with CMAC when no parameters say otherwise."""
    uid = register_key(kmip, A.AES, h(_SP800_38B_KEY))
    data = h(_SP800_38B_MESSAGE)[:size]
    assert mac(kmip, uid, data) == h(tag)
    cmac_named = params(cryptographic_algorithm=A.AES, block_cipher_mode=BlockCipherMode.CMAC)
    assert mac(kmip, uid, data, cryptographic_parameters=cmac_named) == h(tag)
    assert mac_verify(kmip, uid, data, h(tag)) is VALID


@pytest.mark.parametrize(("hashing", "digest"), HASH_VECTORS, ids=[v[0].name for v in HASH_VECTORS])
def test_hash_known_answers(kmip: KmipClient, hashing: HashingAlgorithm, digest: str) -> None:
    answer = kmip.call(HashRequest(cryptographic_parameters=params(hashing_algorithm=hashing), data=b"abc"))
    assert answer.data == h(digest)
    assert answer.correlation_value is None


# --- cross-checks -----------------------------------------------------------------------------

DATA = bytes(range(256)) * 3


@pytest.mark.parametrize(
    ("algorithm", "hashing"),
    [
        (A.HMAC_SHA3_224, "sha3_224"),
        (A.HMAC_SHA3_256, "sha3_256"),
        (A.HMAC_SHA3_384, "sha3_384"),
        (A.HMAC_SHA3_512, "sha3_512"),
        (A.HMAC_SHA384, "sha384"),
    ],
)
def test_hmac_agrees_with_python(kmip: KmipClient, algorithm: CryptographicAlgorithm, hashing: str) -> None:
    key = bytes(range(7, 7 + 70))  # longer than SHA3-512's block: hashed first
    uid = register_key(kmip, algorithm, key)
    assert mac(kmip, uid, DATA) == hmac.new(key, DATA, hashing).digest()


@pytest.mark.parametrize("size", [24, 32])
def test_cmac_with_longer_aes_keys_agrees_with_pyca(kmip: KmipClient, size: int) -> None:
    key = bytes(range(size))
    local = cmac.CMAC(algorithms.AES(key))
    local.update(DATA)
    assert mac(kmip, register_key(kmip, A.AES, key), DATA) == local.finalize()


def test_the_keys_parameters_name_hmac_for_an_aes_key(kmip: KmipClient) -> None:
    """As CS-AC-M-4 registers its key: an AES-typed key with HMAC_SHA256 in its Cryptographic Parameters."""
    key = h("0123456789abcdef0123456789abcdef")
    uid = register_key(
        kmip, A.AES, key, (Tag.CRYPTOGRAPHIC_PARAMETERS, params(cryptographic_algorithm=A.HMAC_SHA256))
    )
    assert mac(kmip, uid, DATA) == hmac.new(key, DATA, "sha256").digest()
    # The request's parameters are taken whole: here HMAC-SHA-512 of the same key.
    sha512 = params(cryptographic_algorithm=A.HMAC_SHA512)
    assert mac(kmip, uid, DATA, cryptographic_parameters=sha512) == hmac.new(key, DATA, "sha512").digest()


def test_secret_data_is_an_hmac_key(kmip: KmipClient) -> None:
    secret = b"a secret that is not a key of any algorithm"
    uid = register_object(kmip, ObjectType.SECRET_DATA, secret_data(secret, SecretDataType.SEED), MAC_BOTH)
    sha256 = params(hashing_algorithm=H.SHA_256)
    tag = hmac.new(secret, DATA, "sha256").digest()
    assert mac(kmip, uid, DATA, cryptographic_parameters=sha256) == tag
    named = params(cryptographic_algorithm=A.HMAC_SHA256)
    assert mac_verify(kmip, uid, DATA, tag, cryptographic_parameters=named) is VALID
    # Secret Data names no algorithm: the request must.
    assert refused(kmip, MACRequest(unique_identifier=uid, data=DATA)) is expected(
        kmip, ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS
    )


# --- truncated MACs (Tag Length) ---------------------------------------------------------------

RFC4231_5 = [  # RFC 4231 §4.6, test case 5: HMAC truncated to 128 bits
    (A.HMAC_SHA224, "0e2aea68a90c8d37c988bcdb9fca6fa8"),
    (A.HMAC_SHA256, "a3b6167473100ee06e0c796c2955552b"),
    (A.HMAC_SHA384, "3abf34c3503b2a23a46efc619baef897"),
    (A.HMAC_SHA512, "415fad6271580a531d4179bc891d87a6"),
]


@pytest.mark.parametrize(("algorithm", "tag"), RFC4231_5, ids=[v[0].name for v in RFC4231_5])
def test_truncated_hmac_known_answers_of_rfc_4231(
    kmip: KmipClient, algorithm: CryptographicAlgorithm, tag: str
) -> None:
    uid = register_key(kmip, algorithm, b"\x0c" * 20)
    data, sixteen = b"Test With Truncation", params(tag_length=16)
    assert mac(kmip, uid, data, cryptographic_parameters=sixteen) == h(tag)
    assert mac_verify(kmip, uid, data, h(tag), cryptographic_parameters=sixteen) is VALID
    assert mac_verify(kmip, uid, data, h(tag)[:-1] + b"\0", cryptographic_parameters=sixteen) is INVALID
    assert mac_verify(kmip, uid, data, h(tag)) is INVALID  # no Tag Length: only the whole MAC is valid
    whole = mac(kmip, uid, data)
    assert whole[:16] == h(tag)
    longer = MACVerifyRequest(
        unique_identifier=uid, data=data, mac_data=whole, cryptographic_parameters=sixteen
    )
    assert refused(kmip, longer) is expected(kmip, ResultReason.INVALID_FIELD)


def test_a_keys_tag_length_truncates_its_macs(kmip: KmipClient) -> None:
    """CMAC-AES cut to 8 bytes by the key's own Cryptographic Parameters, against SP 800-38B and pyca."""
    uid = register_key(kmip, A.AES, h(_SP800_38B_KEY), (Tag.CRYPTOGRAPHIC_PARAMETERS, params(tag_length=8)))
    data = h(_SP800_38B_MESSAGE)[:16]
    assert mac(kmip, uid, data) == h("070a16b46b4d4144")  # example 2, its leftmost 64 bits
    assert mac_verify(kmip, uid, data, h("070a16b46b4d4144")) is VALID
    key, parts = os.urandom(32), [DATA[:7], DATA[7:300], DATA[300:]]
    local = cmac.CMAC(algorithms.AES(key))
    local.update(DATA)
    streamed = register_key(kmip, A.AES, key, (Tag.CRYPTOGRAPHIC_PARAMETERS, params(tag_length=12)))
    opened = kmip.call(MACRequest(unique_identifier=streamed, data=parts[0], init_indicator=True))
    kmip.call(MACRequest(data=parts[1], correlation_value=opened.correlation_value))
    last = kmip.call(
        MACRequest(data=parts[2], correlation_value=opened.correlation_value, final_indicator=True)
    )
    assert last.mac_data == local.finalize()[:12]


@pytest.mark.parametrize(
    ("algorithm", "key", "tag_length"),
    [(A.HMAC_SHA256, 32, 3), (A.HMAC_SHA256, 32, 33), (A.HMAC_SHA1, 20, 21), (A.AES, 16, 7), (A.AES, 16, 17)],
    ids=["HMAC below 32 bits", "beyond SHA-256", "beyond SHA-1", "CMAC below 64 bits", "beyond CMAC"],
)
def test_tag_lengths_a_mac_cannot_have(
    kmip: KmipClient, algorithm: CryptographicAlgorithm, key: int, tag_length: int
) -> None:
    uid = register_key(kmip, algorithm, bytes(range(key)))
    parameters = params(tag_length=tag_length)
    for request in (
        MACRequest(unique_identifier=uid, data=DATA, cryptographic_parameters=parameters),
        MACVerifyRequest(
            unique_identifier=uid, data=DATA, mac_data=bytes(tag_length), cryptographic_parameters=parameters
        ),
    ):
        assert refused(kmip, request) is expected(kmip, ResultReason.INVALID_FIELD)


# --- streams ----------------------------------------------------------------------------------

PARTS = [DATA[:1], DATA[1:100], b"", DATA[100:]]


def _stream(kmip: KmipClient, first: RequestPayload, later: Any) -> Any:
    """Send `first` (with Init Indicator), then `later(part, correlation, final)` for PARTS[1:]."""
    answer = kmip.call(first)
    correlation = answer.correlation_value
    assert correlation is not None
    for index, part in enumerate(PARTS[1:], start=1):
        final = index == len(PARTS) - 1
        answer = kmip.call(later(part, correlation, final))
        if not final:
            assert answer.correlation_value == correlation
    return answer


def test_streamed_mac_and_mac_verify_equal_one_part(kmip: KmipClient) -> None:
    uid = register_key(kmip, A.HMAC_SHA512, bytes(64))
    one = mac(kmip, uid, DATA)

    def mac_part(part: bytes, correlation: bytes, final: bool) -> MACRequest:
        return MACRequest(
            unique_identifier=uid, data=part, correlation_value=correlation, final_indicator=final or None
        )

    streamed = _stream(kmip, MACRequest(unique_identifier=uid, data=PARTS[0], init_indicator=True), mac_part)
    assert streamed.mac_data == one

    def verify_part(part: bytes, correlation: bytes, final: bool) -> MACVerifyRequest:
        return MACVerifyRequest(data=part, correlation_value=correlation, final_indicator=final or None)

    first = MACVerifyRequest(unique_identifier=uid, data=PARTS[0], mac_data=one, init_indicator=True)
    assert _stream(kmip, first, verify_part).validity_indicator is VALID
    wrong = MACVerifyRequest(unique_identifier=uid, data=PARTS[0], mac_data=bytes(64), init_indicator=True)
    assert _stream(kmip, wrong, verify_part).validity_indicator is INVALID


def test_streamed_hash_equals_one_part(kmip: KmipClient) -> None:
    sha3 = params(hashing_algorithm=H.SHA3_384)

    def part_request(part: bytes, correlation: bytes, final: bool) -> HashRequest:
        return HashRequest(
            cryptographic_parameters=sha3,
            data=part,
            correlation_value=correlation,
            final_indicator=final or None,
        )

    first = HashRequest(cryptographic_parameters=sha3, data=PARTS[0], init_indicator=True)
    assert _stream(kmip, first, part_request).data == hashlib.sha3_384(DATA).digest()
    # Later parts may repeat the first part's parameters, not change them.
    opened = kmip.call(first)
    other = HashRequest(
        cryptographic_parameters=params(hashing_algorithm=H.SHA_256),
        data=b"",
        correlation_value=opened.correlation_value,
    )
    assert refused(kmip, other) is expected(kmip, ResultReason.INVALID_FIELD)


def test_usage_limits_are_spent_by_mac_not_by_verify(kmip: KmipClient) -> None:
    limits = UsageLimits(usage_limits_total=20, usage_limits_unit=UsageLimitsUnit.BYTE)
    uid = register_key(kmip, A.HMAC_SHA256, bytes(32), (Tag.USAGE_LIMITS, limits))
    tag = mac(kmip, uid, bytes(16))
    assert refused(kmip, MACRequest(unique_identifier=uid, data=bytes(5))) is expected(
        kmip, ResultReason.PERMISSION_DENIED
    )
    for _ in range(3):
        assert mac_verify(kmip, uid, bytes(16), tag) is VALID
    assert len(mac(kmip, uid, bytes(4))) == 32  # exactly what is left


# --- refusals ---------------------------------------------------------------------------------


def test_key_state_mask_and_type(kmip: KmipClient) -> None:
    pre_active = register_key(kmip, A.HMAC_SHA256, bytes(32), active=False)
    wrong_state = expected(kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE)
    assert refused(kmip, MACRequest(unique_identifier=pre_active, data=DATA)) is wrong_state
    assert (
        refused(kmip, MACVerifyRequest(unique_identifier=pre_active, data=DATA, mac_data=bytes(32)))
        is wrong_state
    )

    verify_only = register_key(kmip, A.HMAC_SHA256, bytes(32), usage=CryptographicUsageMask.MAC_VERIFY)
    mask = expected(kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK)
    assert refused(kmip, MACRequest(unique_identifier=verify_only, data=DATA)) is mask
    generate_only = register_key(kmip, A.HMAC_SHA256, bytes(32), usage=CryptographicUsageMask.MAC_GENERATE)
    assert (
        refused(kmip, MACVerifyRequest(unique_identifier=generate_only, data=DATA, mac_data=bytes(32)))
        is mask
    )

    # A deactivated key verifies the MACs it made, and makes no more.
    uid = register_key(kmip, A.HMAC_SHA256, bytes(32))
    tag = mac(kmip, uid, DATA)
    reason = RevocationReason(revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION)
    kmip.call(RevokeRequest(unique_identifier=uid, revocation_reason=reason))
    assert mac_verify(kmip, uid, DATA, tag) is VALID
    assert refused(kmip, MACRequest(unique_identifier=uid, data=DATA)) is wrong_state


@pytest.mark.parametrize(
    ("algorithm", "key", "parameters", "reason"),
    [
        (
            A.HMAC_SHA256,
            32,
            params(cryptographic_algorithm=A.HMAC_SHA512),
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
        ),
        (A.HMAC_SHA256, 32, params(hashing_algorithm=H.SHA_1), ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS),
        (A.HMAC_MD5, 16, None, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
        (A.DES3, 24, None, ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
        (
            A.DES3,
            24,
            params(block_cipher_mode=BlockCipherMode.CMAC, cryptographic_algorithm=A.AES),
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
        ),
        (
            A.AES,
            16,
            params(block_cipher_mode=BlockCipherMode.GCM),
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
        ),
        (A.AES, 16, params(hashing_algorithm=H.MD5), ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS),
    ],
    ids=["other HMAC", "other hash", "HMAC-MD5", "3DES", "CMAC with 3DES", "AES-GCM", "HMAC-MD5 by hash"],
)
def test_mac_parameters_the_key_cannot_use(
    kmip: KmipClient,
    algorithm: CryptographicAlgorithm,
    key: int,
    parameters: CryptographicParameters | None,
    reason: ResultReason,
) -> None:
    uid = register_key(kmip, algorithm, bytes(range(key)))
    request = MACRequest(unique_identifier=uid, data=DATA, cryptographic_parameters=parameters)
    assert refused(kmip, request) is expected(kmip, reason)


def test_bad_requests(kmip: KmipClient) -> None:
    uid = register_key(kmip, A.HMAC_SHA256, bytes(32))
    missing, invalid = expected(kmip, ResultReason.MISSING_DATA), expected(kmip, ResultReason.INVALID_FIELD)
    unknown = expected(kmip, ResultReason.INVALID_CORRELATION_VALUE)
    cases: list[tuple[RequestPayload, ResultReason]] = [
        (MACRequest(unique_identifier=uid), missing),
        (MACVerifyRequest(unique_identifier=uid, data=DATA), missing),
        (MACRequest(unique_identifier=uid, data=DATA, correlation_value=bytes(16)), unknown),
        (
            MACRequest(unique_identifier=uid, data=DATA, correlation_value=bytes(16), init_indicator=True),
            invalid,
        ),
        (HashRequest(cryptographic_parameters=params(), data=DATA), invalid),
        (
            HashRequest(cryptographic_parameters=params(hashing_algorithm=H.MD5), data=DATA),
            expected(kmip, ResultReason.FEATURE_NOT_SUPPORTED),
        ),
        (
            HashRequest(
                cryptographic_parameters=params(hashing_algorithm=H.SHA_256), correlation_value=bytes(16)
            ),
            unknown,
        ),
    ]
    for request, reason in cases:
        assert refused(kmip, request) is reason, request
    # A MAC stream is not continued by MAC Verify, nor a Hash stream by MAC.
    opened = kmip.call(MACRequest(unique_identifier=uid, data=DATA, init_indicator=True)).correlation_value
    other = MACVerifyRequest(unique_identifier=uid, data=DATA, mac_data=bytes(32), correlation_value=opened)
    assert refused(kmip, other) is unknown
    sha256 = params(hashing_algorithm=H.SHA_256)
    hashing = kmip.call(
        HashRequest(cryptographic_parameters=sha256, data=DATA, init_indicator=True)
    ).correlation_value
    assert refused(kmip, MACRequest(unique_identifier=uid, data=DATA, correlation_value=hashing)) is unknown


# --- random numbers ---------------------------------------------------------------------------


def test_rng_retrieve_gives_fresh_bytes(kmip: KmipClient) -> None:
    first = kmip.call(RNGRetrieveRequest(data_length=32)).data
    second = kmip.call(RNGRetrieveRequest(data_length=32)).data
    assert len(first) == len(second) == 32
    assert first != second
    assert len(kmip.call(RNGRetrieveRequest(data_length=1)).data) == 1


def test_rng_retrieve_refuses_bad_lengths(kmip: KmipClient) -> None:
    invalid = expected(kmip, ResultReason.INVALID_FIELD)
    assert refused(kmip, RNGRetrieveRequest(data_length=0)) is invalid
    assert refused(kmip, RNGRetrieveRequest(data_length=-1)) is invalid
    too_large = expected(kmip, ResultReason.RESPONSE_TOO_LARGE)
    assert refused(kmip, RNGRetrieveRequest(data_length=(1 << 20) + 1)) is too_large


def test_rng_seed_is_accepted_and_reported_unused(kmip: KmipClient) -> None:
    """KMIP 2.1 §6.1.50: a server may ignore the seed and say so with Data Length 0 (CS-RNG-O-3)."""
    assert kmip.call(RNGSeedRequest(data=bytes(range(32)))).data_length == 0
    assert refused(kmip, RNGSeedRequest(data=b"")) is expected(kmip, ResultReason.INVALID_FIELD)
