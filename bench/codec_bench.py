#!/usr/bin/env python3
"""KMIP codec throughput: pkcs11-kmip's typed message layer against PyKMIP's, in one run.

Both sides do the same work: bytes -> typed message objects (decode) and typed
message objects -> bytes (encode), on three typical messages:

  get-response   a Get response carrying a 256-bit AES key
  locate-batch   a request batching 20 Locate operations (Name + Object Type filters)
  encrypt-4k     an Encrypt request with 4 KiB of data

The messages are KMIP 1.4 so PyKMIP can read them; the run first checks that PyKMIP
decodes each one and writes back the very same bytes. Timings interleave the two
codecs round by round and keep each one's best round, so a noisy machine moves
both alike; the ratio is what to read.

    python bench/codec_bench.py [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pkcs11_kmip.kmip.messages import (
    Attribute,
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, GetResponse, LocateRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, Name, ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    KeyFormatType,
    NameType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultStatus,
)

VERSION = ProtocolVersion.of((1, 4))


def get_response() -> ResponseMessage:
    key = SymmetricKey(
        key_block=KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=os.urandom(32)),
            cryptographic_algorithm=CryptographicAlgorithm.AES,
            cryptographic_length=256,
        )
    )
    payload = GetResponse(object_type=ObjectType.SYMMETRIC_KEY, unique_identifier="4b6e2c3a-1", object=key)
    return ResponseMessage(
        header=ResponseHeader(protocol_version=VERSION, time_stamp=datetime.now(UTC), batch_count=1),
        batch_items=[
            ResponseBatchItem(
                operation=Operation.GET, result_status=ResultStatus.SUCCESS, response_payload=payload
            )
        ],
    )


def locate_batch(size: int = 20) -> RequestMessage:
    def locate(index: int) -> RequestBatchItem:
        name = Name(name_value=f"key-{index}", name_type=NameType.UNINTERPRETED_TEXT_STRING)
        payload = LocateRequest(
            maximum_items=16,
            offset_items=index * 16,
            attribute_list=[
                Attribute(attribute_name="Name", attribute_value=name),
                Attribute(attribute_name="Object Type", attribute_value=ObjectType.SYMMETRIC_KEY),
            ],
        )
        return RequestBatchItem(
            operation=Operation.LOCATE, unique_batch_item_id=index.to_bytes(4, "big"), request_payload=payload
        )

    return RequestMessage(
        header=RequestHeader(protocol_version=VERSION, batch_count=size),
        batch_items=[locate(i) for i in range(size)],
    )


def encrypt_4k() -> RequestMessage:
    payload = EncryptRequest(
        unique_identifier="4b6e2c3a-1",
        cryptographic_parameters=CryptographicParameters(
            block_cipher_mode=BlockCipherMode.CBC,
            padding_method=PaddingMethod.PKCS5,
            cryptographic_algorithm=CryptographicAlgorithm.AES,
        ),
        data=os.urandom(4096),
        iv_counter_nonce=os.urandom(16),
    )
    return RequestMessage(
        header=RequestHeader(protocol_version=VERSION, batch_count=1),
        batch_items=[RequestBatchItem(operation=Operation.ENCRYPT, request_payload=payload)],
    )


def pykmip_codec(wire: bytes, is_request: bool) -> tuple[Callable[[], object], Callable[[], object]]:
    """PyKMIP's decode and encode of `wire`, after checking it reproduces the bytes."""
    from kmip.core import utils
    from kmip.core.messages import messages

    message_class = messages.RequestMessage if is_request else messages.ResponseMessage

    def decode() -> object:
        message = message_class()
        message.read(utils.BytearrayStream(wire))
        return message

    decoded = decode()

    def encode() -> bytes:
        stream = utils.BytearrayStream()
        decoded.write(stream)
        return bytes(stream.buffer)

    if encode() != wire:
        raise SystemExit(
            "PyKMIP does not reproduce the message byte for byte: the comparison would be unfair"
        )
    return decode, encode


def best_rate(operation: Callable[[], object], budget: float) -> float:
    """Operations per second of the fastest batch that fits in `budget` seconds."""
    count, elapsed = 1, 0.0
    while elapsed < budget / 4:  # size the batch to about a quarter of the budget
        count *= 2
        start = time.perf_counter()
        for _ in range(count):
            operation()
        elapsed = time.perf_counter() - start
    return count / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case (default 7)")
    parser.add_argument("--budget", type=float, default=0.2, help="seconds per round and codec (default 0.2)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    options = parser.parse_args(argv)

    cases = {"get-response": get_response(), "locate-batch": locate_batch(), "encrypt-4k": encrypt_4k()}
    results = []
    for name, message in cases.items():
        wire = message.encode()
        message_class = type(message)
        ours = {"decode": lambda m=message_class, w=wire: m.decode(w), "encode": message.encode}
        theirs = dict(
            zip(("decode", "encode"), pykmip_codec(wire, isinstance(message, RequestMessage)), strict=True)
        )
        for direction in ("decode", "encode"):
            best_ours = best_theirs = 0.0
            for _ in range(options.rounds):
                best_ours = max(best_ours, best_rate(ours[direction], options.budget))
                best_theirs = max(best_theirs, best_rate(theirs[direction], options.budget))
            results.append(
                {
                    "message": name,
                    "bytes": len(wire),
                    "direction": direction,
                    "pkcs11_kmip_per_s": round(best_ours),
                    "pykmip_per_s": round(best_theirs),
                    "ratio": round(best_ours / best_theirs, 1),
                }
            )
    if options.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"Python {sys.version.split()[0]}; best of {options.rounds} interleaved rounds")
    print("| message | bytes | direction | pkcs11-kmip /s | PyKMIP /s | ratio |")
    print("|---|---:|---|---:|---:|---:|")
    for row in results:
        print(
            f"| {row['message']} | {row['bytes']} | {row['direction']} | {row['pkcs11_kmip_per_s']:,} "
            f"| {row['pykmip_per_s']:,} | {row['ratio']}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
