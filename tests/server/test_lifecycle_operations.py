"""Re-key, Archive, Recover, Check, Get Usage Allocation and Obtain Lease, over real TLS.

Re-key follows KMIP 2.1 §6.1.46 and TC-REKEY-1-20 (names move to the replacement,
links both ways, dates copied or moved by an Offset, the old key stays usable);
Check follows BL-M-2-21 and BL-M-3-21; which uses a state allows follows NIST
SP 800-57 as KMIP adopts it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes, TemplateAttribute
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.objects import OpaqueObject
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    AddAttributeRequest,
    ArchiveRequest,
    CheckRequest,
    CreateRequest,
    DestroyRequest,
    GetAttributesRequest,
    GetRequest,
    GetUsageAllocationRequest,
    LocateRequest,
    ModifyAttributeRequest,
    ObtainLeaseRequest,
    RecoverRequest,
    RegisterRequest,
    ReKeyRequest,
    RequestPayload,
    RevokeRequest,
    SetAttributeRequest,
)
from pkcs11_kmip.kmip.messages.structures import Link, RevocationReason, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    LinkType,
    ObjectType,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
    State,
    StorageStatusMask,
    UsageLimitsUnit,
)
from pkcs11_kmip_server.engine import reason_for
from testsupport.kmip_builders import aes_create, name, named
from testsupport.managed_keys import client_fixture
from testsupport.server import RunningServer

V1, V2 = (1, 2), (2, 1)
CLIENT = "lifecycle-operations"
ENCRYPT, DECRYPT = CryptographicUsageMask.ENCRYPT, CryptographicUsageMask.DECRYPT


v2 = client_fixture(CLIENT, V2)
v1 = client_fixture(CLIENT, V1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_key(kmip: KmipClient, *extra: Any, length: int = 256) -> str:
    uid: str = kmip.call(aes_create(kmip.version, length, *extra)).unique_identifier
    return uid


def key_for(kmip: KmipClient, usage: CryptographicUsageMask, *extra: tuple[int, Any]) -> str:
    """An AES key (KMIP 2.x form) for just these uses."""
    attributes = Attributes.of(
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.CRYPTOGRAPHIC_LENGTH, 128),
        (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage),
        *extra,
    )
    uid: str = kmip.call(
        CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
    ).unique_identifier
    return uid


def active_key(kmip: KmipClient, *extra: Any) -> str:
    uid = new_key(kmip, *extra)
    kmip.call(ActivateRequest(unique_identifier=uid))
    return uid


def values(kmip: KmipClient, uid: str, *references: Tag) -> Attributes:
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_references=list(references)))
    assert isinstance(answer.attributes, Attributes)
    return answer.attributes


def key_bytes(kmip: KmipClient, uid: str) -> bytes:
    material: bytes = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    return material


def refused(kmip: KmipClient, payload: RequestPayload) -> ResultReason | None:
    with pytest.raises(KmipResultError) as failure:
        kmip.call(payload)
    return failure.value.reason


def revoke(kmip: KmipClient, uid: str, code: RevocationReasonCode) -> None:
    kmip.call(
        RevokeRequest(unique_identifier=uid, revocation_reason=RevocationReason(revocation_reason_code=code))
    )


def links(kmip: KmipClient, uid: str) -> dict[LinkType, list[str]]:
    found: dict[LinkType, list[str]] = {}
    for link in values(kmip, uid, Tag.LINK).get_all(Tag.LINK):
        assert isinstance(link, Link) and link.link_type is not None
        found.setdefault(link.link_type, []).append(str(link.linked_object_identifier))
    return found


def with_usage_limits(kmip: KmipClient, uid: str, total: int) -> None:
    limits = UsageLimits(usage_limits_total=total, usage_limits_unit=UsageLimitsUnit.OBJECT)
    kmip.call(
        SetAttributeRequest(unique_identifier=uid, new_attribute=NewAttribute.of((Tag.USAGE_LIMITS, limits)))
    )


# --- Re-key --------------------------------------------------------------------------------


def test_re_key_chain_moves_names_links_both_ways_and_leaves_the_old_key_usable(v2: KmipClient) -> None:
    """TC-REKEY-1-20: each replacement takes every name so far, and is Active like the original."""
    original, first, second = unique("original"), unique("first-rekey"), unique("second-rekey")
    uid0 = new_key(v2, (Tag.NAME, name(original)), (Tag.ACTIVATION_DATE, now() - timedelta(hours=1)))
    items = v2.batch(
        ReKeyRequest(unique_identifier=uid0, attributes=Attributes.of((Tag.NAME, name(first)))),
        GetAttributesRequest(attribute_references=[Tag.NAME, Tag.STATE]),
        ReKeyRequest(attributes=Attributes.of((Tag.NAME, name(second)))),
        GetAttributesRequest(attribute_references=[Tag.NAME, Tag.STATE]),
    )
    assert [item.result_status for item in items] == [ResultStatus.SUCCESS] * 4
    uid1, uid2 = items[0].response_payload.unique_identifier, items[2].response_payload.unique_identifier
    assert len({uid0, uid1, uid2}) == 3
    assert items[1].response_payload.unique_identifier == uid1
    assert items[1].response_payload.attributes.get_all(Tag.NAME) == [name(original), name(first)]
    assert items[3].response_payload.attributes.get_all(Tag.NAME) == [
        name(original),
        name(first),
        name(second),
    ]
    assert items[3].response_payload.attributes.get(Tag.STATE) is State.ACTIVE

    assert values(v2, uid0, Tag.NAME).get_all(Tag.NAME) == []
    assert links(v2, uid0) == {LinkType.REPLACEMENT_OBJECT_LINK: [uid1]}
    assert links(v2, uid1) == {
        LinkType.REPLACED_OBJECT_LINK: [uid0],
        LinkType.REPLACEMENT_OBJECT_LINK: [uid2],
    }
    assert links(v2, uid2) == {LinkType.REPLACED_OBJECT_LINK: [uid1]}
    # The old key is untouched otherwise: still Active, still its own key material.
    assert values(v2, uid0, Tag.STATE).get(Tag.STATE) is State.ACTIVE
    assert len({key_bytes(v2, uid) for uid in (uid0, uid1, uid2)}) == 3
    assert values(v2, uid2, Tag.DIGEST).get(Tag.DIGEST) != values(v2, uid0, Tag.DIGEST).get(Tag.DIGEST)
    found = v2.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name(original))))).unique_identifiers
    assert found == [uid2]


def test_re_key_copies_attributes_but_not_history(v2: KmipClient) -> None:
    uid = new_key(
        v2,
        (Tag.SENSITIVE, True),
        (Tag.OBJECT_GROUP, "payments"),
        (Tag.CONTACT_INFORMATION, "ops"),
        length=128,
    )
    with_usage_limits(v2, uid, 10)
    v2.call(ActivateRequest(unique_identifier=uid))
    v2.call(GetUsageAllocationRequest(unique_identifier=uid, usage_limits_count=4))
    revoke(v2, uid, RevocationReasonCode.KEY_COMPROMISE)
    replacement = v2.call(ReKeyRequest(unique_identifier=uid)).unique_identifier
    got = values(v2, replacement)
    assert got.get(Tag.CRYPTOGRAPHIC_LENGTH) == 128
    assert got.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == ENCRYPT | DECRYPT
    assert (got.get(Tag.OBJECT_GROUP), got.get(Tag.CONTACT_INFORMATION)) == ("payments", "ops")
    assert (got.get(Tag.SENSITIVE), got.get(Tag.ALWAYS_SENSITIVE)) == (True, True)
    limits = got.get(Tag.USAGE_LIMITS)
    assert (limits.usage_limits_total, limits.usage_limits_count) == (10, 10)
    for not_copied in (Tag.COMPROMISE_DATE, Tag.COMPROMISE_OCCURRENCE_DATE, Tag.REVOCATION_REASON):
        assert got.get(not_copied) is None
    # The original was activated, so the copied Activation Date (and no Deactivation Date) make it Active.
    assert got.get(Tag.STATE) is State.ACTIVE
    assert values(v2, uid, Tag.STATE).get(Tag.STATE) is State.COMPROMISED


def test_re_key_with_an_offset_moves_the_dates(v2: KmipClient) -> None:
    """KMIP 2.1 Table 303: Activation = now + Offset; the other dates keep their distance to it."""
    activation = now() - timedelta(days=1)
    deactivation = activation + timedelta(days=10)
    uid = new_key(v2, (Tag.ACTIVATION_DATE, activation), (Tag.DEACTIVATION_DATE, deactivation))
    before = now()
    replacement = v2.call(ReKeyRequest(unique_identifier=uid, offset=3600)).unique_identifier
    got = values(v2, replacement, Tag.ACTIVATION_DATE, Tag.DEACTIVATION_DATE, Tag.STATE)
    new_activation = got.get(Tag.ACTIVATION_DATE)
    assert before + timedelta(hours=1) <= new_activation <= now() + timedelta(hours=1)
    assert got.get(Tag.DEACTIVATION_DATE) - new_activation == timedelta(days=10)
    assert got.get(Tag.STATE) is State.PRE_ACTIVE


def test_re_key_in_kmip_1x_takes_a_template_attribute(v1: KmipClient) -> None:
    old_name, new_name = unique("legacy"), unique("legacy-next")
    uid = new_key(v1, (Tag.NAME, name(old_name)))
    request = ReKeyRequest(
        unique_identifier=uid,
        template_attribute=TemplateAttribute(attributes=[named(Tag.NAME, name(new_name))]),
    )
    replacement = v1.call(request).unique_identifier
    answer = v1.call(GetAttributesRequest(unique_identifier=replacement, attribute_names=["Name"]))
    assert [a.attribute_value for a in answer.attribute_list] == [name(old_name), name(new_name)]
    assert [a.attribute_index for a in answer.attribute_list] == [None, 1]


def test_re_key_refusals(v2: KmipClient, v1: KmipClient) -> None:
    secret = v2.call(
        CreateRequest(object_type=ObjectType.SECRET_DATA, attributes=Attributes())
    ).unique_identifier
    assert refused(v2, ReKeyRequest(unique_identifier=secret)) is ResultReason.INVALID_OBJECT_TYPE

    destroyed = new_key(v2)
    v2.call(DestroyRequest(unique_identifier=destroyed))
    assert refused(v2, ReKeyRequest(unique_identifier=destroyed)) is ResultReason.OBJECT_DESTROYED
    assert refused(v1, ReKeyRequest(unique_identifier=destroyed)) is ResultReason.PERMISSION_DENIED

    taken = unique("taken")
    new_key(v2, (Tag.NAME, name(taken)))
    uid = new_key(v2)
    clash = ReKeyRequest(unique_identifier=uid, attributes=Attributes.of((Tag.NAME, name(taken))))
    assert refused(v2, clash) is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    assert links(v2, uid) == {}  # nothing happened


# --- Archive and Recover ---------------------------------------------------------------------


def test_archive_takes_the_object_off_line_until_recover(v2: KmipClient, v1: KmipClient) -> None:
    label = unique("archived")
    uid = new_key(v2, (Tag.NAME, name(label)))
    by_name = LocateRequest(attributes=Attributes.of((Tag.NAME, name(label))))
    v2.call(ArchiveRequest(unique_identifier=uid))

    assert refused(v2, GetRequest(unique_identifier=uid)) is ResultReason.OBJECT_ARCHIVED
    assert refused(v1, GetRequest(unique_identifier=uid)) is ResultReason.OBJECT_ARCHIVED
    assert refused(v2, ArchiveRequest(unique_identifier=uid)) is ResultReason.OBJECT_ARCHIVED
    edit = AddAttributeRequest(unique_identifier=uid, new_attribute=NewAttribute.of((Tag.COMMENT, "no")))
    assert refused(v2, edit) is ResultReason.OBJECT_ARCHIVED
    assert refused(v2, ReKeyRequest(unique_identifier=uid)) is ResultReason.OBJECT_ARCHIVED
    assert v2.call(by_name).unique_identifiers == []
    archived = LocateRequest(
        storage_status_mask=StorageStatusMask.ARCHIVAL_STORAGE,
        attributes=Attributes.of((Tag.NAME, name(label))),
    )
    assert v2.call(archived).unique_identifiers == [uid]
    assert values(v2, uid, Tag.ARCHIVE_DATE).get(Tag.ARCHIVE_DATE) is not None

    v2.call(RecoverRequest(unique_identifier=uid))
    assert len(key_bytes(v2, uid)) == 32
    assert values(v2, uid, Tag.ARCHIVE_DATE).get(Tag.ARCHIVE_DATE) is None
    assert v2.call(by_name).unique_identifiers == [uid]
    v2.call(RecoverRequest(unique_identifier=uid))  # recovering an on-line object changes nothing


def test_a_destroyed_object_is_not_archived(v2: KmipClient) -> None:
    uid = new_key(v2)
    v2.call(DestroyRequest(unique_identifier=uid))
    assert refused(v2, ArchiveRequest(unique_identifier=uid)) is ResultReason.OBJECT_DESTROYED


# --- Check -------------------------------------------------------------------------------------


def test_check_in_an_undo_batch_like_bl_m_2(v2: KmipClient) -> None:
    """BL-M-2-21: a key for Encrypt only; Check for Decrypt fails and the batch is undone."""
    uid = key_for(v2, ENCRYPT)
    activate, check_encrypt, check_decrypt = v2.batch(
        ActivateRequest(unique_identifier=uid),
        CheckRequest(unique_identifier=uid, cryptographic_usage_mask=ENCRYPT),
        CheckRequest(unique_identifier=uid, cryptographic_usage_mask=DECRYPT),
        batch_error_continuation_option=BatchErrorContinuationOption.UNDO,
    )
    assert activate.result_status is check_encrypt.result_status is ResultStatus.OPERATION_UNDONE
    assert check_decrypt.result_status is ResultStatus.OPERATION_FAILED
    assert check_decrypt.result_reason is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    assert values(v2, uid, Tag.STATE).get(Tag.STATE) is State.PRE_ACTIVE


def test_check_follows_the_usage_mask_and_the_state(v2: KmipClient, v1: KmipClient) -> None:
    """BL-M-3-21 for the mask; Pre-Active keys do nothing, Deactivated ones only process."""
    uid = key_for(v2, DECRYPT, (Tag.ACTIVATION_DATE, now() - timedelta(days=1)))
    assert (
        v2.call(CheckRequest(unique_identifier=uid, cryptographic_usage_mask=DECRYPT)).unique_identifier
        == uid
    )
    wrong_use = CheckRequest(unique_identifier=uid, cryptographic_usage_mask=ENCRYPT)
    assert refused(v2, wrong_use) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    assert refused(v1, wrong_use) is reason_for(ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, V1)

    pending = new_key(v2)
    early = CheckRequest(unique_identifier=pending, cryptographic_usage_mask=ENCRYPT)
    assert refused(v2, early) is ResultReason.WRONG_KEY_LIFECYCLE_STATE

    retired = active_key(v2)
    revoke(v2, retired, RevocationReasonCode.CESSATION_OF_OPERATION)
    v2.call(CheckRequest(unique_identifier=retired, cryptographic_usage_mask=DECRYPT))
    late = CheckRequest(unique_identifier=retired, cryptographic_usage_mask=ENCRYPT)
    assert refused(v2, late) is ResultReason.WRONG_KEY_LIFECYCLE_STATE


def test_a_failed_check_empties_the_id_placeholder(v2: KmipClient) -> None:
    label = unique("checked")
    new_key(v2, (Tag.NAME, name(label)), (Tag.ACTIVATION_DATE, now() - timedelta(hours=1)))
    locate = LocateRequest(attributes=Attributes.of((Tag.NAME, name(label))))
    _, passed, got = v2.batch(locate, CheckRequest(cryptographic_usage_mask=ENCRYPT), GetRequest())
    assert (passed.result_status, got.result_status) == (ResultStatus.SUCCESS, ResultStatus.SUCCESS)
    _, failed, get = v2.batch(
        locate,
        CheckRequest(cryptographic_usage_mask=CryptographicUsageMask.SIGN),
        GetRequest(),
        batch_error_continuation_option=BatchErrorContinuationOption.CONTINUE,
    )
    assert failed.result_reason is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    assert get.result_status is ResultStatus.OPERATION_FAILED  # no object to get


# --- Get Usage Allocation ----------------------------------------------------------------------


def test_usage_allocation_counts_down(v2: KmipClient) -> None:
    uid = new_key(v2)
    with_usage_limits(v2, uid, 10)
    assert refused(v2, GetUsageAllocationRequest(unique_identifier=uid, usage_limits_count=1)) is (
        ResultReason.WRONG_KEY_LIFECYCLE_STATE  # Pre-Active keys do not protect
    )
    v2.call(ActivateRequest(unique_identifier=uid))
    v2.call(GetUsageAllocationRequest(unique_identifier=uid, usage_limits_count=4))
    limits = values(v2, uid, Tag.USAGE_LIMITS).get(Tag.USAGE_LIMITS)
    assert (limits.usage_limits_total, limits.usage_limits_count) == (10, 6)
    too_much = GetUsageAllocationRequest(unique_identifier=uid, usage_limits_count=7)
    assert refused(v2, too_much) is ResultReason.USAGE_LIMIT_EXCEEDED
    v2.call(CheckRequest(unique_identifier=uid, usage_limits_count=6))
    assert (
        refused(v2, CheckRequest(unique_identifier=uid, usage_limits_count=7))
        is ResultReason.USAGE_LIMIT_EXCEEDED
    )
    # Once allocated, the limits are the server's to keep.
    reset = UsageLimits(usage_limits_total=1000, usage_limits_unit=UsageLimitsUnit.OBJECT)
    change = ModifyAttributeRequest(
        unique_identifier=uid, new_attribute=NewAttribute.of((Tag.USAGE_LIMITS, reset))
    )
    assert refused(v2, change) is ResultReason.PERMISSION_DENIED


def test_usage_allocation_refusals(v2: KmipClient) -> None:
    plain = active_key(v2)
    unlimited = GetUsageAllocationRequest(unique_identifier=plain, usage_limits_count=1)
    assert refused(v2, unlimited) is ResultReason.ATTRIBUTE_NOT_FOUND
    opaque = v2.call(
        RegisterRequest(
            object_type=ObjectType.OPAQUE_OBJECT,
            object=OpaqueObject(opaque_data_type=0x80000001, opaque_data_value=b"opaque"),
            attributes=Attributes(),
        )
    ).unique_identifier
    not_protecting = GetUsageAllocationRequest(unique_identifier=opaque, usage_limits_count=1)
    assert refused(v2, not_protecting) is ResultReason.INVALID_OBJECT_TYPE


# --- Obtain Lease ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V1, V2])
def test_obtain_lease(kmip_server: RunningServer, version: tuple[int, int]) -> None:
    with kmip_server.client(CLIENT, version=version) as kmip:
        uid = active_key(kmip)
        lease = kmip.call(ObtainLeaseRequest(unique_identifier=uid))
        assert (lease.unique_identifier, lease.lease_time) == (uid, 0)  # 0: no lease limit
        if version < (2, 0):
            asked = GetAttributesRequest(unique_identifier=uid, attribute_names=["Last Change Date"])
            stored = kmip.call(asked).attribute_list[0].attribute_value
        else:
            stored = values(kmip, uid, Tag.LAST_CHANGE_DATE).get(Tag.LAST_CHANGE_DATE)
        assert lease.last_change_date == stored
        revoke(kmip, uid, RevocationReasonCode.CESSATION_OF_OPERATION)
        kmip.call(DestroyRequest(unique_identifier=uid))
        assert refused(kmip, ObtainLeaseRequest(unique_identifier=uid)) is reason_for(
            ResultReason.OBJECT_DESTROYED, version
        )
