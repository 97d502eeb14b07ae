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
with the attributes the Attribute Names select. Wrapping spends the wrapping key's Usage
Limits as an Encrypt of the wrapped bytes does.

A key registered wrapped is unwrapped here and stored in the clear (the store
encrypts every value at rest). What it was wrapped with stays in the record, without
the wrapped bytes, so that Get with Key Wrap Type As Registered wraps it again the
same way (AES-KW, AES-KWP give the registered bytes back; AES-GCM and RSA give a fresh
wrapping of the same key).

Wrapping Methods (§11.60): Encrypt; MAC/sign (the Key Value stays in the clear, its
MAC or signature in the Key Wrapping Data); Encrypt then MAC/sign (over the wrapped
bytes); MAC/sign then Encrypt (over the plaintext). The MAC/Signature key is an HMAC
or CMAC key (MAC Generate to wrap, MAC Verify to unwrap; cut to the Tag Length of its
Cryptographic Parameters as MAC cuts it, `operations.mac.begin_mac`), or a private key
that signs (Sign) and whose linked public key verifies (Verify), through
`crypto.signatures`. A MAC or signature that does not verify is Cryptographic Failure;
one of another length than the Tag Length is Invalid Field. TR-31 is Feature Not
Supported.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    EncryptionKeyInformation,
    KeyWrappingData,
    KeyWrappingSpecification,
    Link,
    MACSignatureKeyInformation,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    EncodingOption,
    HashingAlgorithm,
    KeyFormatType,
    KeyWrapType,
    LinkType,
    MaskGenerator,
    ObjectType,
    PaddingMethod,
    ResultReason,
    WrappingMethod,
)
from pkcs11_kmip.kmip.ttlv import Item, binary
from pkcs11_kmip.kmip.ttlv.errors import CodecError
from pkcs11_kmip_server import attributes as forms
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.mechanisms import CipherSpec, choose, cipher_spec, effective_parameters
from pkcs11_kmip_server.crypto.provider import CryptoProvider, DigestOperation
from pkcs11_kmip_server.crypto.signatures import applicable, signature_spec
from pkcs11_kmip_server.crypto.wrapping import check_wrapping_mechanism, split_tag
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.key_use import KEYS, spend_usage, usable_key
from pkcs11_kmip_server.objects import key_block_of
from pkcs11_kmip_server.operations.mac import begin_mac
from pkcs11_kmip_server.store import ObjectRecord

U = CryptographicUsageMask

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


def _wrapping_key(
    context: RequestContext,
    uid: str | None,
    usage: CryptographicUsageMask,
    object_types: frozenset[ObjectType] = KEYS,
) -> ObjectRecord:
    """The key a wrapping names, usable so now (its absence, archival, destruction: Wrapping Object ...)."""
    try:
        return usable_key(context, uid, usage, object_types)
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


def _check_parameters(key: ObjectRecord, given: CryptographicParameters | None) -> None:
    """§7.18: parameters given must match one of the key's Cryptographic Parameters."""
    instances = key.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS)
    if given is not None and not any(_matches(given, instance) for instance in instances):
        raise KmipError(
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS,
            "the Cryptographic Parameters match none of the wrapping key's Cryptographic Parameters",
        )


# What each Wrapping Method does: (encrypts, authenticates). MAC/sign-then-encrypt MACs or
# signs the plaintext; encrypt-then-MAC/sign the wrapped bytes; MAC/sign alone leaves the
# Key Value in the clear and MACs or signs it (KMIP 2.1 §3.3, §11.60).
WRAPPING_METHODS: dict[WrappingMethod, tuple[bool, bool]] = {
    WrappingMethod.ENCRYPT: (True, False),
    WrappingMethod.MAC_SIGN: (False, True),
    WrappingMethod.ENCRYPT_THEN_MAC_SIGN: (True, True),
    WrappingMethod.MAC_SIGN_THEN_ENCRYPT: (True, True),
}
MAC_KEYS = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA})


