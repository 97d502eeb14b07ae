"""Tracing: one line per Cryptoki call (function, arguments, CK_RV, outputs, duration).

Turned on by `trace = true` (stderr) or `trace = "FILE"` at the top of the client
configuration, or by PKCS11_KMIP_TRACE=FILE (which wins: it needs no edit of a shared
configuration, and works before one is found). A line:

    pkcs11-kmip[PID] trace 20:01:02.345678 tid 7: C_Sign(hSession=1, pData=<32 bytes>,
    pSignature=<buffer 4128>) -> CKR_OK {pSignature=<64 bytes>} 0.912 ms

Secrets are never written: a trace must be safe to attach to a bug report. Every byte
string the application passes or gets (PINs, plaintexts, ciphertexts, signatures,
random bytes, wrapped keys, mechanism parameters) shows only its length; in templates
and attribute answers only numbers, flags and CKA_LABEL show their value, so CKA_VALUE,
CKA_PRIVATE_EXPONENT and every other key component appear as lengths. Handles, slot
ids, mechanism types, flags and the CK_*_INFO structures (descriptions of the token,
not data) are shown.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME
from pkcs11_kmip.cryptoki.constants import CKA, CKM
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.log import log
from pkcs11_kmip.cryptoki.wire import (
    ATTRIBUTE_KINDS,
    NATIVE_ULONG,
    Attribute,
    AttributeKind,
    AttributeQuery,
    Mechanism,
    MessageParameter,
    OutData,
    OutRequest,
    Value,
    attribute_kind,
)

ENVIRONMENT_VARIABLE = "PKCS11_KMIP_TRACE"
C_INITIALIZE_ID = BY_NAME["C_Initialize"].id

_ATTRIBUTE_NAMES: dict[int, str] = {
    **{int(a): f"CKA_{a.name}" for a in CKA},
    **{value: name for name, (value, _) in ATTRIBUTE_KINDS.items()},
}
_SHOWN_BYTES = frozenset({int(CKA.LABEL)})
"""Byte-valued attributes whose value is shown: a label names a key, it is not one."""
_LIST_SHOWN = 16
"""Handles, slots or mechanisms listed in full up to this many; then a count."""


class Tracer:
    """Where trace lines go: a file descriptor, written a whole line at a time (O_APPEND,
    so lines of forked children and other processes sharing the file do not mix)."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    def write(self, line: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, f"pkcs11-kmip[{os.getpid()}] trace {line}\n".encode("utf-8", "replace"))


current: Tracer | None = None
"""The active tracer; None when tracing is off (the dispatcher then skips all of this)."""

_notes = threading.local()


