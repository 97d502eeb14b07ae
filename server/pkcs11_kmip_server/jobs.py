"""Asynchronous operations: run in the background, answered later by Poll.

When a request's header asks for asynchronous processing (KMIP 1.x: Asynchronous
Indicator true; 2.x: Mandatory), the message's batch runs in the background and each
item is answered at once with Operation Pending and its own Asynchronous Correlation
Value. Poll hands out an item's answer once it is there (a success once, a failure
until it expires); Cancel stops a batch that has not started.

The work runs on a thread of the server process that accepted the message; its state
and answers live in the store (store.jobs), so that Poll and Cancel work from any
connection, whichever of the server processes (`[server] processes`) it lands on.
Answers are kept for an hour, sealed like key material, and belong to the client that
asked. A job whose process ended before it finished (a crash, or a stop that dropped it
from the queue) is answered with General Failure.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pkcs11_kmip.kmip.messages import ResponseBatchItem
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import CancellationResult, ResultReason, ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, Item, binary
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.outcome import Outcome
from pkcs11_kmip_server.store import Store, StoreSession
from pkcs11_kmip_server.store.jobs import JobItem, JobState

log = logging.getLogger("pkcs11_kmip_server.jobs")

KEEP_RESULTS_SECONDS = 3600.0
MAX_PENDING = 10_000  # correlation values held at once, over all clients and processes

# The work of a job: each batch item's answer, an encoded Response Batch Item.
Work = Callable[[], Sequence[bytes]]


@functools.cache
def this_process() -> str:
    """This process, as no other process on the machine (a pid alone may be reused)."""
    return f"{os.getpid()}:{_started(os.getpid())}"


def _started(pid: int) -> str:
    """A process's start time in clock ticks since boot (/proc), '' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]  # field 22, counted after the command name


def is_running(process: str) -> bool:
    """Whether the process a job row names is still the one that wrote it."""
    pid_text, _, started = process.partition(":")
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process took the pid
    return _started(pid) == started


def invalid_correlation() -> KmipError:
    return KmipError(
        ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE,
        "no asynchronous operation with that correlation value",
    )


class AsyncJobs:
    """The background threads of one server process; the jobs' state is in the store."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kmip-async")

    def submit(self, store: Store, principal: str, version: Version, work: Work, items: int) -> list[bytes]:
        """Queue `work`; one correlation value for each of its `items` answers."""
        job = secrets.token_hex(16)
        correlations = [secrets.token_bytes(16) for _ in range(items)]
        with store.session() as session:
            table = session.jobs()
            if table.count_open(KEEP_RESULTS_SECONDS) + items > MAX_PENDING:
                table.abandon(is_running)  # jobs of processes that ended hold no place
            if table.count_open(KEEP_RESULTS_SECONDS) + items > MAX_PENDING:
                raise KmipError(
                    ResultReason.GENERAL_FAILURE, "too many asynchronous operations; poll or try later"
                )
            table.add(job, correlations, principal, this_process(), version)
        self._pool.submit(self._run, store, job, work)
        return correlations

    @staticmethod
    def _run(store: Store, job: str, work: Work) -> None:
        """Run the job unless it was canceled meanwhile, and record its answers."""
        with store.session() as session:
            if not session.jobs().start(job):
                return
        answers: Sequence[bytes] | None
        try:
            answers = work()
        except Exception:
            log.exception("an asynchronous operation failed")
            answers = None
        with store.session() as session:
            session.jobs().finish(job, answers)

    def _find(self, session: StoreSession, principal: str, correlation: bytes) -> JobItem:
        item = session.jobs().find(correlation)
        if item is None or item.principal != principal:
            raise invalid_correlation()
        return item

    def result(self, session: StoreSession, principal: str, correlation: bytes) -> Outcome | None:
        """The item's answer; None while it runs.

        A success is handed out once: the value is forgotten in the Poll's transaction.
        A failure is answered again at every Poll until it expires: a Poll that answers a
        failure on its own rolls its transaction back (the engine's rule for a lone
        failing item), forgetting included.
        """
        item = self._find(session, principal, correlation)
        if item.state in (JobState.QUEUED, JobState.RUNNING) and is_running(item.process):
            return None
        session.jobs().forget(correlation)
        if item.state is not JobState.DONE or item.answer is None:
            ended = "failed" if item.state is JobState.FAILED else "ended with its server process"
            raise KmipError(ResultReason.GENERAL_FAILURE, f"the asynchronous operation {ended}")
        answer = ResponseBatchItem.from_item(binary.decode(item.answer, DEFAULT_LIMITS), item.version)
        payload = answer.response_payload
        return Outcome(
            answer.operation,
            answer.unique_batch_item_id,
            ResultStatus.OPERATION_FAILED if answer.result_status is None else answer.result_status,
            answer.result_reason,
            answer.result_message,
            None if isinstance(payload, Item) else payload,  # our own answers decode typed
        )

    def cancel(self, session: StoreSession, principal: str, correlation: bytes) -> CancellationResult:
        """Cancel the job the value belongs to, if it has not started (all its items)."""
        item = self._find(session, principal, correlation)
        if item.state is JobState.QUEUED and session.jobs().cancel(item.job):
            return CancellationResult.CANCELED
        if item.state in (JobState.DONE, JobState.FAILED):
            return CancellationResult.COMPLETED
        return CancellationResult.UNABLE_TO_CANCEL

    def shutdown(self) -> None:
        """Finish running jobs, drop queued ones (their Poll then says so)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
