"""Key Format Type PKCS#12 (RFC 7292): a private key with its certificate chain, under a password.

Get (KMIP 2.1 §6.1.19): the container holds the private key, the certificate its PKCS#12
Certificate Link names (or, failing that, the one its public key's link names) and the
chain above it, one PKCS#12 Certificate Link or Certificate Link per certificate, as
TC-PKCS12-1-20 builds it; two links where a chain has one is Invalid Field ("more than one
valid certificate chain"). The password is the value of the Secret Data the key's PKCS#12
Password Link names: a missing or repeated link, or an object that is no Secret Data, is
Bad Password; a password that is not Active is Wrong Key Lifecycle State, as
TC-PKCS12-2-20 expects of 2.0. The friendly name is the key's PKCS#12 Friendly Name,
else "alias" (§4.39). pyca/cryptography writes the container (its best available
encryption: AES-256-CBC with PBKDF2).

Get of a certificate (§6.1.19: "either that of a private key or certificate") gives the
same container, answered as a Private Key: the certificate's private key (its Private
Key Link, else its Public Key Link's Private Key Link; Key Format Type Not Supported if
neither leads to one), the certificate and the chain above it. The password and friendly
name are the certificate's, else the key's. The key must be one Get could give: the
caller's to get, Extractable, and not Sensitive (a container is no wrapping).
"""

from __future__ import annotations

from typing import TypeGuard

from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs12,
)

from pkcs11_kmip.kmip.messages import Attributes, Structure
from pkcs11_kmip.kmip.messages.objects import Certificate, KeyBlock, KeyValue, PrivateKey, SecretData
from pkcs11_kmip.kmip.messages.structures import Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    KeyFormatType,
    LinkType,
    ObjectType,
    ResultReason,
    State,
)
from pkcs11_kmip_server import certificates, formats
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import new_record, require_material
from pkcs11_kmip_server.store import ObjectRecord

DEFAULT_FRIENDLY_NAME = "alias"
# The links from a certificate to the one that issued it, in the order they are followed.
ISSUER_LINKS = (LinkType.PKCS_12_CERTIFICATE_LINK, LinkType.CERTIFICATE_LINK)
# A chain longer than this is a loop or a mistake.
MAX_CHAIN = 16


def linked(attributes: Attributes, *link_types: LinkType) -> list[str]:
    """The distinct identifiers the links of the first of `link_types` present name."""
    for link_type in link_types:
        uids = [
            str(link.linked_object_identifier)
            for link in attributes.get_all(Tag.LINK)
            if link.link_type is link_type
        ]
        if uids:
            return list(dict.fromkeys(uids))
    return []


def password_of(context: RequestContext, attributes: Attributes, owner: str) -> bytes:
    """The value of the Active Secret Data the object's PKCS#12 Password Link names."""
    uids = linked(attributes, LinkType.PKCS_12_PASSWORD_LINK)
    if len(uids) != 1:
        count = "no" if not uids else "more than one"
        raise KmipError(ResultReason.BAD_PASSWORD, f"{owner} has {count} PKCS#12 Password Link")
    password = context.load(uids[0])
    material = require_material(password)
    block = material.key_block if isinstance(material, SecretData) else None
    value = (
        block.key_value.key_material if block is not None and isinstance(block.key_value, KeyValue) else None
    )
    if not isinstance(value, bytes) or not value:
        raise KmipError(
            ResultReason.BAD_PASSWORD, f"the PKCS#12 password {password.uid} is no Secret Data value"
        )
    if refresh_state(password.attributes, context.now) is not State.ACTIVE:
        raise KmipError(
            ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"the PKCS#12 password {password.uid} is not Active"
        )
    return value


def _certificate(context: RequestContext, uid: str) -> x509.Certificate:
    record = context.load(uid)
    material = require_material(record)
    if not isinstance(material, Certificate) or material.certificate_value is None:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"{uid}, linked as a certificate, is a {record.object_type.name}",
        )
    try:
        return x509.load_der_x509_certificate(material.certificate_value)
    except ValueError:
        raise KmipError(ResultReason.INVALID_FIELD, f"{uid} is no X.509 certificate") from None


