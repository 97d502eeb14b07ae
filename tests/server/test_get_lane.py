"""The Get lane (get_lane.py) against the general path, which is the reference.

`read_get` must take exactly the plain Get messages (as KmipClient writes them, or
without a Time Stamp) and nothing else; for every object and protocol version the lane
answers, its bytes and its audit line must be the general path's; it must leave to the
general path whatever that path refuses, writes or checks with grants; and an answer it
keeps must never outlive a change to the object, made by this engine or by another
process's (another store on the same database).
"""

from __future__ import annotations

import secrets
import socket
import ssl
import struct
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.framing import MessageReader
from pkcs11_kmip.kmip.messages import (
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    ArchiveRequest,
    CreateKeyPairRequest,
    DestroyRequest,
    GetRequest,
    RegisterRequest,
    RequestPayload,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    Authentication,
    Credential,
    CredentialValue,
    ProtocolVersion,
    RevocationReason,
)
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    CredentialType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.get_lane import GetLane, read_get
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS
from testsupport.kmip_builders import aes_create, attribute_fields
from testsupport.lanes import ALICE, BOB, NOW, EnginePair
from testsupport.managed_keys import secret_data, symmetric
from testsupport.server import RunningServer

USAGE = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT


def get_message(version: Version, uid: str | int, time_stamp: bool = True, **header: object) -> bytes:
    """A Get of `uid` and nothing else, as KmipClient writes it (Time Stamp included)."""
    return RequestMessage(
        header=RequestHeader(
            protocol_version=ProtocolVersion.of(version),
            time_stamp=NOW if time_stamp else None,
            batch_count=1,
            **header,  # type: ignore[arg-type]
        ),
        batch_items=[
            RequestBatchItem(operation=Operation.GET, request_payload=GetRequest(unique_identifier=uid))
        ],
    ).encode(version)


# --- the bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_read_get_reads_plain_gets(version: Version) -> None:
    for uid in ["1", "a" * 7, "b" * 8, "c" * 9, "é-" + secrets.token_hex(18)]:
        for time_stamp in (True, False):
            assert read_get(get_message(version, uid, time_stamp)) == (version, uid)


def _others(version: Version) -> Iterator[tuple[str, bytes]]:
    """Messages the general path must read (or refuse): each a Get of another shape."""
    plain = get_message(version, "0123456789")
    yield "a byte more", plain[:4] + struct.pack(">I", len(plain) - 7) + plain[8:] + b"\0"
    yield "truncated", plain[:-8]
    yield "nonzero padding", plain[:-1] + b"\x01"
    yield (
        "another operation",
        plain.replace(
            struct.pack(">IIi", int(Tag.OPERATION) << 8 | 5, 4, Operation.GET),
            struct.pack(">IIi", int(Tag.OPERATION) << 8 | 5, 4, Operation.GET_ATTRIBUTES),
        ),
    )
    yield (
        "two items counted",
        plain.replace(
            struct.pack(">IIi", int(Tag.BATCH_COUNT) << 8 | 2, 4, 1),
            struct.pack(">IIi", int(Tag.BATCH_COUNT) << 8 | 2, 4, 2),
        ),
    )
    yield "Time Stamp past 9999", plain[:64] + struct.pack(">q", 253_402_300_800) + plain[72:]
    yield "Time Stamp before 1970", plain[:64] + struct.pack(">q", -1) + plain[72:]
    yield "not UTF-8", plain.replace(b"0123456789", b"\xff123456789")
    yield "a Maximum Response Size", get_message(version, "0123456789", maximum_response_size=100)
    credential = Credential(
        credential_type=CredentialType.USERNAME_AND_PASSWORD,
        credential_value=CredentialValue(username="alice", password="secret"),
    )
    yield (
        "Authentication",
        get_message(version, "0123456789", authentication=Authentication(credentials=[credential])),
    )
    formatted = GetRequest(unique_identifier="0123456789", key_format_type=KeyFormatType.RAW)
    header = RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1)
    item = RequestBatchItem(operation=Operation.GET, request_payload=formatted)
    yield "a Key Format Type", RequestMessage(header=header, batch_items=[item]).encode(version)
    item = RequestBatchItem(
        operation=Operation.GET, unique_batch_item_id=b"1", request_payload=GetRequest(unique_identifier="1")
    )
    yield "a Unique Batch Item ID", RequestMessage(header=header, batch_items=[item]).encode(version)
    twice = RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=2)
    item = RequestBatchItem(operation=Operation.GET, request_payload=GetRequest(unique_identifier="1"))
    yield "two items", RequestMessage(header=twice, batch_items=[item, item]).encode(version)
    if version >= (2, 0):
        yield "a batch index", get_message(version, 0)
    yield "KMIP 3.0", plain[:32] + struct.pack(">i", 3) + plain[36:]


