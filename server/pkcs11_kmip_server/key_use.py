"""Using a key in a cryptographic operation: whose it is, its state, its usage mask, its limits.

Every operation that computes with a managed key (Encrypt and Decrypt now; Sign, MAC,
Derive Key and wrapping later) checks the same things in the same order, so that a
client gets the same reason for the same fault whatever the operation:

1. the object is the caller's (else Object Not Found), on-line (Object Archived) and
   still has its value (Object Destroyed);
2. it is a key (Invalid Object Type);
3. its Cryptographic Usage Mask allows the use (Incompatible Cryptographic Usage
   Mask) and its state allows it now, as Check decides (Wrong Key Lifecycle State:
   protecting uses only while Active and before the Protect Stop Date; processing
   uses also while Deactivated or Compromised, from the Process Start Date on).

Usage Limits are spent before the work is done (KMIP 2.1 §6.1.17): in bytes of input
or in operations, as the limits' unit says; a use beyond what is left is refused with
Permission Denied, as §6.1.17 requires and CS-BC-M-7 shows.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import UniqueId, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, ResultReason, UsageLimitsUnit
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store.token import reference_of
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import require_material, touch
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.check import check_usage, remaining_usage
from pkcs11_kmip_server.store import ObjectRecord

KEYS = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY})
_DATES = (Tag.ACTIVATION_DATE, Tag.DEACTIVATION_DATE, Tag.PROTECT_STOP_DATE, Tag.PROCESS_START_DATE)


def usable_key(
    context: RequestContext,
    uid: UniqueId | None,
    usage: CryptographicUsageMask,
    object_types: frozenset[ObjectType] = KEYS,
) -> ObjectRecord:
    """The caller's key `uid` (or the ID Placeholder's), if it may be used so now."""
    return usable(context.load(uid), usage, context.now, object_types)


def usable(
    record: ObjectRecord,
    usage: CryptographicUsageMask,
    now: datetime,
    object_types: frozenset[ObjectType] = KEYS,
) -> ObjectRecord:
    """`record`, if it is a key that may be used so at `now` (else why not, as `usable_key` says)."""
    require_online(record)
    require_material(record)
    if record.object_type not in object_types:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, f"a {record.object_type.name} cannot be used for {usage.name}"
        )
    state = refresh_state(record.attributes, now)
    check_usage(record, int(usage), state, now)
    return record


def plain_use(
    record: ObjectRecord,
    usage: CryptographicUsageMask,
    now: datetime,
    object_types: frozenset[ObjectType] = KEYS,
) -> bool:
    """Whether a use of `record` at `now` needs nothing from the general path: the key may be
    used so (`usable`), has no Usage Limits to spend and is not in the HSM key store's token.
    A lane (crypto_lane.py) keeps this verdict for the record's row until `settled_until`."""
    if record.attributes.get(Tag.USAGE_LIMITS) is not None or reference_of(record) is not None:
        return False
    try:
        usable(record, usage, now, object_types)
    except KmipError:
        return False
    return True


def settled_until(attributes: Attributes, now: datetime) -> datetime | None:
    """The first date after `now` at which the key's dates may change what a use is allowed
    (Activation, Deactivation, Protect Stop, Process Start), or None if none is ahead."""
    dates = (attributes.get(tag) for tag in _DATES)
    return min((date for date in dates if isinstance(date, datetime) and date > now), default=None)


def spend_usage(context: RequestContext, record: ObjectRecord, data_bytes: int, operations: int) -> None:
    """Take this use from the key's Usage Limits, if it has any (Permission Denied if too little is left)."""
    limits = record.attributes.get(Tag.USAGE_LIMITS)
    if not isinstance(limits, UsageLimits):
        return
    amount = data_bytes if limits.usage_limits_unit is UsageLimitsUnit.BYTE else operations
    if amount == 0:
        return
    left = remaining_usage(limits)
    if amount > left:
        unit = "bytes" if limits.usage_limits_unit is UsageLimitsUnit.BYTE else "uses"
        raise KmipError(
            ResultReason.PERMISSION_DENIED, f"the key's Usage Limits leave {left} {unit}, not {amount}"
        )
    spent = UsageLimits(
        usage_limits_total=limits.usage_limits_total,
        usage_limits_count=left - amount,
        usage_limits_unit=limits.usage_limits_unit,
    )
    set_single(record.attributes, Tag.USAGE_LIMITS, spent)
    touch(record, context.now)
    context.session.save(record)
