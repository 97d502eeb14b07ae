"""One process per client context, each with its own instance of the PKCS#11 module.

Why processes: a module keeps login state, session objects and object handles per
*application* (per process). Were every client's calls made from the server process,
one client's C_Login would log in every other client, and each would see the
others' session objects. A worker process is one application per client context,
which is what the client would have had with the module loaded directly; a crash in
the module ends that client's context only.

The parent talks to the worker over its stdin/stdout pipes (the worker moves its own
standard output to stderr, so that a module that prints cannot corrupt them), in
frames of a 4-byte big-endian length and a payload:

    request  op (1) · payload        LOAD: module path | CALL: function id (4) · inputs | FINALIZE
    answer   status (1) · rest       OK: CK_RV (8) · has outputs (1) · outputs
                                     CODEC: the decoder's message | FAILED: a log reference

Run as `python -m pkcs11_kmip_server.hsm.worker`; it exits when its stdin closes,
finalizing the module first (so the server going away closes every session).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO

from pkcs11_kmip.cryptoki.constants import CKR

LOAD, CALL, FINALIZE = 1, 2, 3
OK, CODEC, FAILED = 0, 1, 2

log = logging.getLogger("pkcs11_kmip_server.hsm")


class WorkerGone(Exception):
    """The worker process ended or its pipe broke: the context it held is lost."""


class CodecFailure(Exception):
    """The worker could not decode the Input Parameters (the message says where)."""


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(4, "big") + payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One frame, or None at a clean end of the stream."""
    header = stream.read(4)
    if not header:
        return None
    if len(header) < 4:
        raise EOFError("the stream ended inside a frame header")
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the stream ended inside a frame")
    return payload


def encode_answer(rv: int, output: bytes | None) -> bytes:
    flag = b"\x00" if output is None else b"\x01"
    return bytes([OK]) + rv.to_bytes(8, "big") + flag + (output or b"")


def request_frame(op: int, payload: bytes) -> bytes:
    """A whole request frame (length, op, payload), written by the parent in one write."""
    return (len(payload) + 1).to_bytes(4, "big") + bytes([op]) + payload


def call_frame(function_id: int, data: bytes) -> bytes:
    return request_frame(CALL, function_id.to_bytes(4, "big") + data)


FIRST_READ = 4096
"""Bytes asked of the pipe for the start of an answer: most answers fit, the rest is read exactly."""


def wanted(data: bytes | bytearray) -> int:
    """How many bytes to read next for the frame that `data` begins (the worker writes
    nothing past an answer, so a first read larger than the frame takes just the frame)."""
    if len(data) < 4:
        return FIRST_READ if not data else 4 - len(data)
    return 4 + int.from_bytes(data[:4], "big") - len(data)


def frame_end(data: bytes | bytearray) -> int | None:
    """Where the first frame in `data` ends, once it is all there (None until then)."""
    if len(data) < 4:
        return None
    end = 4 + int.from_bytes(data[:4], "big")
    return end if len(data) >= end else None


