"""Register: store an object the client made (keys, certificates, secret data, opaque data).

A wrapped key is unwrapped first, with the Unwrap Key key its Key Wrapping Data names
(`key_wrapping`), and stored in the clear; a wrapping that does not unwrap is
Cryptographic Failure. Keys are read before they are stored: malformed material, or
material that is not what its Key Format Type and Cryptographic Algorithm say, is
Invalid Field. What the server can read out of the object (a key's algorithm, length
and curve; a certificate's subject, issuer, serial number ...) it records as
attributes; where the client also gave one of them, the two must agree. A private key
in PKCS#12 is stored as PKCS#8 and its certificates as objects of their own (`pkcs12`).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from pkcs11_kmip.kmip.messages import Attributes, Structure
from pkcs11_kmip.kmip.messages.objects import (
    OBJECT_CLASSES,
    Certificate,
    KeyBlock,
    PrivateKey,
    PublicKey,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import RegisterRequest, RegisterResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicDomainParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    KeyFormatType,
    ObjectType,
    Operation,
    ResultReason,
)
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server import certificates, formats, keys, pkcs12, policy
from pkcs11_kmip_server.attribute_edits import check_unique_names
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_wrapping import REGISTERED_WRAPPING, unwrap_registered
from pkcs11_kmip_server.objects import key_block_of, new_record, requested_attributes
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord


@handles(Operation.REGISTER)
def register(context: RequestContext, request: RegisterRequest) -> RegisterResponse:
    object_type, given_object = checked_object(request.object_type, request.object)
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    requested = policy.with_defaults(context, object_type, requested, registered=True)
    check_unique_names(context, requested)
    unwrapped, registered_wrapping = unwrap_registered(context, given_object)
    chain: list[Certificate] = []
    if pkcs12.is_container(unwrapped):  # the key and its certificates out of the PKCS#12
        unwrapped, chain = pkcs12.opened(context, unwrapped, requested)
    material, derived = read_object(unwrapped, requested)
    requested = settle(requested, derived)
    block = key_block_of(material)
    if block is not None:
        wanted = requested.get(Tag.KEY_FORMAT_TYPE)
        if wanted is not None and wanted is not block.key_format_type:
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"Key Format Type {wanted.name} is not that of the key registered",
            )
        requested.remove(Tag.KEY_FORMAT_TYPE)  # the server records the key block's own
    record = new_record(context, object_type, material, requested)
    if registered_wrapping is not None:
        record.attributes.add(REGISTERED_WRAPPING, registered_wrapping)
    pkcs12.register_chain(context, record, chain)  # before the key is stored: it links them
    context.session.insert(record)
    context.id_placeholder = record.uid
    return RegisterResponse(unique_identifier=record.uid)


def checked_object(
    object_type: ObjectType | None, given_object: Structure | None
) -> tuple[ObjectType, Structure]:
    """The Object Type and the object a Register or Import carries, if they agree (else Invalid Field)."""
    expected = OBJECT_CLASSES.get(object_type) if object_type is not None else None
    if object_type is None or given_object is None or expected is None or type(given_object) is not expected:
        given = type(given_object).__name__
        kind = object_type.name if object_type is not None else "?"
        raise KmipError(
            ResultReason.INVALID_FIELD, f"Object Type {kind} does not match the {given} registered"
        )
    return object_type, given_object


# Formats the server keeps without reading them: opaque by definition, or DSA/DH keys it does not implement.
UNREAD_FORMATS = frozenset(
    {
        KeyFormatType.OPAQUE,
        KeyFormatType.TRANSPARENT_DSA_PRIVATE_KEY,
        KeyFormatType.TRANSPARENT_DSA_PUBLIC_KEY,
        KeyFormatType.TRANSPARENT_DH_PRIVATE_KEY,
        KeyFormatType.TRANSPARENT_DH_PUBLIC_KEY,
    }
)


def read_object(material: Structure, requested: Attributes) -> tuple[Structure, Attributes]:
    """The object to store (its key block completed) and the attributes read out of it."""
    if isinstance(material, Certificate):
        return material, certificates.certificate_attributes(material)
    block = key_block_of(material)
    if block is None or block.key_format_type in UNREAD_FORMATS or not formats.readable(block):
        return material, Attributes()
    if block.key_format_type is KeyFormatType.PKCS_12:
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "PKCS#12 containers are not registered")
    if block.cryptographic_algorithm is None:
        block = dataclasses.replace(block, cryptographic_algorithm=requested.get(Tag.CRYPTOGRAPHIC_ALGORITHM))
    derived = Attributes()
    if isinstance(material, PrivateKey | PublicKey):
        block = _checked_key(block, isinstance(material, PrivateKey), requested, derived)
    elif isinstance(material, SymmetricKey):
        block = _checked_symmetric(block)
    else:
        return material, derived
    stored = copy.copy(material)
    stored.key_block = block
    for tag, value in (
        (Tag.CRYPTOGRAPHIC_ALGORITHM, block.cryptographic_algorithm),
        (Tag.CRYPTOGRAPHIC_LENGTH, block.cryptographic_length),
    ):
        if value is not None:
            derived.add(tag, value)
    return stored, derived


def _checked_key(block: KeyBlock, private: bool, requested: Attributes, derived: Attributes) -> KeyBlock:
    """The key block with its algorithm and length filled in from the key (Invalid Field if they differ)."""
    key = formats.load_key(block, private)
    length = formats.length_of(key)
    if block.cryptographic_length not in (None, length):
        raise KmipError(
            ResultReason.INVALID_FIELD, f"the key is {length} bits, not {block.cryptographic_length}"
        )
    curve = formats.curve_of(key)
    domain = requested.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
    if curve is None and getattr(domain, "recommended_curve", None) is not None:
        raise KmipError(ResultReason.INVALID_FIELD, "a Recommended Curve is given for a key on no curve")
    if curve is not None:
        derived.add(
            Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS, CryptographicDomainParameters(recommended_curve=curve)
        )
    return dataclasses.replace(
        block,
        cryptographic_algorithm=block.cryptographic_algorithm or formats.kind_of(key).algorithms[0],
        cryptographic_length=length,
    )


def _checked_symmetric(block: KeyBlock) -> KeyBlock:
    """A symmetric key's bytes checked against its algorithm's sizes (DES keys count parity bits apart)."""
    key = formats.symmetric_key_bytes(block)
    algorithm, bits = block.cryptographic_algorithm, 8 * len(key)
    allowed = keys.SYMMETRIC_LENGTHS.get(algorithm) if algorithm is not None else None
    length = block.cryptographic_length
    wrong_size = (allowed is not None and bits not in allowed) or length not in (None, bits)
    if wrong_size and algorithm not in (CryptographicAlgorithm.DES, CryptographicAlgorithm.DES3):
        name = f"an {algorithm.name}" if algorithm is not None else "a"
        raise KmipError(ResultReason.INVALID_FIELD, f"{bits} bits of key material do not make {name} key")
    return dataclasses.replace(block, cryptographic_length=block.cryptographic_length or bits)


def _agrees(tag: int, given: Any, found: Any) -> bool:
    """Whether a value the client gave says the same as the one read from the object."""
    if tag == Tag.CRYPTOGRAPHIC_ALGORITHM:
        return bool(
            given == found or any(given in k.algorithms and found in k.algorithms for k in formats.KINDS)
        )
    if tag == Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS:
        return bool(given.recommended_curve in (None, found.recommended_curve))
    return bool(given == found)


def settle(requested: Attributes, derived: Attributes) -> Attributes:
    """The client's attributes with those read from the object: where both name one, they must agree.

    An agreeing single value the client gave stays (it may say more: ECDSA rather than EC).
    """
    settled = Attributes(entries=list(requested.entries))
    for tag in dict.fromkeys(entry.tag for entry in derived):
        found = derived.get_all(tag)
        given = requested.get_all(tag)
        for value in given:
            if not any(_agrees(tag, value, candidate) for candidate in found):
                name = rules.name_of(next(entry for entry in requested if entry.tag == tag))
                raise KmipError(ResultReason.INVALID_FIELD, f"{name} does not match the object registered")
        if given and len(found) == 1:
            continue
        settled.remove(tag)
        for value in found:
            settled.add(tag, value)
    return settled


def record_made(
    context: RequestContext, object_type: ObjectType, made: Structure, requested: Attributes
) -> ObjectRecord:
    """An object the server made (Derive Key, Join Split Key), checked and recorded as a registered one.

    A Key Format Type in `requested` is the one to keep it in (KMIP 2.1 §4.26), or refused.
    """
    material, read = read_object(made, requested)
    requested = settle(requested, read)
    wanted = requested.get(Tag.KEY_FORMAT_TYPE)
    requested.remove(Tag.KEY_FORMAT_TYPE)
    if wanted is not None:
        material = formats.convert_material(material, wanted, None)
    return new_record(context, object_type, material, requested)
