"""The crypto lane (crypto_lane.py) against the general path, which is the reference.

`read_request` must take exactly the plain single-part Encrypts, Decrypts and MACs and
nothing else; for every key, parameters and protocol version the lane answers, its bytes and its
audit line must be the general path's (a client IV makes GCM deterministic); whatever
the general path refuses, writes (Usage Limits) or judges by a date must be left to it;
and a kept verdict must never outlive a write to the key made by another process
(another store on the same database).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    DecryptRequest,
    DestroyRequest,
    EncryptRequest,
    MACRequest,
    RegisterRequest,
    RequestPayload,
    RevokeRequest,
    SetAttributeRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    ProtocolVersion,
    RevocationReason,
    UsageLimits,
)
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
    UsageLimitsUnit,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.crypto_lane import LARGEST, CryptoLane, read_request
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.lifecycle import set_single
from testsupport.kmip_builders import attribute_fields
from testsupport.lanes import ALICE, BOB, NOW, EnginePair
from testsupport.managed_keys import symmetric
from testsupport.server import RunningServer

U = CryptographicUsageMask
A = CryptographicAlgorithm
GCM_VERSIONS: list[Version] = [(1, 4), (2, 0), (2, 1)]
MAC_VERSIONS: list[Version] = [(1, 2), (1, 3), (1, 4), (2, 0), (2, 1)]


def gcm(tag_length: int | None = 16, **more: Any) -> CryptographicParameters:
    return CryptographicParameters(
        cryptographic_algorithm=A.AES, block_cipher_mode=BlockCipherMode.GCM, tag_length=tag_length, **more
    )


def message(version: Version, payload: RequestPayload, time_stamp: bool = True, **header: Any) -> bytes:
    """One item, as KmipClient writes it (Time Stamp included)."""
    return RequestMessage(
        header=RequestHeader(
            protocol_version=ProtocolVersion.of(version),
            time_stamp=NOW if time_stamp else None,
            batch_count=1,
            **header,
        ),
        batch_items=[RequestBatchItem(operation=payload.OPERATION, request_payload=payload)],
    ).encode(version)


def encrypt(uid: str, data: bytes = bytes(64), **more: Any) -> EncryptRequest:
    fields: dict[str, Any] = {"cryptographic_parameters": gcm(), "iv_counter_nonce": bytes(range(12))}
    return EncryptRequest(unique_identifier=uid, data=data, **{**fields, **more})


def decrypt(sealed: Any, asked: EncryptRequest, **more: Any) -> DecryptRequest:
    """The Decrypt of what the Encrypt `asked` gave (`sealed`: its payload), with its IV,
    parameters and additional data, unless `more` says otherwise."""
    fields: dict[str, Any] = {
        "unique_identifier": asked.unique_identifier,
        "data": sealed.data,
        "cryptographic_parameters": asked.cryptographic_parameters,
        "iv_counter_nonce": asked.iv_counter_nonce,
        "authenticated_encryption_additional_data": asked.authenticated_encryption_additional_data,
        "authenticated_encryption_tag": sealed.authenticated_encryption_tag,
    }
    return DecryptRequest(**{**fields, **more})


class Pair(EnginePair):
    """The engine pair with the crypto lane on `lane_engine`, and one clock to move."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.lane = CryptoLane(self.lane_engine)

    def succeed(self, version: Version, payload: RequestPayload, engine: Engine | None = None) -> Any:
        """The general path's (or `engine`'s) answer, which must be a success: its payload."""
        answer = (engine or self.general).handle(message(version, payload, False), ALICE)
        (item,) = ResponseMessage.decode(answer).batch_items
        assert item.result_status is ResultStatus.SUCCESS, (item.result_reason, item.result_message)
        return item.response_payload

    def refused(self, version: Version, payload: RequestPayload) -> ResultReason | None:
        """The lane leaves the request alone; the general path's Result Reason for it."""
        asked = message(version, payload)
        assert self.lane.answer(asked, ALICE) is None
        (item,) = ResponseMessage.decode(self.general.handle(asked, ALICE)).batch_items
        return item.result_reason

    def same(self, version: Version, payload: RequestPayload, time_stamp: bool = True) -> bytes:
        """The lane's answer, checked against the general path's bytes and audit line."""
        asked = message(version, payload, time_stamp)
        lane = self.lane.answer(asked, ALICE)
        assert lane is not None, payload
        assert lane == self.general.handle(asked, ALICE)
        assert self.last_audit("lane") == self.last_audit("general")
        return lane


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    made = Pair(tmp_path)
    yield made
    made.close()


