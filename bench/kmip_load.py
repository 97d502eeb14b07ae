#!/usr/bin/env python3
"""KMIP load generator: our server against PyKMIP's, same machine, same run, same client.

N workers (processes by default, so the client side's GIL is not what is measured),
each with one persistent TLS connection, issue a scenario's operations back to back
for a fixed time and time each one:

  mix      Create AES-256, Get, Locate by Name, GetAttributes, Activate (weights: --mix)
  get      Get of a 256-bit AES key only
  create   Create of a 256-bit AES key only
  sign-ecdsa  Sign 64 bytes with a registered P-256 key (ECDSA with SHA-256)   } not run unless
  sign-rsa    Sign 64 bytes with a registered RSA-2048 key (PSS with SHA-256)  } named in
  mac         MAC 64 bytes with a registered 256-bit HMAC-SHA256 key           } --scenarios
  encrypt-64  Encrypt 64 bytes with a registered AES-256 key, GCM, fresh 12-byte IV }
  encrypt-4k  the same with 4,096 bytes (both need --version 1.4 or later)        }
  encrypt-64x16  16 such Encrypts of 64 bytes in one request (one batch)          }
  decrypt-64  Decrypt 64 bytes (AES-256-GCM, IV and tag given) the server encrypted }
  decrypt-4k  the same with 4,096 bytes (both need --version 1.4 or later)        }

For the Encrypt scenarios the report adds what pyca/cryptography does alone in the same
number of processes (the same AES-GCM encryptions, no server): the ceiling a server's
overhead is measured against (for encrypt-64x16, the server's figure is encryptions/s,
16 per request).

Fairness: both servers get the same client code (pkcs11_kmip.kmip.client.KmipClient),
the same KMIP version (1.2, which both speak), the same TLS (1.2 with
ECDHE-RSA-AES256-SHA384, the strongest suite both offer for an RSA certificate; --tls
native lets each pick), the same operation sequence per worker, the same seeded
objects, warm-up before every measurement, and never load on both at once: each
round starts one server on a fresh store, runs every scenario against it, stops it,
then does the same with the other; the order of the servers alternates from round to
round. Ratios are computed per round and the median is reported.

Every phase also records the CPU the server's process tree used (CPU ms per
operation is steadier than ops/s on a shared machine) and how many cores other
processes on the machine kept busy meanwhile (the noise).

    python bench/kmip_load.py                                 # 8 clients, 3 rounds, 10 s phases
    python bench/kmip_load.py --clients 1,8 --rounds 5 --duration 15 --json out.json
    python bench/kmip_load.py --servers ours --scenarios get --profile /tmp/prof
    python bench/kmip_load.py --ours-processes 2             # our server as 2 processes on one port
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import signal
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pkcs11_kmip.kmip.client import KmipClient, KmipConnectionError, KmipResultError, payload_of
from pkcs11_kmip.kmip.messages import Attributes, ResponseMessage
from pkcs11_kmip.kmip.messages.attributes import Attribute, TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, ManagedObject, PrivateKey, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CreateRequest,
    DecryptRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    MACRequest,
    RegisterRequest,
    SignRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, Name
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    KeyFormatType,
    NameType,
    ObjectType,
    Operation,
    PaddingMethod,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import CodecError, ItemType, Limits, binary

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pykmip_server import PyKmipServer

OPERATIONS = (
    "create",
    "get",
    "locate",
    "get_attributes",
    "activate",
    "sign_ecdsa",
    "sign_rsa",
    "mac",
    "encrypt_64",
    "encrypt_4k",
    "encrypt_64x16",
    "decrypt_64",
    "decrypt_4k",
)
DEFAULT_MIX = "create=1,get=4,locate=1,get_attributes=2,activate=1"
SCENARIOS = ("mix", "get", "create")
# Scenarios with a key made for them (run only when named): scenario -> its one operation.
CRYPTO_SCENARIOS = {
    "sign-ecdsa": "sign_ecdsa",
    "sign-rsa": "sign_rsa",
    "mac": "mac",
    "encrypt-64": "encrypt_64",
    "encrypt-4k": "encrypt_4k",
    "encrypt-64x16": "encrypt_64x16",
    "decrypt-64": "decrypt_64",
    "decrypt-4k": "decrypt_4k",
}
CRYPTO_DATA = bytes(range(64))
PLAINTEXTS = {"encrypt_64": bytes(64), "encrypt_4k": bytes(4096), "encrypt_64x16": bytes(64)}
# What a Decrypt scenario decrypts: each worker has the server encrypt it once (its first
# request), then decrypts that ciphertext, IV and tag again and again.
DECRYPTED = {"decrypt_64": bytes(64), "decrypt_4k": bytes(4096)}
BATCHED = {"encrypt_64x16": 16}  # Encrypt items per request
AES_GCM = CryptographicParameters(
    cryptographic_algorithm=CryptographicAlgorithm.AES, block_cipher_mode=BlockCipherMode.GCM, tag_length=16
)
CRYPTO_PARAMETERS = {
    "sign_ecdsa": CryptographicParameters(
        cryptographic_algorithm=CryptographicAlgorithm.ECDSA, hashing_algorithm=HashingAlgorithm.SHA_256
    ),
    "sign_rsa": CryptographicParameters(
        cryptographic_algorithm=CryptographicAlgorithm.RSA,
        padding_method=PaddingMethod.PSS,
        hashing_algorithm=HashingAlgorithm.SHA_256,
    ),
    "mac": CryptographicParameters(cryptographic_algorithm=CryptographicAlgorithm.HMAC_SHA256),
    "encrypt_64": AES_GCM,
    "encrypt_4k": AES_GCM,
    "encrypt_64x16": AES_GCM,
    "decrypt_64": AES_GCM,
    "decrypt_4k": AES_GCM,
}
SAME_TLS_CIPHER = "ECDHE-RSA-AES256-SHA384"
START_TIMEOUT = 60.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- KMIP requests in the attribute form of the version spoken ----------------------------------


def _name(value: str) -> Name:
    return Name(name_value=value, name_type=NameType.UNINTERPRETED_TEXT_STRING)


def create_request(version: Version, name: str) -> CreateRequest:
    """Create AES-256 for encrypt/decrypt with a Name: what MongoDB and vSphere send."""
    usage = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
    if version >= (2, 0):
        attributes = Attributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage),
            (Tag.NAME, _name(name)),
        )
        return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
    template = TemplateAttribute(
        attributes=[
            Attribute(attribute_name="Cryptographic Algorithm", attribute_value=CryptographicAlgorithm.AES),
            Attribute(attribute_name="Cryptographic Length", attribute_value=256),
            Attribute(attribute_name="Cryptographic Usage Mask", attribute_value=usage),
            Attribute(attribute_name="Name", attribute_value=_name(name)),
        ]
    )
    return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, template_attribute=template)


def locate_request(version: Version, name: str) -> LocateRequest:
    if version >= (2, 0):
        return LocateRequest(attributes=Attributes.of((Tag.NAME, _name(name))))
    return LocateRequest(attribute_list=[Attribute(attribute_name="Name", attribute_value=_name(name))])


GET_ATTRIBUTES = (Tag.STATE, Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.CRYPTOGRAPHIC_LENGTH)


def get_attributes_request(version: Version, uid: str) -> GetAttributesRequest:
    if version >= (2, 0):
        return GetAttributesRequest(unique_identifier=uid, attribute_references=list(GET_ATTRIBUTES))
    names = ["State", "Cryptographic Algorithm", "Cryptographic Length"]
    return GetAttributesRequest(unique_identifier=uid, attribute_names=names)


# --- the client side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """How a worker reaches a server: address, client identity, protocol and TLS choice."""

    host: str
    port: int
    cert: str
    key: str
    ca: str
    version: Version
    same_tls: bool
    get_check: str = "bytes"  # how a worker checks a Get's answer (--get-check)
    create_check: str = "bytes"  # how a worker encodes a Create and checks its answer (--create-check)

    def client(self) -> KmipClient:
        client = KmipClient(
            self.host, self.port, cert=self.cert, key=self.key, ca=self.ca, version=self.version, timeout=60
        )
        if self.same_tls:
            # The context is built in __init__ and used at connect(): pin it before connecting.
            context: ssl.SSLContext = client._context
            context.maximum_version = ssl.TLSVersion.TLSv1_2
            context.set_ciphers(SAME_TLS_CIPHER)
        return client


@dataclass(frozen=True)
class Target:
    """A seeded key the read operations aim at (one Name each, so Locate finds exactly one)."""

    uid: str
    name: str


@dataclass
class WorkerJob:
    index: int
    endpoint: Endpoint
    sequence: tuple[str, ...]  # the scenario's operations, cycled
    targets: tuple[Target, ...]
    tag: str  # makes the names of created keys unique across phases


@dataclass
class WorkerResult:
    latencies: dict[str, array[float]]  # seconds, of the operations completed in the window
    errors: dict[str, int]
    error_samples: list[str]
    cpu_seconds: float | None  # this worker's CPU in the window (process mode only)


class _Runner:
    """One worker's operations against one connection."""

    def __init__(self, job: WorkerJob, client: KmipClient) -> None:
        self.job = job
        self.client = client
        self.version = job.endpoint.version
        self.random = random.Random(job.index * 7919 + 17)
        self.pending: list[str] = []  # created keys not yet activated
        self.created = 0
        self.get_requests: dict[str, tuple[int, bytes]] = {}  # uid -> (second, encoded Get)
        self.verified: dict[str, bytes] = {}  # uid -> a Batch Item decoded and checked once
        self.sealed: dict[str, DecryptRequest] = {}  # Decrypt scenario -> the request it repeats
        self.create_frame: tuple[int, int, bytes, bytes] | None = None  # (second, name length, head, tail)

    def run(self, operation: str) -> str:
        """Run one operation; return the operation actually run (Activate needs a fresh key)."""
        if operation == "activate" and not self.pending:
            operation = "create"
        getattr(self, operation)()
        return operation

    def _target(self) -> Target:
        return self.random.choice(self.job.targets)

    def create(self) -> None:
        self.created += 1
        name = f"load-{self.job.tag}-w{self.job.index}-{self.created:09d}"
        if self.job.endpoint.create_check == "decode":
            uid = self.client.call(create_request(self.version, name)).unique_identifier
        else:
            uid = self._create_framed(name)
        if "activate" in self.job.sequence:
            self.pending.append(uid)
            del self.pending[:-64]

    def _create_framed(self, name: str) -> str:
        """Create a key by a request encoded once a second around its Name; check the answer's
        items (Create, Success, a Symmetric Key and its Unique Identifier) untyped.

        The typed codec both ways costs the load generator about 90 us of CPU per Create on
        the cores it shares with the server (--create-check decode). Every answer is still
        read: one of any other form is decoded in full, a failure raising its Result Reason.
        """
        second, encoded_name = int(time.time()), name.encode()
        frame = self.create_frame
        if frame is None or frame[0] != second or frame[1] != len(encoded_name):
            stand_in = "#" * len(encoded_name)  # a Text String of the same length pads the same
            request = self.client.request_message(create_request(self.version, stand_in)).encode()
            head, found, tail = request.partition(stand_in.encode())
            if not found or stand_in.encode() in tail:
                raise ValueError("the Create request does not hold its Name exactly once")
            frame = self.create_frame = (second, len(encoded_name), head, tail)
        response = self.client.exchange(frame[2] + encoded_name + frame[3])
        uid = _created_uid(response, self.client.limits)
        if uid is None:
            payload = payload_of(ResponseMessage.decode(response, self.client.limits).batch_items)
            raise ValueError(f"Create answered a successful {type(payload).__name__} of an unexpected form")
        return uid

    def get(self) -> None:
        """Get a seeded key; its answer decoded and checked (--get-check decode), or (bytes)
        its Batch Item compared byte for byte with one decoded and checked before.

        The second saves the load generator the typed codec per Get (encoding the request,
        decoding the answer: about 0.3 ms of CPU, more than our server spends on a Get),
        which on a machine it shares with the server is CPU the server cannot have. The
        check is as strict: an answer differing in any byte but the header's (Time Stamp,
        correlation values) is decoded and checked in full, and a failure is an error.
        """
        uid = self._target().uid
        if self.job.endpoint.get_check == "decode":
            _check_get(self.client.call(GetRequest(unique_identifier=uid)))
            return
        second = int(time.time())
        cached = self.get_requests.get(uid)
        if cached is None or cached[0] != second:  # KmipClient stamps its requests to the second
            cached = (second, self.client.request_message(GetRequest(unique_identifier=uid)).encode())
            self.get_requests[uid] = cached
        response = self.client.exchange(cached[1])
        item = _batch_item_bytes(response)
        if self.verified.get(uid) != item:
            _check_get(payload_of(ResponseMessage.decode(response, self.client.limits).batch_items))
            self.verified[uid] = item

    def locate(self) -> None:
        target = self._target()
        found = self.client.call(locate_request(self.version, target.name)).unique_identifiers
        if list(found) != [target.uid]:
            raise ValueError(f"Locate by Name found {len(found)} objects, expected exactly the seeded one")

    def get_attributes(self) -> None:
        self.client.call(get_attributes_request(self.version, self._target().uid))

    def activate(self) -> None:
        self.client.call(ActivateRequest(unique_identifier=self.pending.pop()))

    def _crypto(self, operation: str) -> bytes | None:
        if not self.job.targets:
            raise ValueError("the server refused the key this scenario registers")
        uid, parameters = self._target().uid, CRYPTO_PARAMETERS[operation]
        if operation in PLAINTEXTS:
            requests = [
                EncryptRequest(
                    unique_identifier=uid,
                    cryptographic_parameters=parameters,
                    data=PLAINTEXTS[operation],
                    iv_counter_nonce=os.urandom(12),
                )
                for _ in range(BATCHED.get(operation, 1))
            ]
            if len(requests) == 1:
                ciphertext: bytes | None = self.client.call(requests[0]).data
                return ciphertext
            items = self.client.batch(*requests)  # a failed item raises, as call's one does
            return b"".join(payload_of([item]).data or b"" for item in items)
        if operation == "mac":
            mac: bytes | None = self.client.call(
                MACRequest(unique_identifier=uid, cryptographic_parameters=parameters, data=CRYPTO_DATA)
            ).mac_data
            return mac
        answer = self.client.call(
            SignRequest(unique_identifier=uid, cryptographic_parameters=parameters, data=CRYPTO_DATA)
        )
        signature: bytes | None = answer.signature_data
        return signature

    def _decrypt(self, operation: str) -> None:
        """Decrypt what the server encrypted for this worker (the first time, in the warm-up)."""
        plaintext = DECRYPTED[operation]
        asked = self.sealed.get(operation)
        if asked is None:
            if not self.job.targets:
                raise ValueError("the server refused the key this scenario registers")
            uid, iv = self._target().uid, os.urandom(12)
            sealed = self.client.call(
                EncryptRequest(
                    unique_identifier=uid,
                    cryptographic_parameters=AES_GCM,
                    data=plaintext,
                    iv_counter_nonce=iv,
                )
            )
            asked = self.sealed[operation] = DecryptRequest(
                unique_identifier=uid,
                cryptographic_parameters=AES_GCM,
                data=sealed.data,
                iv_counter_nonce=iv,
                authenticated_encryption_tag=sealed.authenticated_encryption_tag,
            )
        if self.client.call(asked).data != plaintext:
            raise ValueError(f"Decrypt did not return the {len(plaintext):,} bytes encrypted")

    def decrypt_64(self) -> None:
        self._decrypt("decrypt_64")

    def decrypt_4k(self) -> None:
        self._decrypt("decrypt_4k")

    def sign_ecdsa(self) -> None:
        if not self._crypto("sign_ecdsa"):
            raise ValueError("Sign returned no signature")

    def sign_rsa(self) -> None:
        if len(self._crypto("sign_rsa") or b"") != 256:
            raise ValueError("Sign returned no RSA-2048 signature")

    def mac(self) -> None:
        if len(self._crypto("mac") or b"") != 32:
            raise ValueError("MAC returned no HMAC-SHA256")

    def encrypt_64(self) -> None:
        if len(self._crypto("encrypt_64") or b"") != 64:
            raise ValueError("Encrypt returned no 64-byte ciphertext")

    def encrypt_4k(self) -> None:
        if len(self._crypto("encrypt_4k") or b"") != 4096:
            raise ValueError("Encrypt returned no 4,096-byte ciphertext")

    def encrypt_64x16(self) -> None:
        if len(self._crypto("encrypt_64x16") or b"") != 16 * 64:
            raise ValueError("a batch of Encrypts returned no 16 64-byte ciphertexts")


