"""Streams: cryptographic operations that span requests (KMIP 2.1 §6.1.11, §6.1.17).

A client starts one with Init Indicator, sends its parts with the Correlation Value
the server answered, and ends it with Final Indicator. The live operation (a cipher
context today; a signer, MAC or hash later) stays in the engine's memory: it holds
key-dependent state a store must not see, and it cannot outlive the process anyway.

A server of several processes (`[server] processes`, supervisor.py) has one table per
process: a stream continues only on connections its own process serves (the one it was
started on is always one); on another process its value is unknown, Invalid Correlation
Value, the answer below. The live state cannot move between processes.

Each stream belongs to the client that started it and to one operation; any other
client, operation, or an expired stream gets Invalid Correlation Value, the same
answer as a value never issued, so a correlation value reveals nothing. Streams are
bounded in number (per client and in all) and in idle time, since each holds memory
and key state.

A part takes its stream out of the table while it runs, so two parts of one stream
never run at once (the second is refused), and puts it back when it succeeds. A part
that fails ends its stream, as a failing C_EncryptUpdate ends a PKCS#11 operation:
the state after a failure is not one to continue from. Streams are not transactional:
a batch undone by its Batch Error Continuation Option does not rewind them.

A Correlation Value is random, except that a stream the client finished with Final
Indicator hands its value on to the next stream the same client opens on the same
object (within the idle time): the OASIS streaming test cases (TC-STREAM-ENC-2-20,
TC-STREAM-ENCDEC-1-20) expect one value for consecutive streams, and after a clean
finish the client knows the old stream is gone. A stream that failed or expired
never passes its value on, so a client still holding it cannot reach another stream.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import Conflict

C = TypeVar("C")
R = TypeVar("R")

CORRELATION_BYTES = 16


@dataclass
class Stream:
    """One operation in progress: whose, which, on which object, and its live state."""

    owner: str
    operation: Operation
    object_uid: str
    state: object
    correlation: bytes = b""
    last_used: float = 0.0


def invalid_correlation() -> KmipError:
    """The one answer for a stream that is unknown, expired, busy or not the caller's."""
    return KmipError(
        ResultReason.INVALID_CORRELATION_VALUE, "no stream of this client has that Correlation Value"
    )


class StreamTable:
    """The streams of one engine, safe to use from its worker threads.

    Idle streams are kept in order of last use, so expiring them is a look at the
    oldest; finished values are kept per (client, object) in order of finishing, at
    most `total` of those.
    """

    def __init__(
        self,
        per_client: int = 64,
        total: int = 4096,
        idle_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.total = total
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: OrderedDict[bytes, Stream] = OrderedDict()  # least recently used first
        self._busy: dict[bytes, Stream] = {}  # taken by a running part
        self._per_client: Counter[str] = Counter()
        # (owner, object) -> values of streams finished cleanly, for that client's next stream
        self._finished: OrderedDict[tuple[str, str], tuple[list[bytes], float]] = OrderedDict()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle) + len(self._busy)

    def open(self, stream: Stream) -> bytes:
        """Keep a new stream; its Correlation Value (Server Limit Exceeded when full)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if len(self._idle) + len(self._busy) >= self.total:
                raise KmipError(ResultReason.SERVER_LIMIT_EXCEEDED, "too many streams are open; try later")
            if self._per_client[stream.owner] >= self.per_client:
                raise KmipError(
                    ResultReason.SERVER_LIMIT_EXCEEDED,
                    f"a client may have {self.per_client} streams open; finish one first",
                )
            stream.correlation, stream.last_used = self._new_value(stream.owner, stream.object_uid), now
            self._idle[stream.correlation] = stream
            self._per_client[stream.owner] += 1
            return stream.correlation

    def take(self, owner: str, correlation: bytes, operation: Operation) -> Stream:
        """The caller's stream of this operation, out of the table until `put_back` or `end`."""
        with self._lock:
            self._expire(self._clock())
            stream = self._idle.get(correlation)
            if stream is None or stream.owner != owner or stream.operation is not operation:
                raise invalid_correlation()
            del self._idle[correlation]
            self._busy[correlation] = stream
            return stream

    def run_part(
        self,
        owner: str,
        correlation: bytes,
        operation: Operation,
        check: Callable[[Stream], C],
        work: Callable[[Stream, C], tuple[R, bool]],
    ) -> R:
        """Run a later part of the caller's stream: `check` it (store reads and writes, no
        cryptography), then do its `work` (the result, and whether the stream is finished).

        A store Conflict in `check` puts the stream back as it was, for the engine to run
        the message again; any other failure ends the stream.
        """
        stream = self.take(owner, correlation, operation)
        try:
            checked = check(stream)
        except Conflict:
            self.put_back(stream)
            raise
        except BaseException:
            self.end(stream)
            raise
        try:
            result, finished = work(stream, checked)
        except BaseException:
            self.end(stream)
            raise
        if finished:
            self.end(stream, finished=True)
        else:
            self.put_back(stream)
        return result

    def put_back(self, stream: Stream) -> None:
        """Return a taken stream after a part that succeeded; its idle time starts again."""
        with self._lock:
            del self._busy[stream.correlation]
            stream.last_used = self._clock()
            self._idle[stream.correlation] = stream

    def end(self, stream: Stream, finished: bool = False) -> None:
        """Forget a taken stream: `finished` by the client's Final Indicator, or failed."""
        with self._lock:
            del self._busy[stream.correlation]
            self._release(stream.owner)
            if not finished:
                return
            key = (stream.owner, stream.object_uid)
            values, _when = self._finished.pop(key, ([], 0.0))
            values.append(stream.correlation)
            self._finished[key] = (values, self._clock())
            while len(self._finished) > self.total:
                self._finished.popitem(last=False)

    def _release(self, owner: str) -> None:
        self._per_client[owner] -= 1
        if not self._per_client[owner]:
            del self._per_client[owner]

    def _new_value(self, owner: str, object_uid: str) -> bytes:
        """A cleanly finished stream's value for this client and object, else a new random one."""
        values, _when = self._finished.get((owner, object_uid), ([], 0.0))
        while values:
            correlation = values.pop(0)
            if correlation not in self._idle and correlation not in self._busy:
                return correlation
        return secrets.token_bytes(CORRELATION_BYTES)

    def _expire(self, now: float) -> None:
        while self._idle:
            oldest = next(iter(self._idle.values()))
            if now - oldest.last_used <= self.idle_seconds:
                break
            del self._idle[oldest.correlation]
            self._release(oldest.owner)
        while self._finished:
            _values, when = next(iter(self._finished.values()))
            if now - when <= self.idle_seconds:
                break
            self._finished.popitem(last=False)
