"""The store contract, run against both store kinds: key material in the database, or in SoftHSM2.

Each test is parametrized over `store_server` (tests/hsm_store/conftest.py), a real
server over real TLS. What the server computes is checked with pyca/cryptography and
the key's own value (Get, for extractable keys) or its public key, so the HSM store is
held to the same answers as the database store, not only to round trips.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac, keywrap, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, PublicKey, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import (
    DecryptRequest,
    DestroyRequest,
    EncryptRequest,
    GetRequest,
    LocateRequest,
    MACRequest,
    MACVerifyRequest,
    RegisterRequest,
    RevokeRequest,
    SetAttributeRequest,
    SignatureVerifyRequest,
    SignRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicDomainParameters,
    CryptographicParameters,
    EncryptionKeyInformation,
    KeyWrappingSpecification,
    MACSignatureKeyInformation,
    Name,
    RevocationReason,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DigitalSignatureAlgorithm,
    EncodingOption,
    HashingAlgorithm,
    KeyFormatType,
    MaskGenerator,
    NameType,
    ObjectType,
    PaddingMethod,
    RecommendedCurve,
    ResultReason,
    RevocationReasonCode,
    WrappingMethod,
)
from testsupport.hsm_store import active, attributes_of, create_key, create_pair
from testsupport.server import RunningServer

A = CryptographicAlgorithm
U = CryptographicUsageMask
M = BlockCipherMode


@pytest.fixture
def kmip(store_server: RunningServer) -> Iterator[KmipClient]:
    with store_server.client("store-contract") as client:
        yield client


def key_value(kmip: KmipClient, uid: str) -> bytes:
    value: bytes = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    return value


def refusal(kmip: KmipClient, payload: object) -> ResultReason | None:
    with pytest.raises(KmipResultError) as failure:
        kmip.call(payload)  # type: ignore[arg-type]
    return failure.value.reason


def encrypt(
    kmip: KmipClient,
    uid: str,
    data: bytes,
    parameters: CryptographicParameters,
    iv: bytes | None,
    aad: bytes | None = None,
) -> tuple[bytes, bytes | None]:
    response = kmip.call(
        EncryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=parameters,
            data=data,
            iv_counter_nonce=iv,
            authenticated_encryption_additional_data=aad,
        )
    )
    return response.data, response.authenticated_encryption_tag


def decrypt(
    kmip: KmipClient,
    uid: str,
    data: bytes,
    parameters: CryptographicParameters,
    iv: bytes | None,
    tag: bytes | None = None,
    aad: bytes | None = None,
) -> bytes:
    response = kmip.call(
        DecryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=parameters,
            data=data,
            iv_counter_nonce=iv,
            authenticated_encryption_additional_data=aad,
            authenticated_encryption_tag=tag,
        )
    )
    result: bytes = response.data
    return result


# --- symmetric keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "padding_method", "iv_size", "data_size"),
    [
        (M.ECB, None, 0, 32),
        (M.ECB, PaddingMethod.PKCS5, 0, 21),
        (M.CBC, None, 16, 48),
        (M.CBC, PaddingMethod.PKCS5, 16, 21),
        (M.CTR, None, 16, 37),
        (M.GCM, None, 12, 37),
    ],
)
def test_aes_encrypts_as_pyca_does_with_the_key_get_gives(
    kmip: KmipClient, mode: M, padding_method: PaddingMethod | None, iv_size: int, data_size: int
) -> None:
    uid = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT)
    key = key_value(kmip, uid)
    assert len(key) == 32
    data, iv = os.urandom(data_size), os.urandom(iv_size) or None
    parameters = CryptographicParameters(
        block_cipher_mode=mode, padding_method=padding_method, tag_length=16 if mode is M.GCM else None
    )
    ciphertext, tag = encrypt(kmip, uid, data, parameters, iv)
    assert decrypt(kmip, uid, ciphertext, parameters, iv, tag) == data
    plain = data
    if padding_method is PaddingMethod.PKCS5:
        count = 16 - len(data) % 16
        plain = data + bytes([count]) * count
    if mode is M.GCM:
        sealing = Cipher(algorithms.AES(key), modes.GCM(iv or b"")).encryptor()
        expected = sealing.update(plain) + sealing.finalize()
        assert (ciphertext, tag) == (expected, sealing.tag)
        return
    local_modes: dict[M, Any] = {
        M.ECB: modes.ECB(),
        M.CBC: modes.CBC(iv or b""),
        M.CTR: modes.CTR(iv or b""),
    }
    encryptor = Cipher(algorithms.AES(key), local_modes[mode]).encryptor()
    assert ciphertext == encryptor.update(plain) + encryptor.finalize()


@pytest.mark.parametrize(("iv_size", "aad_size"), [(8, 0), (13, 20), (60, 20), (128, 0)])
def test_gcm_with_any_iv_length_and_aad_is_what_pyca_gives(
    kmip: KmipClient, iv_size: int, aad_size: int
) -> None:
    """SP 800-38D takes IVs of any length (not 12 bytes only; CS-BC-M-GCM-2 sends 60)."""
    uid = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT)
    key = key_value(kmip, uid)
    data, iv, aad = os.urandom(37), os.urandom(iv_size), os.urandom(aad_size) or None
    parameters = CryptographicParameters(block_cipher_mode=M.GCM, tag_length=16)
    sealing = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    sealing.authenticate_additional_data(aad or b"")
    expected = sealing.update(data) + sealing.finalize()
    assert encrypt(kmip, uid, data, parameters, iv, aad) == (expected, sealing.tag)
    assert decrypt(kmip, uid, expected, parameters, iv, sealing.tag, aad) == data


def test_a_gcm_tag_that_does_not_authenticate_is_a_cryptographic_failure(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT | U.DECRYPT)
    parameters = CryptographicParameters(block_cipher_mode=M.GCM, tag_length=16)
    iv = os.urandom(12)
    ciphertext, tag = encrypt(kmip, uid, b"attack at dawn", parameters, iv)
    assert tag is not None
    bad = bytes([tag[0] ^ 1]) + tag[1:]
    reason = refusal(
        kmip,
        DecryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=parameters,
            data=ciphertext,
            iv_counter_nonce=iv,
            authenticated_encryption_tag=bad,
        ),
    )
    assert reason is ResultReason.CRYPTOGRAPHIC_FAILURE


def test_unpadded_cbc_of_a_partial_block_is_an_invalid_field(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT | U.DECRYPT)
    parameters = CryptographicParameters(block_cipher_mode=M.CBC)
    reason = refusal(
        kmip,
        EncryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=parameters,
            data=b"x" * 17,
            iv_counter_nonce=bytes(16),
        ),
    )
    assert reason is ResultReason.INVALID_FIELD


def test_a_non_extractable_key_works_but_never_leaves(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT, (Tag.EXTRACTABLE, False))
    parameters = CryptographicParameters(block_cipher_mode=M.CBC, padding_method=PaddingMethod.PKCS5)
    ciphertext, _ = encrypt(kmip, uid, b"still usable", parameters, bytes(16))
    assert decrypt(kmip, uid, ciphertext, parameters, bytes(16)) == b"still usable"
    assert refusal(kmip, GetRequest(unique_identifier=uid)) is ResultReason.NOT_EXTRACTABLE


def test_a_sensitive_key_does_not_leave_in_the_clear(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT | U.DECRYPT, (Tag.SENSITIVE, True))
    assert refusal(kmip, GetRequest(unique_identifier=uid)) is ResultReason.SENSITIVE


def test_a_registered_key_encrypts_as_the_key_it_was_given(kmip: KmipClient) -> None:
    key = os.urandom(16)
    block = KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=key),
        cryptographic_algorithm=A.AES,
        cryptographic_length=128,
    )
    uid = kmip.call(
        RegisterRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            object=SymmetricKey(key_block=block),
            attributes=attributes_of((Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT | U.DECRYPT), active()),
        )
    ).unique_identifier
    parameters = CryptographicParameters(block_cipher_mode=M.ECB)
    ciphertext, _ = encrypt(kmip, uid, bytes(16), parameters, None)
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    assert ciphertext == encryptor.update(bytes(16)) + encryptor.finalize()
    assert key_value(kmip, uid) == key


def test_hmac_is_pycas_hmac_with_the_key(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.HMAC_SHA256, 256, U.MAC_GENERATE | U.MAC_VERIFY)
    parameters = CryptographicParameters(cryptographic_algorithm=A.HMAC_SHA256)
    data = os.urandom(100)
    mac = kmip.call(
        MACRequest(unique_identifier=uid, cryptographic_parameters=parameters, data=data)
    ).mac_data
    local = hmac.HMAC(key_value(kmip, uid), hashes.SHA256())
    local.update(data)
    assert mac == local.finalize()
    verified = kmip.call(
        MACVerifyRequest(unique_identifier=uid, cryptographic_parameters=parameters, data=data, mac_data=mac)
    )
    assert verified.validity_indicator.name == "VALID"


# --- key pairs -------------------------------------------------------------------------------------


def sign(kmip: KmipClient, uid: str, parameters: CryptographicParameters, data: bytes) -> bytes:
    request = SignRequest(unique_identifier=uid, cryptographic_parameters=parameters, data=data)
    signature: bytes = kmip.call(request).signature_data
    return signature


def public_key(kmip: KmipClient, uid: str) -> object:
    der = kmip.call(GetRequest(unique_identifier=uid, key_format_type=KeyFormatType.X_509)).object
    return serialization.load_der_public_key(der.key_block.key_value.key_material)


@pytest.mark.parametrize(
    ("padding_method", "hashing"),
    [(PaddingMethod.PKCS1_V1_5, HashingAlgorithm.SHA_256), (PaddingMethod.PSS, HashingAlgorithm.SHA_384)],
)
def test_rsa_signatures_verify_with_the_public_key(
    kmip: KmipClient, padding_method: PaddingMethod, hashing: HashingAlgorithm
) -> None:
    private, public = create_pair(kmip, A.RSA, 2048)
    parameters = CryptographicParameters(
        padding_method=padding_method,
        hashing_algorithm=hashing,
        cryptographic_algorithm=A.RSA,
        mask_generator_hashing_algorithm=hashing if padding_method is PaddingMethod.PSS else None,
    )
    data = os.urandom(300)
    signature = sign(kmip, private, parameters, data)
    key = public_key(kmip, public)
    assert isinstance(key, rsa.RSAPublicKey)
    local_hash = hashes.SHA256() if hashing is HashingAlgorithm.SHA_256 else hashes.SHA384()
    scheme: padding.AsymmetricPadding = (
        padding.PKCS1v15()
        if padding_method is PaddingMethod.PKCS1_V1_5
        else padding.PSS(mgf=padding.MGF1(local_hash), salt_length=padding.PSS.AUTO)
    )
    key.verify(signature, data, scheme, local_hash)
    verified = kmip.call(
        SignatureVerifyRequest(
            unique_identifier=public, cryptographic_parameters=parameters, data=data, signature_data=signature
        )
    )
    assert verified.validity_indicator.name == "VALID"


@pytest.mark.parametrize("hashing", [HashingAlgorithm.SHA_1, HashingAlgorithm.SHA_256])
def test_rsa_oaep_decrypts_what_the_public_key_encrypted(
    kmip: KmipClient, store_kind: str, hashing: HashingAlgorithm
) -> None:
    """SoftHSM2 takes OAEP with SHA-1 only: with other hashes the HSM store decrypts in the
    server with a key that may leave the token, as Get would give it, and refuses one that
    never leaves (Feature Not Supported)."""
    private, public = create_pair(kmip, A.RSA, 2048)
    key = public_key(kmip, public)
    assert isinstance(key, rsa.RSAPublicKey)
    local = hashes.SHA1() if hashing is HashingAlgorithm.SHA_1 else hashes.SHA256()
    ciphertext = key.encrypt(b"a secret", padding.OAEP(mgf=padding.MGF1(local), algorithm=local, label=None))
    parameters = CryptographicParameters(
        padding_method=PaddingMethod.OAEP,
        hashing_algorithm=hashing,
        mask_generator_hashing_algorithm=hashing,
        cryptographic_algorithm=A.RSA,
    )
    assert decrypt(kmip, private, ciphertext, parameters, None) == b"a secret"
    sensitive = NewAttribute.of((Tag.SENSITIVE, True))
    kmip.call(SetAttributeRequest(unique_identifier=private, new_attribute=sensitive))
    request = DecryptRequest(unique_identifier=private, cryptographic_parameters=parameters, data=ciphertext)
    if store_kind == "hsm" and hashing is not HashingAlgorithm.SHA_1:
        assert refusal(kmip, request) is ResultReason.FEATURE_NOT_SUPPORTED
    else:
        assert kmip.call(request).data == b"a secret"


def test_ecdsa_signatures_verify_with_the_public_key(kmip: KmipClient) -> None:
    private, public = create_pair(
        kmip,
        A.EC,
        256,
        (
            Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
            CryptographicDomainParameters(recommended_curve=RecommendedCurve.P_256),
        ),
    )
    parameters = CryptographicParameters(
        digital_signature_algorithm=DigitalSignatureAlgorithm.ECDSA_WITH_SHA256
    )
    data = os.urandom(64)
    signature = sign(kmip, private, parameters, data)
    key = public_key(kmip, public)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature, data, ec.ECDSA(hashes.SHA256()))


def test_an_extractable_private_key_is_the_public_keys_other_half(kmip: KmipClient) -> None:
    private, public = create_pair(kmip, A.RSA, 2048)
    got = kmip.call(GetRequest(unique_identifier=private, key_format_type=KeyFormatType.PKCS_8)).object
    key = serialization.load_der_private_key(got.key_block.key_value.key_material, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    other = public_key(kmip, public)
    assert isinstance(other, rsa.RSAPublicKey)
    assert key.public_key().public_numbers() == other.public_numbers()


def test_a_non_extractable_private_key_signs_but_never_leaves(kmip: KmipClient) -> None:
    private, _ = create_pair(kmip, A.RSA, 2048, (Tag.EXTRACTABLE, False))
    parameters = CryptographicParameters(
        padding_method=PaddingMethod.PKCS1_V1_5,
        hashing_algorithm=HashingAlgorithm.SHA_256,
        cryptographic_algorithm=A.RSA,
    )
    assert sign(kmip, private, parameters, b"x")
    assert refusal(kmip, GetRequest(unique_identifier=private)) is ResultReason.NOT_EXTRACTABLE


# --- lifecycle and search --------------------------------------------------------------------------


def test_destroy_removes_the_value(kmip: KmipClient) -> None:
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT | U.DECRYPT)
    kmip.call(
        RevokeRequest(
            unique_identifier=uid,
            revocation_reason=RevocationReason(
                revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION
            ),
        )
    )
    kmip.call(DestroyRequest(unique_identifier=uid))
    assert refusal(kmip, GetRequest(unique_identifier=uid)) is ResultReason.OBJECT_DESTROYED


def test_locate_finds_a_key_by_name(kmip: KmipClient) -> None:
    name = f"contract-{os.urandom(4).hex()}"
    uid = create_key(
        kmip,
        A.AES,
        128,
        U.ENCRYPT,
        (Tag.NAME, Name(name_value=name, name_type=NameType.UNINTERPRETED_TEXT_STRING)),
    )
    found = kmip.call(
        LocateRequest(
            attributes=attributes_of(
                (Tag.NAME, Name(name_value=name, name_type=NameType.UNINTERPRETED_TEXT_STRING))
            )
        )
    )
    assert found.unique_identifiers == [uid]


# --- wrapping --------------------------------------------------------------------------------------


KW_PARAMETERS = (Tag.CRYPTOGRAPHIC_PARAMETERS, CryptographicParameters(block_cipher_mode=M.NIST_KEY_WRAP))


def _wrapped_get(kmip: KmipClient, uid: str, kek: str, mode: M = M.NIST_KEY_WRAP) -> GetRequest:
    return GetRequest(
        unique_identifier=uid,
        key_wrapping_specification=KeyWrappingSpecification(
            wrapping_method=WrappingMethod.ENCRYPT,
            encryption_key_information=EncryptionKeyInformation(
                unique_identifier=kek,
                cryptographic_parameters=CryptographicParameters(block_cipher_mode=mode),
            ),
            encoding_option=EncodingOption.NO_ENCODING,
        ),
    )


def test_get_wraps_a_key_with_aes_kw_as_pyca_does(kmip: KmipClient) -> None:
    kek = create_key(kmip, A.AES, 256, U.WRAP_KEY | U.UNWRAP_KEY, KW_PARAMETERS)
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT)
    wrapped = kmip.call(_wrapped_get(kmip, uid, kek)).object.key_block.key_value
    assert keywrap.aes_key_unwrap(key_value(kmip, kek), wrapped) == key_value(kmip, uid)


@pytest.mark.parametrize("mode", [M.NIST_KEY_WRAP, M.AES_KEY_WRAP_PADDING])
def test_a_sensitive_key_leaves_wrapped_and_is_the_key_that_encrypts(kmip: KmipClient, mode: M) -> None:
    """On the HSM store both keys are token objects and the token wraps (C_WrapKey): the
    value never leaves it, yet what pyca unwraps is the key that encrypts, on both stores."""
    kek = create_key(
        kmip,
        A.AES,
        256,
        U.WRAP_KEY | U.UNWRAP_KEY,
        (Tag.CRYPTOGRAPHIC_PARAMETERS, CryptographicParameters(block_cipher_mode=mode)),
    )
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT, (Tag.SENSITIVE, True))
    assert refusal(kmip, GetRequest(unique_identifier=uid)) is ResultReason.SENSITIVE
    request = _wrapped_get(kmip, uid, kek, mode)
    block = kmip.call(request).object.key_block
    assert block.key_format_type is KeyFormatType.RAW and block.cryptographic_algorithm is A.AES
    data = block.key_wrapping_data
    assert data.encryption_key_information.unique_identifier == kek
    assert data.encoding_option is EncodingOption.NO_ENCODING
    unwrap = keywrap.aes_key_unwrap if mode is M.NIST_KEY_WRAP else keywrap.aes_key_unwrap_with_padding
    key = unwrap(key_value(kmip, kek), block.key_value)
    assert _encrypts_as(kmip, uid, key)


def test_a_sensitive_key_leaves_encrypted_then_maced(kmip: KmipClient) -> None:
    """Encrypt then MAC/sign: the HMAC covers the wrapped bytes, so the token's wrapping takes it."""
    kek = create_key(kmip, A.AES, 256, U.WRAP_KEY | U.UNWRAP_KEY, KW_PARAMETERS)
    mac_key = create_key(kmip, A.HMAC_SHA256, 256, U.MAC_GENERATE)
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT, (Tag.SENSITIVE, True))
    request = _wrapped_get(kmip, uid, kek)
    request.key_wrapping_specification.wrapping_method = WrappingMethod.ENCRYPT_THEN_MAC_SIGN
    request.key_wrapping_specification.mac_signature_key_information = MACSignatureKeyInformation(
        unique_identifier=mac_key
    )
    block = kmip.call(request).object.key_block
    expected = hmac.HMAC(key_value(kmip, mac_key), hashes.SHA256())
    expected.update(block.key_value)
    assert block.key_wrapping_data.mac_signature == expected.finalize()
    assert _encrypts_as(kmip, uid, keywrap.aes_key_unwrap(key_value(kmip, kek), block.key_value))


