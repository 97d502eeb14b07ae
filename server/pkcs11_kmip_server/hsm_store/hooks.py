"""What operations ask of the HSM key store: whether it generates a new key, a key's value,
and the wrapping of a Sensitive key that stays in the token.

Every function answers as the database store would when the server keeps key
material in the database (`[store] keys = "database"`), so the operations call them
unconditionally.
"""

from __future__ import annotations

from collections.abc import Iterable
from copy import deepcopy
from dataclasses import replace

from cryptography.hazmat.primitives.asymmetric import rsa

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    KeyFormatType,
    ObjectType,
    RecommendedCurve,
    ResultReason,
)
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.hsm_provider import KEY_WRAP, _cipher_call, key_wrap_mechanism
from pkcs11_kmip_server.crypto.mechanisms import CipherSpec
from pkcs11_kmip_server.crypto.software import check_key_wrap_length
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store.store import HsmSession, read_plain, with_block
from pkcs11_kmip_server.hsm_store.token import current, holds, reference_of
from pkcs11_kmip_server.native.objects import CURVE_PARAMS
from pkcs11_kmip_server.objects import key_block_of, require_material
from pkcs11_kmip_server.store import ObjectRecord

# RSA mechanisms C_WrapKey wraps a secret key with, by a public key.
RSA_WRAP = frozenset({"RSA-OAEP", "RSA-PKCS1-v1_5"})


def generator(
    context: RequestContext,
    object_type: ObjectType,
    algorithm: CryptographicAlgorithm | None,
    length: int | None,
    key_format: KeyFormatType | None = None,
    parameters: Iterable[object] = (),
) -> HsmSession | None:
    """The session that generates this new key inside the token, or None (the server makes it).

    A symmetric key asked for in a format other than Raw is made by the server and
    imported (the token gives Raw values only); one whose Cryptographic Parameters name a
    mode the token lacks (XTS) is made by the server and kept in the database (`holds`).
    """
    session = context.session
    if not isinstance(session, HsmSession) or not holds(object_type, algorithm, length, parameters):
        return None
    if object_type is ObjectType.SYMMETRIC_KEY and key_format not in (None, KeyFormatType.RAW):
        return None
    return session


def pair_supported(kind: formats.KeyKind, curve: RecommendedCurve | None) -> bool:
    """Whether the token makes key pairs of this kind: RSA, and EC on P-256, P-384, P-521."""
    return kind is formats.RSA or (kind is formats.EC and curve in CURVE_PARAMS)


def plain_material(record: ObjectRecord, material: Structure) -> Structure:
    """The object's value, read out of the token if it is there, in its Key Format Type.

    The token refuses the value of a sensitive or unextractable key (Sensitive, Not
    Extractable): callers check the KMIP flags first, as they do for any store.
    """
    if reference_of(record) is None:
        return material
    return read_plain(current(), record, material)


