"""Get: an object's value, in the format asked for, if its flags allow it to leave."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import GetRequest, GetResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.formats import convert_material
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online


@handles(Operation.GET)
def get(context: RequestContext, request: GetRequest) -> GetResponse:
    record = context.load(request.unique_identifier)
    require_online(record)
    refresh_state(record.attributes, context.now)
    material = require_material(record)
    if record.attributes.get(Tag.EXTRACTABLE) is False:  # not even wrapped (TC-EXTRACTABLE-1-20)
        raise KmipError(ResultReason.NOT_EXTRACTABLE, "the object is not extractable")
    if request.key_wrapping_specification is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "key wrapping is not supported yet")
    if record.attributes.get(Tag.SENSITIVE) is True:
        raise KmipError(ResultReason.SENSITIVE, "a Sensitive object leaves the server only wrapped")
    value = convert_material(material, request.key_format_type, request.key_compression_type)
    if record.attributes.get(Tag.FRESH) is True:  # KMIP 2.1 §4.21: no longer fresh once served
        set_single(record.attributes, Tag.FRESH, False)
        context.session.save(record)
    return GetResponse(object_type=record.object_type, unique_identifier=record.uid, object=value)  # type: ignore[arg-type]
