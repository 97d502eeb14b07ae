"""Derive Key: a new Symmetric Key or Secret Data derived from managed objects (KMIP 2.1 §6.1.14).

Every source must allow Derive Key and be usable now (`key_use`: Active, the caller's);
the methods and what each needs of the Derivation Parameters are the table in
`crypto.derivation`, and the provider does the work. The new object is made as
Register makes one from a client's bytes (its length checked against its algorithm);
each source spends one use (or the derived bytes) of its Usage Limits. The new object
gets a Derivation Base Object link to each source, and each source a Derived Key
link to it, as §6.1.14 says. Faults in the request are Invalid Field (a length not
given, not whole bytes, or more than the method outputs; parameters the method lacks
or does not take), Invalid Object Type (a source the method cannot use),
Unsupported Cryptographic Parameters (a hash no derivation here uses) and Bad
Cryptographic Parameters (CMAC-AES named as SP 800-108 PRF with a key of another
algorithm). The Encrypt
method runs the provider's cipher as Encrypt does (`crypto.mechanisms` checks it).
"""

from __future__ import annotations

import dataclasses

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SecretData, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import DeriveKeyRequest, DeriveKeyResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, DerivationParameters, Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    KeyFormatType,
    LinkType,
    ObjectType,
    Operation,
    ResultReason,
    SecretDataType,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.derivation import (
    DERIVATION_METHODS,
    HASH_NAMES,
    HMAC_KEY_HASHES,
    MAX_ITERATIONS,
    MAX_OUTPUT_BYTES,
    DerivationMethodRow,
    DerivationSpec,
)
from pkcs11_kmip_server.crypto.mechanisms import choose, cipher_spec, effective_parameters
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_use import spend_usage, usable_key
from pkcs11_kmip_server.objects import requested_attributes, touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.register import record_made
from pkcs11_kmip_server.store import ObjectRecord

OT = ObjectType
SECRETS = frozenset({OT.SYMMETRIC_KEY, OT.SECRET_DATA})
KEY_PAIR_HALVES = frozenset({OT.PRIVATE_KEY, OT.PUBLIC_KEY})
# The Cryptographic Algorithm an Asymmetric Key derivation may name.
AGREEMENTS = frozenset({CryptographicAlgorithm.ECDH, CryptographicAlgorithm.EC, None})


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


@handles(Operation.DERIVE_KEY)
def derive_key(context: RequestContext, request: DeriveKeyRequest) -> DeriveKeyResponse:
    object_type = request.object_type
    if object_type not in SECRETS:
        kind = object_type.name if object_type is not None else "none"
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, f"Derive Key makes symmetric keys and secret data, not {kind}"
        )
    row = DERIVATION_METHODS.get(request.derivation_method) if request.derivation_method is not None else None
    if row is None or request.derivation_method is None:
        name = request.derivation_method.name if request.derivation_method is not None else "none"
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Derivation Method {name} is not supported")
    if not request.unique_identifiers:
        raise _invalid("Derive Key needs the Unique Identifier of the object to derive from")
    allowed = SECRETS | KEY_PAIR_HALVES if row.asymmetric else SECRETS
    sources = [
        usable_key(context, uid, CryptographicUsageMask.DERIVE_KEY, allowed)
        for uid in request.unique_identifiers
    ]
    requested = requested_attributes(
        context, attributes=request.attributes, template_attribute=request.template_attribute
    )
    algorithm = requested.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = requested.get(Tag.CRYPTOGRAPHIC_LENGTH)
    if length is None or (algorithm is None and object_type is OT.SYMMETRIC_KEY):
        raise _invalid("a derived key needs its Cryptographic Length (and a symmetric key its Algorithm)")
    if length <= 0 or length % 8 or length > 8 * MAX_OUTPUT_BYTES:
        raise _invalid(f"cannot derive {length} bits: whole bytes, at most {8 * MAX_OUTPUT_BYTES} bits")
    spec = _spec(request, row, sources, length // 8)
    if context.crypto is None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "this server has no cryptographic provider")
    for source in sources:  # a derivation is one use of each source (Usage Limits)
        spend_usage(context, source, spec.length, 1)
    if row.encrypts:
        derived_bytes = _encrypted(context, request, sources[0], spec)
    else:
        derived_bytes = context.crypto.provider.derive(sources, spec)
    record = _new_object(context, object_type, derived_bytes, algorithm, length, requested)
    for source in dict((s.uid, s) for s in sources).values():
        record.attributes.add(
            Tag.LINK,
            Link(link_type=LinkType.DERIVATION_BASE_OBJECT_LINK, linked_object_identifier=source.uid),
        )
        source.attributes.add(
            Tag.LINK, Link(link_type=LinkType.DERIVED_KEY_LINK, linked_object_identifier=record.uid)
        )
        touch(source, context.now)
        context.session.save(source)
    context.session.insert(record)
    context.id_placeholder = record.uid
    return DeriveKeyResponse(unique_identifier=record.uid)


