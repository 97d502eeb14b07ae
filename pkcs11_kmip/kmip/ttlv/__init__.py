"""KMIP items and their three encodings: binary TTLV, XML and JSON.

    from pkcs11_kmip.kmip.ttlv import Item, ItemType, binary, xml_codec, json_codec
    message = binary.decode(wire_bytes)          # -> Item
    print(xml_codec.encode(message))             # the same message as OASIS-style XML

Every decoder raises only `CodecError` (with `LimitExceeded` for size/depth limits).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.ttlv import binary, json_codec, xml_codec
from pkcs11_kmip.kmip.ttlv.errors import CodecError, LimitExceeded
from pkcs11_kmip.kmip.ttlv.item import TYPE_NAMES, Item, ItemType
from pkcs11_kmip.kmip.ttlv.limits import DEFAULT_LIMITS, Limits

__all__ = [
    "DEFAULT_LIMITS",
    "TYPE_NAMES",
    "CodecError",
    "Item",
    "ItemType",
    "LimitExceeded",
    "Limits",
    "binary",
    "json_codec",
    "xml_codec",
]
