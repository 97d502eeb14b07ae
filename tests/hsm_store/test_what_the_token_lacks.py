"""Keys of the HSM store used for what PKCS#11 tokens (SoftHSM2) do not offer, over real TLS:
AES-XTS keys are sealed in the database (the token has no XTS); HKDF from a key in the token,
and an HMAC whose hash is longer than the key (RFC 2104 allows it, SoftHSM2's
ulMinKeySize does not), read an Extractable, not Sensitive key out of the token as Get would,
and refuse a key that never leaves it (Feature Not Supported). docs/hsm-store.md."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hsm_store.test_store_contract import key_value
from pkcs11 import Attribute
from server.test_derive_key import derive_request, derived_bytes

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, MACRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DerivationMethod,
    ResultReason,
)
from testsupport.hsm_store import create_key
from testsupport.managed_keys import refusal
from testsupport.server import RunningServer

A = CryptographicAlgorithm
U = CryptographicUsageMask
SENSITIVE = (Tag.SENSITIVE, True)
DATA = b"used for what the token cannot do" * 3


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("what-the-token-lacks") as client:
        yield client


def in_token(session: Any, uid: str) -> bool:
    return bool(list(session.get_objects({Attribute.ID: uid.encode(), Attribute.TOKEN: True})))


def test_an_xts_key_is_sealed_in_the_database_and_encrypts(kmip: KmipClient, hsm_session: Any) -> None:
    """The AX profile's key: AES 256 bits whose Cryptographic Parameters name XTS."""
    xts = CryptographicParameters(block_cipher_mode=BlockCipherMode.XTS)
    uid = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT, (Tag.CRYPTOGRAPHIC_PARAMETERS, xts))
    plain_aes = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT)
    assert not in_token(hsm_session, uid) and in_token(hsm_session, plain_aes)
    tweak = os.urandom(16)
    sealed = kmip.call(EncryptRequest(unique_identifier=uid, data=DATA, iv_counter_nonce=tweak)).data
    expected = Cipher(algorithms.AES(key_value(kmip, uid)), modes.XTS(tweak)).encryptor().update(DATA)
    assert sealed == expected


@pytest.mark.parametrize(
    ("algorithm", "hashing"), [(A.HMAC_SHA384, hashes.SHA384), (A.HMAC_SHA512, hashes.SHA512)]
)
def test_an_hmac_with_a_hash_longer_than_the_key(kmip: KmipClient, algorithm: A, hashing: Any) -> None:
    """A 256-bit HMAC-SHA384/512 key in the token (the native token's generic secret, its
    HMACs with every hash): shorter than the hash, which SoftHSM2 refuses to MAC with."""
    uid = create_key(kmip, algorithm, 256, U.MAC_GENERATE)
    mac = kmip.call(MACRequest(unique_identifier=uid, data=DATA)).mac_data
    local = hmac.HMAC(key_value(kmip, uid), hashing())
    local.update(DATA)
    assert mac == local.finalize()
    kept = create_key(kmip, algorithm, 256, U.MAC_GENERATE, SENSITIVE)
    assert refusal(kmip, MACRequest(unique_identifier=kept, data=DATA)) is ResultReason.FEATURE_NOT_SUPPORTED
    # A key as long as the hash runs in the token, Sensitive or not.
    whole = create_key(kmip, algorithm, 8 * hashing.digest_size, U.MAC_GENERATE, SENSITIVE)
    assert len(kmip.call(MACRequest(unique_identifier=whole, data=DATA)).mac_data) == hashing.digest_size


@pytest.mark.parametrize(("algorithm", "bits"), [(A.AES, 256), (A.HMAC_SHA256, 256)])
def test_hkdf_from_a_key_in_the_token(kmip: KmipClient, hsm_session: Any, algorithm: A, bits: int) -> None:
    uid = create_key(kmip, algorithm, bits, U.DERIVE_KEY)
    assert in_token(hsm_session, uid)
    request = derive_request(kmip, [uid], DerivationMethod.HKDF, 256, salt=b"salt", derivation_data=b"info")
    expected = HKDF(hashes.SHA256(), 32, b"salt", b"info").derive(key_value(kmip, uid))
    assert derived_bytes(kmip, request) == expected
    kept = create_key(kmip, algorithm, bits, U.DERIVE_KEY, SENSITIVE)
    request = derive_request(kmip, [kept], DerivationMethod.HKDF, 256, salt=b"salt")
    assert refusal(kmip, request) is ResultReason.FEATURE_NOT_SUPPORTED


@pytest.mark.parametrize("sensitive", [False, True])
def test_xts_and_hmac_with_an_aes_key_in_the_token(
    kmip: KmipClient, hsm_session: Any, sensitive: bool
) -> None:
    """An AES key made without XTS in its parameters (in the token) asked for XTS, and an AES
    key asked for HMAC-SHA256 (PKCS#11 keeps AES and HMAC key types apart): done in the
    server as the database store does them while the key may leave, else Feature Not Supported."""
    extra = (SENSITIVE,) if sensitive else ()
    xts_key = create_key(kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT, *extra)
    mac_key = create_key(kmip, A.AES, 256, U.MAC_GENERATE, *extra)
    assert in_token(hsm_session, xts_key) and in_token(hsm_session, mac_key)
    tweak = os.urandom(16)
    xts = EncryptRequest(
        unique_identifier=xts_key,
        data=DATA,
        iv_counter_nonce=tweak,
        cryptographic_parameters=CryptographicParameters(block_cipher_mode=BlockCipherMode.XTS),
    )
    hmac_sha256 = MACRequest(
        unique_identifier=mac_key,
        data=DATA,
        cryptographic_parameters=CryptographicParameters(cryptographic_algorithm=A.HMAC_SHA256),
    )
    if sensitive:
        assert refusal(kmip, xts) is ResultReason.FEATURE_NOT_SUPPORTED
        assert refusal(kmip, hmac_sha256) is ResultReason.FEATURE_NOT_SUPPORTED
        return
    expected = Cipher(algorithms.AES(key_value(kmip, xts_key)), modes.XTS(tweak)).encryptor().update(DATA)
    assert kmip.call(xts).data == expected
    local = hmac.HMAC(key_value(kmip, mac_key), hashes.SHA256())
    local.update(DATA)
    assert kmip.call(hmac_sha256).mac_data == local.finalize()
