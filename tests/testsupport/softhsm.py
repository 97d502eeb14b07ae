"""SoftHSM2 tokens in temporary directories, and a KMIP server with SoftHSM2 behind it.

A token lives in its own directory with its own softhsm2.conf: the tests never touch
the machine's tokens, and every process that should see the token gets SOFTHSM2_CONF
(the server passes it to its module workers through [pkcs11] environment).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testsupport.server import RunningServer, cli

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
TIMEOUT = 90


@dataclass(frozen=True)
class Token:
    directory: Path
    label: str = "t"
    pin: str = "1234"
    so_pin: str = "5678"

    @property
    def conf(self) -> Path:
        return self.directory / "softhsm2.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a process that uses this token directly."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf)}


def init_token(directory: Path, label: str = "t", pin: str = "1234", so_pin: str = "5678") -> Token:
    """A fresh SoftHSM2 token (scripts/setup installs softhsm2)."""
    assert SOFTHSM_MODULE.is_file() and shutil.which("softhsm2-util"), "softhsm2 is missing (scripts/setup)"
    token = Token(directory, label, pin, so_pin)
    (directory / "tokens").mkdir(parents=True)
    token.conf.write_text(
        f"directories.tokendir = {directory / 'tokens'}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        env=token.env,
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return token


def pkcs11_section(token: Token | None, **extra: str) -> str:
    """The [pkcs11] table of server.toml for this token (none: a server without a module)."""
    lines = ["", "[pkcs11]"]
    if token is not None:
        lines += [f'module = "{SOFTHSM_MODULE}"', f'environment = {{ SOFTHSM2_CONF = "{token.conf}" }}']
    lines += [f"{key} = {value}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def start_pkcs11_server(tmp: Path, token: Token | None, port: int = 0, **extra: str) -> RunningServer:
    """A server whose PKCS#11 operation runs on `token` (values of `extra` are TOML), on
    `port` (0: any free one; init then writes it into the clients' configurations)."""
    data_dir = tmp / "data"
    subprocess.run(
        [*cli(), "init", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with (data_dir / "server.toml").open("a") as handle:
        handle.write(pkcs11_section(token, **extra))
    server = RunningServer(data_dir, port=port)
    server.start()
    return server


def write_client_config(
    path: Path, server: RunningServer, identity: str = "admin", timeout: float = 20
) -> Path:
    """The provider's pkcs11-kmip.toml for one of the server's client identities."""
    client = server.client_identity(identity)
    path.write_text(
        "[server]\n"
        f'address = "{server.host}:{server.port}"\n'
        f'ca = "{client.ca}"\n'
        f'certificate = "{client.cert}"\n'
        f'key = "{client.key}"\n'
        f"timeout = {timeout}\n"
    )
    return path
