"""Key material at rest: AES-256-GCM under the data directory's master key.

Every sealed value gets a fresh nonce and is bound to its object's Unique
Identifier (as associated data), so a sealed blob copied onto another object's
row does not open.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
FORMAT = b"pkcs11-kmip sealed v1"


class SealingError(Exception):
    """A sealed value does not open: wrong master key, or the store was tampered with."""


class Sealer:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the master key must be 32 bytes")
        self._aead = AESGCM(master_key)

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077:
            raise SealingError(f"{path} is readable by others (mode {mode:o}); it must be 0600")
        return cls(path.read_bytes())

    def seal(self, plaintext: bytes, uid: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, FORMAT + b"|" + uid.encode())

    def open(self, sealed: bytes, uid: str) -> bytes:
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], FORMAT + b"|" + uid.encode()
            )
        except InvalidTag:
            raise SealingError(f"the key material of {uid} does not open with this master key") from None
