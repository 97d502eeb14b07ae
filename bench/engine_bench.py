#!/usr/bin/env python3
"""Server engine CPU per request, in process: Get, Create and Encrypt, ours against PyKMIP's engine.

No sockets, no TLS, no threads: what one request costs the engine from request bytes
to response bytes, over a SQLite store in a temporary directory.

  ours     as the server answers: the Get lane (get_lane.py: a plain Get from the
           owner, one SELECT and the answer kept for that row), the crypto lane
           (crypto_lane.py: a plain Encrypt or MAC, one SELECT, key and verdict kept), else
           `Engine.handle(bytes, Peer) -> bytes`: decode, run the operation in a
           store transaction (key material sealed with AES-GCM), encode the response
  general  `Engine.handle` alone, the path every message took before the lanes
  PyKMIP   what PyKMIP's server session does around its engine for one message:
           `RequestMessage.read(bytes)`, `KmipEngine.process_request(request,
           identity)`, `ResponseMessage.write()`; its built-in operation policies,
           its SQLAlchemy store in the same temporary directory

Both read the very same request bytes (the Create of bench/kmip_load.py: AES-256
with a usage mask and a Name; a Get of a key the engine created itself; an Encrypt of
64 bytes with that key once Active, AES-GCM with a 12-byte IV, as kmip_load's), and the
script checks every response says Success before it times anything.

The comparison is fair for KMIP 1.2, which both speak. PyKMIP's engine stops at 2.0,
so the 2.x rows set our 2.1 against PyKMIP's 2.0 (same operations and attributes in
the 2.x form). Durability differs: our store commits in WAL mode with
synchronous=NORMAL (`--synchronous FULL` for an fsync per commit), PyKMIP's runs
SQLite's defaults (rollback journal, an fsync per commit), so its Create waits on the
disk. Read the CPU column (this process's CPU time per operation) for the engines'
own cost; wall time includes those waits.

Each round runs every case once for each engine (their order alternating) until a
time budget is spent; the table shows the median of the rounds.

    python bench/engine_bench.py [--rounds 7] [--budget 0.5] [--ours-only] [--json]
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.metadata
import json
import logging
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import ActivateRequest, EncryptRequest, GetRequest, RequestPayload
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.crypto_lane import CryptoLane
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.get_lane import GetLane
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kmip_load import AES_GCM, PLAINTEXTS, create_request

IDENTITY = "bench"
CASES: tuple[tuple[str, Version], ...] = (
    ("get", (1, 2)),
    ("get", (2, 1)),
    ("create", (1, 2)),
    ("create", (2, 1)),
    ("encrypt", (1, 4)),
    ("encrypt", (2, 1)),
)
PYKMIP_NEWEST: Version = (2, 0)

Handler = Callable[[bytes], bytes]


def request_bytes(version: Version, payload: RequestPayload) -> bytes:
    """A one-item request message, as a client would send it."""
    header = RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1)
    item = RequestBatchItem(operation=payload.OPERATION, request_payload=payload)
    return RequestMessage(header=header, batch_items=[item]).encode(version)


def created_uid(response: bytes) -> str:
    """The Unique Identifier of a successful Create response (and a check that it is one)."""
    item = ResponseMessage.decode(response).batch_items[0]
    if item.result_status is not ResultStatus.SUCCESS:
        raise RuntimeError(f"Create failed: {item.result_reason} {item.result_message}")
    uid = getattr(item.response_payload, "unique_identifier", None)
    assert isinstance(uid, str)
    return uid


def check_success(name: str, response: bytes) -> None:
    for item in ResponseMessage.decode(response).batch_items:
        if item.result_status is not ResultStatus.SUCCESS:
            raise RuntimeError(f"{name}: {item.result_reason} {item.result_message}")


@dataclass
class Side:
    """One engine: a bytes -> bytes handler, and the requests for every case.

    A Get or Encrypt case repeats one request. Names are unique (KMIP 2.1 §4.35), so each Create
    names a new key: `refill` encodes more of them before each timed run, never during.
    """

    name: str
    handle: Handler
    requests: dict[tuple[str, Version], list[bytes]] = field(default_factory=dict)
    versions: dict[Version, Version] = field(default_factory=dict)  # case version -> spoken version
    created: int = 0

    def refill(self, case: tuple[str, Version], budget: float) -> None:
        """Enough Creates for `budget` seconds at 10 us each (far faster than any engine)."""
        operation, version = case
        spoken = self.versions.get(version, version)
        queue = self.requests[case]
        while operation == "create" and len(queue) < budget * 100_000:
            self.created += 1
            name = f"bench-{self.name}-{self.created}"
            queue.append(request_bytes(spoken, create_request(spoken, name)))

    def prepare(self) -> None:
        """Seed a key per version for the Gets; check every case answers Success."""
        for operation, version in CASES:
            spoken = self.versions.get(version, version)
            self.requests[operation, version] = []
            if operation == "create":
                self.refill((operation, version), 0.0002)
            else:
                self.created += 1
                create = request_bytes(spoken, create_request(spoken, f"bench-{self.name}-{self.created}"))
                uid = created_uid(self.handle(create))
                payload: RequestPayload = GetRequest(unique_identifier=uid)
                if operation == "encrypt":
                    check_success(
                        f"{self.name} activate",
                        self.handle(request_bytes(spoken, ActivateRequest(unique_identifier=uid))),
                    )
                    payload = EncryptRequest(
                        unique_identifier=uid,
                        cryptographic_parameters=AES_GCM,
                        data=PLAINTEXTS["encrypt_64"],
                        iv_counter_nonce=bytes(12),
                    )
                self.requests[operation, version] = [request_bytes(spoken, payload)]
            for _ in range(2):  # the first Get of a key clears its Fresh flag: a write
                check_success(
                    f"{self.name} {operation} {spoken}",
                    self.handle(next_request(self.requests[operation, version])),
                )


def next_request(queue: list[bytes]) -> bytes:
    """A Get's one request, or the next of the Creates (each used once)."""
    return queue[0] if len(queue) == 1 else queue.pop()


