"""Asynchronous operations: run in the background, answered later by Poll.

When a request's header asks for asynchronous processing (KMIP 1.x: Asynchronous
Indicator true; 2.x: Mandatory), the message's batch runs in the background and each
item is answered at once with Operation Pending and its own Asynchronous Correlation
Value. Poll hands out an item's result once it is there; Cancel stops a batch that
has not started. Results live in memory for an hour and belong to the client that
asked: a restart forgets them (Poll then answers Invalid Asynchronous Correlation
Value).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from pkcs11_kmip.kmip.spec.enums import CancellationResult, ResultReason
from pkcs11_kmip_server.errors import KmipError

KEEP_RESULTS_SECONDS = 3600.0
MAX_PENDING = 10_000  # correlation values held at once, over all clients

T = TypeVar("T")


@dataclass
class Job(Generic[T]):
    """One message's batch, running or run: its items share the future."""

    principal: str
    future: Future[Sequence[T]]
    finished_at: float | None = None


@dataclass(frozen=True)
class Pending(Generic[T]):
    """What a correlation value stands for: one item of a job."""

    job: Job[T]
    index: int


class AsyncJobs(Generic[T]):
    """The background batches of one server, each item by its correlation value."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmip-async")
        self._pending: dict[bytes, Pending[T]] = {}
        self._lock = threading.Lock()

    def submit(self, principal: str, work: Callable[[], Sequence[T]], items: int) -> list[bytes]:
        """Start `work`; one correlation value for each of its `items` results."""
        with self._lock:
            self._forget_old()
            if len(self._pending) + items > MAX_PENDING:
                raise KmipError(
                    ResultReason.GENERAL_FAILURE, "too many asynchronous operations; poll or try later"
                )
            job: Job[T] = Job(principal, self._pool.submit(work))
            correlations = [secrets.token_bytes(16) for _ in range(items)]
            for index, correlation in enumerate(correlations):
                self._pending[correlation] = Pending(job, index)
        job.future.add_done_callback(lambda _: setattr(job, "finished_at", time.monotonic()))
        return correlations

    def _forget_old(self) -> None:
        limit = time.monotonic() - KEEP_RESULTS_SECONDS
        stale = [
            correlation
            for correlation, pending in self._pending.items()
            if pending.job.finished_at is not None and pending.job.finished_at < limit
        ]
        for correlation in stale:
            del self._pending[correlation]

    def _find(self, principal: str, correlation: bytes) -> Pending[T]:
        with self._lock:
            pending = self._pending.get(correlation)
        if pending is None or pending.job.principal != principal:
            raise KmipError(
                ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE,
                "no asynchronous operation with that correlation value",
            )
        return pending

    def result(self, principal: str, correlation: bytes) -> tuple[Sequence[T], int] | None:
        """The job's results and this item's index in them; None while it runs.

        A result is handed out once: the correlation value is forgotten after.
        """
        pending = self._find(principal, correlation)
        if not pending.job.future.done():
            return None
        with self._lock:
            self._pending.pop(correlation, None)
        return pending.job.future.result(), pending.index

    def cancel(self, principal: str, correlation: bytes) -> CancellationResult:
        """Cancel the job the value belongs to, if it has not started."""
        pending = self._find(principal, correlation)
        if pending.job.future.cancel():
            with self._lock:
                for other in [c for c, p in self._pending.items() if p.job is pending.job]:
                    del self._pending[other]
            return CancellationResult.CANCELED
        if pending.job.future.done():
            return CancellationResult.COMPLETED
        return CancellationResult.UNABLE_TO_CANCEL

    def shutdown(self) -> None:
        """Finish running jobs, drop queued ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)
