"""Check: may the client use this object so (usage, amount, lease)? (KMIP 2.1 §6.1.7)

Check answers with the object's Unique Identifier when it may, and otherwise fails
naming what was refused and empties the ID Placeholder, so that the rest of the
batch (typically a Get) does not run on the object.

Which uses a state allows follows NIST SP 800-57 as KMIP adopts it: only an
Active object, before its Protect Stop Date, may protect (encrypt, sign, wrap, ...);
processing what it protected (decrypt, verify, unwrap, ...) is also allowed once
Deactivated or Compromised, from the Process Start Date on.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import CheckRequest, CheckResponse
from pkcs11_kmip.kmip.messages.structures import UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, Operation, ResultReason, State
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.obtain_lease import lease_of
from pkcs11_kmip_server.store import ObjectRecord

M = CryptographicUsageMask

# Uses that process what the object protected; every other use protects.
PROCESSING = (
    M.VERIFY
    | M.DECRYPT
    | M.UNWRAP_KEY
    | M.MAC_VERIFY
    | M.VALIDATE_CRYPTOGRAM
    | M.TRANSLATE_DECRYPT
    | M.TRANSLATE_UNWRAP
    | M.FPE_DECRYPT
)
PROCESSING_STATES = (State.ACTIVE, State.DEACTIVATED, State.COMPROMISED)


def may_protect(attributes: Attributes, state: State, now: datetime) -> bool:
    stop = attributes.get(Tag.PROTECT_STOP_DATE)
    return state is State.ACTIVE and (stop is None or now < stop)


def may_process(attributes: Attributes, state: State, now: datetime) -> bool:
    start = attributes.get(Tag.PROCESS_START_DATE)
    return state in PROCESSING_STATES and (start is None or start <= now)


def usage_names(bits: int) -> str:
    return ", ".join((flag.name or "").replace("_", " ").title() for flag in M if flag & bits)


def remaining_usage(limits: UsageLimits) -> int:
    """What is left to allocate of Usage Limits (the count starts at the total)."""
    count = limits.usage_limits_count
    return count if count is not None else limits.usage_limits_total or 0


def check_usage(record: ObjectRecord, wanted: int, state: State, now: datetime) -> None:
    """The object's usage mask and state allow every use in `wanted`."""
    allowed = record.attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) or 0
    refused = wanted & ~int(allowed)
    if refused:
        raise KmipError(
            ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK,
            f"the object's Cryptographic Usage Mask does not allow {usage_names(refused)}",
        )
    protecting = wanted & ~PROCESSING
    if protecting and not may_protect(record.attributes, state, now):
        raise KmipError(
            ResultReason.WRONG_KEY_LIFECYCLE_STATE,
            f"a {state.name} object cannot be used for {usage_names(protecting)} now",
        )
    processing = wanted & PROCESSING
    if processing and not may_process(record.attributes, state, now):
        raise KmipError(
            ResultReason.WRONG_KEY_LIFECYCLE_STATE,
            f"a {state.name} object cannot be used for {usage_names(processing)} now",
        )


@handles(Operation.CHECK)
def check(context: RequestContext, request: CheckRequest) -> CheckResponse:
    try:
        record = context.load(request.unique_identifier)
        require_online(record)
        require_material(record)
        state = refresh_state(record.attributes, context.now)
        if request.cryptographic_usage_mask is not None:
            check_usage(record, int(request.cryptographic_usage_mask), state, context.now)
        limits = record.attributes.get(Tag.USAGE_LIMITS)
        wanted = request.usage_limits_count
        if wanted is not None and isinstance(limits, UsageLimits) and wanted > remaining_usage(limits):
            raise KmipError(
                ResultReason.USAGE_LIMIT_EXCEEDED,
                f"{wanted} units asked for, {remaining_usage(limits)} left to allocate",
            )
        lease = lease_of(record)
        if request.lease_time is not None and lease and request.lease_time > lease:
            raise KmipError(
                ResultReason.PERMISSION_DENIED,
                f"a lease of {request.lease_time} s asked for, {lease} s granted",
            )
    except KmipError:
        context.id_placeholder = None
        raise
    return CheckResponse(unique_identifier=record.uid)
