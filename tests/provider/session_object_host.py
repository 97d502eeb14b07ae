"""python-pkcs11 on the native token: makes a session object (CKA_TOKEN=FALSE), then dies
without closing anything (os._exit), as a crashed application does.

Usage: python session_object_host.py MODULE PIN LABEL [wait]
Prints `made=LABEL` once the AES key exists; with `wait`, then waits for a line on stdin
(its session and connection stay open meanwhile) before it dies.
"""

from __future__ import annotations

import os
import sys

import pkcs11
from pkcs11 import KeyType


def main() -> None:
    module, pin, label = sys.argv[1:4]
    token = pkcs11.lib(module).get_token(token_label="pkcs11-kmip")
    session = token.open(user_pin=pin)
    session.generate_key(KeyType.AES, 256, id=label.encode(), label=label, store=False)
    print(f"made={label}", flush=True)
    if sys.argv[4:] == ["wait"]:
        sys.stdin.readline()
    os._exit(0)  # no C_CloseSession, no C_Finalize: the process is simply gone


if __name__ == "__main__":
    main()
