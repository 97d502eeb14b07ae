"""Import: an object with the Unique Identifier and all the attributes the client gives (KMIP 2.1 §6.1.25).

The object is checked as Register checks one (`register.read_object`); the attributes
are the client's as given, the server's own only where the client gave none of that
attribute (a new object's identifier, state and dates, as `objects.new_record` sets
them), since §6.1.25 sets aside the "initially set by" rules. An object of that
identifier is replaced only with Replace Existing true, and only if it is the caller's
and of the same Object Type (else Object Already Exists, Permission Denied, Invalid
Field). Key Wrap Type Not Wrapped has a wrapped key unwrapped first (`key_wrapping`);
otherwise a wrapped key is stored as provided.
"""

from __future__ import annotations

import hashlib

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import ImportRequest, ImportResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyWrapType, Operation, ResultReason
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_wrapping import unwrap_registered
from pkcs11_kmip_server.objects import new_record
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.register import checked_object, read_object, settle

# Attributes that name the object itself: the server's, whatever the client gives.
_IDENTITY = (Tag.UNIQUE_IDENTIFIER, Tag.SHORT_UNIQUE_IDENTIFIER, Tag.OBJECT_TYPE)


@handles(Operation.IMPORT)
def import_(context: RequestContext, request: ImportRequest) -> ImportResponse:
    uid = request.unique_identifier
    if not isinstance(uid, str) or not uid:
        raise KmipError(ResultReason.INVALID_FIELD, "Import names the object by its Unique Identifier")
    object_type, given_object = checked_object(request.object_type, request.object)
    existing = context.session.load(uid, None)
    if existing is not None:
        if context.delegation is not None:  # a delegated ticket replaces only objects its Rights cover
            context.delegation.check_object(Operation.IMPORT, uid, existing)
        if not request.replace_existing:
            raise KmipError(ResultReason.OBJECT_ALREADY_EXISTS, f"an object {uid} exists: Replace Existing")
        if existing.owner != context.principal:
            raise KmipError(
                ResultReason.PERMISSION_DENIED, f"the object {uid} is not the caller's to replace"
            )
        if existing.object_type is not object_type:
            raise KmipError(ResultReason.INVALID_FIELD, f"the object {uid} is a {existing.object_type.name}")
    given = (
        Attributes(entries=list(request.attributes.entries))
        if request.attributes is not None
        else forms.from_named_list(request.attribute_list)
    )
    forms.check_single_valued(given)
    if request.key_wrap_type is KeyWrapType.NOT_WRAPPED:
        given_object, _ = unwrap_registered(context, given_object)
    material, read = read_object(given_object, given)
    given = settle(given, read)
    record = new_record(context, object_type, material, Attributes())
    record.uid = uid
    for tag in dict.fromkeys(entry.tag for entry in given if entry.tag not in _IDENTITY):
        record.attributes.remove(tag)
    record.attributes.entries.extend(entry for entry in given if entry.tag not in _IDENTITY)
    for tag, value in (
        (Tag.UNIQUE_IDENTIFIER, uid),
        (Tag.SHORT_UNIQUE_IDENTIFIER, hashlib.sha256(uid.encode()).digest()),
    ):
        record.attributes.remove(tag)
        record.attributes.add(tag, value)
    if existing is not None:
        context.session.save(record)
    else:
        context.session.insert(record)
    context.id_placeholder = uid
    return ImportResponse(unique_identifier=uid)
