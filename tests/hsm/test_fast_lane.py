"""The fast lane for PKCS#11 messages against the general path, which is the reference.

`frames.read_request` must take exactly the messages `frames.request` writes and nothing
else; `frames.response` must write what the typed encoder writes; and an engine must
answer a plain forwarded call through the lane with what its general path answers, with
the same checks (identity, [pkcs11] clients, the context's principal and connection),
the same Result Reasons for what it refuses, and the same audit line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import struct
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.cryptoki import frames, wire
from pkcs11_kmip.cryptoki.calls import BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import OutRequest
from pkcs11_kmip.kmip.messages import ResponseBatchItem, ResponseHeader, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Response
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import (
    Operation,
    PKCS11Function,
    PKCS11ReturnCode,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.hsm.service import Pkcs11Service, WorkerBackend
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

NOW = 1_795_000_000
VERSIONS = [(2, 0), (2, 1)]
CORRELATION_VALUES = [None, bytes(range(16)), b"x", b""]
DATA = [b"", b"\x01", bytes(range(7)), bytes(range(8)), bytes(range(9)), bytes(200)]


# --- the bytes ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_read_request_reads_what_request_writes(version: tuple[int, int]) -> None:
    for function, cv, data in itertools.product([1, 2, 25, 44, 92, 300], CORRELATION_VALUES, DATA):
        message = frames.request(function, cv, data, version, NOW)
        assert frames.read_request(message) == frames.Request(version, NOW, function, cv, data)


def _mutations(message: bytes) -> Iterator[tuple[str, bytes]]:
    """Messages the general path must read (or refuse), each one change from a plain one."""
    yield "a byte more", message[:4] + struct.pack(">I", len(message) - 7) + message[8:] + b"\0"
    yield "a byte less", message[:4] + struct.pack(">I", len(message) - 9) + message[8:-1]
    yield "two items counted", message[:84] + struct.pack(">i", 2) + message[88:]
    yield "Time Stamp past 9999", message[:64] + struct.pack(">q", 253_402_300_800) + message[72:]
    yield "Time Stamp before 1970", message[:64] + struct.pack(">q", -1) + message[72:]
    yield "another operation", message[:104] + struct.pack(">I", int(Operation.RNG_RETRIEVE)) + message[108:]
    yield "nonzero padding", message[:-1] + b"\x01"
    yield "a request message tag changed", b"\x42\x00\x7b\x02" + message[4:]  # a Response Message
    yield "truncated", message[:100]


def test_read_request_leaves_every_other_shape_to_the_general_path() -> None:
    message = frames.request(BY_NAME["C_GenerateRandom"].id, b"c" * 16, bytes(range(5)), (2, 1), NOW)
    assert frames.read_request(message) is not None
    for what, changed in _mutations(message):
        assert frames.read_request(changed) is None, what


def typed_response(version: tuple[int, int], answer: frames.Answer, server_cv: str | None) -> bytes:
    header = ResponseHeader(
        protocol_version=ProtocolVersion.of(version),
        time_stamp=datetime.fromtimestamp(NOW, UTC),
        server_correlation_value=server_cv,
        batch_count=1,
    )
    payload = PKCS11Response(
        pkcs_11_function=PKCS11Function(answer.function),
        correlation_value=answer.correlation_value,
        pkcs_11_output_parameters=answer.output,
        pkcs_11_return_code=PKCS11ReturnCode(answer.return_code),
    )
    item = ResponseBatchItem(
        operation=Operation.PKCS_11, result_status=ResultStatus.SUCCESS, response_payload=payload
    )
    return ResponseMessage(header=header, batch_items=[item]).encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_responses_are_the_typed_encoders_bytes(version: tuple[int, int]) -> None:
    codes = [0, 0x150, 0x190, 0x80000001]
    for cv, output, code, server_cv in itertools.product(
        CORRELATION_VALUES, [None, *DATA], codes, [None, "A1B2C3D4-17", "é"]
    ):
        answer = frames.Answer(44, code, cv, output)
        expected = typed_response(version, answer, server_cv)
        assert frames.response(version, NOW, server_cv, answer) == expected, (cv, output, code, server_cv)
        assert frames.read_response(expected) == answer  # and the library reads it back


# --- the engine -----------------------------------------------------------------------------


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Callable[[Pkcs11Service, str], Engine]]:
    """Engines on one store with an audit log each (named by `name`)."""
    made: list[Engine] = []
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))

    def make(service: Pkcs11Service, name: str) -> Engine:
        engine = Engine(store, DEFAULT_LIMITS, pkcs11=service, audit=AuditLog(tmp_path / f"{name}.log"))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
        assert engine.audit is not None
        engine.audit.close()
    store.close()


def general(engine: Engine) -> Engine:
    """The engine with its fast lane closed: every message takes the general path."""
    engine.fast_lane.answer = lambda data, peer: None  # type: ignore[method-assign]
    return engine


def lane_answers(engine: Engine) -> list[bytes | None]:
    """What the engine's fast lane answers from now on, message by message."""
    answers: list[bytes | None] = []
    answer = engine.fast_lane.answer

    def spy(data: bytes, peer: Peer) -> bytes | None:
        answers.append(answer(data, peer))
        return answers[-1]

    engine.fast_lane.answer = spy  # type: ignore[method-assign]
    return answers


