"""The PKCS#11 operation through the engine: KMIP messages in, KMIP messages out.

Layering: a Cryptoki failure is a successful batch item with its CK_RV; the item
fails only for envelope problems (codec, function, interface, permission).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.cli.ttlv import bind_placeholder
from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_NAME
from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    Operation,
    PKCS11Function,
    PKCS11ReturnCode,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, xml_codec
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"


@pytest.fixture
def engine_with(tmp_path: Path) -> Iterator[Callable[[Pkcs11Service], Engine]]:
    engines: list[Engine] = []
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))

    def make(service: Pkcs11Service) -> Engine:
        engine = Engine(store, DEFAULT_LIMITS, pkcs11=service)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()
    store.close()


def send(engine: Engine, payload: PKCS11Request, principal: str = "alice", version: tuple[int, int] = (2, 1)):  # type: ignore[no-untyped-def]
    message = RequestMessage(
        header=RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1),
        batch_items=[RequestBatchItem(operation=Operation.PKCS_11, request_payload=payload)],
    )
    (item,) = ResponseMessage.decode(engine.handle(message.encode(), Peer(principal))).batch_items
    return item


def call(name: str, data: bytes | None = None, correlation_value: bytes | None = None) -> PKCS11Request:
    return PKCS11Request(
        pkcs_11_function=PKCS11Function(BY_NAME[name].id),
        correlation_value=correlation_value,
        pkcs_11_input_parameters=data,
    )


def test_the_official_test_case_against_our_server(
    engine_with: Callable[[Pkcs11Service], Engine], service: Pkcs11Service
) -> None:
    """PKCS11-M-1-21's requests, our answers: same shape, our own CK_INFO."""
    engine = engine_with(service)
    path = TESTCASES / "kmip-profiles-v2.1" / "mandatory" / "PKCS11-M-1-21.xml"
    requests = [
        RequestMessage.from_item(item)
        for item in xml_codec.decode(path.read_bytes(), placeholders=bind_placeholder)
        if item.tag == Tag.REQUEST_MESSAGE
    ]
    correlation_value = None
    answers = []
    for request in requests:
        payload = request.batch_items[0].request_payload
        assert isinstance(payload, PKCS11Request)
        if payload.correlation_value is not None:
            payload.correlation_value = correlation_value
        item = send(engine, payload)
        assert item.result_status is ResultStatus.SUCCESS
        answer = item.response_payload
        assert isinstance(answer, PKCS11Response) and answer.pkcs_11_return_code is PKCS11ReturnCode.OK
        assert answer.pkcs_11_function == payload.pkcs_11_function
        correlation_value = correlation_value or answer.correlation_value
        answers.append(answer)
    initialized, info, finalized = answers
    assert initialized.correlation_value is not None and len(initialized.correlation_value) == 16
    assert initialized.pkcs_11_output_parameters is None
    assert info.correlation_value is None and info.pkcs_11_output_parameters is not None
    assert len(info.pkcs_11_output_parameters) == 76
    decoded = wire.decode_outputs("C_GetInfo", info.pkcs_11_output_parameters)["pInfo"]
    assert isinstance(decoded, dict) and decoded["manufacturerID"] == b"pkcs11-kmip".ljust(32)
    assert finalized.pkcs_11_output_parameters is None
    assert service.context_count == 0


def test_a_cryptoki_failure_is_a_successful_item(
    engine_with: Callable[[Pkcs11Service], Engine], service: Pkcs11Service
) -> None:
    engine = engine_with(service)
    initialized = send(engine, call("C_Initialize", b"\x01")).response_payload
    data = wire.encode_inputs("C_OpenSession", {"slotID": 0xDEAD, "flags": 4})
    item = send(engine, call("C_OpenSession", data, initialized.correlation_value))
    assert item.result_status is ResultStatus.SUCCESS
    assert item.response_payload.pkcs_11_return_code is PKCS11ReturnCode.SLOT_ID_INVALID
    assert item.response_payload.pkcs_11_output_parameters is None
    other = send(engine, call("C_GetInfo", None, initialized.correlation_value), principal="bob")
    assert other.response_payload.pkcs_11_return_code is PKCS11ReturnCode.CRYPTOKI_NOT_INITIALIZED


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (call("C_Initialize", b"\x07"), ResultReason.PKCS_11_CODEC_ERROR),
        (call("C_Initialize"), ResultReason.PKCS_11_CODEC_ERROR),
        (PKCS11Request(pkcs_11_function=PKCS11Function(4)), ResultReason.PKCS_11_INVALID_FUNCTION),
        (PKCS11Request(pkcs_11_function=PKCS11Function(0x5D)), ResultReason.PKCS_11_INVALID_FUNCTION),
        (PKCS11Request(pkcs_11_function=0x80000001), ResultReason.PKCS_11_INVALID_FUNCTION),
        (
            PKCS11Request(pkcs_11_interface="Vendor NSS", pkcs_11_function=PKCS11Function(1)),
            ResultReason.PKCS_11_INVALID_INTERFACE,
        ),
    ],
    ids=["bad-version-byte", "no-version-byte", "C_GetFunctionList", "beyond-3.0", "vendor", "interface"],
)
def test_envelope_problems_fail_the_item(
    engine_with: Callable[[Pkcs11Service], Engine], payload: PKCS11Request, reason: ResultReason
) -> None:
    item = send(engine_with(Pkcs11Service()), payload)
    assert item.result_status is ResultStatus.OPERATION_FAILED
    assert item.result_reason is reason


def test_clients_not_listed_are_refused(
    engine_with: Callable[[Pkcs11Service], Engine], make_service: Callable[..., Pkcs11Service]
) -> None:
    engine = engine_with(make_service(clients=frozenset({"app"})))
    refused = send(engine, call("C_Initialize", b"\x01"), principal="someone")
    assert (refused.result_status, refused.result_reason) == (
        ResultStatus.OPERATION_FAILED,
        ResultReason.PERMISSION_DENIED,
    )
    assert send(engine, call("C_Initialize", b"\x01"), principal="app").result_status is ResultStatus.SUCCESS