@pytest.mark.parametrize("version", [(1, 0), (1, 4), (2, 1)])
def test_read_get_leaves_every_other_shape_to_the_general_path(version: Version) -> None:
    assert read_get(get_message(version, "0123456789")) is not None
    for what, message in _others(version):
        assert read_get(message) is None, what


# --- the engine -----------------------------------------------------------------------------


class Pair(EnginePair):
    """The engine pair with the Get lane on `lane_engine`."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.lane = GetLane(self.lane_engine)


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    made = Pair(tmp_path)
    yield made
    made.close()


def created(response: ResponseMessage) -> str:
    (item,) = response.batch_items
    assert item.result_status is ResultStatus.SUCCESS, (item.result_reason, item.result_message)
    uid = getattr(item.response_payload, "unique_identifier", None)
    assert isinstance(uid, str)
    return uid


def objects(pair: Pair, version: Version) -> list[str]:
    """Objects of several kinds and sizes, made in `version`, of alice's."""
    uids = [created(pair.call(version, aes_create(version, length))) for length in (128, 192, 256)]
    for kind, value in (
        (ObjectType.SYMMETRIC_KEY, symmetric(CryptographicAlgorithm.AES, secrets.token_bytes(32))),
        (ObjectType.SYMMETRIC_KEY, symmetric(CryptographicAlgorithm.HMAC_SHA256, secrets.token_bytes(17))),
        (ObjectType.SECRET_DATA, secret_data(b"a password of 29 characters..")),
    ):
        fields = attribute_fields(version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, USAGE))
        uids.append(created(pair.call(version, RegisterRequest(object_type=kind, object=value, **fields))))
    if version >= (2, 0):  # a key pair, in the 2.x form the test builders write
        common = CommonAttributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.EC), (Tag.CRYPTOGRAPHIC_LENGTH, 256)
        )
        (item,) = pair.call(version, CreateKeyPairRequest(common_attributes=common)).batch_items
        payload = item.response_payload
        uids += [payload.public_key_unique_identifier, payload.private_key_unique_identifier]  # type: ignore[union-attr]
    return uids


def same_answer(pair: Pair, version: Version, uid: str, time_stamp: bool = True) -> bytes:
    """The lane's answer, checked against the general path's bytes and audit line."""
    message = get_message(version, uid, time_stamp)
    lane = pair.lane.answer(message, ALICE)
    assert lane is not None, uid
    assert lane == pair.general.handle(message, ALICE)
    assert pair.last_audit("lane") == pair.last_audit("general")
    return lane


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_the_lane_answers_what_the_general_path_answers(pair: Pair, version: Version) -> None:
    uids = objects(pair, version)
    for uid in uids:  # the first Get of a created key clears Fresh (a write): the general path's
        pair.general.handle(get_message(version, uid), ALICE)
    for _ in range(2):  # made, then kept
        for uid in uids:
            for other in SUPPORTED_VERSIONS:  # one object, answered in every version
                same_answer(pair, other, uid, time_stamp=other != version)


def test_a_fresh_key_goes_to_the_general_path_which_clears_fresh(pair: Pair) -> None:
    uid = created(pair.call((2, 1), aes_create((2, 1))))
    message = get_message((2, 1), uid)
    assert pair.lane.answer(message, ALICE) is None  # Fresh: the Get writes
    first = pair.general.handle(message, ALICE)
    assert ResponseMessage.decode(first).batch_items[0].result_status is ResultStatus.SUCCESS
    assert same_answer(pair, (2, 1), uid)[-100:] == first[-100:]  # the same key


