"""A server of several processes on one port (`[server] processes`, issue 3), over real TLS.

Which process serves a connection is the kernel's choice (SO_REUSEPORT); the tests tell
them apart by the Server Correlation Value each process puts in its KMIP 1.4+ response
headers (a prefix of its own), and open connections until they hold one per process.
What one process does, the other must see at its next request: objects, grants,
constraints (changed by the admin CLI while both run), asynchronous operations.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CancelRequest,
    DestroyRequest,
    DiscoverVersionsRequest,
    EncryptRequest,
    GetRequest,
    LocateRequest,
    PollRequest,
    RequestPayload,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AsynchronousIndicator,
    BlockCipherMode,
    CancellationResult,
    PaddingMethod,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip_server.store.writer_lock import WriterLock
from testsupport.admin import admin
from testsupport.kmip_builders import aes_create, aes_register, name
from testsupport.server import RunningServer, start_server

PROCESSES = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("processes"), processes=PROCESSES)
    yield running
    if running.process is not None:
        running.stop()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of two processes of its own, for the tests that stop or kill them."""
    running = start_server(tmp_path, processes=PROCESSES)
    yield running
    if running.process is not None:
        running.stop(signal.SIGKILL)


def process_of(client: KmipClient) -> str:
    """Which server process answers this connection: its Server Correlation Value prefix."""
    header = client.send(client.request_message(DiscoverVersionsRequest())).header
    assert header.server_correlation_value is not None
    return header.server_correlation_value.rpartition("-")[0]


def one_per_process(server: RunningServer, identity: str = "admin") -> list[KmipClient]:
    """A connection to each server process, as `identity` (KMIP 2.1)."""
    found: dict[str, KmipClient] = {}
    for _attempt in range(200):
        client = server.client(identity)
        where = process_of(client)
        if where in found:
            client.close()
            continue
        found[where] = client
        if len(found) == PROCESSES:
            return list(found.values())
    raise AssertionError(f"200 connections reached only {len(found)} server process(es)")


def user(server: RunningServer, prefix: str) -> str:
    """A new user, known to the administrators, with its own client certificate."""
    unique = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin(server.data_dir, "users", "add", unique, "--no-password")
    server.client_identity(unique)
    return unique


def refusal(client: KmipClient, payload: RequestPayload) -> ResultReason | None:
    with pytest.raises(KmipResultError) as refused:
        client.call(payload)
    return refused.value.reason


def located(client: KmipClient, label: str) -> list[str]:
    found = client.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name(label)))))
    return [str(uid) for uid in found.unique_identifiers]


def test_an_object_made_by_one_process_is_used_and_destroyed_by_the_other(server: RunningServer) -> None:
    first, second = one_per_process(server)
    with first, second:
        label = f"both-{uuid.uuid4().hex}"
        material = os.urandom(32)
        uid = str(first.call(aes_register((2, 1), material, (Tag.NAME, name(label)))).unique_identifier)
        assert (
            second.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material == material
        )
        assert located(second, label) == [uid]
        created = str(second.call(aes_create((2, 1), 256, (Tag.NAME, name(label + "-2")))).unique_identifier)
        assert located(first, label + "-2") == [created]
        second.call(DestroyRequest(unique_identifier=uid))
        assert refusal(first, GetRequest(unique_identifier=uid)) is ResultReason.OBJECT_DESTROYED


def test_a_grant_and_its_removal_apply_on_every_process_at_the_next_request(server: RunningServer) -> None:
    alice, bob = user(server, "alice"), user(server, "bob")
    label = f"shared-{uuid.uuid4().hex}"
    with server.client(alice) as owner:
        uid = str(owner.call(aes_create((2, 1), 256, (Tag.NAME, name(label)))).unique_identifier)
    readers = one_per_process(server, bob)
    try:
        # Each process computes (and keeps) bob's grants: none yet.
        assert [located(reader, label) for reader in readers] == [[], []]
        added = admin(
            server.data_dir, "grants", "add", "--user", bob, "--object", uid, "--role", "reader", "--json"
        )
        grant = str(json.loads(added.stdout)["id"])
        assert [located(reader, label) for reader in readers] == [[uid], [uid]]
        for reader in readers:
            assert reader.call(GetRequest(unique_identifier=uid)).unique_identifier == uid
        admin(server.data_dir, "grants", "remove", grant)
        assert [located(reader, label) for reader in readers] == [[], []]
        for reader in readers:
            assert refusal(reader, GetRequest(unique_identifier=uid)) is ResultReason.OBJECT_NOT_FOUND
    finally:
        for reader in readers:
            reader.close()


def test_a_constraint_and_its_removal_apply_on_every_process_at_once(server: RunningServer) -> None:
    group = f"group-{uuid.uuid4().hex[:8]}"
    rule = f"rule-{uuid.uuid4().hex[:8]}"
    short = aes_create((2, 1), 128, (Tag.OBJECT_GROUP, group))
    clients = one_per_process(server)
    try:
        for client in clients:  # each process reads the (empty) rules first
            client.call(short)
        admin(server.data_dir, "constraints", "add", rule, "min-length=AES:256", "--object-group", group)
        for client in clients:
            assert refusal(client, short) is ResultReason.CONSTRAINT_VIOLATION
            client.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, group)))
        admin(server.data_dir, "constraints", "remove", rule)
        for client in clients:
            client.call(short)
    finally:
        for client in clients:
            client.close()


