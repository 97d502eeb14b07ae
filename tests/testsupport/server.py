"""A real KMIP server in its own process, for tests (see the fixtures in tests/conftest.py).

`kmip_server` is one server for the whole session, on a fresh data directory and a
free port, reached over real TLS. Tests that need isolation from each other use
their own client identity (`kmip_server.client_identity(name)`): every object
belongs to the client that made it, so two identities never see each other's
objects. `fresh_kmip_server` starts a private server for tests that stop, kill or
reconfigure it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.spec import Version

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
START_TIMEOUT = 60.0


def cli() -> list[str]:
    """The installed `pkcs11-kmip` command (next to this interpreter)."""
    script = Path(sys.executable).with_name("pkcs11-kmip")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pkcs11_kmip.cli"]


@dataclass
class ClientIdentity:
    name: str
    cert: Path
    key: Path
    ca: Path


@dataclass
class RunningServer:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    _identities: dict[str, ClientIdentity] = field(default_factory=dict)

    def start(self) -> None:
        """Start (or restart, on the same port) and wait until it listens."""
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        log = open(self.log_path, "a")  # noqa: SIM115 - the child writes to it for its whole life
        self.process = subprocess.Popen(
            [*cli(), "serve", "--data-dir", str(self.data_dir), "--listen", f"{self.host}:{self.port}"],
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
        raise RuntimeError(f"the server did not start; its log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        return code

    def client_identity(self, name: str = "admin") -> ClientIdentity:
        """A client certificate from the server's CA (made on first use)."""
        if name not in self._identities:
            folder = self.data_dir / "clients" / name
            if not folder.exists():
                # What `pkcs11-kmip ca issue-client` runs (that command has its own tests), in
                # this process: a process for each identity was ~0.4 s of a profile file's ~0.9 s.
                from pkcs11_kmip_server.datadir import issue_client

                issue_client(self.data_dir, name)
            self._identities[name] = ClientIdentity(
                name, folder / "client.crt", folder / "client.key", folder / "ca.crt"
            )
        return self._identities[name]

    def client(self, name: str = "admin", version: Version = (2, 1), timeout: float = 30.0) -> KmipClient:
        identity = self.client_identity(name)
        return KmipClient(
            self.host,
            self.port,
            cert=identity.cert,
            key=identity.key,
            ca=identity.ca,
            version=version,
            timeout=timeout,
        )


# Server processes for every test server (`[server] processes`): 1 unless this says more,
# as when the whole suite runs against a supervisor with several (issue 3).
PROCESSES = int(os.environ.get("PKCS11_KMIP_TEST_PROCESSES", "1"))


def start_server(tmp: Path, processes: int = PROCESSES) -> RunningServer:
    """A new data directory under `tmp` and a server of `processes` processes running on it."""
    data_dir = tmp / "data"
    subprocess.run([*cli(), "init", "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=60)
    if processes != 1:
        config = data_dir / "server.toml"
        text = re.sub(r"(?m)^processes = 1\b", f"processes = {processes}", config.read_text())
        assert f"processes = {processes}" in text
        config.write_text(text)
    server = RunningServer(data_dir)
    server.start()
    return server