def _check_get(payload: Any) -> None:
    if len(payload.object.key_block.key_value.key_material) != 32:
        raise ValueError("Get returned a key that is not 256 bits")


_RESPONSE_HEADER_WORD = int(Tag.RESPONSE_HEADER) << 8 | 0x01


def _created_uid(response: bytes, limits: Limits) -> str | None:
    """The Unique Identifier of a one-item answer to Create that succeeded with a Symmetric
    Key, read from the untyped items; None for an answer of any other form or content."""
    try:
        item = binary.decode(_batch_item_bytes(response), limits)
    except CodecError:
        return None
    if item.tag != _BATCH_ITEM:
        return None
    operation, status, payload = (item.find(tag) for tag in _CREATE_ITEM_TAGS)
    if operation is None or operation.value != _CREATE or payload is None:
        return None
    if status is None or status.value != _SUCCESS:
        return None
    object_type, uid = payload.find(_OBJECT_TYPE), payload.find(_UNIQUE_IDENTIFIER)
    if object_type is None or object_type.value != _SYMMETRIC_KEY:
        return None
    if uid is None or uid.type != _TEXT_STRING or not uid.value:
        return None
    return str(uid.value)


# Read once: an Enum member lookup costs about 0.1 us on Python 3.11, 5x a class attribute.
_CREATE_ITEM_TAGS = (int(Tag.OPERATION), int(Tag.RESULT_STATUS), int(Tag.RESPONSE_PAYLOAD))
_BATCH_ITEM, _OBJECT_TYPE = int(Tag.BATCH_ITEM), int(Tag.OBJECT_TYPE)
_UNIQUE_IDENTIFIER = int(Tag.UNIQUE_IDENTIFIER)
_CREATE, _SUCCESS = int(Operation.CREATE), int(ResultStatus.SUCCESS)
_SYMMETRIC_KEY, _TEXT_STRING = int(ObjectType.SYMMETRIC_KEY), int(ItemType.TEXT_STRING)


