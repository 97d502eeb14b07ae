"""The KMIP engine: request bytes in, response bytes out, no sockets.

It decodes the message in the version the client speaks, runs the batch items in
order inside one store transaction (each item in a savepoint), applies the Batch
Error Continuation Option and the ID Placeholder, and encodes the response in the
request's version with Result Reasons that version knows. It is the error boundary
of the server: whatever the input, a response comes out.
"""

from __future__ import annotations

import functools
import itertools
import logging
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages import (
    RequestBatchItem,
    RequestHeader,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.message import header_version
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    AsynchronousIndicator,
    BatchErrorContinuationOption,
    Operation,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, Limits, binary
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.auth import (
    CredentialError,
    PasswordUsers,
    TicketError,
    presented_ticket,
    use_ticket,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.services import CryptoServices
from pkcs11_kmip_server.delegation import Delegation
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.fast_lane import FastLane
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.jobs import AsyncJobs
from pkcs11_kmip_server.operations import PREPARERS, Handler, load_all
from pkcs11_kmip_server.outcome import Outcome
from pkcs11_kmip_server.store import Conflict, Store, StoreSession
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS

log = logging.getLogger("pkcs11_kmip_server.engine")

ATTEMPTS = 8  # runs of a message whose transaction met a concurrent write

# The enumeration members every message's path tests, read once: on Python 3.11 each
# `Enum.MEMBER` lookup goes through EnumType's __getattr__ hook (0.3-0.5 us), and a
# Create tests a dozen of them between its admission and its response.
_REQUEST_MESSAGE = Tag.REQUEST_MESSAGE
_REQUEST_HEADER = Tag.REQUEST_HEADER
_BATCH_ITEM = Tag.BATCH_ITEM
_STRUCTURE = ItemType.STRUCTURE
_SUCCESS = ResultStatus.SUCCESS
_FAILED = ResultStatus.OPERATION_FAILED
_WITH_PAYLOAD = (ResultStatus.SUCCESS, ResultStatus.OPERATION_UNDONE)
_STOP = BatchErrorContinuationOption.STOP
_UNDO = BatchErrorContinuationOption.UNDO
_CONTINUE = BatchErrorContinuationOption.CONTINUE
_MANDATORY = AsynchronousIndicator.MANDATORY

# Operations that (nearly always) only read: a batch of them starts a read transaction.
# Get may still write (it clears Fresh); the store then reports a Conflict if another
# writer came first, and the message runs again as a writer.
READ_ONLY_OPERATIONS = frozenset(
    {
        Operation.GET,
        Operation.GET_ATTRIBUTES,
        Operation.GET_ATTRIBUTE_LIST,
        Operation.LOCATE,
        Operation.QUERY,
        Operation.DISCOVER_VERSIONS,
        Operation.OBTAIN_LEASE,
        Operation.POLL,
        Operation.INTEROP,
        Operation.PKCS_11,  # never touches the store: no writer lock around a module call
    }
)

# What to answer a client whose version does not define the reason (as the OASIS test
# cases do, e.g. Wrong Key Lifecycle State is Permission Denied in 1.4; Constraint
# Violation, new in 2.1, is Permission Denied in 1.x and 2.0 alike). An entry applies only
# where its reason is undefined, so one table serves every older version.
REASONS_FOR_OLDER_VERSIONS: dict[ResultReason, ResultReason] = {
    ResultReason.OBJECT_NOT_FOUND: ResultReason.ITEM_NOT_FOUND,
    ResultReason.WRONG_KEY_LIFECYCLE_STATE: ResultReason.PERMISSION_DENIED,
    ResultReason.OBJECT_DESTROYED: ResultReason.PERMISSION_DENIED,
    ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK: ResultReason.PERMISSION_DENIED,
    ResultReason.READ_ONLY_ATTRIBUTE: ResultReason.PERMISSION_DENIED,
    ResultReason.ATTRIBUTE_READ_ONLY: ResultReason.PERMISSION_DENIED,
    ResultReason.CONSTRAINT_VIOLATION: ResultReason.PERMISSION_DENIED,
    ResultReason.NOT_AUTHORISED: ResultReason.PERMISSION_DENIED,
    ResultReason.USAGE_LIMIT_EXCEEDED: ResultReason.PERMISSION_DENIED,
    ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND: ResultReason.INDEX_OUT_OF_BOUNDS,
    ResultReason.ATTRIBUTE_NOT_FOUND: ResultReason.ITEM_NOT_FOUND,
    ResultReason.MISSING_INITIALIZATION_VECTOR: ResultReason.MISSING_DATA,
    ResultReason.UNSUPPORTED_PROTOCOL_VERSION: ResultReason.INVALID_MESSAGE,
    ResultReason.CODEC_ERROR: ResultReason.INVALID_MESSAGE,
}


# KMIP 2.0's profiles answer Permission Denied where a key's state forbids the operation
# (AKLC-M-2-20, AKLC-M-3-20, CS-BC-M-14-20, CS-AC-M-8-20); its error tables allow it (Table
# 249, Modify Attribute, lists nothing else). KMIP 2.1's profiles expect Wrong Key Lifecycle State.
REASONS_FOR_2_0: dict[tuple[Operation, ResultReason], ResultReason] = {
    (operation, ResultReason.WRONG_KEY_LIFECYCLE_STATE): ResultReason.PERMISSION_DENIED
    for operation in (
        Operation.MODIFY_ATTRIBUTE,
        Operation.DESTROY,
        Operation.ENCRYPT,
        Operation.DECRYPT,
        Operation.SIGN,
        Operation.SIGNATURE_VERIFY,
        Operation.MAC,
        Operation.MAC_VERIFY,
    )
}


# Operations that may take long (RSA key generation takes up to seconds; a forwarded
# PKCS#11 call waits for the HSM): the transport runs messages with them on separate
# threads, so quick requests never queue behind them.
LONG_OPERATIONS = frozenset({Operation.CREATE_KEY_PAIR, Operation.RE_KEY_KEY_PAIR, Operation.PKCS_11})

# Quick writes that the transport hands to the writer thread, whose group commit runs those
# queued together in one transaction (group_commit.py). Other writes (the cryptographic
# operations, administration, Login) keep to the worker threads and the writer lock.
GROUPED_OPERATIONS = frozenset(
    {
        Operation.CREATE,
        Operation.REGISTER,
        Operation.RE_KEY,
        Operation.ACTIVATE,
        Operation.REVOKE,
        Operation.DESTROY,
        Operation.ARCHIVE,
        Operation.RECOVER,
        Operation.ADD_ATTRIBUTE,
        Operation.SET_ATTRIBUTE,
        Operation.MODIFY_ATTRIBUTE,
        Operation.DELETE_ATTRIBUTE,
        Operation.ADJUST_ATTRIBUTE,
    }
)
_GROUPED_OR_READ = GROUPED_OPERATIONS | (READ_ONLY_OPERATIONS - LONG_OPERATIONS)
_OPERATION_HEADER = binary.HEADER.pack(Tag.OPERATION << 8 | ItemType.ENUMERATION, 4)


def operations_named(data: bytes) -> set[int]:
    """The Operation values a request message names, by a scan of its bytes.

    Cheap enough for the event loop; a false positive (the same bytes inside a value)
    only sends a message to other threads than it needs, which answer it all the same.
    """
    named = set()
    start = data.find(_OPERATION_HEADER)
    while start >= 0:
        named.add(int.from_bytes(data[start + 8 : start + 12], "big"))
        start = data.find(_OPERATION_HEADER, start + 16)
    return named


def is_long(data: bytes) -> bool:
    """Whether a request message asks for a long operation (`operations_named`)."""
    return not LONG_OPERATIONS.isdisjoint(operations_named(data))


def is_grouped(data: bytes) -> bool:
    """Whether a request message goes to the writer thread (group_commit.py): it writes,
    and nothing in it is long or other than GROUPED_OPERATIONS and reads."""
    named = operations_named(data)
    return not GROUPED_OPERATIONS.isdisjoint(named) and named <= _GROUPED_OR_READ


def reason_for(reason: ResultReason, version: Version, operation: Operation | None = None) -> ResultReason:
    """A Result Reason the client's version defines (for this operation), closest to `reason`."""
    if version == (2, 0) and operation is not None:
        reason = REASONS_FOR_2_0.get((operation, reason), reason)
    row = next((r for r in spec.enumeration("Result Reason").rows if r.value == reason), None)
    if row is None or (row.since <= version and (row.until is None or version <= row.until)):
        return reason
    fallback = ResultReason.INVALID_FIELD if version < (2, 0) else ResultReason.GENERAL_FAILURE
    return REASONS_FOR_OLDER_VERSIONS.get(reason, fallback)


def negotiated(requested: Version) -> Version | None:
    """The version to answer in: the requested one if supported, else None."""
    return requested if requested in SUPPORTED_VERSIONS else None


def fallback_version(requested: Version | None) -> Version:
    """The version of an answer to a message we cannot serve: the closest one we speak."""
    if requested is None:
        return (1, 0)
    lower = [version for version in SUPPORTED_VERSIONS if version <= requested]
    return lower[0] if lower else SUPPORTED_VERSIONS[-1]


@dataclass
class Peer:
    """Who is on the other end: the TLS client certificate's subject CN, and which
    connection (PKCS#11 contexts are bound to the connection that opened them)."""

    principal: str | None
    address: str = ""
    connection: int | None = None  # the transport's id for it; None: not a connection
    closed: bool = False  # set by the transport when the connection has ended


@dataclass
class _Admitted:
    """A decoded request message whose caller is known: what running and answering it need."""

    peer: Peer
    principal: str
    version: Version
    now: datetime
    header: RequestHeader
    batch: list[RequestBatchItem | Outcome]
    delegation: Delegation | None


Admission = _Admitted | bytes
"""What `Engine.admit` gives: the admitted message, or the answer that refuses it."""


class _Discard(Exception):
    """Raised out of the preparers' read transaction: nothing they touched is kept."""


class _Undo(Exception):
    """Raised out of the transaction so that it rolls back (Undo, or a lone item that failed)."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__("undo")
        self.outcomes = outcomes


@dataclass
class Engine:
    store: Store
    limits: Limits
    users: PasswordUsers | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    handlers: dict[Operation, Handler] = field(default_factory=load_all)
    jobs: AsyncJobs = field(default_factory=AsyncJobs)  # the background threads; state in the store
    crypto: CryptoServices = field(default_factory=CryptoServices)  # provider, open streams
    pkcs11: Pkcs11Service = field(default_factory=Pkcs11Service)  # PKCS#11 client contexts
    audit: AuditLog | None = None  # DIR/audit.log: a line per request message
    max_ticket_lease: int = 0  # [auth] max_ticket_lease: seconds a Login ticket may last (0: no limit)

    def __post_init__(self) -> None:
        self._correlation = itertools.count(1)
        self._correlation_prefix = secrets.token_hex(4).upper()
        self.fast_lane = FastLane(self)  # plain PKCS#11 messages (fast_lane.py)
        self.pkcs11.store = self.store  # where native tokens' left session objects are destroyed

    def answer_from_loop(self, data: bytes, peer: Peer, done: Callable[[bytes], None]) -> bool:
        """On the event loop: whether the message is answered there, without a thread (a
        plain PKCS#11 call on a worker's context: fast_lane.py); `done` then gets the answer."""
        return self.fast_lane.start(data, peer, done)

    def server_correlation_value(self) -> str:
        """The next response header's Server Correlation Value (KMIP 1.4 and later)."""
        return f"{self._correlation_prefix}-{next(self._correlation)}"

    def close(self) -> None:
        """Let running asynchronous operations finish; drop the queued ones."""
        self.jobs.shutdown()

    def connection_closed(self, peer: Peer) -> None:
        """The transport says a connection ended: its PKCS#11 contexts end too (their
        finalization runs on a thread of the service, so this returns at once)."""
        peer.closed = True  # first: a C_Initialize still running then ends what it made
        if peer.connection is not None:
            self.pkcs11.connection_closed(peer.connection)

    def idle_timeout(self, peer: Peer, default: float) -> float:
        """How long the connection may stay silent between messages: `default`, or, while it
        holds PKCS#11 contexts, as long as they may ([pkcs11] idle_timeout), so that an
        application's sessions and login do not end with a quiet spell."""
        if self.pkcs11.holds(peer.connection):
            return max(default, self.pkcs11.settings.idle_timeout)
        return default

    # --- the whole exchange ----------------------------------------------------------------

    def handle(self, data: bytes, peer: Peer) -> bytes:
        """Answer one request message (never raises)."""
        admitted = self.admit(data, peer)
        if isinstance(admitted, bytes):
            return admitted
        return self._answer(admitted, self._run(admitted))

    def handle_many(self, messages: Sequence[tuple[bytes, Peer]]) -> list[bytes | Exception]:
        """Answer several request messages, as `handle` would one by one, but with their
        writes in one transaction: the group commit of the writer thread (group_commit.py).

        Each message runs in a savepoint of its own, so its failure (a lone failed item,
        Undo) rolls back only its own work; one COMMIT then makes them all durable, and only
        then are they answered. A message the group cannot take (read-only, asynchronous,
        one with preparers) or that met an unexpected error in it runs alone afterwards, as
        do all of them if the group's transaction fails. An answer is the message's bytes,
        or the exception `handle` would have raised for it.
        """
        return self.handle_admitted([self.admit(data, peer) for data, peer in messages])

    def handle_admitted(self, admitted: Sequence[Admission | Exception]) -> list[bytes | Exception]:
        """`handle_many` for messages `admit` took already; an exception in their place (one
        `admit` raised) is that message's answer."""
        group = [m for m in admitted if isinstance(m, _Admitted) and _groupable(m)]
        grouped = self._execute_group(group) if len(group) > 1 else {}
        answers: list[bytes | Exception] = []
        lines: list[dict[str, Any]] = []  # the ran messages' audit lines, written together
        try:
            for message in admitted:
                if not isinstance(message, _Admitted):
                    answers.append(message)
                    continue
                try:
                    outcomes = grouped.get(id(message))
                    if outcomes is None:
                        outcomes = self._run(message)
                    answers.append(self._answer(message, outcomes, lines))
                except Exception as error:  # the transport ends that connection, as for `handle`
                    answers.append(error)
        finally:
            if self.audit is not None:
                self.audit.write_many(lines)
        return answers

    def admit(self, data: bytes, peer: Peer) -> Admission:
        """The message decoded and its caller known, or the answer that refuses it: the first
        half of answering it, which needs no transaction (the writer thread admits the
        messages it holds while it waits for more: group_commit.py)."""
        fast = self.fast_lane.answer(data, peer)  # a plain forwarded Cryptoki call
        if fast is not None:
            return fast
        now = self.clock().replace(microsecond=0)
        try:
            item = binary.decode(data, self.limits)
            if item.tag != _REQUEST_MESSAGE or item.type is not _STRUCTURE:
                raise CodecError("not a Request Message")
        except CodecError as error:
            return self._refused(peer, None, ResultReason.INVALID_MESSAGE, str(error), now)
        try:
            requested = header_version(item, _REQUEST_HEADER)
        except CodecError as error:
            return self._refused(peer, None, ResultReason.INVALID_MESSAGE, str(error), now)
        version = negotiated(requested)
        if version is None:
            answer = fallback_version(requested)
            text = f"KMIP {requested[0]}.{requested[1]} is not supported"
            return self._refused(peer, answer, ResultReason.UNSUPPORTED_PROTOCOL_VERSION, text, now)
        try:
            header, batch = self._decode(item, version)
        except CodecError as error:
            return self._refused(peer, version, ResultReason.INVALID_MESSAGE, str(error), now)
        if peer.principal is None:
            return self._refused(
                peer, version, ResultReason.AUTHENTICATION_NOT_SUCCESSFUL, "no client identity", now
            )
        principal = peer.principal
        delegation: Delegation | None = None  # a Delegated Login ticket's Rights (delegation.py)
        ticket = presented_ticket(header.authentication)
        try:
            if ticket is not None:  # a KMIP 2.x Login ticket (store/tickets.py)
                principal, delegation = use_ticket(self.store, ticket, peer.principal, now.timestamp())
            elif self.users is not None:
                principal = self.users.principal(header.authentication, peer.principal)
        except TicketError as error:  # each item answers it, naming its operation (TC-LOGIN-2-20)
            refused = [_failed(item, error.reason, str(error)) for item in batch]
            if self.audit is not None:
                self.audit.write(
                    self.audit.request_entry(now, peer.principal, peer.address, version, batch, refused)
                )
            return self._respond(version, now, header, refused)
        except CredentialError as error:
            reason = ResultReason.AUTHENTICATION_NOT_SUCCESSFUL
            return self._refused(peer, version, reason, str(error), now)
        return _Admitted(peer, principal, version, now, header, batch, delegation)

    def _run(self, message: _Admitted) -> list[Outcome]:
        """Run an admitted message in a transaction of its own (or queue it, if asynchronous)."""
        if _wants_background(message.header, message.batch):
            return self._start_in_background(message)
        return self._execute(message)

    def _answer(
        self, message: _Admitted, outcomes: list[Outcome], lines: list[dict[str, Any]] | None = None
    ) -> bytes:
        """The response to a message that ran, and its audit line: written now, or added to
        `lines` for the caller to write with its group's (handle_many)."""
        m = message
        if self.audit is not None:
            extra = m.delegation.audit_fields(m.peer.principal) if m.delegation is not None else {}
            entry = self.audit.request_entry(
                m.now, m.principal, m.peer.address, m.version, m.batch, outcomes, **extra
            )
            if lines is None:
                self.audit.write(entry)
            else:
                lines.append(entry)
        return self._respond(m.version, m.now, m.header, outcomes)

    def _refused(
        self, peer: Peer, version: Version | None, reason: ResultReason, message: str, now: datetime
    ) -> bytes:
        """A refusal of the whole message, recorded in the audit log."""
        if self.audit is not None:
            refusal = Outcome(None, None, ResultStatus.OPERATION_FAILED, reason)
            self.audit.write(
                self.audit.request_entry(now, peer.principal, peer.address, version, [], [refusal])
            )
        return self._refusal(version, reason, message, now)

    def refuse(self, message: str) -> bytes:
        """An Invalid Message answer for a stream that cannot be read (e.g. an oversized frame)."""
        return self._refusal(None, ResultReason.INVALID_MESSAGE, message, self.clock().replace(microsecond=0))

    def _decode(self, item: Item, version: Version) -> tuple[RequestHeader, list[RequestBatchItem | Outcome]]:
        """The header and each batch item; an item whose payload does not decode is an Outcome."""
        header_item = item.find(_REQUEST_HEADER)
        assert header_item is not None  # header_version found it
        header = RequestHeader.from_item(header_item, version)
        raw_items = list(item.find_all(_BATCH_ITEM))
        if not raw_items:
            raise CodecError("the message has no Batch Item")
        if header.batch_count != len(raw_items):
            raise CodecError(
                f"Batch Count is {header.batch_count} but the message has {len(raw_items)} items"
            )
        batch: list[RequestBatchItem | Outcome] = []
        for raw in raw_items:
            try:
                batch.append(RequestBatchItem.from_item(raw, version))
            except CodecError as error:
                batch.append(_undecodable(raw, str(error)))
        return header, batch

    # --- the batch -------------------------------------------------------------------------

    def _start_in_background(self, message: _Admitted) -> list[Outcome]:
        """Queue the batch; each item answered Operation Pending with its correlation value."""
        principal, version, batch = message.principal, message.version, message.batch

        def work() -> list[bytes]:
            outcomes = self._execute(message)
            # Items after a Stop never ran: Poll says so rather than leaving them pending.
            outcomes += [_not_run(item) for item in batch[len(outcomes) :]]
            # Kept in the store for Poll, from any server process, as the response's items.
            return [self._salvaged(version, self._batch_item(version, o)).encode(version) for o in outcomes]

        try:
            correlations = self.jobs.submit(self.store, principal, version, work, len(batch))
        except KmipError as error:
            return [_failed(item, error.reason, error.message) for item in batch]
        return [
            Outcome(
                _operation(item),
                _batch_item_id(item),
                ResultStatus.OPERATION_PENDING,
                asynchronous_correlation_value=correlation,
            )
            for item, correlation in zip(batch, correlations, strict=True)
        ]

    def _execute(self, message: _Admitted) -> list[Outcome]:
        """Run the batch in a transaction of its own, with what its items made ahead of it."""
        ahead = self._made_ahead(message)
        try:
            return self._transact(message, ahead)
        finally:  # what the items did not take goes (a key pair made ahead in an HSM's token)
            for made in ahead.values():
                release = getattr(made, "release", None)
                if callable(release):
                    release()

    def _transact(self, message: _Admitted, ahead: dict[int, object]) -> list[Outcome]:
        """Run the batch in a transaction, again after a Conflict, with what was made ahead."""
        batch = message.batch
        write = not all(_operation(item) in READ_ONLY_OPERATIONS for item in batch)
        for attempt in range(ATTEMPTS):
            try:
                with self.store.session(write=write or attempt > 0) as session:
                    context = self._context(message, session)
                    outcomes = self._run_message(context, message.header, batch, ahead)
                context.committed()
                return outcomes
            except _Undo as undo:
                return [_undone(o) for o in undo.outcomes]
            except Conflict:
                log.debug("store conflict, running the message again (attempt %d)", attempt + 1)
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        busy = "the store stayed busy; try again"
        return [_failed(item, ResultReason.GENERAL_FAILURE, busy) for item in batch]

    def _execute_group(self, group: list[_Admitted]) -> dict[int, list[Outcome]]:
        """Run messages in one write transaction, each in its savepoint; their outcomes by
        id() of the message once it committed. A message missing from the result runs alone:
        all of them if the transaction could not commit (nothing of theirs is kept)."""
        results: dict[int, list[Outcome]] = {}
        committed: list[RequestContext] = []
        try:
            with self.store.session(write=True) as session:
                for m in group:
                    context = self._context(m, session)
                    try:
                        with session.savepoint():
                            outcomes = self._run_message(context, m.header, m.batch)
                    except _Undo as undo:
                        results[id(m)] = [_undone(o) for o in undo.outcomes]
                        continue
                    except Conflict:
                        raise
                    except Exception:  # it runs alone after the group and meets its error there
                        log.exception("a message failed in a group; it runs alone")
                        continue
                    results[id(m)] = outcomes
                    committed.append(context)
        except Exception:  # a Conflict, or a store that cannot commit now: each runs alone
            log.debug("the group's transaction failed; its %d messages run alone", len(group), exc_info=True)
            return {}
        for context in committed:
            context.committed()
        return results

    def _run_message(
        self,
        context: RequestContext,
        header: RequestHeader,
        batch: list[RequestBatchItem | Outcome],
        ahead: dict[int, object] | None = None,
    ) -> list[Outcome]:
        """The batch's outcomes; raises _Undo for the transaction (or the message's savepoint)
        to roll back: Undo asked and an item failed, or a lone item failed (it runs without a
        savepoint of its own)."""
        option = header.batch_error_continuation_option or _STOP
        outcomes = self._run_items(context, batch, option, ahead)
        if (option is _UNDO or len(batch) == 1) and any(o.status is _FAILED for o in outcomes):
            raise _Undo(outcomes)
        return outcomes

    def _context(self, message: _Admitted, session: StoreSession) -> RequestContext:
        """What the items of one message see, in its transaction (or its preparers' own)."""
        return RequestContext(
            message.principal,
            message.version,
            message.now,
            session,
            self.jobs,
            crypto=self.crypto,
            pkcs11=self.pkcs11,
            peer=message.peer,
            audit=self.audit,
            users=self.users,
            delegation=message.delegation,
            max_ticket_lease=self.max_ticket_lease,
        )

    def _made_ahead(self, message: _Admitted) -> dict[int, object]:
        """What the batch's items can make before the write transaction, by position.

        Their preparers (operations.prepares) read what their checks need in a transaction
        of their own, rolled back, and the slow work they return (a key pair) runs with no
        transaction open, so no writer of any server process waits for it (the writer
        lock). A preparation that fails makes nothing: the handler meets the same error.
        """
        wanted = [
            (position, PREPARERS[item.operation], item)
            for position, item in enumerate(message.batch)
            if isinstance(item, RequestBatchItem)
            and item.operation in PREPARERS
            and not isinstance(item.request_payload, Item | None)
        ]
        if not wanted:
            return {}
        works: dict[int, Callable[[], object]] = {}
        try:
            with self.store.session(write=False) as session:
                context = self._context(message, session)
                for position, preparer, item in wanted:
                    context.operation = item.operation
                    try:
                        work = preparer(context, item.request_payload)
                    except KmipError:
                        continue
                    if work is not None:
                        works[position] = work
                raise _Discard
        except _Discard:
            pass
        except Conflict:
            return {}
        except Exception:  # a store that cannot read now, or a preparer's bug: do it all in the transaction
            log.exception("preparing %s ahead failed", [item.operation for _, _, item in wanted])
            return {}
        made: dict[int, object] = {}
        for position, work in works.items():
            try:
                made[position] = work()
            except KmipError:
                continue
        return made

    def _run_items(
        self,
        context: RequestContext,
        batch: list[RequestBatchItem | Outcome],
        option: BatchErrorContinuationOption,
        ahead: dict[int, object] | None = None,
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for position, item in enumerate(batch):
            context.made_ahead = ahead.get(position) if ahead else None
            outcome = item if isinstance(item, Outcome) else self._run_item(context, item, len(batch) > 1)
            outcomes.append(outcome)
            context.batch_objects.append(_created_uid(outcome))
            if outcome.status is _FAILED and option is not _CONTINUE:
                break
        return outcomes

    def _run_item(self, context: RequestContext, item: RequestBatchItem, isolated: bool) -> Outcome:
        """Run one item; `isolated`: in a savepoint, so that its failure undoes only itself."""
        operation = item.operation
        context.operation = operation  # what access.authorize checks for the objects it loads
        handler = self.handlers.get(operation) if operation is not None else None
        payload = item.request_payload
        if handler is None or isinstance(payload, Item) or payload is None:
            name = operation.name if operation is not None else "?"
            message = f"operation {name} is not supported"
            return _failed(item, ResultReason.OPERATION_NOT_SUPPORTED, message)
        try:
            if context.delegation is not None and operation is not None:  # before anything runs
                context.delegation.check_operation(operation)
            if isolated:
                with context.session.savepoint():
                    result = handler(context, payload)
            else:  # the message's own savepoint or transaction is the item's
                result = handler(context, payload)
        except KmipError as error:
            return _failed(item, error.reason, error.message)
        except Conflict:
            raise
        except Exception:
            reference = secrets.token_hex(4)
            log.exception("%s failed [ref %s]", operation.name if operation else "?", reference)
            return _failed(item, ResultReason.GENERAL_FAILURE, f"internal error [ref {reference}]")
        if isinstance(result, Outcome):  # Poll: the polled operation's own answer
            return replace(result, batch_item_id=item.unique_batch_item_id)
        return Outcome(operation, item.unique_batch_item_id, _SUCCESS, payload=result)

    # --- the response ----------------------------------------------------------------------

    def _header(
        self, version: Version, now: datetime, request: RequestHeader | None, count: int
    ) -> ResponseHeader:
        header = ResponseHeader(
            protocol_version=_protocol_version(version), time_stamp=now, batch_count=count
        )
        if version >= (1, 4):
            header.server_correlation_value = self.server_correlation_value()
            if request is not None:
                header.client_correlation_value = request.client_correlation_value
        return header

    def _respond(
        self, version: Version, now: datetime, request: RequestHeader, outcomes: list[Outcome]
    ) -> bytes:
        items = [self._batch_item(version, outcome) for outcome in outcomes]
        message = ResponseMessage(header=self._header(version, now, request, len(items)), batch_items=items)
        try:
            encoded = message.encode(version)
        except CodecError:
            encoded = self._encode_salvaging(message, version)
        limit = request.maximum_response_size
        if limit is not None and len(encoded) > limit:
            too_large = [
                Outcome(
                    o.operation,
                    o.batch_item_id,
                    ResultStatus.OPERATION_FAILED,
                    ResultReason.RESPONSE_TOO_LARGE,
                    f"the response ({len(encoded)} bytes) exceeds Maximum Response Size {limit}",
                )
                for o in outcomes
            ]
            items = [self._batch_item(version, outcome) for outcome in too_large]
            message = ResponseMessage(
                header=self._header(version, now, request, len(items)), batch_items=items
            )
            encoded = message.encode(version)
        return encoded

    def _encode_salvaging(self, message: ResponseMessage, version: Version) -> bytes:
        """Encode, turning any item our own code filled wrongly into a General Failure."""
        message.batch_items = [self._salvaged(version, item) for item in message.batch_items]
        return message.encode(version)

    def _salvaged(self, version: Version, item: ResponseBatchItem) -> ResponseBatchItem:
        """The item if it encodes in `version`, else a General Failure in its place (logged)."""
        try:
            item.encode(version)
        except CodecError:
            reference = secrets.token_hex(4)
            log.exception("cannot encode the %s response [ref %s]", item.operation, reference)
            return ResponseBatchItem(
                operation=item.operation,
                unique_batch_item_id=item.unique_batch_item_id,
                result_status=ResultStatus.OPERATION_FAILED,
                result_reason=reason_for(ResultReason.GENERAL_FAILURE, version),
                result_message=f"internal error [ref {reference}]",
            )
        return item

    def _batch_item(self, version: Version, outcome: Outcome) -> ResponseBatchItem:
        item = ResponseBatchItem(
            operation=outcome.operation,
            unique_batch_item_id=outcome.batch_item_id,
            result_status=outcome.status,
        )
        if outcome.status in _WITH_PAYLOAD:
            item.response_payload = outcome.payload
        elif outcome.status is ResultStatus.OPERATION_PENDING:
            item.asynchronous_correlation_value = outcome.asynchronous_correlation_value
        else:
            reason = outcome.reason or ResultReason.GENERAL_FAILURE
            item.result_reason = reason_for(reason, version, outcome.operation)
            item.result_message = outcome.message
        return item

    def _refusal(self, version: Version | None, reason: ResultReason, message: str, now: datetime) -> bytes:
        """A response to a message that could not be served at all."""
        answer = version or fallback_version(None)
        outcome = Outcome(None, None, ResultStatus.OPERATION_FAILED, reason, message)
        response = ResponseMessage(
            header=self._header(answer, now, None, 1), batch_items=[self._batch_item(answer, outcome)]
        )
        return response.encode(answer)


@functools.cache
def _protocol_version(version: Version) -> ProtocolVersion:
    """The response header's Protocol Version, made once per version: a response is encoded
    as soon as it is built and never changed, so every one may share it."""
    return ProtocolVersion.of(version)


# Operations that answer about other operations; a batch with them runs at once.
_ALWAYS_SYNCHRONOUS = frozenset({Operation.POLL, Operation.CANCEL, Operation.DISCOVER_VERSIONS})


def _wants_background(header: RequestHeader, batch: list[RequestBatchItem | Outcome]) -> bool:
    """Whether the client asked for asynchronous processing that we grant.

    1.x asks with true; 2.x with Mandatory. Optional leaves the choice to the server,
    and every operation we have is quick enough to answer at once.
    """
    asked = header.asynchronous_indicator
    if asked is not True and asked is not _MANDATORY:
        return False
    return not any(_operation(item) in _ALWAYS_SYNCHRONOUS for item in batch)


def _groupable(message: _Admitted) -> bool:
    """Whether a message can run in a group's transaction (Engine._execute_group): it
    writes, runs at once, and has no item to prepare before its transaction."""
    operations = {item.operation for item in message.batch}
    return (
        not _wants_background(message.header, message.batch)
        and not operations <= READ_ONLY_OPERATIONS
        and operations.isdisjoint(PREPARERS)
    )


def _operation(item: RequestBatchItem | Outcome) -> Operation | None:
    return item.operation


def _batch_item_id(item: RequestBatchItem | Outcome) -> bytes | None:
    return item.unique_batch_item_id if isinstance(item, RequestBatchItem) else item.batch_item_id


def _failed(item: RequestBatchItem | Outcome, reason: ResultReason, message: str) -> Outcome:
    return Outcome(_operation(item), _batch_item_id(item), ResultStatus.OPERATION_FAILED, reason, message)


def _not_run(item: RequestBatchItem | Outcome) -> Outcome:
    return _failed(item, ResultReason.GENERAL_FAILURE, "not run: an earlier item of its batch failed")


def _undecodable(raw: Item, message: str) -> Outcome:
    """An item whose payload is malformed: Invalid Field, with what the codec found."""
    operation_item = raw.find(Tag.OPERATION) if raw.type is ItemType.STRUCTURE else None
    operation = (
        Operation(operation_item.value)
        if operation_item is not None
        and operation_item.type is ItemType.ENUMERATION
        and isinstance(operation_item.value, int)
        else None
    )
    id_item = raw.find(Tag.UNIQUE_BATCH_ITEM_ID) if raw.type is ItemType.STRUCTURE else None
    batch_id = id_item.value if id_item is not None and isinstance(id_item.value, bytes) else None
    reason = ResultReason.INVALID_FIELD if operation is not None else ResultReason.INVALID_MESSAGE
    return Outcome(operation, batch_id, ResultStatus.OPERATION_FAILED, reason, message)


def _undone(outcome: Outcome) -> Outcome:
    """A succeeded item, rolled back: Operation Undone, its payload kept (as in BL-M-2-21)."""
    if outcome.status is ResultStatus.SUCCESS:
        return replace(outcome, status=ResultStatus.OPERATION_UNDONE)
    return outcome


def _created_uid(outcome: Outcome) -> str | None:
    """The object a later item means by this item's index: for a key pair, the private key."""
    for field_name in ("unique_identifier", "private_key_unique_identifier"):
        uid = getattr(outcome.payload, field_name, None)
        if isinstance(uid, str):
            return uid
    return None
