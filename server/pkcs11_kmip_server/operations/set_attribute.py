"""Set Attribute: create an attribute or replace its one value (KMIP 2.1 §6.1.51)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SetAttributeRequest, SetAttributeResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import attribute_edits as edits
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.SET_ATTRIBUTE)
def set_attribute(context: RequestContext, request: SetAttributeRequest) -> SetAttributeResponse:
    record = edits.load(context, request.unique_identifier)
    entry = edits.the_one(request.new_attribute, "New Attribute")
    edits.check_changeable(record, entry.tag, context.now)
    edits.put(context, record, entry)
    return SetAttributeResponse(unique_identifier=record.uid)