class WorkerProcess:
    """The parent's handle on one worker: start, load the module, call, finalize.

    Its pipes are used through their descriptors, not buffered streams, so that an
    exchange may also be made by the server's event loop without a thread (the fast
    lane: `begin`, then `answer_of` on the bytes read once `output_fd` is readable):
    each exchange leaves nothing buffered behind.
    """

    def __init__(self, environment: Mapping[str, str] | None = None) -> None:
        env = {**os.environ, **(environment or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pkcs11_kmip_server.hsm.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
            bufsize=0,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.input_fd = self.process.stdin.fileno()
        self.output_fd = self.process.stdout.fileno()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _exchange(self, request: bytes) -> bytes:
        with self._lock:
            try:
                self.send(request)
                answer = bytearray()
                while (end := frame_end(answer)) is None:
                    chunk = os.read(self.output_fd, wanted(answer))
                    if not chunk:
                        break
                    answer += chunk
            except (OSError, ValueError) as error:
                raise WorkerGone(f"worker {self.pid}: {error}") from error
        if end is None or end != len(answer) or end == 4:
            raise WorkerGone(f"worker {self.pid} ended (exit status {self.process.poll()})")
        return bytes(answer[4:])

    def send(self, request: bytes) -> None:
        """Write a whole frame to the worker (OSError if its pipe is gone)."""
        view = memoryview(request)
        while view:
            view = view[os.write(self.input_fd, view) :]

    def begin(self) -> bool:
        """Take the worker for an exchange the caller makes itself (False: one is running)."""
        return self._lock.acquire(blocking=False)

    def end(self) -> None:
        self._lock.release()

    def answer_of(self, frame: bytes) -> tuple[int, bytes | None]:
        """A whole answer frame as a CK_RV and Output Parameters (CodecFailure, WorkerGone)."""
        return self._answer_payload(frame[4:])

    def _answer(self, request: bytes) -> tuple[int, bytes | None]:
        return self._answer_payload(self._exchange(request))

    def _answer_payload(self, answer: bytes) -> tuple[int, bytes | None]:
        if not answer:
            raise WorkerGone(f"worker {self.pid} sent an empty answer")
        status, rest = answer[0], answer[1:]
        if status == CODEC:
            raise CodecFailure(rest.decode("utf-8", "replace"))
        if status != OK or len(rest) < 9:
            raise WorkerGone(f"worker {self.pid} failed [ref {rest.decode('ascii', 'replace')}]")
        return int.from_bytes(rest[:8], "big"), rest[9:] if rest[8] else None

    def load(self, module: str) -> int:
        """Load and C_Initialize the module in the worker: the CK_RV of that C_Initialize."""
        return self._answer(request_frame(LOAD, module.encode()))[0]

    def call(self, function_id: int, data: bytes) -> tuple[int, bytes | None]:
        return self._answer(call_frame(function_id, data))

    def finalize(self, timeout: float = 10.0) -> int:
        """C_Finalize in the worker; it then exits on its own, reaped in the background
        (the client need not wait for an interpreter to shut down)."""
        try:
            rv = self._answer(request_frame(FINALIZE, b""))[0]
        except (WorkerGone, CodecFailure):
            rv = CKR.DEVICE_ERROR
        threading.Thread(target=self.close, args=(timeout,), name="pkcs11-reaper", daemon=True).start()
        return rv

    def close(self, timeout: float = 10.0) -> None:
        """Close the pipes (the worker finalizes and exits) and reap it."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the worker side ----------------------------------------------------------------------


def _serve(channel_in: IO[bytes], channel_out: IO[bytes]) -> None:
    from pkcs11_kmip.cryptoki.wire import WireError
    from pkcs11_kmip_server.hsm.module import Executor, Module, ModuleError

    executor: Executor | None = None
    while (frame := read_frame(channel_in)) is not None:
        op, payload = frame[0], frame[1:]
        if op == LOAD and executor is None:
            try:
                module = Module(payload.decode())
            except ModuleError as error:
                log.error("%s", error)
                write_frame(channel_out, encode_answer(CKR.DEVICE_ERROR, None))
                continue
            rv = module.initialize()
            if rv == CKR.OK:
                executor = Executor(module)
            write_frame(channel_out, encode_answer(rv, None))
        elif op == CALL and executor is not None and len(payload) >= 4:
            try:
                reply = executor.execute(int.from_bytes(payload[:4], "big"), payload[4:])
            except WireError as error:
                write_frame(channel_out, bytes([CODEC]) + str(error).encode())
                continue
            except Exception:
                reference = secrets.token_hex(4)
                log.exception("a forwarded call failed [ref %s]", reference)
                write_frame(channel_out, bytes([FAILED]) + reference.encode())
                continue
            write_frame(channel_out, encode_answer(reply.rv, reply.output))
        elif op == FINALIZE:
            rv = executor.module.finalize() if executor is not None else CKR.OK
            write_frame(channel_out, encode_answer(rv, None))
            return
        else:
            write_frame(channel_out, bytes([FAILED]) + b"protocol")
    if executor is not None:  # the server went away: close the sessions
        executor.module.finalize()


def main() -> int:
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    quiet = os.open(os.devnull, os.O_RDONLY)
    os.dup2(quiet, 0)
    os.dup2(2, 1)  # whatever the module prints goes to the server's log, not into our pipe
    logging.basicConfig(
        level=logging.WARNING, format=f"pkcs11-kmip hsm worker[{os.getpid()}]: %(levelname)s %(message)s"
    )
    with contextlib.suppress(BrokenPipeError, EOFError):
        _serve(channel_in, channel_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