def _encrypts_as(kmip: KmipClient, uid: str, key: bytes) -> bool:
    """Whether the managed AES key `uid` encrypts a block as `key` does under pyca."""
    block = os.urandom(16)
    ciphertext, _ = encrypt(kmip, uid, block, CryptographicParameters(block_cipher_mode=M.ECB), None)
    local = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return ciphertext == local.update(block) + local.finalize()


def test_a_sensitive_key_leaves_wrapped_by_an_rsa_public_key(kmip: KmipClient) -> None:
    """RSA-OAEP (SHA-1: what SoftHSM2 takes) with a public key the database keeps: on the HSM
    store the token wraps with it as a session object; pyca's private key unwraps the key."""
    private = rsa.generate_private_key(65537, 2048)
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    oaep = CryptographicParameters(
        padding_method=PaddingMethod.OAEP,
        hashing_algorithm=HashingAlgorithm.SHA_1,
        mask_generator=MaskGenerator.MFG1,
        mask_generator_hashing_algorithm=HashingAlgorithm.SHA_1,
    )
    public = kmip.call(
        RegisterRequest(
            object_type=ObjectType.PUBLIC_KEY,
            object=PublicKey(
                key_block=KeyBlock(
                    key_format_type=KeyFormatType.X_509,
                    key_value=KeyValue(key_material=der),
                    cryptographic_algorithm=A.RSA,
                    cryptographic_length=2048,
                )
            ),
            attributes=attributes_of(
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.WRAP_KEY), (Tag.CRYPTOGRAPHIC_PARAMETERS, oaep), active()
            ),
        )
    ).unique_identifier
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT, (Tag.SENSITIVE, True))
    request = _wrapped_get(kmip, uid, public)
    request.key_wrapping_specification.encryption_key_information.cryptographic_parameters = oaep
    wrapped = kmip.call(request).object.key_block.key_value
    key = private.decrypt(
        wrapped, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    )
    assert _encrypts_as(kmip, uid, key)


