"""The writer's short wait for active senders (group_commit.py, LINGER, ACTIVE, CROWD).

A group waits for the senders that wrote lately, if there are a crowd of them, so their
messages share its transaction; a lone sender, a few, or one whose peers went quiet,
is never held, and the wait
ends after `linger` whatever comes. The engine here only records the groups it is
given: what a group does in the store is test_group_commit.py's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pkcs11_kmip_server.engine import Peer
from pkcs11_kmip_server.group_commit import GroupCommit

PEER = Peer("alice")


class RecordingEngine:
    """Answers each message with its own bytes and records the senders of every group."""

    def __init__(self) -> None:
        self.groups: list[list[bytes]] = []
        self.slow: dict[bytes, threading.Event] = {}  # admitting these waits for the event

    def admit(self, message: bytes, peer: Peer) -> bytes:
        if message in self.slow:
            assert self.slow[message].wait(10)
        return message

    def handle_admitted(self, admitted: list[bytes]) -> list[bytes]:
        self.groups.append(list(admitted))
        return list(admitted)


class Writer:
    """A GroupCommit with a recording engine; `send` waits for its message's answer."""

    def __init__(self, linger: float, active: float, crowd: int) -> None:
        self.engine = RecordingEngine()
        self._answered: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        engine: Any = self.engine  # the two Engine methods the writer calls
        self.commit: GroupCommit[str] = GroupCommit(engine, self._answer, linger, active, crowd)

    def _answer(self, answers: list[tuple[str, bytes | Exception]]) -> None:
        with self._lock:
            for sender, _ in answers:
                self._answered[sender].set()

    def submit(self, *senders: str) -> list[threading.Event]:
        events = [threading.Event() for _ in senders]
        with self._lock:
            self._answered.update(zip(senders, events, strict=True))
        self.commit.submit([(sender.encode(), PEER, sender) for sender in senders])
        return events

    def send(self, *senders: str) -> float:
        """Submit together, wait for every answer; the seconds it took."""
        start = time.monotonic()
        for event in self.submit(*senders):
            assert event.wait(10)
        return time.monotonic() - start


@pytest.fixture
def writer(request: pytest.FixtureRequest) -> Iterator[Writer]:
    linger, active, crowd = request.param
    made = Writer(linger, active, crowd)
    yield made
    made.commit.close()


@pytest.mark.parametrize("writer", [(5.0, 60.0, 3)], indirect=True)
def test_a_group_waits_for_the_senders_seen_lately(writer: Writer) -> None:
    writer.send("a", "b", "c")  # all three active from now on
    waiting = writer.submit("a")
    time.sleep(0.2)
    assert not waiting[0].is_set()  # held for b and c
    others = writer.submit("b", "c")
    for event in [*waiting, *others]:
        assert event.wait(10)
    assert writer.engine.groups[-1] == [b"a", b"b", b"c"]


@pytest.mark.parametrize("writer", [(5.0, 60.0, 3)], indirect=True)
def test_fewer_active_senders_than_the_crowd_never_wait(writer: Writer) -> None:
    writer.send("a", "b")  # two active, the crowd is three
    assert writer.send("a") < 2.0
    assert writer.engine.groups[-1] == [b"a"]


@pytest.mark.parametrize("writer", [(5.0, 60.0, 1)], indirect=True)
def test_a_lone_sender_never_waits(writer: Writer) -> None:
    for _ in range(5):
        assert writer.send("alone") < 2.0  # the linger is 5 s
    assert writer.engine.groups == [[b"alone"]] * 5


@pytest.mark.parametrize("writer", [(5.0, 0.1, 2)], indirect=True)
def test_senders_quiet_for_longer_than_active_are_not_waited_for(writer: Writer) -> None:
    writer.send("a", "b")
    time.sleep(0.3)
    assert writer.send("a") < 2.0
    assert writer.engine.groups[-1] == [b"a"]


@pytest.mark.parametrize("writer", [(0.3, 60.0, 2)], indirect=True)
def test_the_wait_ends_after_linger(writer: Writer) -> None:
    writer.send("a", "b")
    took = writer.send("a")  # b never writes again
    assert 0.25 < took < 3.0
    assert writer.engine.groups[-1] == [b"a"]


@pytest.mark.parametrize("writer", [(5.0, 60.0, 2)], indirect=True)
def test_close_answers_a_group_that_is_waiting(writer: Writer) -> None:
    writer.send("a", "b")
    waiting = writer.submit("a")
    time.sleep(0.1)
    start = time.monotonic()
    writer.commit.close()
    assert waiting[0].is_set() and time.monotonic() - start < 2.0  # the fixture's close is a no-op now


@pytest.mark.parametrize("writer", [(5.0, 60.0, 100)], indirect=True)
def test_a_message_that_comes_while_the_group_is_admitted_joins_it(writer: Writer) -> None:
    """No wait applies (the crowd is 100), but the writer admits what it holds before it
    closes the group, and what came meanwhile joins it."""
    admitting = threading.Event()
    writer.engine.slow[b"a"] = admitting
    first = writer.submit("a")
    time.sleep(0.1)  # the writer is admitting a
    second = writer.submit("b")
    admitting.set()
    for event in [*first, *second]:
        assert event.wait(10)
    assert writer.engine.groups == [[b"a", b"b"]]
