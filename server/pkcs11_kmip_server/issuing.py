"""Issuing X.509 certificates with a CA key the server holds: what Certify and Re-certify share.

KMIP says what is certified (a PKCS#10 request, or a public key the server holds) but
not who signs. This server's answer, from the Link types of KMIP 2.1 §11.28:

- the request's attributes name the issuing CA by a **Certificate Link** to the CA's
  certificate. That is what the link means on a certificate ("the parent certificate
  in a certificate chain"), and the issued certificate keeps it;
- the CA's private key is the one a **Private Key Link** in the request names, else the
  one the CA certificate's Public Key Link leads to (that public key's Private Key
  Link). The Private Key Link is not kept on the issued certificate (§11.28 defines it
  for public keys only);
- the private key must be Active and allowed **Certificate Sign** (§12.1: "Applies to
  Certify operation on a private key"); it signs through the crypto provider
  (`sign_certificate`), never read here. Usage Limits count one use per certificate;
- the CA certificate gives the issuer name and the Authority Key Identifier; an issued
  certificate that does not verify under it (the key is not the certificate's) is
  refused, as is a CA certificate whose own extensions say it is not a CA.

The certificate: X.509 v3, a random 159-bit serial number, valid from the Activation
Date to the Deactivation Date the request gives (else now, and a year later; the
certificate object takes these dates, so it is Active while the certificate is
valid), Basic Constraints CA=false, Key Usage from the Cryptographic Usage Mask (the
request's, else the public key's), Subject and Authority Key Identifiers, and the
Subject Alternative Name a PKCS#10 request asks for (its other extension requests
are not honored). The signature scheme is the Digital Signature Algorithm the request
names, else the CA key's Cryptographic Parameters, else its algorithm's default.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ObjectIdentifier

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.attributes import TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import Certificate, CertificateRequest
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    Link,
    UniqueId,
    X509CertificateSubject,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateRequestType,
    CertificateType,
    CryptographicUsageMask,
    LinkType,
    ObjectType,
    ResultReason,
)
from pkcs11_kmip_server import certificates, formats
from pkcs11_kmip_server.attribute_edits import check_unique_names, discard_links
from pkcs11_kmip_server.by_parts import crypto_services
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.pyca import loaded_key
from pkcs11_kmip_server.crypto.signatures import applicable, signature_spec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_use import spend_usage, usable_key
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import new_record, requested_attributes, require_material, touch
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.register import settle
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.templates import template_attributes

U = CryptographicUsageMask
DEFAULT_VALIDITY = dt.timedelta(days=365)

# Cryptographic Usage Mask bits -> the X.509 Key Usage bit each asks for (RFC 5280 §4.2.1.3).
# Certificate Sign and CRL Sign are left out: the certificates issued are not CAs'.
KEY_USAGE_BITS: dict[CryptographicUsageMask, str] = {
    U.SIGN: "digital_signature",
    U.VERIFY: "digital_signature",
    U.CONTENT_COMMITMENT_NON_REPUDIATION: "content_commitment",
    U.WRAP_KEY: "key_encipherment",
    U.UNWRAP_KEY: "key_encipherment",
    U.ENCRYPT: "data_encipherment",
    U.DECRYPT: "data_encipherment",
    U.KEY_AGREEMENT: "key_agreement",
}
KEY_USAGE_FIELDS = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)

# Attributes that name what to certify rather than describe the new object: the
# server sets them on the certificate from the certificate itself.
SUBJECT_PARTS = {f"CERTIFICATE_SUBJECT_{short}": oid for oid, short in certificates.NAME_PARTS.items()}
SUBJECT_TAGS = frozenset({Tag.X_509_CERTIFICATE_SUBJECT, *(Tag[name] for name in SUBJECT_PARTS)})

PUBLIC_KEY_TYPES = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    x25519.X25519PublicKey,
    x448.X448PublicKey,
    dsa.DSAPublicKey,
)

# DER string types of a distinguished name's values (X.520 DirectoryString, IA5String).
_NAME_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be"}
_DER_SET, _DER_OID = 0x31, 0x06


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


@dataclass
class Subject:
    """What a certificate certifies: a name and a public key (held by the server, or not)."""

    name: x509.Name
    public_key: CertificatePublicKeyTypes
    public_record: ObjectRecord | None = None
    extensions: tuple[x509.Extension[x509.ExtensionType], ...] = ()


@dataclass
class Issuer:
    """The CA: its certificate (record and parsed) and the record of its private key."""

    record: ObjectRecord
    certificate: x509.Certificate
    private_key: ObjectRecord


# --- the request -------------------------------------------------------------------------


def request_attributes(
    context: RequestContext,
    attributes: Attributes | None,
    template_attribute: TemplateAttribute | None,
    besides: str | None = None,
) -> tuple[Attributes, Attributes]:
    """(the new certificate's attributes, the subject's name parts the request gives), both checked.

    A Name must be unused, but by `besides` (the certificate Re-certify replaces).
    """
    if attributes is None and template_attribute is not None:
        attributes = template_attributes(context, template_attribute)
    given = list(attributes.entries) if attributes is not None else []
    subject = Attributes(entries=[entry for entry in given if entry.tag in SUBJECT_TAGS])
    rest = Attributes(entries=[entry for entry in given if entry.tag not in SUBJECT_TAGS])
    requested = requested_attributes(context, attributes=rest)
    kind = requested.get(Tag.CERTIFICATE_TYPE)
    if kind not in (None, CertificateType.X_509):
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED, f"the server issues X.509 certificates, not {kind.name}"
        )
    check_unique_names(context, requested, besides=besides)
    return requested, subject


def read_csr(kind: CertificateRequestType | None, value: bytes | None) -> x509.CertificateSigningRequest:
    """The request, parsed and its own signature checked (Invalid CSR if either fails)."""
    if kind is None:
        raise _invalid("a Certificate Request Value needs its Certificate Request Type")
    if kind is CertificateRequestType.PKCS_10:
        load = x509.load_der_x509_csr
    elif kind is CertificateRequestType.PEM:
        load = x509.load_pem_x509_csr
    else:
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED, f"{kind.name} certificate requests are not supported"
        )
    try:
        csr = load(value or b"")
        valid = csr.is_signature_valid
    except (ValueError, UnsupportedAlgorithm):
        raise KmipError(
            ResultReason.INVALID_CSR, f"the Certificate Request Value is not a {kind.name} request"
        ) from None
    if not valid:
        raise KmipError(ResultReason.INVALID_CSR, "the certificate request's signature does not verify")
    return csr


def held_object(
    context: RequestContext, uid: UniqueId | str | None, types: frozenset[ObjectType]
) -> ObjectRecord:
    """The caller's object `uid` (or the ID Placeholder's), on-line, with its value, of one of `types`."""
    record = context.load(uid)
    require_online(record)
    require_material(record)
    if record.object_type not in types:
        names = " or ".join(sorted(kind.name for kind in types))
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, f"{record.uid} is a {record.object_type.name}, not a {names}"
        )
    return record


def stored_csr(record: ObjectRecord) -> x509.CertificateSigningRequest:
    """The request a Certificate Request object holds."""
    material = require_material(record)
    assert isinstance(material, CertificateRequest)
    return read_csr(material.certificate_request_type, material.certificate_request_value)


def csr_subject(csr: x509.CertificateSigningRequest, public_record: ObjectRecord | None) -> Subject:
    """The subject a request asks to certify; a held public key named with it must be the request's."""
    key = csr.public_key()
    if public_record is not None and public_key_of(public_record) != key:
        raise KmipError(
            ResultReason.INVALID_CSR, f"the request is not for the public key {public_record.uid}"
        )
    extensions = tuple(found for found in [extension(csr.extensions, x509.SubjectAlternativeName)] if found)
    return Subject(csr.subject, key, public_record, extensions)


