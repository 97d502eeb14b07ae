"""A PKCS#11 host written in Python (ctypes), run in a subprocess by the provider tests.

Usage: python py_host.py MODULE [basic|threads|fork|atexit|finalizing]
Prints "key=value" lines. Runs under any Python 3.9+ (no project imports).
"""

import atexit
import ctypes
import os
import sys
import threading

CK_ULONG = ctypes.c_ulong


class CK_VERSION(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]


class CK_INFO(ctypes.Structure):
    _fields_ = [
        ("cryptokiVersion", CK_VERSION),
        ("manufacturerID", ctypes.c_ubyte * 32),
        ("flags", CK_ULONG),
        ("libraryDescription", ctypes.c_ubyte * 32),
        ("libraryVersion", CK_VERSION),
    ]


def load(path):
    lib = ctypes.CDLL(path)  # RTLD_LOCAL, and the GIL is released during calls
    for name in ("C_Initialize", "C_Finalize", "C_GetInfo", "C_GetSlotList"):
        getattr(lib, name).restype = CK_ULONG
    return lib


def get_info(lib, prefix=""):
    info = CK_INFO()
    rv = lib.C_GetInfo(ctypes.byref(info))
    print(f"{prefix}getinfo=0x{rv:x}")
    if rv == 0:
        print(f"{prefix}manufacturer={bytes(info.manufacturerID).decode()}|")
        print(f"{prefix}cryptoki={info.cryptokiVersion.major}.{info.cryptokiVersion.minor}")
    return rv


def main():
    lib = load(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "basic"
    print(f"host_version={sys.version_info[0]}.{sys.version_info[1]}")
    print(f"initialize=0x{lib.C_Initialize(None):x}")
    get_info(lib)
    print(f"host_sees_our_modules={int('pkcs11_kmip.cryptoki' in sys.modules)}")

    if mode in ("threads", "fork"):
        failures = []
        stop = threading.Event()

        def worker():
            info = CK_INFO()
            while not stop.is_set():
                rv = lib.C_GetInfo(ctypes.byref(info))
                if rv != 0:
                    failures.append(rv)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for thread in threads:
            thread.start()
        if mode == "fork":
            for i in range(3):
                pid = os.fork()
                if pid == 0:
                    # A child that deadlocks is killed by the alarm and reported as a failure.
                    import signal

                    signal.alarm(20)
                    print(f"child{i}_uninitialized=0x{lib.C_GetInfo(None):x}")
                    print(f"child{i}_initialize=0x{lib.C_Initialize(None):x}")
                    get_info(lib, f"child{i}_")
                    print(f"child{i}_finalize=0x{lib.C_Finalize(None):x}")
                    sys.stdout.flush()
                    os._exit(0)
                _, status = os.waitpid(pid, 0)
                print(f"child{i}_status={status}")
        else:
            threading.Event().wait(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        print(f"thread_failures={len(failures)}")
        print(f"finalize=0x{lib.C_Finalize(None):x}")
    elif mode == "atexit":
        atexit.register(lambda: print(f"atexit_finalize=0x{lib.C_Finalize(None):x}", flush=True))
    elif mode == "finalizing":
        # C_Finalize from a destructor that runs while the interpreter shuts down.
        class Closer:
            def __del__(self):
                os.write(1, f"del_finalize=0x{lib.C_Finalize(None):x}\n".encode())

        sys.modules["__closer__"] = Closer()  # type: ignore[assignment]
    else:
        print(f"finalize=0x{lib.C_Finalize(None):x}")
    print("done=1", flush=True)


if __name__ == "__main__":
    main()
