"""Get Attributes: some or all of an object's attributes, in the client's form."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import GetAttributesRequest, GetAttributesResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.operations import handles


@handles(Operation.GET_ATTRIBUTES)
def get_attributes(context: RequestContext, request: GetAttributesRequest) -> GetAttributesResponse:
    record = context.load(request.unique_identifier)
    refresh_state(record.attributes, context.now)
    everything = record.attributes
    if context.is_1x:
        entries = (
            forms.select_by_names(everything, request.attribute_names)
            if request.attribute_names
            else everything
        )
        return GetAttributesResponse(
            unique_identifier=record.uid,
            attribute_list=forms.to_named_list(entries, context.version, forms.vacated_indexes(everything)),
        )
    references = request.attribute_references
    entries = forms.select_by_references(everything, references) if references else everything
    return GetAttributesResponse(
        unique_identifier=record.uid, attributes=forms.for_version(entries, context.version)
    )
