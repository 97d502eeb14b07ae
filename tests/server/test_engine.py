"""The engine without sockets: bytes in, bytes out, over a real SQLite store.

Batches (order, error continuation, ID Placeholder, Unique Batch Item ID), version
negotiation, the reasons a 1.x client gets, and malformed input answered, not raised.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import (
    Attribute,
    Attributes,
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseBatchItem,
    ResponseMessage,
    TemplateAttribute,
)
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CancelRequest,
    CreateKeyPairRequest,
    CreateRequest,
    DestroyRequest,
    DiscoverVersionsRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    PollRequest,
    RequestPayload,
)
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AsynchronousIndicator,
    BatchErrorContinuationOption,
    CancellationResult,
    CryptographicAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
    State,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, Item, ItemType, binary
from pkcs11_kmip_server.engine import Engine, Peer, is_long
from pkcs11_kmip_server.jobs import AsyncJobs
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

ALICE = Peer("alice")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    engine = Engine(
        store, DEFAULT_LIMITS, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), jobs=AsyncJobs(workers=1)
    )
    yield engine
    engine.close()
    store.close()


def aes(version: tuple[int, int]) -> CreateRequest:
    if version < (2, 0):
        template = TemplateAttribute(
            attributes=[
                Attribute(
                    attribute_name="Cryptographic Algorithm", attribute_value=CryptographicAlgorithm.AES
                ),
                Attribute(attribute_name="Cryptographic Length", attribute_value=128),
            ]
        )
        return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, template_attribute=template)
    attributes = Attributes.of(
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.CRYPTOGRAPHIC_LENGTH, 128)
    )
    return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)


def message(
    version: tuple[int, int],
    *payloads: RequestPayload,
    option: BatchErrorContinuationOption | None = None,
    maximum_response_size: int | None = None,
    asynchronous: bool | AsynchronousIndicator | None = None,
) -> bytes:
    items = [
        RequestBatchItem(operation=p.OPERATION, unique_batch_item_id=bytes([i]), request_payload=p)
        for i, p in enumerate(payloads)
    ]
    header = RequestHeader(
        protocol_version=ProtocolVersion.of(version),
        batch_error_continuation_option=option,
        maximum_response_size=maximum_response_size,
        asynchronous_indicator=asynchronous,
        batch_count=len(items),
    )
    return RequestMessage(header=header, batch_items=items).encode()


def exchange(engine: Engine, data: bytes, peer: Peer = ALICE) -> ResponseMessage:
    return ResponseMessage.decode(engine.handle(data, peer))


def test_the_id_placeholder_carries_an_object_through_a_batch(engine: Engine) -> None:
    response = exchange(engine, message((2, 1), aes((2, 1)), ActivateRequest(), GetAttributesRequest()))
    create, activate, attributes = response.batch_items
    assert [i.result_status for i in response.batch_items] == [ResultStatus.SUCCESS] * 3
    assert [i.unique_batch_item_id for i in response.batch_items] == [b"\x00", b"\x01", b"\x02"]
    uid = create.response_payload.unique_identifier  # type: ignore[union-attr]
    assert activate.response_payload.unique_identifier == uid  # type: ignore[union-attr]
    assert attributes.response_payload.attributes.get(Tag.STATE) is State.ACTIVE  # type: ignore[union-attr]


def test_a_batch_index_names_the_private_key_of_a_pair(engine: Engine) -> None:
    pair = CreateKeyPairRequest(
        common_attributes=CommonAttributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.EC),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
        )
    )
    response = exchange(engine, message((2, 1), pair, GetRequest(unique_identifier=0)))
    created, got = response.batch_items
    assert got.result_status is ResultStatus.SUCCESS, got.result_message
    private = created.response_payload.private_key_unique_identifier  # type: ignore[union-attr]
    assert got.response_payload.unique_identifier == private  # type: ignore[union-attr]
    assert got.response_payload.object_type is ObjectType.PRIVATE_KEY  # type: ignore[union-attr]


def test_create_keeps_the_key_in_the_format_asked_for(engine: Engine) -> None:
    request = aes((2, 1))
    assert request.attributes is not None
    request.attributes.add(Tag.KEY_FORMAT_TYPE, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY)
    created = exchange(engine, message((2, 1), request, GetAttributesRequest()))
    attributes = created.batch_items[1].response_payload.attributes  # type: ignore[union-attr]
    assert attributes.get_all(Tag.KEY_FORMAT_TYPE) == [KeyFormatType.TRANSPARENT_SYMMETRIC_KEY]


def test_stop_leaves_the_rest_unprocessed_and_keeps_what_was_done(engine: Engine) -> None:
    response = exchange(
        engine, message((2, 1), aes((2, 1)), GetRequest(unique_identifier="missing"), ActivateRequest())
    )
    assert [i.result_status for i in response.batch_items] == [
        ResultStatus.SUCCESS,
        ResultStatus.OPERATION_FAILED,
    ]
    assert response.header is not None and response.header.batch_count == 2
    uid = response.batch_items[0].response_payload.unique_identifier  # type: ignore[union-attr]
    assert exchange(engine, message((2, 1), GetRequest(unique_identifier=uid))).batch_items[
        0
    ].result_status is (ResultStatus.SUCCESS)


def test_continue_processes_every_item(engine: Engine) -> None:
    response = exchange(
        engine,
        message(
            (2, 1),
            GetRequest(unique_identifier="missing"),
            aes((2, 1)),
            option=BatchErrorContinuationOption.CONTINUE,
        ),
    )
    assert [i.result_status for i in response.batch_items] == [
        ResultStatus.OPERATION_FAILED,
        ResultStatus.SUCCESS,
    ]


def test_undo_rolls_back_what_the_batch_did(engine: Engine) -> None:
    response = exchange(
        engine,
        message(
            (2, 1),
            aes((2, 1)),
            DestroyRequest(unique_identifier="missing"),
            option=BatchErrorContinuationOption.UNDO,
        ),
    )
    assert [i.result_status for i in response.batch_items] == [
        ResultStatus.OPERATION_UNDONE,
        ResultStatus.OPERATION_FAILED,
    ]
    located = exchange(engine, message((2, 1), LocateRequest(attributes=Attributes.of())))
    assert located.batch_items[0].response_payload.unique_identifiers == []  # type: ignore[union-attr]


def test_a_1x_client_gets_the_reason_its_version_knows(engine: Engine) -> None:
    response = exchange(engine, message((1, 2), GetRequest(unique_identifier="missing")))
    assert response.version() == (1, 2)
    assert response.batch_items[0].result_reason is ResultReason.ITEM_NOT_FOUND
    response = exchange(engine, message((2, 0), GetRequest(unique_identifier="missing")))
    assert response.batch_items[0].result_reason is ResultReason.OBJECT_NOT_FOUND


def test_1x_clients_see_1x_attribute_forms(engine: Engine) -> None:
    create = exchange(engine, message((1, 1), aes((1, 1)))).batch_items[0]
    uid = create.response_payload.unique_identifier  # type: ignore[union-attr]
    found = exchange(
        engine, message((1, 1), GetAttributesRequest(unique_identifier=uid, attribute_names=["State"]))
    )
    (state,) = found.batch_items[0].response_payload.attribute_list  # type: ignore[union-attr]
    assert (state.attribute_name, state.attribute_value) == ("State", State.PRE_ACTIVE)


def test_an_unsupported_version_is_answered_in_one_we_speak(engine: Engine) -> None:
    response = exchange(engine, message((3, 0), DiscoverVersionsRequest()))
    assert response.version() == (2, 1)
    assert response.batch_items[0].result_reason is ResultReason.UNSUPPORTED_PROTOCOL_VERSION


def test_discover_versions_lists_what_both_speak(engine: Engine) -> None:
    offered = [ProtocolVersion.of(v) for v in ((3, 0), (1, 4), (1, 2))]
    response = exchange(engine, message((1, 0), DiscoverVersionsRequest(protocol_versions=offered)))
    versions = response.batch_items[0].response_payload.protocol_versions  # type: ignore[union-attr]
    assert [v.as_tuple() for v in versions] == [(1, 4), (1, 2)]


def test_maximum_response_size(engine: Engine) -> None:
    response = exchange(engine, message((2, 1), aes((2, 1)), maximum_response_size=64))
    assert response.batch_items[0].result_reason is ResultReason.RESPONSE_TOO_LARGE


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x42\x00\x78\x01\x00\x00\x00\x08garbage!", ResultReason.INVALID_MESSAGE),
        (binary.encode(Item(Tag.REQUEST_MESSAGE, ItemType.STRUCTURE, [])), ResultReason.INVALID_MESSAGE),
    ],
    ids=["malformed TTLV", "no header"],
)
def test_malformed_messages_get_invalid_message(engine: Engine, data: bytes, reason: ResultReason) -> None:
    assert exchange(engine, data).batch_items[0].result_reason is reason


def test_a_malformed_payload_fails_only_its_item(engine: Engine) -> None:
    good = RequestMessage.decode(message((2, 1), aes((2, 1)), GetRequest(unique_identifier="x")))
    item = good.to_item()
    bad_payload = item.children[2].children[2]
    bad_payload.value = [Item(Tag.UNIQUE_IDENTIFIER, ItemType.BOOLEAN, True)]
    response = exchange(engine, binary.encode(item))
    first, second = response.batch_items
    assert first.result_status is ResultStatus.SUCCESS
    assert (second.operation, second.result_reason) == (Operation.GET, ResultReason.INVALID_FIELD)


def test_an_unknown_operation_is_not_supported(engine: Engine) -> None:
    item = RequestMessage.decode(message((2, 1), GetRequest(unique_identifier="x"))).to_item()
    batch = item.children[1]
    batch.value = [
        Item(Tag.OPERATION, ItemType.ENUMERATION, 0x80000042),
        Item(Tag.REQUEST_PAYLOAD, ItemType.STRUCTURE, []),
    ]
    response = exchange(engine, binary.encode(item))
    assert response.batch_items[0].result_reason is ResultReason.OPERATION_NOT_SUPPORTED


def test_clients_are_isolated(engine: Engine) -> None:
    create = exchange(engine, message((2, 1), aes((2, 1)))).batch_items[0]
    uid = create.response_payload.unique_identifier  # type: ignore[union-attr]
    other = exchange(engine, message((2, 1), GetRequest(unique_identifier=uid)), Peer("mallory"))
    assert other.batch_items[0].result_reason is ResultReason.OBJECT_NOT_FOUND


# --- asynchronous operations ------------------------------------------------------------------


def poll(
    engine: Engine, version: tuple[int, int], correlation: bytes, peer: Peer = ALICE
) -> ResponseBatchItem:
    """Poll until the operation is no longer pending (the background worker is quick)."""
    deadline = time.monotonic() + 10
    while True:
        request = message(version, PollRequest(asynchronous_correlation_value=correlation))
        item = exchange(engine, request, peer).batch_items[0]
        if item.result_status is not ResultStatus.OPERATION_PENDING or time.monotonic() > deadline:
            return item
        time.sleep(0.01)


@pytest.mark.parametrize(("version", "asked"), [((2, 1), AsynchronousIndicator.MANDATORY), ((1, 4), True)])
def test_an_asynchronous_batch_is_pending_then_polled_once(
    engine: Engine, version: tuple[int, int], asked: bool | AsynchronousIndicator
) -> None:
    response = exchange(engine, message(version, aes(version), ActivateRequest(), asynchronous=asked))
    create, activate = response.batch_items
    assert [i.result_status for i in response.batch_items] == [ResultStatus.OPERATION_PENDING] * 2
    assert create.asynchronous_correlation_value and activate.asynchronous_correlation_value
    assert create.asynchronous_correlation_value != activate.asynchronous_correlation_value
    assert create.response_payload is None

    created = poll(engine, version, create.asynchronous_correlation_value)
    assert (created.operation, created.result_status) == (Operation.CREATE, ResultStatus.SUCCESS)
    uid = created.response_payload.unique_identifier  # type: ignore[union-attr]
    activated = poll(engine, version, activate.asynchronous_correlation_value)
    assert activated.operation is Operation.ACTIVATE
    assert activated.response_payload.unique_identifier == uid  # type: ignore[union-attr]

    again = poll(engine, version, create.asynchronous_correlation_value)
    assert again.result_status is ResultStatus.OPERATION_FAILED
    # 1.x has no Invalid Asynchronous Correlation Value
    expected = (
        ResultReason.INVALID_FIELD
        if version < (2, 0)
        else ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE
    )
    assert again.result_reason is expected


def test_only_the_asking_client_can_poll(engine: Engine) -> None:
    response = exchange(engine, message((2, 1), aes((2, 1)), asynchronous=AsynchronousIndicator.MANDATORY))
    correlation = response.batch_items[0].asynchronous_correlation_value
    assert correlation is not None
    stolen = poll(engine, (2, 1), correlation, Peer("mallory"))
    assert stolen.result_reason is ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE
    assert poll(engine, (2, 1), correlation).result_status is ResultStatus.SUCCESS


def test_optional_asynchrony_is_answered_at_once(engine: Engine) -> None:
    response = exchange(engine, message((2, 1), aes((2, 1)), asynchronous=AsynchronousIndicator.OPTIONAL))
    assert response.batch_items[0].result_status is ResultStatus.SUCCESS


def test_items_after_a_stop_are_reported_not_run(engine: Engine) -> None:
    response = exchange(
        engine,
        message(
            (2, 1),
            GetRequest(unique_identifier="missing"),
            aes((2, 1)),
            asynchronous=AsynchronousIndicator.MANDATORY,
        ),
    )
    failed, skipped = (
        poll(engine, (2, 1), i.asynchronous_correlation_value or b"") for i in response.batch_items
    )
    assert failed.result_reason is ResultReason.OBJECT_NOT_FOUND
    assert skipped.result_status is ResultStatus.OPERATION_FAILED
    assert skipped.result_message and "not run" in skipped.result_message


def test_cancel_before_the_operation_starts(engine: Engine) -> None:
    gate = threading.Event()

    def blocker() -> list[bytes]:
        gate.wait(10)
        return []

    engine.jobs.submit(engine.store, "someone", (2, 1), blocker, 1)  # occupies the only worker
    try:
        response = exchange(
            engine, message((2, 1), aes((2, 1)), asynchronous=AsynchronousIndicator.MANDATORY)
        )
        correlation = response.batch_items[0].asynchronous_correlation_value
        assert correlation is not None
        canceled = exchange(
            engine, message((2, 1), CancelRequest(asynchronous_correlation_value=correlation))
        )
        payload = canceled.batch_items[0].response_payload
        assert payload.cancellation_result is CancellationResult.CANCELED  # type: ignore[union-attr]
    finally:
        gate.set()
    assert (
        poll(engine, (2, 1), correlation).result_reason is ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE
    )
    located = exchange(engine, message((2, 1), LocateRequest(attributes=Attributes.of())))
    assert located.batch_items[0].response_payload.unique_identifiers == []  # type: ignore[union-attr]


def test_cancel_after_completion_says_completed(engine: Engine) -> None:
    response = exchange(engine, message((2, 1), aes((2, 1)), asynchronous=AsynchronousIndicator.MANDATORY))
    correlation = response.batch_items[0].asynchronous_correlation_value
    assert correlation is not None
    engine.jobs.shutdown()  # waits for the running job
    canceled = exchange(engine, message((2, 1), CancelRequest(asynchronous_correlation_value=correlation)))
    payload = canceled.batch_items[0].response_payload
    assert payload.cancellation_result is CancellationResult.COMPLETED  # type: ignore[union-attr]


def test_long_operations_are_recognised_from_the_raw_bytes() -> None:
    pair = CreateKeyPairRequest(
        common_attributes=CommonAttributes.of((Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.RSA))
    )
    assert is_long(message((2, 1), pair))
    assert is_long(message((2, 0), GetRequest(unique_identifier="x"), pair))
    assert not is_long(message((2, 1), GetRequest(unique_identifier="x"), aes((2, 1))))


def test_a_job_one_process_runs_is_polled_and_canceled_through_another(tmp_path: Path) -> None:
    """Two engines on one store file stand for two server processes ([server] processes)."""
    sealer = Sealer(secrets.token_bytes(32))
    stores = [SqliteStore(tmp_path / "shared.sqlite3", sealer) for _ in range(2)]
    first, second = (Engine(store, DEFAULT_LIMITS, jobs=AsyncJobs(workers=1)) for store in stores)
    asynchronous = message((2, 1), aes((2, 1)), asynchronous=AsynchronousIndicator.MANDATORY)
    try:
        ran = exchange(first, asynchronous).batch_items[0].asynchronous_correlation_value
        assert ran is not None
        assert poll(second, (2, 1), ran).result_status is ResultStatus.SUCCESS

        gate = threading.Event()
        first.jobs.submit(first.store, "someone", (2, 1), lambda: [b"" if gate.wait(10) else b"timed out"], 1)
        try:
            queued = exchange(first, asynchronous).batch_items[0].asynchronous_correlation_value
            assert queued is not None
            canceled = exchange(second, message((2, 1), CancelRequest(asynchronous_correlation_value=queued)))
            payload = canceled.batch_items[0].response_payload
            assert payload.cancellation_result is CancellationResult.CANCELED  # type: ignore[union-attr]
        finally:
            gate.set()
        first.jobs.shutdown()  # the canceled job's turn came: it did not run
        assert (
            poll(first, (2, 1), queued).result_reason is ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE
        )
        located = exchange(second, message((2, 1), LocateRequest(attributes=Attributes.of())))
        assert len(located.batch_items[0].response_payload.unique_identifiers) == 1  # type: ignore[union-attr]
    finally:
        for engine in (first, second):
            engine.close()
            engine.store.close()


def test_a_job_whose_process_ended_unfinished_is_answered_general_failure(engine: Engine) -> None:
    correlation = secrets.token_bytes(16)
    with engine.store.session() as session:  # as a process that then crashed left it
        session.jobs().add("crashed", [correlation], "alice", "4194303:0", (2, 1))
    failed = poll(engine, (2, 1), correlation)
    assert (failed.result_status, failed.result_reason) == (
        ResultStatus.OPERATION_FAILED,
        ResultReason.GENERAL_FAILURE,
    )
    assert failed.result_message and "ended with its server process" in failed.result_message
    # A failure is answered until it expires (only a success is handed out once).
    assert poll(engine, (2, 1), correlation).result_reason is ResultReason.GENERAL_FAILURE
    stolen = poll(engine, (2, 1), correlation, Peer("mallory"))
    assert stolen.result_reason is ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE
