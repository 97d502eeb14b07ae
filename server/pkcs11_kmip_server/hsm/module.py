"""A real PKCS#11 module, called with the wire encoding's values (cffi ABI mode).

`Executor.execute(function id, PKCS#11 Input Parameters)` decodes the inputs, builds
the C arguments from the call table's plan, calls the module and encodes what it
wrote: one generic path for every function. It runs inside a worker process
(pkcs11_kmip_server.hsm.worker), one per client context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cffi  # type: ignore[import-untyped]

from pkcs11_kmip.cryptoki import cmem, wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME, CALLS, LAST_V2_FUNCTION, Call
from pkcs11_kmip.cryptoki.cdefs import TYPES, function_lists
from pkcs11_kmip.cryptoki.constants import CKF_OS_LOCKING_OK, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.messages import KINDS, MessageOperations
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeKind,
    AttributeQuery,
    Field,
    Kind,
    Mechanism,
    MessageParameter,
    OutData,
    OutRequest,
    Value,
)

log = logging.getLogger("pkcs11_kmip_server.hsm")

MAX_BUFFER = 16 * 1024 * 1024
"""The largest output buffer allocated for a module (bytes), whatever capacity a client names."""
MAX_QUERY = 4 * MAX_BUFFER
"""The most bytes allocated for the values of one C_GetAttributeValue."""
MAX_HANDLES = 65536
"""The most object handles one C_FindObjects asks a module for."""

_V2_COUNT = BY_NAME[LAST_V2_FUNCTION].id
_INTERFACE_NAME = b"PKCS 11"


def _ffi() -> Any:
    ffi = cffi.FFI()
    ffi.cdef(TYPES)
    ffi.cdef(function_lists([(c.name, c.c_signature) for c in CALLS], _V2_COUNT))
    ffi.cdef(
        "CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR);"
        "CK_RV C_GetInterface(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);"
    )
    return ffi


ffi = _ffi()


class ModuleError(Exception):
    """The module cannot be loaded or has no usable function list."""


class Module:
    """A loaded module and its function list: the 3.0 interface when it has one."""

    def __init__(self, path: str) -> None:
        try:
            self.lib: Any = ffi.dlopen(path)
        except OSError as error:
            raise ModuleError(f"cannot load {path}: {error}") from error
        self.functions, self.version = self._function_list(path)

    def _function_list(self, path: str) -> tuple[Any, tuple[int, int]]:
        try:
            interface = ffi.new("CK_INTERFACE_PTR *")
            name = ffi.new("CK_UTF8CHAR[]", _INTERFACE_NAME)
            if self.lib.C_GetInterface(name, ffi.NULL, interface, 0) == CKR.OK and interface[0] != ffi.NULL:
                functions = ffi.cast("CK_FUNCTION_LIST_3_0 *", interface[0].pFunctionList)
                if functions != ffi.NULL and functions.version.major >= 3:
                    return functions, (3, functions.version.minor)
        except AttributeError:  # a 2.x module: no C_GetInterface
            pass
        try:
            pointer = ffi.new("CK_FUNCTION_LIST_PTR *")
            rv = self.lib.C_GetFunctionList(pointer)
        except AttributeError as error:
            raise ModuleError(f"{path} has no C_GetFunctionList") from error
        if rv != CKR.OK or pointer[0] == ffi.NULL:
            raise ModuleError(f"C_GetFunctionList of {path} failed: 0x{rv:X}")
        # Whatever version it says, a list from C_GetFunctionList is only known to have
        # the 2.40 functions: the 3.0 ones are never looked up in it.
        version = pointer[0].version
        return ffi.cast("CK_FUNCTION_LIST_3_0 *", pointer[0]), (2, min(version.minor, 40))

    def function(self, call_id: int) -> Any | None:
        """The module's function with this id, or None if its function list lacks it."""
        if call_id > _V2_COUNT and self.version < (3, 0):
            return None
        function = getattr(self.functions, BY_ID[call_id].name)
        return None if function == ffi.NULL else function

    def initialize(self) -> int:
        """C_Initialize with OS locking: the worker may call from several threads."""
        args = ffi.new("CK_C_INITIALIZE_ARGS *")
        args.flags = CKF_OS_LOCKING_OK
        return int(self.functions.C_Initialize(args))

    def finalize(self) -> int:
        return int(self.functions.C_Finalize(ffi.NULL))


@dataclass
class Reply:
    """A function's CK_RV and, when the CK_RV carries them, its encoded outputs."""

    rv: int
    output: bytes | None = None


