"""One writer at a time on a SQLite database, over every server process that uses it.

SQLite has one write lock per database, and its busy handler waits for it by polling
with growing sleeps (up to 100 ms), so writers that meet wait far longer than the
write takes, and some far longer than others. Writers queue here instead and the next
one goes as soon as the previous one commits: threads of one process on a lock, and
processes (`[server] processes`) on an flock of a file beside the database
(DB-writer), which the kernel hands to a waiting process at once. Someone writing
with the sqlite3 shell or the admin CLI still meets SQLite's own lock and its wait.
"""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path
from types import TracebackType


class WriterLock:
    """A context manager: held around a write transaction."""

    def __init__(self, database: Path) -> None:
        self._threads = threading.Lock()  # flock is per open file: the process's threads share it
        self._descriptor = os.open(f"{database}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)  # waits without the GIL
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        if self._descriptor >= 0:
            os.close(self._descriptor)
            self._descriptor = -1
