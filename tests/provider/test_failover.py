"""Failover: a client configuration listing several servers (`servers = [...]`).

Two real servers on copies of one data directory (same CA, same client identities)
with the same SoftHSM2 token behind them; the first is stopped while an application
holds a session: its next call moves to the second, the lost session answers
CKR_SESSION_HANDLE_INVALID and a new C_OpenSession works. Servers that cannot be
reached (refused, or accepting TCP but never answering TLS) cost at most
`connect_timeout` each, and none at all is CKR_DEVICE_ERROR, not a hang.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.cryptoki import config
from testsupport.hosts import DEVICE_ERROR, OK, SESSION_HANDLE_INVALID, SessionHost
from testsupport.server import RunningServer
from testsupport.softhsm import Token, start_pkcs11_server, write_client_config

CONNECT_TIMEOUT = 1.0
BUSY_HOST = Path(__file__).with_name("failover_host.py")
THREADS = 4


@pytest.fixture
def two_servers(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[list[RunningServer]]:
    """A server, and a second one on a copy of its data directory (made while it was stopped)."""
    first = start_pkcs11_server(tmp_path_factory.mktemp("first"), token)
    first.stop()
    copy = tmp_path_factory.mktemp("second") / "data"
    shutil.copytree(first.data_dir, copy)
    second = RunningServer(copy)
    first.start()
    second.start()
    yield [first, second]
    for server in (first, second):
        if server.process is not None:
            server.stop()


@pytest.fixture
def refused() -> str:
    """An address where nothing listens: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture
def silent() -> Iterator[str]:
    """An address that accepts TCP connections (the kernel's backlog) but never speaks TLS."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"127.0.0.1:{listener.getsockname()[1]}"


def failover_config(path: Path, server: RunningServer, addresses: list[str]) -> Path:
    """The client configuration of `server`'s admin identity, with `servers = addresses`."""
    write_client_config(path, server)
    single = f'address = "{server.host}:{server.port}"'
    listed = "servers = [" + ", ".join(f'"{a}"' for a in addresses) + "]"
    path.write_text(path.read_text().replace(single, listed) + f"connect_timeout = {CONNECT_TIMEOUT}\n")
    return path


def address(server: RunningServer) -> str:
    return f"{server.host}:{server.port}"


def test_the_configuration_lists_servers_in_order(tmp_path: Path) -> None:
    path = tmp_path / "pkcs11-kmip.toml"
    keys = 'ca = "ca.crt"\ncertificate = "c.crt"\nkey = "c.key"\n'
    path.write_text(f'[server]\nservers = ["h1:5696", "[::1]:15696"]\nconnect_timeout = 2\n{keys}')
    loaded = config.load(path)
    assert loaded.addresses == (("h1", 5696), ("::1", 15696))
    assert (loaded.connect_timeout, loaded.timeout) == (2.0, config.DEFAULT_TIMEOUT)
    path.write_text(f'[server]\naddress = "h1:5696"\n{keys}')
    assert config.load(path).addresses == (("h1", 5696),)
    assert config.load(path).connect_timeout == config.DEFAULT_TIMEOUT
    for wrong, says in [
        ('address = "h1:1"\nservers = ["h2:2"]', "needs address"),
        ("", "needs address"),
        ("servers = []", "must be a list"),
        ('servers = "h1:1"', "must be a list"),
        ('servers = ["h1:1", "h2"]', "'h2' must be HOST:PORT"),
        ('servers = ["h1:0"]', "must be HOST:PORT"),
        ('address = "h1:1"\nconnect_timeout = 0', "connect_timeout must be a positive"),
    ]:
        path.write_text(f"[server]\n{wrong}\n{keys}")
        with pytest.raises(config.ConfigError, match=says):
            config.load(path)


