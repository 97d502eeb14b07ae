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
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.group_commit")

MOST = 64
"""Messages in one transaction at most: a bound on how long the writer lock is held."""

_Entry = tuple[bytes, "Peer", concurrent.futures.Future[bytes]]


class GroupCommit:
    """The writer thread and its queue; `submit` from any thread, `close` once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="kmip-writer", daemon=True)
        self._thread.start()

    def submit(self, message: bytes, peer: Peer) -> concurrent.futures.Future[bytes]:
        """Queue a message; the future gets its answer once its group committed."""
        answer: concurrent.futures.Future[bytes] = concurrent.futures.Future()
        self._queue.put((message, peer, answer))
        return answer

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
            group = [first]
            while len(group) < MOST:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is None:
                    closing = True
                    break
                group.append(entry)
            self._run(group)

    def _run(self, group: list[_Entry]) -> None:
        try:
            answers = self._engine.handle_many([(message, peer) for message, peer, _ in group])
        except Exception as error:  # handle_many's own bug: every message of the group fails
            log.exception("a group of %d messages failed", len(group))
            answers = [error] * len(group)
        for (_, _, future), answer in zip(group, answers, strict=True):
            if isinstance(answer, Exception):
                future.set_exception(answer)
            else:
                future.set_result(answer)
