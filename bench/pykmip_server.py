"""PyKMIP's server (`pykmip-server`) as a benchmark peer, in its own process group.

Everything it needs lives in one work directory: a server certificate issued by the
CA of our data directory (so the same client identities reach both servers), an
empty operation-policy directory (the built-in policies apply: the owner may do
everything with its objects), its SQLite database (never PyKMIP's default
/tmp/pykmip.database, which other users of the machine share) and its log.

PyKMIP's `TLS1.2` authentication suite offers TLS 1.2 only, with CBC-SHA2 suites
for RSA certificates; `ECDHE-RSA-AES256-SHA384` is one our server offers too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pkcs11_kmip_server.pki import CertificateAuthority

START_TIMEOUT = 60.0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (PyKMIP cannot bind port 0 and tell us the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def pykmip_command() -> list[str]:
    """`pykmip-server` next to this interpreter (the test extras install it there)."""
    script = Path(sys.executable).with_name("pykmip-server")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from kmip.services.server.server import main; main()"]


@dataclass
class PyKmipServer:
    workdir: Path
    ca_cert: Path
    ca_key: Path
    host: str = "127.0.0.1"
    port: int = 0
    logging_level: str = "WARNING"
    process: subprocess.Popen[bytes] | None = None

    @property
    def database(self) -> Path:
        return self.workdir / "pykmip.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def configure(self) -> Path:
        """Write the certificate, key, policy directory and config file; return the config path."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        ca = CertificateAuthority.load(self.ca_cert, self.ca_key)
        key, certificate = ca.issue(
            "pykmip-bench-server", server=True, dns_names=("localhost",), ip_addresses=(self.host,)
        )
        cert_path, key_path = self.workdir / "server.crt", self.workdir / "server.key"
        ca.write_leaf(key, certificate, cert_path, key_path)
        policies = self.workdir / "policies"
        policies.mkdir(exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        config = self.workdir / "server.conf"
        config.write_text(
            "[server]\n"
            f"hostname={self.host}\n"
            f"port={self.port}\n"
            f"certificate_path={cert_path}\n"
            f"key_path={key_path}\n"
            f"ca_path={self.ca_cert}\n"
            "auth_suite=TLS1.2\n"
            f"policy_path={policies}\n"
            "enable_tls_client_auth=True\n"
            # Per-request INFO lines would cost PyKMIP time ours does not spend.
            f"logging_level={self.logging_level}\n"
            f"database_path={self.database}\n"
        )
        return config

    def start(self) -> None:
        """Start it and wait until its port accepts connections."""
        config = self.configure()
        log = open(self.workdir / "stderr.log", "ab")  # noqa: SIM115 - the child writes to it for its whole life
        self.process = subprocess.Popen(
            [*pykmip_command(), "-f", str(config), "-l", str(self.log_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,  # its policy monitor and Manager processes go with it
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pykmip-server exited with {self.process.returncode}:\n{self.logs()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pykmip-server did not listen on {self.host}:{self.port}:\n{self.logs()}")

    def logs(self) -> str:
        texts = [
            p.read_text(errors="replace") for p in (self.workdir / "stderr.log", self.log_path) if p.exists()
        ]
        return "\n".join(texts)[-4000:]

    def stop(self) -> None:
        """SIGTERM to its process group; SIGKILL if it lingers (its accept loop polls every 10 s)."""
        if self.process is None:
            return
        group = self.process.pid  # a session leader: its pid is the group id
        try:
            os.killpg(group, signal.SIGTERM)
            self.process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # the Manager/monitor children, if any survived
        self.process = None
