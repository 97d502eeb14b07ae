"""Client application contexts of the PKCS#11 operation, and the token behind them.

C_Initialize makes a context: a random Correlation Value bound to the client's
principal, to the connection it came on, and to a backend (a worker process with its
own instance of the module, or the native token over the KMIP store:
pkcs11_kmip_server.native). Every later call names the context by its Correlation
Value; one that is unknown, finalized, another principal's or another connection's is
answered CKR_CRYPTOKI_NOT_INITIALIZED (what a client meets after a server restart, and
recovers from), so nothing of one client's context (sessions, logins, handles) is
reachable by another. C_Finalize, the end of its connection, an idle timeout, and the
server's exit close the context and with it its sessions.
"""

from __future__ import annotations

import atexit
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pkcs11_kmip import __version__
from pkcs11_kmip.cryptoki import empty, wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.module import Info, default_info
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings, SlotSettings
from pkcs11_kmip_server.hsm.slots import Slot, SlotRouter, find_tokens, user_groups
from pkcs11_kmip_server.hsm.worker import CodecFailure, WorkerGone, WorkerProcess
from pkcs11_kmip_server.native import ending
from pkcs11_kmip_server.native.pins import Pins
from pkcs11_kmip_server.native.token import SLOT_ID as NATIVE_SLOT_ID
from pkcs11_kmip_server.native.token import NativeToken

if TYPE_CHECKING:
    from pkcs11_kmip_server.context import RequestContext
    from pkcs11_kmip_server.engine import Peer
    from pkcs11_kmip_server.store import Store

log = logging.getLogger("pkcs11_kmip_server.hsm")

CORRELATION_VALUE_BYTES = 16
REUSE_AFTER = 60.0
"""Seconds unused after which a client's context may be closed to open the client a new one."""
C_INITIALIZE = BY_NAME["C_Initialize"].id
C_FINALIZE = BY_NAME["C_Finalize"].id
C_GET_INFO = BY_NAME["C_GetInfo"].id


@dataclass
class Reply:
    """What the operation answers: a CK_RV, Output Parameters, a new Correlation Value."""

    rv: int
    output: bytes | None = None
    correlation_value: bytes | None = None


class Backend(Protocol):
    """The token side of one context."""

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        """A forwarded call's CK_RV and Output Parameters; wire.WireError for bad inputs.
        `request`: the KMIP request it came in (the native token works in its transaction)."""
        ...

    def finalize(self) -> int: ...


class EmptyBackend:
    """No module configured: no slots (pkcs11_kmip.cryptoki.empty)."""

    def __init__(self, info: Info) -> None:
        self.info = info

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        return empty.answer_wire(BY_ID[function_id], data, self.info.as_struct())

    def finalize(self) -> int:
        return CKR.OK


