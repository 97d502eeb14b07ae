"""Key Format Types: the forms in which Get hands out key material (KMIP 2.1 §3.2, §11.26).

An object keeps the form it was registered or generated in; Get converts to the
format asked for where the two carry the same key (Raw <-> Transparent Symmetric
Key here), else answers Key Format Type Not Supported.
"""

from __future__ import annotations

import copy
import dataclasses

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, TransparentKeyMaterial
from pkcs11_kmip.kmip.spec.enums import KeyCompressionType, KeyFormatType, ResultReason
from pkcs11_kmip_server.errors import KmipError

F = KeyFormatType


def _symmetric_bytes(block: KeyBlock) -> bytes | None:
    value = block.key_value
    if not isinstance(value, KeyValue):
        return None
    if isinstance(value.key_material, bytes) and block.key_format_type is F.RAW:
        return value.key_material
    if (
        isinstance(value.key_material, TransparentKeyMaterial)
        and block.key_format_type is F.TRANSPARENT_SYMMETRIC_KEY
    ):
        return value.key_material.key
    return None


def convert_block(block: KeyBlock, wanted: KeyFormatType) -> KeyBlock:
    if block.key_format_type is wanted:
        return block
    key = _symmetric_bytes(block)
    if key is not None and wanted is F.RAW:
        return dataclasses.replace(block, key_format_type=F.RAW, key_value=KeyValue(key_material=key))
    if key is not None and wanted is F.TRANSPARENT_SYMMETRIC_KEY:
        material = TransparentKeyMaterial(key=key)
        return dataclasses.replace(block, key_format_type=wanted, key_value=KeyValue(key_material=material))
    have = block.key_format_type.name if block.key_format_type is not None else "?"
    raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, f"cannot give a {have} key as {wanted.name}")


def convert_material(
    material: Structure, wanted: KeyFormatType | None, compression: KeyCompressionType | None
) -> Structure:
    """The object, with its key block in the format asked for (unchanged if none asked)."""
    if compression is not None:
        raise KmipError(ResultReason.KEY_COMPRESSION_TYPE_NOT_SUPPORTED, "key compression is not supported")
    block = getattr(material, "key_block", None)
    if wanted is None or not isinstance(block, KeyBlock):
        if wanted is not None and not isinstance(block, KeyBlock):
            raise KmipError(
                ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "this object has no key block to format"
            )
        return material
    converted = copy.copy(material)
    converted.key_block = convert_block(block, wanted)  # type: ignore[attr-defined]
    return converted