def key(pair: Pair, version: Version, algorithm: A, size: int, mask: int, *extra: Any) -> str:
    """A registered, activated symmetric key of alice's."""
    fields = attribute_fields(version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, mask), *extra)
    value = symmetric(algorithm, secrets.token_bytes(size))
    uid: str = pair.succeed(
        version, RegisterRequest(object_type=ObjectType.SYMMETRIC_KEY, object=value, **fields)
    ).unique_identifier
    pair.succeed(version, ActivateRequest(unique_identifier=uid))
    return uid


# --- the shape ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", GCM_VERSIONS)
def test_read_request_reads_plain_encrypts_and_macs(version: Version) -> None:
    for time_stamp in (True, False):
        asked = read_request(
            message(version, encrypt("k1", b"x", authenticated_encryption_additional_data=b"a"))
        )
        assert asked is not None
        assert (asked[0], asked[2]["uid"], asked[2]["data"], asked[2]["aad"]) == (version, b"k1", b"x", b"a")
        mac = MACRequest(unique_identifier="k2", data=b"")
        assert read_request(message(version, mac, time_stamp)) is not None
        asked = read_request(message(version, encrypt("k1"), time_stamp))
        assert asked is not None and asked[2]["iv"] == bytes(range(12))


@pytest.mark.parametrize("version", GCM_VERSIONS)
def test_read_request_reads_plain_decrypts(version: Version) -> None:
    asked = DecryptRequest(
        unique_identifier="k1",
        data=b"x",
        cryptographic_parameters=gcm(),
        iv_counter_nonce=bytes(12),
        authenticated_encryption_additional_data=b"a",
        authenticated_encryption_tag=bytes(16),
    )
    read = read_request(message(version, asked))
    assert read is not None
    assert read[1] is Operation.DECRYPT
    assert {name: read[2][name] for name in ("uid", "data", "aad", "tag")} == {
        "uid": b"k1",
        "data": b"x",
        "aad": b"a",
        "tag": bytes(16),
    }


def test_read_request_leaves_every_other_shape_to_the_general_path() -> None:
    version = (2, 1)
    others = [
        encrypt("k", correlation_value=b"c"),
        encrypt("k", init_indicator=True),
        encrypt("k", final_indicator=True),
        EncryptRequest(unique_identifier="k", iv_counter_nonce=bytes(12)),  # no Data
        EncryptRequest(data=b"x"),  # no Unique Identifier: the ID Placeholder's
        MACRequest(unique_identifier="k", data=b"x", init_indicator=True),
        DecryptRequest(unique_identifier="k", data=b"x", correlation_value=b"c"),
        DecryptRequest(unique_identifier="k", data=b"x", final_indicator=True),
    ]
    for payload in others:
        assert read_request(message(version, payload)) is None, payload
    in_1_2 = message((1, 2), MACRequest(unique_identifier="k", data=b"x"))
    assert read_request(in_1_2) is not None
    assert read_request(in_1_2[:48] + bytes(4) + in_1_2[52:]) is None  # KMIP 1.0 has no MAC
    assert read_request(message(version, encrypt("k"), maximum_response_size=1 << 20)) is None
    two = RequestMessage(
        header=RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=2),
        batch_items=[RequestBatchItem(operation=p.OPERATION, request_payload=p) for p in 2 * [encrypt("k")]],
    ).encode(version)
    assert read_request(two) is None


# --- the same answer ------------------------------------------------------------------------