class WorkerBackend:
    """The module in a worker process of this context's own."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.gone = False

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        try:
            return self.worker.call(function_id, data)
        except CodecFailure as failure:
            raise wire.WireError(str(failure)) from failure
        except WorkerGone as error:
            log.error("a PKCS#11 context lost its module: %s", error)
            self.gone = True
            return CKR.DEVICE_ERROR, None

    def finalize(self) -> int:
        return self.worker.finalize()


class WorkerPool:
    """Starts workers with one environment, keeping one spare started so that
    C_Initialize does not wait for an interpreter to start and import (about 0.3 s)."""

    def __init__(self, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self._lock = threading.Lock()
        self._spare: WorkerProcess | None = WorkerProcess(self.environment)

    def take(self) -> WorkerProcess:
        with self._lock:
            worker, self._spare = self._spare, None
        if worker is not None and worker.process.poll() is None:
            return worker
        return WorkerProcess(self.environment)

    def replenish(self) -> None:
        """Start the next spare (after a C_Initialize, so the two do not share the CPU)."""
        with self._lock:
            if self._spare is None:
                self._spare = WorkerProcess(self.environment)

    def close(self) -> None:
        with self._lock:
            if self._spare is not None:
                self._spare.close()
                self._spare = None


@dataclass
class Context:
    principal: str
    backend: Backend
    last_used: float
    connection: int | None = None  # the transport's id of the connection that opened it
    lock: threading.Lock = field(default_factory=threading.Lock)


class Pkcs11Service:
    """The contexts of one server (the engine holds one, shared by its request threads)."""

    def __init__(
        self,
        settings: Pkcs11Settings | None = None,
        info: Info | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings or Pkcs11Settings()
        # CK_INFO describes the service a client library talks to: this server.
        self.info = info or default_info(__version__)
        self.clock = clock
        self._contexts: dict[bytes, Context] = {}
        self._lock = threading.Lock()
        self._pools = self._worker_pools()
        self._pins = Pins(self.settings.pins) if self.settings.pins is not None else None
        self._sweeper: threading.Thread | None = None
        self._closed = threading.Event()
        # Finalizes the contexts of closed connections off the transport's event loop
        # (a finalization waits for a call in progress, then for the module).
        self._closer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pkcs11-closer")
        self.store: Store | None = None  # the engine's: native tokens destroy session objects in it

    def _worker_pools(self) -> dict[object, WorkerPool]:
        """One pool per group of slots sharing a module and environment (a context uses
        one worker for its group's slots); the single-slot form: the one module's."""
        if not self.settings.slots:
            if self.settings.module is None or self.settings.native:
                return {}
            return {None: WorkerPool(self.settings.environment)}
        pools: dict[object, WorkerPool] = {}
        for slot in self.settings.slots:
            if slot.kind == "hsm" and slot.group not in pools:
                pools[slot.group] = WorkerPool(slot.environment)
        return pools

    def allowed(self, principal: str) -> bool:
        return self.settings.clients is None or principal in self.settings.clients

    # --- the three kinds of call ----------------------------------------------------------

    def handle(
        self,
        principal: str,
        function_id: int,
        data: bytes,
        correlation_value: bytes | None,
        request: RequestContext | None = None,
        peer: Peer | None = None,
    ) -> Reply:
        """One forwarded call (function_id is a Cryptoki function that is not local), on
        the connection `peer` names (None: contexts bound to no connection)."""
        connection = peer.connection if peer is not None else None
        if function_id == C_INITIALIZE:
            reply = self.initialize(principal, data, correlation_value, connection, request)
            if peer is not None and peer.closed:  # it ended while this context was made
                self.connection_closed(peer.connection)
            return reply
        if function_id == C_FINALIZE:
            wire.decode_inputs(BY_ID[C_FINALIZE], data)
            return Reply(self.finalize(principal, correlation_value, connection))
        context = self._context(principal, correlation_value, connection)
        if context is None:
            wire.decode_inputs(BY_ID[function_id], data)  # a codec error is still one
            return Reply(CKR.CRYPTOKI_NOT_INITIALIZED)
        if function_id == C_GET_INFO:
            return Reply(*empty.answer_wire(BY_ID[C_GET_INFO], data, self.info.as_struct()))
        with context.lock:
            context.last_used = self.clock()
            try:
                rv, output = context.backend.call(function_id, data, request)
            finally:
                context.last_used = self.clock()
        if isinstance(context.backend, WorkerBackend | SlotRouter) and context.backend.gone:
            self._drop(correlation_value)
        return Reply(rv, output)

    def claim(
        self, principal: str, correlation_value: bytes | None, connection: int | None
    ) -> Context | None:
        """The context a call names, taken for an exchange with its worker that the caller
        makes itself (the fast lane, from the event loop); `release` gives it back.

        None, and nothing taken, when the context is unknown here (or another principal's
        or connection's: the same check as `handle`'s), has no worker, or is busy (its
        finalization, a sweep): the caller then goes through `handle`.
        """
        context = self._context(principal, correlation_value, connection)
        if context is None or not isinstance(context.backend, WorkerBackend) or context.backend.gone:
            return None
        if not context.lock.acquire(blocking=False):
            return None
        if not context.backend.worker.begin():
            context.lock.release()
            return None
        context.last_used = self.clock()
        return context

    def release(self, context: Context, correlation_value: bytes | None, gone: str | None = None) -> None:
        """Give back a claimed context; `gone`: why its worker was lost (the context ends)."""
        assert isinstance(context.backend, WorkerBackend)
        context.last_used = self.clock()
        context.backend.worker.end()
        if gone is not None:
            log.error("a PKCS#11 context lost its module: %s", gone)
            context.backend.gone = True
        context.lock.release()
        if gone is not None:
            self._drop(correlation_value)

    def initialize(
        self,
        principal: str,
        data: bytes,
        correlation_value: bytes | None,
        connection: int | None = None,
        request: RequestContext | None = None,
    ) -> Reply:
        wire.decode_inputs(BY_ID[C_INITIALIZE], data)
        if self._context(principal, correlation_value, connection) is not None:
            return Reply(CKR.CRYPTOKI_ALREADY_INITIALIZED)
        if not self._make_room(principal):
            log.warning("PKCS#11 context refused to %s: context limit reached", principal)
            return Reply(CKR.DEVICE_MEMORY)
        backend: Backend
        if self.settings.slots:
            made = self._slot_backend(principal, request)
            if isinstance(made, int):
                return Reply(made)
            backend = made
        elif self.settings.native:
            backend = NativeToken(principal, self._pins, self.store)
        elif not self._pools:
            backend = EmptyBackend(self.info)
        else:
            loaded = self._start_worker(self._pools[None], self.settings.module)
            if isinstance(loaded, int):
                return Reply(loaded)
            backend = loaded
        value = secrets.token_bytes(CORRELATION_VALUE_BYTES)
        with self._lock:
            self._contexts[value] = Context(principal, backend, self.clock(), connection)
        self._start_sweeper()
        return Reply(CKR.OK, correlation_value=value)

    def _start_worker(self, pool: WorkerPool, module: Path | None) -> WorkerBackend | int:
        """A worker with the module loaded and initialized, or the CK_RV of the failure."""
        worker = pool.take()
        try:
            rv = worker.load(str(module))
        except (WorkerGone, CodecFailure) as error:
            log.error("cannot start a PKCS#11 module worker: %s", error)
            rv = CKR.DEVICE_ERROR
        pool.replenish()
        if rv != CKR.OK:
            worker.close()
            return rv
        return WorkerBackend(worker)

    def _slot_backend(self, principal: str, request: RequestContext | None) -> Backend | int:
        """The slot form: a router over the slots this client sees, with one backend per
        module among them (a worker, its tokens found by label or serial) and the native
        token if it sees that slot; or the CK_RV of a worker that failed to start."""
        named = any(slot.clients is not None for slot in self.settings.slots)
        groups = (
            user_groups(self.store, principal, request) if self.store is not None and named else frozenset()
        )
        visible = self.settings.slots_of(principal, groups)
        if not visible:
            return EmptyBackend(self.info)
        by_module: dict[object, list[SlotSettings]] = {}
        for slot in visible:
            by_module.setdefault((slot.kind, slot.group), []).append(slot)
        backends: list[Backend] = []
        slots: dict[int, Slot] = {}
        for index, members in enumerate(by_module.values()):
            if members[0].kind == "native":
                backends.append(NativeToken(principal, self._pins, self.store))
                slots[members[0].id] = Slot(members[0], NATIVE_SLOT_ID, index)
                continue
            loaded = self._start_worker(self._pools[members[0].group], members[0].module)
            if isinstance(loaded, int):
                SlotRouter(principal, backends, {}, None).finalize()
                return loaded
            backends.append(loaded)
            try:
                slots.update(find_tokens(loaded, members, index))
            except (wire.WireError, AssertionError) as error:
                log.error("cannot list the tokens of %s: %s", members[0].module, error)
                SlotRouter(principal, backends, {}, None).finalize()
                return CKR.DEVICE_ERROR
        return SlotRouter(principal, backends, slots, self._pins)

    def _make_room(self, principal: str) -> bool:
        """Whether a new context fits the limits. At the client's own limit, its least
        recently used context unused for REUSE_AFTER seconds is closed: an application
        that exited without C_Finalize left it, and nobody will use it again."""
        with self._lock:
            mine = sorted(
                ((c.last_used, v) for v, c in self._contexts.items() if c.principal == principal),
                key=lambda pair: pair[0],
            )
            if len(mine) < self.settings.max_contexts_per_client:
                return len(self._contexts) < self.settings.max_contexts
            last_used, oldest = mine[0]
            context = self._contexts[oldest]
            if last_used > self.clock() - REUSE_AFTER or context.lock.locked():
                return False
            del self._contexts[oldest]
        log.info("closing the least recently used PKCS#11 context of %s to open a new one", principal)
        with context.lock:
            context.backend.finalize()
        return True

    def finalize(self, principal: str, correlation_value: bytes | None, connection: int | None = None) -> int:
        context = self._context(principal, correlation_value, connection)
        if context is None:
            return CKR.CRYPTOKI_NOT_INITIALIZED
        assert correlation_value is not None
        self._drop(correlation_value)
        with context.lock:  # let a call still running in it finish first
            rv = context.backend.finalize()
        return CKR.OK if rv in (CKR.OK, CKR.CRYPTOKI_NOT_INITIALIZED) else rv

    # --- contexts -------------------------------------------------------------------------

    def _context(
        self, principal: str, correlation_value: bytes | None, connection: int | None = None
    ) -> Context | None:
        if correlation_value is None:
            return None
        with self._lock:
            context = self._contexts.get(correlation_value)
        if context is None or context.principal != principal or context.connection != connection:
            return None
        return context

    def connection_closed(self, connection: int | None) -> int:
        """End the contexts of a connection that closed (the client exited, or the server
        closed it): their finalization goes to a thread, this returns at once. How many."""
        if connection is None:
            return 0
        with self._lock:
            ended = [value for value, context in self._contexts.items() if context.connection == connection]
            contexts = [self._contexts.pop(value) for value in ended]
        if contexts:
            log.info("closing %d PKCS#11 context(s) of a closed connection", len(contexts))
            try:
                self._closer.submit(self._finalize_all, contexts)
            except RuntimeError:  # the service is closing: finalize here
                self._finalize_all(contexts)
        return len(contexts)

    def holds(self, connection: int | None) -> bool:
        """Whether a context is bound to `connection` (which then stays open as long as it may).

        Asked after every answer the transport sends: a server holding no contexts (KMIP
        clients only) answers without the lock.
        """
        if connection is None or not self._contexts:
            return False
        with self._lock:
            return any(context.connection == connection for context in self._contexts.values())

    @staticmethod
    def _finalize_all(contexts: list[Context]) -> None:
        for context in contexts:
            try:
                with context.lock:  # let a call still running in it finish first
                    context.backend.finalize()
            except Exception:
                log.exception("finalizing a PKCS#11 context of %s failed", context.principal)

    def _drop(self, correlation_value: bytes | None) -> Context | None:
        with self._lock:
            return self._contexts.pop(correlation_value, None) if correlation_value else None

    @property
    def context_count(self) -> int:
        with self._lock:
            return len(self._contexts)

    def sweep(self) -> int:
        """Close the contexts unused for longer than the idle timeout; how many were closed."""
        deadline = self.clock() - self.settings.idle_timeout
        with self._lock:
            idle = [
                (value, context)
                for value, context in self._contexts.items()
                if context.last_used < deadline and not context.lock.locked()
            ]
            for value, _ in idle:
                del self._contexts[value]
        for _, context in idle:
            log.info("closing an idle PKCS#11 context of %s", context.principal)
            with context.lock:
                context.backend.finalize()
        return len(idle)

    def _start_sweeper(self) -> None:
        with self._lock:
            if self._sweeper is not None:
                return
            period = max(1.0, min(60.0, self.settings.idle_timeout / 4))

            def run() -> None:
                while not self._closed.wait(period):
                    try:
                        self.sweep()
                    except Exception:
                        log.exception("sweeping idle PKCS#11 contexts failed")

            self._sweeper = threading.Thread(target=run, name="pkcs11-sweeper", daemon=True)
            self._sweeper.start()
            atexit.register(self.close)

    def close(self) -> None:
        """Finalize every context (their workers exit) and stop the spare worker.

        Native-token contexts destroy their session objects on a thread of their own; this
        waits for that, so whoever closes the store next never closes a connection that
        thread is still using (SQLite crashes the process then)."""
        self._closed.set()
        self._closer.shutdown(wait=True)  # contexts of closed connections first
        with self._lock:
            contexts = list(self._contexts.values())
            self._contexts.clear()
        for context in contexts:
            context.backend.finalize()
        for pool in self._pools.values():
            pool.close()
        ending.wait()