def ours(directory: Path, synchronous: str) -> tuple[list[Side], Callable[[], None]]:
    """Our engine as the transport runs it (the Get lane and the crypto lane first, the
    general path for what they leave), and its general path alone (`Engine.handle`), on one store."""
    store = SqliteStore(directory / "ours.sqlite3", Sealer(secrets.token_bytes(32)), synchronous)
    engine = Engine(store, DEFAULT_LIMITS)
    lane = GetLane(engine)
    crypto_lane = CryptoLane(engine)
    peer = Peer(IDENTITY)

    def close() -> None:
        engine.close()
        store.close()

    def as_served(data: bytes) -> bytes:
        return lane.answer(data, peer) or crypto_lane.answer(data, peer) or engine.handle(data, peer)

    general = Side("general path", lambda data: engine.handle(data, peer))
    return [Side("pkcs11-kmip", as_served), general], close


def pykmip(directory: Path) -> Side:
    """PyKMIP's engine with its built-in policies, fed as its server session feeds it."""
    # Its imports warn of deprecated ciphers, its queries of uncacheable SQLAlchemy types.
    warnings.filterwarnings("ignore", module=r"kmip\.")
    from kmip.core import utils
    from kmip.core.messages import contents, messages
    from kmip.core.policy import policies
    from kmip.services.server.engine import KmipEngine

    logging.getLogger("kmip").setLevel(logging.WARNING)  # as bench/kmip_load.py runs it
    engine = KmipEngine(policies=copy.deepcopy(policies), database_path=str(directory / "pykmip.sqlite3"))
    identity = (IDENTITY, None)

    default = contents.protocol_version_to_kmip_version(engine.default_protocol_version)

    def handle(data: bytes) -> bytes:
        request = messages.RequestMessage()
        request.read(utils.BytearrayStream(data), kmip_version=default)  # the header names the version
        response, _maximum, protocol = engine.process_request(request, identity)
        out = utils.BytearrayStream()
        response.write(out, kmip_version=contents.protocol_version_to_kmip_version(protocol))
        return bytes(out.buffer)

    return Side("PyKMIP", handle, versions={(2, 1): PYKMIP_NEWEST})


