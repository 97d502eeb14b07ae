"""Re-key: a replacement for a symmetric key, with new key material (KMIP 2.1 §6.1.46, 1.4 §4.4).

The replacement is a new object (new Unique Identifier) with the existing key's
attributes, except those the spec's Re-key table (Table 304) says are new or not
set, and with the request's attributes on top. The Names move to the replacement;
the two keys link to each other (Replacement Object / Replaced Object). The
existing key is otherwise untouched: it stays usable in whatever state it is in.

With an Offset, the replacement's Activation Date is now + Offset, and its other
dates keep their distance from it (Table 303). The spec measures that distance
from the existing key's Activation Date; a key that has none is measured from its
Initial Date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pkcs11_kmip.kmip.messages import AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import ReKeyRequest, ReKeyResponse
from pkcs11_kmip.kmip.messages.structures import Link, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType, LinkType, ObjectType, Operation, ResultReason, State
from pkcs11_kmip_server import keys
from pkcs11_kmip_server.attribute_edits import (
    check_unique_names,
    discard,
    discard_links,
    full_allowance,
    positions,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import new_record, requested_attributes, touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.templates import overlay

# Attributes the replacement does not take from the existing key: those Table 304
# says are new, recomputed or not set, and those every new object gets afresh.
NOT_COPIED = frozenset(
    {
        Tag.UNIQUE_IDENTIFIER,
        Tag.SHORT_UNIQUE_IDENTIFIER,
        Tag.OBJECT_TYPE,
        Tag.STATE,
        Tag.INITIAL_DATE,
        Tag.LAST_CHANGE_DATE,
        Tag.ORIGINAL_CREATION_DATE,
        Tag.DESTROY_DATE,
        Tag.COMPROMISE_OCCURRENCE_DATE,
        Tag.COMPROMISE_DATE,
        Tag.REVOCATION_REASON,
        Tag.ARCHIVE_DATE,
        Tag.DIGEST,
        Tag.KEY_FORMAT_TYPE,
        Tag.RANDOM_NUMBER_GENERATOR,
        Tag.ALWAYS_SENSITIVE,
        Tag.NEVER_EXTRACTABLE,
        Tag.FRESH,
    }
)

# The links that describe this key's place in a chain of replacements.
REPLACEMENT_LINKS = frozenset({LinkType.REPLACEMENT_OBJECT_LINK, LinkType.REPLACED_OBJECT_LINK})

# The dates that follow the Activation Date when an Offset is given (Table 303).
SHIFTED_DATES = (Tag.PROCESS_START_DATE, Tag.PROTECT_STOP_DATE, Tag.DEACTIVATION_DATE)

GONE = (State.DESTROYED, State.DESTROYED_COMPROMISED)


def copied(attributes: Attributes) -> list[AttributeEntry]:
    """What the replacement takes over from the existing key, before the request's own attributes."""
    kept = []
    for entry in attributes:
        if entry.tag in NOT_COPIED:
            continue
        if (
            entry.tag == Tag.LINK
            and isinstance(entry.value, Link)
            and entry.value.link_type in REPLACEMENT_LINKS
        ):
            continue
        if entry.tag == Tag.USAGE_LIMITS and isinstance(entry.value, UsageLimits):
            # The replacement starts with its whole allowance (Table 304).
            entry = AttributeEntry(entry.tag, full_allowance(entry.value))
        kept.append(entry)
    return kept


def offset_dates(attributes: Attributes, offset: int, now: datetime) -> list[AttributeEntry]:
    """The replacement's dates for an Offset: activation at now + Offset, the others moved with it."""
    activation = now + timedelta(seconds=offset)
    origin = attributes.get(Tag.ACTIVATION_DATE) or attributes.get(Tag.INITIAL_DATE) or now
    moved = [AttributeEntry(Tag.ACTIVATION_DATE, activation)]
    for tag in SHIFTED_DATES:
        date = attributes.get(tag)
        if date is not None:
            moved.append(AttributeEntry(tag, date + (activation - origin)))
    return moved


@handles(Operation.RE_KEY)
def re_key(context: RequestContext, request: ReKeyRequest) -> ReKeyResponse:
    existing = context.load(request.unique_identifier)
    require_online(existing)
    if existing.object_type is not ObjectType.SYMMETRIC_KEY:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"Re-key replaces symmetric keys, not a {existing.object_type.name}",
        )
    state = refresh_state(existing.attributes, context.now)
    if state in GONE:
        raise KmipError(
            ResultReason.OBJECT_DESTROYED, f"{existing.uid} is destroyed: there is nothing to replace"
        )
    if request.offset is not None and request.offset < 0:
        raise KmipError(ResultReason.INVALID_FIELD, "the Offset is an interval: it cannot be negative")
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    check_unique_names(context, requested, besides=existing.uid)
    inherited = copied(existing.attributes)
    if request.offset is not None:
        inherited = list(overlay(inherited, offset_dates(existing.attributes, request.offset, context.now)))
    attributes = overlay(inherited, requested)
    if len({name.name_value for name in attributes.get_all(Tag.NAME)}) < len(attributes.get_all(Tag.NAME)):
        raise KmipError(ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, "the replacement would have one name twice")
    attributes.add(
        Tag.LINK, Link(link_type=LinkType.REPLACED_OBJECT_LINK, linked_object_identifier=existing.uid)
    )

    algorithm = attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    material = SymmetricKey(
        key_block=KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=keys.symmetric_key(algorithm, length)),
            cryptographic_algorithm=algorithm,
            cryptographic_length=length,
        )
    )
    replacement = new_record(context, ObjectType.SYMMETRIC_KEY, material, attributes, generated=True)
    refresh_state(replacement.attributes, context.now)  # copied dates may make it Active already
    context.session.insert(replacement)

    replaced_by(existing, replacement, context)
    context.id_placeholder = replacement.uid
    return ReKeyResponse(unique_identifier=replacement.uid)


def replaced_by(existing: ObjectRecord, replacement: ObjectRecord, context: RequestContext) -> None:
    """The existing key gives up its Names and links to its replacement (instead of an earlier
    one). Instances go as Delete Attribute takes them: the 1.x Attribute Indexes of the
    Links left stay, and with no Name left none of its indexes stays vacant."""
    discard(existing, positions(existing, Tag.NAME))
    discard_links(existing, LinkType.REPLACEMENT_OBJECT_LINK)
    existing.attributes.add(
        Tag.LINK, Link(link_type=LinkType.REPLACEMENT_OBJECT_LINK, linked_object_identifier=replacement.uid)
    )
    touch(existing, context.now)
    context.session.save(existing)
