"""Revoke: compromised (key or CA compromise) or deactivated (any other reason)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import RevokeRequest, RevokeResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, RevocationReasonCode, State
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations import handles

COMPROMISE = (RevocationReasonCode.KEY_COMPROMISE, RevocationReasonCode.CA_COMPROMISE)


@handles(Operation.REVOKE)
def revoke(context: RequestContext, request: RevokeRequest) -> RevokeResponse:
    record = context.load(request.unique_identifier)
    attributes = record.attributes
    state = refresh_state(attributes, context.now)
    reason = request.revocation_reason
    code = reason.revocation_reason_code if reason is not None else None
    if code in COMPROMISE:
        if state in (State.DESTROYED, State.DESTROYED_COMPROMISED):
            new_state = State.DESTROYED_COMPROMISED
        else:
            new_state = State.COMPROMISED
        set_single(attributes, Tag.COMPROMISE_DATE, context.now)
        occurred = request.compromise_occurrence_date or attributes.get(Tag.INITIAL_DATE) or context.now
        set_single(attributes, Tag.COMPROMISE_OCCURRENCE_DATE, occurred)
    else:
        if state not in (State.PRE_ACTIVE, State.ACTIVE):
            raise KmipError(
                ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"a {state.name} object cannot be revoked"
            )
        new_state = State.DEACTIVATED
        set_single(attributes, Tag.DEACTIVATION_DATE, context.now)
    set_single(attributes, Tag.STATE, new_state)
    set_single(attributes, Tag.REVOCATION_REASON, reason)
    touch(record, context.now)
    context.session.save(record)
    return RevokeResponse(unique_identifier=record.uid)
