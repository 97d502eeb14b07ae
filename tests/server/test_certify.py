"""Certify and Re-certify over real TLS: certificates a CA key on the server signs, checked by pyca.

The CA is registered here (key pair and self-signed certificate, linked certificate
-> public key -> private key), so pyca can check what the server issues: signature,
issuer, subject, validity and extensions, against the CA certificate. What is
certified: a PKCS#10 request pyca made, or a public key the server holds. Re-certify
must replace (links, Names, dates by Offset). Each refusal is checked for its reason,
in KMIP 2.1 and (mapped by the engine) 1.4.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import (
    Certificate,
    CertificateRequest,
    KeyBlock,
    KeyValue,
    PrivateKey,
    PublicKey,
)
from pkcs11_kmip.kmip.messages.payloads import (
    AddAttributeRequest,
    CertifyRequest,
    GetAttributesRequest,
    GetRequest,
    ReCertifyRequest,
)
from pkcs11_kmip.kmip.messages.structures import Link, X509CertificateSubject
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateRequestType,
    CertificateType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
    KeyFormatType,
    LinkType,
    ObjectType,
    ResultReason,
    State,
)
from pkcs11_kmip_server.attributes import from_named_list
from testsupport import managed_keys
from testsupport.kmip_builders import AttributeSpec, attribute_fields, name, named
from testsupport.managed_keys import reason_of_version as expected
from testsupport.managed_keys import refusal as refused
from testsupport.server import RunningServer

A = CryptographicAlgorithm
U = CryptographicUsageMask
V1, V2 = (1, 4), (2, 1)
CLIENT = "certify"
PKCS10 = CertificateRequestType.PKCS_10
CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "Test CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pkcs11-kmip"),
    ]
)
SUBJECT = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "DE"),
        x509.NameAttribute(NameOID.COMMON_NAME, "server.example"),
    ]
)
YEAR = dt.timedelta(days=365)


v2 = managed_keys.client_fixture(CLIENT, V2)
kmip = managed_keys.client_fixture(CLIENT, V1, V2)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


@pytest.fixture(scope="module")
def subject_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Ca:
    certificate: x509.Certificate
    certificate_uid: str
    public_uid: str
    private_uid: str


def der(value: x509.Certificate | x509.CertificateSigningRequest) -> bytes:
    return value.public_bytes(serialization.Encoding.DER)


def algorithm_of(key: Any) -> CryptographicAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey):
        return A.RSA
    return A.EC if isinstance(key, ec.EllipticCurvePrivateKey) else A.ED25519


def hash_for(key: Any) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def self_signed(key: Any, subject: x509.Name = CA_NAME, ca: bool = True) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + 10 * YEAR)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hash_for(key))
    )


def register_ca(
    kmip: KmipClient,
    key: Any,
    usage: CryptographicUsageMask = U.CERTIFICATE_SIGN | U.SIGN,
    active: bool = True,
    ca: bool = True,
) -> Ca:
    """The CA's private key, its public key (Private Key Link) and certificate (Public Key Link)."""
    private_uid = managed_keys.register_object(
        kmip, ObjectType.PRIVATE_KEY, private_key(key), usage, active=active
    )
    public_uid = managed_keys.register_object(
        kmip,
        ObjectType.PUBLIC_KEY,
        public_key(key),
        U.VERIFY,
        (Tag.LINK, Link(link_type=LinkType.PRIVATE_KEY_LINK, linked_object_identifier=private_uid)),
    )
    certificate = self_signed(key, ca=ca)
    certificate_uid = managed_keys.register_object(
        kmip,
        ObjectType.CERTIFICATE,
        Certificate(certificate_type=CertificateType.X_509, certificate_value=der(certificate)),
        U.VERIFY,
        (Tag.LINK, Link(link_type=LinkType.PUBLIC_KEY_LINK, linked_object_identifier=public_uid)),
    )
    return Ca(certificate, certificate_uid, public_uid, private_uid)