def configure(setting: bool | Path = False, environ: Mapping[str, str] | None = None) -> None:
    """Turn tracing on or off: PKCS11_KMIP_TRACE=FILE, else the configuration's `trace`.
    A file that cannot be opened is logged and tracing stays off (the library works on)."""
    global current
    environ = os.environ if environ is None else environ
    named = environ.get(ENVIRONMENT_VARIABLE)
    if named:
        wanted: str | None = named
    else:
        wanted = None if setting is False else "stderr" if setting is True else str(setting)
    if (current.name if current else None) == wanted:
        return
    old, current = current, None
    if old is not None and old.fd != 2:
        with contextlib.suppress(OSError):
            os.close(old.fd)
    if wanted is None:
        return
    if wanted == "stderr":
        current = Tracer(2, wanted)
        return
    try:
        fd = os.open(wanted, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError as error:
        log(f"tracing is off: cannot open {wanted}: {error}")
        return
    current = Tracer(fd, wanted)


def note(inputs: Mapping[str, Value] | None = None, outputs: Mapping[str, Value] | None = None) -> None:
    """The decoded arguments (or outputs) of the call being traced on this thread."""
    if inputs is not None:
        _notes.inputs = inputs
    if outputs is not None:
        _notes.outputs = outputs


def traced(function_id: int, run: Callable[[], int]) -> int:
    """Run one dispatched call and write its trace line (if tracing is, or became, on:
    C_Initialize reads the configuration that may turn it on)."""
    _notes.inputs, _notes.outputs = None, None
    started = time.perf_counter()
    rv = run()
    took = time.perf_counter() - started
    tracer = current
    if tracer is not None:
        tracer.write(line(function_id, _notes.inputs, _notes.outputs, rv, took))
    _notes.inputs, _notes.outputs = None, None
    return rv


def line(
    function_id: int,
    inputs: Mapping[str, Value] | None,
    outputs: Mapping[str, Value] | None,
    rv: int,
    seconds: float,
) -> str:
    """One call, redacted: `time tid N: C_X(args) -> CKR_Y {outputs} D ms`."""
    call = BY_ID.get(function_id)
    name = call.name if call else f"function {function_id}"
    arguments = ", ".join(f"{k}={show(v)}" for k, v in (inputs or {}).items())
    answered = " {" + ", ".join(f"{k}={show(v)}" for k, v in outputs.items()) + "}" if outputs else ""
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")
    return (
        f"{stamp} tid {threading.get_native_id()}: {name}({arguments}) -> {CKRError(rv)}"
        f"{answered} {seconds * 1000:.3f} ms"
    )


def show(value: Value | object) -> str:
    """A value as the trace shows it: numbers and structure, never bytes."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, Mechanism):
        return f"{_mechanism_name(value.type)}({_show_parameter(value.parameter)})"
    if isinstance(value, MessageParameter):
        return f"{_mechanism_name(value.mechanism)}:{_show_parameter(value.value)}"
    if isinstance(value, OutRequest):
        return f"<buffer {value.capacity}>" if value.present else "<length query>"
    if isinstance(value, OutData):
        return _show_out_data(value)
    if isinstance(value, dict):  # a CK_*_INFO structure: a description, shown
        return "{" + ", ".join(f"{k}={_show_info_field(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show_entry(entry) for entry in value) + "]"
    return f"<{type(value).__name__}>"


def _show_parameter(parameter: object) -> str:
    if parameter is None:
        return ""
    if isinstance(parameter, dict):  # a parameter structure: its numbers, its bytes' lengths
        return "{" + ", ".join(f"{k}={show(v)}" for k, v in parameter.items()) + "}"
    return show(parameter)


def _show_out_data(value: OutData) -> str:
    if isinstance(value.data, tuple):
        if len(value.data) <= _LIST_SHOWN:
            return "[" + ", ".join(str(item) for item in value.data) + "]"
        return f"<{len(value.data)} items>"
    if value.data is None:
        return f"<length {value.length}>"
    return f"<{len(value.data)} bytes>"


def _show_info_field(value: object) -> str:
    if isinstance(value, bytes):
        text = value.decode("ascii", "replace").rstrip(" \0")
        return repr(text)
    if isinstance(value, tuple):
        return ".".join(str(part) for part in value)
    return show(value)


def _show_entry(entry: object) -> str:
    if isinstance(entry, AttributeQuery):
        capacity = f"<buffer {entry.capacity}>" if entry.has_buffer else "<length query>"
        return f"{_attribute_name(entry.type)}?{capacity}"
    if isinstance(entry, Attribute):
        return f"{_attribute_name(entry.type)}={_show_attribute_value(entry)}"
    return show(entry)


def _show_attribute_value(attribute: Attribute) -> str:
    value = attribute.value
    if value is None:
        return "<unavailable>" if attribute.length is None else f"<length {attribute.length}>"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show_entry(entry) for entry in value) + "]"
    kind = attribute_kind(attribute.type)
    if kind is AttributeKind.ULONG and len(value) == NATIVE_ULONG:
        number = int.from_bytes(value, sys.byteorder)
        return _mechanism_name(number) if "MECHANISM" in _attribute_name(attribute.type) else str(number)
    if len(value) == 1:  # a CK_BBOOL (no secret has one byte)
        return str(value[0])
    if attribute.type in _SHOWN_BYTES:
        return repr(value.decode("utf-8", "replace"))
    return f"<{len(value)} bytes>"


def _attribute_name(type: int) -> str:
    return _ATTRIBUTE_NAMES.get(type, f"CKA_0x{type:X}")


def _mechanism_name(type: int) -> str:
    try:
        return f"CKM_{CKM(type).name}"
    except ValueError:
        return f"CKM_0x{type:X}"
