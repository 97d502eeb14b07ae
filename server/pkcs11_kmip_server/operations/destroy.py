"""Destroy: the key material goes, the metadata stays (KMIP 2.1 §6.1.16)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import DestroyRequest, DestroyResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, State
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import Storage


@handles(Operation.DESTROY)
def destroy(context: RequestContext, request: DestroyRequest) -> DestroyResponse:
    record = context.load(request.unique_identifier)
    state = refresh_state(record.attributes, context.now)
    if state in (State.DESTROYED, State.DESTROYED_COMPROMISED):
        raise KmipError(ResultReason.OBJECT_DESTROYED, f"{record.uid} is already destroyed")
    if state is State.COMPROMISED:
        new_state = State.DESTROYED_COMPROMISED
    elif state in (State.PRE_ACTIVE, State.DEACTIVATED):
        new_state = State.DESTROYED
    else:
        raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"an {state.name} object cannot be destroyed")
    set_single(record.attributes, Tag.STATE, new_state)
    set_single(record.attributes, Tag.DESTROY_DATE, context.now)
    touch(record, context.now)
    record.material = None
    record.storage = Storage.DESTROYED
    context.session.save(record)
    return DestroyResponse(unique_identifier=record.uid)