MANDATORY = {"asynchronous_indicator": AsynchronousIndicator.MANDATORY}


def poll(client: KmipClient, correlation: bytes) -> tuple[ResultStatus | None, object]:
    """Poll until the operation is no longer pending; its status and payload (or reason)."""
    deadline = time.monotonic() + 60
    while True:
        (item,) = client.batch(PollRequest(asynchronous_correlation_value=correlation))
        if item.result_status is not ResultStatus.OPERATION_PENDING or time.monotonic() > deadline:
            answer = (
                item.response_payload if item.result_status is ResultStatus.SUCCESS else item.result_reason
            )
            return item.result_status, answer
        time.sleep(0.02)


def test_an_asynchronous_operation_is_polled_and_canceled_from_the_other_process(
    server: RunningServer,
) -> None:
    starter, poller = one_per_process(server)
    with starter, poller:
        label = f"async-{uuid.uuid4().hex}"
        (pending,) = starter.batch(aes_create((2, 1), 256, (Tag.NAME, name(label))), **MANDATORY)
        assert pending.result_status is ResultStatus.OPERATION_PENDING
        correlation = pending.asynchronous_correlation_value
        assert correlation is not None
        status, created = poll(poller, correlation)
        assert status is ResultStatus.SUCCESS
        assert located(starter, label) == [created.unique_identifier]  # type: ignore[attr-defined]
        # Handed out once, whichever process is asked next.
        for client in (starter, poller):
            assert poll(client, correlation) == (
                ResultStatus.OPERATION_FAILED,
                ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE,
            )

        # Cancel from the other process, of a job that has finished: too late. Its first
        # item's answer shows it finished. (Canceling a queued job from another process:
        # test_engine, two engines on one store.)
        create, activate = starter.batch(aes_create((2, 1), 256), ActivateRequest(), **MANDATORY)
        first, second = create.asynchronous_correlation_value, activate.asynchronous_correlation_value
        assert first is not None and second is not None
        assert poll(starter, first)[0] is ResultStatus.SUCCESS
        canceled = poller.call(CancelRequest(asynchronous_correlation_value=second))
        assert canceled.cancellation_result is CancellationResult.COMPLETED
        assert poll(poller, second)[0] is ResultStatus.SUCCESS


def test_a_stream_continues_on_its_own_process_only(server: RunningServer) -> None:
    """Streams keep live cipher state in their process: on another, the value is unknown."""
    owner, other = one_per_process(server)
    with owner, other:
        uid = str(owner.call(aes_register((2, 1), os.urandom(16))).unique_identifier)
        owner.call(ActivateRequest(unique_identifier=uid))
        ecb = CryptographicParameters(
            block_cipher_mode=BlockCipherMode.ECB, padding_method=PaddingMethod.NONE
        )
        opened = owner.call(
            EncryptRequest(unique_identifier=uid, cryptographic_parameters=ecb, init_indicator=True)
        )
        part = EncryptRequest(
            unique_identifier=uid, data=bytes(16), correlation_value=opened.correlation_value
        )
        assert refusal(other, part) is ResultReason.INVALID_CORRELATION_VALUE
        assert len(owner.call(part).data) == 16


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def gone(pids: set[int], within: float = 30.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() and _alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def server_processes(server: RunningServer) -> set[int]:
    assert server.process is not None
    found = children(server.process.pid)
    assert len(found) == PROCESSES, found
    return found


def test_sigterm_stops_every_server_process_and_frees_the_data_directory(fresh: RunningServer) -> None:
    workers = server_processes(fresh)
    with fresh.client() as client:
        client.call(aes_create((2, 1)))
    assert fresh.stop(signal.SIGTERM) == 0
    assert gone(workers)
    fresh.start()  # the lock and the port are free again
    with fresh.client() as client:
        client.call(aes_create((2, 1)))


def test_a_killed_server_process_is_started_again(fresh: RunningServer) -> None:
    before = server_processes(fresh)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = children(fresh.process.pid) if fresh.process else set()
        if len(now) == PROCESSES and victim not in now:
            break
        time.sleep(0.1)
    assert victim not in now and len(now) == PROCESSES
    # Both processes serve again (the new one once it listens).
    deadline = time.monotonic() + 60
    while "is back" not in fresh.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "ended with status -9" in fresh.log() and "is back" in fresh.log()
    clients = one_per_process(fresh)
    for client in clients:
        client.call(aes_create((2, 1)))
        client.close()


def test_the_server_processes_stop_when_the_supervisor_is_killed(fresh: RunningServer) -> None:
    workers = server_processes(fresh)
    fresh.stop(signal.SIGKILL)
    assert gone(workers)


def test_a_second_server_on_the_data_directory_is_refused(fresh: RunningServer) -> None:
    other = RunningServer(fresh.data_dir, port=0)
    with pytest.raises(RuntimeError, match="another server is already running"):
        other.start()
    assert other.process is not None and other.process.wait(timeout=30) == 1
    with fresh.client() as client:
        client.call(aes_create((2, 1)))


def test_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    """Each server process has its own WriterLock on the database (two here, one process)."""
    database = tmp_path / "kmip.sqlite3"
    first, second = WriterLock(database), WriterLock(database)
    order: list[str] = []

    def write_second() -> None:
        with second:
            order.append("second")

    with first:
        other = threading.Thread(target=write_second)
        other.start()
        time.sleep(0.3)
        order.append("first")
    other.join(10)
    assert order == ["first", "second"]
    first.close()
    second.close()
