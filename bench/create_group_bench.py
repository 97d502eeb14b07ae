"""Create in process: one message per transaction (Engine.handle) against groups of N
messages in one transaction (Engine.handle_many, what the writer thread runs), on the
installed package, a fresh store each run, no TLS or sockets.

    .venv/bin/python bench/create_group_bench.py                  # groups of 1 and 8, 3 rounds
    .venv/bin/python bench/create_group_bench.py --groups 1,4,8,16 --creates 3000 --rounds 5

Prints CPU and wall microseconds per Create for each group size and round (alternating),
then the minimum and median per size: on a shared machine the minimum is the steadier one.
The messages are kmip_load.py's Create (AES-256 with a Name, KMIP 1.2), so the figures
are the in-process part of its create scenario.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kmip_load import create_request

from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

VERSION = (1, 2)
WARM = 200  # Creates before the measured ones (the store's first pages, the codec's caches)


def create_message(name: str) -> bytes:
    payload = create_request(VERSION, name)
    header = RequestHeader(protocol_version=ProtocolVersion.of(VERSION), batch_count=1)
    item = RequestBatchItem(operation=payload.OPERATION, request_payload=payload)
    return RequestMessage(header=header, batch_items=[item]).encode(VERSION)


def run(group: int, creates: int) -> tuple[float, float]:
    """CPU and wall microseconds per Create, `group` messages per transaction."""
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "store.sqlite3", Sealer(secrets.token_bytes(32)))
        engine = Engine(store, DEFAULT_LIMITS)
        peer = Peer("bench")
        try:
            for index in range(WARM):
                engine.handle(create_message(f"warm-{index}"), peer)
            messages = [(create_message(f"key-{index}"), peer) for index in range(creates)]
            cpu, wall = time.process_time(), time.perf_counter()
            for start in range(0, creates, group):
                if group == 1:
                    engine.handle(*messages[start])
                else:
                    engine.handle_many(messages[start : start + group])
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            engine.close()
            store.close()
    return 1e6 * cpu / creates, 1e6 * wall / creates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", default="1,8", help="comma-separated messages per transaction")
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    groups = [int(g) for g in args.groups.split(",")]
    cpu: dict[int, list[float]] = {g: [] for g in groups}
    for round_ in range(1, args.rounds + 1):
        for group in groups:
            used, took = run(group, args.creates)
            cpu[group].append(used)
            print(f"round {round_} group {group:>2}: {used:6.0f} us CPU, {took:6.0f} us wall per Create")
    for group in groups:
        print(
            f"group {group:>2}: CPU per Create min {min(cpu[group]):.0f} us,"
            f" median {statistics.median(cpu[group]):.0f} us"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
