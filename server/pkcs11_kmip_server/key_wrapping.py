"""Keys leaving wrapped (Get, Export) and arriving wrapped (Register, Import).

KMIP 2.1 §3.3, §7.18. The wrapping key is checked as every key used in an operation
is (`key_use`): it must be the caller's, Active (wrapping protects) or Active,
Deactivated or Compromised (unwrapping processes), and allow Wrap Key or Unwrap Key;
its absence, archival or destruction are the Wrapping Object reasons. Parameters
given in the Encryption Key Information must match one instance of the wrapping key's
Cryptographic Parameters attribute (§7.18), else Bad Cryptographic Parameters; the
mechanism is the one they (or the key's attribute, or `WRAPPING_DEFAULTS`) name, and
must be one of `crypto.wrapping.WRAPPING_MECHANISMS`.

Encoding Option (§3.3): No Encoding wraps the Key Material bytes alone, so it takes
byte-string formats (Raw, PKCS#1, PKCS#8 ...) and no attributes (else Encoding Option
Error); TTLV Encoding, the default, wraps the TTLV encoding of the Key Value structure,
with the attributes the Attribute Names select.

A key registered wrapped is unwrapped here and stored in the clear (the store
encrypts every value at rest). What it was wrapped with stays in the record, without
the wrapped bytes, so that Get with Key Wrap Type As Registered wraps it again the
same way (AES-KW, AES-KWP give the registered bytes back; AES-GCM and RSA give a fresh
wrapping of the same key).

Only the Encrypt wrapping method is implemented; MAC/sign methods are Feature Not
Supported.
"""

from __future__ import annotations

import copy
import dataclasses

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    EncryptionKeyInformation,
    KeyWrappingData,
    KeyWrappingSpecification,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    EncodingOption,
    HashingAlgorithm,
    KeyWrapType,
    MaskGenerator,
    PaddingMethod,
    ResultReason,
    WrappingMethod,
)
from pkcs11_kmip.kmip.ttlv import Item, binary
from pkcs11_kmip.kmip.ttlv.errors import CodecError
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.mechanisms import CipherSpec, choose, cipher_spec, effective_parameters
from pkcs11_kmip_server.crypto.provider import CryptoProvider
from pkcs11_kmip_server.crypto.wrapping import check_wrapping_mechanism, split_tag
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_use import usable_key
from pkcs11_kmip_server.objects import key_block_of
from pkcs11_kmip_server.store import ObjectRecord

# The mechanism a wrapping key with no Cryptographic Parameters (given or as attribute)
# wraps with: AES Key Wrap with Padding wraps keys of any length; RSA-OAEP with SHA-256.
WRAPPING_DEFAULTS: dict[CryptographicAlgorithm, CryptographicParameters] = {
    CryptographicAlgorithm.AES: CryptographicParameters(
        block_cipher_mode=BlockCipherMode.AES_KEY_WRAP_PADDING
    ),
    CryptographicAlgorithm.RSA: CryptographicParameters(
        padding_method=PaddingMethod.OAEP,
        hashing_algorithm=HashingAlgorithm.SHA_256,
        mask_generator=MaskGenerator.MFG1,
        mask_generator_hashing_algorithm=HashingAlgorithm.SHA_256,
    ),
}

# A wrapping key that cannot be used is named as such (KMIP 2.1 Get errors).
_WRAPPING_REASONS = {
    ResultReason.OBJECT_NOT_FOUND: ResultReason.WRAPPING_OBJECT_NOT_FOUND,
    ResultReason.OBJECT_ARCHIVED: ResultReason.WRAPPING_OBJECT_ARCHIVED,
    ResultReason.OBJECT_DESTROYED: ResultReason.WRAPPING_OBJECT_DESTROYED,
}


def _provider(context: RequestContext) -> CryptoProvider:
    if context.crypto is None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "this server has no cryptographic provider")
    return context.crypto.provider


def _wrapping_key(context: RequestContext, uid: str | None, usage: CryptographicUsageMask) -> ObjectRecord:
    try:
        return usable_key(context, uid, usage)
    except KmipError as error:
        reason = _WRAPPING_REASONS.get(error.reason)
        if reason is None:
            raise
        raise KmipError(reason, f"the wrapping key: {error.message}") from None