def test_a_kept_answer_never_outlives_a_change(pair: Pair) -> None:
    """Changes by this engine and by another process's (another store on the same file)."""
    version = (1, 4)
    uids = [created(pair.call(version, aes_create(version))) for _ in range(4)]
    for uid in uids:
        pair.general.handle(get_message(version, uid), ALICE)
        same_answer(pair, version, uid)
    elsewhere = pair.elsewhere()
    other = Engine(elsewhere, DEFAULT_LIMITS, clock=lambda: NOW)
    try:

        def call(payload: RequestPayload) -> None:
            header = RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1)
            item = RequestBatchItem(operation=payload.OPERATION, request_payload=payload)
            answer = ResponseMessage.decode(
                other.handle(RequestMessage(header=header, batch_items=[item]).encode(version), ALICE)
            )
            assert answer.batch_items[0].result_status is ResultStatus.SUCCESS, answer.batch_items[
                0
            ].result_message

        active, revoked, destroyed, archived = uids
        call(ActivateRequest(unique_identifier=active))
        call(ActivateRequest(unique_identifier=revoked))
        revocation = RevocationReason(revocation_reason_code=RevocationReasonCode.KEY_COMPROMISE)
        call(
            RevokeRequest(
                unique_identifier=revoked,
                revocation_reason=revocation,
                compromise_occurrence_date=NOW - timedelta(days=1),
            )
        )
        call(DestroyRequest(unique_identifier=destroyed))
        call(ArchiveRequest(unique_identifier=archived))
    finally:
        other.close()
        elsewhere.close()
    same_answer(pair, version, active)  # its row changed; the answer is made again, the same
    same_answer(pair, version, revoked)  # Get of a compromised key is allowed
    for uid, reason in (
        (destroyed, ResultReason.PERMISSION_DENIED),
        (archived, ResultReason.OBJECT_ARCHIVED),
    ):
        assert pair.lane.answer(get_message(version, uid), ALICE) is None
        (item,) = ResponseMessage.decode(pair.general.handle(get_message(version, uid), ALICE)).batch_items
        assert item.result_reason is reason, (uid, item.result_reason)


def test_what_the_general_path_refuses_or_grants_is_left_to_it(pair: Pair) -> None:
    version = (2, 1)
    flags = [
        attribute_fields(version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, USAGE), (Tag.SENSITIVE, True)),
        attribute_fields(version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, USAGE), (Tag.EXTRACTABLE, False)),
    ]
    key = symmetric(CryptographicAlgorithm.AES, secrets.token_bytes(16))
    refused = [
        created(
            pair.call(version, RegisterRequest(object_type=ObjectType.SYMMETRIC_KEY, object=key, **fields))
        )
        for fields in flags
    ]
    plain = created(pair.call(version, aes_create(version)))
    pair.general.handle(get_message(version, plain), ALICE)
    same_answer(pair, version, plain)
    for uid in [*refused, "no-such-object"]:
        assert pair.lane.answer(get_message(version, uid), ALICE) is None, uid
    assert pair.lane.answer(get_message(version, plain), BOB) is None  # not bob's: grants decide
    assert pair.lane.answer(get_message(version, plain), Peer(None)) is None  # no identity


# --- over TLS ---------------------------------------------------------------------------


def test_pipelined_gets_over_tls_are_answered_in_order(kmip_server: RunningServer) -> None:
    """Forty Gets in one write: the loop answers them (16 a turn), in order, each right."""
    identity = kmip_server.client_identity("get-lane")
    version = (1, 2)
    with kmip_server.client("get-lane", version) as client:
        uids = [client.call(aes_create(version)).unique_identifier for _ in range(4)]
        keys = {
            uid: client.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
            for uid in uids
        }
    order = [uids[i % 4] for i in range(40)]
    context = ssl.create_default_context(cafile=str(identity.ca))
    context.load_cert_chain(str(identity.cert), str(identity.key))
    address = (kmip_server.host, kmip_server.port)
    with (
        socket.create_connection(address, timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=kmip_server.host) as tls,
    ):
        tls.sendall(b"".join(get_message(version, uid) for uid in order))
        reader = MessageReader(DEFAULT_LIMITS)
        answers: list[bytes] = []
        while len(answers) < len(order):
            message = reader.next_message()
            if message is None:
                reader.feed(tls.recv(65536))
                continue
            answers.append(message)
    for uid, answer in zip(order, answers, strict=True):
        (item,) = ResponseMessage.decode(answer).batch_items
        assert item.result_status is ResultStatus.SUCCESS
        assert item.response_payload.unique_identifier == uid  # type: ignore[union-attr]
        assert item.response_payload.object.key_block.key_value.key_material == keys[uid]  # type: ignore[union-attr]
