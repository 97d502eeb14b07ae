"""A client's server-side PKCS#11 context lives as long as its connection: when the
application exits (without C_Finalize), the server ends its context and the worker
process holding the module's sessions; another process's context is untouched. An
application whose connection the server closed (idle) recovers with a new context.

Worker processes are the server's children; the ones with SoftHSM2 mapped hold a
context (the spare worker has not loaded the module yet).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.hosts import OK, SESSION_HANDLE_INVALID, SessionHost
from testsupport.server import RunningServer
from testsupport.softhsm import Token, start_pkcs11_server, write_client_config


def module_workers(server: RunningServer) -> set[int]:
    """The server's worker processes that have the module loaded: one per context."""
    assert server.process is not None
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == server.process.pid and "softhsm" in (entry / "maps").read_text():
                found.add(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue  # it ended meanwhile
    return found


def wait_gone(server: RunningServer, pids: set[int], timeout: float) -> float:
    """Seconds until none of `pids` is a module worker of the server (fails after `timeout`)."""
    started = time.monotonic()
    while module_workers(server) & pids:
        assert time.monotonic() - started < timeout, f"workers {pids} still hold the module"
        time.sleep(0.02)
    return time.monotonic() - started


def quiet_server(tmp: Path, token: Token, **pkcs11: str) -> RunningServer:
    """A server that closes connections silent for a second (values of `pkcs11`: its
    [pkcs11] table, TOML)."""
    server = start_pkcs11_server(tmp, token, **pkcs11)
    server.stop()
    toml = server.data_dir / "server.toml"
    toml.write_text(toml.read_text().replace("idle_timeout = 300", "idle_timeout = 1", 1))
    server.start()
    return server


@pytest.fixture
def idle_server(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[RunningServer]:
    """Connections closed after a second of silence, and contexts allowed no longer."""
    server = quiet_server(tmp_path_factory.mktemp("idle-server"), token, idle_timeout="1")
    yield server
    server.stop()


@pytest.fixture
def patient_server(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[RunningServer]:
    """Connections closed after a second of silence, but contexts kept the default hour."""
    server = quiet_server(tmp_path_factory.mktemp("patient-server"), token)
    yield server
    server.stop()


def test_an_exiting_application_ends_its_context_and_no_other(
    module_path: Path, hsm_server: RunningServer, tmp_path: Path
) -> None:
    config = write_client_config(tmp_path / "pkcs11-kmip.toml", hsm_server)
    before = module_workers(hsm_server)
    leaving, staying = SessionHost(module_path, config), SessionHost(module_path, config)
    try:
        assert leaving.ask("init", "slot", "open", "info") == [OK] * 4
        mine = module_workers(hsm_server) - before
        assert staying.ask("init", "slot", "open", "info") == [OK] * 4
        theirs = module_workers(hsm_server) - before - mine
        assert len(mine) == len(theirs) == 1
        leaving.exit()
        took = wait_gone(hsm_server, mine, timeout=2.0)
        print(f"context worker gone {took * 1000:.0f} ms after the application exited")
        assert module_workers(hsm_server) & theirs == theirs
        assert staying.ask("info", "finalize") == [OK, OK]
        wait_gone(hsm_server, theirs, timeout=2.0)
    finally:
        for host in (leaving, staying):
            if host.process.poll() is None:
                host.exit()
    assert "closing 1 PKCS#11 context(s) of a closed connection" in hsm_server.log()


def test_a_client_whose_connection_was_closed_recovers(
    module_path: Path, idle_server: RunningServer, tmp_path: Path
) -> None:
    """The server closes the silent connection, and with it the context; the library
    reconnects, gets a new context, and the old session is gone (as after a restart)."""
    config = write_client_config(tmp_path / "pkcs11-kmip.toml", idle_server)
    before = module_workers(idle_server)
    host = SessionHost(module_path, config)
    try:
        assert host.ask("init", "slot", "open", "info") == [OK] * 4
        first = module_workers(idle_server) - before
        assert len(first) == 1
        wait_gone(idle_server, first, timeout=5.0)  # idle for 1 s, then closed
        assert host.ask("info") == [SESSION_HANDLE_INVALID]
        assert host.ask("open", "info") == [OK, OK]
        assert len(module_workers(idle_server) - before - first) == 1
        assert host.ask("finalize") == [OK]
    finally:
        host.exit()


def test_a_quiet_application_keeps_its_sessions(
    module_path: Path, patient_server: RunningServer, tmp_path: Path
) -> None:
    """A connection that holds a context stays open as long as the context may: an
    application silent for longer than the server's connection idle timeout (1 s here)
    keeps its session, its worker and its login state."""
    config = write_client_config(tmp_path / "pkcs11-kmip.toml", patient_server)
    before = module_workers(patient_server)
    host = SessionHost(module_path, config)
    try:
        assert host.ask("init", "slot", "open", "info") == [OK] * 4
        mine = module_workers(patient_server) - before
        assert len(mine) == 1
        time.sleep(2.5)
        assert module_workers(patient_server) & mine == mine
        assert host.ask("info", "finalize") == [OK, OK]
    finally:
        host.exit()
    assert "closing" not in patient_server.log()
