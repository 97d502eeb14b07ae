"""What the server reads out of a certificate it registers (KMIP 2.1 §4.6-4.8, §4.22, §4.61-4.63).

The forms of both generations are stored side by side; each client sees those its
version defines: the X.509 Certificate Identifier/Subject/Issuer (DER, KMIP 1.1 on)
and the 2.x Certificate Attributes (one text attribute per distinguished-name part).
As in the OASIS test TC-CERTATTR-1-20 (and PKCS#11's CKA_SERIAL_NUMBER), the
Certificate Serial Number is the DER encoding of the serial number, and the names are
the DER bytes of the certificate itself, not a re-encoding.

Not yet: KMIP 1.0's text Certificate Identifier/Subject/Issuer (deprecated since 1.1).
The store writes attributes as KMIP 2.1 (`Attributes.encode_any_version`), which
refuses the fields of those 1.x-only structures.
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.x509.oid import ExtensionOID, NameOID, ObjectIdentifier

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import Certificate
from pkcs11_kmip.kmip.messages.structures import (
    X509CertificateIdentifier,
    X509CertificateIssuer,
    X509CertificateSubject,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    DigitalSignatureAlgorithm,
    ResultReason,
)
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError

D = DigitalSignatureAlgorithm

# Signature algorithm OIDs (RFC 3279, 4055, 5758, 8692; NIST CSOR) -> KMIP 2.1 §11.16.
SIGNATURE_ALGORITHMS: dict[str, DigitalSignatureAlgorithm] = {
    "1.2.840.113549.1.1.2": D.MD2_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.4": D.MD5_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.5": D.SHA_1_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.14": D.SHA_224_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.11": D.SHA_256_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.12": D.SHA_384_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.13": D.SHA_512_WITH_RSA_ENCRYPTION,
    "1.2.840.113549.1.1.10": D.RSASSA_PSS,
    "1.2.840.10040.4.3": D.DSA_WITH_SHA_1,
    "2.16.840.1.101.3.4.3.1": D.DSA_WITH_SHA224,
    "2.16.840.1.101.3.4.3.2": D.DSA_WITH_SHA256,
    "1.2.840.10045.4.1": D.ECDSA_WITH_SHA_1,
    "1.2.840.10045.4.3.1": D.ECDSA_WITH_SHA224,
    "1.2.840.10045.4.3.2": D.ECDSA_WITH_SHA256,
    "1.2.840.10045.4.3.3": D.ECDSA_WITH_SHA384,
    "1.2.840.10045.4.3.4": D.ECDSA_WITH_SHA512,
    "2.16.840.1.101.3.4.3.14": D.SHA3_256_WITH_RSA_ENCRYPTION,
    "2.16.840.1.101.3.4.3.15": D.SHA3_384_WITH_RSA_ENCRYPTION,
    "2.16.840.1.101.3.4.3.16": D.SHA3_512_WITH_RSA_ENCRYPTION,
}

# Distinguished-name attribute types (RFC 4519, 2985) -> the part names of the 2.x Certificate Attributes.
NAME_PARTS: dict[ObjectIdentifier, str] = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.EMAIL_ADDRESS: "EMAIL",
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.USER_ID: "UID",
    NameOID.SERIAL_NUMBER: "SERIAL_NUMBER",
    NameOID.TITLE: "TITLE",
    NameOID.DOMAIN_COMPONENT: "DC",
    NameOID.DN_QUALIFIER: "DN_QUALIFIER",
}

_TBS_VERSION = 0xA0  # [0] EXPLICIT Version, absent in v1 certificates


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


def certificate_attributes(certificate: Certificate) -> Attributes:
    """The attributes the server sets on a registered certificate (Invalid Field if it does not parse)."""
    value = certificate.certificate_value or b""
    attributes = Attributes()
    attributes.add(Tag.CERTIFICATE_TYPE, certificate.certificate_type)
    attributes.add(Tag.CERTIFICATE_LENGTH, len(value))
    if certificate.certificate_type is not CertificateType.X_509:
        return attributes  # a PGP certificate: nothing more the server reads
    try:
        parsed = x509.load_der_x509_certificate(value)
        serial, issuer, subject = _tbs_fields(parsed.tbs_certificate_bytes)
        subject_names = _alternative_names(parsed, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        issuer_names = _alternative_names(parsed, ExtensionOID.ISSUER_ALTERNATIVE_NAME)
        algorithm, length = _key_of(parsed)
    except (ValueError, UnsupportedAlgorithm):
        raise _invalid("the Certificate Value is not a DER-encoded X.509 certificate") from None
    attributes.add(
        Tag.X_509_CERTIFICATE_IDENTIFIER,
        X509CertificateIdentifier(issuer_distinguished_name=issuer, certificate_serial_number=serial),
    )
    attributes.add(
        Tag.X_509_CERTIFICATE_SUBJECT,
        X509CertificateSubject(subject_distinguished_name=subject, subject_alternative_names=subject_names),
    )
    attributes.add(
        Tag.X_509_CERTIFICATE_ISSUER,
        X509CertificateIssuer(issuer_distinguished_name=issuer, issuer_alternative_names=issuer_names),
    )
    signature = SIGNATURE_ALGORITHMS.get(parsed.signature_algorithm_oid.dotted_string)
    if signature is not None:
        attributes.add(Tag.DIGITAL_SIGNATURE_ALGORITHM, signature)
    if algorithm is not None:
        attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm)
        attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, length)
    for party, name in (("SUBJECT", parsed.subject), ("ISSUER", parsed.issuer)):
        for part in name:
            short = NAME_PARTS.get(part.oid)
            if short is not None and isinstance(part.value, str):
                attributes.add(Tag[f"CERTIFICATE_{party}_{short}"], part.value)
    return attributes


def _tbs_fields(tbs: bytes) -> tuple[bytes, bytes, bytes]:
    """The serial number, issuer and subject as the certificate encodes them (RFC 5280 §4.1)."""
    fields = formats.der_children(tbs)
    if fields and fields[0][0] == _TBS_VERSION:
        fields = fields[1:]
    if len(fields) < 5 or fields[0][0] != formats.DER_INTEGER:
        raise ValueError("not a TBSCertificate")
    return fields[0][1], fields[2][1], fields[4][1]


def _alternative_names(certificate: x509.Certificate, oid: ObjectIdentifier) -> list[bytes]:
    """Each GeneralName of an alternative-name extension, DER-encoded."""
    try:
        extension: Any = certificate.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return []
    return [der for _, der in formats.der_children(extension.public_bytes())]


def _key_of(certificate: x509.Certificate) -> tuple[CryptographicAlgorithm | None, int | None]:
    """The Cryptographic Algorithm and Length of the certified public key."""
    key = certificate.public_key()
    if isinstance(key, dsa.DSAPublicKey):
        return CryptographicAlgorithm.DSA, key.key_size
    try:
        kind = formats.kind_of(key)  # type: ignore[arg-type]
    except KmipError:
        return None, None
    return kind.algorithms[0], formats.length_of(key)  # type: ignore[arg-type]
