"""Cryptography for the server's operations, behind a provider interface.

`mechanisms` holds the mechanism tables and checks requests against them;
`provider` the interface a provider implements (keys used where they are held);
`software` the pyca/cryptography provider; `streams` the operations in progress
across requests; `services` what one engine keeps of all this.
"""

from pkcs11_kmip_server.crypto.mechanisms import CipherMechanism, CipherSpec
from pkcs11_kmip_server.crypto.provider import CipherOperation, CipherOutput, CryptoProvider
from pkcs11_kmip_server.crypto.services import CryptoServices
from pkcs11_kmip_server.crypto.streams import Stream, StreamTable

__all__ = [
    "CipherMechanism",
    "CipherOperation",
    "CipherOutput",
    "CipherSpec",
    "CryptoProvider",
    "CryptoServices",
    "Stream",
    "StreamTable",
]
