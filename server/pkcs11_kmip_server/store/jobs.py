"""Asynchronous operations' state in the store, so that any server process can answer Poll
and Cancel for a job another one runs (jobs.py).

One row per correlation value (a batch item of an asynchronous message):

  async_job  correlation (random, 16 bytes), job (the message's batch, one id for its
             items), item, principal (who may poll it), process (which server process
             runs it: pid and start time), version (the request's protocol version),
             state (Queued, Running, Done, Failed), finished (unix time), answer (the
             item's encoded response batch item, sealed: a Get's answer holds key material)

A job moves Queued -> Running -> Done in its own process; Cancel deletes a Queued job's
rows in one statement, and the process that would run it then finds nothing to start.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip_server.store.sealing import Sealer

JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS async_job (
    correlation BLOB PRIMARY KEY,
    job TEXT NOT NULL,
    item INTEGER NOT NULL,
    principal TEXT NOT NULL,
    process TEXT NOT NULL,
    version TEXT NOT NULL,
    state INTEGER NOT NULL,
    finished REAL,
    answer BLOB
);
CREATE INDEX IF NOT EXISTS async_job_job ON async_job (job);
CREATE INDEX IF NOT EXISTS async_job_finished ON async_job (finished) WHERE finished IS NOT NULL;
"""


class JobState(enum.IntEnum):
    QUEUED = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3  # the work raised: no answer to hand out


@dataclass(frozen=True)
class JobItem:
    """One correlation value's row, as Poll and Cancel see it (the answer still sealed)."""

    correlation: bytes
    job: str
    principal: str
    process: str
    version: Version
    state: JobState
    answer: bytes | None


def _sealed_as(correlation: bytes) -> str:
    """What an answer is sealed to (its row's key), so it opens on no other row."""
    return f"async-job:{correlation.hex()}"


class JobTable:
    """Reads and changes of `async_job` through `execute`, inside the caller's transaction."""

    def __init__(self, execute: Any, sealer: Sealer) -> None:
        self.execute = execute
        self.sealer = sealer

    def count_open(self, keep_seconds: float) -> int:
        """Rows still held, after forgetting answers finished more than `keep_seconds` ago."""
        self.execute("DELETE FROM async_job WHERE finished < ?", (time.time() - keep_seconds,))
        (count,) = self.execute("SELECT COUNT(*) FROM async_job").fetchone()
        return int(count)

    def add(
        self, job: str, correlations: Sequence[bytes], principal: str, process: str, version: Version
    ) -> None:
        rows = [
            (correlation, job, index, principal, process, f"{version[0]}.{version[1]}", JobState.QUEUED)
            for index, correlation in enumerate(correlations)
        ]
        self.execute(
            "INSERT INTO async_job (correlation, job, item, principal, process, version, state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
            many=True,
        )

    def start(self, job: str) -> bool:
        """Queued -> Running; False if the job is gone (canceled) or already taken."""
        cursor = self.execute(
            "UPDATE async_job SET state = ? WHERE job = ? AND state = ?",
            (JobState.RUNNING, job, JobState.QUEUED),
        )
        return bool(cursor.rowcount)

    def finish(self, job: str, answers: Sequence[bytes] | None) -> None:
        """Running -> Done with each item's answer (in item order), or Failed without."""
        rows = self.execute("SELECT correlation, item FROM async_job WHERE job = ?", (job,)).fetchall()
        now = time.time()
        for correlation, index in rows:
            if answers is None or index >= len(answers):
                state, sealed = JobState.FAILED, None
            else:
                state, sealed = JobState.DONE, self.sealer.seal(answers[index], _sealed_as(correlation))
            self.execute(
                "UPDATE async_job SET state = ?, finished = ?, answer = ? WHERE correlation = ?",
                (state, now, sealed, correlation),
            )

    def abandon(self, is_running: Callable[[str], bool]) -> None:
        """Mark Failed the unfinished jobs of processes that ended, so that they expire."""
        processes = self.execute(
            "SELECT DISTINCT process FROM async_job WHERE state IN (?, ?)",
            (JobState.QUEUED, JobState.RUNNING),
        ).fetchall()
        for (process,) in processes:
            if not is_running(process):
                self.execute(
                    "UPDATE async_job SET state = ?, finished = ? WHERE process = ? AND state IN (?, ?)",
                    (JobState.FAILED, time.time(), process, JobState.QUEUED, JobState.RUNNING),
                )

    def find(self, correlation: bytes) -> JobItem | None:
        row = self.execute(
            "SELECT job, principal, process, version, state, answer FROM async_job WHERE correlation = ?",
            (correlation,),
        ).fetchone()
        if row is None:
            return None
        job, principal, process, version, state, sealed = row
        major, _, minor = str(version).partition(".")
        answer = self.sealer.open(sealed, _sealed_as(correlation)) if sealed is not None else None
        return JobItem(
            correlation, job, principal, process, (int(major), int(minor)), JobState(state), answer
        )

    def forget(self, correlation: bytes) -> None:
        """The item's answer was handed out (or can never be): its value is no longer valid."""
        self.execute("DELETE FROM async_job WHERE correlation = ?", (correlation,))

    def cancel(self, job: str) -> bool:
        """Forget a job that has not started (every item); False if it has."""
        cursor = self.execute("DELETE FROM async_job WHERE job = ? AND state = ?", (job, JobState.QUEUED))
        return bool(cursor.rowcount)
