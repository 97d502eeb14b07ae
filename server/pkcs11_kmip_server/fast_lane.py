"""The fast lane: forwarded Cryptoki calls answered without the general KMIP path.

Nearly every message a PKCS#11 client library sends is one PKCS#11 item in the exact
shape `pkcs11_kmip.cryptoki.frames.request` writes. The general path decodes it into
typed objects, opens a store transaction (which only the native token needs), formats
an audit line from the batch and encodes the answer through the typed codec: several
hundred microseconds of Python per call, more than the module's own work. Here such a
message is recognised by its bytes (`frames.read_request`), its payload handed to the
context's backend and the answer written directly (`frames.response`, byte for byte the
typed encoder's).

Two ways in:
  `start`   on the event loop (transport.py): a call on a context with a worker process
            is written to the worker's pipe at once, and the answer sent when the loop
            sees the pipe readable. No thread, no hand-over between threads (a thread
            pool's queue, a future, waking the loop) for the common call.
  `answer`  on an engine thread (Engine.handle): what `start` leaves, such as
            C_Initialize (which starts a worker) and C_Finalize, or a busy context.

Security is the general path's: the peer's certificate identity (no Authentication in
the header, so no password user), the same rules (`operations.pkcs11.checked`:
protocol version, function, the [pkcs11] clients list) and the same context lookup in
the service, which binds a Correlation Value to its principal and connection. Whatever
does not pass goes to the general path, which answers it with its precise Result
Reason; a codec error met by `answer` does too (nothing has run on the module then: the
inputs are decoded before any call), one met by `start` is answered here as the general
path answers it. The audit log gets the same line as from the general path (a PKCS#11
item names no object, so nothing of the batch needs formatting). The native token works
inside the store's transaction: with it the lane is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pkcs11_kmip.cryptoki import frames
from pkcs11_kmip.cryptoki.calls import BY_NAME, Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import WireError
from pkcs11_kmip.kmip.messages import ResponseBatchItem, ResponseHeader, ResponseMessage
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, ResultStatus
from pkcs11_kmip_server.access import display_name
from pkcs11_kmip_server.audit import LaneLines
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm.service import Context, WorkerBackend
from pkcs11_kmip_server.hsm.worker import CodecFailure, WorkerGone, call_frame, frame_end, wanted
from pkcs11_kmip_server.operations.pkcs11 import checked, return_code
from pkcs11_kmip_server.outcome import Outcome
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.hsm")

_ITEMS = [
    {"operation": display_name(Operation.PKCS_11), "ids": [], "status": ResultStatus.SUCCESS.name.title()}
]
LOOP_LIMIT = 32 * 1024
"""The largest request `start` takes: its write into an empty pipe (64 KiB) never blocks the loop."""
_ON_THREADS = frozenset({BY_NAME["C_Initialize"].id, BY_NAME["C_Finalize"].id, BY_NAME["C_GetInfo"].id})
"""Calls `start` leaves to `answer`: they start or end a worker, or are not the worker's."""


class FastLane:
    """The engine's lane for plain PKCS#11 messages."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # read at each call: its audit log and service may be set late
        self._lines = LaneLines()

    def _request(self, data: bytes, peer: Peer) -> tuple[frames.Request, Call, str] | None:
        """The request, its call and the principal, if the lane may take the message."""
        service = self._engine.pkcs11
        principal = peer.principal
        if principal is None or service.settings.native:
            return None
        request = frames.read_request(data)
        if request is None or request.version not in SUPPORTED_VERSIONS:
            return None
        try:
            return request, checked(service, request.version, None, request.function, principal), principal
        except KmipError:
            return None

    # --- on an engine thread ----------------------------------------------------------------

    def answer(self, data: bytes, peer: Peer) -> bytes | None:
        """The response to a plain PKCS#11 request message, or None: the general path's."""
        taken = self._request(data, peer)
        if taken is None:
            return None
        request, call, principal = taken
        try:
            reply = self._engine.pkcs11.handle(
                principal, request.function, request.data, request.correlation_value, None, peer
            )
        except WireError:
            return None
        return self._respond(request, call, principal, peer, reply.rv, reply.output, reply.correlation_value)

    # --- on the event loop ------------------------------------------------------------------

    def start(self, data: bytes, peer: Peer, done: Callable[[bytes], None]) -> bool:
        """Take a plain call on a worker's context from the event loop: True, and `done`
        gets the response later on the loop; False, and nothing was taken."""
        if len(data) > LOOP_LIMIT:
            return False
        taken = self._request(data, peer)
        if taken is None or taken[0].function in _ON_THREADS:
            return False
        request, call, principal = taken
        loop = asyncio.get_running_loop()
        context = self._engine.pkcs11.claim(principal, request.correlation_value, peer.connection)
        if context is None:
            return False
        _Exchange(self, request, call, principal, peer, context, done, loop).guarded(_Exchange.begin)
        return True

    # --- the answer -------------------------------------------------------------------------

    def _respond(
        self,
        request: frames.Request,
        call: Call,
        principal: str,
        peer: Peer,
        rv: int,
        output: bytes | None,
        correlation_value: bytes | None = None,
    ) -> bytes:
        log.debug("%s for %s: 0x%X", call.name, principal, rv)
        engine = self._engine
        now = engine.clock()
        seconds = int(now.timestamp())
        answer = frames.Answer(request.function, return_code(rv), correlation_value, output)
        response = frames.response(request.version, seconds, engine.server_correlation_value(), answer)
        if engine.audit is not None:
            engine.audit.write(self._audit_entry(now, seconds, principal, peer.address, request.version))
        return response

    def _audit_entry(
        self, now: datetime, seconds: int, principal: str, address: str, version: tuple[int, int]
    ) -> dict[str, Any]:
        """The general path's audit line for one successful PKCS#11 item (it names no object)."""
        return self._lines.entry(now, seconds, principal, address, version, _ITEMS)

    def _codec_error(
        self, request: frames.Request, call: Call, principal: str, peer: Peer, error: str
    ) -> bytes:
        """The general path's answer to Input Parameters the module's side cannot decode."""
        from pkcs11_kmip_server.engine import reason_for  # the engine imports this module

        engine = self._engine
        now = engine.clock().replace(microsecond=0)
        message = f"{call.name}: {error}"
        reason = ResultReason.PKCS_11_CODEC_ERROR
        if engine.audit is not None:
            outcome = Outcome(Operation.PKCS_11, None, ResultStatus.OPERATION_FAILED, reason, message)
            engine.audit.write(
                engine.audit.request_entry(now, principal, peer.address, request.version, [], [outcome])
            )
        header = ResponseHeader(
            protocol_version=ProtocolVersion.of(request.version),
            time_stamp=now,
            server_correlation_value=engine.server_correlation_value(),
            batch_count=1,
        )
        item = ResponseBatchItem(
            operation=Operation.PKCS_11,
            result_status=ResultStatus.OPERATION_FAILED,
            result_reason=reason_for(reason, request.version, Operation.PKCS_11),
            result_message=message,
        )
        return ResponseMessage(header=header, batch_items=[item]).encode(request.version)


