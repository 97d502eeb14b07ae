"""Add Attribute: a new attribute, or a new instance of a multi-valued one (KMIP 2.1 §6.1.2, 1.4 §4.14)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import AddAttributeRequest, AddAttributeResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import attribute_edits as edits
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.ADD_ATTRIBUTE)
def add_attribute(context: RequestContext, request: AddAttributeRequest) -> AddAttributeResponse:
    record = edits.load(context, request.unique_identifier)
    if request.new_attribute is not None:
        entry = edits.the_one(request.new_attribute, "New Attribute")
    else:
        entry, _ignored = edits.named(request.attribute)  # the server assigns the index
    edits.check_changeable(record, entry.tag, context.now)
    index = edits.add(context, record, entry)
    return AddAttributeResponse(
        unique_identifier=record.uid, attribute=edits.named_response(context, entry, index)
    )
