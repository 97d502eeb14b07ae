"""A ctypes host for fork and thread tests against a real server and token.

Usage: python fork_host.py MODULE PIN fork|threads|restart
Prints key=value lines (CK_RVs in hex). Runs under any Python 3.9+ (no project imports).

fork: the parent logs in and keeps threads calling while it forks; the child must see
CKR_CRYPTOKI_NOT_INITIALIZED (0x190) until its own C_Initialize, then work with its own
sessions; the parent's session and login must be untouched.
threads: many threads, each with its own session, call at once (random and digests
checked against hashlib).
restart: 4 threads call until told to stop, opening a new session after a failure; each
line on stdin asks for the number of successful calls so far ("count") or stops them
("stop", then the failures by CK_RV are printed): the test restarts the server meanwhile.
"""

import ctypes
import hashlib
import os
import signal
import sys
import threading
import time

CK_ULONG = ctypes.c_ulong
CKF_RW_SERIAL = 0x2 | 0x4
CKU_USER = 1
CKM_SHA256 = 0x250


class SessionInfo(ctypes.Structure):
    _fields_ = [("slotID", CK_ULONG), ("state", CK_ULONG), ("flags", CK_ULONG), ("ulDeviceError", CK_ULONG)]


class Mechanism(ctypes.Structure):
    _fields_ = [("mechanism", CK_ULONG), ("pParameter", ctypes.c_void_p), ("ulParameterLen", CK_ULONG)]


class Host:
    def __init__(self, path, pin):
        self.lib = ctypes.CDLL(path)
        for name in ("C_Initialize", "C_Finalize", "C_GetInfo", "C_GetSlotList", "C_OpenSession",
                     "C_Login", "C_GetSessionInfo", "C_GenerateRandom", "C_DigestInit", "C_Digest",
                     "C_CloseSession"):  # fmt: skip
            getattr(self.lib, name).restype = CK_ULONG
        self.pin = pin.encode()
        self.slot = CK_ULONG(0)

    def initialize(self):
        return self.lib.C_Initialize(None)

    def first_slot(self):
        slots = (CK_ULONG * 8)()
        count = CK_ULONG(8)
        rv = self.lib.C_GetSlotList(ctypes.c_ubyte(1), slots, ctypes.byref(count))
        self.slot = CK_ULONG(slots[0])
        return rv

    def open(self):
        session = CK_ULONG(0)
        rv = self.lib.C_OpenSession(self.slot, CK_ULONG(CKF_RW_SERIAL), None, None, ctypes.byref(session))
        return rv, session

    def login(self, session):
        return self.lib.C_Login(session, CK_ULONG(CKU_USER), self.pin, CK_ULONG(len(self.pin)))

    def state(self, session):
        info = SessionInfo()
        rv = self.lib.C_GetSessionInfo(session, ctypes.byref(info))
        return rv, info.state

    def random(self, session, n=32):
        buffer = (ctypes.c_ubyte * n)()
        rv = self.lib.C_GenerateRandom(session, buffer, CK_ULONG(n))
        return rv if rv else (0 if any(buffer) else -1)

    def digest(self, session, data):
        mechanism = Mechanism(CKM_SHA256, None, 0)
        rv = self.lib.C_DigestInit(session, ctypes.byref(mechanism))
        if rv:
            return rv
        out = (ctypes.c_ubyte * 32)()
        length = CK_ULONG(32)
        rv = self.lib.C_Digest(session, data, CK_ULONG(len(data)), out, ctypes.byref(length))
        if rv:
            return rv
        return 0 if bytes(out) == hashlib.sha256(data).digest() else -1


def hexrv(rv):
    return f"0x{rv & 0xFFFFFFFF:x}" if rv >= 0 else str(rv)


def callers(host, count, rounds, stop=None):
    """Threads with a session each, calling random and digest; returns (threads, results)."""
    results = []

    def worker(index):
        rv, session = host.open()
        calls = failures = 0
        if rv:
            results.append((0, 1, rv))
            return
        data = f"thread {index} ".encode() * 40
        while (stop is None and calls < rounds * 2) or (stop is not None and not stop.is_set()):
            for rv in (host.random(session), host.digest(session, data)):
                calls += 1
                if rv:
                    failures += 1
        host.lib.C_CloseSession(session)
        results.append((calls, failures, 0))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def report_threads(results, prefix="thread"):
    print(f"{prefix}_count={len(results)}")
    print(f"{prefix}_calls={sum(r[0] for r in results)}")
    print(f"{prefix}_failures={sum(r[1] for r in results)}")


def fork_mode(host):
    rv, session = host.open()
    print(f"parent_open={hexrv(rv)}")
    print(f"parent_login={hexrv(host.login(session))}")
    stop = threading.Event()
    threads, results = callers(host, 4, 0, stop)
    time.sleep(0.3)
    pid = os.fork()
    if pid == 0:
        signal.alarm(60)  # a child that hangs is killed and reported
        print(f"child_getinfo_before={hexrv(host.lib.C_GetInfo(None))}")
        print(f"child_parent_session={hexrv(host.state(session)[0])}")
        print(f"child_initialize={hexrv(host.initialize())}")
        print(f"child_slots={hexrv(host.first_slot())}")
        rv, child_session = host.open()
        print(f"child_open={hexrv(rv)}")
        print(f"child_state_before_login={host.state(child_session)[1]}")
        print(f"child_login={hexrv(host.login(child_session))}")
        print(f"child_random={hexrv(host.random(child_session))}")
        print(f"child_digest={hexrv(host.digest(child_session, b'child'))}")
        print(f"child_finalize={hexrv(host.lib.C_Finalize(None))}")
        sys.stdout.flush()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    print(f"child_status={status}")
    rv, state = host.state(session)
    print(f"parent_session_after={hexrv(rv)}")
    print(f"parent_state_after={state}")
    print(f"parent_random_after={hexrv(host.random(session))}")
    stop.set()
    for thread in threads:
        thread.join()
    report_threads(results)


def threads_mode(host):
    started = time.monotonic()
    threads, results = callers(host, 16, 25)
    for thread in threads:
        thread.join()
    report_threads(results)
    print(f"thread_errors={sum(1 for r in results if r[2])}")
    print(f"seconds={time.monotonic() - started:.2f}")


def restart_mode(host):
    stop = threading.Event()
    lock = threading.Lock()
    successes = [0]
    failures = {}

    def worker():
        session = None
        while not stop.is_set():
            if session is None:
                rv, opened = host.open()
                session = None if rv else opened
            else:
                rv = host.random(session)
            if rv == 0:
                with lock:
                    successes[0] += 1
                continue
            with lock:
                failures[rv] = failures.get(rv, 0) + 1
            session = None
            time.sleep(0.05)  # the server may be down for a while: do not spin

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for line in sys.stdin:
        if line.strip() == "count":
            with lock:
                print(f"count={successes[0]}", flush=True)
        else:
            break
    stop.set()
    for thread in threads:
        thread.join()
    print("failures=" + ",".join(f"{hexrv(rv)}:{n}" for rv, n in sorted(failures.items())))


def main():
    host = Host(sys.argv[1], sys.argv[2])
    print(f"initialize={hexrv(host.initialize())}")
    print(f"slots={hexrv(host.first_slot())}")
    {"fork": fork_mode, "threads": threads_mode, "restart": restart_mode}[sys.argv[3]](host)
    print(f"finalize={hexrv(host.lib.C_Finalize(None))}", flush=True)


if __name__ == "__main__":
    main()
