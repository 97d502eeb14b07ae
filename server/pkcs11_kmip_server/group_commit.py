"""The writer thread: quick write messages run here, those queued together in one transaction.

A Create through the worker threads paid for a transaction of its own: the writer lock,
BEGIN IMMEDIATE, and a COMMIT writing its WAL frames (the index pages a Create touches,
most of them shared with the next Create's), with every thread handing the GIL over
around each SQLite call. Here one thread takes every message the transport queued for
it (engine.is_grouped: Create, Register, Activate, attribute edits... with no long
operation) and runs them as `Engine.handle_many` does: each in a savepoint, one COMMIT for
all, then each answered. It admits each message (`Engine.admit`: decoded, its caller
known; no transaction needed) as soon as it holds it, while more may still come, so a
message that arrives during that work joins the group, and then runs them all with
`Engine.handle_admitted`. The durability is the same: no message is answered before the
COMMIT that made it durable. While one group runs, the next one queues, so a group is
as large as the load makes it, and a lone message waits for nobody.

Except a little, for the senders seen lately. With 8 clients the groups alternated
around two halves (mean 4.0-4.3): one half's answers go out while the other half
commits, and the first half's next messages arrive just after the writer took the
second. When fewer messages are queued than senders wrote within the last ACTIVE
seconds, and those are at least CROWD, the writer waits up to LINGER for the others:
larger groups, more messages sharing a group's BEGIN, COMMIT, writer lock,
audit write and hand-over (bench/create_group_bench.py: a Create 10-13% less CPU in
groups of 8 than of 4; over TLS, 8 clients, the server's CPU per Create fell ~20%).
Fewer writers, a lone client, senders gone quiet and a full group never wait; the wait
is bounded by LINGER and happens before the transaction, holding no lock.

The hand-over is by the group, not by the message: the transport submits the messages
one turn of its event loop read, together, and gets a group's answers back in one call
(`answered`, in this thread), which wakes its loop once. A future per message cost more
than the rest of this edge (bench/README.md, "Create over TLS: the edge").
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Admission, Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.group_commit")

MOST = 64
"""Messages in one transaction at most: a bound on how long the writer lock is held."""

LINGER = 0.0003
"""Seconds the writer waits for more messages while fewer are queued than active senders.
Measured on a quiet machine (kmip_load, 8 clients, Creates, ours alone, 3 alternations):
1 ms idled the writer (0.67-0.69 cores, 1,247-1,358 Creates/s) where no wait kept it busy
(0.92-0.94 cores, 1,381-1,498/s); 0.3 ms kept most of the CPU saved per Create (0.55-0.64
ms against 0.63-0.68) at the same throughput (1,296-1,468/s)."""
ACTIVE = 0.050
"""A sender whose last message the writer took less than this many seconds ago is active."""
CROWD = 5
"""Active senders needed before the writer waits for any. Measured (kmip_load, Creates):
with 2 clients the wait only idled the writer (Creates/s -25%); with 4 it saved CPU
(-15-20% per Create) but not time (Creates/s -3% median, mixed); with 8, +10% Creates/s."""

R = TypeVar("R", bound=Hashable)  # whom an answer goes back to (the transport's connection)


class GroupCommit(Generic[R]):
    """The writer thread and its queue; `submit` from any thread, `close` once.

    `answered` gets each group's answers, in this thread, once the group committed: for
    each message its `R` and its response bytes, or the exception `Engine.handle` would
    have raised for it.
    """

    def __init__(
        self,
        engine: Engine,
        answered: Callable[[list[tuple[R, bytes | Exception]]], None],
        linger: float = LINGER,
        active: float = ACTIVE,
        crowd: int = CROWD,
    ) -> None:
        self._engine = engine
        self._answered = answered
        self._linger, self._active, self._crowd = linger, active, crowd
        self._seen: dict[R, float] = {}  # sender -> when the writer took its last message
        self._queue: queue.SimpleQueue[Sequence[tuple[bytes, Peer, R]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="kmip-writer", daemon=True)
        self._thread.start()

    def submit(self, messages: Sequence[tuple[bytes, Peer, R]]) -> None:
        """Queue messages (the message, who sent it, whom its answer goes back to)."""
        self._queue.put(messages)

    def close(self) -> None:
        """Answer what is queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def _serve(self) -> None:
        closing = False
        while not closing:
            first = self._queue.get()
            if first is None:
                return
            group = list(first)
            admitted: list[Admission | Exception] = []  # of group's first messages, in order
            active = self._senders_active()  # before this group's senders count again
            self._saw(first)
            deadline: float | None = None
            while len(group) < MOST:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    if len(admitted) < len(group):  # work while the others' messages come
                        admitted.append(self._admit(*group[len(admitted)][:2]))
                        continue
                    if deadline is None:
                        if len(group) >= active or active < self._crowd:
                            break
                        deadline = time.monotonic() + self._linger
                    try:
                        more = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
                    except queue.Empty:
                        break
                if more is None:
                    closing = True
                    break
                group.extend(more)
                self._saw(more)
            admitted.extend(self._admit(message, peer) for message, peer, _ in group[len(admitted) :])
            for start in range(0, len(group), MOST):
                self._run(group[start : start + MOST], admitted[start : start + MOST])

    def _admit(self, message: bytes, peer: Peer) -> Admission | Exception:
        try:
            return self._engine.admit(message, peer)
        except Exception as error:  # the engine's own bug: this message fails, not the group
            log.exception("admitting a message failed")
            return error

    def _saw(self, messages: Sequence[tuple[bytes, Peer, R]]) -> None:
        now = time.monotonic()
        for _, _, sender in messages:
            self._seen[sender] = now

    def _senders_active(self) -> int:
        """How many senders wrote within the last `active` seconds; the others are forgotten."""
        since = time.monotonic() - self._active
        seen = self._seen
        for sender in [sender for sender, when in seen.items() if when < since]:
            del seen[sender]
        return len(seen)

    def _run(self, group: list[tuple[bytes, Peer, R]], admitted: list[Admission | Exception]) -> None:
        answers: list[bytes | Exception]
        try:
            answers = self._engine.handle_admitted(admitted)
        except Exception as error:  # handle_admitted's own bug: every message of the group fails
            log.exception("a group of %d messages failed", len(group))
            answers = [error] * len(group)
        try:
            self._answered([(to, answer) for (_, _, to), answer in zip(group, answers, strict=True)])
        except Exception:  # the thread must live on for the next group
            log.exception("handing back the answers of a group of %d messages failed", len(group))