def private_key(key: Any) -> PrivateKey:
    value = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    block = KeyBlock(
        key_format_type=KeyFormatType.PKCS_8,
        key_value=KeyValue(key_material=value),
        cryptographic_algorithm=algorithm_of(key),
    )
    return PrivateKey(key_block=block)


def public_key(key: Any) -> PublicKey:
    value = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    block = KeyBlock(
        key_format_type=KeyFormatType.X_509,
        key_value=KeyValue(key_material=value),
        cryptographic_algorithm=algorithm_of(key),
    )
    return PublicKey(key_block=block)


def issuer_link(ca: Ca | str) -> tuple[int, Any]:
    uid = ca if isinstance(ca, str) else ca.certificate_uid
    return (Tag.LINK, Link(link_type=LinkType.CERTIFICATE_LINK, linked_object_identifier=uid))


def csr(key: Any, subject: x509.Name = SUBJECT) -> x509.CertificateSigningRequest:
    names = x509.SubjectAlternativeName([x509.DNSName("server.example"), x509.DNSName("www.example")])
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_extension(names, critical=False)
        .sign(key, hash_for(key))
    )


def request_value(kmip: KmipClient, request: bytes) -> dict[str, Any]:
    """The request in the field of the client's version (1.x: Certificate Request)."""
    field = "certificate_request" if kmip.version < (2, 0) else "certificate_request_value"
    return {field: request}


def certify_csr(
    kmip: KmipClient, request: bytes, *attributes: AttributeSpec, **fields: Any
) -> CertifyRequest:
    """Certify the request, with the attributes in the client version's form."""
    value = request_value(kmip, request)
    return CertifyRequest(
        certificate_request_type=fields.pop("kind", PKCS10),
        **value,
        **attribute_fields(kmip.version, *attributes),
        **fields,
    )


def certify_held(v2: KmipClient, ca: Ca, key: Any, *attributes: tuple[int, Any]) -> tuple[str, str]:
    """(the key's public key, registered, and its certificate by this CA with these attributes)."""
    public_uid, _ = managed_keys.register_pair(v2, key, A.EC, (U.VERIFY, U.SIGN))
    request = CertifyRequest(
        unique_identifier=public_uid, attributes=Attributes.of(issuer_link(ca), *attributes)
    )
    return public_uid, v2.call(request).unique_identifier


def fetched(kmip: KmipClient, uid: str) -> x509.Certificate:
    value = kmip.call(GetRequest(unique_identifier=uid)).object
    assert isinstance(value, Certificate) and value.certificate_value is not None
    return x509.load_der_x509_certificate(value.certificate_value)


def attributes_of(kmip: KmipClient, uid: str) -> Attributes:
    """The object's attributes, in the 2.x form whatever the client's version."""
    response = kmip.call(GetAttributesRequest(unique_identifier=uid))
    if response.attributes is None:
        return from_named_list(response.attribute_list)
    assert isinstance(response.attributes, Attributes)
    return response.attributes


def links(kmip: KmipClient, uid: str) -> dict[LinkType, list[str]]:
    found: dict[LinkType, list[str]] = {}
    for link in attributes_of(kmip, uid).get_all(Tag.LINK):
        found.setdefault(link.link_type, []).append(link.linked_object_identifier)
    return found


def check_issued(issued: x509.Certificate, ca: Ca, subject: x509.Name, key: Any) -> None:
    """What every issued certificate must be: signed by the CA, for this subject and key, a leaf."""
    issued.verify_directly_issued_by(ca.certificate)
    assert issued.version is x509.Version.v3
    assert issued.issuer == ca.certificate.subject
    assert issued.subject == subject
    assert issued.public_key() == key.public_key()
    assert 0 < issued.serial_number < 1 << 159
    constraints = issued.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    identifier = issued.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert identifier == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    authority = issued.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_identifier = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert authority.key_identifier == ca_identifier.digest


