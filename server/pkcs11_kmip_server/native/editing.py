"""C_SetAttributeValue: a Cryptoki template as the KMIP attribute edits it makes.

What may change is what KMIP lets a client change, so both protocols enforce the same
rules (docs/native-token.md): CKA_LABEL is the Name (Modify, Add or Delete Attribute),
CKA_ID the vendor attribute the token keeps it in, CKA_SENSITIVE only false -> true and
CKA_EXTRACTABLE only true -> false (Set Attribute). The usage flags are the
Cryptographic Usage Mask, which KMIP lets no client modify: a flag set to the value it
has is accepted, another is CKR_ATTRIBUTE_READ_ONLY, as is every other attribute the
token shows but CKA_START_DATE/CKA_END_DATE (Activation/Deactivation Date, in the states
KMIP allows) and CKA_COPYABLE (TRUE -> FALSE only, PKCS#11's one change of a storage flag:
the vendor attribute of storage_flags). The whole template is checked before any edit is
made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pkcs11_kmip.cryptoki.constants import CKA, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.kmip.messages import AttributeEntry, RequestPayload
from pkcs11_kmip.kmip.messages.attributes import CurrentAttribute, NewAttribute
from pkcs11_kmip.kmip.messages.payloads import (
    AddAttributeRequest,
    DeleteAttributeRequest,
    ModifyAttributeRequest,
    SetAttributeRequest,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, State
from pkcs11_kmip_server.native import objects, storage_flags
from pkcs11_kmip_server.store import ObjectRecord

Edit = tuple[RequestPayload, Operation]


@dataclass(frozen=True)
class Shown:
    """What the object shows now besides its attributes: its CKA_LABEL, its lifecycle state."""

    label: str | None
    state: State | None


Editor = Callable[[ObjectRecord, CkAttribute, Shown], Edit | None]


def _replace(record: ObjectRecord, tag: int, old: object, new: AttributeEntry | None) -> Edit | None:
    """The edit that puts `new` in place of `old` (either may be absent)."""
    uid = record.uid
    if old is None and new is None:
        return None
    if old is None:
        assert new is not None
        return AddAttributeRequest(
            unique_identifier=uid, new_attribute=NewAttribute(entries=[new])
        ), Operation.ADD_ATTRIBUTE
    current = CurrentAttribute(entries=[AttributeEntry(tag, old)])
    if new is None:
        return DeleteAttributeRequest(
            unique_identifier=uid, current_attribute=current
        ), Operation.DELETE_ATTRIBUTE
    request = ModifyAttributeRequest(
        unique_identifier=uid, current_attribute=current, new_attribute=NewAttribute(entries=[new])
    )
    return request, Operation.MODIFY_ATTRIBUTE


def _label(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
    """CKA_LABEL: the Name. A public key showing its private key's Name keeps showing it
    when set to that (KMIP Names are unique per client)."""
    label = objects.parse_label(entry)
    if label == shown.label:
        return None
    new = objects.name_entry(label) if label is not None else None
    old = record.attributes.get(Tag.NAME)
    return _replace(record, Tag.NAME, old, new)


def _id(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
    new = objects.id_entry(objects.parse_id(entry))
    old = objects.id_attribute(record)
    if old is not None and objects.object_id(record) == objects.parse_id(entry):
        return None
    return _replace(record, Tag.ATTRIBUTE, old, new)


def _one_way(tag: int, allowed: bool) -> Editor:
    """CKA_SENSITIVE (to true only) and CKA_EXTRACTABLE (to false only)."""

    def edit(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
        if record.object_type is ObjectType.CERTIFICATE:
            raise CKRError(CKR.ATTRIBUTE_TYPE_INVALID, "a certificate has no such attribute")
        wanted = objects.read_bool(entry)
        current = objects.attribute(record, entry.type, None) == objects.bbool(True)
        if wanted == current:
            return None
        if wanted != allowed:
            raise CKRError(CKR.ATTRIBUTE_READ_ONLY, f"attribute 0x{entry.type:X} does not go back")
        request = SetAttributeRequest(
            unique_identifier=record.uid, new_attribute=NewAttribute(entries=[AttributeEntry(tag, wanted)])
        )
        return request, Operation.SET_ATTRIBUTE

    return edit


def _copyable(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
    """CKA_COPYABLE: TRUE -> FALSE only (PKCS#11 3.0), the vendor attribute storage_flags
    reads; FALSE -> TRUE is CKR_ATTRIBUTE_READ_ONLY."""
    wanted = objects.read_bool(entry)
    if wanted == storage_flags.flag(record, CKA.COPYABLE):
        return None
    if wanted:
        raise CKRError(CKR.ATTRIBUTE_READ_ONLY, "CKA_COPYABLE does not go back to TRUE")
    old = storage_flags.attribute(record, CKA.COPYABLE)
    return _replace(record, Tag.ATTRIBUTE, old, storage_flags.entry(CKA.COPYABLE, False))


def _usage(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
    if objects.attribute(record, entry.type, None) != objects.bbool(objects.read_bool(entry)):
        raise CKRError(CKR.ATTRIBUTE_READ_ONLY, "KMIP lets no client change a Cryptographic Usage Mask")
    return None


def _date(tag: int, states: frozenset[State]) -> Editor:
    """CKA_START_DATE (Activation Date: while Pre-Active) and CKA_END_DATE (Deactivation
    Date: while Pre-Active or Active), as KMIP lets a client change them; a CK_DATE is
    midnight UTC. No client removes them: an empty date is read only."""

    def edit(record: ObjectRecord, entry: CkAttribute, shown: Shown) -> Edit | None:
        value = entry.value if isinstance(entry.value, bytes) else b""
        if value == objects.attribute(record, entry.type, None):
            return None
        if not value or shown.state not in states:
            raise CKRError(CKR.ATTRIBUTE_READ_ONLY, f"attribute 0x{entry.type:X} cannot change now")
        try:
            when = datetime.strptime(value.decode("ascii"), "%Y%m%d").replace(tzinfo=UTC)
        except (UnicodeDecodeError, ValueError) as error:
            raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "a CK_DATE is YYYYMMDD") from error
        request = SetAttributeRequest(
            unique_identifier=record.uid, new_attribute=NewAttribute(entries=[AttributeEntry(tag, when)])
        )
        return request, Operation.SET_ATTRIBUTE

    return edit


EDITS: dict[int, Editor] = {
    CKA.LABEL: _label,
    CKA.ID: _id,
    CKA.SENSITIVE: _one_way(Tag.SENSITIVE, True),
    CKA.EXTRACTABLE: _one_way(Tag.EXTRACTABLE, False),
    CKA.COPYABLE: _copyable,
    **{flag: _usage for flag in objects.USAGE},
    CKA.START_DATE: _date(Tag.ACTIVATION_DATE, frozenset({State.PRE_ACTIVE})),
    CKA.END_DATE: _date(Tag.DEACTIVATION_DATE, frozenset({State.PRE_ACTIVE, State.ACTIVE})),
}


def edits(record: ObjectRecord, template: tuple[CkAttribute, ...], shown: Shown) -> list[Edit]:
    """The KMIP edits a template asks for, in its order (CKRError for one the token refuses)."""
    planned = []
    for entry in template:
        edit = EDITS.get(entry.type)
        certificate = record.object_type is ObjectType.CERTIFICATE
        if edit is None or (certificate and entry.type not in (CKA.LABEL, CKA.ID, CKA.COPYABLE)):
            try:
                present = objects.attribute(record, entry.type, None) is not None
            except objects.Sensitive:
                present = True
            if present:
                raise CKRError(CKR.ATTRIBUTE_READ_ONLY, f"attribute 0x{entry.type:X} cannot be changed")
            raise CKRError(CKR.ATTRIBUTE_TYPE_INVALID, f"the object has no attribute 0x{entry.type:X}")
        found = edit(record, entry, shown)
        if found is not None:
            planned.append(found)
    return planned