@dataclass
class Timing:
    wall_us: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)

    def median(self) -> tuple[float, float]:
        return statistics.median(self.wall_us), statistics.median(self.cpu_us)


def run_case(handle: Handler, queue: list[bytes], budget: float) -> tuple[float, float]:
    """(wall, CPU) microseconds per operation over at least `budget` seconds (chunks of 10)."""
    gc.collect()
    operations = 0
    wall_start, cpu_start = time.perf_counter(), time.process_time()
    deadline = wall_start + budget
    while True:
        for _ in range(10):
            handle(queue[0] if len(queue) == 1 else queue.pop())
        operations += 10
        wall = time.perf_counter()
        if wall >= deadline:
            break
    cpu = time.process_time() - cpu_start
    return (wall - wall_start) * 1e6 / operations, cpu * 1e6 / operations


def measure(sides: list[Side], rounds: int, budget: float) -> dict[str, dict[tuple[str, Version], Timing]]:
    results: dict[str, dict[tuple[str, Version], Timing]] = {
        side.name: {case: Timing() for case in CASES} for side in sides
    }
    for number in range(rounds):
        order = sides if number % 2 == 0 else sides[::-1]
        for case in CASES:
            for side in order:
                side.refill(case, budget)
                wall, cpu = run_case(side.handle, side.requests[case], budget)
                results[side.name][case].wall_us.append(wall)
                results[side.name][case].cpu_us.append(cpu)
    return results


def label(case: tuple[str, Version], side: Side) -> str:
    operation, version = case
    spoken = side.versions.get(version, version)
    return f"{operation.capitalize()} {spoken[0]}.{spoken[1]}"


def report(sides: list[Side], results: dict[str, dict[tuple[str, Version], Timing]]) -> list[str]:
    ours_side, *others = sides
    head = "| operation | pkcs11-kmip us/op (CPU) |"
    rule = "|---|---:|"
    for other in others:
        head += f" {other.name} us/op (CPU) | ratio (CPU) |"
        rule += "---:|---:|"
    lines = [head, rule]
    for case in CASES:
        wall, cpu = results[ours_side.name][case].median()
        line = f"| {label(case, ours_side)} | {wall:,.0f} ({cpu:,.0f}) |"
        for other in others:
            their_wall, their_cpu = results[other.name][case].median()
            line += (
                f" {their_wall:,.0f} ({their_cpu:,.0f}) as {label(case, other)} |"
                f" {their_wall / wall:.1f}x ({their_cpu / cpu:.1f}x) |"
            )
        lines.append(line)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.5, help="seconds per case, engine and round")
    parser.add_argument("--synchronous", default="NORMAL", choices=("NORMAL", "FULL"), help="our store's")
    parser.add_argument("--ours-only", action="store_true", help="leave PyKMIP out")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as temporary:
        directory = Path(temporary)
        sides, close = ours(directory, args.synchronous)
        if not args.ours_only:
            sides.append(pykmip(directory))
        try:
            for each in sides:
                each.prepare()
            results = measure(sides, args.rounds, args.budget)
        finally:
            close()
    if args.json:
        data: dict[str, Any] = {
            each.name: {label(case, each): vars(timing) for case, timing in results[each.name].items()}
            for each in sides
        }
        print(json.dumps(data, indent=2))
    else:
        pykmip_version = "" if args.ours_only else f", PyKMIP {importlib.metadata.version('pykmip')}"
        print(f"Python {platform.python_version()}{pykmip_version}, {os.cpu_count()} cores", end="; ")
        print(f"median of {args.rounds} rounds, {args.budget} s per case and round", end="; ")
        print(f"our store synchronous={args.synchronous}")
        print("\n".join(report(sides, results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
