"""The crypto-provider interface: what operations ask of whoever holds the keys.

Operations never handle key material. They pass the key's record (its attributes,
and whatever the store keeps of its value) and a checked `CipherSpec`; the provider
finds the key itself. The software provider reads the key bytes from the record; a
hardware provider finds the HSM object the record names and keeps the key inside the
HSM. Either way the operation gets back a `CipherOperation` to feed and finish, the
shape PKCS#11 (C_EncryptInit/Update/Final) and KMIP streams both have; signatures,
MACs and hashes the same way (`DigestOperation`, C_SignInit/Update/Final).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509

from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm
from pkcs11_kmip_server.crypto.derivation import DerivationSpec
from pkcs11_kmip_server.crypto.mechanisms import CipherSpec
from pkcs11_kmip_server.crypto.signatures import MacSpec, SignatureSpec
from pkcs11_kmip_server.store import ObjectRecord


@dataclass(frozen=True)
class CipherOutput:
    """The last output of an operation, and the tag an authenticated encryption made."""

    data: bytes
    tag: bytes | None = None


class CipherOperation(Protocol):
    """One encryption or decryption in progress.

    `update` returns what can be output so far (possibly nothing: a partial block, or
    a mechanism that needs all its input); `finish` the rest, verifying a decryption's
    tag or padding. Either raises KmipError for input the mechanism refuses; after an
    error the operation is not used again.
    """

    def update(self, data: bytes) -> bytes: ...

    def finish(self) -> CipherOutput: ...


class DigestOperation(Protocol):
    """A signature, MAC or hash in progress: fed its data, then finished into one value.

    `finish` gives the signature, MAC or digest; `verify` instead checks one and says
    whether it is valid (a wrong value is an answer, never an error). Either raises
    KmipError for input the mechanism refuses; the operation is not used afterwards.
    """

    def update(self, data: bytes) -> None: ...

    def finish(self) -> bytes: ...

    def verify(self, expected: bytes) -> bool: ...


class CryptoProvider(Protocol):
    """Cryptography with keys the provider holds, by their records."""

    def cipher(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        """Start encrypting or decrypting with the key (KmipError if it cannot serve as one)."""
        ...

    def sign(self, key: ObjectRecord, spec: SignatureSpec, verify: bool) -> DigestOperation:
        """Start signing with a private key, or verifying with a public one (`verify`)."""
        ...

    def sign_certificate(
        self, key: ObjectRecord, spec: SignatureSpec, builder: x509.CertificateBuilder
    ) -> x509.Certificate:
        """The certificate `builder` describes, signed with the private key (Certify).

        X.509 signs the DER of the to-be-signed part with the signature algorithm named
        inside it, which pyca writes only as it signs: a provider whose key stays in an
        HSM builds the to-be-signed DER and signs it there; the software one lets pyca.
        """
        ...

    def mac(self, key: ObjectRecord, spec: MacSpec) -> DigestOperation:
        """Start computing or verifying a MAC with the key."""
        ...

    def digest(self, hashing: HashingAlgorithm) -> DigestOperation:
        """Start hashing (no key)."""
        ...

    def wrap(self, key: ObjectRecord, spec: CipherSpec, plaintext: bytes) -> bytes:
        """Key material (or its TTLV encoding) wrapped under `key`, an AEAD tag appended."""
        ...

    def unwrap(self, key: ObjectRecord, spec: CipherSpec, wrapped: bytes) -> bytes:
        """What `wrap` wrapped (Cryptographic Failure if it does not unwrap with `key`)."""
        ...

    def derive(self, sources: Sequence[ObjectRecord], spec: DerivationSpec) -> bytes:
        """New key material derived from the sources' values (see `crypto.derivation`)."""
        ...

    def random_bytes(self, count: int) -> bytes:
        """Bytes from the provider's random generator (IVs the server makes, RNG Retrieve)."""
        ...

    def seed_random(self, seed: bytes) -> int:
        """Give the random generator seed material; how many bytes it used (0: it takes none)."""
        ...
