"""What the engine keeps for cryptographic operations: the provider and the open streams."""

from __future__ import annotations

from dataclasses import dataclass, field

from pkcs11_kmip_server.crypto.provider import CryptoProvider
from pkcs11_kmip_server.crypto.software import SoftwareProvider
from pkcs11_kmip_server.crypto.streams import StreamTable


@dataclass
class CryptoServices:
    """One per engine, shared by its requests (the stream table is thread-safe)."""

    provider: CryptoProvider = field(default_factory=SoftwareProvider)
    streams: StreamTable = field(default_factory=StreamTable)
