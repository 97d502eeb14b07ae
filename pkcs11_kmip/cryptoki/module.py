"""The library's Cryptoki state machine, on plain values (no pointers, no cffi).

The C shim and pkcs11_kmip.cryptoki.embed turn raw arguments into these values;
this module decides the answer. It is what the unit tests drive directly.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pkcs11_kmip.cryptoki import empty, wire
from pkcs11_kmip.cryptoki.calls import Call
from pkcs11_kmip.cryptoki.constants import CKR, CRYPTOKI_VERSION
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.local import LocalAnswers
from pkcs11_kmip.cryptoki.log import log
from pkcs11_kmip.cryptoki.sessions import Session, SessionHandles
from pkcs11_kmip.cryptoki.wire import StructValue, Value, ulong

if TYPE_CHECKING:
    from pkcs11_kmip.cryptoki.remote import Transport

MANUFACTURER_ID = "pkcs11-kmip"
LIBRARY_DESCRIPTION = "PKCS#11 over KMIP 2.0"


@dataclass(frozen=True)
class InitArgs:
    """What C_Initialize's CK_C_INITIALIZE_ARGS said (which pointers were set, flags)."""

    create_mutex: bool
    destroy_mutex: bool
    lock_mutex: bool
    unlock_mutex: bool
    flags: int
    reserved: bool


@dataclass(frozen=True)
class Info:
    """CK_INFO as values; strings are padded to their fixed size by `pad`."""

    cryptoki_version: tuple[int, int]
    manufacturer_id: str
    flags: int
    library_description: str
    library_version: tuple[int, int]

    def as_struct(self) -> StructValue:
        """CK_INFO as the wire encoding's structure value."""
        return {
            "cryptokiVersion": self.cryptoki_version,
            "manufacturerID": pad(self.manufacturer_id, 32),
            "flags": self.flags,
            "libraryDescription": pad(self.library_description, 32),
            "libraryVersion": self.library_version,
        }


def pad(text: str, size: int) -> bytes:
    """A Cryptoki fixed-size text field: UTF-8, blank padded, cut on a character boundary."""
    data = text.encode("utf-8")
    while len(data) > size:
        text = text[:-1]
        data = text.encode("utf-8")
    return data.ljust(size, b" ")


def version_pair(version: str) -> tuple[int, int]:
    """CK_VERSION (major, minor) of a package version string such as "1.2.3.dev0"."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:2]]
    numbers += [0] * (2 - len(numbers))
    return (min(numbers[0], 255), min(numbers[1], 255))


def default_info(package_version: str) -> Info:
    """This library's CK_INFO: library version taken from the installed package."""
    return Info(
        cryptoki_version=CRYPTOKI_VERSION,
        manufacturer_id=MANUFACTURER_ID,
        flags=0,
        library_description=LIBRARY_DESCRIPTION,
        library_version=version_pair(package_version),
    )


