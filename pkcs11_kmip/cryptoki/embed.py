"""The cffi edge of the provider: raw C arguments in, CK_RV out.

The C shim forwards every Cryptoki call it does not answer itself to the single
cffi entry point `pkcs11_kmip_dispatch(function_id, args, nargs)`, `args` being
the call's arguments as uintptr_t. This module is imported by the embedding init
code of libpkcs11_kmip_python.so (csrc/build_embed.py); `install` binds the entry
point. Only this module touches C memory; decisions live in `module.Library`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from pkcs11_kmip.cryptoki.calls import BY_ID, Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.module import InitArgs, Library, default_info, pad

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


def log(message: str) -> None:
    """One syslog-style line on stderr, written with a single write(2); never raises."""
    with contextlib.suppress(OSError):
        os.write(2, f"pkcs11-kmip[{os.getpid()}]: {message}\n".encode("utf-8", "replace"))


def describe_failure(exc: BaseException, tb: TracebackType | None) -> str:
    """Exception type and where it was raised: no message, which could carry data."""
    frames = traceback.extract_tb(tb) if tb is not None else []
    where = f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where}"


class Dispatcher:
    """Route a call id to its handler; convert raw pointers; map failures to a CK_RV."""

    def __init__(self, ffi: FFI, library: Library) -> None:
        self.ffi = ffi
        self.library = library
        self._handlers: dict[str, Handler] = {
            "C_Initialize": self._initialize,
            "C_Finalize": self._finalize,
            "C_GetInfo": self._get_info,
            "C_GetSlotList": self._get_slot_list,
        }

    def dispatch(self, function_id: int, args: Any, nargs: int) -> int:
        call = BY_ID.get(function_id)
        try:
            if call is None or call.local or nargs != len(call.params):
                log(f"dispatch called with function id {function_id} and {nargs} arguments")
                return CKR.GENERAL_ERROR
            raw = [int(args[i]) for i in range(nargs)]
            self._handlers.get(call.name, self._not_supported)(raw)
        except CKRError as error:
            return error.rv
        except Exception as error:
            report_unexpected(call, error, error.__traceback__)
            return CKR.GENERAL_ERROR
        return CKR.OK

    # -- handlers: one per implemented function, arguments as in calls.py ------------

    def _initialize(self, raw: list[int]) -> None:
        (p_init_args,) = raw
        self.library.initialize(self._read_init_args(p_init_args) if p_init_args else None)

    def _finalize(self, raw: list[int]) -> None:
        (p_reserved,) = raw
        self.library.finalize(reserved=p_reserved != 0)

    def _get_info(self, raw: list[int]) -> None:
        (p_info,) = raw
        info = self.library.get_info()
        if not p_info:
            raise CKRError(CKR.ARGUMENTS_BAD, "pInfo is NULL")
        out = self.ffi.cast("CK_INFO *", p_info)
        out.cryptokiVersion.major, out.cryptokiVersion.minor = info.cryptoki_version
        self.ffi.memmove(out.manufacturerID, pad(info.manufacturer_id, 32), 32)
        out.flags = info.flags
        self.ffi.memmove(out.libraryDescription, pad(info.library_description, 32), 32)
        out.libraryVersion.major, out.libraryVersion.minor = info.library_version

    def _get_slot_list(self, raw: list[int]) -> None:
        token_present, p_slot_list, pul_count = raw
        slots = self.library.slot_list(bool(token_present))
        if not pul_count:
            raise CKRError(CKR.ARGUMENTS_BAD, "pulCount is NULL")
        count = self.ffi.cast("CK_ULONG *", pul_count)
        # The Cryptoki length convention: a NULL list asks for the count; a list too
        # small gets CKR_BUFFER_TOO_SMALL and the count; nothing is written past it.
        if p_slot_list:
            if count[0] < len(slots):
                count[0] = len(slots)
                raise CKRError(CKR.BUFFER_TOO_SMALL)
            out = self.ffi.cast("CK_SLOT_ID *", p_slot_list)
            for index, slot in enumerate(slots):
                out[index] = slot
        count[0] = len(slots)

    def _not_supported(self, raw: list[int]) -> None:
        self.library.not_supported()

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


_installed: Dispatcher | None = None


def install(ffi: FFI, package_version: str | None = None) -> Dispatcher:
    """Bind the C entry point to a process-wide Dispatcher (called once, by the init code)."""
    global _installed
    if package_version is None:
        from pkcs11_kmip import __version__

        package_version = __version__
    dispatcher = Dispatcher(ffi, Library(default_info(package_version)))

    @ffi.def_extern(name=ENTRY_POINT, error=int(CKR.GENERAL_ERROR), onerror=on_callback_error)
    def _entry(function_id: int, args: Any, nargs: int) -> int:
        return dispatcher.dispatch(function_id, args, nargs)

    os.register_at_fork(after_in_child=dispatcher.library.after_fork_in_child)
    _installed = dispatcher
    return dispatcher


def installed() -> Dispatcher | None:
    """The dispatcher bound to the C entry point in this process, if any (for tests)."""
    return _installed