def _roles(
    method: WrappingMethod | None,
    encryption: EncryptionKeyInformation | None,
    authentication: MACSignatureKeyInformation | None,
) -> tuple[EncryptionKeyInformation | None, MACSignatureKeyInformation | None]:
    """The key information the method uses (each required if used, refused if not)."""
    row = WRAPPING_METHODS.get(method) if method is not None else None
    if method is None or row is None:
        name = method.name if method is not None else "none"
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"Wrapping Method {name} is not supported")
    for used, info, what in (
        (row[0], encryption, "Encryption Key Information"),
        (row[1], authentication, "MAC/Signature Key Information"),
    ):
        if used and (info is None or not isinstance(info.unique_identifier, str)):
            raise KmipError(ResultReason.INVALID_FIELD, f"{method.name} wrapping needs {what} naming its key")
        if not used and info is not None:
            raise KmipError(ResultReason.INVALID_FIELD, f"{method.name} wrapping takes no {what}")
    return (encryption if row[0] else None, authentication if row[1] else None)


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
    _check_parameters(key, given)
    instances = key.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS)
    algorithm = key.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    # An empty first instance names no mechanism (the native token puts one first so that
    # requests without parameters keep the defaults): the wrapping default applies, as
    # for a key without any.
    first = instances[0] if instances and instances[0] != CryptographicParameters() else None
    chosen = given or first or WRAPPING_DEFAULTS.get(algorithm)
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


def _public_half(context: RequestContext, private: ObjectRecord) -> str:
    """A signature is verified with the public key linked to the private key named."""
    for link in private.attributes.get_all(Tag.LINK):
        if isinstance(link, Link) and link.link_type is LinkType.PUBLIC_KEY_LINK:
            return context.resolve(link.linked_object_identifier)
    raise KmipError(
        ResultReason.INVALID_FIELD, f"the private key {private.uid} has no public key to verify with"
    )


def _authenticator(
    context: RequestContext, info: MACSignatureKeyInformation, generate: bool
) -> tuple[ObjectRecord, DigestOperation]:
    """The MAC key or signing key the information names, and its operation begun."""
    uid = info.unique_identifier
    assert isinstance(uid, str)
    try:
        kind = context.load(uid)
    except KmipError as error:
        raise KmipError(_WRAPPING_REASONS.get(error.reason, error.reason), error.message) from None
    if kind.object_type in MAC_KEYS:
        usage, types = (U.MAC_GENERATE if generate else U.MAC_VERIFY), MAC_KEYS
    elif generate:
        usage, types = U.SIGN, frozenset({ObjectType.PRIVATE_KEY})
    else:
        if kind.object_type is ObjectType.PRIVATE_KEY:
            uid = _public_half(context, kind)
        usage, types = U.VERIFY, frozenset({ObjectType.PUBLIC_KEY})
    key = _wrapping_key(context, uid, usage, types)
    _check_parameters(key, info.cryptographic_parameters)
    parameters = applicable(info.cryptographic_parameters, key.attributes.get(Tag.CRYPTOGRAPHIC_PARAMETERS))
    algorithm = key.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    provider = _provider(context)
    if key.object_type in MAC_KEYS:  # as MAC does: truncated to a Tag Length, if one is given
        return key, begin_mac(context)(key, parameters)
    length = key.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    return key, provider.sign(key, signature_spec(parameters, algorithm, length, False), verify=not generate)


def _authenticate(
    context: RequestContext, info: MACSignatureKeyInformation, data: bytes
) -> tuple[MACSignatureKeyInformation, bytes]:
    key, operation = _authenticator(context, info, generate=True)
    operation.update(data)
    return MACSignatureKeyInformation(
        unique_identifier=key.uid, cryptographic_parameters=info.cryptographic_parameters
    ), operation.finish()


def _verify(context: RequestContext, info: MACSignatureKeyInformation, data: bytes, expected: bytes) -> None:
    _, operation = _authenticator(context, info, generate=False)
    operation.update(data)
    if not operation.verify(expected):
        raise KmipError(
            ResultReason.CRYPTOGRAPHIC_FAILURE, "the MAC/Signature does not verify the wrapped key"
        )


def _encoded(context: RequestContext, value: KeyValue, encoding: EncodingOption | None) -> bytes:
    """What a wrapping covers: the Key Material bytes (No Encoding), or the Key Value's TTLV encoding."""
    if encoding is not EncodingOption.NO_ENCODING:
        return value.encode(context.version)
    if value.attribute_list or value.attributes is not None:
        raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "No Encoding wraps no attributes")
    if not isinstance(value.key_material, bytes):
        raise KmipError(
            ResultReason.ENCODING_OPTION_ERROR, "the key material is a structure: wrap it with TTLV Encoding"
        )
    return value.key_material


