"""What the software provider's modules share: pyca/cryptography's hashes by KMIP name,
and a record's key block and key bytes (KmipError when the record holds no usable key).

Ciphers (`software`), signatures (`signing`) and MACs (`macs`) all read keys through
here, so a wrapped or missing key gets one answer whatever the operation.
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import hashes

from pkcs11_kmip.kmip.messages.objects import KeyBlock
from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, KeyFormatType, ResultReason
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

H = HashingAlgorithm

HASHES: dict[HashingAlgorithm, Callable[[], hashes.HashAlgorithm]] = {
    H.SHA_1: hashes.SHA1,
    H.SHA_224: hashes.SHA224,
    H.SHA_256: hashes.SHA256,
    H.SHA_384: hashes.SHA384,
    H.SHA_512: hashes.SHA512,
    H.SHA_512_224: hashes.SHA512_224,
    H.SHA_512_256: hashes.SHA512_256,
    H.SHA3_224: hashes.SHA3_224,
    H.SHA3_256: hashes.SHA3_256,
    H.SHA3_384: hashes.SHA3_384,
    H.SHA3_512: hashes.SHA3_512,
}


def key_block(key: ObjectRecord) -> KeyBlock:
    """The record's plain key block (Key Value Not Present if none, or stored wrapped)."""
    block = getattr(key.material, "key_block", None)
    if not isinstance(block, KeyBlock):
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{key.uid} holds no key")
    if block.key_wrapping_data is not None:
        raise KmipError(
            ResultReason.KEY_VALUE_NOT_PRESENT, f"{key.uid} is stored wrapped: the server cannot use it"
        )
    return block


def secret_bytes(key: ObjectRecord) -> bytes:
    """A symmetric key's or Secret Data's bytes (Raw, Opaque or Transparent Symmetric Key)."""
    block = key_block(key)
    value = getattr(block.key_value, "key_material", None)
    if block.key_format_type is KeyFormatType.OPAQUE and isinstance(value, bytes) and value:
        return value
    return formats.symmetric_key_bytes(block)
