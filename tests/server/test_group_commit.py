"""Group commit (group_commit.py, Engine.handle_many): write messages queued together run
in one transaction, each in its own savepoint, and are answered after the one COMMIT.

Each message must come out as it would alone: its own failure (a lone failed item, an
Undo batch, its ID Placeholder) touches only itself, and what it made is there after.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import Attributes, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CreateKeyPairRequest,
    DestroyRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
)
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    NameType,
    ResultReason,
    ResultStatus,
    State,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.engine import Engine, Peer, is_grouped
from pkcs11_kmip_server.group_commit import GroupCommit
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from tests.server.test_engine import aes, message

ALICE = Peer("alice")
BOB = Peer("bob")


class CountingStore(SqliteStore):
    """A store that counts its write transactions."""

    writes = 0

    def session(self, write: bool = True):  # type: ignore[no-untyped-def]
        if write:
            self.writes += 1
        return super().session(write)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    store = CountingStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    yield store
    store.close()


@pytest.fixture
def engine(store: CountingStore) -> Iterator[Engine]:
    engine = Engine(store, DEFAULT_LIMITS, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    yield engine
    engine.close()


def named(name: str) -> bytes:
    request = aes((2, 1))
    assert request.attributes is not None
    request.attributes.add(Tag.NAME, Name(name_value=name, name_type=NameType.UNINTERPRETED_TEXT_STRING))
    return message((2, 1), request)


def decoded(answers: list[bytes | Exception]) -> list[ResponseMessage]:
    assert all(isinstance(answer, bytes) for answer in answers), answers
    return [ResponseMessage.decode(answer) for answer in answers if isinstance(answer, bytes)]


def located(engine: Engine, peer: Peer = ALICE) -> set[str]:
    answer = ResponseMessage.decode(
        engine.handle(message((2, 1), LocateRequest(attributes=Attributes.of())), peer)
    )
    return set(answer.batch_items[0].response_payload.unique_identifiers)  # type: ignore[union-attr]


def uid_of(response: ResponseMessage, index: int = 0) -> str:
    uid: str = response.batch_items[index].response_payload.unique_identifier  # type: ignore[union-attr]
    return uid


def test_creates_of_several_clients_commit_in_one_transaction(engine: Engine, store: CountingStore) -> None:
    before = store.writes
    responses = decoded(engine.handle_many([(named(f"k{i}"), ALICE if i % 2 else BOB) for i in range(6)]))
    assert store.writes - before == 1
    assert [r.batch_items[0].result_status for r in responses] == [ResultStatus.SUCCESS] * 6
    assert located(engine, ALICE) == {uid_of(r) for r in responses[1::2]}
    assert located(engine, BOB) == {uid_of(r) for r in responses[0::2]}


def test_a_failing_message_rolls_back_only_itself(engine: Engine) -> None:
    # The second Create takes a Name the first one took in the same transaction: refused
    # (the uniqueness check sees the uncommitted row), and only it is rolled back.
    responses = decoded(
        engine.handle_many(
            [
                (named("same"), ALICE),
                (named("same"), ALICE),
                (message((2, 1), ActivateRequest(unique_identifier="missing")), ALICE),
                (named("other"), ALICE),
            ]
        )
    )
    first, second, activate, other = (r.batch_items[0] for r in responses)
    assert first.result_status is ResultStatus.SUCCESS
    assert second.result_status is ResultStatus.OPERATION_FAILED
    assert second.result_reason is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    assert activate.result_reason is ResultReason.OBJECT_NOT_FOUND
    assert other.result_status is ResultStatus.SUCCESS
    assert located(engine) == {uid_of(responses[0]), uid_of(responses[3])}


def test_undo_and_the_id_placeholder_stay_per_message(engine: Engine) -> None:
    undone = message(
        (2, 1),
        aes((2, 1)),
        DestroyRequest(unique_identifier="missing"),
        option=BatchErrorContinuationOption.UNDO,
    )
    chained = message((2, 1), aes((2, 1)), ActivateRequest(), GetAttributesRequest())
    undo, chain = decoded(engine.handle_many([(undone, ALICE), (chained, ALICE)]))
    assert [i.result_status for i in undo.batch_items] == [
        ResultStatus.OPERATION_UNDONE,
        ResultStatus.OPERATION_FAILED,
    ]
    assert [i.result_status for i in chain.batch_items] == [ResultStatus.SUCCESS] * 3
    assert chain.batch_items[2].response_payload.attributes.get(Tag.STATE) is State.ACTIVE  # type: ignore[union-attr]
    assert located(engine) == {uid_of(chain)}


def test_reads_and_key_pairs_run_alone_beside_a_group(engine: Engine, store: CountingStore) -> None:
    before = store.writes
    pair = CreateKeyPairRequest(common_attributes=None)  # refused by its checks: runs alone all the same
    answers = decoded(
        engine.handle_many(
            [
                (named("a"), ALICE),
                (message((2, 1), GetRequest(unique_identifier="missing")), ALICE),
                (named("b"), ALICE),
                (message((2, 1), pair), ALICE),
            ]
        )
    )
    assert answers[1].batch_items[0].result_reason is ResultReason.OBJECT_NOT_FOUND
    assert answers[3].batch_items[0].result_status is ResultStatus.OPERATION_FAILED
    assert {uid_of(answers[0]), uid_of(answers[2])} == located(engine)
    assert store.writes - before == 2  # the group's, and the key pair's own


def test_an_unexpected_error_in_a_group_fails_only_that_message(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_items = engine._run_items

    def broken(context, batch, option, ahead=None):  # type: ignore[no-untyped-def]
        if batch[0].operation is ActivateRequest.OPERATION:
            raise RuntimeError("a bug")
        return run_items(context, batch, option, ahead)

    monkeypatch.setattr(engine, "_run_items", broken)
    activate = message((2, 1), ActivateRequest(unique_identifier="x"))
    created, failed, other = engine.handle_many([(named("a"), ALICE), (activate, ALICE), (named("b"), ALICE)])
    # That message raises as `handle` would (the transport closes its connection); the others commit.
    assert isinstance(failed, RuntimeError)
    assert isinstance(created, bytes) and isinstance(other, bytes)
    assert located(engine) == {uid_of(ResponseMessage.decode(created)), uid_of(ResponseMessage.decode(other))}


def test_a_group_that_cannot_commit_runs_each_message_alone(
    engine: Engine, store: CountingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = store.session
    failures = [sqlite3.OperationalError("disk I/O error")]

    @contextmanager
    def failing_once(write: bool = True) -> Iterator[object]:
        with session(write) as opened:
            yield opened
            if write and failures:
                raise failures.pop()  # after the body: the real session rolls it all back

    monkeypatch.setattr(store, "session", failing_once)
    responses = decoded(engine.handle_many([(named(f"n{i}"), ALICE) for i in range(3)]))
    assert not failures
    assert [r.batch_items[0].result_status for r in responses] == [ResultStatus.SUCCESS] * 3
    assert located(engine) == {uid_of(r) for r in responses}  # each once, none from the failed group


class Submitter:
    """A GroupCommit whose answers go to a future per message (the transport's are connections)."""

    def __init__(self, engine: Engine) -> None:
        self.writer: GroupCommit[Future[bytes]] = GroupCommit(engine, self._answered)
        self.groups: list[int] = []  # the size of each group handed back

    def _answered(self, answers: list[tuple[Future[bytes], bytes | Exception]]) -> None:
        self.groups.append(len(answers))
        for future, answer in answers:
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    def submit(self, *messages: bytes) -> list[Future[bytes]]:
        futures: list[Future[bytes]] = [Future() for _ in messages]
        self.writer.submit([(m, ALICE, f) for m, f in zip(messages, futures, strict=True)])
        return futures


def test_the_writer_thread_answers_each_message_after_its_commit(engine: Engine) -> None:
    submitter = Submitter(engine)
    try:
        futures = [f for i in range(20) for f in submitter.submit(named(f"w{i}"))]
        responses = [ResponseMessage.decode(future.result(timeout=30)) for future in futures]
    finally:
        submitter.writer.close()
    assert located(engine) == {uid_of(r) for r in responses}
    assert len(located(engine)) == 20


def test_messages_submitted_together_are_one_group(engine: Engine, store: CountingStore) -> None:
    """What one turn of the transport's loop read goes in one submit: one group, one COMMIT."""
    submitter = Submitter(engine)
    writes = store.writes
    try:
        futures = submitter.submit(*(named(f"t{i}") for i in range(8)))
        responses = [ResponseMessage.decode(future.result(timeout=30)) for future in futures]
    finally:
        submitter.writer.close()
    assert submitter.groups == [8]
    assert store.writes == writes + 1
    assert located(engine) == {uid_of(r) for r in responses}


def test_the_writer_thread_serves_submitters_of_many_threads(engine: Engine) -> None:
    submitter = Submitter(engine)
    made: list[str] = []

    def client(number: int) -> None:
        for round_ in range(5):
            (answer,) = submitter.submit(named(f"c{number}-{round_}"))
            made.append(uid_of(ResponseMessage.decode(answer.result(timeout=30))))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        submitter.writer.close()
    assert len(made) == 40 and located(engine) == set(made)


def test_quick_writes_are_recognised_from_the_raw_bytes() -> None:
    assert is_grouped(message((2, 1), aes((2, 1))))
    assert is_grouped(message((1, 2), aes((1, 2)), ActivateRequest(), GetRequest()))
    assert not is_grouped(message((2, 1), GetRequest(unique_identifier="x")))
    pair = CreateKeyPairRequest(common_attributes=None)
    assert not is_grouped(message((2, 1), aes((2, 1)), pair))
