"""A PKCS#11 host driven line by line: each command on stdin answers `command=0x<rv>`.

Used to keep one application (one library instance, one connection, one server
context) alive across events such as a server restart. Loaded with ctypes.CDLL, as
docs/provider-embedding.md recommends for Python hosts.
"""

from __future__ import annotations

import ctypes
import sys

CK_ULONG = ctypes.c_ulong


class SessionInfo(ctypes.Structure):
    _fields_ = [("slotID", CK_ULONG), ("state", CK_ULONG), ("flags", CK_ULONG), ("ulDeviceError", CK_ULONG)]


def leave_an_openssl_error() -> int:
    """What SoftHSM2 does when it loads (looking for an ENGINE that is not there): leave
    an error on this thread's OpenSSL queue; answers 0 if one is there."""
    libcrypto = ctypes.CDLL("libcrypto.so.3")
    libcrypto.ENGINE_by_id.restype = ctypes.c_void_p
    libcrypto.ERR_peek_error.restype = CK_ULONG
    assert libcrypto.ENGINE_by_id(b"no-such-engine") is None
    return 0 if libcrypto.ERR_peek_error() else 1


def main() -> int:
    lib = ctypes.CDLL(sys.argv[1])
    slots = (CK_ULONG * 8)()
    count = CK_ULONG(8)
    session = CK_ULONG(0)
    info = SessionInfo()
    commands = {
        "init": lambda: lib.C_Initialize(None),
        "slot": lambda: lib.C_GetSlotList(ctypes.c_ubyte(1), slots, ctypes.byref(count)),
        "open": lambda: lib.C_OpenSession(slots[0], CK_ULONG(6), None, None, ctypes.byref(session)),
        "info": lambda: lib.C_GetSessionInfo(session, ctypes.byref(info)),
        "finalize": lambda: lib.C_Finalize(None),
        "dirty": leave_an_openssl_error,
    }
    for line in sys.stdin:
        name = line.strip()
        print(f"{name}=0x{commands[name]() & 0xFFFFFFFF:x}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
