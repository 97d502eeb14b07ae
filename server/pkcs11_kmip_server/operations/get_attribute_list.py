"""Get Attribute List: the names (1.x) or references (2.x) of an object's attributes."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import GetAttributeListRequest, GetAttributeListResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.GET_ATTRIBUTE_LIST)
def get_attribute_list(context: RequestContext, request: GetAttributeListRequest) -> GetAttributeListResponse:
    record = context.load(request.unique_identifier)
    response = GetAttributeListResponse(unique_identifier=record.uid)
    if context.is_1x:
        names = [
            attribute.attribute_name for attribute in forms.to_named_list(record.attributes, context.version)
        ]
        response.attribute_names = list(dict.fromkeys(name for name in names if name))
    else:
        present = forms.for_version(record.attributes, context.version)
        # One reference per attribute, however many instances (vendor ones by their name).
        unique = {forms.name_of(entry): forms.reference_of(entry) for entry in present}
        response.attribute_references = list(unique.values())
    return response