def _new_object(
    context: RequestContext,
    object_type: ObjectType,
    derived: bytes,
    algorithm: CryptographicAlgorithm | None,
    length: int,
    requested: Attributes,
) -> ObjectRecord:
    """The derived object, checked and recorded as Register does with a client's bytes."""
    value = KeyValue(key_material=derived)
    if object_type is OT.SYMMETRIC_KEY:
        block = KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=value,
            cryptographic_algorithm=algorithm,
            cryptographic_length=length,
        )
        made: SymmetricKey | SecretData = SymmetricKey(key_block=block)
    else:
        block = KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=value)
        made = SecretData(secret_data_type=SecretDataType.SEED, key_block=block)
    return record_made(context, object_type, made, requested)


def _hashing(request: DeriveKeyRequest, row: DerivationMethodRow, source: ObjectRecord) -> HashingAlgorithm:
    """The hash: an HMAC key's own for HMAC-based methods, else the one named, else the method's default."""
    parameters = request.derivation_parameters
    named = parameters.cryptographic_parameters if parameters is not None else None
    own = HMAC_KEY_HASHES.get(source.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM))
    hashing = (named.hashing_algorithm if named is not None else None) or row.default_hash
    if own is not None and row.keyed_prf:
        hashing = own  # KMIP 2.1 §7.12: the key's attributes name the PRF
    if hashing is None:
        method = request.derivation_method.name if request.derivation_method else ""
        raise _invalid(f"{method} derivation needs a Hashing Algorithm in its Cryptographic Parameters")
    if hashing not in HASH_NAMES:
        raise KmipError(
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, f"{hashing.name} is not used to derive keys"
        )
    return hashing


