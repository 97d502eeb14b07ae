"""Software MACs and hashes: HMAC (SHA-1 to SHA-512, SHA-3) and CMAC-AES with pyca/cryptography.

Both stream: the data goes to pyca's context as it arrives. A MAC is verified by
computing it and comparing in constant time; a MAC of another length than the
mechanism's is simply not valid. Truncation to a Tag Length is the operation's
(`operations.mac.Truncated`), over the whole MAC computed here.
"""

from __future__ import annotations

import hmac as constant_time
from typing import Any

from cryptography.hazmat.primitives import cmac, hashes, hmac
from cryptography.hazmat.primitives.ciphers import algorithms

from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, ResultReason
from pkcs11_kmip_server.crypto.pyca import HASHES, secret_bytes
from pkcs11_kmip_server.crypto.signatures import CMAC_AES, MacSpec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord


class Digesting:
    """A pyca HMAC, CMAC or Hash context: fed, then finalized into the value or compared with one."""

    def __init__(self, context: Any) -> None:
        self._context = context

    def update(self, data: bytes) -> None:
        self._context.update(data)

    def finish(self) -> bytes:
        return bytes(self._context.finalize())

    def verify(self, expected: bytes) -> bool:
        return constant_time.compare_digest(self.finish(), expected)


def start_mac(key: ObjectRecord, spec: MacSpec) -> Digesting:
    """HMAC or CMAC-AES with the key's bytes."""
    secret = secret_bytes(key)
    if spec.name == CMAC_AES:
        if len(secret) not in (16, 24, 32):
            raise KmipError(ResultReason.INVALID_FIELD, f"CMAC-AES takes an AES key, not {len(secret)} bytes")
        return Digesting(cmac.CMAC(algorithms.AES(secret)))
    assert spec.hashing is not None
    return Digesting(hmac.HMAC(secret, HASHES[spec.hashing]()))


def start_digest(hashing: HashingAlgorithm) -> Digesting:
    return Digesting(hashes.Hash(HASHES[hashing]()))
