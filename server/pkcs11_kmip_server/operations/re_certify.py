"""Re-certify: a new certificate for the same key pair, replacing an existing one (KMIP 2.1 §6.1.45).

The new certificate certifies the existing one's public key for its subject (or a
PKCS#10 request's, which must be for the same public key: Invalid CSR otherwise),
signed by the existing certificate's CA (its Certificate Link) unless the request's
attributes name another (`issuing`). Like Re-key, it takes the existing
certificate's attributes but those Table 299 makes anew and those the certificate
itself says (subject, issuer, serial number ...), and the request's on top; the Names
move to it; the two link to each other (Replaced / Replacement Object), and the public
key's Certificate Link moves to it.

Dates (Table 298): with no Offset the Activation and Deactivation Dates are the
existing certificate's; with one, the Activation Date is now + Offset and the
Deactivation Date keeps its distance from it. They are the new certificate's validity.

The existing certificate is otherwise untouched, in whatever state it is (the spec
changes none); one destroyed has nothing left to renew (Object Destroyed).
"""

from __future__ import annotations

from cryptography import x509

from pkcs11_kmip.kmip.messages.objects import Certificate
from pkcs11_kmip.kmip.messages.payloads import ReCertifyRequest, ReCertifyResponse
from pkcs11_kmip.kmip.messages.structures import Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CertificateType, LinkType, ObjectType, Operation, ResultReason
from pkcs11_kmip_server import certificates, issuing
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.objects import require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.re_key import copied, offset_dates, replaced_by
from pkcs11_kmip_server.templates import overlay


@handles(Operation.RE_CERTIFY)
def re_certify(context: RequestContext, request: ReCertifyRequest) -> ReCertifyResponse:
    existing = issuing.held_object(context, request.unique_identifier, frozenset({ObjectType.CERTIFICATE}))
    material = require_material(existing)
    assert isinstance(material, Certificate)
    if material.certificate_type is not CertificateType.X_509:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "the server renews X.509 certificates only")
    if request.offset is not None and request.offset < 0:
        raise KmipError(ResultReason.INVALID_FIELD, "the Offset is an interval: it cannot be negative")
    old = x509.load_der_x509_certificate(material.certificate_value or b"")
    requested, _parts = issuing.request_attributes(
        context, request.attributes, request.template_attribute, besides=existing.uid
    )

    public_uid = issuing.link_of(existing.attributes, LinkType.PUBLIC_KEY_LINK)
    public = context.load(public_uid) if public_uid is not None else None
    value = request.certificate_request_value
    if value is None:
        value = request.certificate_request  # KMIP 1.x
    if value is not None:
        csr = issuing.read_csr(request.certificate_request_type, value)
    elif request.certificate_request_unique_identifier is not None:
        stored = issuing.held_object(
            context,
            request.certificate_request_unique_identifier,
            frozenset({ObjectType.CERTIFICATE_REQUEST}),
        )
        csr = issuing.stored_csr(stored)
    else:
        csr = None
    if csr is not None:
        subject = issuing.csr_subject(csr, None)
        if subject.public_key != old.public_key():
            raise KmipError(ResultReason.INVALID_CSR, "the request is not for the certified key pair")
    else:
        names = issuing.extension(old.extensions, x509.SubjectAlternativeName)
        subject = issuing.Subject(old.subject, old.public_key(), extensions=(names,) if names else ())
    subject.public_record = public

    # Re-key's rule for what a replacement takes over, less what the certificate says of itself.
    own = {entry.tag for entry in certificates.certificate_attributes(material)}
    inherited = overlay([], [entry for entry in copied(existing.attributes) if entry.tag not in own])
    if request.offset is not None:
        inherited = overlay(inherited, offset_dates(existing.attributes, request.offset, context.now))
    if issuing.link_of(requested, LinkType.CERTIFICATE_LINK) is not None:
        inherited.entries = [
            entry
            for entry in inherited
            if not (entry.tag == Tag.LINK and entry.value.link_type is LinkType.CERTIFICATE_LINK)
        ]
    attributes = overlay(inherited, requested)
    attributes.add(
        Tag.LINK, Link(link_type=LinkType.REPLACED_OBJECT_LINK, linked_object_identifier=existing.uid)
    )

    ca = issuing.issuer(context, requested, fallback=existing.attributes)
    mask = requested.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    if mask is None and public is not None:
        mask = public.attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    kept_usage = issuing.extension(old.extensions, x509.KeyUsage)  # when no usage mask says one
    usage = issuing.key_usage(mask) or (kept_usage.value if kept_usage else None)
    certificate = issuing.issue(context, subject, ca, attributes, usage)
    replaced_by(existing, certificate, context)
    if public is not None:
        issuing.link_public_key(context, public, certificate.uid, replacing=existing.uid)
    return ReCertifyResponse(unique_identifier=certificate.uid)