def _batch_item_bytes(response: bytes) -> bytes:
    """What follows a response message's header (its Batch Items), or b"" if the message does
    not start with a Response Header (which is then decoded and checked, and fails)."""
    word, length = struct.unpack_from(">II", response, 8) if len(response) >= 16 else (0, 0)
    return response[16 + length :] if word == _RESPONSE_HEADER_WORD else b""


def worker_main(job: WorkerJob, channel: Connection, in_process: bool) -> None:
    """Connect, say ready, receive (start, window start, stop) times, loop, send the results."""
    latencies: dict[str, array[float]] = {op: array("d") for op in OPERATIONS}
    errors: dict[str, int] = {}
    samples: list[str] = []
    client = job.endpoint.client()
    try:
        client.connect()
    except OSError as error:
        channel.send(("failed", f"worker {job.index}: {error}"))
        return
    channel.send(("ready", job.index))
    message = channel.recv()
    if message[0] != "go":
        client.close()
        return
    _, start, window, stop = message
    runner = _Runner(job, client)
    sequence = job.sequence
    position = job.index % len(sequence)  # workers start at different points of the cycle
    cpu_start: float | None = None
    now = time.monotonic()
    while now < start:
        time.sleep(min(start - now, 0.05))
        now = time.monotonic()
    while now < stop:
        operation = sequence[position]
        position = (position + 1) % len(sequence)
        began = time.monotonic()
        if cpu_start is None and began >= window:
            cpu_start = time.process_time()
        try:
            done = runner.run(operation)
        except (KmipResultError, KmipConnectionError, ValueError, OSError) as error:
            now = time.monotonic()
            if window <= now < stop:
                errors[operation] = errors.get(operation, 0) + 1
                if len(samples) < 5:
                    samples.append(f"{operation}: {type(error).__name__}: {error}")
            if isinstance(error, KmipConnectionError):
                time.sleep(0.05)  # reconnects on the next call
            continue
        now = time.monotonic()
        if window <= now < stop:
            latencies[done].append(now - began)
    cpu_end = time.process_time()
    client.close()
    cpu = (cpu_end - cpu_start) if (in_process and cpu_start is not None) else None
    channel.send(("done", WorkerResult(latencies, errors, samples, cpu)))


