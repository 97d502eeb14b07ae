"""Session objects (CKA_TOKEN=FALSE) of the native token never outlive their application:
one that dies without C_CloseSession (connection lost), goes silent (idle timeout), or
whose server stops or is killed. Real server over TLS, python-pkcs11 applications, the
store read beside the server (session objects are invisible to every KMIP client)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from testsupport import tools
from testsupport.server import RunningServer
from testsupport.softhsm import start_pkcs11_server, write_client_config

HOST = Path(__file__).with_name("session_object_host.py")
MARK = "\x1fsession-objects\x1f"  # native.objects.SESSION_MARK
ONLINE, DESTROYED = 1, 4  # store.Storage
GONE_WITHIN = 10.0  # seconds; measured: well under one


class App:
    """One client identity's PKCS#11 applications: python-pkcs11 hosts and pkcs11-tool."""

    def __init__(self, server: RunningServer, module: Path, identity: str, tmp: Path) -> None:
        config = write_client_config(tmp / f"{identity}.toml", server, identity)
        env = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
        self.env = {**env, "PKCS11_KMIP_CONFIG": str(config)}
        self.module, self.identity = module, identity
        self.pin = (server.data_dir / "clients" / identity / "pin").read_text().strip()

    def start(self, label: str, wait: bool) -> subprocess.Popen[str]:
        """A host that makes a session object `label`; it dies at once, or (`wait`) when
        told to through its stdin (its session and connection open until then)."""
        argv = [sys.executable, str(HOST), str(self.module), self.pin, label, *(["wait"] if wait else [])]
        host = subprocess.Popen(
            argv,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert host.stdout is not None
        line = host.stdout.readline()
        assert line == f"made={label}\n", line + (host.stderr.read() if host.stderr else "")
        return host

    def token_key(self, label: str) -> None:
        done = tools.pkcs11_tool(
            self.module,
            self.env,
            "--login",
            "--pin",
            self.pin,
            "--keygen",
            "--key-type",
            "AES:16",
            "--label",
            label,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def rows(server: RunningServer, identity: str) -> dict[str, tuple[str, int, bool]]:
    """The objects `identity` and its applications own: uid -> (owner, storage, has material)."""
    with closing(sqlite3.connect(server.data_dir / "kmip.sqlite3", timeout=30)) as db:
        found = db.execute(
            "SELECT uid, owner, storage, material IS NOT NULL FROM object WHERE owner = ? OR owner LIKE ?",
            (identity, f"{identity}{MARK}%"),
        ).fetchall()
    return {uid: (owner, storage, bool(material)) for uid, owner, storage, material in found}


def session_rows(server: RunningServer, identity: str) -> dict[str, tuple[str, int, bool]]:
    return {uid: row for uid, row in rows(server, identity).items() if MARK in row[0]}


def alive(row: tuple[str, int, bool]) -> bool:
    return row[1] == ONLINE and row[2]


def destroyed(row: tuple[str, int, bool]) -> bool:
    return row[1] == DESTROYED and not row[2]


def wait_destroyed(
    server: RunningServer, identity: str, uids: set[str], within: float = GONE_WITHIN
) -> float:
    """Seconds until every one of `uids` is Destroyed without material (fails after `within`)."""
    start = time.monotonic()
    while True:
        now = rows(server, identity)
        if all(destroyed(now[uid]) for uid in uids):
            return time.monotonic() - start
        assert time.monotonic() - start < within, f"still there after {within} s: {now}"
        time.sleep(0.1)


def finish(host: subprocess.Popen[str]) -> None:
    if host.poll() is None:
        host.kill()
    host.communicate(timeout=30)


def test_the_session_objects_of_an_application_that_dies_are_destroyed_at_once(
    native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    native.client_identity("dies")
    app = App(native, module_path, "dies", tmp_path)
    app.token_key("kept")
    (token_key,) = rows(native, "dies")
    living = app.start("living", wait=True)  # another application of the same client
    try:
        (living_key,) = session_rows(native, "dies")
        dying = app.start("dying", wait=False)
        assert dying.wait(timeout=30) == 0
        (dead_key,) = set(session_rows(native, "dies")) - {living_key}
        took = wait_destroyed(native, "dies", {dead_key})
        print(f"a dead application's session object destroyed {took:.2f} s after it exited")
        now = rows(native, "dies")
        assert alive(now[token_key]) and now[token_key][0] == "dies"
        assert alive(now[living_key]) and now[living_key][0] != now[dead_key][0]
    finally:
        finish(living)
    wait_destroyed(native, "dies", {living_key})  # it died too, in its turn
    assert alive(rows(native, "dies")[token_key])


def test_an_idle_applications_session_objects_are_destroyed_with_its_context(
    tmp_path: Path, module_path: Path
) -> None:
    server = start_pkcs11_server(tmp_path, None, idle_timeout="2")
    try:
        server.client_identity("idle")
        app = App(server, module_path, "idle", tmp_path)
        silent = app.start("silent", wait=True)
        try:
            (key,) = session_rows(server, "idle")
            assert alive(rows(server, "idle")[key])
            wait_destroyed(server, "idle", {key}, within=15)  # the sweeper ends it (idle_timeout 2 s)
        finally:
            finish(silent)
    finally:
        server.stop()


def test_a_stopping_server_destroys_session_objects_and_a_killed_one_at_its_next_start(
    tmp_path: Path, module_path: Path
) -> None:
    server = start_pkcs11_server(tmp_path, None)
    try:
        server.client_identity("killed")
        app = App(server, module_path, "killed", tmp_path)
        app.token_key("kept")
        (token_key,) = rows(server, "killed")

        orderly = app.start("at-stop", wait=True)
        (stopped_key,) = session_rows(server, "killed")
        assert server.stop() == 0  # SIGTERM: contexts end with the server, their objects too
        finish(orderly)
        assert destroyed(rows(server, "killed")[stopped_key])

        server.start()
        crashed = app.start("at-kill", wait=True)
        (killed_key,) = set(session_rows(server, "killed")) - {stopped_key}
        server.stop(signal.SIGKILL)
        finish(crashed)
        assert alive(rows(server, "killed")[killed_key])  # nothing ran: the store still holds it

        server.start()
        now = rows(server, "killed")  # the sweep ran before the server listened
        assert destroyed(now[killed_key]) and destroyed(now[stopped_key])
        assert alive(now[token_key])
        assert "destroyed 1 session object(s) left by the previous run" in server.log()
    finally:
        if server.process is not None:
            server.stop()