# --- Certify ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ca_kind", ["rsa", "ec", "ed25519"])
def test_a_pkcs10_request_is_certified_by_the_ca_key(
    kmip: KmipClient, ca_kind: str, rsa_key: rsa.RSAPrivateKey, subject_key: ec.EllipticCurvePrivateKey
) -> None:
    ca_key: Any = {
        "rsa": rsa_key,
        "ec": ec.generate_private_key(ec.SECP384R1()),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }[ca_kind]
    ca = register_ca(kmip, ca_key)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    uid = kmip.call(certify_csr(kmip, der(csr(subject_key)), issuer_link(ca))).unique_identifier
    issued = fetched(kmip, uid)
    check_issued(issued, ca, SUBJECT, subject_key)
    start, end = issued.not_valid_before_utc, issued.not_valid_after_utc
    assert before - dt.timedelta(seconds=5) <= start <= before + dt.timedelta(seconds=5)
    assert end - start == YEAR
    names = issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["server.example", "www.example"]
    with pytest.raises(x509.ExtensionNotFound):  # no usage mask was given, and no public key is held
        issued.extensions.get_extension_for_class(x509.KeyUsage)
    hashed: dict[str, type[object]] = {"rsa": hashes.SHA256, "ec": hashes.SHA384, "ed25519": type(None)}
    expected_hash = hashed[ca_kind]
    assert isinstance(issued.signature_hash_algorithm, expected_hash)  # the key's default scheme
    attributes = attributes_of(kmip, uid)
    assert attributes.get(Tag.STATE) is State.ACTIVE
    assert attributes.get(Tag.CERTIFICATE_TYPE) is CertificateType.X_509
    found = {link.link_type: link.linked_object_identifier for link in attributes.get_all(Tag.LINK)}
    assert found == {LinkType.CERTIFICATE_LINK: ca.certificate_uid}  # no public key held: none linked


def test_a_held_public_key_is_certified_with_links_both_ways(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: ec.EllipticCurvePrivateKey
) -> None:
    ca = register_ca(v2, rsa_key)
    public_uid, uid = certify_held(
        v2,
        ca,
        subject_key,
        (Tag.CERTIFICATE_SUBJECT_CN, "held.example"),
        (Tag.CERTIFICATE_SUBJECT_O, "pkcs11-kmip"),
        (Tag.NAME, name("held-certificate")),
        (Tag.DIGITAL_SIGNATURE_ALGORITHM, DigitalSignatureAlgorithm.SHA_512_WITH_RSA_ENCRYPTION),
    )
    issued = fetched(v2, uid)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "held.example"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pkcs11-kmip"),
        ]
    )
    check_issued(issued, ca, subject, subject_key)
    assert isinstance(issued.signature_hash_algorithm, hashes.SHA512)
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    assert links(v2, uid) == {
        LinkType.CERTIFICATE_LINK: [ca.certificate_uid],
        LinkType.PUBLIC_KEY_LINK: [public_uid],
    }
    assert links(v2, public_uid)[LinkType.CERTIFICATE_LINK] == [uid]
    attributes = attributes_of(v2, uid)
    assert attributes.get(Tag.NAME).name_value == "held-certificate"
    assert attributes.get(Tag.CERTIFICATE_SUBJECT_CN) == "held.example"
    assert (
        attributes.get(Tag.DIGITAL_SIGNATURE_ALGORITHM)
        is DigitalSignatureAlgorithm.SHA_512_WITH_RSA_ENCRYPTION
    )


def test_a_1x_client_certifies_a_held_key_for_an_x509_subject(
    kmip_server: RunningServer, rsa_key: rsa.RSAPrivateKey, subject_key: ec.EllipticCurvePrivateKey
) -> None:
    """KMIP 1.4's Template-Attribute form, with the subject as X.509 Certificate Subject (DER)."""
    with kmip_server.client(CLIENT, version=V1) as v1:
        ca = register_ca(v1, rsa_key)
        public_uid, _ = managed_keys.register_pair(
            v1, subject_key, A.EC, (U.VERIFY | U.KEY_AGREEMENT, U.SIGN)
        )
        subject = X509CertificateSubject(subject_distinguished_name=SUBJECT.public_bytes())
        uid = v1.call(
            CertifyRequest(
                unique_identifier=public_uid,
                **attribute_fields(V1, issuer_link(ca), (Tag.X_509_CERTIFICATE_SUBJECT, subject)),
            )
        ).unique_identifier
        issued = fetched(v1, uid)
    check_issued(issued, ca, SUBJECT, subject_key)
    usage = issued.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_agreement and not usage.key_cert_sign


