"""C_CopyObject on the native token: a new managed object with the key of another.

KMIP has no copy, so the token makes the new object itself, as Re-key makes a
replacement: it takes the attributes a replacement takes from the key it replaces (KMIP
2.1 Table 304, `re_key.copied`: not the identifiers, state, life dates, revocation) and,
the value being the same, its Digest and Key Format Type. The value is copied where it is
kept, the database's material or, over the HSM key store, the token object (C_CopyObject
inside the token: `hooks.copied_material`), so it never leaves the server.

Then the template's changes, with PKCS#11's rules (docs/native-token.md): CKA_TOKEN says
whose object it is (FALSE: a session object), CKA_PRIVATE must say what the object is,
CKA_MODIFIABLE/COPYABLE/DESTROYABLE are the copy's own (`storage_flags`), CKA_LABEL its
Name and CKA_ID its vendor attribute; everything else is what C_SetAttributeValue allows
(native/editing.py: Sensitive only to TRUE, Extractable only to FALSE, the usage mask as it
is), made on the copy as KMIP Set Attribute. Always Sensitive and Never Extractable are the
source's (PKCS#11 3.0 §5.7, C_CopyObject); the copy was not generated (CKA_LOCAL FALSE).

Links: KMIP has no link type for "a copy of", so a copy does not link to its source (a
Derivation Base Object or Replaced Object link would say something untrue). The pair link
is kept where it stays true and within one owner: a copy of a private key links to the
source's public key (Public Key Link), a copy of a public key to the source's private key;
the partner itself is not changed. A copy of another owner (a session copy of a token
object, a copy of a granted key) has no links.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pkcs11_kmip.cryptoki.constants import CKA, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.kmip.messages import AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.structures import Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import LinkType, ObjectType, Operation, ResultReason, State
from pkcs11_kmip_server.attribute_edits import check_unique_name
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.native import objects, storage_flags
from pkcs11_kmip_server.objects import new_record
from pkcs11_kmip_server.operations.re_key import copied
from pkcs11_kmip_server.store import ObjectRecord

# The link from a copy to its source's other half (kept within one owner).
PAIR_LINKS = {
    ObjectType.PRIVATE_KEY: LinkType.PUBLIC_KEY_LINK,
    ObjectType.PUBLIC_KEY: LinkType.PRIVATE_KEY_LINK,
}
# Taken from the source besides Table 304's: the value is the same.
SAME_VALUE = (Tag.DIGEST, Tag.KEY_FORMAT_TYPE)
# The history of the value, which a copy shares (new_record would start them afresh).
HISTORY = (Tag.ALWAYS_SENSITIVE, Tag.NEVER_EXTRACTABLE)
# States whose objects are copied, into the same state. A Compromised or destroyed object is
# not, nor a revoked one: its copy would be a key in use again.
COPIED_STATES = frozenset({State.PRE_ACTIVE, State.ACTIVE, State.DEACTIVATED})
# The HSM key store failing rather than refusing: the key gone from its token, or no token open.
DEVICE_FAILURES = frozenset({ResultReason.KEY_VALUE_NOT_PRESENT, ResultReason.GENERAL_FAILURE})
# Attributes of the source the copy sets itself.
OWN_TAGS = frozenset({Tag.NAME, Tag.LINK})


@dataclass
class Plan:
    """What a C_CopyObject template asks for, checked against the source."""

    token: bool
    label: str | None  # the CKA_LABEL the copy shows
    labelled: bool  # the template names CKA_LABEL
    renamed: bool  # ... and it is not the source's
    key_id: bytes
    flags: dict[CKA, bool]
    rest: tuple[CkAttribute, ...]  # for C_SetAttributeValue's rules


def check_source(source: ObjectRecord, now: datetime) -> State:
    """The source's state, if it may be copied (else CKR_ACTION_PROHIBITED): CKA_COPYABLE,
    a live unrevoked object, and no Usage Limits (a copy would double the uses they allow)."""
    if not storage_flags.flag(source, CKA.COPYABLE):
        raise CKRError(CKR.ACTION_PROHIBITED, "CKA_COPYABLE is FALSE")
    state = refresh_state(source.attributes, now)
    if state not in COPIED_STATES or source.attributes.get(Tag.REVOCATION_REASON) is not None:
        raise CKRError(CKR.ACTION_PROHIBITED, f"a {state.name} or revoked object is not copied")
    if source.attributes.get(Tag.USAGE_LIMITS) is not None:
        raise CKRError(CKR.ACTION_PROHIBITED, "a copy would double the uses its Usage Limits allow")
    return state


def plan(source: ObjectRecord, template: tuple[CkAttribute, ...], shown_label: str | None) -> Plan:
    """The storage attributes of a copy template (CKA_TOKEN, CKA_PRIVATE, the three flags,
    CKA_LABEL, CKA_ID); the rest is left to C_SetAttributeValue's rules."""
    wanted = Plan(
        token=not objects.is_session_object(source),
        label=shown_label,
        labelled=False,
        renamed=False,
        key_id=objects.object_id(source),
        flags={flag: storage_flags.flag(source, flag) for flag in storage_flags.NAMES},
        rest=(),
    )
    rest = []
    for entry in template:
        if entry.type == CKA.TOKEN:
            wanted.token = objects.read_bool(entry)
        elif entry.type == CKA.PRIVATE:
            if objects.read_bool(entry) != objects.is_private(source):
                raise CKRError(CKR.TEMPLATE_INCONSISTENT, "only public keys and certificates are public")
        elif entry.type in storage_flags.NAMES:
            wanted.flags[CKA(entry.type)] = objects.read_bool(entry)
        elif entry.type == CKA.LABEL:
            label = objects.parse_label(entry)
            wanted.labelled = True
            wanted.renamed = label != shown_label
            wanted.label = label
        elif entry.type == CKA.ID:
            wanted.key_id = objects.parse_id(entry)
        else:
            rest.append(entry)
    wanted.rest = tuple(rest)
    return wanted


