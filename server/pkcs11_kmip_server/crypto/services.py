"""What the engine keeps for cryptographic operations: the provider and the open streams."""

from __future__ import annotations

from dataclasses import dataclass, field

from pkcs11_kmip_server.crypto.hsm_provider import DispatchingProvider
from pkcs11_kmip_server.crypto.provider import CryptoProvider
from pkcs11_kmip_server.crypto.streams import StreamTable


@dataclass
class CryptoServices:
    """One per engine, shared by its requests (the stream table is thread-safe).

    The provider sends each key's work to the HSM key store's token if the key is
    there, else to the software provider (crypto.hsm_provider.DispatchingProvider).
    """

    provider: CryptoProvider = field(default_factory=DispatchingProvider)
    streams: StreamTable = field(default_factory=StreamTable)