def test_a_sensitive_private_key_leaves_wrapped_as_pkcs8_only_as_rfc_5649(
    kmip: KmipClient, store_kind: str
) -> None:
    """AES-KWP of a Sensitive RSA private key: PKCS#8, whose public numbers are those of the
    pair's public key, on the database store. On the HSM store the token builds the PKCS#8,
    whose length the server cannot know, and SoftHSM2's CKM_AES_KEY_WRAP_PAD zero-pads it to
    whole 8-byte blocks first (not RFC 5649): Feature Not Supported, never other bytes."""
    kek = create_key(
        kmip,
        A.AES,
        256,
        U.WRAP_KEY | U.UNWRAP_KEY,
        (Tag.CRYPTOGRAPHIC_PARAMETERS, CryptographicParameters(block_cipher_mode=M.AES_KEY_WRAP_PADDING)),
    )
    private_uid, public_uid = create_pair(kmip, A.RSA, 2048)
    sensitive = NewAttribute.of((Tag.SENSITIVE, True))
    kmip.call(SetAttributeRequest(unique_identifier=private_uid, new_attribute=sensitive))
    request = _wrapped_get(kmip, private_uid, kek, M.AES_KEY_WRAP_PADDING)
    request.key_format_type = KeyFormatType.PKCS_8
    if store_kind == "hsm":
        assert refusal(kmip, request) is ResultReason.FEATURE_NOT_SUPPORTED
        return
    block = kmip.call(request).object.key_block
    assert block.key_format_type is KeyFormatType.PKCS_8
    der = keywrap.aes_key_unwrap_with_padding(key_value(kmip, kek), block.key_value)
    private = serialization.load_der_private_key(der, None)
    x509 = GetRequest(unique_identifier=public_uid, key_format_type=KeyFormatType.X_509)
    public = serialization.load_der_public_key(kmip.call(x509).object.key_block.key_value.key_material)
    assert private.public_key().public_numbers() == public.public_numbers()


