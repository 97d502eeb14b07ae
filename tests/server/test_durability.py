"""Durability: every object the server acknowledged survives a SIGKILL in mid-stream.

The server answers a message only after its transaction commits, so whatever a
client was told is stored must be there after the process dies at any instant, with
its key material intact (Registered keys: the client knows the material it sent);
and a batch is one transaction, so a batch caught in flight is there whole or not at
all. The writers only write: reads that write back under concurrent load are the
subject of test_client_scenarios.py's concurrent test.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field

from pkcs11_kmip.kmip.client import KmipConnectionError
from pkcs11_kmip.kmip.messages import Attributes, RequestPayload
from pkcs11_kmip.kmip.messages.payloads import GetRequest, LocateRequest
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import ResultStatus
from testsupport.kmip_builders import aes_create, aes_register, name
from testsupport.server import RunningServer

VERSION: Version = (2, 1)
BATCH = 4  # Creates in each message of the batching writer
ACKNOWLEDGED_BEFORE_KILL = 80  # in all, in each round
ACKNOWLEDGED_BY_EACH = 10
ROUNDS = 2  # kill, restart, check, and again on the recovered store
DEADLINE = 60.0


@dataclass
class Writer:
    """One client creating (or registering) keys until the server dies, noting what it was told."""

    identity: str
    batch: int = 1  # operations per message
    register: bool = False  # Register keys of its own instead of Create
    materials: dict[str, bytes | None] = field(default_factory=dict)  # acknowledged uid -> key, if known
    in_flight: list[str] = field(default_factory=list)  # names of the creates sent but not answered
    sent: int = 0
    ended_by: BaseException | None = None

    def run(self, server: RunningServer) -> None:
        try:
            with server.client(self.identity, version=VERSION, timeout=10) as kmip:
                while True:
                    names = [f"{self.identity}-{self.sent}-{i}" for i in range(self.batch)]
                    materials = [os.urandom(32) if self.register else None for _ in names]
                    self.in_flight = names
                    self.sent += 1
                    items = kmip.batch(*(self.request(n, m) for n, m in zip(names, materials, strict=True)))
                    assert all(item.result_status is ResultStatus.SUCCESS for item in items), items
                    uids = [item.response_payload.unique_identifier for item in items]
                    self.materials.update(zip(uids, materials, strict=True))
                    self.in_flight = []
        except BaseException as error:  # recorded: the test checks how each writer ended
            self.ended_by = error

    def request(self, key_name: str, material: bytes | None) -> RequestPayload:
        if material is not None:
            return aes_register(VERSION, material, (Tag.NAME, name(key_name)))
        return aes_create(VERSION, 256, (Tag.NAME, name(key_name)))


def material_of(answer: object) -> bytes:
    material: bytes = answer.object.key_block.key_value.key_material  # type: ignore[attr-defined]
    return material


def kill_mid_stream(server: RunningServer, writers: list[Writer]) -> None:
    """SIGKILL once the writers have been acknowledged enough more, while they are still writing."""
    target = sum(len(w.materials) for w in writers) + ACKNOWLEDGED_BEFORE_KILL
    each = [len(w.materials) + ACKNOWLEDGED_BY_EACH for w in writers]
    threads = [threading.Thread(target=w.run, args=(server,), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + DEADLINE
    while sum(len(w.materials) for w in writers) < target or any(
        len(w.materials) < least for w, least in zip(writers, each, strict=True)
    ):
        assert time.monotonic() < deadline, "the writers were too slow"
        assert all(thread.is_alive() for thread in threads), [w.ended_by for w in writers]
        time.sleep(0.01)
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    for writer in writers:
        assert isinstance(writer.ended_by, KmipConnectionError), writer.ended_by  # cut off, not failed


def check_survivors(server: RunningServer, writer: Writer) -> None:
    with server.client(writer.identity, version=VERSION) as kmip:
        for uid, material in writer.materials.items():
            answer = kmip.call(GetRequest(unique_identifier=uid))
            assert len(material_of(answer)) == 32
            if material is not None:
                assert material_of(answer) == material

        # The message in flight when the server died: all of its creates, or none.
        found = [
            kmip.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name(n))))).unique_identifiers
            for n in writer.in_flight
        ]
        assert len({len(uids) for uids in found}) <= 1, found
        stored = set(kmip.call(LocateRequest(attributes=Attributes.of())).unique_identifiers)
        in_flight = {uid for uids in found for uid in uids}
        assert stored == set(writer.materials) | in_flight  # nothing lost, nothing invented
        writer.materials.update(dict.fromkeys(in_flight - set(writer.materials)))
        writer.in_flight = []


def test_every_acknowledged_create_survives_sigkill(fresh_kmip_server: RunningServer) -> None:
    writers = [
        Writer("durable-create"),
        Writer("durable-register", register=True),
        Writer("durable-batch", batch=BATCH),
    ]
    for _round in range(ROUNDS):
        kill_mid_stream(fresh_kmip_server, writers)
        fresh_kmip_server.start()
        for writer in writers:
            check_survivors(fresh_kmip_server, writer)
            writer.ended_by = None