class Library:
    """Initialized/finalized state of one process's use of the library, and its calls.

    The state belongs to the process that called C_Initialize: after fork() the
    child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself,
    as PKCS#11 asks, so a child never reuses its parent's server context.

    `connect` gives the server to forward to (a Transport), or None when no server
    is configured: the library then answers as a service with no slots.
    """

    def __init__(
        self,
        info: Info,
        getpid: Callable[[], int] = os.getpid,
        connect: Callable[[], Transport | None] | None = None,
    ) -> None:
        self._info = info
        self._getpid = getpid
        self._connect = connect or (lambda: None)
        self._lock = threading.Lock()
        self._owner_pid: int | None = None
        self._transport: Transport | None = None
        self._local: LocalAnswers | None = None  # per C_Initialize, and per server context
        self._local_contexts = 0
        self._sessions = SessionHandles()  # the application's handles: sessions.py

    @property
    def initialized(self) -> bool:
        return self._owner_pid is not None and self._owner_pid == self._getpid()

    def after_fork_in_child(self) -> None:
        """Drop a lock that another (now gone) thread of the parent may have held."""
        self._lock = threading.Lock()
        self._sessions.after_fork_in_child()

    def initialize(self, args: InitArgs | None) -> None:
        if args is not None:
            callbacks = (args.create_mutex, args.destroy_mutex, args.lock_mutex, args.unlock_mutex)
            if any(callbacks) and not all(callbacks):
                raise CKRError(CKR.ARGUMENTS_BAD, "mutex callbacks must be all set or all NULL")
            if args.reserved:
                raise CKRError(CKR.ARGUMENTS_BAD, "pReserved must be NULL")
            # Application mutex callbacks are accepted but not needed: every lock
            # in this library is an OS lock (the CKF_OS_LOCKING_OK behaviour).
        with self._lock:
            if self.initialized:
                raise CKRError(CKR.CRYPTOKI_ALREADY_INITIALIZED)
            # A parent's transport (after fork) is left alone: its socket is the parent's.
            transport = self._connect()
            if transport is not None:
                transport.initialize()
            self._transport = transport
            self._local = None
            self._sessions.clear()
            self._owner_pid = self._getpid()

    def finalize(self, reserved: bool) -> None:
        if reserved:
            raise CKRError(CKR.ARGUMENTS_BAD, "pReserved must be NULL")
        with self._lock:
            self.require_initialized()
            transport, self._transport = self._transport, None
            self._local = None
            self._sessions.clear()
            self._owner_pid = None
        if transport is not None:
            transport.finalize()

    def require_initialized(self) -> None:
        if not self.initialized:
            raise CKRError(CKR.CRYPTOKI_NOT_INITIALIZED)

    def get_info(self) -> Info:
        """This library's own CK_INFO (C_GetInfo itself is answered by the server)."""
        self.require_initialized()
        return self._info

    def call(self, call: Call, inputs: Mapping[str, Value]) -> tuple[int, dict[str, Value] | None]:
        """A forwarded function: its CK_RV and, when the CK_RV carries them, its outputs."""
        self.require_initialized()
        transport = self._transport
        if transport is None:
            return empty.answer(call, dict(inputs), self._info.as_struct())
        local = self._local_answers(transport)
        answer = local.answer(call, inputs)
        if answer is not None:
            return answer
        forward = functools.partial(self._learned, transport, local)
        return local.find_ahead.call(
            call, inputs, functools.partial(local.single_parts.call, forward=forward)
        )

    def _learned(
        self, transport: Transport, local: LocalAnswers, call: Call, inputs: Mapping[str, Value]
    ) -> tuple[int, dict[str, Value] | None]:
        """A forwarded call whose answer the local answers learn from."""
        before = local.before
        rv, outputs = self._forward(transport, call, inputs)
        local.learn(call, inputs, rv, outputs, before)
        local.messages.learn(call, inputs, rv)
        return rv, outputs

    def message_mechanism(self, session: int, kind: str) -> int | None:
        """The mechanism of the session's message operation of this kind ("encrypt", ...),
        if one was begun through this library in the current server context."""
        local = self._local
        return None if local is None else local.messages.mechanism(session, kind)

    def _local_answers(self, transport: Transport) -> LocalAnswers:
        """This context's local answers; new ones when the server context was made anew
        (its sessions and handles are gone)."""
        contexts = transport.contexts
        local = self._local
        if local is None or self._local_contexts != contexts:
            with self._lock:
                if self._local is None or self._local_contexts != contexts:
                    open_here = functools.partial(self._sessions.open_in, context=contexts)
                    self._local, self._local_contexts = LocalAnswers(open_here), contexts
                local = self._local
        return local

    def _forward(
        self, transport: Transport, call: Call, inputs: Mapping[str, Value]
    ) -> tuple[int, dict[str, Value] | None]:
        """The call sent with the server's handle for the application's session, and
        answered with the application's handle for a session the server opened."""
        shown = inputs.get("hSession")
        session = None if shown is None else self._sessions.get(ulong(shown))
        if shown is not None:
            if session is None:
                return CKR.SESSION_HANDLE_INVALID, None
            inputs = {**inputs, "hSession": session.handle}
        rv, output, ran_in = transport.call(
            call, wire.encode_inputs(call, inputs), None if session is None else session.context
        )
        outputs = None
        if output is not None and wire.carries_outputs(call, rv):
            try:
                outputs = wire.decode_outputs(call, output)
            except wire.WireError as error:
                log(f"{call.name}: CKR_DEVICE_ERROR: the server's Output Parameters are malformed: {error}")
                raise CKRError(CKR.DEVICE_ERROR) from error
        if shown is not None and (rv in _SESSION_GONE or (call.name == "C_CloseSession" and rv == CKR.OK)):
            self._sessions.closed(ulong(shown))
        elif call.name == "C_CloseAllSessions" and rv == CKR.OK:
            self._sessions.closed_on(ulong(inputs["slotID"]))
        elif call.name == "C_OpenSession" and rv == CKR.OK and outputs is not None:
            opened = Session(ran_in, ulong(inputs["slotID"]), ulong(outputs["phSession"]))
            outputs["phSession"] = self._sessions.opened(opened)
        return rv, outputs


_SESSION_GONE = frozenset({CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED})