E = TypeVar("E", bound=x509.ExtensionType)


def extension(extensions: x509.Extensions, kind: type[E]) -> x509.Extension[E] | None:
    """The extension of this kind, if there is one."""
    try:
        return extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def public_key_of(record: ObjectRecord) -> CertificatePublicKeyTypes:
    """A Public Key object's key (public: the operation may read it)."""
    key = loaded_key(record, private=False)
    if not isinstance(key, PUBLIC_KEY_TYPES):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"the key {record.uid} cannot be certified")
    return key


def subject_name(parts: Attributes) -> x509.Name | None:
    """The subject the attributes give: an X.509 Certificate Subject, or Certificate Subject parts."""
    given = parts.get(Tag.X_509_CERTIFICATE_SUBJECT)
    oids: dict[int, ObjectIdentifier] = {Tag[name]: oid for name, oid in SUBJECT_PARTS.items()}
    try:
        if isinstance(given, X509CertificateSubject) and given.subject_distinguished_name:
            return parse_name(given.subject_distinguished_name)
        attributes = [
            x509.NameAttribute(oids[entry.tag], entry.value) for entry in parts if entry.tag in oids
        ]
    except (ValueError, UnicodeDecodeError) as error:  # pyca refuses a country name not of 2 letters
        raise _invalid(f"the subject given is not a valid X.501 name: {error}") from None
    return x509.Name(attributes) if attributes else None