def test_validity_follows_the_dates_given(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(v2, rsa_key)
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2)
    end = start + dt.timedelta(days=30)
    uid = v2.call(
        certify_csr(
            v2,
            der(csr(subject_key)),
            issuer_link(ca),
            (Tag.ACTIVATION_DATE, start),
            (Tag.DEACTIVATION_DATE, end),
        )
    ).unique_identifier
    issued = fetched(v2, uid)
    assert (issued.not_valid_before_utc, issued.not_valid_after_utc) == (start, end)
    assert attributes_of(v2, uid).get(Tag.STATE) is State.PRE_ACTIVE


def test_a_pem_request_and_a_stored_certificate_request(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(v2, rsa_key)
    pem = csr(subject_key).public_bytes(serialization.Encoding.PEM)
    uid = v2.call(certify_csr(v2, pem, issuer_link(ca), kind=CertificateRequestType.PEM)).unique_identifier
    check_issued(fetched(v2, uid), ca, SUBJECT, subject_key)
    stored = managed_keys.register_object(
        v2,
        ObjectType.CERTIFICATE_REQUEST,
        CertificateRequest(certificate_request_type=PKCS10, certificate_request_value=der(csr(subject_key))),
        U.VERIFY,
    )
    uid = v2.call(
        CertifyRequest(unique_identifier=stored, attributes=Attributes.of(issuer_link(ca)))
    ).unique_identifier
    check_issued(fetched(v2, uid), ca, SUBJECT, subject_key)


# --- Re-certify ------------------------------------------------------------------------------


def test_re_certify_replaces_the_certificate(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(v2, rsa_key)
    renewed = (Tag.CERTIFICATE_SUBJECT_CN, "renewed.example"), (Tag.NAME, name("renewed"))
    public_uid, old_uid = certify_held(v2, ca, subject_key, *renewed)
    old = fetched(v2, old_uid)
    offset = 3600
    new_uid = v2.call(ReCertifyRequest(unique_identifier=old_uid, offset=offset)).unique_identifier
    new = fetched(v2, new_uid)
    check_issued(new, ca, old.subject, subject_key)
    assert new.serial_number != old.serial_number
    old_attributes, new_attributes = attributes_of(v2, old_uid), attributes_of(v2, new_uid)
    activation = new_attributes.get(Tag.ACTIVATION_DATE)
    assert new.not_valid_before_utc == activation
    assert abs(
        activation - (new_attributes.get(Tag.INITIAL_DATE) + dt.timedelta(seconds=offset))
    ) <= dt.timedelta(seconds=1)
    # Table 298: the Deactivation Date keeps its distance from the Activation Date.
    assert (
        new.not_valid_after_utc - new.not_valid_before_utc
        == old.not_valid_after_utc - old.not_valid_before_utc
    )
    assert new_attributes.get(Tag.STATE) is State.PRE_ACTIVE
    assert old_attributes.get(Tag.STATE) is State.ACTIVE  # the existing certificate is otherwise untouched
    assert [n.name_value for n in new_attributes.get_all(Tag.NAME)] == ["renewed"]
    assert old_attributes.get_all(Tag.NAME) == []
    assert links(v2, new_uid) == {
        LinkType.CERTIFICATE_LINK: [ca.certificate_uid],
        LinkType.PUBLIC_KEY_LINK: [public_uid],
        LinkType.REPLACED_OBJECT_LINK: [old_uid],
    }
    assert links(v2, old_uid)[LinkType.REPLACEMENT_OBJECT_LINK] == [new_uid]
    assert links(v2, public_uid)[LinkType.CERTIFICATE_LINK] == [new_uid]


def test_re_certify_without_offset_keeps_the_dates_and_takes_a_request(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(kmip, rsa_key)
    old_uid = kmip.call(certify_csr(kmip, der(csr(subject_key)), issuer_link(ca))).unique_identifier
    old = fetched(kmip, old_uid)
    other_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "moved.example")])
    value = request_value(kmip, der(csr(subject_key, other_subject)))
    new_uid = kmip.call(
        ReCertifyRequest(unique_identifier=old_uid, certificate_request_type=PKCS10, **value)
    ).unique_identifier
    new = fetched(kmip, new_uid)
    check_issued(new, ca, other_subject, subject_key)  # the request's subject wins
    assert (new.not_valid_before_utc, new.not_valid_after_utc) == (
        old.not_valid_before_utc,
        old.not_valid_after_utc,
    )
    another = csr(ec.generate_private_key(ec.SECP256R1()))
    other_key = request_value(kmip, der(another))
    assert refused(
        kmip, ReCertifyRequest(unique_identifier=new_uid, certificate_request_type=PKCS10, **other_key)
    ) is expected(kmip, ResultReason.INVALID_CSR)