@pytest.mark.parametrize("version", GCM_VERSIONS)
def test_encrypt_answers_what_the_general_path_answers(pair: Pair, version: Version) -> None:
    uids = [key(pair, version, A.AES, size, U.ENCRYPT | U.DECRYPT) for size in (16, 24, 32)]
    cases = [
        {},
        {"cryptographic_parameters": gcm(12)},
        {"cryptographic_parameters": gcm(None)},  # the default, 16
        {"iv_counter_nonce": secrets.token_bytes(16)},
        {"authenticated_encryption_additional_data": b"header"},
        {"data": b""},
        {"data": secrets.token_bytes(1)},
        {"data": secrets.token_bytes(LARGEST)},
    ]
    for _ in range(2):  # judged, then kept
        for uid in uids:
            for case in cases:
                for other in GCM_VERSIONS:  # one key, in every version
                    pair.same(other, encrypt(uid, **case), time_stamp=other != version)
    plaintext = secrets.token_bytes(100)  # and pyca decrypts it
    answer = ResponseMessage.decode(pair.same(version, encrypt(uids[0], plaintext)))
    got = answer.batch_items[0].response_payload
    assert got is not None
    assert isinstance(got.data, bytes) and isinstance(got.authenticated_encryption_tag, bytes)  # type: ignore[attr-defined]


@pytest.mark.parametrize("version", MAC_VERSIONS)
def test_mac_answers_what_the_general_path_answers(pair: Pair, version: Version) -> None:
    uids = [
        key(pair, version, algorithm, size, U.MAC_GENERATE)
        for algorithm, size in (
            (A.HMAC_SHA256, 32),
            (A.HMAC_SHA256, 17),
            (A.HMAC_SHA512, 64),
            (A.HMAC_SHA1, 20),
        )
    ]
    cases = [
        None,
        CryptographicParameters(cryptographic_algorithm=None, tag_length=None),
        CryptographicParameters(tag_length=12),
    ]
    for _ in range(2):
        for uid in uids:
            for parameters in cases:
                for data in (b"", bytes(range(64)), secrets.token_bytes(LARGEST)):
                    asked = MACRequest(unique_identifier=uid, data=data, cryptographic_parameters=parameters)
                    pair.same(version, asked)


@pytest.mark.parametrize("version", GCM_VERSIONS)
def test_decrypt_answers_what_the_general_path_answers(pair: Pair, version: Version) -> None:
    uids = [key(pair, version, A.AES, size, U.ENCRYPT | U.DECRYPT) for size in (16, 24, 32)]
    cases = [
        {},
        {"cryptographic_parameters": gcm(None)},  # a 16-byte tag, the default
        {"iv_counter_nonce": secrets.token_bytes(16)},
        {"authenticated_encryption_additional_data": b"header"},
        {"data": b""},
        {"data": secrets.token_bytes(1)},
        {"data": secrets.token_bytes(LARGEST)},
    ]
    for uid in uids:
        for case in cases:
            asked = encrypt(uid, **case)
            sealed = pair.succeed(version, asked)
            for _ in range(2):  # judged, then kept
                for other in GCM_VERSIONS:  # one key, in every version
                    answer = pair.same(other, decrypt(sealed, asked), time_stamp=other != version)
                    (item,) = ResponseMessage.decode(answer).batch_items
                    assert item.response_payload.data == asked.data  # type: ignore[union-attr]


def test_decrypt_with_a_bad_tag_is_the_general_paths_cryptographic_failure(pair: Pair) -> None:
    """The lane leaves a tag that does not authenticate to the general path, whose answer and
    audit line it then is; so are a tag of another length and additional data changed."""
    version = (2, 1)
    uid = key(pair, version, A.AES, 32, U.ENCRYPT | U.DECRYPT)
    asked = encrypt(uid, authenticated_encryption_additional_data=b"header")
    sealed = pair.succeed(version, asked)
    pair.same(version, decrypt(sealed, asked))
    tag = bytearray(sealed.authenticated_encryption_tag)
    tag[0] ^= 1
    for forged in (
        decrypt(sealed, asked, authenticated_encryption_tag=bytes(tag)),
        decrypt(sealed, asked, data=bytes([sealed.data[0] ^ 1]) + sealed.data[1:]),
        decrypt(sealed, asked, authenticated_encryption_additional_data=b"other"),
        decrypt(sealed, asked, authenticated_encryption_additional_data=None),
    ):
        assert pair.refused(version, forged) is ResultReason.CRYPTOGRAPHIC_FAILURE
        (item,) = pair.last_audit("general")["items"]  # type: ignore[misc]
        assert (item["operation"], item["reason"]) == ("Decrypt", "Cryptographic Failure"), item
    short = encrypt(uid, cryptographic_parameters=gcm(12))
    assert pair.refused(version, decrypt(pair.succeed(version, short), short)) is None  # succeeds there
    assert pair.refused(version, decrypt(sealed, asked, iv_counter_nonce=None)) is not None


