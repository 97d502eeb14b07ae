"""The crypto-provider contract, run against every provider (today: the software one).

A provider gets a key record and a checked CipherSpec and must: implement every
mechanism of the table; decrypt what it encrypted; give the same output whether the
data comes in one part or many; refuse a tag that does not verify with Cryptographic
Failure, releasing nothing. An HSM provider joins `PROVIDERS` and must pass the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, PrivateKey, PublicKey, SymmetricKey
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, KeyWrappingData
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    PaddingMethod,
    ResultReason,
    WrappingMethod,
)
from pkcs11_kmip_server.crypto import CipherMechanism, CipherSpec, CryptoProvider
from pkcs11_kmip_server.crypto.mechanisms import MECHANISMS, cipher_spec
from pkcs11_kmip_server.crypto.provider import DigestOperation
from pkcs11_kmip_server.crypto.signatures import (
    CMAC_AES,
    ECDSA,
    ED448,
    ED25519,
    HMAC,
    RSA_PKCS1,
    RSA_PSS,
    SCHEMES,
    MacSpec,
    SignatureSpec,
)
from pkcs11_kmip_server.crypto.software import BUILDERS, SoftwareProvider
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

PROVIDERS: list[Callable[[], CryptoProvider]] = [SoftwareProvider]
RSA_KEY = rsa.generate_private_key(65537, 2048)


def _record(object_type: ObjectType, block: KeyBlock) -> ObjectRecord:
    material = {
        ObjectType.SYMMETRIC_KEY: SymmetricKey,
        ObjectType.PUBLIC_KEY: PublicKey,
        ObjectType.PRIVATE_KEY: PrivateKey,
    }[object_type](key_block=block)
    return ObjectRecord(os.urandom(4).hex(), object_type, "contract", Attributes(), material)


def keys_for(mechanism: CipherMechanism) -> tuple[ObjectRecord, ObjectRecord]:
    """(the key that encrypts, the key that decrypts) for a mechanism."""
    if mechanism.algorithm is CryptographicAlgorithm.RSA:
        public = RSA_KEY.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        private = RSA_KEY.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return (
            _record(ObjectType.PUBLIC_KEY, _block(KeyFormatType.X_509, public, mechanism.algorithm)),
            _record(ObjectType.PRIVATE_KEY, _block(KeyFormatType.PKCS_8, private, mechanism.algorithm)),
        )
    size = min(mechanism.key_lengths) // 8 if mechanism.algorithm is not CryptographicAlgorithm.DES3 else 24
    record = _record(
        ObjectType.SYMMETRIC_KEY, _block(KeyFormatType.RAW, os.urandom(size), mechanism.algorithm)
    )
    return record, record


def _block(key_format: KeyFormatType, material: bytes, algorithm: CryptographicAlgorithm) -> KeyBlock:
    return KeyBlock(
        key_format_type=key_format,
        key_value=KeyValue(key_material=material),
        cryptographic_algorithm=algorithm,
    )


def specs(
    mechanism: CipherMechanism, encrypt: bool, tag: bytes | None = None
) -> tuple[CipherSpec, bytes | None]:
    padding = next(iter(sorted(mechanism.paddings, key=lambda p: p or 0)))
    parameters = CryptographicParameters(
        padding_method=padding,
        random_iv=True,
        hashing_algorithm=HashingAlgorithm.SHA_256 if padding is PaddingMethod.OAEP else None,
    )
    return cipher_spec(
        mechanism,
        parameters,
        encrypt=encrypt,
        iv=None,
        aad=b"additional" if mechanism.authenticated else None,
        tag=tag,
        random_bytes=os.urandom,
    )


def data_for(mechanism: CipherMechanism) -> bytes:
    if mechanism.algorithm is CryptographicAlgorithm.RSA:
        return os.urandom(100)
    return os.urandom(96)  # whole blocks and key-wrap semiblocks


def run(
    provider: CryptoProvider, key: ObjectRecord, spec: CipherSpec, encrypt: bool, parts: list[bytes]
) -> tuple[bytes, bytes | None]:
    operation = provider.cipher(key, spec, encrypt)
    output = b"".join(operation.update(part) for part in parts)
    final = operation.finish()
    return output + final.data, final.tag


def test_the_software_provider_implements_every_mechanism_of_the_table() -> None:
    assert {m.name for m in MECHANISMS} == set(BUILDERS)


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda make: make.__name__)
@pytest.mark.parametrize("mechanism", MECHANISMS, ids=[m.name for m in MECHANISMS])
def test_round_trip_in_one_part_and_in_many(
    make: Callable[[], CryptoProvider], mechanism: CipherMechanism
) -> None:
    provider = make()
    encrypting, decrypting = keys_for(mechanism)
    data = data_for(mechanism)
    spec, iv = specs(mechanism, encrypt=True)
    assert (iv is not None) is mechanism.takes_iv
    sealed, tag = run(provider, encrypting, spec, True, [data])
    assert (tag is not None) is mechanism.authenticated
    rng = random.Random(mechanism.name)
    cuts = sorted(rng.sample(range(len(data)), 5))
    parts = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    if mechanism.algorithm is not CryptographicAlgorithm.RSA:  # RSA and OAEP pad at random
        assert run(provider, encrypting, spec, True, parts) == (sealed, tag)
    back = CipherSpec(**{**spec.__dict__, "tag": tag})
    assert run(provider, decrypting, back, False, [sealed[:7], sealed[7:]])[0] == data


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda make: make.__name__)
@pytest.mark.parametrize("mechanism", [m for m in MECHANISMS if m.authenticated], ids=lambda m: m.name)
def test_a_tag_that_does_not_verify_is_a_cryptographic_failure(
    make: Callable[[], CryptoProvider], mechanism: CipherMechanism
) -> None:
    provider = make()
    key, _ = keys_for(mechanism)
    spec, _iv = specs(mechanism, encrypt=True)
    sealed, tag = run(provider, key, spec, True, [b"authentic"])
    assert tag is not None
    forged = CipherSpec(**{**spec.__dict__, "tag": bytes(len(tag))})
    operation = provider.cipher(key, forged, False)
    operation.update(sealed)
    with pytest.raises(KmipError) as failure:
        operation.finish()
    assert failure.value.reason is ResultReason.CRYPTOGRAPHIC_FAILURE


# --- signatures, MACs and digests: the DigestOperation half of the contract -----------------

SIGNING_KEYS: dict[str, tuple[CryptographicAlgorithm, Any]] = {
    RSA_PKCS1: (CryptographicAlgorithm.RSA, RSA_KEY),
    RSA_PSS: (CryptographicAlgorithm.RSA, RSA_KEY),
    ECDSA: (CryptographicAlgorithm.EC, ec.generate_private_key(ec.SECP384R1())),
    ED25519: (CryptographicAlgorithm.ED25519, ed25519.Ed25519PrivateKey.generate()),
    ED448: (CryptographicAlgorithm.ED448, ed448.Ed448PrivateKey.generate()),
}
DETERMINISTIC = {RSA_PKCS1, ED25519, ED448}


def signing_pair(scheme: str) -> tuple[ObjectRecord, ObjectRecord]:
    """(private key, public key) records for a signature scheme."""
    algorithm, key = SIGNING_KEYS[scheme]
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        _record(ObjectType.PRIVATE_KEY, _block(KeyFormatType.PKCS_8, private, algorithm)),
        _record(ObjectType.PUBLIC_KEY, _block(KeyFormatType.X_509, public, algorithm)),
    )


def fed(operation: DigestOperation, parts: list[bytes]) -> DigestOperation:
    for part in parts:
        operation.update(part)
    return operation


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda make: make.__name__)
@pytest.mark.parametrize("scheme", list(SCHEMES), ids=list(SCHEMES))
def test_signatures_verify_in_one_part_and_in_many(make: Callable[[], CryptoProvider], scheme: str) -> None:
    provider = make()
    private, public = signing_pair(scheme)
    hashing = HashingAlgorithm.SHA_384 if SCHEMES[scheme].hashed else None
    spec = SignatureSpec(scheme, hashing, mgf_hashing=hashing if scheme == RSA_PSS else None)
    data = os.urandom(300)
    parts = [data[:1], data[1:150], b"", data[150:]]
    signature = fed(provider.sign(private, spec, verify=False), [data]).finish()
    if scheme in DETERMINISTIC:
        assert fed(provider.sign(private, spec, verify=False), parts).finish() == signature
    assert fed(provider.sign(public, spec, verify=True), parts).verify(signature)
    changed = bytes([signature[0] ^ 1]) + signature[1:]
    assert not fed(provider.sign(public, spec, verify=True), [data]).verify(changed)
    assert not fed(provider.sign(public, spec, verify=True), [data, b"!"]).verify(signature)


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda make: make.__name__)
def test_macs_and_digests_in_one_part_and_in_many(make: Callable[[], CryptoProvider]) -> None:
    provider = make()
    data = os.urandom(300)
    parts = [data[:100], b"", data[100:]]
    for spec, algorithm in (
        (MacSpec(HMAC, HashingAlgorithm.SHA3_256), CryptographicAlgorithm.HMAC_SHA3_256),
        (MacSpec(CMAC_AES), CryptographicAlgorithm.AES),
    ):
        key = _record(ObjectType.SYMMETRIC_KEY, _block(KeyFormatType.RAW, os.urandom(32), algorithm))
        tag = fed(provider.mac(key, spec), [data]).finish()
        assert fed(provider.mac(key, spec), parts).finish() == tag
        assert fed(provider.mac(key, spec), parts).verify(tag)
        assert not fed(provider.mac(key, spec), parts).verify(tag[:-1])
    digest = fed(provider.digest(HashingAlgorithm.SHA_512_256), parts).finish()
    assert digest == hashlib.new("sha512_256", data).digest()


@pytest.mark.parametrize("make", PROVIDERS, ids=lambda make: make.__name__)
def test_a_key_held_wrapped_is_not_present(make: Callable[[], CryptoProvider]) -> None:
    """A key the server holds only wrapped cannot be used: Key Value Not Present."""
    provider = make()
    private, _public = signing_pair(ED25519)
    assert private.material is not None
    block = private.material.key_block
    wrapping = KeyWrappingData(wrapping_method=WrappingMethod.ENCRYPT)
    wrapped = _record(ObjectType.PRIVATE_KEY, dataclasses.replace(block, key_wrapping_data=wrapping))
    hmac_key = _record(
        ObjectType.SYMMETRIC_KEY,
        dataclasses.replace(
            _block(KeyFormatType.RAW, bytes(32), CryptographicAlgorithm.HMAC_SHA256),
            key_wrapping_data=wrapping,
        ),
    )
    for start in (
        lambda: provider.sign(wrapped, SignatureSpec(ED25519, None), verify=False),
        lambda: provider.mac(hmac_key, MacSpec(HMAC, HashingAlgorithm.SHA_256)),
    ):
        with pytest.raises(KmipError) as failure:
            start()
        assert failure.value.reason is ResultReason.KEY_VALUE_NOT_PRESENT
