"""The HSM key store against the database store: requests per second over TLS, same run.

Two servers on fresh data directories, one with `[store] keys = "database"`, one with
`keys = "hsm"` on a SoftHSM2 token in a temporary directory. One client each, one
request at a time, alternating rounds; each side keeps its best round. Reported per
operation with the ratio HSM / database:

- create-aes: Create of an AES-256 key (generated in the token, or by the server)
- encrypt-gcm: Encrypt of 1 KiB with AES-256-GCM
- sign-ecdsa: Sign of 1 KiB with ECDSA P-256 / SHA-256
- get-aes: Get of an extractable AES-256 key (read out of the token, or unsealed)

Run: .venv/bin/python bench/hsm_store_bench.py [--requests N] [--rounds N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, GetRequest, SignRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
)
from testsupport.hsm_store import create_key, create_pair, init_hsm_data_dir
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


def rate(work: Callable[[], object], requests: int) -> float:
    start = time.perf_counter()
    for _ in range(requests):
        work()
    return requests / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
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