# --- arguments, per wire kind -------------------------------------------------------------


@dataclass
class _Slot:
    """The C arguments of one field and what is needed to read its answer back."""

    args: tuple[Any, ...]
    read: Callable[[int], Value] | None = None


def _clamp(capacity: int) -> int:
    return min(capacity, MAX_BUFFER)


def _out_buffer(field: Field, request: Value, keep: list[Any]) -> _Slot:
    assert isinstance(request, OutRequest)
    element = "CK_BYTE" if field.element == 1 else "CK_ULONG"
    limit = MAX_HANDLES if field.kind is Kind.OUT_HANDLES else MAX_BUFFER // field.element
    capacity = min(request.capacity, limit)
    if field.kind is Kind.OUT_FIXED and request.capacity > MAX_BUFFER:
        raise CKRError(CKR.DEVICE_MEMORY, "more random bytes than one answer may carry")
    buffer = ffi.new(f"{element}[]", max(capacity, 1)) if request.present else ffi.NULL
    keep.append(buffer)

    def data(length: int) -> bytes | tuple[int, ...]:
        if field.element == 1:
            return bytes(ffi.buffer(buffer, length))
        return tuple(int(x) for x in buffer[0:length])

    if field.kind is Kind.OUT_FIXED:
        return _Slot(
            (buffer, capacity), lambda rv: OutData(capacity, data(capacity) if rv == CKR.OK else None)
        )
    length = ffi.new("CK_ULONG *", capacity)
    keep.append(length)
    args = (buffer, capacity, length) if field.kind is Kind.OUT_HANDLES else (buffer, length)

    def read(rv: int) -> OutData:
        written = int(length[0])
        if request.present and rv == CKR.OK and written <= capacity:
            return OutData(written, data(written))
        return OutData(written)

    return _Slot(args, read)


def _query(request: Value, keep: list[Any]) -> _Slot:
    assert isinstance(request, tuple)
    entries = ffi.new("CK_ATTRIBUTE[]", max(len(request), 1))
    keep.append(entries)
    capacities = []
    total = 0
    for entry, query in zip(entries, request, strict=False):
        assert isinstance(query, AttributeQuery)
        entry.type = query.type
        # A template-valued attribute's value holds pointers: only its length is asked.
        readable = query.has_buffer and wire.attribute_kind(query.type) is not AttributeKind.TEMPLATE
        capacity = _clamp(query.capacity) if readable else 0
        total += capacity
        if total > MAX_QUERY:
            raise CKRError(CKR.DEVICE_MEMORY, "attribute buffers beyond what one call may allocate")
        entry.pValue = cmem.new_bytes(ffi, bytes(capacity), keep) if readable else ffi.NULL
        entry.ulValueLen = capacity if readable else query.capacity
        capacities.append((readable, capacity))

    def read(rv: int) -> tuple[Attribute, ...]:
        results = []
        for entry, query, (readable, capacity) in zip(entries, request, capacities, strict=False):
            assert isinstance(query, AttributeQuery)
            length = int(entry.ulValueLen)
            if length == wire.UNAVAILABLE:
                results.append(Attribute(query.type, None, None))
            elif readable and length <= capacity:
                results.append(Attribute.of(query.type, cmem.read_bytes(ffi, entry.pValue, length)))
            elif query.has_buffer and not readable:
                results.append(Attribute(query.type, None, None))  # see docs/wire-format.md
            else:
                results.append(Attribute(query.type, None, length))
        return tuple(results)

    return _Slot((entries, len(request)), read)


def _arguments(field: Field, value: Value, keep: list[Any]) -> _Slot:
    kind = field.kind
    if kind in (Kind.ULONG, Kind.BBOOL):
        return _Slot((value,))
    if kind is Kind.DATA:
        assert value is None or isinstance(value, bytes)
        return _Slot((ffi.NULL, 0) if value is None else (cmem.new_bytes(ffi, value, keep), len(value)))
    if kind is Kind.LABEL:
        assert isinstance(value, bytes)
        return _Slot((cmem.new_bytes(ffi, value, keep),))
    if kind is Kind.TEMPLATE:
        assert isinstance(value, tuple)
        return _Slot(cmem.build_template(ffi, value, keep))  # type: ignore[arg-type]
    if kind is Kind.MECHANISM:
        assert isinstance(value, Mechanism)
        return _Slot((cmem.build_mechanism(ffi, value, keep),))
    if kind is Kind.QUERY:
        return _query(value, keep)
    if kind in wire.MESSAGE_KINDS:
        return _message(field, value, keep)
    if kind is Kind.OUT_DATA_OPTIONAL and value is None:
        return _Slot((ffi.NULL, ffi.NULL), lambda rv: None)  # no output asked (NULL length pointer)
    return _out_buffer(field, value, keep)