def test_a_deactivated_key_decrypts_in_the_lane_but_does_not_encrypt(pair: Pair) -> None:
    version = (2, 1)
    soon = NOW + timedelta(hours=1)
    uid = key(pair, version, A.AES, 32, U.ENCRYPT | U.DECRYPT, (Tag.DEACTIVATION_DATE, soon))
    asked = encrypt(uid)
    sealed = pair.succeed(version, asked)
    pair.same(version, decrypt(sealed, asked))
    pair.now = soon
    assert pair.refused(version, encrypt(uid)) is ResultReason.WRONG_KEY_LIFECYCLE_STATE
    pair.same(version, decrypt(sealed, asked))
    pair.now = NOW
    encrypt_only = key(pair, version, A.AES, 32, U.ENCRYPT)
    asked = encrypt(encrypt_only)
    sealed = pair.succeed(version, asked)
    assert pair.refused(version, decrypt(sealed, asked)) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK


# --- left to the general path ---------------------------------------------------------------


def test_what_the_general_path_refuses_writes_or_grants_is_left_to_it(pair: Pair) -> None:
    version = (2, 1)
    aes = key(pair, version, A.AES, 32, U.ENCRYPT | U.DECRYPT)
    pair.same(version, encrypt(aes))
    decrypt_only = key(pair, version, A.AES, 32, U.DECRYPT)
    limits = UsageLimits(usage_limits_total=10, usage_limits_unit=UsageLimitsUnit.OBJECT)
    limited = key(pair, version, A.AES, 32, U.ENCRYPT, (Tag.USAGE_LIMITS, limits))
    hmac_key = key(pair, version, A.HMAC_SHA256, 32, U.MAC_GENERATE)
    expected = [
        (encrypt(aes, iv_counter_nonce=bytes(4)), ResultReason.INVALID_FIELD),  # GCM takes no 4-byte IV
        (encrypt(aes, cryptographic_parameters=gcm(4)), ResultReason.GENERAL_FAILURE),  # as CS-BC-M-GCM-1
        (encrypt(decrypt_only), ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK),
        (encrypt(hmac_key), ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK),
        (encrypt("no-such-key"), ResultReason.OBJECT_NOT_FOUND),
        (MACRequest(unique_identifier=aes, data=b"x"), ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK),
        (
            MACRequest(
                unique_identifier=hmac_key,
                data=b"x",
                cryptographic_parameters=CryptographicParameters(tag_length=2),
            ),
            ResultReason.INVALID_FIELD,
        ),
    ]
    cbc = CryptographicParameters(block_cipher_mode=BlockCipherMode.CBC)
    expected.append((encrypt(aes, iv_counter_nonce=None), ResultReason.MISSING_INITIALIZATION_VECTOR))
    for payload, reason in expected:
        assert pair.refused(version, payload) is reason, payload
    for payload in (
        encrypt(limited),  # the general path spends the limits
        encrypt(aes, iv_counter_nonce=None, cryptographic_parameters=gcm(random_iv=True)),  # a server IV
        encrypt(aes, data=bytes(LARGEST + 1)),  # too large for the loop
        encrypt(aes, cryptographic_parameters=cbc, iv_counter_nonce=bytes(16)),  # not GCM
    ):
        assert pair.refused(version, payload) is None, payload  # succeeds there
    assert pair.lane.answer(message(version, encrypt(aes)), BOB) is None  # not bob's: grants decide
    assert pair.lane.answer(message(version, encrypt(aes)), Peer(None)) is None
    assert pair.refused((1, 2), encrypt(aes)) is ResultReason.FEATURE_NOT_SUPPORTED  # no tag in 1.2


def test_a_verdict_ends_at_the_keys_next_date(pair: Pair) -> None:
    version = (2, 1)
    soon = NOW + timedelta(hours=1)
    deactivating = key(pair, version, A.AES, 32, U.ENCRYPT, (Tag.DEACTIVATION_DATE, soon))
    stopping = key(pair, version, A.AES, 32, U.ENCRYPT, (Tag.PROTECT_STOP_DATE, soon))
    for uid in (deactivating, stopping):
        pair.same(version, encrypt(uid))
    pair.now = soon
    for uid in (deactivating, stopping):
        assert pair.refused(version, encrypt(uid)) is ResultReason.WRONG_KEY_LIFECYCLE_STATE
    pair.now = NOW


