"""The library's Cryptoki state machine, on plain values (no pointers, no cffi).

The C shim and pkcs11_kmip.cryptoki.embed turn raw arguments into these values;
this module decides the answer. It is what the unit tests drive directly.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from pkcs11_kmip.cryptoki.constants import CKR, CRYPTOKI_VERSION
from pkcs11_kmip.cryptoki.errors import CKRError

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
    """Initialized/finalized state of one process's use of the library.

    The state belongs to the process that called C_Initialize: after fork() the
    child sees CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize itself,
    as PKCS#11 asks, so a child never reuses its parent's server context.
    """

    def __init__(self, info: Info, getpid: Callable[[], int] = os.getpid) -> None:
        self._info = info
        self._getpid = getpid
        self._lock = threading.Lock()
        self._owner_pid: int | None = None

    @property
    def initialized(self) -> bool:
        return self._owner_pid is not None and self._owner_pid == self._getpid()

    def after_fork_in_child(self) -> None:
        """Drop a lock that another (now gone) thread of the parent may have held."""
        self._lock = threading.Lock()

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
            self._owner_pid = self._getpid()

    def finalize(self, reserved: bool) -> None:
        if reserved:
            raise CKRError(CKR.ARGUMENTS_BAD, "pReserved must be NULL")
        with self._lock:
            self.require_initialized()
            self._owner_pid = None

    def require_initialized(self) -> None:
        if not self.initialized:
            raise CKRError(CKR.CRYPTOKI_NOT_INITIALIZED)

    def get_info(self) -> Info:
        self.require_initialized()
        return self._info

    def slot_list(self, token_present: bool) -> list[int]:
        """The slots this library shows. None yet: slots come from the key server once
        Cryptoki calls are forwarded to it; an empty list lets tools run cleanly."""
        self.require_initialized()
        return []

    def not_supported(self) -> None:
        """Every function not implemented yet: still honour the initialization rule."""
        self.require_initialized()
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED)
