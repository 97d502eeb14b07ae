"""User PINs of the native token: the client's copy, and the server's slow hash of it.

The TLS certificate says who the client is; the PIN only satisfies tools that insist
on C_Login. `issue` writes a fresh PIN to DIR/clients/NAME/pin (the folder the client
takes away) and its scrypt hash, in the form auth.py keeps passwords, to
DIR/pins.toml (0600), which `Pins` checks as auth.PasswordUsers checks DIR/users.toml.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pkcs11_kmip_server.auth import PasswordUsers, hash_password, store_hash
from pkcs11_kmip_server.pki import write_private

PINS_FILE = "pins.toml"
PIN_DIGITS = 8
PINS_COMMENT = "The native token's user PINs (C_Login), as scrypt hashes, by client."


def issue(data_dir: Path, name: str) -> str:
    """A new PIN for client `name`: written for the client and hashed for the server."""
    pin = "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))
    write_private(data_dir / "clients" / name / "pin", f"{pin}\n".encode())
    store_hash(data_dir / PINS_FILE, name, hash_password(pin), PINS_COMMENT)
    return pin


class Pins(PasswordUsers):
    """DIR/pins.toml as the server checks it: re-read when it changes, a PIN once verified
    remembered for a while (scrypt is slow on purpose, and C_Login is frequent)."""

    def configured(self, client: str) -> bool:
        return client in self._current()

    def matches(self, client: str, pin: str) -> bool:
        stored = self._current().get(client)
        return stored is not None and self._verify(client, pin, stored)