def test_a_kept_verdict_never_outlives_a_write(pair: Pair) -> None:
    """Writes by another process's engine (another store on the same file), each seen next."""
    version = (2, 1)
    uids = [key(pair, version, A.AES, 32, U.ENCRYPT | U.DECRYPT) for _ in range(4)]
    masked, limited, revoked, destroyed = uids
    mac_key = key(pair, version, A.HMAC_SHA256, 32, U.MAC_GENERATE)
    for uid in uids:
        pair.same(version, encrypt(uid))
    pair.same(version, MACRequest(unique_identifier=mac_key, data=b"x"))
    elsewhere = pair.elsewhere()
    other = Engine(elsewhere, DEFAULT_LIMITS, clock=lambda: pair.now)
    try:

        def set_attribute(uid: str, tag: int, value: object) -> None:
            new = NewAttribute.of((tag, value))
            pair.succeed(version, SetAttributeRequest(unique_identifier=uid, new_attribute=new), other)

        def set_mask(uid: str, mask: U) -> None:  # read-only for clients: the store's own write
            with elsewhere.session() as session:
                record = session.load(uid, "alice")
                assert record is not None
                set_single(record.attributes, Tag.CRYPTOGRAPHIC_USAGE_MASK, mask)
                session.save(record)

        set_mask(masked, U.DECRYPT)
        once = UsageLimits(usage_limits_total=1, usage_limits_unit=UsageLimitsUnit.OBJECT)
        set_attribute(limited, Tag.USAGE_LIMITS, once)
        revocation = RevocationReason(revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION)
        pair.succeed(version, RevokeRequest(unique_identifier=revoked, revocation_reason=revocation), other)
        pair.succeed(version, RevokeRequest(unique_identifier=destroyed, revocation_reason=revocation), other)
        pair.succeed(version, DestroyRequest(unique_identifier=destroyed), other)
        set_mask(mac_key, U.MAC_VERIFY)
    finally:
        other.close()
        elsewhere.close()
    assert pair.refused(version, encrypt(masked)) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    assert pair.refused(version, encrypt(limited)) is None  # spends its one use there
    assert pair.refused(version, encrypt(limited)) is ResultReason.PERMISSION_DENIED
    assert pair.refused(version, encrypt(revoked)) is ResultReason.WRONG_KEY_LIFECYCLE_STATE
    assert pair.refused(version, encrypt(destroyed)) is not None
    mac = MACRequest(unique_identifier=mac_key, data=b"x")
    assert pair.refused(version, mac) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK


# --- over TLS -------------------------------------------------------------------------------


def test_encrypt_and_mac_over_tls(kmip_server: RunningServer) -> None:
    """A real server: what the lane encrypts, pyca decrypts; pipelined requests in order."""
    with kmip_server.client("crypto-lane", (1, 4)) as client:
        material = secrets.token_bytes(32)
        fields = attribute_fields((1, 4), (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT | U.DECRYPT))
        uid = client.call(
            RegisterRequest(object_type=ObjectType.SYMMETRIC_KEY, object=symmetric(A.AES, material), **fields)
        ).unique_identifier
        client.call(ActivateRequest(unique_identifier=uid))
        for size in (64, 4096, 5000):
            plaintext = secrets.token_bytes(size)
            iv = secrets.token_bytes(12)
            got = client.call(encrypt(uid, plaintext, iv_counter_nonce=iv))
            assert (
                AESGCM(material).decrypt(iv, got.data + got.authenticated_encryption_tag, None) == plaintext
            )
            sealed = AESGCM(material).encrypt(iv, plaintext, b"aad")
            opened = client.call(
                DecryptRequest(
                    unique_identifier=uid,
                    data=sealed[:-16],
                    cryptographic_parameters=gcm(),
                    iv_counter_nonce=iv,
                    authenticated_encryption_additional_data=b"aad",
                    authenticated_encryption_tag=sealed[-16:],
                )
            )
            assert opened.data == plaintext
