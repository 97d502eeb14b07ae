"""The writer thread: quick write messages run here, those queued together in one transaction.

A Create through the worker threads paid for a transaction of its own: the writer lock,
BEGIN IMMEDIATE, and a COMMIT writing its WAL frames (the index pages a Create touches,
most of them shared with the next Create's), with every thread handing the GIL over
around each SQLite call. Here one thread takes every message the transport queued for
it (engine.is_grouped: Create, Register, Activate, attribute edits... with no long
operation) and runs them with `Engine.handle_many`: each in a savepoint, one COMMIT for
all, then each answered. The durability is the same: no message is answered before the
COMMIT that made it durable. While one group runs, the next one queues, so a group is
as large as the load makes it, and a lone message waits for nobody.

The hand-over is by the group, not by the message: the transport submits the messages
one turn of its event loop read, together, and gets a group's answers back in one call
(`answered`, in this thread), which wakes its loop once. A future per message cost more
than the rest of this edge (bench/README.md, "Create over TLS: the edge").
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.group_commit")

MOST = 64
"""Messages in one transaction at most: a bound on how long the writer lock is held."""

R = TypeVar("R")  # whom an answer goes back to (the transport's connection)


class GroupCommit(Generic[R]):
    """The writer thread and its queue; `submit` from any thread, `close` once.

    `answered` gets each group's answers, in this thread, once the group committed: for
    each message its `R` and its response bytes, or the exception `Engine.handle` would
    have raised for it.
    """

    def __init__(self, engine: Engine, answered: Callable[[list[tuple[R, bytes | Exception]]], None]) -> None:
        self._engine = engine
        self._answered = answered
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
            while len(group) < MOST:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                group.extend(more)
            for start in range(0, len(group), MOST):
                self._run(group[start : start + MOST])

    def _run(self, group: list[tuple[bytes, Peer, R]]) -> None:
        answers: list[bytes | Exception]
        try:
            answers = self._engine.handle_many([(message, peer) for message, peer, _ in group])
        except Exception as error:  # handle_many's own bug: every message of the group fails
            log.exception("a group of %d messages failed", len(group))
            answers = [error] * len(group)
        try:
            self._answered([(to, answer) for (_, _, to), answer in zip(group, answers, strict=True)])
        except Exception:  # the thread must live on for the next group
            log.exception("handing back the answers of a group of %d messages failed", len(group))
