"""Emptying this thread's OpenSSL error queue before the library's TLS I/O.

The host process may share Python's libcrypto with other code that leaves errors on
the queue: SoftHSM2 leaves ENGINE "no such engine" errors after loading (so does any
module in the same process, e.g. under p11-kit), and applications that use OpenSSL
may too. Python's ssl module does not clear the queue before SSL_do_handshake,
SSL_read and SSL_write (CPython issue 81891), and SSL_get_error reads the queue
first, so a harmless "want read" on our socket becomes a fatal SSLError naming
someone else's error. So each forwarded call starts with ERR_clear_error on the
libcrypto that Python's ssl module uses.
"""

from __future__ import annotations

import ctypes
import ssl
from collections.abc import Callable

_clear: Callable[[], None] | None = None
_searched = False


def _loaded_libcrypto_paths() -> list[str]:
    """The libcrypto files mapped into this process (there may be several)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "/libcrypto.so" in line}
    except OSError:
        return []
    return sorted(paths)


def _find() -> Callable[[], None] | None:
    """ERR_clear_error of the libcrypto whose version is Python's ssl's, if one is mapped
    (none: ssl carries its own OpenSSL, whose queue nobody else can touch). ctypes, not
    cffi: the embedded interpreter's cffi package may not match the library's backend."""
    for path in _loaded_libcrypto_paths():
        try:
            library = ctypes.CDLL(path)  # already mapped: the same instance, nothing runs
            library.OpenSSL_version.restype = ctypes.c_char_p
            library.OpenSSL_version.argtypes = [ctypes.c_int]
            version = library.OpenSSL_version(0).decode("ascii", "replace")
            clear: Callable[[], None] = library.ERR_clear_error
        except (OSError, AttributeError):
            continue
        if version == ssl.OPENSSL_VERSION:
            clear.argtypes = []  # type: ignore[attr-defined]
            clear.restype = None  # type: ignore[attr-defined]
            return clear
    return None


def clear_error_queue() -> None:
    """Empty the calling thread's OpenSSL error queue (a no-op where it cannot be found)."""
    global _clear, _searched
    if not _searched:
        _clear = _find()
        _searched = True
    if _clear is not None:
        _clear()
