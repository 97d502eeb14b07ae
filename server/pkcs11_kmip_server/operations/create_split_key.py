"""Create Split Key: a key split into Split Key objects, any Threshold of which rebuild it (KMIP 2.1 §6.1.10).

The key split is the one the request names (it stays, as in TC-SJ-1-20), or a new
symmetric key of the requested algorithm and length that is never stored whole. A
named key is the caller's Symmetric Key (split as Raw bytes), Secret Data (its bytes)
or Private Key (split as PKCS#8); its algorithm and length win over the request's
(§6.1.10) and are recorded in every part's key block, with the format the joined key
takes. The parts keep a Sensitive or non-Extractable key's restrictions, so splitting
does not let it leave. The sharing is `split_keys`; a method, threshold, part count or
Prime Field Size it cannot serve is Invalid Field; more than MAX_PARTS parts, Server Limit
Exceeded. Without a Prime Field Size the server picks one (`split_keys.default_prime`).
Every part is a new object; the ID Placeholder is part 1's identifier.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import (
    KeyBlock,
    KeyValue,
    PrivateKey,
    SplitKey,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import CreateSplitKeyRequest, CreateSplitKeyResponse
from pkcs11_kmip.kmip.messages.structures import UniqueId
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType, ObjectType, Operation, ResultReason
from pkcs11_kmip_server import keys, split_keys
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.formats import convert_key_block, symmetric_key_bytes
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import key_block_of, new_record, requested_attributes, require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.store import ObjectRecord

# Each part is an object: how many one request may make.
MAX_PARTS = 255
# The object types split.
SPLIT = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA, ObjectType.PRIVATE_KEY})
# What a key's restrictive flags are; its parts keep them.
_KEPT_FLAGS = ((Tag.SENSITIVE, True), (Tag.EXTRACTABLE, False))


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


@handles(Operation.CREATE_SPLIT_KEY)
def create_split_key(context: RequestContext, request: CreateSplitKeyRequest) -> CreateSplitKeyResponse:
    if request.object_type is not ObjectType.SPLIT_KEY:
        kind = request.object_type.name if request.object_type is not None else "none"
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"Create Split Key makes Split Keys, not {kind}")
    method, parts, threshold = request.split_key_method, request.split_key_parts, request.split_key_threshold
    assert method is not None and parts is not None and threshold is not None  # required by the codec
    try:
        split_keys.check_split(method, parts, threshold, request.prime_field_size)
    except split_keys.SplitError as error:
        raise _invalid(str(error)) from None
    if parts > MAX_PARTS:
        raise KmipError(ResultReason.SERVER_LIMIT_EXCEEDED, f"one request makes at most {MAX_PARTS} parts")
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    if request.unique_identifier is not None:
        block = _held_key(context, request.unique_identifier, requested)
    else:
        block = _new_key(requested)
    secret = block.key_value.key_material if isinstance(block.key_value, KeyValue) else None
    assert isinstance(secret, bytes)
    prime = request.prime_field_size
    try:
        if method is split_keys.PRIME and prime is None:
            prime = split_keys.default_prime(8 * len(secret))
        shares = split_keys.split(method, secret, parts, threshold, prime, keys.random_bytes)
    except split_keys.SplitError as error:
        raise _invalid(str(error)) from None
    uids: list[str] = []
    for number, share in enumerate(shares, start=1):
        part = SplitKey(
            split_key_parts=parts,
            key_part_identifier=number,
            split_key_threshold=threshold,
            split_key_method=method,
            prime_field_size=prime,
            key_block=KeyBlock(
                key_format_type=block.key_format_type,
                key_value=KeyValue(key_material=share),
                cryptographic_algorithm=block.cryptographic_algorithm,
                cryptographic_length=block.cryptographic_length,
            ),
        )
        record = new_record(
            context, ObjectType.SPLIT_KEY, part, Attributes(entries=list(requested.entries)), generated=True
        )
        context.session.insert(record)
        uids.append(record.uid)
    context.id_placeholder = uids[0]
    return CreateSplitKeyResponse(unique_identifiers=[*uids])


def _held_key(context: RequestContext, uid: UniqueId, requested: Attributes) -> KeyBlock:
    """The named key's bytes in the format its parts record; its own attributes replace the request's."""
    record: ObjectRecord = context.load(uid)
    require_online(record)
    refresh_state(record.attributes, context.now)
    material = hooks.plain_material(record, require_material(record))  # the HSM store's token gives it
    block = key_block_of(material)
    if block is None or record.object_type not in SPLIT:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"a {record.object_type.name} is not split: symmetric keys, secret data and private keys are",
        )
    if isinstance(material, PrivateKey):
        block = convert_key_block(block, KeyFormatType.PKCS_8, True)
    elif isinstance(material, SymmetricKey):
        block = KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=symmetric_key_bytes(block)),
            cryptographic_algorithm=block.cryptographic_algorithm,
            cryptographic_length=block.cryptographic_length,
        )
    elif not isinstance(block.key_value, KeyValue) or not isinstance(block.key_value.key_material, bytes):
        raise KmipError(ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED, "the secret data is not held as bytes")
    for tag in (Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.CRYPTOGRAPHIC_LENGTH):
        requested.remove(tag)  # new_record takes them from the parts' key blocks
    for tag, restrictive in _KEPT_FLAGS:
        if record.attributes.get(tag) is restrictive:
            requested.remove(tag)
            requested.add(tag, restrictive)
    return block


def _new_key(requested: Attributes) -> KeyBlock:
    """A new symmetric key of the requested algorithm and length, to be split and not kept."""
    algorithm = requested.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = requested.get(Tag.CRYPTOGRAPHIC_LENGTH)
    if algorithm is None or length is None:
        raise _invalid(
            "without a key to split, the request needs the Cryptographic Algorithm and Length of one"
        )
    requested.remove(Tag.CRYPTOGRAPHIC_ALGORITHM)
    requested.remove(Tag.CRYPTOGRAPHIC_LENGTH)
    return KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=keys.symmetric_key(algorithm, length)),
        cryptographic_algorithm=algorithm,
        cryptographic_length=length,
    )
