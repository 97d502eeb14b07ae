"""The HSM key store against the database store: requests per second over TLS, same run.

Two servers on fresh data directories, one with `[store] keys = "database"`, one with
`keys = "hsm"` on a SoftHSM2 token in a temporary directory. One client each, one
request at a time, alternating rounds; each side keeps its best round. Reported per
operation with the ratio HSM / database:

- create-aes: Create of an AES-256 key (generated in the token, or by the server)
- encrypt-gcm: Encrypt of 1 KiB with AES-256-GCM
- sign-ecdsa: Sign of 1 KiB with ECDSA P-256 / SHA-256
- get-aes: Get of an extractable AES-256 key (read out of the token, or unsealed)

With --while-pairs, instead: the latency of writers (create-aes; register-secret, a
Register of Secret Data, which both stores keep in the database) alone and while a
second client makes RSA-2048 key pairs without pause, on each server: the key pairs are
generated before the write transaction (operations.prepares; in the token for the HSM
store), so a writer should not wait for a generation's length.

Run: .venv/bin/python bench/hsm_store_bench.py [--requests N] [--rounds N] [--while-pairs]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SecretData
from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, GetRequest, RegisterRequest, SignRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
    KeyFormatType,
    ObjectType,
    SecretDataType,
)
from testsupport.hsm_store import attributes_of, create_key, create_pair, init_hsm_data_dir
from testsupport.server import RunningServer, start_server
from testsupport.softhsm import init_token

A = CryptographicAlgorithm
U = CryptographicUsageMask
DATA = bytes(1024)


def operations(kmip: KmipClient) -> dict[str, Callable[[], object]]:
    aes = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT)
    private, _ = create_pair(kmip, A.EC, 256)
    gcm = CryptographicParameters(block_cipher_mode=BlockCipherMode.GCM, tag_length=16)
    ecdsa = CryptographicParameters(digital_signature_algorithm=DigitalSignatureAlgorithm.ECDSA_WITH_SHA256)
    return {
        "create-aes": lambda: create_key(kmip, A.AES, 256, U.ENCRYPT),
        "encrypt-gcm": lambda: kmip.call(
            EncryptRequest(
                unique_identifier=aes, cryptographic_parameters=gcm, data=DATA, iv_counter_nonce=bytes(12)
            )
        ),
        "sign-ecdsa": lambda: kmip.call(
            SignRequest(unique_identifier=private, cryptographic_parameters=ecdsa, data=DATA)
        ),
        "get-aes": lambda: kmip.call(GetRequest(unique_identifier=aes)),
    }


def writers(kmip: KmipClient) -> dict[str, Callable[[], object]]:
    secret = SecretData(
        secret_data_type=SecretDataType.PASSWORD,
        key_block=KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=KeyValue(key_material=bytes(16))),
    )
    register = RegisterRequest(
        object_type=ObjectType.SECRET_DATA,
        attributes=attributes_of((Tag.CRYPTOGRAPHIC_USAGE_MASK, U.DERIVE_KEY)),
        object=secret,
    )
    return {
        "create-aes": lambda: create_key(kmip, A.AES, 256, U.ENCRYPT),
        "register-secret": lambda: kmip.call(register),
    }


def latencies(work: Callable[[], object], requests: int) -> list[float]:
    """Milliseconds of each of `requests` calls, one after the other."""
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return times


def while_pairs(servers: dict[str, RunningServer], requests: int, rounds: int) -> None:
    """Writers' latency alone and while another client makes RSA-2048 key pairs without pause."""
    print("| server | writer | alone p50 / p99 ms | with key pairs p50 / p99 ms | key pairs /s |")
    print("|---|---|---:|---:|---:|")
    for kind, server in servers.items():
        with server.client("bench-writer") as kmip, server.client("bench-pairs") as pairs:
            for name, work in writers(kmip).items():
                alone: list[float] = []
                busy: list[float] = []
                made = 0
                spent = 0.0
                for _ in range(rounds):
                    alone += latencies(work, requests)
                    stop = threading.Event()
                    count = [0]

                    def make(stop: threading.Event = stop, count: list[int] = count) -> None:
                        while not stop.is_set():
                            create_pair(pairs, A.RSA, 2048)
                            count[0] += 1

                    maker = threading.Thread(target=make)
                    started = time.perf_counter()
                    maker.start()
                    busy += latencies(work, requests)
                    stop.set()
                    maker.join()
                    spent += time.perf_counter() - started
                    made += count[0]
                print(
                    f"| {kind} | {name} | {_p(alone, 50):.1f} / {_p(alone, 99):.1f} "
                    f"| {_p(busy, 50):.1f} / {_p(busy, 99):.1f} | {made / spent:.1f} |"
                )


def _p(values: list[float], percent: int) -> float:
    return statistics.quantiles(values, n=100)[percent - 1] if percent < 100 else max(values)


def rate(work: Callable[[], object], requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        work()
    return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--while-pairs", action="store_true", help="writers' latency under key pairs")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        database = start_server(tmp / "database")
        token = init_token(tmp / "token", label="bench")
        init_hsm_data_dir(tmp / "hsm" / "data", token)
        hsm = RunningServer(tmp / "hsm" / "data")
        hsm.start()
        servers: dict[str, RunningServer] = {"database": database, "hsm": hsm}
        try:
            if options.while_pairs:
                while_pairs(servers, options.requests, options.rounds)
                return
            clients = {kind: server.client("bench") for kind, server in servers.items()}
            for client in clients.values():
                client.connect()
            works = {kind: operations(client) for kind, client in clients.items()}
            best: dict[tuple[str, str], float] = {}
            for _ in range(options.rounds):
                for name in works["database"]:
                    for kind in servers:
                        measured = rate(works[kind][name], options.requests)
                        best[kind, name] = max(best.get((kind, name), 0.0), measured)
            print("| operation | database /s | HSM /s | HSM / database |")
            print("|---|---:|---:|---:|")
            for name in works["database"]:
                db, hs = best["database", name], best["hsm", name]
                print(f"| {name} | {db:,.0f} | {hs:,.0f} | {hs / db:.2f}x |")
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