def _one(uids: list[str], what: str) -> str | None:
    if len(uids) > 1:
        raise KmipError(
            ResultReason.INVALID_FIELD, f"{what} links to {len(uids)} certificates: more than one chain"
        )
    return uids[0] if uids else None


def chain_of(context: RequestContext, record: ObjectRecord) -> list[x509.Certificate]:
    """The key's certificate first, then each issuer's, as the links give them."""
    uid = _one(linked(record.attributes, LinkType.PKCS_12_CERTIFICATE_LINK), record.uid)
    if uid is None:
        public = _one(linked(record.attributes, LinkType.PUBLIC_KEY_LINK), record.uid)
        if public is not None:
            public_record = context.load(public)
            uid = _one(linked(public_record.attributes, *ISSUER_LINKS), public_record.uid)
    return _chain_from(context, uid)


def _chain_from(context: RequestContext, uid: str | None) -> list[x509.Certificate]:
    """The certificate `uid` and each issuer's above it, by PKCS#12 Certificate or Certificate Links."""
    chain: list[x509.Certificate] = []
    seen: set[str] = set()
    while uid is not None and uid not in seen and len(chain) < MAX_CHAIN:
        seen.add(uid)
        chain.append(_certificate(context, uid))
        uid = _one(linked(context.load(uid).attributes, *ISSUER_LINKS), uid)
    return chain


def _key_of_certificate(context: RequestContext, certificate: ObjectRecord) -> ObjectRecord:
    """The private key the certificate's links lead to, if Get could give it."""
    uid = _one(linked(certificate.attributes, LinkType.PRIVATE_KEY_LINK), certificate.uid)
    if uid is None:
        public = _one(linked(certificate.attributes, LinkType.PUBLIC_KEY_LINK), certificate.uid)
        if public is not None:
            uid = _one(linked(context.load(public).attributes, LinkType.PRIVATE_KEY_LINK), public)
    if uid is None:
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"a PKCS#12 of the certificate {certificate.uid} holds its private key: no link leads to one"
            " (Private Key Link, or Public Key Link then Private Key Link)",
        )
    key = context.load(uid)
    if key.object_type is not ObjectType.PRIVATE_KEY:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, f"{uid}, linked as a private key, is a {key.object_type.name}"
        )
    if key.attributes.get(Tag.EXTRACTABLE) is False:
        raise KmipError(ResultReason.NOT_EXTRACTABLE, f"the private key {uid} is not extractable")
    if key.attributes.get(Tag.SENSITIVE) is True:
        raise KmipError(ResultReason.SENSITIVE, f"the private key {uid} is Sensitive: it leaves only wrapped")
    return key


def container(context: RequestContext, record: ObjectRecord, material: Structure) -> PrivateKey:
    """The private key, or a certificate with its private key, as a PKCS#12 container."""
    block: KeyBlock | None
    owners: tuple[ObjectRecord, ...]  # whose password and friendly name apply, first found
    if record.object_type is ObjectType.CERTIFICATE:
        key_record = _key_of_certificate(context, record)
        block = getattr(hooks.plain_material(key_record, require_material(key_record)), "key_block", None)
        if block is not None and block.key_wrapping_data is not None:
            raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{key_record.uid} is stored wrapped")
        owners = (record, key_record)
        chain = _chain_from(context, record.uid)
    else:
        block = getattr(material, "key_block", None)
        if record.object_type is not ObjectType.PRIVATE_KEY:
            raise KmipError(
                ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
                f"PKCS#12 is given for private keys and certificates, not for a {record.object_type.name}",
            )
        owners = (record,)
        chain = chain_of(context, record)
    if not isinstance(block, KeyBlock):
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{owners[-1].uid} holds no key value")
    key = formats.load_key(block, True)
    with_link = next((o for o in owners if linked(o.attributes, LinkType.PKCS_12_PASSWORD_LINK)), owners[-1])
    password = password_of(context, with_link.attributes, with_link.uid)
    names = [o.attributes.get(Tag.PKCS_12_FRIENDLY_NAME) for o in owners]
    name = next((n for n in names if n is not None), DEFAULT_FRIENDLY_NAME)
    try:
        der = pkcs12.serialize_key_and_certificates(
            name.encode(),
            key,  # type: ignore[arg-type]
            chain[0] if chain else None,
            chain[1:] or None,
            BestAvailableEncryption(password),
        )
    except TypeError:  # X25519/X448 keys have no PKCS#12 form in pyca
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"an {formats.kind_of(key).name} key has no PKCS#12 form",
        ) from None
    return PrivateKey(
        key_block=KeyBlock(key_format_type=KeyFormatType.PKCS_12, key_value=KeyValue(key_material=der))
    )


