"""Activate: a Pre-Active object becomes Active, from now."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import ActivateRequest, ActivateResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, State
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations import handles


@handles(Operation.ACTIVATE)
def activate(context: RequestContext, request: ActivateRequest) -> ActivateResponse:
    record = context.load(request.unique_identifier)
    state = refresh_state(record.attributes, context.now)
    if state is not State.PRE_ACTIVE:
        raise KmipError(
            ResultReason.WRONG_KEY_LIFECYCLE_STATE,
            f"only a Pre-Active object can be activated, not {state.name}",
        )
    set_single(record.attributes, Tag.STATE, State.ACTIVE)
    set_single(record.attributes, Tag.ACTIVATION_DATE, context.now)
    touch(record, context.now)
    context.session.save(record)
    return ActivateResponse(unique_identifier=record.uid)