class _Exchange:
    """One call on a claimed context's worker, driven by the event loop."""

    def __init__(
        self,
        lane: FastLane,
        request: frames.Request,
        call: Call,
        principal: str,
        peer: Peer,
        context: Context,
        done: Callable[[bytes], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        assert isinstance(context.backend, WorkerBackend)  # claim gives no other
        self.lane, self.request, self.call, self.principal, self.peer = lane, request, call, principal, peer
        self.context, self.worker, self.done, self.loop = context, context.backend.worker, done, loop
        self.received = bytearray()
        self.released = self.answered = False

    def guarded(self, step: Callable[[_Exchange], None]) -> None:
        """Run a step; should it fail unexpectedly, the context is given up (the worker's
        state is unknown) and the connection still gets an answer."""
        try:
            step(self)
        except Exception:
            log.exception("a PKCS#11 exchange from the event loop failed (%s)", self.call.name)
            with contextlib.suppress(Exception):
                self.loop.remove_reader(self.worker.output_fd)
            if not self.released:
                self._release(f"worker {self.worker.pid}: the exchange failed")
            if not self.answered:
                self.answered = True
                self.done(self.lane._engine.refuse(f"internal error answering {self.call.name}"))

    def begin(self) -> None:
        try:
            self.worker.send(call_frame(self.request.function, self.request.data))
        except OSError as error:
            self._finish_gone(f"worker {self.worker.pid}: {error}")
            return
        self.loop.add_reader(self.worker.output_fd, self.guarded, _Exchange.read)

    def read(self) -> None:
        try:
            chunk = os.read(self.worker.output_fd, wanted(self.received))
        except OSError as error:
            self.loop.remove_reader(self.worker.output_fd)
            self._finish_gone(f"worker {self.worker.pid}: {error}")
            return
        if not chunk:
            self.loop.remove_reader(self.worker.output_fd)
            self._finish_gone(f"worker {self.worker.pid} ended (exit status {self.worker.process.poll()})")
            return
        self.received += chunk
        end = frame_end(self.received)
        if end is None:
            return  # a large answer comes in pieces
        self.loop.remove_reader(self.worker.output_fd)
        if end != len(self.received):
            self._finish_gone(f"worker {self.worker.pid} answered more than it was asked")
            return
        try:
            rv, output = self.worker.answer_of(bytes(self.received))
        except CodecFailure as failure:
            why = str(failure)
            self._release()
            self._send(
                lambda: self.lane._codec_error(self.request, self.call, self.principal, self.peer, why)
            )
            return
        except WorkerGone as error:
            self._finish_gone(str(error))
            return
        self._release()
        self._send(lambda: self.lane._respond(self.request, self.call, self.principal, self.peer, rv, output))

    def _finish_gone(self, why: str) -> None:
        """The worker is lost: the context ends, and the call answers CKR_DEVICE_ERROR (as `handle`)."""
        self._release(why)
        rv = CKR.DEVICE_ERROR
        self._send(lambda: self.lane._respond(self.request, self.call, self.principal, self.peer, rv, None))

    def _release(self, gone: str | None = None) -> None:
        self.released = True
        self.lane._engine.pkcs11.release(self.context, self.request.correlation_value, gone)

    def _send(self, respond: Callable[[], bytes]) -> None:
        try:
            response = respond()
        except Exception:  # the connection must get an answer, whatever broke here
            log.exception("answering %s failed", self.call.name)
            response = self.lane._engine.refuse(f"internal error answering {self.call.name}")
        self.answered = True
        self.done(response)