def test_a_sensitive_key_is_wrapped_only_as_the_token_can(kmip: KmipClient) -> None:
    """What a wrapping of the bare value cannot give is refused alike on both stores: a
    non-extractable key (Not Extractable), wrapping of the TTLV encoding (Encoding Option
    Error on the HSM store: the token wraps the value alone; the database store wraps it)."""
    kek = create_key(kmip, A.AES, 256, U.WRAP_KEY | U.UNWRAP_KEY, KW_PARAMETERS)
    sealed = create_key(kmip, A.AES, 128, U.ENCRYPT, (Tag.SENSITIVE, True), (Tag.EXTRACTABLE, False))
    assert refusal(kmip, _wrapped_get(kmip, sealed, kek)) is ResultReason.NOT_EXTRACTABLE


def test_what_the_token_cannot_wrap_of_a_sensitive_key(kmip: KmipClient, store_kind: str) -> None:
    """The differences left (docs/hsm-store.md): C_WrapKey wraps the bare value as the token
    holds it, so the TTLV encoding, another Key Format Type and a MAC of the plaintext are
    refused on the HSM store with the reason of each; the database store gives them."""
    kek = create_key(kmip, A.AES, 256, U.WRAP_KEY | U.UNWRAP_KEY, KW_PARAMETERS)
    mac_key = create_key(kmip, A.HMAC_SHA256, 256, U.MAC_GENERATE)
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT, (Tag.SENSITIVE, True))
    ttlv = _wrapped_get(kmip, uid, kek)
    ttlv.key_wrapping_specification.encoding_option = EncodingOption.TTLV_ENCODING
    transparent = _wrapped_get(kmip, uid, kek)
    transparent.key_format_type = KeyFormatType.TRANSPARENT_SYMMETRIC_KEY  # a structure: TTLV encoded
    transparent.key_wrapping_specification.encoding_option = EncodingOption.TTLV_ENCODING
    mac_then_encrypt = _wrapped_get(kmip, uid, kek)
    mac_then_encrypt.key_wrapping_specification.wrapping_method = WrappingMethod.MAC_SIGN_THEN_ENCRYPT
    mac_then_encrypt.key_wrapping_specification.mac_signature_key_information = MACSignatureKeyInformation(
        unique_identifier=mac_key
    )
    cases = [
        (ttlv, ResultReason.ENCODING_OPTION_ERROR),
        (transparent, ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED),
        (mac_then_encrypt, ResultReason.SENSITIVE),
    ]
    for request, reason in cases:
        if store_kind == "hsm":
            assert refusal(kmip, request) is reason
        else:
            assert kmip.call(request).object.key_block.key_wrapping_data is not None