def _value_to_wrap(
    context: RequestContext, record: ObjectRecord, block: KeyBlock, wrapping: KeyWrappingSpecification
) -> KeyValue:
    """The Key Value to wrap: the key's, with the attributes the Attribute Names select."""
    value = block.key_value
    if not isinstance(value, KeyValue):
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{record.uid} holds no plain key value to wrap")
    if not wrapping.attribute_names:
        return KeyValue(key_material=value.key_material)
    if wrapping.encoding_option is EncodingOption.NO_ENCODING:
        raise KmipError(ResultReason.ENCODING_OPTION_ERROR, "No Encoding wraps no attributes")
    selected = forms.select_by_names(record.attributes, wrapping.attribute_names)
    if context.is_1x:
        return KeyValue(
            key_material=value.key_material, attribute_list=forms.to_named_list(selected, context.version)
        )
    chosen = forms.for_version(selected, context.version)
    return KeyValue(key_material=value.key_material, attributes=chosen if chosen.entries else None)


def wrap_object(
    context: RequestContext, record: ObjectRecord, material: Structure, wrapping: KeyWrappingSpecification
) -> Structure:
    """`material` (the object `record` holds, in the format asked for) with its Key Value wrapped."""
    block = key_block_of(material)
    if block is None:
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"a {record.object_type.name} has no key to wrap")
    method = wrapping.wrapping_method
    encryption, authentication = _roles(
        method, wrapping.encryption_key_information, wrapping.mac_signature_key_information
    )
    value = _value_to_wrap(context, record, block, wrapping)
    plaintext = _encoded(context, value, wrapping.encoding_option)
    data = KeyWrappingData(wrapping_method=method, encoding_option=wrapping.encoding_option)
    if authentication is not None and method is not WrappingMethod.ENCRYPT_THEN_MAC_SIGN:
        data.mac_signature_key_information, data.mac_signature = _authenticate(
            context, authentication, plaintext
        )
    wrapped: KeyValue | bytes = value
    if encryption is not None:
        wrapped = _encrypt(
            context,
            record,
            data,
            (encryption, authentication),
            len(plaintext),
            lambda key, spec: _provider(context).wrap(key, spec, plaintext),
        )
    out = copy.copy(material)
    out.key_block = dataclasses.replace(block, key_value=wrapped, key_wrapping_data=data)  # type: ignore[attr-defined]
    return out


def _encrypt(
    context: RequestContext,
    record: ObjectRecord,
    data: KeyWrappingData,
    roles: tuple[EncryptionKeyInformation, MACSignatureKeyInformation | None],
    size: int,
    wrap: Callable[[ObjectRecord, CipherSpec], bytes],
) -> bytes:
    """The wrapped bytes `wrap` makes with the checked wrapping key, recorded in `data`
    (and MACed or signed after, for Encrypt then MAC/sign)."""
    encryption, authentication = roles
    key = _wrapping_key(context, encryption.unique_identifier, U.WRAP_KEY)  # type: ignore[arg-type]
    if key.uid == record.uid:
        raise KmipError(ResultReason.INVALID_FIELD, "a key does not wrap itself")
    spec, data.iv_counter_nonce, _ = _spec(
        _provider(context), key, encryption.cryptographic_parameters, wrap=True, iv=None
    )
    spend_usage(context, key, size, 1)  # wrapping protects, as Encrypt does
    wrapped = wrap(key, spec)
    data.encryption_key_information = EncryptionKeyInformation(
        unique_identifier=key.uid, cryptographic_parameters=encryption.cryptographic_parameters
    )
    if authentication is not None and data.wrapping_method is WrappingMethod.ENCRYPT_THEN_MAC_SIGN:
        data.mac_signature_key_information, data.mac_signature = _authenticate(
            context, authentication, wrapped
        )
    return wrapped


# The Key Format Type of what C_WrapKey wraps: a secret key's CKA_VALUE, a private key's PKCS#8.
TOKEN_FORMATS = {ObjectType.SYMMETRIC_KEY: KeyFormatType.RAW, ObjectType.PRIVATE_KEY: KeyFormatType.PKCS_8}


