"""The provider configuration that `pkcs11-kmip init` and `ca issue-client` write: right
after init and serve, pkcs11-tool reaches the token with nothing but PKCS11_KMIP_CONFIG."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.cryptoki import config
from pkcs11_kmip_server.datadir import initialize, issue_client
from testsupport import tools
from testsupport.server import RunningServer, cli
from testsupport.softhsm import Token, start_pkcs11_server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[RunningServer]:
    """init --listen 127.0.0.1:PORT, then serve with the port from server.toml."""
    running = start_pkcs11_server(tmp_path_factory.mktemp("configured"), token, port=free_port())
    yield running
    if running.process is not None:
        running.stop()


def pkcs11_tool(module_path: Path, config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
    return tools.pkcs11_tool(module_path, {**env, "PKCS11_KMIP_CONFIG": str(config_path)}, *args)


def test_the_admin_configuration_from_init_reaches_the_token(
    module_path: Path, server: RunningServer, token: Token
) -> None:
    written = server.data_dir / "clients" / "admin" / "pkcs11-kmip.toml"
    loaded = config.load(written)
    assert (loaded.host, loaded.port) == ("127.0.0.1", server.port)
    assert loaded.ca == written.parent / "ca.crt" and loaded.key.read_bytes().startswith(b"-----BEGIN")
    listed = pkcs11_tool(module_path, written, "-L")
    assert listed.returncode == 0, listed.stderr
    assert f"token label        : {token.label}" in listed.stdout


def test_issue_client_writes_one_for_the_new_client(
    module_path: Path, server: RunningServer, token: Token
) -> None:
    issued = tools.run([*cli(), "ca", "issue-client", "app1", "--data-dir", str(server.data_dir)])
    assert issued.returncode == 0, issued.stderr
    written = Path(issued.stdout.strip()) / "pkcs11-kmip.toml"
    made = pkcs11_tool(
        module_path, written, "--login", "--pin", token.pin, "--keygen", "--key-type", "AES:16",
        "--label", "app1-key",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Key generated" in made.stdout
    assert config.load(written).certificate == written.parent / "client.crt"


def test_init_without_a_server_prints_the_configuration(tmp_path: Path) -> None:
    done = tools.run([*cli(), "init", "--data-dir", str(tmp_path / "d"), "--listen", "0.0.0.0:5697"])
    assert done.returncode == 0, done.stderr
    written = tmp_path / "d" / "clients" / "admin" / "pkcs11-kmip.toml"
    assert f"PKCS11_KMIP_CONFIG={written}" in done.stdout
    # A wildcard listen address is reached on loopback.
    assert (config.load(written).host, config.load(written).port) == ("127.0.0.1", 5697)


@pytest.mark.parametrize(
    ("listen", "host", "address"),
    [("::", "::1", "[::1]:5696"), ("kmip.example.com", "kmip.example.com", "kmip.example.com:5696")],
)
def test_the_address_follows_the_listen_address(tmp_path: Path, listen: str, host: str, address: str) -> None:
    initialize(tmp_path, listen, 5696)
    written = issue_client(tmp_path, "other") / "pkcs11-kmip.toml"
    assert f'address = "{address}"' in written.read_text()
    assert config.load(written).host == host


def test_a_port_of_zero_is_refused_with_a_reason(tmp_path: Path) -> None:
    """A server initialized to listen on any free port: its clients cannot know which."""
    initialize(tmp_path, "127.0.0.1", 0)
    with pytest.raises(config.ConfigError, match="a port from 1 to 65535"):
        config.load(tmp_path / "clients" / "admin" / "pkcs11-kmip.toml")
