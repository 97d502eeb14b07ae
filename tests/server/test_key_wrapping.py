"""Key wrapping over real TLS: Get with a Key Wrapping Specification, Register of wrapped keys.

Known answers are RFC 3394 §4.1/§4.6 and RFC 5649 §6 (copied from the RFCs). The
cross-checks: what the server wraps (AES-GCM, RSA-OAEP, PKCS#1 v1.5, TTLV-encoded or
not) pyca/cryptography unwraps locally to the bytes a plain Get gives; what the test
wraps locally the server registers, and then encrypts with so that pyca decrypts it.
The MAC/sign methods are checked against pyca's HMAC and ECDSA the same way. Export
and Import are here too: they wrap and unwrap as Get and Register do. Every refusal is
checked for its Result Reason.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SecretData, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import (
    DestroyRequest,
    EncryptRequest,
    ExportRequest,
    GetAttributesRequest,
    GetRequest,
    GetResponse,
    ImportRequest,
    RegisterRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    EncryptionKeyInformation,
    KeyWrappingData,
    KeyWrappingSpecification,
    MACSignatureKeyInformation,
    UsageLimits,
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
    ObjectType,
    PaddingMethod,
    ResultReason,
    SecretDataType,
    State,
    UsageLimitsUnit,
    WrappingMethod,
)
from pkcs11_kmip.kmip.ttlv import binary
from testsupport.kmip_builders import AttributeSpec, attribute_fields
from testsupport.managed_keys import (
    an_hour_ago,
    client_fixture,
    reason_of_version,
    refusal,
    register_key,
    register_object,
    register_pair,
    symmetric,
)
from testsupport.server import RunningServer

A = CryptographicAlgorithm
M = BlockCipherMode
W = WrappingMethod
U = CryptographicUsageMask
WRAP = U.WRAP_KEY | U.UNWRAP_KEY
DATA = U.ENCRYPT | U.DECRYPT
RAW_BYTES = EncodingOption.NO_ENCODING
CLIENT = "key-wrapping"
h = bytes.fromhex


kmip = client_fixture(CLIENT, (1, 4), (2, 1))
v2 = client_fixture(CLIENT, (2, 1))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def parameters(**fields: Any) -> CryptographicParameters:
    return CryptographicParameters(**fields)


def wrapping(
    kek: str | None,
    encoding: EncodingOption | None = RAW_BYTES,
    names: tuple[str, ...] = (),
    given: CryptographicParameters | None = None,
    method: WrappingMethod = WrappingMethod.ENCRYPT,
    mac: str | None = None,
) -> KeyWrappingSpecification:
    return KeyWrappingSpecification(
        wrapping_method=method,
        encryption_key_information=EncryptionKeyInformation(
            unique_identifier=kek, cryptographic_parameters=given
        )
        if kek is not None
        else None,
        mac_signature_key_information=MACSignatureKeyInformation(unique_identifier=mac)
        if mac is not None
        else None,
        attribute_names=list(names),
        encoding_option=encoding,
    )


def get(kmip: KmipClient, uid: str, **fields: Any) -> KeyBlock:
    answer: GetResponse = kmip.call(GetRequest(unique_identifier=uid, **fields))
    block = answer.object.key_block  # type: ignore[union-attr]
    assert isinstance(block, KeyBlock)
    return block


def wrapped_get(kmip: KmipClient, uid: str, spec: KeyWrappingSpecification) -> tuple[bytes, KeyWrappingData]:
    block = get(kmip, uid, key_wrapping_specification=spec)
    assert isinstance(block.key_value, bytes) and block.key_wrapping_data is not None
    return block.key_value, block.key_wrapping_data


def plain(kmip: KmipClient, uid: str) -> bytes:
    value = get(kmip, uid).key_value
    assert isinstance(value, KeyValue) and isinstance(value.key_material, bytes)
    return value.key_material


def kek(
    kmip: KmipClient,
    material: bytes,
    mode: BlockCipherMode,
    usage: U = WRAP,
    *extra: AttributeSpec,
    **options: Any,
) -> str:
    """An AES wrapping key whose Cryptographic Parameters name `mode`."""
    named = (Tag.CRYPTOGRAPHIC_PARAMETERS, parameters(block_cipher_mode=mode))
    return register_key(kmip, A.AES, material, usage, named, *extra, **options)


# --- known answers ----------------------------------------------------------------------------

KNOWN_ANSWERS = [
    # RFC 3394 §4.1: 128 bits of key data with a 128-bit KEK
    (M.NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
     "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"),
    # RFC 3394 §4.6: 256 bits of key data with a 256-bit KEK
    (M.NIST_KEY_WRAP, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21"),
    # RFC 5649 §6: 20 octets and 7 octets of key with a 192-bit KEK
    (M.AES_KEY_WRAP_PADDING, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
     "c37b7e6492584340bed12207808941155068f738",
     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"),
    (M.AES_KEY_WRAP_PADDING, "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
     "afbeb0f07dfbf5419200f2ccb50bb24f"),
]  # fmt: skip


def test_an_empty_first_parameters_instance_keeps_the_wrapping_default(kmip: KmipClient) -> None:
    """A KEK whose first Cryptographic Parameters instance names nothing (the native token
    gives its keys one, then the wrappings it offers) wraps with AES-KWP, the default."""
    kek_bytes, key_bytes = os.urandom(32), os.urandom(24)
    named = [
        (Tag.CRYPTOGRAPHIC_PARAMETERS, parameters(block_cipher_mode=m))
        for m in (M.AES_KEY_WRAP_PADDING, M.NIST_KEY_WRAP)
    ]
    wrapping_key = register_key(
        kmip, A.AES, kek_bytes, WRAP, (Tag.CRYPTOGRAPHIC_PARAMETERS, parameters()), *named
    )
    key = register_key(kmip, A.AES, key_bytes, DATA)
    wrapped, _ = wrapped_get(kmip, key, wrapping(wrapping_key))
    assert keywrap.aes_key_unwrap_with_padding(kek_bytes, wrapped) == key_bytes


@pytest.mark.parametrize(("mode", "kek_hex", "key_hex", "wrapped_hex"), KNOWN_ANSWERS)
def test_known_answers_both_ways(
    kmip: KmipClient, mode: BlockCipherMode, kek_hex: str, key_hex: str, wrapped_hex: str
) -> None:
    wrapping_key = kek(kmip, h(kek_hex), mode)
    # An HMAC key: any whole number of bytes (RFC 5649 wraps 7 and 20 of them).
    key = register_key(kmip, A.HMAC_SHA256, h(key_hex), U.MAC_GENERATE)
    wrapped, data = wrapped_get(kmip, key, wrapping(wrapping_key))
    assert wrapped == h(wrapped_hex)
    assert data.wrapping_method is WrappingMethod.ENCRYPT
    assert data.encryption_key_information == EncryptionKeyInformation(unique_identifier=wrapping_key)
    assert data.encoding_option is RAW_BYTES and data.iv_counter_nonce is None
    # The reverse: the wrapped bytes register, and the server holds the key itself.
    block = wrapped_block(wrapped, wrapping_key, A.HMAC_SHA256, 4 * len(key_hex))
    registered = register_block(kmip, block, U.MAC_GENERATE)
    assert plain(kmip, registered) == h(key_hex)
    # As Registered: wrapped again as it came (AES-KW and KWP are deterministic).
    again = get(kmip, registered, key_wrap_type=KeyWrapType.AS_REGISTERED)
    assert again.key_value == wrapped and again.key_wrapping_data is not None
    assert get(kmip, registered, key_wrap_type=KeyWrapType.NOT_WRAPPED).key_value == KeyValue(
        key_material=h(key_hex)
    )


def wrapped_block(
    wrapped: bytes,
    kek_uid: str,
    algorithm: CryptographicAlgorithm = A.AES,
    bits: int = 128,
    given: CryptographicParameters | None = None,
    iv: bytes | None = None,
) -> KeyBlock:
    """A Raw key block wrapped (Encrypt, No Encoding) under the key `kek_uid`."""
    return KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=wrapped,
        cryptographic_algorithm=algorithm,
        cryptographic_length=bits,
        key_wrapping_data=KeyWrappingData(
            wrapping_method=WrappingMethod.ENCRYPT,
            encryption_key_information=EncryptionKeyInformation(
                unique_identifier=kek_uid, cryptographic_parameters=given
            ),
            iv_counter_nonce=iv,
            encoding_option=RAW_BYTES,
        ),
    )


def register_block(kmip: KmipClient, block: KeyBlock, usage: U = DATA, active: bool = False) -> str:
    """A symmetric key registered from a (wrapped) key block."""
    return register_object(
        kmip, ObjectType.SYMMETRIC_KEY, SymmetricKey(key_block=block), usage, active=active
    )


# --- cross-checks with pyca/cryptography ------------------------------------------------------


@pytest.mark.parametrize("encoding", [RAW_BYTES, EncodingOption.TTLV_ENCODING, None])
def test_aes_gcm_wrapping_unwraps_locally(kmip: KmipClient, encoding: EncodingOption | None) -> None:
    kek_bytes, key_bytes = os.urandom(32), os.urandom(16)
    wrapping_key = kek(kmip, kek_bytes, M.GCM)
    key = register_key(kmip, A.AES, key_bytes, DATA)
    names = () if encoding is RAW_BYTES else ("Cryptographic Algorithm", "Cryptographic Length")
    wrapped, data = wrapped_get(kmip, key, wrapping(wrapping_key, encoding, names))
    assert data.iv_counter_nonce is not None and len(data.iv_counter_nonce) == 12
    opened = AESGCM(kek_bytes).decrypt(data.iv_counter_nonce, wrapped, None)  # tag after the ciphertext
    if encoding is RAW_BYTES:
        assert opened == key_bytes == plain(kmip, key)
        return
    value = KeyValue.from_item(binary.decode(opened), kmip.version)
    assert value.key_material == key_bytes
    carried = (
        {a.attribute_name: a.attribute_value for a in value.attribute_list}
        if kmip.version < (2, 0)
        else {e.tag: e.value for e in value.attributes or []}
    )
    assert list(carried.values()) == [A.AES, 128], carried


@pytest.mark.parametrize(
    ("given", "scheme"),
    [
        (None, padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)),  # the server's default
        (
            parameters(padding_method=PaddingMethod.OAEP, hashing_algorithm=HashingAlgorithm.SHA_1),
            padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
        ),
        (parameters(padding_method=PaddingMethod.PKCS1_V1_5), padding.PKCS1v15()),
    ],
    ids=["OAEP-SHA256", "OAEP-SHA1", "PKCS1-v1_5"],
)
def test_rsa_wrapping_unwraps_locally_and_the_reverse(
    v2: KmipClient, rsa_key: rsa.RSAPrivateKey, given: CryptographicParameters | None, scheme: Any
) -> None:
    # The wrapping key must have the parameters the request names (KMIP 2.1 §7.18).
    extra = [(Tag.CRYPTOGRAPHIC_PARAMETERS, given)] if given is not None else []
    public, private = register_pair(v2, rsa_key, A.RSA, (U.WRAP_KEY, U.UNWRAP_KEY), *extra)
    key_bytes = os.urandom(32)
    key = register_key(v2, A.AES, key_bytes, DATA)
    wrapped, _ = wrapped_get(v2, key, wrapping(public, given=given))
    assert rsa_key.decrypt(wrapped, scheme) == key_bytes
    # The reverse: wrapped locally with the public key, unwrapped by the server's private key.
    other = os.urandom(16)
    block = wrapped_block(rsa_key.public_key().encrypt(other, scheme), private, given=given)
    uid = register_block(v2, block)
    assert plain(v2, uid) == other


def test_a_key_wrapped_locally_registers_and_encrypts(v2: KmipClient) -> None:
    kek_bytes, key_bytes, iv = os.urandom(16), os.urandom(32), os.urandom(12)
    wrapping_key = kek(v2, kek_bytes, M.GCM)
    block = wrapped_block(AESGCM(kek_bytes).encrypt(iv, key_bytes, None), wrapping_key, bits=256, iv=iv)
    uid = register_block(v2, block, active=True)
    nonce = os.urandom(12)
    answer = v2.call(
        EncryptRequest(
            unique_identifier=uid,
            data=b"wrapped on the client",
            cryptographic_parameters=parameters(block_cipher_mode=M.GCM, tag_length=16),
            iv_counter_nonce=nonce,
        )
    )
    sealed = answer.data + answer.authenticated_encryption_tag
    assert AESGCM(key_bytes).decrypt(nonce, sealed, None) == b"wrapped on the client"


def test_a_ttlv_encoded_key_round_trips_through_register(v2: KmipClient) -> None:
    wrapping_key = kek(v2, os.urandom(16), M.AES_KEY_WRAP_PADDING)
    key_bytes = os.urandom(24)
    key = register_key(v2, A.AES, key_bytes, DATA)
    block = get(v2, key, key_wrapping_specification=wrapping(wrapping_key, EncodingOption.TTLV_ENCODING))
    assert plain(v2, register_block(v2, block)) == key_bytes


# --- what each flag and state allows -----------------------------------------------------------


def test_a_sensitive_key_leaves_only_wrapped(kmip: KmipClient) -> None:
    wrapping_key = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP)
    key_bytes = os.urandom(16)
    key = register_key(kmip, A.AES, key_bytes, DATA, (Tag.SENSITIVE, True))
    assert refusal(kmip, GetRequest(unique_identifier=key)) is ResultReason.SENSITIVE
    wrapped, _ = wrapped_get(kmip, key, wrapping(wrapping_key))
    assert keywrap.aes_key_unwrap(plain(kmip, wrapping_key), wrapped) == key_bytes


def test_a_non_extractable_key_never_leaves(kmip: KmipClient) -> None:
    wrapping_key = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP)
    key = register_key(kmip, A.AES, os.urandom(16), DATA, (Tag.EXTRACTABLE, False))
    request = GetRequest(unique_identifier=key, key_wrapping_specification=wrapping(wrapping_key))
    assert refusal(kmip, request) is ResultReason.NOT_EXTRACTABLE


def test_the_wrapping_key_must_allow_it_and_be_active(kmip: KmipClient) -> None:
    key = register_key(kmip, A.AES, os.urandom(16), DATA)

    def wrapping_with(uid: str, **fields: Any) -> ResultReason | None:
        spec = wrapping(uid, **fields)
        return refusal(kmip, GetRequest(unique_identifier=key, key_wrapping_specification=spec))

    encrypt_only = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP, usage=DATA)
    assert wrapping_with(encrypt_only) is reason_of_version(
        kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )
    unwrap_only = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP, usage=U.UNWRAP_KEY)
    assert wrapping_with(unwrap_only) is reason_of_version(
        kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )
    pre_active = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP, active=False)
    assert wrapping_with(pre_active) is reason_of_version(kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE)
    gone = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP, active=False)
    kmip.call(DestroyRequest(unique_identifier=gone))
    assert wrapping_with(gone) is reason_of_version(kmip, ResultReason.WRAPPING_OBJECT_DESTROYED)
    assert wrapping_with("no-such-key") is reason_of_version(kmip, ResultReason.WRAPPING_OBJECT_NOT_FOUND)


def test_wrapping_parameters_and_encodings_that_are_refused(v2: KmipClient) -> None:
    wrapping_key = kek(v2, os.urandom(16), M.NIST_KEY_WRAP)
    cbc_key = kek(v2, os.urandom(16), M.CBC)
    key = register_key(v2, A.AES, os.urandom(16), DATA)

    def refused_with(spec: KeyWrappingSpecification, **fields: Any) -> ResultReason | None:
        return refusal(v2, GetRequest(unique_identifier=key, key_wrapping_specification=spec, **fields))

    # §7.18: parameters given must match one of the wrapping key's Cryptographic Parameters.
    kwp = parameters(block_cipher_mode=M.AES_KEY_WRAP_PADDING)
    assert refused_with(wrapping(wrapping_key, given=kwp)) is ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS
    assert refused_with(wrapping(cbc_key)) is ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS
    named = wrapping(wrapping_key, RAW_BYTES, ("Cryptographic Algorithm",))
    assert refused_with(named) is ResultReason.ENCODING_OPTION_ERROR
    transparent = {"key_format_type": KeyFormatType.TRANSPARENT_SYMMETRIC_KEY}
    assert refused_with(wrapping(wrapping_key), **transparent) is ResultReason.ENCODING_OPTION_ERROR
    # Each method takes the key information it uses, and no other.
    assert refused_with(wrapping(wrapping_key, method=WrappingMethod.MAC_SIGN)) is ResultReason.INVALID_FIELD
    assert refused_with(wrapping(wrapping_key, mac=wrapping_key)) is ResultReason.INVALID_FIELD
    then_mac = WrappingMethod.ENCRYPT_THEN_MAC_SIGN
    assert refused_with(wrapping(wrapping_key, method=then_mac)) is ResultReason.INVALID_FIELD
    tr31 = wrapping(wrapping_key, method=WrappingMethod.TR_31)
    assert refused_with(tr31) is ResultReason.FEATURE_NOT_SUPPORTED
    itself = GetRequest(unique_identifier=wrapping_key, key_wrapping_specification=wrapping(wrapping_key))
    assert refusal(v2, itself) is ResultReason.INVALID_FIELD
    # Transparent with TTLV Encoding wraps the structure.
    ttlv = wrapping(wrapping_key, EncodingOption.TTLV_ENCODING)
    block = get(v2, key, key_wrapping_specification=ttlv, **transparent)
    assert block.key_format_type is KeyFormatType.TRANSPARENT_SYMMETRIC_KEY
    assert isinstance(block.key_value, bytes)


def test_a_wrapped_key_that_does_not_unwrap_is_not_registered(kmip: KmipClient) -> None:
    kek_bytes = os.urandom(16)
    kw_key = kek(kmip, kek_bytes, M.NIST_KEY_WRAP)
    gcm_key = kek(kmip, kek_bytes, M.GCM)
    wrap_only = kek(kmip, kek_bytes, M.NIST_KEY_WRAP, usage=U.WRAP_KEY)
    pre_active = kek(kmip, kek_bytes, M.NIST_KEY_WRAP, active=False)
    key_bytes, iv = os.urandom(16), os.urandom(12)

    def register_wrapped(uid: str, wrapped: bytes, iv: bytes | None = None) -> ResultReason | None:
        block = wrapped_block(wrapped, uid, iv=iv)
        request = RegisterRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            object=SymmetricKey(key_block=block),
            **attribute_fields(kmip.version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, DATA)),
        )
        return refusal(kmip, request)

    good = keywrap.aes_key_wrap(kek_bytes, key_bytes)
    tampered = good[:-1] + bytes([good[-1] ^ 1])
    assert register_wrapped(kw_key, tampered) is reason_of_version(kmip, ResultReason.CRYPTOGRAPHIC_FAILURE)
    assert register_wrapped(kw_key, good[:-3]) is ResultReason.CRYPTOGRAPHIC_FAILURE  # not 8-byte blocks
    sealed = AESGCM(kek_bytes).encrypt(iv, key_bytes, None)
    bad_tag = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert register_wrapped(gcm_key, bad_tag, iv) is reason_of_version(
        kmip, ResultReason.CRYPTOGRAPHIC_FAILURE
    )
    assert register_wrapped(gcm_key, sealed[:8], iv) is reason_of_version(
        kmip, ResultReason.CRYPTOGRAPHIC_FAILURE
    )  # shorter than a tag
    assert register_wrapped(wrap_only, good) is reason_of_version(
        kmip, ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    )
    assert register_wrapped(pre_active, good) is reason_of_version(
        kmip, ResultReason.WRONG_KEY_LIFECYCLE_STATE
    )
    missing = reason_of_version(kmip, ResultReason.WRAPPING_OBJECT_NOT_FOUND)
    assert register_wrapped("no-such-key", good) is missing


# --- Export and Import (KMIP 2.0+) -------------------------------------------------------------


def test_export_wraps_as_get_does_and_gives_the_attributes(v2: KmipClient) -> None:
    kek_bytes, key_bytes = os.urandom(16), os.urandom(32)
    wrapping_key = kek(v2, kek_bytes, M.NIST_KEY_WRAP)
    key = register_key(v2, A.AES, key_bytes, DATA, (Tag.SENSITIVE, True))
    assert refusal(v2, ExportRequest(unique_identifier=key)) is ResultReason.SENSITIVE
    answer = v2.call(ExportRequest(unique_identifier=key, key_wrapping_specification=wrapping(wrapping_key)))
    block = answer.object.key_block
    assert keywrap.aes_key_unwrap(kek_bytes, block.key_value) == key_bytes
    exported = {entry.tag: entry.value for entry in answer.attributes}
    assert exported[Tag.UNIQUE_IDENTIFIER] == key and exported[Tag.SENSITIVE] is True
    assert exported[Tag.FRESH] is True  # as it was when asked (TC-IMPEXP-1-20)
    again = v2.call(ExportRequest(unique_identifier=key, key_wrapping_specification=wrapping(wrapping_key)))
    assert {entry.tag: entry.value for entry in again.attributes}[Tag.FRESH] is False


def test_import_sets_the_identifier_and_attributes_given_and_replaces_only_when_asked(
    v2: KmipClient, kmip_server: RunningServer
) -> None:
    uid = f"imported-{os.urandom(4).hex()}"
    first, second = os.urandom(16), os.urandom(16)
    activated = an_hour_ago()

    def import_key(material: bytes, replace: bool | None, **fields: Any) -> ImportRequest:
        attributes = Attributes()
        attributes.add(Tag.CRYPTOGRAPHIC_USAGE_MASK, DATA)
        attributes.add(Tag.STATE, State.ACTIVE)
        attributes.add(Tag.ACTIVATION_DATE, activated)
        request = ImportRequest(
            unique_identifier=uid,
            object_type=fields.pop("object_type", ObjectType.SYMMETRIC_KEY),
            replace_existing=replace,
            attributes=attributes,
            object=fields.pop("object", symmetric(A.AES, material)),
            **fields,
        )
        return request

    assert v2.call(import_key(first, None)).unique_identifier == uid
    assert plain(v2, uid) == first
    answer = v2.call(GetAttributesRequest(unique_identifier=uid))
    given = {entry.tag: entry.value for entry in answer.attributes}
    assert given[Tag.STATE] is State.ACTIVE and given[Tag.ACTIVATION_DATE] == activated
    assert refusal(v2, import_key(second, False)) is ResultReason.OBJECT_ALREADY_EXISTS
    assert plain(v2, uid) == first
    secret = SecretData(secret_data_type=SecretDataType.PASSWORD, key_block=get(v2, uid))
    other_type = import_key(second, True, object_type=ObjectType.SECRET_DATA, object=secret)
    assert refusal(v2, other_type) is ResultReason.INVALID_FIELD
    with kmip_server.client("key-wrapping-other", version=(2, 1)) as other:
        assert refusal(other, import_key(second, True)) is ResultReason.PERMISSION_DENIED
    v2.call(import_key(second, True))
    assert plain(v2, uid) == second
    # A wrapped key imported Not Wrapped is unwrapped; As Registered it is kept as provided.
    kek_bytes = os.urandom(16)
    wrapping_key = kek(v2, kek_bytes, M.NIST_KEY_WRAP)
    third = os.urandom(16)
    block = wrapped_block(keywrap.aes_key_wrap(kek_bytes, third), wrapping_key)
    wrapped_key = SymmetricKey(key_block=block)
    v2.call(import_key(third, True, object=wrapped_key, key_wrap_type=KeyWrapType.NOT_WRAPPED))
    assert plain(v2, uid) == third
    v2.call(import_key(third, True, object=wrapped_key, key_wrap_type=KeyWrapType.AS_REGISTERED))
    assert get(v2, uid).key_value == block.key_value
    assert get(v2, uid, key_wrap_type=KeyWrapType.NOT_WRAPPED).key_value == KeyValue(key_material=third)


# --- MAC/sign wrapping methods -----------------------------------------------------------------


def register_wrapped_block(kmip: KmipClient, block: KeyBlock) -> ResultReason | str:
    """Register the block: its identifier, or the reason the server refuses it."""
    request = RegisterRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        object=SymmetricKey(key_block=block),
        **attribute_fields(kmip.version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, DATA)),
    )
    try:
        uid: str = kmip.call(request).unique_identifier
    except KmipResultError as error:
        assert error.reason is not None
        return error.reason
    return uid


def tampered(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


@pytest.mark.parametrize("encoding", [RAW_BYTES, EncodingOption.TTLV_ENCODING])
def test_mac_wrapping_alone_and_after_encryption(kmip: KmipClient, encoding: EncodingOption) -> None:
    mac_bytes, kek_bytes, key_bytes = os.urandom(32), os.urandom(16), os.urandom(16)
    mac_key = register_key(kmip, A.HMAC_SHA256, mac_bytes, U.MAC_GENERATE | U.MAC_VERIFY)
    wrapping_key = kek(kmip, kek_bytes, M.NIST_KEY_WRAP)
    key = register_key(kmip, A.AES, key_bytes, DATA)
    # MAC/sign alone: the Key Value stays in the clear, its HMAC in the Key Wrapping Data.
    block = get(
        kmip, key, key_wrapping_specification=wrapping(None, encoding, method=W.MAC_SIGN, mac=mac_key)
    )
    assert isinstance(block.key_value, KeyValue) and block.key_value.key_material == key_bytes
    data = block.key_wrapping_data
    assert data is not None and data.mac_signature is not None
    covered = key_bytes if encoding is RAW_BYTES else block.key_value.encode(kmip.version)
    assert data.mac_signature == hmac.new(mac_bytes, covered, "sha256").digest()
    assert data.mac_signature_key_information == MACSignatureKeyInformation(unique_identifier=mac_key)
    uid = register_wrapped_block(kmip, block)
    assert isinstance(uid, str) and plain(kmip, uid) == key_bytes
    forged = dataclasses.replace(
        block, key_wrapping_data=dataclasses.replace(data, mac_signature=tampered(data.mac_signature))
    )
    assert register_wrapped_block(kmip, forged) is reason_of_version(kmip, ResultReason.CRYPTOGRAPHIC_FAILURE)
    # Encrypt then MAC: the HMAC covers the wrapped bytes.
    spec = wrapping(wrapping_key, encoding, method=W.ENCRYPT_THEN_MAC_SIGN, mac=mac_key)
    block = get(kmip, key, key_wrapping_specification=spec)
    data = block.key_wrapping_data
    assert isinstance(block.key_value, bytes) and data is not None and data.mac_signature is not None
    assert data.mac_signature == hmac.new(mac_bytes, block.key_value, "sha256").digest()
    opened = keywrap.aes_key_unwrap(kek_bytes, block.key_value)
    assert (
        opened == key_bytes
        or KeyValue.from_item(binary.decode(opened), kmip.version).key_material == key_bytes
    )
    uid = register_wrapped_block(kmip, block)
    assert isinstance(uid, str) and plain(kmip, uid) == key_bytes
    forged = dataclasses.replace(block, key_value=keywrap.aes_key_wrap(kek_bytes, os.urandom(16)))
    assert register_wrapped_block(kmip, forged) is reason_of_version(kmip, ResultReason.CRYPTOGRAPHIC_FAILURE)


def test_a_mac_wrapping_is_truncated_to_the_tag_length(kmip: KmipClient) -> None:
    """The MAC key's Cryptographic Parameters name a Tag Length: the MAC in the Key Wrapping
    Data is HMAC's leftmost 16 bytes, as MAC gives, and Register verifies it at that length."""
    mac_bytes, key_bytes = os.urandom(32), os.urandom(16)
    truncated = parameters(hashing_algorithm=HashingAlgorithm.SHA_256, tag_length=16)
    usage = U.MAC_GENERATE | U.MAC_VERIFY
    mac_key = register_key(kmip, A.HMAC_SHA256, mac_bytes, usage, (Tag.CRYPTOGRAPHIC_PARAMETERS, truncated))
    key = register_key(kmip, A.AES, key_bytes, DATA)
    spec = wrapping(None, method=W.MAC_SIGN, mac=mac_key)
    assert spec.mac_signature_key_information is not None
    spec.mac_signature_key_information.cryptographic_parameters = parameters(tag_length=16)
    block = get(kmip, key, key_wrapping_specification=spec)
    data = block.key_wrapping_data
    assert data is not None and data.mac_signature is not None
    assert data.mac_signature == hmac.new(mac_bytes, key_bytes, "sha256").digest()[:16]
    uid = register_wrapped_block(kmip, block)
    assert isinstance(uid, str) and plain(kmip, uid) == key_bytes
    whole = hmac.new(mac_bytes, key_bytes, "sha256").digest()  # the untruncated MAC is not that MAC
    forged = dataclasses.replace(block, key_wrapping_data=dataclasses.replace(data, mac_signature=whole))
    assert register_wrapped_block(kmip, forged) is reason_of_version(kmip, ResultReason.INVALID_FIELD)


