"""Register: store an object the client made (keys, certificates, secret data, opaque data)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.objects import (
    Certificate,
    CertificateRequest,
    OpaqueObject,
    PGPKey,
    PrivateKey,
    PublicKey,
    SecretData,
    SplitKey,
    SymmetricKey,
    Template,
)
from pkcs11_kmip.kmip.messages.payloads import RegisterRequest, RegisterResponse
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.objects import new_record, requested_attributes
from pkcs11_kmip_server.operations import handles

OBJECT_CLASSES: dict[ObjectType, type] = {
    ObjectType.CERTIFICATE: Certificate,
    ObjectType.CERTIFICATE_REQUEST: CertificateRequest,
    ObjectType.SYMMETRIC_KEY: SymmetricKey,
    ObjectType.PUBLIC_KEY: PublicKey,
    ObjectType.PRIVATE_KEY: PrivateKey,
    ObjectType.SPLIT_KEY: SplitKey,
    ObjectType.TEMPLATE: Template,
    ObjectType.SECRET_DATA: SecretData,
    ObjectType.OPAQUE_OBJECT: OpaqueObject,
    ObjectType.PGP_KEY: PGPKey,
}


@handles(Operation.REGISTER)
def register(context: RequestContext, request: RegisterRequest) -> RegisterResponse:
    object_type = request.object_type
    expected = OBJECT_CLASSES.get(object_type) if object_type is not None else None
    if object_type is None or expected is None or type(request.object) is not expected:
        given = type(request.object).__name__
        kind = request.object_type.name if request.object_type is not None else "?"
        raise KmipError(
            ResultReason.INVALID_FIELD, f"Object Type {kind} does not match the {given} registered"
        )
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    record = new_record(context, object_type, request.object, requested)
    context.session.insert(record)
    context.id_placeholder = record.uid
    return RegisterResponse(unique_identifier=record.uid)
