"""Re-key Key Pair: a replacement for a key pair, with new key material (KMIP 2.1 §6.1.47, 1.4 §4.5).

The replacement pair is generated like Create Key Pair, from the attributes of the
existing private and public keys (as Re-key copies them, Table 309) with the request's
attributes on top. Each existing key's Names move to its replacement; each existing
key links to its replacement (Replacement Object) and each replacement back to the key
it replaces (Replaced Object), besides the private/public links of the new pair. The
existing keys are otherwise untouched and stay usable. With an Offset, the new pair's
Activation Date is now + Offset and its Deactivation Date keeps its distance (Table 308).
The pair is generated before the write transaction, as Create Key Pair's is.
"""

from __future__ import annotations

from collections.abc import Callable

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import ReKeyKeyPairRequest, ReKeyKeyPairResponse
from pkcs11_kmip.kmip.messages.structures import Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import LinkType, ObjectType, Operation, ResultReason, UniqueIdentifier
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.operations import handles, prepares
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.create_key_pair import (
    MadeAhead,
    PairPlan,
    check_names,
    generate_ahead,
    pair_attributes,
    plan_pair,
    store_pair,
)
from pkcs11_kmip_server.operations.re_key import GONE, copied, offset_dates, replaced_by
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.templates import overlay

# The new pair links to itself; the existing pair's own links to each other are not copied.
PAIR_LINKS = frozenset({LinkType.PUBLIC_KEY_LINK, LinkType.PRIVATE_KEY_LINK})

# What sizes the key: a new curve or length (or algorithm) in the request replaces both.
KEY_SIZE = (Tag.CRYPTOGRAPHIC_LENGTH, Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)


def _linked(record: ObjectRecord, link_type: LinkType) -> str | None:
    return next(
        (
            link.linked_object_identifier
            for link in record.attributes.get_all(Tag.LINK)
            if isinstance(link, Link)
            and link.link_type is link_type
            and isinstance(link.linked_object_identifier, str)
        ),
        None,
    )


def _existing(
    context: RequestContext, uid: str | UniqueIdentifier | int | None, expected: ObjectType
) -> ObjectRecord:
    record = context.load(uid)
    require_online(record)
    if record.object_type is not expected:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"{record.uid} is a {record.object_type.name}, not the {expected.name} of a key pair",
        )
    if refresh_state(record.attributes, context.now) in GONE:
        raise KmipError(
            ResultReason.OBJECT_DESTROYED, f"{record.uid} is destroyed: there is nothing to replace"
        )
    return record


def _inherited(
    existing: ObjectRecord, requested: Attributes, offset: int | None, context: RequestContext
) -> Attributes:
    """What one new key takes from the key it replaces, with the request's attributes on top."""
    algorithm = requested.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    resized = any(requested.get(tag) is not None for tag in KEY_SIZE) or algorithm not in (
        None,
        existing.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM),
    )
    kept = [
        entry
        for entry in copied(existing.attributes)
        if not (
            entry.tag == Tag.LINK and isinstance(entry.value, Link) and entry.value.link_type in PAIR_LINKS
        )
        and not (resized and entry.tag in KEY_SIZE)
    ]
    if offset is not None:
        kept = list(overlay(kept, offset_dates(existing.attributes, offset, context.now)))
    attributes = overlay(kept, requested)
    attributes.add(
        Tag.LINK, Link(link_type=LinkType.REPLACED_OBJECT_LINK, linked_object_identifier=existing.uid)
    )
    return attributes


def _planned(
    context: RequestContext, request: ReKeyKeyPairRequest
) -> tuple[PairPlan, ObjectRecord, ObjectRecord]:
    """The replacement pair, checked, and the existing private and public keys it replaces."""
    old_private = _existing(context, request.private_key_unique_identifier, ObjectType.PRIVATE_KEY)
    public_uid = _linked(old_private, LinkType.PUBLIC_KEY_LINK)
    if public_uid is None:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"private key {old_private.uid} has no Public Key Link: there is no pair",
        )
    old_public = _existing(context, public_uid, ObjectType.PUBLIC_KEY)
    if request.offset is not None and request.offset < 0:
        raise KmipError(ResultReason.INVALID_FIELD, "the Offset is an interval: it cannot be negative")
    private, public = pair_attributes(context, request)
    private = _inherited(old_private, private, request.offset, context)
    public = _inherited(old_public, public, request.offset, context)
    check_names(context, private, public, besides=(old_private.uid, old_public.uid))
    return plan_pair(context, private, public), old_private, old_public


@prepares(Operation.RE_KEY_KEY_PAIR)
def re_key_key_pair_ahead(
    context: RequestContext, request: ReKeyKeyPairRequest
) -> Callable[[], MadeAhead] | None:
    """The replacement pair generated before the write transaction, as Create Key Pair's is."""
    plan, _, _ = _planned(context, request)
    return generate_ahead(plan)


@handles(Operation.RE_KEY_KEY_PAIR)
def re_key_key_pair(context: RequestContext, request: ReKeyKeyPairRequest) -> ReKeyKeyPairResponse:
    plan, old_private, old_public = _planned(context, request)
    new_private, new_public = store_pair(context, plan)
    for existing, replacement in ((old_private, new_private), (old_public, new_public)):
        replaced_by(existing, replacement, context)
    return ReKeyKeyPairResponse(
        private_key_unique_identifier=new_private.uid, public_key_unique_identifier=new_public.uid
    )
