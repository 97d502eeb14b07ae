"""What `hooks.wrap_in_token` refuses before any token call, for the cases no server test
reaches: a symmetric wrapping key whose material is in the database (a record made before
the server switched to the HSM store) cannot wrap a Sensitive key the token holds."""

from __future__ import annotations

import pytest

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, KeyFormatType, ObjectType, ResultReason
from pkcs11_kmip_server.crypto.mechanisms import MECHANISMS, CipherSpec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.hsm_store.token import reference_block
from pkcs11_kmip_server.store import ObjectRecord


def _aes_record(uid: str, in_token: bool) -> ObjectRecord:
    attributes = Attributes()
    attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)
    attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, 256)
    attributes.add(Tag.SENSITIVE, True)
    record = ObjectRecord(uid, ObjectType.SYMMETRIC_KEY, "owner", attributes, None)
    block = KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=bytes(32)),
        cryptographic_algorithm=CryptographicAlgorithm.AES,
        cryptographic_length=256,
    )
    record.material = SymmetricKey(key_block=reference_block(record) if in_token else block)
    return record


def _spec(name: str) -> CipherSpec:
    return CipherSpec(mechanism=next(m for m in MECHANISMS if m.name == name))


@pytest.mark.parametrize(
    ("mechanism", "kek_in_token", "reason"),
    [
        ("AES-KW", False, ResultReason.SENSITIVE),  # the key's plaintext would leave the token
        ("AES-KWP", False, ResultReason.SENSITIVE),
        ("AES-GCM", True, ResultReason.FEATURE_NOT_SUPPORTED),  # not a C_WrapKey mechanism here
    ],
)
def test_refused_before_the_token_is_asked(mechanism: str, kek_in_token: bool, reason: ResultReason) -> None:
    key = _aes_record("sealed", in_token=True)
    assert hooks.sealed_in_token(key)
    kek = _aes_record("kek", in_token=kek_in_token)
    with pytest.raises(KmipError) as refused:
        hooks.wrap_in_token(kek, key, _spec(mechanism))
    assert refused.value.reason is reason


def test_only_a_sensitive_key_in_the_token_is_sealed() -> None:
    assert not hooks.sealed_in_token(_aes_record("in-database", in_token=False))
