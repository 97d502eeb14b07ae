"""Adjust Attribute: increment, decrement or negate a number, date or flag (KMIP 2.1 §6.1.3)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import AdjustAttributeRequest, AdjustAttributeResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server import attribute_edits as edits
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(Operation.ADJUST_ATTRIBUTE)
def adjust_attribute(context: RequestContext, request: AdjustAttributeRequest) -> AdjustAttributeResponse:
    record = edits.load(context, request.unique_identifier)
    target, how = request.attribute_reference, request.adjustment_type
    if target is None or how is None:
        raise KmipError(
            ResultReason.INVALID_FIELD, "Adjust Attribute needs an Attribute Reference and a type"
        )
    edits.check_changeable(record, edits.tag_of(target), context.now)
    edits.put(context, record, edits.adjusted(record, target, how, request.adjustment_value))
    return AdjustAttributeResponse(unique_identifier=record.uid)