def _spec(
    request: DeriveKeyRequest, row: DerivationMethodRow, sources: list[ObjectRecord], length: int
) -> DerivationSpec:
    """The Derivation Parameters checked against what the method takes."""
    assert request.derivation_method is not None
    method = request.derivation_method
    parameters = request.derivation_parameters or DerivationParameters()
    if parameters.initialization_vector and not (row.encrypts or row.takes_iv):
        raise _invalid(f"{method.name} derivation takes no Initialization Vector")
    data = parameters.derivation_data
    if row.asymmetric:
        named = parameters.cryptographic_parameters
        if named is not None and named.cryptographic_algorithm not in AGREEMENTS:
            raise KmipError(
                ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, "Asymmetric Key derivation here is ECDH"
            )
        return DerivationSpec(method, length, peer_public_key=data)
    extra = sources[1:]
    if row.encrypts and extra:
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE, "Encrypt derives with one key, from Derivation Data"
        )
    if len(extra) > 1 or any(source.object_type is not OT.SECRET_DATA for source in extra):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"{method.name} derives from one object, with at most one Secret Data object as its data",
        )
    if extra and data is not None:
        raise _invalid("Derivation Data is given both in the request and as a Secret Data object")
    if row.needs_data and data is None and not extra:
        raise _invalid(f"{method.name} derivation needs Derivation Data")
    if not row.takes_data and (data is not None or extra):
        raise _invalid(f"{method.name} derivation takes no Derivation Data")
    salt, count = parameters.salt, parameters.iteration_count
    if row.needs_salt_and_count:
        if salt is None or count is None:
            raise _invalid(f"{method.name} derivation needs a Salt and an Iteration Count")
        if not 1 <= count <= MAX_ITERATIONS:
            raise _invalid(f"the Iteration Count must be from 1 to {MAX_ITERATIONS}")
    elif count is not None:
        raise _invalid(f"{method.name} derivation takes no Iteration Count")
    if salt is not None and not row.takes_salt:
        raise _invalid(f"{method.name} derivation takes no Salt")
    cmac = row.sp800_108 and _cmac_prf(parameters.cryptographic_parameters, sources[0])
    return DerivationSpec(
        method,
        length,
        hashing=None if row.encrypts or cmac else _hashing(request, row, sources[0]),
        data=data or b"",
        salt=salt or b"",
        iterations=count or 0,
        iv=(parameters.initialization_vector or b"") if row.takes_iv else b"",
        cmac=cmac,
    )


def _cmac_prf(named: CryptographicParameters | None, source: ObjectRecord) -> bool:
    """Whether the parameters make CMAC-AES the SP 800-108 PRF (Block Cipher Mode CMAC or algorithm AES).

    A key of another algorithm cannot key it (Bad Cryptographic Parameters); an
    untyped Secret Data can, if it is an AES key's length (the provider checks).
    """
    if named is None or (
        named.block_cipher_mode is not BlockCipherMode.CMAC
        and named.cryptographic_algorithm is not CryptographicAlgorithm.AES
    ):
        return False
    if named.cryptographic_algorithm not in (None, CryptographicAlgorithm.AES):
        raise KmipError(
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
            f"CMAC is a PRF of AES, not of {named.cryptographic_algorithm.name}",
        )
    algorithm = source.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    if algorithm not in (None, CryptographicAlgorithm.AES):
        raise KmipError(
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
            f"CMAC-AES takes an AES key, not a {algorithm.name} key",
        )
    return True


def _encrypted(
    context: RequestContext, request: DeriveKeyRequest, source: ObjectRecord, spec: DerivationSpec
) -> bytes:
    """The Encrypt method: the Derivation Data encrypted with the source key, truncated."""
    assert context.crypto is not None and request.derivation_parameters is not None
    provider = context.crypto.provider
    algorithm = source.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    parameters = effective_parameters(
        request.derivation_parameters.cryptographic_parameters,
        source.attributes.get(Tag.CRYPTOGRAPHIC_PARAMETERS),
        algorithm,
    )
    mechanism = choose(parameters, algorithm, source.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH))
    if source.object_type is not mechanism.key_object(True):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"{mechanism.name} encrypts with a {mechanism.key_object(True).name}",
        )
    iv = request.derivation_parameters.initialization_vector
    if mechanism.takes_iv and iv is None:
        raise _invalid(f"{mechanism.name} derivation needs its Initialization Vector (a derivation repeats)")
    cipher, _ = cipher_spec(
        mechanism,
        dataclasses.replace(parameters, random_iv=None),
        encrypt=True,
        iv=iv,
        aad=None,
        tag=None,
        random_bytes=provider.random_bytes,
    )
    operation = provider.cipher(source, cipher, True)
    output = operation.update(spec.data)
    output += operation.finish().data
    if spec.length > len(output):
        raise _invalid(
            f"Encrypt outputs {8 * len(output)} bits here, fewer than the {8 * spec.length} asked for"
        )
    return output[: spec.length]