# --- the server side ----------------------------------------------------------------------------


def venv_script(name: str) -> list[str]:
    script = Path(sys.executable).with_name(name)
    return [str(script)] if script.exists() else [sys.executable, "-m", "pkcs11_kmip.cli"]


class OurServer:
    """`pkcs11-kmip serve` on a fresh copy of a template data directory (same PKI, empty store)."""

    label = "pkcs11-kmip"

    def __init__(self, template: Path, workdir: Path) -> None:
        self.template = template
        self.data_dir = workdir / "data"
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> None:
        shutil.copytree(self.template, self.data_dir)
        log = open(self.data_dir.parent / "server.log", "a")  # noqa: SIM115 - the child writes to it
        self.process = subprocess.Popen(
            [
                *venv_script("pkcs11-kmip"),
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            found = re.search(r"listening on (\S+):(\d+)", line)
            if found:
                self.port = int(found.group(2))
                return
        raise RuntimeError(f"our server did not start:\n{self.logs()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def logs(self) -> str:
        path = self.data_dir.parent / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


class TheirServer:
    """PyKMIP's server on a fresh SQLite database, certificate from the same CA."""

    label = "PyKMIP"

    def __init__(self, template: Path, workdir: Path) -> None:
        self.server = PyKmipServer(
            workdir / "pykmip", template / "pki" / "ca.crt", template / "pki" / "ca.key"
        )

    def start(self) -> None:
        self.server.start()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def logs(self) -> str:
        return self.server.logs()

    def stop(self) -> None:
        self.server.stop()


Server = OurServer | TheirServer


# --- measuring the machine ----------------------------------------------------------------------


def stat_fields(path: str) -> list[str] | None:
    """The fields of a /proc stat file after the command's name (state first), or None if gone."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def tree_cpu_seconds(root: int) -> float:
    """CPU (user + system) used so far by a process and all its descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (fields := stat_fields(f"/proc/{entry}/stat")) is None:
            continue
        pid = int(entry)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return sum(times.get(pid, 0.0) for pid in members)


def thread_cpu_seconds(pid: int) -> dict[int, tuple[float, float]]:
    """CPU (user, system) used so far by each thread of one process, by thread id."""
    times = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir(f"/proc/{pid}/task"):
            if (fields := stat_fields(f"/proc/{pid}/task/{entry}/stat")) is None:
                continue
            times[int(entry)] = (int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK)
    return times


def stall_seconds() -> dict[str, float]:
    """Seconds some task waited for CPU / for I/O since boot (Linux PSI; empty if unavailable)."""
    stalls = {}
    for resource in ("cpu", "io"):
        try:
            with open(f"/proc/pressure/{resource}") as handle:
                some = handle.readline().split()
        except OSError:
            continue
        stalls[resource] = int(some[-1].partition("=")[2]) / 1e6
    return stalls


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


# --- one phase: N workers against one server for a duration -------------------------------------


@dataclass
class Phase:
    round: int
    server: str
    scenario: str
    clients: int
    duration: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    server_cpu: float = 0.0
    # The server process's threads' (user, system) CPU: the main (event-loop) thread first,
    # then the others, busiest first.
    thread_cpu: list[tuple[float, float]] = field(default_factory=list)
    client_cpu: float | None = None
    machine_busy: float = 0.0
    load_before: float = 0.0
    load_after: float = 0.0
    stalls: dict[str, float] = field(default_factory=dict)  # fraction of the window someone waited

    @property
    def total_ops(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def other_cores(self) -> float | None:
        """Cores kept busy by processes that are neither this server nor the load generator."""
        if self.client_cpu is None:
            return None
        return max(self.machine_busy - self.server_cpu - self.client_cpu, 0.0) / self.duration

    def summary(self) -> dict[str, Any]:
        ops = {}
        for op, values in self.latencies.items():
            if values or self.errors.get(op):
                ops[op] = {
                    "count": len(values),
                    "ops_per_s": len(values) / self.duration,
                    **latency_stats(values),
                    "errors": self.errors.get(op, 0),
                }
        total = self.total_ops
        return {
            "round": self.round,
            "server": self.server,
            "scenario": self.scenario,
            "clients": self.clients,
            "duration_s": self.duration,
            "total_ops_per_s": total / self.duration,
            "operations": ops,
            "server_cpu_ms_per_op": 1000 * self.server_cpu / total if total else None,
            "server_cores": self.server_cpu / self.duration,
            "thread_cpu_ms_per_op": [[1000 * u / total, 1000 * s / total] for u, s in self.thread_cpu]
            if total
            else None,
            "client_cpu_ms_per_op": 1000 * self.client_cpu / total if total and self.client_cpu else None,
            "other_cores": self.other_cores,
            "loadavg_1min": [self.load_before, self.load_after],
            "pressure_some": self.stalls,
            "error_samples": self.error_samples,
        }


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def latency_stats(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean_ms": None, "p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    return {
        "mean_ms": 1000 * statistics.fmean(ordered),
        "p50_ms": 1000 * percentile(ordered, 0.50),
        "p99_ms": 1000 * percentile(ordered, 0.99),
        "max_ms": 1000 * ordered[-1],
    }


def spawn_workers(
    jobs: list[WorkerJob], mode: str
) -> tuple[list[Connection], Callable[[], None], Callable[[], None]]:
    """Start one worker per job; return their channels, a join and a kill."""
    channels: list[Connection] = []
    if mode == "process":
        context = multiprocessing.get_context("fork")
        processes = []
        for job in jobs:
            ours, theirs = context.Pipe()
            process = context.Process(target=worker_main, args=(job, theirs, True), daemon=True)
            process.start()
            theirs.close()
            processes.append(process)
            channels.append(ours)

        def join() -> None:
            for process in processes:
                process.join(timeout=30)

        def kill() -> None:
            for process in processes:
                if process.is_alive():
                    process.kill()

        return channels, join, kill
    threads = []
    for job in jobs:
        ours, theirs = multiprocessing.Pipe()
        thread = threading.Thread(target=worker_main, args=(job, theirs, False), daemon=True)
        thread.start()
        threads.append(thread)
        channels.append(ours)

    def join_threads() -> None:
        for thread in threads:
            thread.join(timeout=30)

    return channels, join_threads, lambda: None


def run_phase(
    server: Server,
    endpoint: Endpoint,
    scenario: str,
    sequence: tuple[str, ...],
    targets: tuple[Target, ...],
    clients: int,
    args: argparse.Namespace,
    round_index: int,
    profile: Path | None,
) -> Phase:
    tag = f"r{round_index}-{scenario}-c{clients}"
    jobs = [WorkerJob(i, endpoint, sequence, targets, tag) for i in range(clients)]
    channels, join, kill = spawn_workers(jobs, args.mode)
    phase = Phase(round_index, server.label, scenario, clients, args.duration)
    try:
        for channel in channels:
            if not channel.poll(START_TIMEOUT):
                raise RuntimeError("a worker did not connect in time")
            status, detail = channel.recv()
            if status != "ready":
                raise RuntimeError(f"a worker could not connect to {server.label}: {detail}")
        start = time.monotonic() + 0.1
        window = start + args.warmup
        stop = window + args.duration
        for channel in channels:
            channel.send(("go", start, window, stop))
        time.sleep(max(window - time.monotonic(), 0))
        phase.load_before = os.getloadavg()[0]
        cpu0, busy0, stalls0 = tree_cpu_seconds(server.pid), machine_busy_seconds(), stall_seconds()
        threads0 = thread_cpu_seconds(server.pid)
        spy = start_profile(server.pid, profile, args.duration) if profile else None
        time.sleep(max(stop - time.monotonic(), 0))
        cpu1, busy1, stalls1 = tree_cpu_seconds(server.pid), machine_busy_seconds(), stall_seconds()
        threads1 = thread_cpu_seconds(server.pid)
        used = {
            tid: (user - threads0.get(tid, (0.0, 0.0))[0], system - threads0.get(tid, (0.0, 0.0))[1])
            for tid, (user, system) in threads1.items()
        }
        main = used.pop(server.pid, (0.0, 0.0))
        phase.thread_cpu = [main, *sorted(used.values(), key=sum, reverse=True)]
        phase.stalls = {k: (stalls1[k] - v) / args.duration for k, v in stalls0.items() if k in stalls1}
        phase.load_after = os.getloadavg()[0]
        phase.server_cpu, phase.machine_busy = cpu1 - cpu0, busy1 - busy0
        client_cpu = 0.0
        for channel in channels:
            if not channel.poll(args.duration + 90):
                raise RuntimeError(f"a worker never finished against {server.label} (server stuck?)")
            status, result = channel.recv()
            if status != "done":
                raise RuntimeError(f"worker failed: {result}")
            for op, values in result.latencies.items():
                phase.latencies.setdefault(op, []).extend(values)
            for op, count in result.errors.items():
                phase.errors[op] = phase.errors.get(op, 0) + count
            phase.error_samples.extend(result.error_samples[: max(0, 5 - len(phase.error_samples))])
            client_cpu = client_cpu + result.cpu_seconds if result.cpu_seconds is not None else math.nan
        phase.client_cpu = None if math.isnan(client_cpu) else client_cpu
        if spy is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy.wait(timeout=30)
    finally:
        kill()
        join()
        for channel in channels:
            channel.close()
    return phase


def start_profile(pid: int, out: Path, duration: float) -> subprocess.Popen[bytes] | None:
    """py-spy record of the server during the measured window, if py-spy is installed."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_suffix(".log"), "wb") as log:
        return subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(duration)),
                "--rate",
                "200",
                "--threads",
                "--format",
                "speedscope",
                "--output",
                str(out),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def seed(endpoint: Endpoint, count: int, tag: str) -> tuple[Target, ...]:
    """The keys the read operations use, made over one connection before any phase."""
    targets = []
    with endpoint.client() as client:
        for index in range(count):
            name = f"seed-{tag}-{index}"
            uid = client.call(create_request(endpoint.version, name)).unique_identifier
            targets.append(Target(uid, name))
    return tuple(targets)


def crypto_key(operation: str) -> tuple[ObjectType, ManagedObject, CryptographicUsageMask]:
    """The key a crypto scenario registers: P-256 or RSA-2048 (PKCS#8), HMAC-SHA256 or AES-256 (Raw)."""
    if operation == "mac" or operation in PLAINTEXTS or operation in DECRYPTED:
        encrypts = operation != "mac"
        block = KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=os.urandom(32)),
            cryptographic_algorithm=CryptographicAlgorithm.AES
            if encrypts
            else CryptographicAlgorithm.HMAC_SHA256,
            cryptographic_length=256,
        )
        usage = (
            CryptographicUsageMask.MAC_GENERATE
            if not encrypts
            else CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
            if operation in DECRYPTED
            else CryptographicUsageMask.ENCRYPT
        )
        return ObjectType.SYMMETRIC_KEY, SymmetricKey(key_block=block), usage
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if operation == "sign_ecdsa":
        key, algorithm = ec.generate_private_key(ec.SECP256R1()), CryptographicAlgorithm.EC
    else:
        key, algorithm = rsa.generate_private_key(65537, 2048), CryptographicAlgorithm.RSA
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    block = KeyBlock(
        key_format_type=KeyFormatType.PKCS_8,
        key_value=KeyValue(key_material=der),
        cryptographic_algorithm=algorithm,
        cryptographic_length=key.key_size,
    )
    return ObjectType.PRIVATE_KEY, PrivateKey(key_block=block), CryptographicUsageMask.SIGN


def seed_crypto(endpoint: Endpoint, scenarios: list[str], tag: str) -> dict[str, tuple[Target, ...]]:
    """Register and activate the key of each crypto scenario asked for (none if the server refuses it)."""
    targets: dict[str, tuple[Target, ...]] = {}
    with endpoint.client() as client:
        for scenario in scenarios:
            operation = CRYPTO_SCENARIOS.get(scenario)
            if operation is None:
                continue
            object_type, value, usage = crypto_key(operation)
            name = f"seed-{tag}-{scenario}"
            template = TemplateAttribute(
                attributes=[
                    Attribute(attribute_name="Cryptographic Usage Mask", attribute_value=usage),
                    Attribute(attribute_name="Name", attribute_value=_name(name)),
                ]
            )
            fields: dict[str, Any] = (
                {"attributes": Attributes.of((Tag.CRYPTOGRAPHIC_USAGE_MASK, usage), (Tag.NAME, _name(name)))}
                if endpoint.version >= (2, 0)
                else {"template_attribute": template}
            )
            try:
                uid = client.call(
                    RegisterRequest(object_type=object_type, object=value, **fields)
                ).unique_identifier
                client.call(ActivateRequest(unique_identifier=uid))
            except KmipResultError as error:
                print(
                    f"{scenario}: the server refused its key ({error}); its operations will count as errors"
                )
                targets[scenario] = ()
                continue
            targets[scenario] = (Target(uid, name),)
    return targets


# --- the run ------------------------------------------------------------------------------------


def parse_mix(text: str) -> tuple[str, ...]:
    """Weights -> one cycle of operations, interleaved (smooth weighted round robin)."""
    weights: dict[str, int] = {}
    for part in text.split(","):
        op, _, weight = part.partition("=")
        op = op.strip().replace("-", "_")
        if op not in OPERATIONS:
            raise argparse.ArgumentTypeError(f"unknown operation {op!r} (known: {', '.join(OPERATIONS)})")
        weights[op] = int(weight or 1)
    if weights.get("activate", 0) > weights.get("create", 0):
        raise argparse.ArgumentTypeError("activate needs at least as many creates (it activates fresh keys)")
    total = sum(weights.values())
    current = dict.fromkeys(weights, 0)
    cycle = []
    for _ in range(total):
        for op, share in weights.items():
            current[op] += share
        chosen = max(current, key=lambda op: current[op])
        current[chosen] -= total
        cycle.append(chosen)
    return tuple(cycle)


def sequences(args: argparse.Namespace) -> dict[str, tuple[str, ...]]:
    crypto = {scenario: (operation,) for scenario, operation in CRYPTO_SCENARIOS.items()}
    return {"mix": args.mix, "get": ("get",), "create": ("create",), **crypto}


def make_template(
    workdir: Path, synchronous: str | None = None, processes: int = 1, event_loop: str | None = None
) -> Path:
    """A data directory every run of our server copies: one PKI (also PyKMIP's), empty store,
    our server with `processes` server processes ([server] processes) on `event_loop`."""
    template = workdir / "template"
    subprocess.run(
        [*venv_script("pkcs11-kmip"), "init", "--data-dir", str(template)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    settings = {"processes": str(processes)}
    if synchronous:
        settings["synchronous"] = f'"{synchronous}"'
    if event_loop:
        settings["event_loop"] = f'"{event_loop}"'
    config = template / "server.toml"
    text = config.read_text()
    for key, value in settings.items():
        text, found = re.subn(rf"(?m)^{key} = \S+", f"{key} = {value}", text)
        if not found:
            raise RuntimeError(f"no {key} setting in {config}")
    config.write_text(text)
    return template


def run(args: argparse.Namespace, workdir: Path) -> list[Phase]:
    template = make_template(workdir, args.ours_synchronous, args.ours_processes, args.ours_event_loop)
    admin = template / "clients" / "admin"
    phases: list[Phase] = []
    makers: dict[str, Callable[[Path], Server]] = {
        "ours": lambda where: OurServer(template, where),
        "pykmip": lambda where: TheirServer(template, where),
    }
    for round_index in range(1, args.rounds + 1):
        order = list(args.servers) if round_index % 2 else list(reversed(args.servers))
        for key in order:
            server = makers[key](workdir / f"round{round_index}-{key}")
            server.start()
            try:
                endpoint = Endpoint(
                    "127.0.0.1",
                    server.port,
                    str(admin / "client.crt"),
                    str(admin / "client.key"),
                    str(admin / "ca.crt"),
                    args.version,
                    args.tls == "same",
                    args.get_check,
                    args.create_check,
                )
                targets = seed(endpoint, args.seed_keys, f"r{round_index}")
                crypto_targets = seed_crypto(endpoint, args.scenarios, f"r{round_index}")
                for scenario in args.scenarios:
                    for clients in args.clients:
                        profile = None
                        if args.profile and round_index == 1:
                            profile = args.profile / f"{key}-{scenario}-c{clients}.speedscope.json"
                        phase = run_phase(
                            server,
                            endpoint,
                            scenario,
                            sequences(args)[scenario],
                            crypto_targets.get(scenario, targets),
                            clients,
                            args,
                            round_index,
                            profile,
                        )
                        phases.append(phase)
                        print(phase_line(phase), flush=True)
            except Exception:
                print(f"--- {server.label} log (tail) ---\n{server.logs()}", file=sys.stderr)
                raise
            finally:
                server.stop()
    return phases


# --- reporting ----------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def phase_line(phase: Phase) -> str:
    summary = phase.summary()
    ops = " ".join(
        f"{op}={fmt(stats['ops_per_s'], 0)}/s p99={fmt(stats['p99_ms'], 2)}ms"
        + (f" ERR={stats['errors']}" if stats["errors"] else "")
        for op, stats in summary["operations"].items()
    )
    other = summary["other_cores"]
    return (
        f"round {phase.round} {phase.server:<11} {phase.scenario:<6} c={phase.clients:<2} "
        f"total={fmt(summary['total_ops_per_s'], 0)}/s server={fmt(summary['server_cpu_ms_per_op'], 3)}ms/op "
        f"({fmt(summary['server_cores'], 2)} cores) client={fmt(summary['client_cpu_ms_per_op'], 3)}ms/op "
        f"others={fmt(other, 2)} cores cpu-stall={fmt(100 * phase.stalls.get('cpu', 0), 0)}% "
        f"io-stall={fmt(100 * phase.stalls.get('io', 0), 0)}% | {ops}"
        + threads_note(summary["thread_cpu_ms_per_op"])
    )


def threads_note(per_op: list[list[float]] | None) -> str:
    """The server's main (event-loop) thread, then its busiest other threads: CPU ms/op (of it system)."""
    if not per_op:
        return ""
    busy = [per_op[0], *(t for t in per_op[1:4] if sum(t) >= 0.005)]
    return " | threads ms/op:" + "".join(
        f" {'main=' if i == 0 else ''}{fmt(u + s, 3)} (sys {fmt(s, 3)})" for i, (u, s) in enumerate(busy)
    )


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}x"
    return f"{statistics.median(values):.1f}x ({min(values):.1f}-{max(values):.1f})"


def comparison(phases: list[Phase], servers: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Markdown rows per (scenario, clients, operation) and the same as data."""
    labels = {"ours": OurServer.label, "pykmip": TheirServer.label}
    groups: dict[tuple[str, int], dict[str, list[Phase]]] = {}
    for phase in phases:
        groups.setdefault((phase.scenario, phase.clients), {}).setdefault(phase.server, []).append(phase)
    rows = [
        "| scenario | clients | operation | pkcs11-kmip ops/s | PyKMIP ops/s | ratio (median, range) "
        "| pkcs11-kmip p50 / p99 ms | PyKMIP p50 / p99 ms | errors |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    data: dict[str, Any] = {}
    both = len(servers) == 2
    for (scenario, clients), by_server in groups.items():
        ours = by_server.get(labels["ours"], [])
        theirs = by_server.get(labels["pykmip"], [])
        ops = [op for op in OPERATIONS if any(p.latencies.get(op) or p.errors.get(op) for p in ours + theirs)]
        ops.append("total")
        for op in ops:

            def rate(phase: Phase, op: str = op) -> float:
                count = phase.total_ops if op == "total" else len(phase.latencies.get(op, []))
                return count / phase.duration

            def pooled(group: list[Phase], op: str = op) -> dict[str, float | None]:
                if op == "total":
                    return latency_stats([v for p in group for vs in p.latencies.values() for v in vs])
                return latency_stats([v for p in group for v in p.latencies.get(op, [])])

            ratios = [
                rate(a) / rate(b)
                for a, b in zip(
                    sorted(ours, key=lambda p: p.round), sorted(theirs, key=lambda p: p.round), strict=False
                )
                if rate(b) > 0
            ]

            def errors(group: list[Phase], op: str = op) -> int:
                if op == "total":
                    return sum(sum(p.errors.values()) for p in group)
                return sum(p.errors.get(op, 0) for p in group)

            ours_rate = statistics.median([rate(p) for p in ours]) if ours else None
            their_rate = statistics.median([rate(p) for p in theirs]) if theirs else None
            ol, tl = pooled(ours), pooled(theirs)
            rows.append(
                f"| {scenario} | {clients} | {op} | {fmt(ours_rate, 0)} | {fmt(their_rate, 0)} | "
                f"{spread(ratios) if both else '-'} | {fmt(ol['p50_ms'], 2)} / {fmt(ol['p99_ms'], 2)} | "
                f"{fmt(tl['p50_ms'], 2)} / {fmt(tl['p99_ms'], 2)} | {errors(ours)} / {errors(theirs)} |"
            )
            data[f"{scenario}/c{clients}/{op}"] = {
                "ours_ops_per_s": ours_rate,
                "pykmip_ops_per_s": their_rate,
                "ratios": ratios,
                "ours_latency": ol,
                "pykmip_latency": tl,
                "errors": [errors(ours), errors(theirs)],
            }
    rows.append("")
    rows.append(
        "| scenario | clients | server CPU ms/op: pkcs11-kmip | PyKMIP | CPU ratio "
        "| server cores used: pkcs11-kmip | PyKMIP | client CPU ms/op: pkcs11-kmip | PyKMIP "
        "| other load (cores) |"
    )
    rows.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (scenario, clients), by_server in groups.items():
        ours = by_server.get(labels["ours"], [])
        theirs = by_server.get(labels["pykmip"], [])

        def median_of(group: list[Phase], key: str) -> float | None:
            values = [p.summary()[key] for p in group]
            values = [v for v in values if v is not None]
            return statistics.median(values) if values else None

        others = [p.other_cores for p in ours + theirs if p.other_cores is not None]
        o, t = median_of(ours, "server_cpu_ms_per_op"), median_of(theirs, "server_cpu_ms_per_op")
        rows.append(
            f"| {scenario} | {clients} | {fmt(o, 3)} | {fmt(t, 3)} | "
            f"{fmt(t / o, 1) + 'x' if o and t else '-'} | "
            f"{fmt(median_of(ours, 'server_cores'), 2)} | {fmt(median_of(theirs, 'server_cores'), 2)} | "
            f"{fmt(median_of(ours, 'client_cpu_ms_per_op'), 3)} | "
            f"{fmt(median_of(theirs, 'client_cpu_ms_per_op'), 3)} | "
            f"{fmt(min(others), 2) + '-' + fmt(max(others), 2) if others else '-'} |"
        )
        data[f"{scenario}/c{clients}/cpu"] = {
            "ours_server_cpu_ms_per_op": o,
            "pykmip_server_cpu_ms_per_op": t,
            "other_cores": others,
        }
    return rows, data


def goals(data: dict[str, Any], clients: list[int]) -> list[str]:
    """The issue's goals at 8 clients, checked against this run's figures."""
    lines = []
    n = 8 if 8 in clients else max(clients)
    for scenario, op in (("get", "get"), ("create", "create")):
        entry = data.get(f"{scenario}/c{n}/{op}")
        if entry and entry["ratios"]:
            ratio = statistics.median(entry["ratios"])
            lines.append(
                f"- {op} throughput at {n} clients: {ratio:.1f}x PyKMIP (goal >= 10x): "
                f"{'met' if ratio >= 10 else 'NOT met'}"
            )
    entry = data.get(f"get/c{n}/get")
    if entry and entry["ours_latency"]["p99_ms"] is not None:
        p99 = entry["ours_latency"]["p99_ms"]
        lines.append(
            f"- Get p99 at {n} clients: {p99:.2f} ms (goal < 10 ms): {'met' if p99 < 10 else 'NOT met'}"
        )
    return lines


def _encrypt_alone(plaintext: bytes, seconds: float) -> int:
    """In a pool process: AES-256-GCM encryptions of `plaintext` done in `seconds`, fresh IV each."""
    key = AESGCM(os.urandom(32))
    done = 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        key.encrypt(os.urandom(12), plaintext, None)
        done += 1
    return done


def encryption_alone(args: argparse.Namespace, data: dict[str, Any]) -> list[str]:
    """What pyca/cryptography encrypts with no server, in as many processes as there were clients.

    The issue's ceiling for Encrypt: the server should reach 70% of it.
    """
    lines = []
    for scenario in args.scenarios:
        operation = CRYPTO_SCENARIOS.get(scenario)
        if operation not in PLAINTEXTS:
            continue
        for clients in args.clients:
            with multiprocessing.get_context("spawn").Pool(clients) as pool:
                counts = pool.starmap(_encrypt_alone, [(PLAINTEXTS[operation], args.duration)] * clients)
            alone = sum(counts) / args.duration
            ours = data.get(f"{scenario}/c{clients}/{operation}", {}).get("ours_ops_per_s")
            if ours:
                ours *= BATCHED.get(operation, 1)  # encryptions, not requests
            share = f"{100 * ours / alone:.1f}% of it (goal >= 70%)" if ours else "no figure of ours"
            lines.append(
                f"- {scenario} at {clients} clients: pyca/cryptography alone in {clients} processes "
                f"{alone:,.0f} ops/s; pkcs11-kmip {fmt(ours, 0)} ops/s, {share}"
            )
    return lines


def server_revision() -> str:
    """Which server code runs: its install location and, from a git checkout, the commit."""
    import pkcs11_kmip_server

    where = Path(pkcs11_kmip_server.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{where} (not a git checkout)"
    return f"{where} at {commit}" + (" with uncommitted changes" if dirty else "")


def conditions(args: argparse.Namespace) -> list[str]:
    import cryptography
    import sqlalchemy

    try:
        from importlib.metadata import version

        pykmip = version("pykmip")
    except Exception:
        pykmip = "?"
    tls = f"1.2 {SAME_TLS_CIPHER}" if args.tls == "same" else "as each server negotiates"
    return [
        f"server code: {server_revision()}; "
        f"our store synchronous={args.ours_synchronous or 'NORMAL (default)'}, "
        f"our server processes={args.ours_processes}, "
        f"our event loop={args.ours_event_loop or 'auto (default)'}",
        f"date {datetime.now(UTC).isoformat(timespec='minutes')}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, PyKMIP {pykmip}, SQLAlchemy {sqlalchemy.__version__}, "
        f"cryptography {cryptography.__version__}",
        f"KMIP {args.version[0]}.{args.version[1]}, TLS {tls}, {args.mode} workers, clients {args.clients}, "
        f"{args.rounds} rounds, {args.warmup:g} s warm-up + {args.duration:g} s measured per phase, "
        f"{args.seed_keys} seeded keys, mix cycle {','.join(args.mix)}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", default="8", help="comma-separated client counts (default 8)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--servers", default="ours,pykmip", help="ours, pykmip or both")
    parser.add_argument(
        "--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX), help=f"default {DEFAULT_MIX}"
    )
    parser.add_argument("--mode", choices=("process", "thread"), default="process")
    parser.add_argument("--version", default="1.2", help="KMIP version both servers are spoken to in")
    parser.add_argument("--tls", choices=("same", "native"), default="same")
    parser.add_argument(
        "--ours-synchronous",
        choices=("NORMAL", "FULL"),
        help="our store's [store] synchronous (default: as `init` writes it, NORMAL); PyKMIP's SQLite "
        "runs with its defaults (rollback journal, synchronous FULL: fsync per commit)",
    )
    parser.add_argument(
        "--ours-processes",
        type=int,
        default=1,
        help="our [server] processes: server processes on the port under a supervisor (default 1)",
    )
    parser.add_argument(
        "--ours-event-loop",
        choices=("auto", "asyncio", "uvloop"),
        help="our [server] event_loop (default: as `init` writes it, auto: uvloop when installed)",
    )
    parser.add_argument(
        "--get-check",
        choices=("bytes", "decode"),
        default="bytes",
        help="check each Get answer by decoding it, or by comparing its items with one decoded before",
    )
    parser.add_argument(
        "--create-check",
        choices=("bytes", "decode"),
        default="bytes",
        help="encode each Create and decode its answer typed, or frame a request encoded once a"
        " second around the Name and read the answer's items untyped",
    )
    parser.add_argument("--seed-keys", type=int, default=64, help="keys Get/Locate/GetAttributes read")
    parser.add_argument("--profile", type=Path, help="py-spy speedscope profiles of round 1 into this folder")
    parser.add_argument("--json", type=Path, help="write every phase and the comparison here")
    parser.add_argument("--workdir", type=Path, help="keep data directories and logs here")
    args = parser.parse_args(argv)
    args.clients = [int(c) for c in args.clients.split(",")]
    args.scenarios = [s for s in args.scenarios.split(",") if s]
    args.servers = [s for s in args.servers.split(",") if s]
    major, _, minor = args.version.partition(".")
    args.version = (int(major), int(minor))
    for scenario in args.scenarios:
        if scenario not in SCENARIOS and scenario not in CRYPTO_SCENARIOS:
            parser.error(f"unknown scenario {scenario!r}")
        if CRYPTO_SCENARIOS.get(scenario) in {*PLAINTEXTS, *DECRYPTED} and args.version < (1, 4):
            parser.error(f"{scenario} needs --version 1.4 or later (AES-GCM's tag came with KMIP 1.4)")
    for server in args.servers:
        if server not in ("ours", "pykmip"):
            parser.error(f"unknown server {server!r}")

    setting = conditions(args)
    with workspace(args.workdir) as workdir:
        for line in setting:
            print(line)
        phases = run(args, workdir)
    rows, data = comparison(phases, args.servers)
    print()
    print("\n".join(rows))
    print()
    print("\n".join(goals(data, args.clients) + encryption_alone(args, data)))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "conditions": setting,
                    "phases": [p.summary() for p in phases],
                    "comparison": data,
                },
                indent=1,
            )
        )
    return 0


@contextlib.contextmanager
def workspace(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="kmip-load-") as folder:
        yield Path(folder)


if __name__ == "__main__":
    sys.exit(main())