def answered_as(record: ObjectRecord, value: Structure) -> ObjectType:
    """The Object Type a Get or Export answers: a PKCS#12 container is a Private Key, a certificate's too."""
    return ObjectType.PRIVATE_KEY if is_container(value) else record.object_type


def is_container(material: Structure) -> TypeGuard[PrivateKey]:
    block = getattr(material, "key_block", None)
    return (
        isinstance(material, PrivateKey) and getattr(block, "key_format_type", None) is KeyFormatType.PKCS_12
    )


def opened(
    context: RequestContext, material: PrivateKey, requested: Attributes
) -> tuple[PrivateKey, list[Certificate]]:
    """Register of a PKCS#12 private key: the key (kept as PKCS#8) and its certificates, leaf first.

    The password is the one the request's PKCS#12 Password Link names (checked as Get
    checks it, first, as TC-PKCS12-2-20 expects); a container it does not open is Bad
    Password. The friendly name the request gives is recorded, else the certificate's.
    """
    password = password_of(context, requested, "the private key registered")
    block = material.key_block
    data = (
        block.key_value.key_material if block is not None and isinstance(block.key_value, KeyValue) else None
    )
    if not isinstance(data, bytes):
        raise KmipError(ResultReason.INVALID_FIELD, "a PKCS#12 key block holds the container's bytes")
    try:
        container = pkcs12.load_pkcs12(data, password)
    except ValueError:
        raise KmipError(ResultReason.BAD_PASSWORD, "the PKCS#12 does not open with its password") from None
    if container.key is None:
        raise KmipError(ResultReason.INVALID_FIELD, "the PKCS#12 holds no private key")
    der = container.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    held = [container.cert, *container.additional_certs] if container.cert else []
    if requested.get(Tag.PKCS_12_FRIENDLY_NAME) is None and container.cert and container.cert.friendly_name:
        requested.add(Tag.PKCS_12_FRIENDLY_NAME, container.cert.friendly_name.decode(errors="replace"))
    key = PrivateKey(
        key_block=KeyBlock(key_format_type=KeyFormatType.PKCS_8, key_value=KeyValue(key_material=der))
    )
    return key, [
        Certificate(
            certificate_type=CertificateType.X_509, certificate_value=c.certificate.public_bytes(Encoding.DER)
        )
        for c in held
    ]


def register_chain(context: RequestContext, key: ObjectRecord, chain: list[Certificate]) -> None:
    """The container's certificates as new objects, linked as Get follows them (key -> leaf -> issuer ...).

    The key's link is added to its record before it is stored; each certificate's is saved.
    """
    previous = key
    name = key.attributes.get(Tag.PKCS_12_FRIENDLY_NAME)
    for certificate in chain:
        attributes = certificates.certificate_attributes(certificate)
        if name is not None:
            attributes.add(Tag.PKCS_12_FRIENDLY_NAME, name)
        record = new_record(context, ObjectType.CERTIFICATE, certificate, attributes)
        context.session.insert(record)
        previous.attributes.add(
            Tag.LINK, Link(link_type=LinkType.PKCS_12_CERTIFICATE_LINK, linked_object_identifier=record.uid)
        )
        if previous is not key:
            context.session.save(previous)
        previous = record
