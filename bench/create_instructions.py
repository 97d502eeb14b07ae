"""Instructions per grouped Create, for callgrind: the writer thread's work in process.

Timings on a shared machine swing 2-3x within minutes; instruction counts do not. This
runs a fixed number of create_group_bench's Creates (KMIP 1.2, AES-256 with a Name)
through `Engine.handle_many` in groups of 8, with an audit log, after a warm-up, and
calls the measured loop through `eval` so that callgrind can count it alone:

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=builtin_eval .venv/bin/python bench/create_instructions.py 400

"Collected" divided by the Creates is the figure. To compare two trees, run it with
PYTHONPATH=<tree>/server:<tree> for each.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from create_group_bench import create_message

from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

GROUP = 8
WARM = 200


def main(creates: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "store.sqlite3", Sealer(b"k" * 32))
        audit = AuditLog(Path(directory) / "audit.log")
        engine = Engine(store, DEFAULT_LIMITS, audit=audit)
        peer = Peer("bench", address="127.0.0.1:40000")
        warm = [(create_message(f"warm-{i}"), peer) for i in range(WARM)]
        messages = [(create_message(f"key-{i}"), peer) for i in range(creates)]

        def measured() -> None:
            for start in range(0, len(messages), GROUP):
                engine.handle_many(messages[start : start + GROUP])

        for start in range(0, WARM, GROUP):
            engine.handle_many(warm[start : start + GROUP])
        eval("measured()", {"measured": measured})  # what --toggle-collect=builtin_eval counts
        engine.close()
        store.close()
        audit.close()
    print(f"{creates} Creates in groups of {GROUP}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
