"""A server's data directory: created on first start, locked while a server runs.

DIR/server.toml                       the editable configuration
DIR/pki/{ca.crt,ca.key,server.crt,server.key}
DIR/clients/NAME/{client.crt,client.key,ca.crt}   one ready identity per client, with
DIR/clients/NAME/pkcs11-kmip.toml                 the provider configuration that uses it
DIR/clients/NAME/pin                  its user PIN for the native token (DIR/pins.toml: the hashes)
DIR/master.key                        encrypts key material at rest (mode 0600)
DIR/kmip.sqlite3                      the object store
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from pathlib import Path
from typing import IO

from pkcs11_kmip.cryptoki import config as provider_config
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.native import pins
from pkcs11_kmip_server.pki import CertificateAuthority, server_names, write_private

MASTER_KEY_BYTES = 32
ADMIN = "admin"
_CLIENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}\Z")


class DataDirError(Exception):
    """The data directory cannot be used (locked by another server, damaged, ...)."""


def is_initialized(data_dir: Path) -> bool:
    return (data_dir / "server.toml").is_file()


def initialize(data_dir: Path, host: str = "127.0.0.1", port: int = 5696) -> ServerConfig:
    """Create a ready data directory: configuration, PKI, an admin client, the master key."""
    if is_initialized(data_dir):
        raise DataDirError(f"{data_dir} is already initialized")
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    config = ServerConfig(data_dir=data_dir, host=host, port=port)
    authority = CertificateAuthority.create(f"pkcs11-kmip CA {secrets.token_hex(4)}")
    authority.save(config.path(config.ca), data_dir / "pki" / "ca.key")
    dns, ips = server_names(host)
    key, certificate = authority.issue("pkcs11-kmip server", server=True, dns_names=dns, ip_addresses=ips)
    authority.write_leaf(key, certificate, config.path(config.certificate), config.path(config.key))
    write_private(config.path(config.master_key), secrets.token_bytes(MASTER_KEY_BYTES))
    _write_client(config, authority, ADMIN)
    # Written last: its presence means the directory is complete.
    (data_dir / "server.toml").write_text(config.render())
    return config


def issue_client(data_dir: Path, name: str) -> Path:
    """A new client identity under DIR/clients/NAME/, signed by the data directory's CA."""
    if not _CLIENT_NAME.match(name):
        raise DataDirError(f"client name {name!r}: use letters, digits and . _ @ - (at most 64)")
    if (data_dir / "clients" / name).exists():
        raise DataDirError(f"client {name!r} already exists in {data_dir}")
    config = ServerConfig.load(data_dir)
    authority = CertificateAuthority.load(config.path(config.ca), data_dir / "pki" / "ca.key")
    return _write_client(config, authority, name)


def _write_client(config: ServerConfig, authority: CertificateAuthority, name: str) -> Path:
    """DIR/clients/NAME: the identity, and a provider configuration that reaches this server
    with it (the server's listen address as it is now; a wildcard one as loopback)."""
    folder = config.data_dir / "clients" / name
    key, certificate = authority.issue(name, server=False)
    authority.write_leaf(key, certificate, folder / "client.crt", folder / "client.key")
    (folder / "ca.crt").write_bytes(authority.ca_pem())
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(config.host, config.host)
    (folder / "pkcs11-kmip.toml").write_text(provider_config.render(host, config.port))
    pins.issue(config.data_dir, name)
    return folder


class DataDirLock:
    """An exclusive lock on the data directory, held for the life of a server."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "server.lock"
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115 - held open for the life of the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirError(
                f"another server is already running on {self.path.parent} (pid {holder}); stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