def test_a_stopped_server_fails_over_to_the_next(
    module_path: Path, two_servers: list[RunningServer], tmp_path: Path
) -> None:
    first, second = two_servers
    path = failover_config(tmp_path / "pkcs11-kmip.toml", first, [address(first), address(second)])
    with (tmp_path / "stderr").open("w+") as stderr:
        host = SessionHost(module_path, path, stderr=stderr)
        try:
            assert host.ask("init", "slot", "open", "info") == [OK] * 4
            assert "PKCS#11 context" not in second.log()  # the first one was used
            first.stop()
            assert host.ask("info") == [SESSION_HANDLE_INVALID]  # a new context, on the second
            assert host.ask("open", "info") == [OK, OK]
            first.start()  # back, but the application stays where its context is
            assert host.ask("info", "finalize") == [OK, OK]
        finally:
            host.exit()
        stderr.seek(0)
        said = stderr.read()
    assert f"failover: {address(first)} cannot be reached; now using {address(second)}" in said
    assert "opening a new one" in said


def test_threads_calling_through_a_failover_carry_on(
    module_path: Path, two_servers: list[RunningServer], token: Token, tmp_path: Path
) -> None:
    """Four threads of python-pkcs11 calling without pause while the first server stops:
    each sees only errors that say its session or the device was lost, opens a new
    session and logs in again, and works on the second server."""
    first, second = two_servers
    path = failover_config(tmp_path / "pkcs11-kmip.toml", first, [address(first), address(second)])
    stop = tmp_path / "stop"
    with (tmp_path / "stderr").open("w+") as stderr:
        host = subprocess.Popen(
            [
                sys.executable,
                str(BUSY_HOST),
                str(module_path),
                token.label,
                token.pin,
                str(THREADS),
                str(stop),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PKCS11_KMIP_CONFIG": str(path)},
        )
        try:
            assert host.stdout is not None
            assert host.stdout.readline().strip() == "ready"
            time.sleep(0.5)
            first.stop()
            time.sleep(3)
            stop.touch()
            output, _ = host.communicate(timeout=60)
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
        stderr.seek(0)
        said = stderr.read()
    assert host.returncode == 0, said
    ran = json.loads(output)
    print(f"failover under {THREADS} threads: {ran}")
    assert set(ran["errors"]) <= {"SessionHandleInvalid", "DeviceError", "DeviceRemoved", "SessionClosed"}, (
        ran
    )
    assert ran["errors"], ran  # the sessions were lost...
    assert all(count > 0 for count in ran["since_error"]), ran  # ...and every thread works again
    assert said.count("failover:") >= 1 and said.count("opening a new one") == 1, said


def test_unreachable_servers_are_skipped_within_the_connect_timeout(
    module_path: Path, hsm_server: RunningServer, refused: str, silent: str, tmp_path: Path
) -> None:
    path = failover_config(tmp_path / "pkcs11-kmip.toml", hsm_server, [refused, silent, address(hsm_server)])
    host = SessionHost(module_path, path)
    try:
        started = time.monotonic()
        assert host.ask("init") == [OK]
        took = time.monotonic() - started
        assert host.ask("slot", "open", "info", "finalize") == [OK] * 4
    finally:
        host.exit()
    print(f"C_Initialize past a refused and a silent server: {took:.2f} s")
    assert CONNECT_TIMEOUT <= took < CONNECT_TIMEOUT + 6  # far below the answer timeout (20 s)


def test_no_server_reachable_is_a_device_error_not_a_hang(
    module_path: Path, hsm_server: RunningServer, refused: str, silent: str, tmp_path: Path
) -> None:
    path = failover_config(tmp_path / "pkcs11-kmip.toml", hsm_server, [silent, refused, silent])
    with (tmp_path / "stderr").open("w+") as stderr:
        host = SessionHost(module_path, path, stderr=stderr)
        try:
            started = time.monotonic()
            assert host.ask("init") == [DEVICE_ERROR]
            took = time.monotonic() - started
        finally:
            host.exit()
        stderr.seek(0)
        said = stderr.read()
    print(f"C_Initialize with no server reachable: {took:.2f} s")
    assert 2 * CONNECT_TIMEOUT <= took < 2 * CONNECT_TIMEOUT + 6  # far below the answer timeout (20 s)
    assert f"cannot reach {refused}" in said and f"TLS with {silent} failed" in said
