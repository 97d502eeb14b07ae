"""Generating key material the server creates itself (Create, Re-key).

Symmetric keys are random bytes of the algorithm's length; the lengths each
algorithm allows are data, so Create refuses a wrong one with a clear message.
"""

from __future__ import annotations

import secrets

from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, ResultReason
from pkcs11_kmip_server.errors import KmipError

A = CryptographicAlgorithm

DES3_LENGTHS = frozenset({112, 128, 168, 192})
"""3DES: two keys (CKK_DES2) or three, counted without or with their parity bits."""

# Algorithm -> allowed lengths in bits (None: any multiple of 8 from 8 to 4096 bits).
SYMMETRIC_LENGTHS: dict[CryptographicAlgorithm, frozenset[int] | None] = {
    A.AES: frozenset({128, 192, 256, 512}),  # 512: two AES-256 keys, for XTS
    A.DES3: DES3_LENGTHS,
    A.DES: frozenset({56, 64}),
    A.CHACHA20: frozenset({256}),
    A.CHACHA20_POLY1305: frozenset({256}),
    A.CAMELLIA: frozenset({128, 192, 256}),
    A.BLOWFISH: None,
    A.HMAC_SHA1: None,
    A.HMAC_SHA224: None,
    A.HMAC_SHA256: None,
    A.HMAC_SHA384: None,
    A.HMAC_SHA512: None,
    A.HMAC_MD5: None,
    A.HMAC_SHA3_224: None,
    A.HMAC_SHA3_256: None,
    A.HMAC_SHA3_384: None,
    A.HMAC_SHA3_512: None,
}

# Bytes of key material for lengths counted without parity bits.
_DES_BYTES = {56: 8, 64: 8, 112: 16, 128: 16, 168: 24, 192: 24}
_WITH_PARITY = frozenset({A.DES, A.DES3})


def symmetric_key(algorithm: CryptographicAlgorithm | None, length: int | None) -> bytes:
    """Random key bytes of an allowed algorithm and length (`check_symmetric`)."""
    algorithm, length = check_symmetric(algorithm, length)
    if algorithm in _WITH_PARITY:
        return _with_odd_parity(secrets.token_bytes(_DES_BYTES[length]))
    return secrets.token_bytes(length // 8)


def check_symmetric(
    algorithm: CryptographicAlgorithm | None, length: int | None
) -> tuple[CryptographicAlgorithm, int]:
    """The algorithm and length of a symmetric key to create, or Invalid Field (a key made
    elsewhere, e.g. inside the HSM key store's token, is checked the same way)."""
    if algorithm is None or length is None:
        raise KmipError(
            ResultReason.INVALID_FIELD, "a symmetric key needs Cryptographic Algorithm and Length"
        )
    if algorithm not in SYMMETRIC_LENGTHS:
        raise KmipError(ResultReason.INVALID_FIELD, f"cannot create a {algorithm.name} symmetric key")
    allowed = SYMMETRIC_LENGTHS[algorithm]
    if allowed is None:
        if length <= 0 or length % 8 or length > 4096:
            raise KmipError(
                ResultReason.INVALID_FIELD, f"{length} bits is not a usable {algorithm.name} key length"
            )
    elif length not in allowed:
        lengths = ", ".join(str(n) for n in sorted(allowed))
        raise KmipError(ResultReason.INVALID_FIELD, f"{algorithm.name} keys are {lengths} bits, not {length}")
    return algorithm, length


def _with_odd_parity(key: bytes) -> bytes:
    return bytes(b & 0xFE | (bin(b & 0xFE).count("1") + 1) % 2 for b in key)


def random_bytes(count: int) -> bytes:
    if not 1 <= count <= 4096:
        raise KmipError(ResultReason.INVALID_FIELD, f"cannot make {count} bytes of secret data")
    return secrets.token_bytes(count)
