"""Certify: an X.509 certificate for a public key, signed by a CA key the server holds (KMIP 2.1 §6.1.6).

What is certified: a PKCS#10 request (DER, or PEM) in the request, or in a stored
Certificate Request object; or a Public Key the server holds, named by its Unique
Identifier (else the ID Placeholder), for the subject the attributes give (an X.509
Certificate Subject, or 2.x Certificate Subject CN/O/OU/... parts). A request's own
signature must verify (Invalid CSR), and what it says wins over the attributes
(§6.1.6). A Unique Identifier given beside a request names the held public key the
request is for. Who signs, and what the certificate holds: `issuing`.

The certificate links to its public key (Public Key Link) and its CA's certificate
(Certificate Link); the public key links back to it (Certificate Link).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import CertifyRequest, CertifyResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, ResultReason
from pkcs11_kmip_server import issuing
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord

CERTIFIED = frozenset({ObjectType.PUBLIC_KEY, ObjectType.CERTIFICATE_REQUEST})


@handles(Operation.CERTIFY)
def certify(context: RequestContext, request: CertifyRequest) -> CertifyResponse:
    requested, parts = issuing.request_attributes(context, request.attributes, request.template_attribute)
    value = request.certificate_request_value
    if value is None:
        value = request.certificate_request  # KMIP 1.x
    public: ObjectRecord | None = None
    if value is not None:
        csr = issuing.read_csr(request.certificate_request_type, value)
        if request.unique_identifier is not None:
            public = issuing.held_object(
                context, request.unique_identifier, frozenset({ObjectType.PUBLIC_KEY})
            )
        subject = issuing.csr_subject(csr, public)
    else:
        uid = request.certificate_request_unique_identifier or request.unique_identifier
        record = issuing.held_object(context, uid, CERTIFIED)
        if record.object_type is ObjectType.CERTIFICATE_REQUEST:
            subject = issuing.csr_subject(issuing.stored_csr(record), None)
        else:
            public = record
            name = issuing.subject_name(parts)
            if name is None:
                raise KmipError(
                    ResultReason.INVALID_FIELD,
                    "no subject: give an X.509 Certificate Subject or Certificate Subject attributes",
                )
            subject = issuing.Subject(name, issuing.public_key_of(public), public)
    ca = issuing.issuer(context, requested)
    mask = requested.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    if mask is None and public is not None:
        mask = public.attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    certificate = issuing.issue(context, subject, ca, requested, issuing.key_usage(mask))
    if public is not None:
        issuing.link_public_key(context, public, certificate.uid)
    return CertifyResponse(unique_identifier=certificate.uid)