def parse_name(der: bytes) -> x509.Name:
    """A DER Name (RFC 5280 §4.1.2.4: RDNs of type-value pairs) as pyca's (it reads none alone)."""
    rdns = []
    for set_tag, rdn in formats.der_children(der):
        if set_tag != _DER_SET:
            raise ValueError("not a relative distinguished name")
        pairs = []
        for _, pair in formats.der_children(rdn):
            (oid_tag, oid), (string_tag, string) = formats.der_children(pair)
            encoding = _NAME_STRINGS.get(string_tag)
            if oid_tag != _DER_OID or encoding is None:
                raise ValueError("not a type and a string value")
            pairs.append(x509.NameAttribute(_oid(_content(oid)), _content(string).decode(encoding)))
        rdns.append(x509.RelativeDistinguishedName(pairs))
    return x509.Name(rdns)


def _content(element: bytes) -> bytes:
    _tag, start, end = formats.der_element(element)
    return element[start:end]


def _oid(content: bytes) -> ObjectIdentifier:
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs or value:
        raise ValueError("a truncated object identifier")
    first = min(arcs[0] // 40, 2)
    return ObjectIdentifier(".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:])))


# --- the CA ------------------------------------------------------------------------------


def link_of(attributes: Attributes, kind: LinkType) -> UniqueId | None:
    return next(
        (link.linked_object_identifier for link in attributes.get_all(Tag.LINK) if link.link_type is kind),
        None,
    )


def issuer(context: RequestContext, requested: Attributes, fallback: Attributes | None = None) -> Issuer:
    """The CA the request's Certificate Link names (else `fallback`'s: Re-certify's old certificate)."""
    uid = link_of(requested, LinkType.CERTIFICATE_LINK)
    if uid is None and fallback is not None:
        uid = link_of(fallback, LinkType.CERTIFICATE_LINK)
    if uid is None:
        raise _invalid("name the issuing CA: a Certificate Link to its certificate, which the server holds")
    record = context.load(uid)
    require_online(record)
    material = require_material(record)
    if not isinstance(material, Certificate) or material.certificate_type is not CertificateType.X_509:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"the Certificate Link names a {record.object_type.name}, not an X.509 certificate",
        )
    ca = x509.load_der_x509_certificate(material.certificate_value or b"")
    _require_ca(record.uid, ca)
    key_uid = link_of(requested, LinkType.PRIVATE_KEY_LINK)
    if key_uid is None:
        key_uid = _ca_private_key(context, record)
    private_key = usable_key(context, key_uid, U.CERTIFICATE_SIGN, frozenset({ObjectType.PRIVATE_KEY}))
    return Issuer(record, ca, private_key)


def _require_ca(uid: str, ca: x509.Certificate) -> None:
    """A certificate whose own extensions say it may not issue certificates is refused."""
    try:
        if not ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise _invalid(f"the certificate {uid} is not a CA's (Basic Constraints CA=false)")
    except x509.ExtensionNotFound:
        pass
    try:
        if not ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign:
            raise _invalid(f"the certificate {uid} does not allow certificate signing (Key Usage)")
    except x509.ExtensionNotFound:
        pass


def _ca_private_key(context: RequestContext, ca: ObjectRecord) -> UniqueId:
    """The private key the CA certificate's links lead to (certificate -> public key -> private key)."""
    public_uid = link_of(ca.attributes, LinkType.PUBLIC_KEY_LINK)
    if public_uid is not None:
        key_uid = link_of(context.load(public_uid).attributes, LinkType.PRIVATE_KEY_LINK)
        if key_uid is not None:
            return key_uid
    raise _invalid(
        f"the CA certificate {ca.uid} leads to no private key (Public Key Link, then Private Key Link):"
        " name it with a Private Key Link"
    )


# --- the certificate ---------------------------------------------------------------------


def validity(attributes: Attributes, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """notBefore and notAfter: the Activation and Deactivation Dates, else now and a year on."""
    start = attributes.get(Tag.ACTIVATION_DATE) or now.replace(microsecond=0)
    end = attributes.get(Tag.DEACTIVATION_DATE) or start + DEFAULT_VALIDITY
    if end <= start:
        raise _invalid("the Deactivation Date must come after the Activation Date")
    return start, end


def key_usage(mask: int | None) -> x509.KeyUsage | None:
    """The Key Usage extension a Cryptographic Usage Mask asks for (None: no bit maps)."""
    wanted = {bit for flag, bit in KEY_USAGE_BITS.items() if mask is not None and mask & flag}
    if not wanted:
        return None
    return x509.KeyUsage(**{field: field in wanted for field in KEY_USAGE_FIELDS})


def issue(
    context: RequestContext,
    subject: Subject,
    ca: Issuer,
    requested: Attributes,
    usage: x509.KeyUsage | None,
) -> ObjectRecord:
    """Sign the certificate with the CA's key and make its object (Links as §6.1.6 says)."""
    start, end = validity(requested, context.now)
    ca_public = ca.certificate.public_key()
    try:
        authority = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        )
    except x509.ExtensionNotFound:
        authority = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public)  # type: ignore[arg-type]
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject.name)
        .issuer_name(ca.certificate.subject)
        .public_key(subject.public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject.public_key), critical=False)
        .add_extension(authority, critical=False)
    )
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    for extension in subject.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)

    key = ca.private_key
    dsa = requested.get(Tag.DIGITAL_SIGNATURE_ALGORITHM)
    parameters = (
        CryptographicParameters(digital_signature_algorithm=dsa)
        if dsa is not None
        else applicable(None, key.attributes.get(Tag.CRYPTOGRAPHIC_PARAMETERS))
    )
    spec = signature_spec(
        parameters,
        key.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM),
        key.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH),
        prehashed=False,
    )
    spend_usage(context, key, 0, 1)
    issued = crypto_services(context).provider.sign_certificate(key, spec, builder)
    try:
        issued.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise _invalid(
            f"the private key {key.uid} is not that of the CA certificate {ca.record.uid}"
        ) from None
    return certificate_record(context, issued, requested, subject, ca, start, end)