def message(name: str, cv: bytes | None, **values: wire.Value) -> bytes:
    return frames.request(BY_NAME[name].id, cv, wire.encode_inputs(name, values), (2, 1), frames.now())


def initialize() -> bytes:
    return frames.request(BY_NAME["C_Initialize"].id, None, b"\x01", (2, 1), frames.now())


def open_context(engine: Engine, peer: Peer) -> bytes:
    """A new context for `peer` (its Correlation Value), through the engine."""
    correlation_value = pkcs11_answer(engine.handle(initialize(), peer)).correlation_value
    assert correlation_value
    return correlation_value


def alice_with_context(engine: Engine) -> tuple[Peer, bytes, bytes]:
    """Alice on connection 1 with a new context: her peer, its Correlation Value, and a
    C_GetSlotList request in that context."""
    alice = Peer("alice", connection=1)
    cv = open_context(engine, alice)
    return alice, cv, message("C_GetSlotList", cv, tokenPresent=1, pSlotList=OutRequest(True, 8))


def worker_backend(service: Pkcs11Service, cv: bytes) -> WorkerBackend:
    context = service._context("alice", cv, 1)
    assert context is not None and isinstance(context.backend, WorkerBackend)
    return context.backend


def decoded(response: bytes) -> ResponseMessage:
    """The response with its per-message header value (the server's counter) left out."""
    answer = ResponseMessage.decode(response)
    assert answer.header is not None
    answer.header.server_correlation_value = None
    answer.header.time_stamp = None
    return answer


def pkcs11_answer(response: bytes) -> PKCS11Response:
    (item,) = ResponseMessage.decode(response).batch_items
    assert item.result_status is ResultStatus.SUCCESS, (item.result_reason, item.result_message)
    assert isinstance(item.response_payload, PKCS11Response)
    return item.response_payload


def outputs(name: str, answer: PKCS11Response) -> Any:
    """The Output Parameters of a call's answer, decoded (what the library would read)."""
    assert answer.pkcs_11_output_parameters is not None
    return wire.decode_outputs(name, answer.pkcs_11_output_parameters)


def refusal(response: bytes) -> ResultReason | None:
    (item,) = ResponseMessage.decode(response).batch_items
    assert item.result_status is ResultStatus.OPERATION_FAILED
    return item.result_reason


def audit_lines(engine: Engine) -> list[dict[str, object]]:
    assert engine.audit is not None
    lines = [json.loads(line) for line in engine.audit.path.read_text().splitlines()]
    for line in lines:
        line.pop("time")
    return lines