def _matches(given: CryptographicParameters, instance: object) -> bool:
    """Whether every field the request gives has the same value in the key's instance."""
    return isinstance(instance, CryptographicParameters) and all(
        getattr(instance, f.name) == getattr(given, f.name)
        for f in dataclasses.fields(given)
        if f.name != "other" and getattr(given, f.name) is not None
    )


def _key_information(method: WrappingMethod | None, info: EncryptionKeyInformation | None) -> str:
    if method is not WrappingMethod.ENCRYPT:
        name = method.name if method is not None else "none"
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Wrapping Method {name} is not supported")
    if info is None or info.unique_identifier is None:
        raise KmipError(
            ResultReason.INVALID_FIELD, "the Encrypt wrapping method needs Encryption Key Information"
        )
    if not isinstance(info.unique_identifier, str):
        raise KmipError(ResultReason.INVALID_FIELD, "the wrapping key is named by its Unique Identifier")
    return info.unique_identifier


def _spec(
    provider: CryptoProvider,
    key: ObjectRecord,
    given: CryptographicParameters | None,
    *,
    wrap: bool,
    iv: bytes | None,
    wrapped: bytes = b"",
) -> tuple[CipherSpec, bytes | None, bytes]:
    """The checked spec, the IV made for a wrap (else None), and the ciphertext of an unwrap."""
    instances = key.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS)
    if given is not None and not any(_matches(given, instance) for instance in instances):
        raise KmipError(
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
            "the Cryptographic Parameters match none of the wrapping key's Cryptographic Parameters",
        )
    algorithm = key.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    chosen = given or (instances[0] if instances else None) or WRAPPING_DEFAULTS.get(algorithm)
    parameters = effective_parameters(chosen, None, algorithm)
    mechanism = choose(parameters, algorithm, key.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH))
    check_wrapping_mechanism(mechanism)
    if key.object_type is not mechanism.key_object(wrap):
        raise KmipError(
            ResultReason.INVALID_OBJECT_TYPE,
            f"{mechanism.name} {'wraps' if wrap else 'unwraps'} with a {mechanism.key_object(wrap).name}",
        )
    tag = None
    if wrap and mechanism.takes_iv and iv is None:
        parameters = dataclasses.replace(parameters, random_iv=True)
    elif not wrap:
        wrapped, tag = split_tag(mechanism, parameters.tag_length, wrapped)
    spec, generated = cipher_spec(
        mechanism, parameters, encrypt=wrap, iv=iv, aad=None, tag=tag, random_bytes=provider.random_bytes
    )
    return spec, generated, wrapped


def _plaintext(
    context: RequestContext, record: ObjectRecord, block: KeyBlock, wrapping: KeyWrappingSpecification
) -> bytes:
    """What is wrapped: the Key Material bytes, or the TTLV encoding of the Key Value."""
    value = block.key_value
    if not isinstance(value, KeyValue):
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{record.uid} holds no plain key value to wrap")
    if wrapping.encoding_option is EncodingOption.NO_ENCODING:
        if wrapping.attribute_names:
            raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "No Encoding wraps no attributes")
        if not isinstance(value.key_material, bytes):
            raise KmipError(
                ResultReason.ENCODING_OPTION_ERROR,
                f"a {block.key_format_type.name if block.key_format_type else ''} key is a structure: "
                "wrap it with TTLV Encoding",
            )
        return value.key_material
    selected = forms.select_by_names(record.attributes, wrapping.attribute_names)
    if context.is_1x:
        encoded = KeyValue(
            key_material=value.key_material, attribute_list=forms.to_named_list(selected, context.version)
        )
    else:
        chosen = forms.for_version(selected, context.version)
        encoded = KeyValue(key_material=value.key_material, attributes=chosen if chosen.entries else None)
    return encoded.encode(context.version)