def certificate_record(
    context: RequestContext,
    issued: x509.Certificate,
    requested: Attributes,
    subject: Subject,
    ca: Issuer,
    start: dt.datetime,
    end: dt.datetime,
) -> ObjectRecord:
    """The new Certificate object: the request's attributes, those read from the certificate, its links."""
    material = Certificate(
        certificate_type=CertificateType.X_509, certificate_value=issued.public_bytes(Encoding.DER)
    )
    attributes = Attributes(
        entries=[
            entry
            for entry in requested
            if not (entry.tag == Tag.LINK and entry.value.link_type is LinkType.PRIVATE_KEY_LINK)
            and entry.tag not in (Tag.ACTIVATION_DATE, Tag.DEACTIVATION_DATE)
            and not (
                entry.tag == Tag.LINK
                and entry.value.link_type in (LinkType.CERTIFICATE_LINK, LinkType.PUBLIC_KEY_LINK)
            )
        ]
    )
    attributes = settle(attributes, certificates.certificate_attributes(material))
    attributes.add(Tag.ACTIVATION_DATE, start)
    attributes.add(Tag.DEACTIVATION_DATE, end)
    attributes.add(
        Tag.LINK, Link(link_type=LinkType.CERTIFICATE_LINK, linked_object_identifier=ca.record.uid)
    )
    public = subject.public_record
    if public is not None:
        attributes.add(
            Tag.LINK, Link(link_type=LinkType.PUBLIC_KEY_LINK, linked_object_identifier=public.uid)
        )
    record = new_record(context, ObjectType.CERTIFICATE, material, attributes)
    refresh_state(record.attributes, context.now)
    context.session.insert(record)
    context.id_placeholder = record.uid
    return record


def link_public_key(
    context: RequestContext, public: ObjectRecord, certificate: str, replacing: str | None = None
) -> None:
    """The public key's Certificate Link to its new certificate (instead of `replacing`'s, on
    Re-certify: that Link goes as Delete Attribute takes it, the other Links keep their 1.x indexes)."""
    if replacing is not None:
        discard_links(public, LinkType.CERTIFICATE_LINK, to=replacing)
    public.attributes.add(
        Tag.LINK, Link(link_type=LinkType.CERTIFICATE_LINK, linked_object_identifier=certificate)
    )
    touch(public, context.now)
    context.session.save(public)
