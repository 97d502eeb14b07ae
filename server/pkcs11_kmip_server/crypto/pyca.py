"""What the software provider's modules share: pyca/cryptography's hashes by KMIP name,
and a record's key block, key bytes and parsed asymmetric key (KmipError when the
record holds no usable key).

Ciphers (`software`), signatures (`signing`) and MACs (`macs`) all read keys through
here, so a wrapped or missing key gets one answer whatever the operation.

Parsed asymmetric keys are kept (`KEPT_KEYS`, least recently used out): pyca checks an
RSA private key when it parses one (a primality test of its factors), about 100 times
the cost of an RSA-2048 signature, and a stored key was checked when it was
registered or made. The cache is keyed by the object and its exact key bytes, so a
changed value is parsed again; a destroyed key never reaches it (the operation
refuses it first) and leaves it when evicted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes

from pkcs11_kmip.kmip.messages.objects import KeyBlock
from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, KeyFormatType, ResultReason
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

H = HashingAlgorithm
KEPT_KEYS = 256

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


_kept: OrderedDict[tuple[str, bool, bytes], formats.AnyKey] = OrderedDict()
_kept_lock = threading.Lock()


def loaded_key(key: ObjectRecord, private: bool) -> formats.AnyKey:
    """The record's asymmetric key as pyca's object, parsed once while it is used."""
    block = key_block(key)
    material = getattr(block.key_value, "key_material", None)
    if not isinstance(material, bytes):  # Transparent keys: parsed each time
        return formats.load_key(block, private)
    index = (key.uid, private, material)
    with _kept_lock:
        found = _kept.get(index)
        if found is not None:
            _kept.move_to_end(index)
            return found
    loaded = formats.load_key(block, private)
    with _kept_lock:
        _kept[index] = loaded
        while len(_kept) > KEPT_KEYS:
            _kept.popitem(last=False)
    return loaded
