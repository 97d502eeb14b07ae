"""User PINs of the native token: the client's copy, and the server's slow hash of it.

The TLS certificate says who the client is; the PIN only satisfies tools that insist
on C_Login. `issue` writes a fresh PIN to DIR/clients/NAME/pin (the folder the client
takes away) and its scrypt hash, in the form auth.py keeps passwords, to
DIR/pins.toml (0600). `Pins` reads that file again when it changes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import tomllib
from pathlib import Path

from pkcs11_kmip_server.auth import hash_password, password_matches

PINS_FILE = "pins.toml"
PIN_DIGITS = 8


def issue(data_dir: Path, name: str) -> str:
    """A new PIN for client `name`: written for the client and hashed for the server."""
    pin = "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))
    _write_private(data_dir / "clients" / name / "pin", pin + "\n")
    path = data_dir / PINS_FILE
    hashes = _read(path)
    hashes[name] = hash_password(pin)
    lines = ["# The native token's user PINs (C_Login), as scrypt hashes, by client.\n"]
    lines += [f'"{client}" = "{stored}"\n' for client, stored in sorted(hashes.items())]
    _write_private(path, "".join(lines))
    return pin


def _write_private(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def _read(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return {str(name): str(stored) for name, stored in tomllib.load(handle).items()}


class Pins:
    """DIR/pins.toml as the server checks it; a PIN once verified is not hashed again
    while the file is unchanged (scrypt is slow on purpose, and C_Login is frequent)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._hashes: dict[str, str] = {}
        self._verified: set[tuple[str, bytes]] = set()

    def configured(self, client: str) -> bool:
        return client in self._current()

    def matches(self, client: str, pin: str) -> bool:
        stored = self._current().get(client)
        if stored is None:
            return False
        key = (client, hashlib.sha256(pin.encode()).digest())
        with self._lock:
            if key in self._verified:
                return True
        if not password_matches(pin, stored):
            return False
        with self._lock:
            self._verified.add(key)
        return True

    def _current(self) -> dict[str, str]:
        if self.path is None:
            return {}
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        with self._lock:
            if mtime != self._mtime:
                self._hashes = _read(self.path) if mtime is not None else {}
                self._verified.clear()
                self._mtime = mtime
            return self._hashes