def test_re_certify_keeps_the_1x_indexes_of_the_public_keys_other_links(
    kmip_server: RunningServer, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    """Re-certify replaces the public key's Certificate Link as Delete Attribute would: the
    Links after it keep their 1.x Attribute Index (1.4 §2.1.1), the new Link takes the next."""
    with kmip_server.client(CLIENT, version=V1) as v1:
        ca = register_ca(v1, rsa_key)
        public_uid, private_uid = managed_keys.register_pair(v1, subject_key, A.EC, (U.VERIFY, U.SIGN))
        value = request_value(v1, der(csr(subject_key)))
        old_uid = v1.call(
            CertifyRequest(
                unique_identifier=public_uid,
                certificate_request_type=PKCS10,
                **value,
                **attribute_fields(V1, issuer_link(ca)),
            )
        ).unique_identifier
        for kind, target in ((LinkType.PRIVATE_KEY_LINK, private_uid), (LinkType.PARENT_LINK, ca.public_uid)):
            link = named(Tag.LINK, Link(link_type=kind, linked_object_identifier=target))
            v1.call(AddAttributeRequest(unique_identifier=public_uid, attribute=link))
        before = [(LinkType.CERTIFICATE_LINK, old_uid), (LinkType.PRIVATE_KEY_LINK, private_uid)]
        before.append((LinkType.PARENT_LINK, ca.public_uid))
        assert indexed_links(v1, public_uid) == list(enumerate(before))

        new_uid = v1.call(ReCertifyRequest(unique_identifier=old_uid)).unique_identifier
        assert indexed_links(v1, public_uid) == [
            (1, (LinkType.PRIVATE_KEY_LINK, private_uid)),
            (2, (LinkType.PARENT_LINK, ca.public_uid)),
            (3, (LinkType.CERTIFICATE_LINK, new_uid)),
        ]


def indexed_links(kmip: KmipClient, uid: str) -> list[tuple[int, tuple[LinkType, str]]]:
    """Get Attributes of the Links in the 1.x form, as (Attribute Index, (Link Type, target))."""
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_names=["Link"]))
    return [
        (a.attribute_index or 0, (a.attribute_value.link_type, a.attribute_value.linked_object_identifier))
        for a in answer.attribute_list
    ]


# --- refusals --------------------------------------------------------------------------------


def tampered(request: x509.CertificateSigningRequest) -> bytes:
    """The request with one bit of its signature flipped."""
    value = bytearray(der(request))
    value[-1] ^= 1
    return bytes(value)


