"""The cffi edge of the provider: raw C arguments in, CK_RV out.

The C shim forwards every Cryptoki call it does not answer itself to the single
cffi entry point `pkcs11_kmip_dispatch(function_id, args, nargs)`, `args` being
the call's arguments as uintptr_t. This module is imported by the embedding init
code of libpkcs11_kmip_python.so (csrc/build_embed.py); `install` binds the entry
point. Only this module touches C memory; decisions live in `module.Library`.
"""

from __future__ import annotations

import functools
import os
import secrets
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pkcs11_kmip.cryptoki import cmem, messages, tracing, wire
from pkcs11_kmip.cryptoki.calls import BY_ID, Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.log import log
from pkcs11_kmip.cryptoki.module import InitArgs, Library, default_info
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeQuery,
    Field,
    Kind,
    MessageParameter,
    OutData,
    OutRequest,
    Value,
)

if TYPE_CHECKING:
    from pkcs11_kmip.cryptoki.remote import Transport

ENTRY_POINT = "pkcs11_kmip_dispatch"


class FFI(Protocol):
    """The part of a cffi FFI object this module uses (cffi ships no type hints)."""

    NULL: Any

    def cast(self, ctype: str, value: Any) -> Any: ...

    def memmove(self, dest: Any, src: Any, n: int) -> None: ...

    def def_extern(
        self, name: str = ..., error: Any = ..., onerror: Any = ...
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


Handler = Callable[[list[int]], None]


def describe_failure(exc: BaseException, tb: TracebackType | None) -> str:
    """Exception type and where it was raised: no message, which could carry data."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


class Dispatcher:
    """Route a call id to its handler; convert raw pointers; map failures to a CK_RV.

    C_Initialize and C_Finalize are handled here (they are local and forwarded);
    every other function goes through one generic path driven by its wire plan:
    read the arguments (NULL checks), forward, check that every answer fits the
    caller's buffers, and only then write them.
    """

    def __init__(self, ffi: FFI, library: Library) -> None:
        self.ffi = ffi
        self.library = library

    def dispatch(self, function_id: int, args: Any, nargs: int) -> int:
        if tracing.current is not None or function_id == tracing.C_INITIALIZE_ID:
            return tracing.traced(function_id, lambda: self._dispatch(function_id, args, nargs))
        return self._dispatch(function_id, args, nargs)

    def _dispatch(self, function_id: int, args: Any, nargs: int) -> int:
        call = BY_ID.get(function_id)
        try:
            if call is None or call.local or nargs != len(call.params):
                log(f"dispatch called with function id {function_id} and {nargs} arguments")
                return CKR.GENERAL_ERROR
            raw = [int(args[i]) for i in range(nargs)]
            if call.name == "C_Initialize":
                self._initialize(raw)
            elif call.name == "C_Finalize":
                self._finalize(raw)
            else:
                self._forward(call, raw)
        except CKRError as error:
            return error.rv
        except Exception as error:
            report_unexpected(call, error, error.__traceback__)
            return CKR.GENERAL_ERROR
        return CKR.OK

    def _initialize(self, raw: list[int]) -> None:
        (p_init_args,) = raw
        args = self._read_init_args(p_init_args) if p_init_args else None
        tracing.note(inputs={"flags": args.flags} if args else {"pInitArgs": None})
        self.library.initialize(args)

    def _finalize(self, raw: list[int]) -> None:
        (p_reserved,) = raw
        self.library.finalize(reserved=p_reserved != 0)

    def _forward(self, call: Call, raw: list[int]) -> None:
        self.library.require_initialized()
        steps = _steps(call.id)
        if steps is None:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED)
        reads, writers = steps
        inputs: dict[str, Value] = {}
        for field, reader in reads:
            args = [raw[i] for i in field.params]
            if field.kind in wire.MESSAGE_KINDS:
                inputs[field.name] = self._read_message(call, field, raw[0], args)
            elif reader is not None:
                inputs[field.name] = reader(self, field, args)
            elif not args[0]:  # an output-only pointer (a handle, a structure)
                raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
        if tracing.current is not None:
            tracing.note(inputs=inputs)
        rv, outputs = self.library.call(call, inputs)
        if outputs is not None and tracing.current is not None:
            tracing.note(outputs=outputs)
        if outputs is not None:
            writes = [
                self._write_message(call, inputs, [raw[i] for i in field.params], outputs[field.name], rv)
                if field.kind is Kind.MESSAGE_OUT
                else writer(
                    self,
                    field,
                    [raw[i] for i in field.params],
                    inputs.get(field.name),
                    outputs[field.name],
                    rv,
                )
                for field, writer in writers
            ]
            for write in writes:  # all checked: nothing is written unless everything fits
                write()
        if rv != CKR.OK:
            raise CKRError(rv)

    # -- reading the caller's arguments ----------------------------------------------------

    def _read_ulong(self, field: Field, args: list[int]) -> Value:
        return args[0]

    def _read_bbool(self, field: Field, args: list[int]) -> Value:
        return args[0] & 0xFF

    def _read_version(self, field: Field, args: list[int]) -> Value:
        return wire.ENCODING_VERSION

    def _read_data(self, field: Field, args: list[int]) -> Value:
        pointer, length = args
        if not pointer:
            if length:
                raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
            return None
        if length > wire.MAX_LENGTH:
            raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is too long")
        return cmem.read_bytes(self.ffi, pointer, length)

    def _read_label(self, field: Field, args: list[int]) -> Value:
        if not args[0]:
            raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
        return cmem.read_bytes(self.ffi, args[0], 32)

    def _read_template(self, field: Field, args: list[int]) -> Value:
        return cmem.read_template(self.ffi, args[0], args[1])

    def _read_query(self, field: Field, args: list[int]) -> Value:
        pointer, count = args
        if not pointer:
            raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
        entries = self.ffi.cast("CK_ATTRIBUTE *", pointer)
        return tuple(
            AttributeQuery(int(e.type), not cmem.is_null(self.ffi, e.pValue), int(e.ulValueLen))
            for e in (entries[i] for i in range(count))
        )

    def _read_mechanism(self, field: Field, args: list[int]) -> Value:
        if not args[0]:
            raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
        return cmem.read_mechanism(self.ffi, args[0])

    def _read_request(self, field: Field, args: list[int]) -> Value:
        """An output buffer: is it there, and how big (the length convention's inputs)."""
        if field.kind in (Kind.OUT_DATA, Kind.OUT_LIST, Kind.OUT_DATA_OPTIONAL):
            pointer, p_length = args
            if not p_length:
                raise CKRError(CKR.ARGUMENTS_BAD, f"the length of {field.name} is NULL")
            return OutRequest(pointer != 0, int(self.ffi.cast("CK_ULONG *", p_length)[0]))
        if not args[0] or (field.kind is Kind.OUT_HANDLES and not args[2]):
            raise CKRError(CKR.ARGUMENTS_BAD, f"{field.name} is NULL")
        return OutRequest(True, args[1])

    def _read_message(self, call: Call, field: Field, session: int, args: list[int]) -> Value:
        """pParameter of a message-based function, laid out by the mechanism its session's
        C_Message*Init gave (raw bytes when no such operation is known: the server answers)."""
        pointer, length = args
        mechanism = self.library.message_mechanism(session, messages.KINDS[call.name])
        return cmem.read_message(
            self.ffi,
            wire.NO_OPERATION if mechanism is None else mechanism,
            pointer,
            length,
            output=field.kind is Kind.MESSAGE_OUT,
        )

    def _read_optional_request(self, field: Field, args: list[int]) -> Value:
        """An output whose length pointer may be NULL (C_SignMessageNext): None, none asked."""
        return None if not args[1] else self._read_request(field, args)

    _READERS: ClassVar[dict[Kind, Callable[[Dispatcher, Field, list[int]], Value]]] = {
        Kind.ENCODING_VERSION: _read_version,
        Kind.ULONG: _read_ulong,
        Kind.BBOOL: _read_bbool,
        Kind.DATA: _read_data,
        Kind.LABEL: _read_label,
        Kind.TEMPLATE: _read_template,
        Kind.QUERY: _read_query,
        Kind.MECHANISM: _read_mechanism,
        Kind.OUT_DATA_OPTIONAL: _read_optional_request,
        **dict.fromkeys(wire.OUT_BUFFERS, _read_request),
    }

    # -- checking, then writing, the answers -----------------------------------------------

    def _write_buffer(self, field: Field, args: list[int], request: Value, answer: Value, rv: int) -> Write:
        assert isinstance(request, OutRequest)
        if not isinstance(answer, OutData):
            raise _malformed(field)
        data = answer.data
        if data is not None and (not request.present or answer.length > request.capacity):
            raise _malformed(field)  # never past the caller's buffer, whatever the server says
        if field.kind is Kind.OUT_FIXED and rv == CKR.OK and answer.length != request.capacity:
            raise _malformed(field)
        if rv == CKR.OK and request.present and data is None:
            raise _malformed(field)
        ffi = self.ffi

        def write() -> None:
            if isinstance(data, bytes):
                ffi.memmove(ffi.cast("CK_BYTE *", args[0]), data, len(data))
            elif data is not None:
                ffi.cast("CK_ULONG *", args[0])[0 : len(data)] = list(data)
            if field.kind is Kind.OUT_HANDLES:
                ffi.cast("CK_ULONG *", args[2])[0] = answer.length
            elif field.kind is not Kind.OUT_FIXED:
                ffi.cast("CK_ULONG *", args[1])[0] = answer.length

        return write

    def _write_ulong(self, field: Field, args: list[int], request: Value, answer: Value, rv: int) -> Write:
        if not isinstance(answer, int):
            raise _malformed(field)
        ffi = self.ffi

        def write() -> None:
            if rv == CKR.OK:
                ffi.cast("CK_ULONG *", args[0])[0] = answer

        return write

    def _write_struct(self, field: Field, args: list[int], request: Value, answer: Value, rv: int) -> Write:
        if not isinstance(answer, dict):
            raise _malformed(field)
        ffi = self.ffi

        def write() -> None:
            if rv == CKR.OK:
                cmem.fill_struct(ffi, ffi.cast(f"{field.struct} *", args[0]), field.struct, answer, [])

        return write

    def _write_results(self, field: Field, args: list[int], request: Value, answer: Value, rv: int) -> Write:
        """C_GetAttributeValue: each value copied only into a buffer the caller gave and that holds it."""
        assert isinstance(request, tuple)
        if not isinstance(answer, tuple) or len(answer) != len(request):
            raise _malformed(field)
        for asked, got in zip(request, answer, strict=True):
            assert isinstance(asked, AttributeQuery)
            if not isinstance(got, Attribute) or got.type != asked.type or isinstance(got.value, tuple):
                raise _malformed(field)
            if got.value is not None and (not asked.has_buffer or len(got.value) > asked.capacity):
                raise _malformed(field)
        ffi = self.ffi

        def write() -> None:
            entries = ffi.cast("CK_ATTRIBUTE *", args[0])
            for i, got in enumerate(answer):
                assert isinstance(got, Attribute)
                if isinstance(got.value, bytes):
                    ffi.memmove(ffi.cast("CK_BYTE *", entries[i].pValue), got.value, len(got.value))
                entries[i].ulValueLen = wire.UNAVAILABLE if got.length is None else got.length

        return write

    def _write_message(
        self, call: Call, inputs: dict[str, Value], args: list[int], answer: Value, rv: int
    ) -> Write:
        """C_EncryptMessage*: a generated IV and the tag, into the caller's buffers, each
        exactly as long as the buffer the caller's structure describes."""
        request = inputs.get("pParameter")
        if not isinstance(request, MessageParameter) or not isinstance(request.value, dict):
            return lambda: None  # no structure: nothing to write back
        members = messages.written_back(call, inputs, rv, request.value)
        if not members:
            return lambda: None
        if not isinstance(answer, MessageParameter) or not isinstance(answer.value, dict):
            raise _malformed_message(call)
        layout = wire.message_layout(request.mechanism)
        copies = []
        for member in members:
            given, got = request.value.get(member), answer.value.get(member)
            if given is None:
                continue  # a NULL buffer (the module accepted it): nothing to fill
            if not isinstance(given, bytes) or not isinstance(got, bytes) or len(got) != len(given):
                raise _malformed_message(call)
            copies.append((member, got))
        ffi = self.ffi

        def write() -> None:
            structure = ffi.cast(f"{layout} *", args[0])
            for member, data in copies:
                cmem.write_buffer(ffi, getattr(structure, member), data)

        return write

    def _write_optional_buffer(
        self, field: Field, args: list[int], request: Value, answer: Value, rv: int
    ) -> Write:
        if request is None:  # none asked: none may come back
            if answer is not None:
                raise _malformed(field)
            return lambda: None
        return self._write_buffer(field, args, request, answer, rv)

    _WRITERS: ClassVar[dict[Kind, Callable[[Dispatcher, Field, list[int], Value, Value, int], Write]]] = {
        Kind.OUT_ULONG: _write_ulong,
        Kind.OUT_STRUCT: _write_struct,
        Kind.QUERY: _write_results,
        Kind.OUT_DATA_OPTIONAL: _write_optional_buffer,
        **dict.fromkeys(wire.OUT_BUFFERS, _write_buffer),
    }

    # -- pointer readers ------------------------------------------------------------------

    def _is_set(self, pointer: Any) -> bool:
        return int(self.ffi.cast("uintptr_t", pointer)) != 0

    def _read_init_args(self, address: int) -> InitArgs:
        args = self.ffi.cast("CK_C_INITIALIZE_ARGS *", address)
        return InitArgs(
            create_mutex=self._is_set(args.CreateMutex),
            destroy_mutex=self._is_set(args.DestroyMutex),
            lock_mutex=self._is_set(args.LockMutex),
            unlock_mutex=self._is_set(args.UnlockMutex),
            flags=int(args.flags),
            reserved=self._is_set(args.pReserved),
        )


Write = Callable[[], None]
Reader = Callable[[Dispatcher, Field, list[int]], Value]
Writer = Callable[[Dispatcher, Field, list[int], Value, Value, int], Write]


@functools.cache
def _steps(
    call_id: int,
) -> tuple[tuple[tuple[Field, Reader | None], ...], tuple[tuple[Field, Writer], ...]] | None:
    """A function's readers and writers, found once (None: it has no wire layout).

    A field without a reader is listed only if it is an output-only pointer, which
    must not be NULL."""
    plan = wire.plan(call_id)
    if not plan.supported:
        return None
    reads = tuple(
        (field, Dispatcher._READERS.get(field.kind))
        for field in plan.fields
        if field.kind in Dispatcher._READERS
        or field.kind in (Kind.OUT_ULONG, Kind.OUT_STRUCT)
        or field.kind in wire.MESSAGE_KINDS
    )
    writes = tuple(
        (field, Dispatcher._WRITERS.get(field.kind, _no_writer)) for field in plan.outputs
    )  # (MESSAGE_OUT: Dispatcher._write_message, which needs the whole call)
    return reads, writes


def _no_writer(*args: object) -> Write:
    raise AssertionError("written by Dispatcher._write_message")


def _malformed_message(call: Call) -> CKRError:
    log(f"CKR_DEVICE_ERROR: the server's answer for the message parameter of {call.name} does not fit")
    return CKRError(CKR.DEVICE_ERROR)


def _malformed(field: Field) -> CKRError:
    """An answer that does not fit what the caller gave: the server is wrong, nothing is written."""
    log(f"CKR_DEVICE_ERROR: the server's answer for {field.name} does not fit the caller's arguments")
    return CKRError(CKR.DEVICE_ERROR)


def report_unexpected(call: Call | None, error: BaseException, tb: TracebackType | None) -> str:
    """Log an unexpected failure with a reference id an operator can grep for; return it."""
    reference = secrets.token_hex(4)
    name = call.name if call is not None else "dispatch"
    log(f"CKR_GENERAL_ERROR from {name} [ref {reference}]: {describe_failure(error, tb)}")
    return reference


def on_callback_error(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """cffi's `onerror`: the last net for anything escaping the dispatcher (rv stays
    CKR_GENERAL_ERROR, cffi's `error` value; cffi's default would be 0 = CKR_OK)."""
    report_unexpected(None, exc, tb)


def connect_from_config() -> Transport | None:
    """The configured server; None without a configuration (then no slots, and no log line:
    hosts such as p11-kit load every module they know, configured or not)."""
    from pkcs11_kmip.cryptoki import config
    from pkcs11_kmip.cryptoki.remote import Remote

    try:
        found = config.find()
    except config.ConfigError as error:
        log(f"C_Initialize: CKR_GENERAL_ERROR: {error}")
        raise CKRError(CKR.GENERAL_ERROR) from error
    tracing.configure(found.trace if found is not None else False)
    return None if found is None else Remote(found)


_installed: Dispatcher | None = None


def install(ffi: FFI, package_version: str | None = None) -> Dispatcher:
    """Bind the C entry point to a process-wide Dispatcher (called once, by the init code)."""
    global _installed
    if package_version is None:
        from pkcs11_kmip import __version__

        package_version = __version__
    dispatcher = Dispatcher(ffi, Library(default_info(package_version), connect=connect_from_config))

    @ffi.def_extern(name=ENTRY_POINT, error=int(CKR.GENERAL_ERROR), onerror=on_callback_error)
    def _entry(function_id: int, args: Any, nargs: int) -> int:
        return dispatcher.dispatch(function_id, args, nargs)

    os.register_at_fork(after_in_child=dispatcher.library.after_fork_in_child)
    tracing.configure()  # PKCS11_KMIP_TRACE: from the first call on
    _installed = dispatcher
    return dispatcher


def installed() -> Dispatcher | None:
    """The dispatcher bound to the C entry point in this process, if any (for tests)."""
    return _installed