def new_copy(context: RequestContext, source: ObjectRecord, wanted: Plan, state: State) -> ObjectRecord:
    """The copy's record, owned by `context.principal`, in `state`; its material is the
    source's until `insert` copies it. A Name its owner's objects already have is refused:
    CKR_ATTRIBUTE_VALUE_INVALID for the template's CKA_LABEL, CKR_TEMPLATE_INCOMPLETE for the
    source's kept (a copy among the source's own objects needs a new label)."""
    same_owner = context.principal == source.owner
    name = wanted.label if wanted.renamed or not same_owner else objects.own_label(source)
    if name is not None:
        try:
            check_unique_name(context, name, besides=None)
        except KmipError as error:
            taken = CKR.ATTRIBUTE_VALUE_INVALID if wanted.labelled else CKR.TEMPLATE_INCOMPLETE
            raise CKRError(taken, error.message) from error
    requested = Attributes(entries=[entry for entry in copied(source.attributes) if not _own(entry)])
    for tag in SAME_VALUE:
        for value in source.attributes.get_all(tag):
            requested.add(tag, value)
    if name is not None:
        requested.entries.append(objects.name_entry(name))
    requested.entries.append(objects.id_entry(wanted.key_id))
    requested.entries += [storage_flags.entry(flag, False) for flag, on in wanted.flags.items() if not on]
    pair = PAIR_LINKS.get(source.object_type)
    partner = objects.linked(source, pair) if pair is not None else None
    if same_owner and partner is not None:
        requested.add(Tag.LINK, Link(link_type=pair, linked_object_identifier=partner))
    context.operation = Operation.REGISTER  # the server's constraints, as for an object registered
    try:
        record = new_record(context, source.object_type, None, requested)
    except KmipError as error:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, error.message) from error
    for tag in HISTORY:
        set_single(record.attributes, tag, source.attributes.get(tag) is True)
    set_single(record.attributes, Tag.STATE, state)
    record.material = source.material
    return record


def _own(entry: AttributeEntry) -> bool:
    """Whether the copy sets this attribute of the source's itself (Name, links, CKA_ID, flags)."""
    value = entry.value
    return (
        entry.tag in OWN_TAGS
        or (entry.tag == Tag.ATTRIBUTE and storage_flags.is_flag(value))
        or (
            entry.tag == Tag.ATTRIBUTE
            and (getattr(value, "vendor_identification", None), getattr(value, "attribute_name", None))
            == objects.ID_ATTRIBUTE
        )
    )


def insert(context: RequestContext, source: ObjectRecord, copy: ObjectRecord) -> None:
    """Store the copy with its own copy of the value: CKR_ACTION_PROHIBITED if the HSM key
    store's token refuses to copy its key, CKR_DEVICE_ERROR if it has lost it or is not open."""
    try:
        copy.material = hooks.copied_material(context, source, copy)
    except KmipError as error:
        rv = CKR.DEVICE_ERROR if error.reason in DEVICE_FAILURES else CKR.ACTION_PROHIBITED
        raise CKRError(rv, error.message) from error
    context.session.insert(copy)