def test_the_lane_answers_what_the_general_path_answers(
    engines: Callable[[Pkcs11Service, str], Engine], service: Pkcs11Service
) -> None:
    fast, slow = engines(service, "fast"), general(engines(service, "slow"))
    peer = Peer("alice", "127.0.0.1:5000", connection=1)
    taken = lane_answers(fast)
    opened = pkcs11_answer(fast.handle(initialize(), peer))
    assert opened.pkcs_11_return_code == CKR.OK and opened.correlation_value
    cv = opened.correlation_value
    for request in (
        message("C_GetSlotList", cv, tokenPresent=1, pSlotList=OutRequest(True, 8)),
        message("C_GetInfo", cv),
        message("C_GetMechanismInfo", cv, slotID=0x7FFF, type=0x1040),  # no such slot: an error CK_RV
    ):
        assert decoded(fast.handle(request, peer)) == decoded(slow.handle(request, peer))
    assert None not in taken and len(taken) == 4  # every one of them took the lane
    assert audit_lines(fast)[1:] == audit_lines(slow)  # the same record, C_Initialize aside
    assert audit_lines(fast)[0] == audit_lines(slow)[0]


def test_a_context_is_reachable_only_by_its_principal_on_its_connection(
    engines: Callable[[Pkcs11Service, str], Engine], service: Pkcs11Service
) -> None:
    engine = engines(service, "audit")
    alice, _, request = alice_with_context(engine)
    assert pkcs11_answer(engine.handle(request, alice)).pkcs_11_return_code == CKR.OK
    for other in (Peer("alice", connection=2), Peer("mallory", connection=1), Peer("alice")):
        assert on_the_loop(engine, request, other) is None, other  # left to the engine's threads
        answer = pkcs11_answer(engine.handle(request, other))
        assert answer.pkcs_11_return_code == CKR.CRYPTOKI_NOT_INITIALIZED, other
    assert on_the_loop(engine, request, Peer(None, connection=1)) is None  # no identity: refused there
    answer_from_loop = on_the_loop(engine, request, alice)
    assert answer_from_loop is not None and pkcs11_answer(answer_from_loop).pkcs_11_return_code == CKR.OK


def test_what_the_general_path_refuses_it_still_refuses(
    engines: Callable[[Pkcs11Service, str], Engine], make_service: Callable[..., Pkcs11Service]
) -> None:
    engine = engines(make_service(clients=["alice"]), "audit")
    assert refusal(engine.handle(initialize(), Peer("bob", connection=1))) is ResultReason.PERMISSION_DENIED
    no_identity = engine.handle(initialize(), Peer(None, connection=1))
    assert refusal(no_identity) is ResultReason.AUTHENTICATION_NOT_SUCCESSFUL
    old = frames.request(BY_NAME["C_Initialize"].id, None, b"\x01", (1, 4), frames.now())
    assert refusal(engine.handle(old, Peer("alice", connection=1))) is ResultReason.OPERATION_NOT_SUPPORTED
    local = frames.request(BY_NAME["C_GetFunctionList"].id, None, b"", (2, 1), frames.now())
    assert refusal(engine.handle(local, Peer("alice", connection=1))) is ResultReason.PKCS_11_INVALID_FUNCTION
    alice = Peer("alice", connection=1)
    cv = open_context(engine, alice)
    garbled = frames.request(BY_NAME["C_GenerateRandom"].id, cv, b"\x07", (2, 1), frames.now())
    taken = lane_answers(engine)
    assert refusal(engine.handle(garbled, alice)) is ResultReason.PKCS_11_CODEC_ERROR
    assert taken == [None]
    random = message("C_GenerateRandom", cv, hSession=1, RandomData=OutRequest(True, 8))
    assert pkcs11_answer(engine.handle(random, alice)).pkcs_11_return_code == CKR.SESSION_HANDLE_INVALID


def test_the_native_token_takes_the_general_path(
    engines: Callable[[Pkcs11Service, str], Engine], tmp_path: Path
) -> None:
    engine = engines(Pkcs11Service(), "audit")  # no module: the native token over the store
    taken = lane_answers(engine)
    assert (
        pkcs11_answer(engine.handle(initialize(), Peer("alice", connection=1))).pkcs_11_return_code == CKR.OK
    )
    assert taken == [None]


# --- from the event loop ------------------------------------------------------------------


def on_the_loop(engine: Engine, data: bytes, peer: Peer) -> bytes | None:
    """What `FastLane.start` answers, driven by an event loop as the transport drives it;
    None when it does not take the message."""

    async def run() -> bytes | None:
        answered: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        if not engine.fast_lane.start(data, peer, answered.set_result):
            return None
        return await asyncio.wait_for(answered, 30)

    return asyncio.run(run())


