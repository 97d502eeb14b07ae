"""One PKCS#11 application kept alive across events (a server stopped, restarted,
closing the connection): tests/provider/session_host.py, driven a command at a time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO

from testsupport import tools
from testsupport.admin import admin
from testsupport.server import RunningServer
from testsupport.softhsm import write_client_config

TIMEOUT = 90  # seconds a host may take to exit

HOST = Path(__file__).resolve().parents[1] / "provider" / "session_host.py"
OK, DEVICE_ERROR, SESSION_HANDLE_INVALID = "0x0", "0x30", "0xb3"


class SessionHost:
    """tests/provider/session_host.py: one application, driven a command at a time."""

    def __init__(self, module_path: Path, config: Path, stderr: IO[str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HOST), str(module_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "PKCS11_KMIP_CONFIG": str(config)},
        )

    def ask(self, *commands: str) -> list[str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        answers = []
        for command in commands:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().strip()
            assert answer.startswith(f"{command}="), answer
            answers.append(answer.partition("=")[2])
        return answers

    def exit(self) -> None:
        """End the process as an application that never calls C_Finalize."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=TIMEOUT)


class NativeTool:
    """pkcs11-tool through our library as a client of a native-token server (the admin by
    default), logged in with the PIN the server wrote for it unless `login` is False."""

    def __init__(self, server: RunningServer, module: Path, tmp: Path, identity: str = "admin") -> None:
        config = write_client_config(tmp / f"{identity}.toml", server, identity)
        kept = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
        self.env = {**kept, "PKCS11_KMIP_CONFIG": str(config)}
        self.module = module
        self.pin = (server.data_dir / "clients" / identity / "pin").read_text().strip()

    def __call__(self, *args: str, ok: bool = True, login: bool = True) -> str:
        pin = ("--login", "--pin", self.pin) if login else ()
        done = tools.pkcs11_tool(self.module, self.env, *pin, *args)
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done.stdout + done.stderr


class CopyHost:
    """tests/provider/native_copy_host.py (python-pkcs11 copying objects on the native token)
    as a client identity of its own, made a user: no administrator, so grants decide."""

    HOST = Path(__file__).resolve().parents[1] / "provider" / "native_copy_host.py"

    def __init__(self, server: RunningServer, module: Path, tmp: Path, identity: str = "copier") -> None:
        admin(server.data_dir, "users", "add", identity, "--no-password")
        config = write_client_config(tmp / f"{identity}.toml", server, identity)
        kept = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
        self.env = {**kept, "PKCS11_KMIP_CONFIG": str(config)}
        self.module, self.identity = module, identity
        self.pin = (server.data_dir / "clients" / identity / "pin").read_text().strip()

    def run(self, *steps: str) -> dict[str, str]:
        """The host's key=value lines, for `steps` (all of them by default, or `copy LABEL...`)."""
        argv = [sys.executable, str(self.HOST), str(self.module), self.pin, *steps]
        done = tools.run(argv, self.env, timeout=TIMEOUT)
        values = dict(line.partition("=")[::2] for line in done.stdout.splitlines() if "=" in line)
        assert done.returncode == 0 and values.get("done") == "True", done.stdout + done.stderr
        return values