def sized_material(record: ObjectRecord, material: Structure) -> Structure:
    """The object as KMIP Get gives it unwrapped, for C_GetObjectSize to count: read out of
    the token where its flags let it be (Extractable, not Sensitive); a symmetric key the
    token keeps to itself with as many zero bytes as its value has (Cryptographic Length:
    the token holds AES and HMAC keys only); any other object as the store keeps it."""
    if reference_of(record) is None:
        return material
    flags = record.attributes
    if not flags.get(Tag.SENSITIVE) and flags.get(Tag.EXTRACTABLE) is not False:
        return read_plain(current(), record, material)
    bits = flags.get(Tag.CRYPTOGRAPHIC_LENGTH)
    block = key_block_of(material)
    if record.object_type is not ObjectType.SYMMETRIC_KEY or block is None or not isinstance(bits, int):
        return material
    stand_in = replace(
        block, key_format_type=KeyFormatType.RAW, key_value=KeyValue(key_material=bytes(bits // 8))
    )
    return with_block(material, stand_in)


def public_key_in_token(record: ObjectRecord) -> formats.AnyKey | None:
    """The public part of a private key the token holds, read there (RSA; None for an EC key,
    and for a key whose material is in the database: it is read from that)."""
    if record.object_type is not ObjectType.PRIVATE_KEY or reference_of(record) is None:
        return None
    return current().public_key(record)


def copied_material(context: RequestContext, source: ObjectRecord, copy: ObjectRecord) -> Structure:
    """The material of `copy`, a new object with the key of `source` (C_CopyObject): the
    database's material duplicated, or the token's key copied inside the token (which the
    transaction undoes if it rolls back). The value never leaves the server or the HSM."""
    material = require_material(source)
    if reference_of(source) is None:
        return deepcopy(material)
    session = context.session
    if not isinstance(session, HsmSession):
        current()  # General Failure: no token open here
        raise KmipError(ResultReason.GENERAL_FAILURE, "the HSM key store is not this session's store")
    return session.copy_key(source, copy)


def sealed_in_token(record: ObjectRecord) -> bool:
    """Whether the record's key is a Sensitive key the token holds: the token never gives its
    value (CKA_SENSITIVE), so it leaves only wrapped inside the token (`wrap_in_token`)."""
    return reference_of(record) is not None and record.attributes.get(Tag.SENSITIVE) is True


def wrap_in_token(wrapping_key: ObjectRecord, record: ObjectRecord, spec: CipherSpec) -> bytes:
    """The key of `record` (in the token) wrapped by `wrapping_key` with C_WrapKey.

    AES-KW and AES-KWP with a wrapping key in the token, where the token gives the RFC's
    bytes for the key's length (`key_wrap_mechanism`; else Feature Not Supported); RSA-OAEP
    and PKCS#1 v1.5 with a public key (not secret: the database keeps it, the token takes
    it for the call), for a secret key, with the OAEP hashes the module takes (SoftHSM2:
    SHA-1). Other mechanisms are Feature Not Supported. A symmetric wrapping key whose material is in
    the database cannot be used without the key's plaintext leaving the token: Sensitive,
    as for a Get asking for it unwrapped.
    """
    name = spec.mechanism.name
    if name in RSA_WRAP and wrapping_key.object_type is ObjectType.PUBLIC_KEY:
        mechanism, parameter = _cipher_call(spec, encrypt=True)
        block = getattr(require_material(wrapping_key), "key_block", None)
        public = formats.load_key(block, private=False) if isinstance(block, KeyBlock) else None
        if not isinstance(public, rsa.RSAPublicKey):
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"{wrapping_key.uid} is not an RSA public key")
        return current().wrap_key(public, record, mechanism, parameter)
    if name not in KEY_WRAP:
        names = ", ".join([*sorted(KEY_WRAP), *sorted(RSA_WRAP)])
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED,
            f"the HSM wraps a Sensitive key it holds with {names}, not {name}",
        )
    if reference_of(wrapping_key) is None:
        raise KmipError(
            ResultReason.SENSITIVE,
            f"{record.uid} is a Sensitive key in the HSM: it is wrapped only by a wrapping key "
            f"in the HSM, and {wrapping_key.uid} is not",
        )
    length = _value_length(record)
    if length is not None:
        check_key_wrap_length(name, True, length)
    padded_or_not = key_wrap_mechanism(name, length, encrypt=True)
    if padded_or_not is None:
        size = f"{length} bytes" if length is not None else "a length known only to the HSM"
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED,
            f"the HSM cannot wrap {record.uid}, a Sensitive key it holds ({size}), with {name} as "
            f"RFC {'5649' if name == 'AES-KWP' else '3394'} says",
        )
    return current().wrap_key(wrapping_key, record, padded_or_not)


def _value_length(record: ObjectRecord) -> int | None:
    """The bytes of a symmetric key's value (its Cryptographic Length); None for a private key,
    whose PKCS#8 the token builds."""
    bits = record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    if record.object_type is not ObjectType.SYMMETRIC_KEY or not isinstance(bits, int):
        return None
    return (bits + 7) // 8
