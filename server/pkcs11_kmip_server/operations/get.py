"""Get: an object's value, in the format asked for, wrapped if asked, if its flags allow it to leave.

A Not Extractable object never leaves (TC-EXTRACTABLE-1-20); a Sensitive one leaves
only wrapped (TC-SENSITIVE-1-20). Wrapping (a Key Wrapping Specification, or Key Wrap
Type As Registered) is `pkcs11_kmip_server.key_wrapping`'s; the key is converted to the
Key Format Type asked for first, and that is what is wrapped. A key stored wrapped (as
Import keeps one it is given As Registered) is unwrapped first when the request asks
for it Not Wrapped or wrapped anew. A Sensitive key the HSM key store's token holds is
wrapped inside the token (`key_wrapping.wrap_in_token`, C_WrapKey), never read here.
Key Format Type PKCS#12 (a private key with its certificate chain, under a linked
password) is `pkcs11_kmip_server.pkcs12`'s.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.payloads import GetRequest, GetResponse
from pkcs11_kmip.kmip.messages.structures import KeyWrappingSpecification
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType, KeyWrapType, Operation, ResultReason
from pkcs11_kmip_server import pkcs12
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.formats import convert_material
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.hsm_store.token import reference_of
from pkcs11_kmip_server.key_wrapping import unwrap_registered, wrap_in_token, wrap_object, wrapping_for_get
from pkcs11_kmip_server.lifecycle import refresh_state, set_single
from pkcs11_kmip_server.objects import require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.store import ObjectRecord


@handles(Operation.GET)
def get(context: RequestContext, request: GetRequest) -> GetResponse:
    record, value = get_object(context, request)
    return GetResponse(
        object_type=pkcs12.answered_as(record, value),
        unique_identifier=record.uid,
        object=value,  # type: ignore[arg-type]
    )


def get_object(context: RequestContext, request: GetRequest) -> tuple[ObjectRecord, Structure]:
    """The object a Get (or Export) names, and its value as the request asks for it."""
    record = context.load(request.unique_identifier)
    material = _extractable(record, context.now)
    wrapping = wrapping_for_get(record, request.key_wrap_type, request.key_wrapping_specification)
    if wrapping is None:
        _require_not_sensitive(record)
    if wrapping is not None and hooks.sealed_in_token(record):  # C_WrapKey: the value stays in the HSM
        value = wrap_in_token(context, record, material, request.key_format_type, wrapping)
    else:
        value = _plain_value(context, record, material, request, wrapping)
    if record.attributes.get(Tag.FRESH) is True:  # KMIP 2.1 §4.21: no longer fresh once served
        set_single(record.attributes, Tag.FRESH, False)
        context.session.save(record)
    return record, value


def plain_answer(record: ObjectRecord, now: datetime) -> GetResponse | None:
    """The answer to a Get of `record` that names nothing but its Unique Identifier (no
    format, compression or wrapping), when the stored record is all it takes: None when the
    general path must run, because Get would refuse the object, write it (Fresh), or read
    its key out of the HSM key store's token. The Get lane (get_lane.py) keeps this answer
    for as long as the record's row is unchanged; `get` gives the same for the same record.
    """
    if record.attributes.get(Tag.FRESH) is True or reference_of(record) is not None:
        return None
    try:
        material = _extractable(record, now)
        _require_not_sensitive(record)
        value = convert_material(material, None, None)
    except KmipError:
        return None
    return GetResponse(
        object_type=pkcs12.answered_as(record, value),
        unique_identifier=record.uid,
        object=value,  # type: ignore[arg-type]
    )


def _extractable(record: ObjectRecord, now: datetime) -> Structure:
    """The object's material, if it may leave the server in some form (else why not)."""
    require_online(record)
    refresh_state(record.attributes, now)
    material = require_material(record)
    if record.attributes.get(Tag.EXTRACTABLE) is False:  # not even wrapped (TC-EXTRACTABLE-1-20)
        raise KmipError(ResultReason.NOT_EXTRACTABLE, "the object is not extractable")
    return material


def _require_not_sensitive(record: ObjectRecord) -> None:
    """Sensitive, for an object asked for unwrapped that may leave only wrapped."""
    if record.attributes.get(Tag.SENSITIVE) is True:
        raise KmipError(ResultReason.SENSITIVE, "a Sensitive object leaves the server only wrapped")


def _plain_value(
    context: RequestContext,
    record: ObjectRecord,
    material: Structure,
    request: GetRequest,
    wrapping: KeyWrappingSpecification | None,
) -> Structure:
    """The object's value read here, in the format asked for, then wrapped if asked."""
    material = hooks.plain_material(record, material)  # out of the HSM key store's token, if there
    if wrapping is not None or request.key_wrap_type is KeyWrapType.NOT_WRAPPED:
        material, _ = unwrap_registered(context, material)  # a key stored wrapped (Import As Registered)
    if request.key_format_type is KeyFormatType.PKCS_12:
        value: Structure = pkcs12.container(context, record, material)
    else:
        value = convert_material(material, request.key_format_type, request.key_compression_type)
    if wrapping is not None:
        value = wrap_object(context, record, value, wrapping)
    return value
