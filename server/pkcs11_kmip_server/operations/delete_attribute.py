"""Delete Attribute: one instance, or every instance, of an attribute (KMIP 2.1 §6.1.13, 1.4 §4.16).

KMIP 1.x names one instance by Attribute Name and Index (0 when omitted); KMIP 2.x
one instance by its Current Attribute value, or all of them by Attribute Reference.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import DeleteAttributeRequest, DeleteAttributeResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server import attribute_edits as edits
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(Operation.DELETE_ATTRIBUTE)
def delete_attribute(context: RequestContext, request: DeleteAttributeRequest) -> DeleteAttributeResponse:
    record = edits.load(context, request.unique_identifier)
    if request.current_attribute is not None:
        current = edits.the_one(request.current_attribute, "Current Attribute")
        edits.check_deletable(record, current.tag)
        chosen = [edits.matching(record, current)]
    elif request.attribute_reference is not None:
        target = request.attribute_reference
        edits.check_deletable(record, edits.tag_of(target))
        chosen = edits.positions(record, target)
        if not chosen:
            raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {edits.describe(target)}")
    elif request.attribute_name is not None:
        name = request.attribute_name
        chosen = [edits.nth(record, edits.positions_named(record, name), name, request.attribute_index or 0)]
        edits.check_deletable(record, record.attributes.entries[chosen[0]].tag)
    else:
        raise KmipError(ResultReason.INVALID_FIELD, "name the attribute to delete")
    index = edits.index_among(record, chosen[0])
    removed = edits.remove(context, record, chosen)
    return DeleteAttributeResponse(
        unique_identifier=record.uid, attribute=edits.named_response(context, removed[0], index)
    )