def test_from_the_loop_the_answers_are_the_general_paths(
    engines: Callable[[Pkcs11Service, str], Engine], service: Pkcs11Service
) -> None:
    fast, slow = engines(service, "fast"), general(engines(service, "slow"))
    peer = Peer("alice", "127.0.0.1:5000", connection=1)
    assert on_the_loop(fast, initialize(), peer) is None  # starts a worker: on a thread
    cv = open_context(fast, peer)
    slots = pkcs11_answer(
        fast.handle(message("C_GetSlotList", cv, tokenPresent=1, pSlotList=OutRequest(True, 8)), peer)
    )
    slot = outputs("C_GetSlotList", slots)["pSlotList"].data[0]
    session = pkcs11_answer(fast.handle(message("C_OpenSession", cv, slotID=slot, flags=4), peer))
    assert session.pkcs_11_return_code == CKR.OK
    handle = int(outputs("C_OpenSession", session)["phSession"])
    for request in (
        message("C_GetSlotList", cv, tokenPresent=1, pSlotList=OutRequest(True, 8)),
        message("C_GetMechanismInfo", cv, slotID=0x7FFF, type=0x1040),
        message("C_GenerateRandom", cv, hSession=handle + 1000, RandomData=OutRequest(True, 8)),
    ):
        answer = on_the_loop(fast, request, peer)
        assert answer is not None
        assert decoded(answer) == decoded(slow.handle(request, peer))
    random = on_the_loop(
        fast, message("C_GenerateRandom", cv, hSession=handle, RandomData=OutRequest(True, 60_000)), peer
    )
    assert random is not None  # an answer larger than one read of the pipe
    assert len(outputs("C_GenerateRandom", pkcs11_answer(random))["RandomData"].data) == 60_000
    digest = message("C_DigestInit", cv, hSession=handle, pMechanism=wire.Mechanism(0x250, None))
    assert on_the_loop(fast, digest, peer) is not None
    assert (
        on_the_loop(fast, message("C_DigestUpdate", cv, hSession=handle, pPart=bytes(40_000)), peer) is None
    )
    assert audit_lines(fast)[3:6] == audit_lines(slow)  # a line per message, the general path's
    garbled = frames.request(BY_NAME["C_GenerateRandom"].id, cv, b"\x07", (2, 1), frames.now())
    refused = on_the_loop(fast, garbled, peer)
    assert refused is not None and refusal(refused) is ResultReason.PKCS_11_CODEC_ERROR
    assert decoded(refused) == decoded(slow.handle(garbled, peer))
    assert audit_lines(fast)[-1] == audit_lines(slow)[-1]


def test_a_worker_lost_under_the_loop_ends_its_context(
    engines: Callable[[Pkcs11Service, str], Engine], service: Pkcs11Service
) -> None:
    engine = engines(service, "audit")
    alice, cv, request = alice_with_context(engine)
    worker = worker_backend(service, cv).worker
    worker.process.kill()
    worker.process.wait()
    answer = on_the_loop(engine, request, alice)
    assert answer is not None and pkcs11_answer(answer).pkcs_11_return_code == CKR.DEVICE_ERROR
    again = engine.handle(request, alice)  # the context is gone, as after a restart
    assert pkcs11_answer(again).pkcs_11_return_code == CKR.CRYPTOKI_NOT_INITIALIZED


def test_an_exchange_that_breaks_still_answers_and_frees_its_context(
    engines: Callable[[Pkcs11Service, str], Engine], service: Pkcs11Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = engines(service, "audit")
    alice, cv, request = alice_with_context(engine)
    context = service._context("alice", cv, 1)
    assert context is not None

    def broken(frame: bytes) -> tuple[int, bytes | None]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(worker_backend(service, cv).worker, "answer_of", broken)
    answer = on_the_loop(engine, request, alice)
    assert answer is not None and refusal(answer) is ResultReason.INVALID_MESSAGE
    assert not context.lock.locked()  # given back, and the context given up
    assert pkcs11_answer(engine.handle(request, alice)).pkcs_11_return_code == CKR.CRYPTOKI_NOT_INITIALIZED
