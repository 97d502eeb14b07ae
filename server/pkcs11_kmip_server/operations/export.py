"""Export: an object's value with all its attributes (KMIP 2.1 §6.1.18).

The value is what Get gives for the same request (format, compression, wrapping, the
Sensitive and Extractable rules: `get.get_object`); the attributes are the object's,
as they were before the request (an exported key is still Fresh in the answer, as
TC-IMPEXP-1-20 shows, and is no longer Fresh afterwards, as after a Get).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import ExportRequest, ExportResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server import pkcs12
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.get import get_object


@handles(Operation.EXPORT)
def export(context: RequestContext, request: ExportRequest) -> ExportResponse:
    before = Attributes(entries=list(context.load(request.unique_identifier).attributes.entries))
    record, value = get_object(context, request)
    response = ExportResponse(
        object_type=pkcs12.answered_as(record, value),
        unique_identifier=record.uid,
        object=value,  # type: ignore[arg-type]
    )
    if context.is_1x:
        response.attribute_list = forms.to_named_list(before, context.version)
    else:
        response.attributes = forms.for_version(before, context.version)
    return response
