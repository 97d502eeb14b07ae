"""Create in process: one message per transaction (Engine.handle) against groups of N
messages in one transaction (Engine.handle_many, what the writer thread runs), on the
installed package, a fresh store each run, no TLS or sockets.

    .venv/bin/python bench/create_group_bench.py                  # groups of 1 and 8, 3 rounds
    .venv/bin/python bench/create_group_bench.py --groups 1,4,8,16 --creates 3000 --rounds 5
    .venv/bin/python bench/create_group_bench.py --groups 8 --steps    # where a Create's CPU goes
    .venv/bin/python bench/create_group_bench.py --groups 8 --audit    # with DIR/audit.log, as served
    .venv/bin/python bench/create_group_bench.py --groups 8 --warm 40000   # on a store of 40,000 keys

Prints CPU and wall microseconds per Create for each group size and round (alternating),
then the minimum and median per size: on a shared machine the minimum is the steadier one.
The messages are kmip_load.py's Create (AES-256 with a Name, KMIP 1.2), so the figures
are the in-process part of its create scenario. With --steps, each step of a Create
(STEPS) is timed around its call, and the minimum and median per round printed after the
totals: the wrappers add their own ~0.5 us per call, so the steps add up to more than a
Create without them; compare steps of one run, and totals of runs without --steps.
To compare two trees, run each with PYTHONPATH=<tree>/server:<tree> in alternation.
"""

from __future__ import annotations

import argparse
import functools
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kmip_load import create_request

from pkcs11_kmip.kmip.messages import Attributes, RequestBatchItem, RequestHeader, RequestMessage
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, binary
from pkcs11_kmip_server import keys, policy
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.operations import create
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteSession, SqliteStore

VERSION = (1, 2)
WARM = 200  # Creates before the measured ones (the store's first pages, the codec's caches)

# The steps of a grouped Create that --steps times: (label, where the callable is, its name).
# Indented labels are parts of the step above them.
STEPS: tuple[tuple[str, Any, str], ...] = (
    ("request: admission (decode, caller)", Engine, "admit"),
    ("  TTLV decode", binary, "decode"),
    ("  typed decode", Engine, "_decode"),
    ("requested_attributes", create, "requested_attributes"),
    ("policy defaults", policy, "with_defaults"),
    ("Name check", create, "check_unique_names"),
    ("key generation", keys, "symmetric_key"),
    ("new_record", create, "new_record"),
    ("  policy constraints", policy, "check_new"),
    ("store insert", SqliteSession, "insert"),
    ("  object row's columns", SqliteSession, "_columns"),
    ("    attribute blob", Attributes, "encode_any_version"),
    ("    sealing the key", Sealer, "seal"),
    ("  attribute rows", SqliteSession, "_index"),
    ("savepoint (enter)", SqliteSession, "savepoint"),
    ("response (and audit line)", Engine, "_answer"),
    ("audit lines' write (the group's)", AuditLog, "write_many"),
)


def timed_steps() -> tuple[dict[str, int], Callable[[], None]]:
    """Wrap each of STEPS to add its CPU nanoseconds to the returned totals; and the undo."""
    totals: dict[str, int] = {}
    undo = []
    for label, owner, name in STEPS:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:  # a step an older tree does not have (comparing trees)
            continue

        def timed(*args: Any, _call: Any = original, _label: str = label, **kwargs: Any) -> Any:
            start = time.process_time_ns()
            try:
                return _call(*args, **kwargs)
            finally:
                totals[_label] = totals.get(_label, 0) + time.process_time_ns() - start

        setattr(owner, name, functools.wraps(original)(timed))
        undo.append((owner, name, original))

    def restore() -> None:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)

    return totals, restore


def create_message(name: str) -> bytes:
    payload = create_request(VERSION, name)
    header = RequestHeader(protocol_version=ProtocolVersion.of(VERSION), batch_count=1)
    item = RequestBatchItem(operation=payload.OPERATION, request_payload=payload)
    return RequestMessage(header=header, batch_items=[item]).encode(VERSION)


def run(
    group: int, creates: int, steps: dict[str, int] | None = None, audit: bool = False, warm: int = WARM
) -> tuple[float, float]:
    """CPU and wall microseconds per Create, `group` messages per transaction (`steps`: the
    timed steps' totals, emptied once the warm-up is done; `audit`: with an audit log, as a
    server has; `warm`: Creates before, in groups of 8: the store's size, as a served store
    grows, where its indexes' depth and the WAL's checkpoints weigh more)."""
    with tempfile.TemporaryDirectory() as directory:
        store = SqliteStore(Path(directory) / "store.sqlite3", Sealer(secrets.token_bytes(32)))
        log = AuditLog(Path(directory) / "audit.log") if audit else None
        engine = Engine(store, DEFAULT_LIMITS, audit=log)
        peer = Peer("bench", address="127.0.0.1:40000")
        try:
            warming = [(create_message(f"warm-{index}"), peer) for index in range(warm)]
            for start in range(0, warm, 8):
                engine.handle_many(warming[start : start + 8])
            messages = [(create_message(f"key-{index}"), peer) for index in range(creates)]
            if steps is not None:
                steps.clear()
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
            if log is not None:
                log.close()
    return 1e6 * cpu / creates, 1e6 * wall / creates


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", default="1,8", help="comma-separated messages per transaction")
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", action="store_true", help="also time each step (STEPS) of a Create")
    parser.add_argument("--audit", action="store_true", help="with an audit log (DIR/audit.log), as served")
    parser.add_argument("--warm", type=int, default=WARM, help="Creates made first (the store's size)")
    args = parser.parse_args()
    groups = [int(g) for g in args.groups.split(",")]
    cpu: dict[int, list[float]] = {g: [] for g in groups}
    per_step: dict[tuple[int, str], list[float]] = {}
    totals, restore = timed_steps() if args.steps else (None, lambda: None)
    try:
        for round_ in range(1, args.rounds + 1):
            for group in groups:
                used, took = run(group, args.creates, totals, args.audit, args.warm)
                cpu[group].append(used)
                print(f"round {round_} group {group:>2}: {used:6.0f} us CPU, {took:6.0f} us wall per Create")
                for label, spent in (totals or {}).items():
                    per_step.setdefault((group, label), []).append(spent / 1000 / args.creates)
    finally:
        restore()
    for group in groups:
        print(
            f"group {group:>2}: CPU per Create min {min(cpu[group]):.0f} us,"
            f" median {statistics.median(cpu[group]):.0f} us"
        )
        for label, _, _ in STEPS if totals is not None else ():
            values = per_step.get((group, label), [0.0])
            print(f"  {label:<40} min {min(values):6.1f} us, median {statistics.median(values):6.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
