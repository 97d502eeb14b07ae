"""Get Usage Allocation: reserve part of an object's Usage Limits for protecting data (KMIP 2.1 §6.1.23).

Only objects that protect (keys that encrypt, sign, wrap or MAC) have usage to
allocate, only while they may protect, and only as much as is left: the server
counts the allocated amount as used.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import GetUsageAllocationRequest, GetUsageAllocationResponse
from pkcs11_kmip.kmip.messages.structures import UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import require_material, touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.check import may_protect, remaining_usage

# Objects that apply cryptographic protection.
PROTECTING = frozenset(
    {ObjectType.SYMMETRIC_KEY, ObjectType.PRIVATE_KEY, ObjectType.SPLIT_KEY, ObjectType.SECRET_DATA}
)


@handles(Operation.GET_USAGE_ALLOCATION)
def get_usage_allocation(
    context: RequestContext, request: GetUsageAllocationRequest
) -> GetUsageAllocationResponse:
    record = context.load(request.unique_identifier)
    require_online(record)
    require_material(record)
    if record.object_type not in PROTECTING:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"a {record.object_type.name} does not protect: no usage to allocate",
        )
    limits = record.attributes.get(Tag.USAGE_LIMITS)
    if not isinstance(limits, UsageLimits):
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, "the object has no Usage Limits")
    state = refresh_state(record.attributes, context.now)
    if not may_protect(record.attributes, state, context.now):
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"a {state.name} object may not protect now")
    wanted = request.usage_limits_count
    if wanted is None or wanted <= 0:
        raise KmipError(ResultReason.INVALID_FIELD, "Usage Limits Count must be a positive amount")
    left = remaining_usage(limits)
    if wanted > left:
        raise KmipError(ResultReason.USAGE_LIMIT_EXCEEDED, f"{wanted} units asked for, {left} left")
    set_single(
        record.attributes,
        Tag.USAGE_LIMITS,
        UsageLimits(
            usage_limits_total=limits.usage_limits_total,
            usage_limits_count=left - wanted,
            usage_limits_unit=limits.usage_limits_unit,
        ),
    )
    touch(record, context.now)
    context.session.save(record)
    return GetUsageAllocationResponse(unique_identifier=record.uid)
