"""CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE of the native token's objects.

Each is TRUE unless the object carries a vendor attribute saying FALSE: a template of
C_GenerateKey, C_GenerateKeyPair, C_CreateObject (objects.key_template) or C_CopyObject
(native/copying.py) may turn them off, and C_SetAttributeValue CKA_COPYABLE (to FALSE
only: native/editing.py). KMIP has no such rules, so they bind
Cryptoki callers only: C_SetAttributeValue of an unmodifiable object, C_DestroyObject of
an undestroyable one and C_CopyObject of an uncopyable one are CKR_ACTION_PROHIBITED,
while a KMIP client with the rights sees them as vendor attributes and is not bound.
"""

from __future__ import annotations

from pkcs11_kmip.cryptoki.constants import CKA
from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server.store import ObjectRecord

VENDOR = "x"
NAMES: dict[CKA, str] = {
    CKA.MODIFIABLE: "pkcs11-modifiable",
    CKA.COPYABLE: "pkcs11-copyable",
    CKA.DESTROYABLE: "pkcs11-destroyable",
}


def attribute(record: ObjectRecord, which: CKA) -> Attribute | None:
    """The vendor attribute that records the flag, if the object has one."""
    for entry in record.attributes.get_all(Tag.ATTRIBUTE):
        if (
            isinstance(entry, Attribute)
            and (entry.vendor_identification, entry.attribute_name) == (VENDOR, NAMES[which])
            and isinstance(entry.attribute_value, Item)
        ):
            return entry
    return None


def flag(record: ObjectRecord, which: CKA) -> bool:
    """The flag's value: FALSE only if the object's vendor attribute says so."""
    found = attribute(record, which)
    return (
        found is None
        or not isinstance(found.attribute_value, Item)
        or found.attribute_value.value is not False
    )


def entry(which: CKA, value: bool) -> AttributeEntry:
    """The vendor attribute that records the flag (added for FALSE only)."""
    item = Item(Tag.ATTRIBUTE_VALUE, ItemType.BOOLEAN, value)
    return AttributeEntry(
        Tag.ATTRIBUTE,
        Attribute(vendor_identification=VENDOR, attribute_name=NAMES[which], attribute_value=item),
    )


def is_flag(attribute: object) -> bool:
    """Whether a vendor attribute is one of these flags (a copy sets its own)."""
    return (
        isinstance(attribute, Attribute)
        and attribute.vendor_identification == VENDOR
        and (attribute.attribute_name in NAMES.values())
    )
