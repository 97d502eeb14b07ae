"""Generic secrets: HMAC keys for any hash, as PKCS#11's CKK_GENERIC_SECRET is.

KMIP has no generic secret: the native token makes a CKK_GENERIC_SECRET key an HMAC-SHA256
key marked with the vendor attribute `KEY_TYPE_ATTRIBUTE` (docs/native-token.md). An HMAC
key of KMIP is for its own hash only; a marked one MACs with the hash the request names
(SHA-256 when it names none), as the key it stands for does. Only the marked keys: the
checks for a plain HMAC-SHA* key stay as they are. The owner (or an administrator) sets the
mark; a grantee cannot, since it edits no attributes of the key.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages import Attribute
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, HashingAlgorithm
from pkcs11_kmip.kmip.ttlv import Item
from pkcs11_kmip_server.store import ObjectRecord

KEY_TYPE_ATTRIBUTE = ("x", "pkcs11-key-type")
"""A key type KMIP's Cryptographic Algorithm does not say (CKK_GENERIC_SECRET), as an Integer."""
CKK_GENERIC_SECRET = 0x10
"""pkcs11t.h: the value the mark holds."""
ALGORITHM = CryptographicAlgorithm.HMAC_SHA256
"""The KMIP algorithm of a generic secret (its default hash)."""


def vendor_attribute(record: ObjectRecord, name: tuple[str, str]) -> Attribute | None:
    """The object's vendor attribute (Vendor Identification, Attribute Name), if it has one."""
    for entry in record.attributes.get_all(Tag.ATTRIBUTE):
        if (
            isinstance(entry, Attribute)
            and (entry.vendor_identification, entry.attribute_name) == name
            and isinstance(entry.attribute_value, Item)
        ):
            return entry
    return None


def is_generic_secret(record: ObjectRecord) -> bool:
    """Whether the object is an HMAC-SHA256 key marked as a generic secret."""
    if record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is not ALGORITHM:
        return False
    entry = vendor_attribute(record, KEY_TYPE_ATTRIBUTE)
    return (
        entry is not None
        and isinstance(entry.attribute_value, Item)
        and entry.attribute_value.value == CKK_GENERIC_SECRET
    )


def mac_key_algorithm(
    record: ObjectRecord, hashing: HashingAlgorithm | None
) -> CryptographicAlgorithm | None:
    """The algorithm a MAC checks the key against: none for a generic secret when the request
    names a hash (any HMAC hash: `crypto.signatures.mac_spec` then takes the request's), else
    the key's own (a generic secret's HMAC-SHA256 by default)."""
    if hashing is not None and is_generic_secret(record):
        return None
    algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    return algorithm if isinstance(algorithm, CryptographicAlgorithm) else None
