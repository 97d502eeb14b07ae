"""Requests as real clients write them, in either attribute form.

KMIP 1.x clients name each attribute ("Cryptographic Algorithm", "x-key-namespace")
inside a Template-Attribute; KMIP 2.x clients put each under its own tag. The tests
of real clients' scenarios build exactly the 1.x form those clients send, so the
helpers here take the attribute as (tag, value) or as a custom name and write the
form the version calls for.
"""

from __future__ import annotations

from typing import Any

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages import Attribute, Attributes, TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import CreateRequest, RegisterRequest
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    NameType,
    ObjectType,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType

ENCRYPT_DECRYPT = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT

# One attribute as a test names it: a standard (tag, value), or a custom text attribute.
AttributeSpec = tuple[int, Any] | Attribute


def name(text: str) -> Name:
    return Name(name_value=text, name_type=NameType.UNINTERPRETED_TEXT_STRING)


def custom_text(attribute_name: str, text: str) -> Attribute:
    """A KMIP 1.x custom attribute ("x-..."), a Text String as every real client sends them."""
    return Attribute(attribute_name=attribute_name, attribute_value=text_value(text))


def text_value(text: str) -> Item:
    return Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, text)


def named(tag: int, value: Any) -> Attribute:
    """A standard attribute in the 1.x form: its spec name and a typed value."""
    row = spec.tag_info(tag)
    assert row is not None, f"no attribute with tag 0x{tag:06X}"
    return Attribute(attribute_name=row.name, attribute_value=value)


def named_list(*attributes: AttributeSpec) -> list[Attribute]:
    return [a if isinstance(a, Attribute) else named(*a) for a in attributes]


def as_attributes(*attributes: AttributeSpec) -> Attributes:
    """The 2.x form; a custom "x-name" becomes the vendor attribute of vendor "x" (KMIP 2.1 §4.54)."""
    entries = Attributes()
    for attribute in attributes:
        if isinstance(attribute, Attribute):
            vendor, _, short = (attribute.attribute_name or "").partition("-")
            value = attribute.attribute_value
            entries.add(
                Tag.ATTRIBUTE,
                Attribute(vendor_identification=vendor, attribute_name=short, attribute_value=value),
            )
        else:
            entries.add(*attribute)
    return entries


def attribute_fields(version: Version, *attributes: AttributeSpec) -> dict[str, Any]:
    """The keyword arguments of a Create/Register payload carrying these attributes in `version`."""
    if version >= (2, 0):
        return {"attributes": as_attributes(*attributes)}
    return {"template_attribute": TemplateAttribute(attributes=named_list(*attributes))}


def aes_create(version: Version, length: int = 256, *extra: AttributeSpec) -> CreateRequest:
    """Create an AES key for encryption, with `extra` attributes (a name, custom ones, ...)."""
    return CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        **attribute_fields(
            version,
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, length),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, ENCRYPT_DECRYPT),
            *extra,
        ),
    )


def symmetric_create(
    algorithm: CryptographicAlgorithm, mask: int, label: str, *extra: AttributeSpec
) -> CreateRequest:
    """Create a 256-bit symmetric key of `algorithm` (AES, HMAC-SHA*) for `mask`, named `label`
    (KMIP 2.x Attributes), with `extra` attributes."""
    return CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=as_attributes(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, mask),
            (Tag.NAME, name(label)),
            *extra,
        ),
    )


def aes_register(version: Version, material: bytes, *extra: AttributeSpec) -> RegisterRequest:
    """Register a raw AES key the client made itself, with `extra` attributes."""
    key = SymmetricKey(
        key_block=KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=material),
            cryptographic_algorithm=CryptographicAlgorithm.AES,
            cryptographic_length=len(material) * 8,
        )
    )
    return RegisterRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        object=key,
        **attribute_fields(version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, ENCRYPT_DECRYPT), *extra),
    )
