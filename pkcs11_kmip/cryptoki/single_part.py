"""Length queries of single-part output functions, answered with one round trip less.

An application signs with C_SignInit, C_Sign(NULL) to learn the length, then C_Sign
with a buffer: three round trips to the server. Here the length query is forwarded
as the real call with a buffer big enough, the output is kept for the session, the
length answered, and the following call with a buffer gets the kept output without
the server. The rules that keep this invisible to the application (docs/
pkcs11-forwarding.md, "Local answers"):

- Only the call that follows with the same arguments (a buffer this time) is served
  from the kept output, with the usual CKR_BUFFER_TOO_SMALL rule (the output stays
  kept until it fits).
- Any other call on that session first puts the module back where the application
  believes it is: the operation's Init is sent again with the same arguments, the
  kept output dropped, then the call is forwarded. The module then answers a new
  Init with CKR_OPERATION_ACTIVE, a C_Sign with other data with that data's signature,
  exactly as if the length query had not run the operation.
- When the real call fails, the module is put back the same way and the length query
  itself is forwarded: an error is answered by the call that would have met it.
- A buffer too small for the output the real call would make: the module said
  CKR_BUFFER_TOO_SMALL and the operation stays active (Cryptoki), so the needed
  length is the answer and nothing is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pkcs11_kmip.cryptoki.calls import BY_NAME, Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import Kind, OutData, OutRequest, Value, plan

Answer = tuple[int, dict[str, Value] | None]
Forward = Callable[[Call, Mapping[str, Value]], Answer]

# Single-part functions with an output buffer, and the Init that starts their operation.
SINGLE_PART: dict[str, str | None] = {
    "C_Encrypt": "C_EncryptInit",
    "C_Decrypt": "C_DecryptInit",
    "C_Digest": "C_DigestInit",
    "C_Sign": "C_SignInit",
    "C_SignRecover": "C_SignRecoverInit",
    "C_VerifyRecover": "C_VerifyRecoverInit",
    "C_WrapKey": None,  # no operation: nothing to put back
}
_INITS = frozenset(init for init in SINGLE_PART.values() if init is not None)

SPARE = 4096
"""Bytes beyond the input's length offered to the real call (a signature, a tag, padding)."""
LIMIT = 16 * 1024 * 1024
"""The most the server allocates for one buffer."""


def _output_field(name: str) -> str:
    (field,) = (f.name for f in plan(name).fields if f.kind is Kind.OUT_DATA)
    return field


_OUTPUT = {name: _output_field(name) for name in SINGLE_PART}


@dataclass(frozen=True)
class _Kept:
    call: str
    arguments: dict[str, Value]  # the inputs but the output buffer
    output: bytes


class SingleParts:
    """Per application context: the last Init of each kind per session, and kept outputs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inits: dict[tuple[int, str], Mapping[str, Value]] = {}
        self._kept: dict[int, _Kept] = {}

    def call(self, call: Call, inputs: Mapping[str, Value], forward: Forward) -> Answer:
        """The answer to `call`, forwarding through `forward` what must be forwarded."""
        name = call.name
        session = inputs.get("hSession")
        if not isinstance(session, int):
            if name == "C_CloseAllSessions":
                self.forget_all()
            return forward(call, inputs)
        kept = self._kept.get(session)
        if name == "C_CloseSession":
            self._forget(session)  # the operation ends with the session: nothing to put back
        elif kept is not None:
            served = self._serve(kept, name, inputs)
            if served is not None:
                return served
            self._restore(session, kept, forward)
        if name in SINGLE_PART:
            request = inputs[_OUTPUT[name]]
            if isinstance(request, OutRequest) and not request.present:
                return self._length_query(session, call, inputs, forward)
        rv, outputs = forward(call, inputs)
        if name in _INITS and rv == CKR.OK:
            with self._lock:
                self._inits[(session, name)] = dict(inputs)
        return rv, outputs

    def forget_all(self) -> None:
        with self._lock:
            self._inits.clear()
            self._kept.clear()

    def _forget(self, session: int) -> None:
        with self._lock:
            self._kept.pop(session, None)
            for key in [key for key in self._inits if key[0] == session]:
                del self._inits[key]

    def _serve(self, kept: _Kept, name: str, inputs: Mapping[str, Value]) -> Answer | None:
        """The kept output, if this is the call that follows the length query."""
        field = _OUTPUT.get(name)
        if name != kept.call or field is None:
            return None
        request = inputs[field]
        if not isinstance(request, OutRequest) or _arguments(inputs, field) != kept.arguments:
            return None
        length = len(kept.output)
        if not request.present:
            return CKR.OK, {field: OutData(length)}
        if request.capacity < length:
            return CKR.BUFFER_TOO_SMALL, {field: OutData(length)}
        session = inputs["hSession"]
        assert isinstance(session, int)
        self._kept.pop(session, None)
        return CKR.OK, {field: OutData(length, kept.output)}

    def _restore(self, session: int, kept: _Kept, forward: Forward) -> None:
        """Drop the kept output and start its operation again on the module, where the
        application believes it still is (its result is that of the call that follows)."""
        self._kept.pop(session, None)
        self._start_again(session, kept.call, forward)

    def _start_again(self, session: int, name: str, forward: Forward) -> None:
        """Send the last Init of `name`'s operation on this session again, as it was."""
        init = SINGLE_PART[name]
        arguments = self._inits.get((session, init)) if init is not None else None
        if init is not None and arguments is not None:
            forward(BY_NAME[init], arguments)

    def _length_query(
        self, session: int, call: Call, inputs: Mapping[str, Value], forward: Forward
    ) -> Answer:
        field = _OUTPUT[call.name]
        data = next((v for k, v in inputs.items() if k != field and isinstance(v, bytes)), b"")
        capacity = min(len(data) + SPARE, LIMIT)
        rv, outputs = forward(call, {**inputs, field: OutRequest(True, capacity)})
        answer = outputs.get(field) if outputs is not None else None
        if rv == CKR.OK and isinstance(answer, OutData) and isinstance(answer.data, bytes):
            self._kept[session] = _Kept(call.name, _arguments(inputs, field), answer.data)
            return CKR.OK, {field: OutData(answer.length)}
        if rv == CKR.BUFFER_TOO_SMALL and isinstance(answer, OutData):
            return CKR.OK, {field: OutData(answer.length)}  # the operation is still active
        self._start_again(session, call.name, forward)
        return forward(call, inputs)


def _arguments(inputs: Mapping[str, Value], field: str) -> dict[str, Value]:
    return {key: value for key, value in inputs.items() if key != field}
