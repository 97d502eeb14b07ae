"""Sign, Signature Verify, MAC, MAC Verify and Hash share one flow, single-part or streamed.

Single-part: the operation's `start` checks the key (`key_use`), chooses and checks
the parameters, spends Usage Limits and has the provider begin; the data is fed and
the result made at once. Streamed (KMIP 2.1 §6.1.24, §6.1.32-33, §6.1.55-56): Init
Indicator opens a stream with what the first part carries; later parts carry the
Correlation Value and data (and may repeat the first part's parameters); Final
Indicator makes the result. Each later part checks the key again (`resume`: a key
revoked mid-stream stops the stream) and spends its bytes of Usage Limits before the
provider sees them. A part's store writes come before its cryptography, so a store
conflict that makes the engine run the message again finds the stream as it was.

What a verification checks against (Signature Data, MAC Data) may come with the
first part, as TC-STREAM-SIGNVFY-1 and TC-STREAM-MAC-1 send it, or with a later one;
given twice it must be the same. Encrypt and Decrypt, whose every part has output,
keep their own first part in `ciphering`; later parts of both go through
`StreamTable.run_part` (checks, then cryptography; a failure ends the stream).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, UniqueId
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.provider import DigestOperation
from pkcs11_kmip_server.crypto.services import CryptoServices
from pkcs11_kmip_server.crypto.signatures import applicable
from pkcs11_kmip_server.crypto.streams import Stream
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_use import spend_usage, usable_key
from pkcs11_kmip_server.store import ObjectRecord

R = TypeVar("R")


class PartRequest(Protocol):
    """What every request of these operations carries (and all but Hash a Unique Identifier)."""

    @property
    def cryptographic_parameters(self) -> CryptographicParameters | None: ...

    @property
    def correlation_value(self) -> bytes | None: ...

    @property
    def init_indicator(self) -> bool | None: ...

    @property
    def final_indicator(self) -> bool | None: ...


@dataclass
class Started:
    """An operation begun: on which key ('' for Hash), live, and what later parts may repeat."""

    uid: str
    operation: DigestOperation
    # The parameters of the first part, as asked and as applied.
    parameters: tuple[CryptographicParameters | None, ...]
    expected: bytes | None = None  # the signature or MAC to verify


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """A part's answer: the result once all data is in, else the stream's Correlation Value."""

    uid: str
    result: R | None = None
    correlation: bytes | None = None


def crypto_services(context: RequestContext) -> CryptoServices:
    if context.crypto is None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "this server has no cryptographic provider")
    return context.crypto


class KeyedRequest(PartRequest, Protocol):
    @property
    def unique_identifier(self) -> UniqueId | None: ...


@dataclass(frozen=True)
class KeyUse:
    """How an operation uses its key: for what, which objects serve, whether it spends Usage Limits."""

    operation: Operation
    usage: CryptographicUsageMask
    object_types: frozenset[ObjectType]
    spends: bool  # Sign and MAC: one use and the data's bytes on the first part, the bytes later


def value(started: Started) -> bytes:
    """The signature, MAC or digest of an operation fed all its data."""
    return started.operation.finish()


def run_with_key(
    context: RequestContext,
    request: KeyedRequest,
    use: KeyUse,
    data: bytes | None,
    begin: Callable[[ObjectRecord, CryptographicParameters], DigestOperation],
    finish: Callable[[Started], R],
    expected: bytes | None = None,
) -> Outcome[R]:
    """`run` for an operation with a key, checked for its use at every part.

    `begin` gets the key and the parameters that apply (the request's, else the key's)
    and has the provider begin.
    """
    size = len(data or b"")
    requested = request.cryptographic_parameters

    def start(expected: bytes | None) -> Started:
        record = usable_key(context, request.unique_identifier, use.usage, use.object_types)
        parameters = applicable(requested, record.attributes.get(Tag.CRYPTOGRAPHIC_PARAMETERS))
        operation = begin(record, parameters)
        if use.spends:
            spend_usage(context, record, size, 1)
        return Started(record.uid, operation, (requested, parameters), expected)

    def resume(stream_uid: str) -> str:
        record = usable_key(context, stream_uid, use.usage, use.object_types)
        if use.spends:
            spend_usage(context, record, size, 0)
        return record.uid

    return run(context, request, use.operation, data, start, resume, finish, expected)


def run(
    context: RequestContext,
    request: PartRequest,
    operation: Operation,
    data: bytes | None,
    start: Callable[[bytes | None], Started],
    resume: Callable[[str], str],
    finish: Callable[[Started], R],
    expected: bytes | None = None,
) -> Outcome[R]:
    """One request: a single part, or a part of a stream.

    `start(expected)` begins the operation for the first part (after its checks and
    Usage Limits); `resume(uid)` checks the key again for a later part and returns its
    uid; `finish` makes the result from the operation fed all its data.
    """
    services = crypto_services(context)
    if request.correlation_value is not None:
        if request.init_indicator:
            raise KmipError(ResultReason.INVALID_FIELD, "Init Indicator opens a stream: no Correlation Value")
        return _next_part(context, services, request, operation, data, resume, finish, expected)
    opens_stream = bool(request.init_indicator) and not request.final_indicator
    if data is None and not opens_stream:
        raise KmipError(ResultReason.MISSING_DATA, "a single-part request needs its Data")
    started = start(expected)
    started.operation.update(data or b"")
    if not opens_stream:
        return Outcome(started.uid, finish(started))
    correlation = services.streams.open(Stream(context.principal, operation, started.uid, started))
    return Outcome(started.uid, correlation=correlation)


def _next_part(
    context: RequestContext,
    services: CryptoServices,
    request: PartRequest,
    operation: Operation,
    data: bytes | None,
    resume: Callable[[str], str],
    finish: Callable[[Started], R],
    expected: bytes | None,
) -> Outcome[R]:
    assert request.correlation_value is not None

    def check(stream: Stream) -> tuple[Started, str]:
        state = stream.state
        if not isinstance(state, Started):
            raise KmipError(ResultReason.INVALID_CORRELATION_VALUE, "the stream is of another operation")
        uid = getattr(request, "unique_identifier", None)
        if uid is not None and context.resolve(uid) != stream.object_uid:
            raise KmipError(ResultReason.INVALID_CORRELATION_VALUE, "the stream is of another key")
        if request.cryptographic_parameters not in (None, *state.parameters):
            raise KmipError(
                ResultReason.INVALID_FIELD, "a stream keeps the Cryptographic Parameters it began with"
            )
        if expected is not None and state.expected not in (None, expected):
            raise KmipError(ResultReason.INVALID_FIELD, "the stream was given another value to verify")
        return state, resume(stream.object_uid)

    def work(stream: Stream, checked: tuple[Started, str]) -> tuple[Outcome[R], bool]:
        state, record_uid = checked
        if expected is not None:
            state.expected = expected
        state.operation.update(data or b"")
        if not request.final_indicator:
            return Outcome(record_uid, correlation=stream.correlation), False
        return Outcome(record_uid, finish(state)), True

    return services.streams.run_part(context.principal, request.correlation_value, operation, check, work)
