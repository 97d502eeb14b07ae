"""Join Split Key: Split Key objects combined into the key they share (KMIP 2.1 §6.1.27).

The parts are the caller's Split Keys of one split: the same method, part count,
threshold, Prime Field Size, format, algorithm and length, each Key Part Identifier
once (else Invalid Field; a part that is no Split Key is Invalid Object Type). Fewer
parts than their threshold is Cryptographic Failure, as TC-SJ-1/2/3/4-20 expect. The
key is made as Register makes one (`read_object`, `settle`): a Symmetric Key (Raw),
Secret Data (of the Secret Data Type asked for, else Seed) or a Private Key in the
format its parts record; bytes that are no such key (parts of different splits) are
Cryptographic Failure. It keeps the restrictions of its parts (Sensitive, not
Extractable). The ID Placeholder is the new key's identifier.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages import Attributes, Structure
from pkcs11_kmip.kmip.messages.objects import (
    KeyBlock,
    KeyValue,
    PrivateKey,
    SecretData,
    SplitKey,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import JoinSplitKeyRequest, JoinSplitKeyResponse
from pkcs11_kmip.kmip.messages.structures import UniqueId
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType, ObjectType, Operation, ResultReason, SecretDataType
from pkcs11_kmip_server import split_keys
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.objects import requested_attributes, require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.operations.register import read_object, record_made
from pkcs11_kmip_server.store import ObjectRecord

OT = ObjectType
JOINED = frozenset({OT.SYMMETRIC_KEY, OT.SECRET_DATA, OT.PRIVATE_KEY})


def _failure(message: str) -> KmipError:
    return KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, message)


@handles(Operation.JOIN_SPLIT_KEY)
def join_split_key(context: RequestContext, request: JoinSplitKeyRequest) -> JoinSplitKeyResponse:
    object_type = request.object_type
    if object_type not in JOINED:
        kind = object_type.name if object_type is not None else "none"
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"split keys join into symmetric keys, secret data or private keys, not {kind}",
        )
    if request.secret_data_type is not None and object_type is not OT.SECRET_DATA:
        raise KmipError(
            ResultReason.INVALID_FIELD, "a Secret Data Type is given for a key that is no Secret Data"
        )
    loaded = [_part(context, uid) for uid in dict.fromkeys(request.unique_identifiers)]
    if not loaded:
        raise KmipError(
            ResultReason.INVALID_FIELD, "Join Split Key needs the Unique Identifiers of the parts"
        )
    records = [record for record, _ in loaded]
    first = loaded[0][1]
    shares = _shares([part for _, part in loaded])
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    block = first.key_block
    assert block is not None and first.split_key_method is not None and first.split_key_threshold is not None
    length = block.cryptographic_length or requested.get(Tag.CRYPTOGRAPHIC_LENGTH)
    try:
        secret = split_keys.join(
            first.split_key_method,
            shares,
            first.split_key_threshold,
            length // 8 if length else None,
            first.prime_field_size,
        )
    except split_keys.SplitError as error:
        if error.too_few:
            raise _failure(str(error)) from None
        raise KmipError(ResultReason.INVALID_FIELD, str(error)) from None
    for tag, restrictive in ((Tag.SENSITIVE, True), (Tag.EXTRACTABLE, False)):
        if any(record.attributes.get(tag) is restrictive for record in records):
            requested.remove(tag)
            requested.add(tag, restrictive)
    record = _new_key(context, object_type, request.secret_data_type, block, secret, requested)
    context.session.insert(record)
    context.id_placeholder = record.uid
    return JoinSplitKeyResponse(unique_identifier=record.uid)


def _part(context: RequestContext, uid: UniqueId) -> tuple[ObjectRecord, SplitKey]:
    record = context.load(uid)
    require_online(record)
    material = require_material(record)
    if not isinstance(material, SplitKey) or not isinstance(material.key_block, KeyBlock):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, f"{uid} is a {record.object_type.name}, not a Split Key"
        )
    return record, material


def _shares(parts: list[SplitKey]) -> dict[int, bytes]:
    """The parts' bytes by Key Part Identifier, if the parts are of one split (else Invalid Field)."""

    def split_of(part: SplitKey) -> tuple[object, ...]:
        block = part.key_block
        assert block is not None
        return (
            part.split_key_method,
            part.split_key_parts,
            part.split_key_threshold,
            part.prime_field_size,
            block.key_format_type,
            block.cryptographic_algorithm,
            block.cryptographic_length,
        )

    if len({split_of(part) for part in parts}) != 1:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            "the parts are not of one split: their method, count, threshold, field or key differ",
        )
    first = parts[0]
    assert first.split_key_method is not None and first.split_key_parts is not None
    try:  # parts a client registered: a split this server could have made
        split_keys.check_split(
            first.split_key_method,
            first.split_key_parts,
            first.split_key_threshold or 0,
            first.prime_field_size,
        )
    except split_keys.SplitError as error:
        raise KmipError(ResultReason.INVALID_FIELD, str(error)) from None
    shares: dict[int, bytes] = {}
    for part in parts:
        number = part.key_part_identifier
        if number is not None and not 1 <= number <= first.split_key_parts:
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"Key Part Identifier {number} is not one of the {first.split_key_parts} parts",
            )
        block = part.key_block
        material = (
            block.key_value.key_material
            if block is not None and isinstance(block.key_value, KeyValue)
            else None
        )
        if number is None or not isinstance(material, bytes):
            raise _failure("a part's key is wrapped or has no bytes")
        if number in shares:
            raise KmipError(ResultReason.INVALID_FIELD, f"Key Part Identifier {number} is given twice")
        shares[number] = material
    return shares


def _new_key(
    context: RequestContext,
    object_type: ObjectType,
    secret_data_type: SecretDataType | None,
    part_block: KeyBlock,
    secret: bytes,
    requested: Attributes,
) -> ObjectRecord:
    """The joined key, checked and recorded as Register records a client's key."""
    value = KeyValue(key_material=secret)
    made: Structure
    if object_type is OT.SECRET_DATA:
        block = KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=value)
        made = SecretData(secret_data_type=secret_data_type or SecretDataType.SEED, key_block=block)
    else:
        key_format = KeyFormatType.RAW if object_type is OT.SYMMETRIC_KEY else part_block.key_format_type
        block = KeyBlock(
            key_format_type=key_format,
            key_value=value,
            cryptographic_algorithm=part_block.cryptographic_algorithm,
            cryptographic_length=part_block.cryptographic_length,
        )
        made = (
            SymmetricKey(key_block=block) if object_type is OT.SYMMETRIC_KEY else PrivateKey(key_block=block)
        )
    try:
        read_object(made, requested)  # bytes that are no such key: the parts are not of one key
    except KmipError as error:
        raise _failure(f"the parts do not join into a {object_type.name}: {error.message}") from None
    return record_made(context, object_type, made, requested)
