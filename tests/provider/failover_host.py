"""An application that keeps working while its server goes away (python-pkcs11).

Usage: python failover_host.py MODULE TOKEN_LABEL PIN THREADS STOP_FILE
Each thread opens a session (the first thread logs the application in) and calls
C_GenerateRandom and C_Digest in a loop until STOP_FILE exists; an error that says the
session or the device was lost makes it open a new session (the first thread logs in
again), as an application recovering from a token removal would. Prints `ready` once
every thread has succeeded once, then one JSON object: calls that succeeded, those after
each thread's last error, and the errors seen.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Mechanism

RECOVERABLE = (pkcs11.SessionHandleInvalid, pkcs11.DeviceRemoved, pkcs11.DeviceError, pkcs11.SessionClosed)


def main() -> int:
    module, label, pin, threads, stop = sys.argv[1:6]
    token = pkcs11.lib(module).get_token(token_label=label)
    stop_file = Path(stop)
    lock = threading.Lock()
    ok = [0]
    since_error = [0] * int(threads)
    errors: dict[str, int] = {}
    started = threading.Barrier(int(threads) + 1)

    def work(index: int) -> None:
        session: Any = None
        first = True
        while not stop_file.exists():
            try:
                if session is None:  # the login is the application's: one thread makes it
                    session = token.open(user_pin=pin) if index == 0 else token.open()
                session.generate_random(256)
                session.digest(b"failover" * 64, mechanism=Mechanism.SHA256)
            except RECOVERABLE as error:
                with lock:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    since_error[index] = 0
                session = None
                time.sleep(0.05)
                continue
            except pkcs11.PKCS11Error as error:  # anything else: counted, and the test fails
                with lock:
                    errors[f"unexpected:{type(error).__name__}"] = 1
                return
            with lock:
                ok[0] += 1
                since_error[index] += 1
            if first:
                first = False
                started.wait(timeout=60)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(int(threads))]
    for worker in workers:
        worker.start()
    started.wait(timeout=60)  # a thread that never succeeds breaks it: the host fails
    print("ready", flush=True)
    for worker in workers:
        worker.join()
    print(json.dumps({"ok": ok[0], "since_error": since_error, "errors": errors}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
