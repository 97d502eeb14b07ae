"""C_FindObjectsInit's template as store Locate criteria, beyond CKA_CLASS and CKA_LABEL.

The token compares every template attribute with each candidate's value (objects.attribute),
so a criterion here only has to keep every object that could match: it narrows the
candidates in SQL, through the attribute index, instead of loading them one at a time.

- CKA_KEY_TYPE: the Cryptographic Algorithm, when exactly one algorithm shows as that key
  type (objects.key_type read backwards: AES, 3DES, RSA, each HMAC; a generic secret is an
  HMAC-SHA256 key). CKK_EC (EC or ECDSA) and Edwards keys (Ed25519 or Ed448) are not
  narrowed: a criterion is one value, and the store's criteria all hold together; nor are
  Montgomery keys, which the token tells from EC/ECDH keys by their curve.
- CKA_ID: the vendor attribute `x` `pkcs11-id`, for an ID that is not the length of the
  token's derived ones (objects.ID_BYTES): an object without the attribute shows a derived
  ID of that length, so only objects carrying a chosen ID can show another length.
"""

from __future__ import annotations

from pkcs11_kmip.cryptoki.constants import CKA
from pkcs11_kmip.cryptoki.wire import NATIVE_ULONG
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm
from pkcs11_kmip_server.generic_secret import ALGORITHM
from pkcs11_kmip_server.native import objects
from pkcs11_kmip_server.native.constants import MoreCKK
from pkcs11_kmip_server.store import AttributeFilter

# A key type objects.key_type gives besides KEY_TYPES, for an algorithm of its own:
# a generic secret is an HMAC-SHA256 key with the token's mark. (The other marked types,
# Montgomery keys from ECDH or EC, are not narrowed: they are in no KEY_TYPES entry.)
# A two-key 3DES key is a 3DES key of 112 or 128 bits.
_MARKED: dict[int, frozenset[CryptographicAlgorithm]] = {
    MoreCKK.GENERIC_SECRET: frozenset({ALGORITHM}),
    MoreCKK.DES2: frozenset({CryptographicAlgorithm.DES3}),
}


def algorithms_of(ckk: int) -> frozenset[CryptographicAlgorithm]:
    """The Cryptographic Algorithms of the objects that may show CKA_KEY_TYPE `ckk` (empty:
    a type the token marks on objects of several algorithms, not narrowed)."""
    shown = {algorithm for algorithm, key_type in objects.KEY_TYPES.items() if key_type == ckk}
    return frozenset(shown) | _MARKED.get(ckk, frozenset())


def criteria(template: tuple[CkAttribute, ...], labelled: bool) -> list[AttributeFilter]:
    """Store criteria every object matching `template` meets (some of its attributes only).
    `labelled`: the search is by Name, and public keys join through their private key's
    link afterwards, so no criterion may leave out a private key whose public one matches
    (CKA_ID may differ between the halves; the key type does not)."""
    found = []
    for entry in template:
        if entry.type == CKA.KEY_TYPE and isinstance(entry.value, bytes) and len(entry.value) == NATIVE_ULONG:
            choices = algorithms_of(objects.read_ulong(entry))
            if len(choices) == 1:
                found.append(AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, next(iter(choices))))
        elif (
            entry.type == CKA.ID
            and not labelled
            and isinstance(entry.value, bytes)
            and len(entry.value) != objects.ID_BYTES
        ):
            found.append(AttributeFilter(Tag.ATTRIBUTE, objects.id_entry(entry.value).value))
    return found