def wrap_object(
    context: RequestContext, record: ObjectRecord, material: Structure, wrapping: KeyWrappingSpecification
) -> Structure:
    """`material` (the object `record` holds, in the format asked for) with its Key Value wrapped."""
    block = key_block_of(material)
    if block is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {record.object_type.name} has no key to wrap")
    if wrapping.mac_signature_key_information is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "MAC/signature wrapping is not supported")
    info = wrapping.encryption_key_information
    uid = _key_information(wrapping.wrapping_method, info)
    assert info is not None
    key = _wrapping_key(context, uid, CryptographicUsageMask.WRAP_KEY)
    if key.uid == record.uid:
        raise KmipError(ResultReason.INVALID_FIELD, "a key does not wrap itself")
    provider = _provider(context)
    spec, iv, _ = _spec(provider, key, info.cryptographic_parameters, wrap=True, iv=None)
    wrapped = provider.wrap(key, spec, _plaintext(context, record, block, wrapping))
    data = KeyWrappingData(
        wrapping_method=wrapping.wrapping_method,
        encryption_key_information=EncryptionKeyInformation(
            unique_identifier=key.uid, cryptographic_parameters=info.cryptographic_parameters
        ),
        iv_counter_nonce=iv,
        encoding_option=wrapping.encoding_option,
    )
    out = copy.copy(material)
    out.key_block = dataclasses.replace(block, key_value=wrapped, key_wrapping_data=data)  # type: ignore[attr-defined]
    return out


def unwrap_block(context: RequestContext, block: KeyBlock) -> KeyBlock:
    """A wrapped key block in the clear (Cryptographic Failure if it does not unwrap)."""
    data = block.key_wrapping_data
    assert data is not None
    if data.mac_signature_key_information is not None or data.mac_signature is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "MAC/signature wrapping is not supported")
    info = data.encryption_key_information
    uid = _key_information(data.wrapping_method, info)
    assert info is not None
    if not isinstance(block.key_value, bytes):
        raise KmipError(ResultReason.INVALID_FIELD, "a wrapped Key Value is a Byte String")
    key = _wrapping_key(context, uid, CryptographicUsageMask.UNWRAP_KEY)
    provider = _provider(context)
    spec, _, ciphertext = _spec(
        provider,
        key,
        info.cryptographic_parameters,
        wrap=False,
        iv=data.iv_counter_nonce,
        wrapped=block.key_value,
    )
    plaintext = provider.unwrap(key, spec, ciphertext)
    if data.encoding_option is EncodingOption.NO_ENCODING:
        value = KeyValue(key_material=plaintext)
    else:
        value = _decoded_key_value(context, plaintext)
    return dataclasses.replace(block, key_value=value, key_wrapping_data=None)


def _decoded_key_value(context: RequestContext, plaintext: bytes) -> KeyValue:
    try:
        item = binary.decode(plaintext)
        if item.tag != Tag.KEY_VALUE:
            raise CodecError("not a Key Value")
        return KeyValue.from_item(item, context.version)
    except (CodecError, ValueError, TypeError):
        raise KmipError(
            ResultReason.ENCODING_OPTION_ERROR, "the unwrapped key is not a TTLV-encoded Key Value"
        ) from None


# Where a record keeps how its key was registered wrapped: the Key Wrapping Specification
# (as a raw item; not an attribute, so no client reads or sets it).
REGISTERED_WRAPPING = Tag.KEY_WRAPPING_SPECIFICATION


def unwrap_registered(context: RequestContext, material: Structure) -> tuple[Structure, Item | None]:
    """A registered object with its key unwrapped, and what to keep of how it was wrapped."""
    block = key_block_of(material)
    if block is None or block.key_wrapping_data is None:
        return material, None
    plain = unwrap_block(context, block)
    data = block.key_wrapping_data
    info = data.encryption_key_information
    assert info is not None
    kept = KeyWrappingSpecification(
        wrapping_method=data.wrapping_method,
        encryption_key_information=EncryptionKeyInformation(
            unique_identifier=context.resolve(info.unique_identifier),
            cryptographic_parameters=info.cryptographic_parameters,
        ),
        encoding_option=data.encoding_option,
    )
    out = copy.copy(material)
    out.key_block = plain  # type: ignore[attr-defined]
    return out, kept.to_item()


def wrapping_for_get(
    record: ObjectRecord, wrap_type: KeyWrapType | None, wrapping: KeyWrappingSpecification | None
) -> KeyWrappingSpecification | None:
    """The wrapping a Get or Export asks for: given, or As Registered, or none (Not Wrapped)."""
    if wrapping is not None or wrap_type is not KeyWrapType.AS_REGISTERED:
        return wrapping
    stored = record.attributes.get(REGISTERED_WRAPPING)
    return KeyWrappingSpecification.from_item(stored) if isinstance(stored, Item) else None