def wrap_in_token(
    context: RequestContext,
    record: ObjectRecord,
    material: Structure,
    key_format: KeyFormatType | None,
    wrapping: KeyWrappingSpecification,
) -> Structure:
    """A Sensitive key the HSM key store's token holds (`hooks.sealed_in_token`), wrapped there.

    Its value never leaves the token, so the wrapping is C_WrapKey by a wrapping key in
    the token (`hooks.wrap_in_token`: else Sensitive), and only what that can give is
    offered: the key's value alone (No Encoding, else Encoding Option Error) as the token
    holds it (Raw, PKCS#8; else Key Format Type Not Supported), encrypted, or encrypted
    then MACed or signed (a MAC or signature of the plaintext: Sensitive).
    """
    natural = TOKEN_FORMATS[record.object_type]
    if key_format not in (None, natural):
        raise KmipError(
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            f"a Sensitive key in the HSM leaves wrapped as {natural.name} only",
        )
    method = wrapping.wrapping_method
    encryption, authentication = _roles(
        method, wrapping.encryption_key_information, wrapping.mac_signature_key_information
    )
    if encryption is None or method is WrappingMethod.MAC_SIGN_THEN_ENCRYPT:
        raise KmipError(
            ResultReason.SENSITIVE,
            f"{method.name if method else ''} MACs or signs the value of a Sensitive key, "
            "which stays in the HSM: it leaves encrypted, or encrypted then MACed or signed",
        )
    if wrapping.encoding_option is not EncodingOption.NO_ENCODING or wrapping.attribute_names:
        raise KmipError(
            ResultReason.ENCODING_OPTION_ERROR,
            "the HSM wraps a Sensitive key's value alone: ask for No Encoding and no attributes",
        )
    block = key_block_of(material)
    assert block is not None
    data = KeyWrappingData(wrapping_method=method, encoding_option=wrapping.encoding_option)
    size = (record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) or 0) // 8
    wrapped = _encrypt(
        context,
        record,
        data,
        (encryption, authentication),
        size,
        lambda key, spec: hooks.wrap_in_token(key, record, spec),
    )
    out = copy.copy(material)
    out.key_block = dataclasses.replace(  # type: ignore[attr-defined]
        block, key_format_type=natural, key_value=wrapped, key_wrapping_data=data
    )
    return out


def unwrap_block(context: RequestContext, block: KeyBlock) -> KeyBlock:
    """A wrapped key block in the clear (Cryptographic Failure if it does not unwrap or verify)."""
    data = block.key_wrapping_data
    assert data is not None
    method = data.wrapping_method
    encryption, authentication = _roles(
        method, data.encryption_key_information, data.mac_signature_key_information
    )
    if authentication is not None and data.mac_signature is None:
        raise KmipError(
            ResultReason.INVALID_FIELD, f"{method.name if method else ''} wrapping needs its MAC/Signature"
        )
    value = block.key_value
    if encryption is None:  # MAC/sign alone: the Key Value is in the clear
        if not isinstance(value, KeyValue):
            raise KmipError(
                ResultReason.INVALID_FIELD, "a Key Value that is only MACed or signed is a structure"
            )
        assert authentication is not None and data.mac_signature is not None
        _verify(context, authentication, _encoded(context, value, data.encoding_option), data.mac_signature)
        return dataclasses.replace(block, key_wrapping_data=None)
    if not isinstance(value, bytes):
        raise KmipError(ResultReason.INVALID_FIELD, "an encrypted Key Value is a Byte String")
    if authentication is not None and method is WrappingMethod.ENCRYPT_THEN_MAC_SIGN:
        assert data.mac_signature is not None
        _verify(context, authentication, value, data.mac_signature)
    key = _wrapping_key(context, encryption.unique_identifier, U.UNWRAP_KEY)  # type: ignore[arg-type]
    provider = _provider(context)
    spec, _, ciphertext = _spec(
        provider,
        key,
        encryption.cryptographic_parameters,
        wrap=False,
        iv=data.iv_counter_nonce,
        wrapped=value,
    )
    plaintext = provider.unwrap(key, spec, ciphertext)
    if authentication is not None and method is WrappingMethod.MAC_SIGN_THEN_ENCRYPT:
        assert data.mac_signature is not None
        _verify(context, authentication, plaintext, data.mac_signature)
    if data.encoding_option is EncodingOption.NO_ENCODING:
        plain = KeyValue(key_material=plaintext)
    else:
        plain = _decoded_key_value(context, plaintext)
    return dataclasses.replace(block, key_value=plain, key_wrapping_data=None)


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
    encryption, authentication = data.encryption_key_information, data.mac_signature_key_information
    kept = KeyWrappingSpecification(
        wrapping_method=data.wrapping_method,
        encryption_key_information=None
        if encryption is None
        else EncryptionKeyInformation(
            unique_identifier=context.resolve(encryption.unique_identifier),
            cryptographic_parameters=encryption.cryptographic_parameters,
        ),
        mac_signature_key_information=None
        if authentication is None
        else MACSignatureKeyInformation(
            unique_identifier=context.resolve(authentication.unique_identifier),
            cryptographic_parameters=authentication.cryptographic_parameters,
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