def test_signing_then_encrypting_verifies_with_the_public_key(v2: KmipClient) -> None:
    signer = ec.generate_private_key(ec.SECP256R1())
    public, private = register_pair(v2, signer, A.EC, (U.VERIFY, U.SIGN))
    kek_bytes, key_bytes = os.urandom(32), os.urandom(32)
    wrapping_key = kek(v2, kek_bytes, M.GCM)
    key = register_key(v2, A.AES, key_bytes, DATA)
    spec = wrapping(wrapping_key, method=W.MAC_SIGN_THEN_ENCRYPT, mac=private)
    block = get(v2, key, key_wrapping_specification=spec)
    data = block.key_wrapping_data
    assert isinstance(block.key_value, bytes) and data is not None and data.mac_signature is not None
    assert data.iv_counter_nonce is not None
    assert AESGCM(kek_bytes).decrypt(data.iv_counter_nonce, block.key_value, None) == key_bytes
    signer.public_key().verify(data.mac_signature, key_bytes, ec.ECDSA(hashes.SHA256()))  # over the plaintext
    # Registered back, verified with the public key (§3.3: the private key or its public key).
    by_public = dataclasses.replace(
        data, mac_signature_key_information=MACSignatureKeyInformation(unique_identifier=public)
    )
    uid = register_wrapped_block(v2, dataclasses.replace(block, key_wrapping_data=by_public))
    assert isinstance(uid, str) and plain(v2, uid) == key_bytes
    forged = dataclasses.replace(
        by_public, mac_signature=signer.sign(os.urandom(32), ec.ECDSA(hashes.SHA256()))
    )
    failure = register_wrapped_block(v2, dataclasses.replace(block, key_wrapping_data=forged))
    assert failure is ResultReason.CRYPTOGRAPHIC_FAILURE
    # The private key named at registration has no public key linked to verify with.
    assert register_wrapped_block(v2, block) is ResultReason.INVALID_FIELD
    # Usage: a MAC key that may not MAC, a signing key that may not sign.
    no_mac = register_key(v2, A.HMAC_SHA256, os.urandom(32), U.MAC_VERIFY)
    refused = GetRequest(
        unique_identifier=key, key_wrapping_specification=wrapping(None, method=W.MAC_SIGN, mac=no_mac)
    )
    assert refusal(v2, refused) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
    _, verify_only = register_pair(v2, ec.generate_private_key(ec.SECP256R1()), A.EC, (U.VERIFY, U.VERIFY))
    refused = GetRequest(
        unique_identifier=key, key_wrapping_specification=wrapping(None, method=W.MAC_SIGN, mac=verify_only)
    )
    assert refusal(v2, refused) is ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK


def test_wrapping_spends_the_wrapping_keys_usage_limits(kmip: KmipClient) -> None:
    once = UsageLimits(usage_limits_total=1, usage_limits_unit=UsageLimitsUnit.OBJECT)
    wrapping_key = kek(kmip, os.urandom(16), M.NIST_KEY_WRAP, U.WRAP_KEY, (Tag.USAGE_LIMITS, once))
    key = register_key(kmip, A.AES, os.urandom(16), DATA)
    wrapped_get(kmip, key, wrapping(wrapping_key))
    request = GetRequest(unique_identifier=key, key_wrapping_specification=wrapping(wrapping_key))
    assert refusal(kmip, request) is ResultReason.PERMISSION_DENIED
