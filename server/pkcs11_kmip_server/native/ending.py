"""How session objects (CKA_TOKEN=FALSE) end when their application does not close them.

An application that dies (its connection drops, it stays idle too long, the server
stops) ends its context outside any KMIP request, so its session objects are destroyed
here, in a store transaction of their own on a thread: never on the transport's event
loop, never inside the transaction of the request that ended the context (C_Finalize,
a context evicted by C_Initialize), whose writer lock that thread holds. A server that
died with session objects in the store (a crash, kill -9) destroys them at its next
start, before it serves: their owner carries `objects.SESSION_MARK`, and no context of
a new run has one of the old owners (each has a random tail).

Destroying is KMIP Destroy, by the Destroy operation's own handler (after Revoke, if
the object is Active: KMIP destroys no Active object): the material goes, the record
stays, Destroyed.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from pkcs11_kmip.kmip.messages.payloads import DestroyRequest, RevokeRequest
from pkcs11_kmip.kmip.messages.structures import RevocationReason
from pkcs11_kmip.kmip.spec.enums import Operation, RevocationReasonCode, State
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.native.objects import SESSION_MARK
from pkcs11_kmip_server.operations import HANDLERS, load_all
from pkcs11_kmip_server.store import Conflict, LocateQuery, ObjectRecord, Store, StoreSession
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS

log = logging.getLogger(__name__)

ATTEMPTS = 8  # transactions that met a concurrent write, as the engine runs a message again

# One thread: ends are rare, and one at a time keeps them off each other's writer lock.
_ender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="native-session-objects")
_pending: set[Future[None]] = set()
_pending_lock = threading.Lock()


def destroy(context: RequestContext, record: ObjectRecord, why: str) -> None:
    """KMIP Destroy of `record` as `context.principal` (its owner), in one savepoint; an
    Active object is revoked first (Cessation of Operation, `why` its message).
    Raises the operations' KmipError."""
    if not {Operation.REVOKE, Operation.DESTROY} <= HANDLERS.keys():  # (a server start: few loaded)
        load_all()
    with context.session.savepoint():
        if refresh_state(record.attributes, context.now) is State.ACTIVE:
            reason = RevocationReason(
                revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION, revocation_message=why
            )
            context.operation = Operation.REVOKE
            HANDLERS[Operation.REVOKE](
                context, RevokeRequest(unique_identifier=record.uid, revocation_reason=reason)
            )
        context.operation = Operation.DESTROY
        HANDLERS[Operation.DESTROY](context, DestroyRequest(unique_identifier=record.uid))


def destroy_all(context: RequestContext, uids: list[str], why: str) -> int:
    """Destroy those of `uids` that `context.principal` owns and that still hold material;
    one that cannot be is logged and left (its savepoint undone). How many were."""
    destroyed = 0
    for uid in uids:
        record = context.session.load(uid, context.principal)
        if record is None or record.material is None:
            continue
        try:
            destroy(context, record, why)
            destroyed += 1
        except KmipError as error:
            log.warning("session object %s not destroyed: %s (%s)", uid, error.reason.name, error.message)
    return destroyed


def in_transaction(store: Store, work: Callable[[StoreSession], None]) -> None:
    """Run `work` in a write transaction of its own, again after a store Conflict."""
    for attempt in range(ATTEMPTS):
        try:
            with store.session(write=True) as session:
                work(session)
            return
        except Conflict:
            time.sleep(random.uniform(0, 0.002 * 2**attempt))
    raise Conflict("the store stayed busy")


def later(work: Callable[[], None], what: str) -> None:
    """Run `work` on the ending thread; `wait` lets the server wait for it before it
    closes its store. A failure is logged (the start sweep of the next run remains)."""

    def run() -> None:
        try:
            work()
        except Exception:
            log.exception("%s failed: the next server start destroys them", what)

    future = _ender.submit(run)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_done)


def _done(future: Future[None]) -> None:
    with _pending_lock:
        _pending.discard(future)


def wait(timeout: float = 30.0) -> None:
    """Wait for the session objects being destroyed (the server stops: its store closes next)."""
    with _pending_lock:
        pending = list(_pending)
    deadline = time.monotonic() + timeout
    for future in pending:
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:  # logged by `later`; a timeout leaves them to the next start
            return


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def context_of(principal: str, session: StoreSession, when: datetime) -> RequestContext:
    """A request context for work the server does on its own (no client asked)."""
    return RequestContext(principal, SUPPORTED_VERSIONS[0], when, session)


def sweep(store: Store) -> int:
    """Destroy the session objects a previous run left (call before serving, under the
    data directory's lock: every marked owner is then an application that is gone).
    How many were destroyed."""
    when = now()
    destroyed = 0

    def work(session: StoreSession) -> None:
        nonlocal destroyed
        destroyed = 0
        for owner in _marked_owners(session):
            uids, _ = session.locate(LocateQuery(owner=owner, now=when))
            destroyed += destroy_all(
                context_of(owner, session, when), uids, "its application ended with the server"
            )

    in_transaction(store, work)
    if destroyed:
        log.info("destroyed %d session object(s) left by the previous run", destroyed)
    return destroyed


def _marked_owners(session: StoreSession) -> list[str]:
    """The owners of session objects still holding material (not Destroyed)."""
    return session.owners_containing(SESSION_MARK)