def _message(field: Field, value: Value, keep: list[Any]) -> _Slot:
    """A message-based function's pParameter, built from its mechanism's structure; for
    an encryption the buffers are read back after the call (a generated IV, the tag)."""
    assert value is None or isinstance(value, MessageParameter)
    pointer, length, struct = cmem.build_message(ffi, value, keep)
    if field.kind is not Kind.MESSAGE_OUT or value is None:
        return _Slot((pointer, length), lambda rv: None)
    mechanism = value.mechanism
    return _Slot((pointer, length), lambda rv: cmem.message_buffers(ffi, mechanism, struct))


def _output(field: Field, keep: list[Any]) -> _Slot:
    """An output-only field: a CK_ULONG or a structure for the module to fill."""
    if field.kind is Kind.OUT_STRUCT:
        struct = ffi.new(f"{field.struct} *")
        keep.append(struct)
        return _Slot((struct,), lambda rv: cmem.read_struct(ffi, struct, field.struct))
    word = ffi.new("CK_ULONG *")
    keep.append(word)
    return _Slot((word,), lambda rv: int(word[0]))


class Executor:
    """Runs forwarded calls on one module, for one client context."""

    def __init__(self, module: Module) -> None:
        self.module = module
        # The message operations the module began, per session: a message parameter is
        # built only as the structure of the mechanism the module's operation has.
        self.messages = MessageOperations()

    def execute(self, function_id: int, data: bytes) -> Reply:
        """Decode, call, encode. A wire.WireError escapes (the caller's PKCS#11 Codec Error)."""
        call = BY_ID[function_id]
        plan = wire.plan(call)
        inputs = wire.decode_inputs(call, data)
        function = self.module.function(function_id)
        if function is None:
            return Reply(CKR.FUNCTION_NOT_SUPPORTED)
        reply = self._call(call, plan, inputs, function)
        self.messages.learn(call, inputs, reply.rv)
        return reply

    def _call(self, call: Call, plan: wire.Plan, inputs: dict[str, Value], function: Any) -> Reply:
        keep: list[Any] = []
        try:
            self._check_message(call, inputs)
            slots = {}
            for field in plan.fields:
                if field.kind in (Kind.LOCAL, Kind.ENCODING_VERSION):
                    slots[field.name] = _Slot(tuple(ffi.NULL for _ in field.params))
                elif field.kind in (Kind.OUT_ULONG, Kind.OUT_STRUCT):
                    slots[field.name] = _output(field, keep)
                else:
                    slots[field.name] = _arguments(field, inputs[field.name], keep)
        except CKRError as error:
            return Reply(error.rv)
        rv = int(function(*(arg for slot in slots.values() for arg in slot.args)))
        rv = self._too_small_for_us(plan.outputs, inputs, slots, rv)
        if not wire.carries_outputs(call, rv):
            return Reply(rv)
        outputs = {}
        for field in plan.outputs:
            read = slots[field.name].read
            assert read is not None
            outputs[field.name] = read(rv)
        return Reply(rv, wire.encode_outputs(call, outputs))

    def _check_message(self, call: Call, inputs: dict[str, Value]) -> None:
        """A message parameter names the mechanism of the session's operation (as the
        module began it), or the module would read the structure as another one."""
        parameter = inputs.get("pParameter")
        if call.name not in KINDS or not isinstance(parameter, MessageParameter):
            return
        session = inputs["hSession"]
        assert isinstance(session, int)
        began = self.messages.mechanism(session, KINDS[call.name])
        if began is None or parameter.mechanism == wire.NO_OPERATION:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
        if began != parameter.mechanism:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "a message parameter of another mechanism")

    @staticmethod
    def _too_small_for_us(
        fields: tuple[Field, ...], inputs: dict[str, Value], slots: dict[str, _Slot], rv: int
    ) -> int:
        """CKR_BUFFER_TOO_SMALL because we allocated less than the client has: device memory."""
        if rv != CKR.BUFFER_TOO_SMALL:
            return rv
        for field in fields:
            request = inputs.get(field.name)
            read = slots[field.name].read
            if isinstance(request, OutRequest) and request.capacity > MAX_BUFFER and read is not None:
                answer = read(rv)
                if isinstance(answer, OutData) and answer.length <= request.capacity:
                    return CKR.DEVICE_MEMORY
        return rv