def test_requests_that_do_not_verify_or_parse_are_invalid_csr(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(kmip, rsa_key)
    for value in (tampered(csr(subject_key)), b"\x30\x03\x02\x01\x00", der(ca.certificate)):
        assert refused(kmip, certify_csr(kmip, value, issuer_link(ca))) is expected(
            kmip, ResultReason.INVALID_CSR
        )
    crmf = certify_csr(kmip, der(csr(subject_key)), issuer_link(ca), kind=CertificateRequestType.CRMF)
    assert refused(kmip, crmf) is expected(kmip, ResultReason.FEATURE_NOT_SUPPORTED)


def test_the_ca_key_must_be_active_and_allowed_to_sign_certificates(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    request = der(csr(subject_key))
    inactive = register_ca(kmip, rsa_key, active=False)
    assert refused(kmip, certify_csr(kmip, request, issuer_link(inactive))) is expected(
        kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE
    )
    signs_only = register_ca(kmip, rsa_key, usage=U.SIGN)
    assert refused(kmip, certify_csr(kmip, request, issuer_link(signs_only))) is expected(
        kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )


def test_the_issuer_must_be_a_ca_the_server_holds(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    request = der(csr(subject_key))
    assert refused(kmip, certify_csr(kmip, request)) is expected(
        kmip, ResultReason.INVALID_FIELD
    )  # no issuer named
    unknown = certify_csr(kmip, request, issuer_link("no-such-certificate"))
    assert refused(kmip, unknown) is expected(kmip, ResultReason.OBJECT_NOT_FOUND)
    not_a_ca = register_ca(kmip, rsa_key, ca=False)
    assert refused(kmip, certify_csr(kmip, request, issuer_link(not_a_ca))) is expected(
        kmip, ResultReason.INVALID_FIELD
    )
    ca = register_ca(kmip, rsa_key)
    other = register_ca(kmip, ec.generate_private_key(ec.SECP256R1()))
    wrong_key = (
        Tag.LINK,
        Link(link_type=LinkType.PRIVATE_KEY_LINK, linked_object_identifier=other.private_uid),
    )
    assert refused(kmip, certify_csr(kmip, request, issuer_link(ca), wrong_key)) is expected(
        kmip, ResultReason.INVALID_FIELD
    )
    right_key = (Tag.LINK, Link(link_type=LinkType.PRIVATE_KEY_LINK, linked_object_identifier=ca.private_uid))
    assert kmip.call(certify_csr(kmip, request, issuer_link(ca), right_key)).unique_identifier


def test_wrong_object_types_are_refused(
    kmip: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(kmip, rsa_key)
    secret = managed_keys.register_key(kmip, A.AES, bytes(32), U.ENCRYPT)
    by_key = CertifyRequest(unique_identifier=secret, **attribute_fields(kmip.version, issuer_link(ca)))
    assert refused(kmip, by_key) is expected(kmip, ResultReason.INVALID_OBJECT_TYPE)
    as_issuer = certify_csr(kmip, der(csr(subject_key)), issuer_link(secret))
    assert refused(kmip, as_issuer) is expected(kmip, ResultReason.INVALID_OBJECT_TYPE)
    assert refused(kmip, ReCertifyRequest(unique_identifier=ca.public_uid)) is expected(
        kmip, ResultReason.INVALID_OBJECT_TYPE
    )
    public_uid, _ = managed_keys.register_pair(kmip, subject_key, A.EC, (U.VERIFY, U.SIGN))
    no_subject = CertifyRequest(
        unique_identifier=public_uid, **attribute_fields(kmip.version, issuer_link(ca))
    )
    assert refused(kmip, no_subject) is expected(kmip, ResultReason.INVALID_FIELD)


def test_an_rsa_ca_signs_with_pss_when_its_parameters_say(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, subject_key: Any
) -> None:
    ca = register_ca(v2, rsa_key)
    pss = (Tag.DIGITAL_SIGNATURE_ALGORITHM, DigitalSignatureAlgorithm.RSASSA_PSS)
    uid = v2.call(certify_csr(v2, der(csr(subject_key)), issuer_link(ca), pss)).unique_identifier
    issued = fetched(v2, uid)
    check_issued(issued, ca, SUBJECT, subject_key)  # verify_directly_issued_by reads the PSS parameters
    assert isinstance(issued.signature_algorithm_parameters, padding.PSS)
    assert isinstance(issued.signature_hash_algorithm, hashes.SHA256)
