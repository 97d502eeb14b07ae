"""Modify Attribute: a new value for one existing instance (KMIP 2.1 §6.1.34, 1.4 §4.15).

KMIP 1.x names the instance by Attribute Index (0 when omitted); KMIP 2.x by its
Current Attribute value, or not at all when the attribute has one instance.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import ModifyAttributeRequest, ModifyAttributeResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server import attribute_edits as edits
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(Operation.MODIFY_ATTRIBUTE)
def modify_attribute(context: RequestContext, request: ModifyAttributeRequest) -> ModifyAttributeResponse:
    record = edits.load(context, request.unique_identifier)
    if request.new_attribute is not None:
        entry = edits.the_one(request.new_attribute, "New Attribute")
        edits.check_changeable(record, entry.tag, context.now)
        target = edits.target_of(entry)
        if request.current_attribute is not None:
            position = edits.matching(record, edits.the_one(request.current_attribute, "Current Attribute"))
        else:
            found = edits.only(record, target)
            if found is None:
                raise KmipError(
                    ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {edits.describe(target)}"
                )
            position = found
    else:
        entry, index = edits.named(request.attribute)
        edits.check_changeable(record, entry.tag, context.now)
        target = edits.target_of(entry)
        position = edits.nth(record, edits.positions(record, target), edits.describe(target), index)
    index = edits.replace(context, record, position, entry)
    return ModifyAttributeResponse(
        unique_identifier=record.uid, attribute=edits.named_response(context, entry, index)
    )
