"""The provider's configuration: which KMIP server, with which TLS identity.

A TOML file named by PKCS11_KMIP_CONFIG, else ~/.config/pkcs11-kmip/pkcs11-kmip.toml,
else /etc/pkcs11-kmip/pkcs11-kmip.toml:

    trace = false              # true: every call logged on stderr; "FILE": into FILE
                               # (PKCS11_KMIP_TRACE=FILE does the same; see tracing.py)
    [server]
    address = "kmip.example.com:5696"
    # servers = ["kmip1:5696", "kmip2:5696"]   # instead of address: failover, in this order
    ca = "ca.crt"              # paths relative to this file
    certificate = "client.crt"
    key = "client.key"
    timeout = 30               # seconds for connecting and for each answer
    # connect_timeout = 5      # seconds for connecting to one server (default: timeout)
    # server_name = "..."      # the name the server certificate must carry (default: the host)
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENVIRONMENT_VARIABLE = "PKCS11_KMIP_CONFIG"
DEFAULT_TIMEOUT = 30.0


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong (the message says where)."""


@dataclass(frozen=True)
class ClientConfig:
    path: Path
    host: str
    port: int
    ca: Path
    certificate: Path
    key: Path
    timeout: float = DEFAULT_TIMEOUT
    server_name: str | None = None
    fallbacks: tuple[tuple[str, int], ...] = ()
    """The servers after the first (`servers = [...]`), tried in order when it cannot be reached."""
    connect_timeout: float | None = None
    """Seconds to connect to one server (None: `timeout`)."""
    trace: bool | Path = False
    """Trace every call: True on stderr, a Path into that file."""

    @property
    def addresses(self) -> tuple[tuple[str, int], ...]:
        """Every configured server, in the order they are tried."""
        return ((self.host, self.port), *self.fallbacks)


def search_path(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where the configuration is looked for, in order."""
    environ = os.environ if environ is None else environ
    if environ.get(ENVIRONMENT_VARIABLE):
        return [Path(environ[ENVIRONMENT_VARIABLE])]
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return [home / ".config/pkcs11-kmip/pkcs11-kmip.toml", Path("/etc/pkcs11-kmip/pkcs11-kmip.toml")]


def find(environ: Mapping[str, str] | None = None) -> ClientConfig | None:
    """The configuration to use; None when there is none (the library then has no slots).

    A file named by PKCS11_KMIP_CONFIG must exist: naming a missing file is an error.
    """
    environ = os.environ if environ is None else environ
    candidates = search_path(environ)
    for path in candidates:
        if path.is_file():
            return load(path)
    if environ.get(ENVIRONMENT_VARIABLE):
        raise ConfigError(f"{candidates[0]} (named by {ENVIRONMENT_VARIABLE}) does not exist")
    return None


def load(path: Path) -> ClientConfig:
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    server = document.get("server")
    if not isinstance(server, dict):
        raise ConfigError(f"{path}: no [server] table")
    base = path.resolve().parent

    def text(key: str) -> str:
        value = server.get(key)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: [server] {key} must be set")
        return value

    def file(key: str) -> Path:
        return base / text(key)  # an absolute path stays absolute

    addresses = _addresses(path, server)
    timeout = _seconds(path, server, "timeout", DEFAULT_TIMEOUT)
    connect_timeout = _seconds(path, server, "connect_timeout", timeout)
    server_name = server.get("server_name")
    if server_name is not None and not isinstance(server_name, str):
        raise ConfigError(f"{path}: [server] server_name must be a string")
    (host, port), *fallbacks = addresses
    return ClientConfig(
        path=path,
        host=host,
        port=port,
        ca=file("ca"),
        certificate=file("certificate"),
        key=file("key"),
        timeout=timeout,
        server_name=server_name,
        fallbacks=tuple(fallbacks),
        connect_timeout=connect_timeout,
        trace=_trace(path, document, server),
    )


def _addresses(path: Path, server: dict[str, object]) -> list[tuple[str, int]]:
    """`address = "HOST:PORT"`, or `servers = ["HOST:PORT", ...]` for failover (one of them)."""
    if ("address" in server) == ("servers" in server):
        raise ConfigError(f'{path}: [server] needs address = "HOST:PORT" or servers = ["HOST:PORT", ...]')
    listed = server["servers"] if "servers" in server else [server["address"]]
    if not isinstance(listed, list) or not listed:
        raise ConfigError(f'{path}: [server] servers must be a list of "HOST:PORT" strings')
    addresses = []
    for item in listed:
        host, _, port = item.rpartition(":") if isinstance(item, str) else ("", "", "")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"{path}: [server] {item!r} must be HOST:PORT (a port from 1 to 65535)")
        addresses.append((host.strip("[]"), int(port)))
    return addresses


def _seconds(path: Path, server: dict[str, object], key: str, default: float) -> float:
    value = server.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{path}: [server] {key} must be a positive number of seconds")
    return float(value)


def _trace(path: Path, document: dict[str, object], server: dict[str, object]) -> bool | Path:
    """The top-level `trace`: false, true (stderr) or a file (relative to this file)."""
    if "trace" in server:
        raise ConfigError(f"{path}: trace belongs at the top of the file, before [server]")
    trace = document.get("trace", False)
    if isinstance(trace, bool):
        return trace
    if isinstance(trace, str) and trace:
        return path.resolve().parent / trace
    raise ConfigError(f"{path}: trace must be true, false or a file name")


def render(
    host: str,
    port: int,
    *,
    ca: str = "ca.crt",
    certificate: str = "client.crt",
    key: str = "client.key",
    timeout: float = DEFAULT_TIMEOUT,
) -> str:
    """The text of a pkcs11-kmip.toml (what `load` reads), with comments.

    The paths default to the names of a client identity folder (DIR/clients/NAME), the
    file's own folder: the folder can be copied whole to the client machine.
    """
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"""# pkcs11-kmip provider configuration: name this file in PKCS11_KMIP_CONFIG, or copy it
# to ~/.config/pkcs11-kmip/pkcs11-kmip.toml. Relative paths are relative to this file.
# trace = "trace.log"         # one line per call (secrets as lengths only); true: stderr

[server]
address = "{address}"
# servers = ["{address}", "other:5696"]  # instead of address: failover, tried in order
ca = "{ca}"                 # the server's certificate must be issued by this CA
certificate = "{certificate}"  # this client's identity
key = "{key}"
timeout = {timeout:g}                # seconds, for connecting and for each answer
# connect_timeout = 5         # seconds to connect to one server (default: timeout)
# server_name = "..."         # the name the server certificate must carry (default: the host)
"""
