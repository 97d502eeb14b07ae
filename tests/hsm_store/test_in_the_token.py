"""What the HSM store puts in the token, seen by opening SoftHSM2 directly with python-pkcs11.

The server keeps symmetric and private keys as token objects whose CKA_ID is the
Unique Identifier, with CKA_SENSITIVE/CKA_EXTRACTABLE from Sensitive/Extractable; a
non-extractable key's value cannot be read even by another logged-in application.
Rolled-back requests leave no token object, and Destroy removes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.messages.payloads import (
    CreateRequest,
    DestroyRequest,
    GetRequest,
    ModifyAttributeRequest,
    RegisterRequest,
    RevokeRequest,
    SetAttributeRequest,
)
from pkcs11_kmip.kmip.messages.structures import RevocationReason
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    ResultReason,
    RevocationReasonCode,
)
from testsupport.hsm_store import attributes_of, create_key, create_pair
from testsupport.server import RunningServer

A = CryptographicAlgorithm
U = CryptographicUsageMask


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("in-the-token") as client:
        yield client


def token_objects(session: Any, uid: str) -> list[Any]:
    return list(session.get_objects({Attribute.ID: uid.encode(), Attribute.TOKEN: True}))


def all_token_keys(session: Any) -> int:
    return len(list(session.get_objects({Attribute.TOKEN: True})))


@pytest.mark.parametrize(("sensitive", "extractable"), [(False, True), (True, True), (False, False)])
def test_a_created_key_is_a_token_object_with_the_flags_asked_for(
    kmip: KmipClient, hsm_session: Any, sensitive: bool, extractable: bool
) -> None:
    uid = create_key(
        kmip, A.AES, 256, U.ENCRYPT | U.DECRYPT, (Tag.SENSITIVE, sensitive), (Tag.EXTRACTABLE, extractable)
    )
    (key,) = token_objects(hsm_session, uid)
    assert key[Attribute.CLASS] == ObjectClass.SECRET_KEY
    assert key[Attribute.SENSITIVE] is sensitive
    assert key[Attribute.EXTRACTABLE] is extractable
    assert key[Attribute.VALUE_LEN] == 32
    assert key[Attribute.LOCAL] is True  # generated inside the token, not imported
    assert (key[Attribute.ENCRYPT], key[Attribute.DECRYPT], key[Attribute.SIGN]) == (True, True, False)
    if sensitive or not extractable:
        with pytest.raises(pkcs11.exceptions.AttributeSensitive):
            key[Attribute.VALUE]
    else:
        assert len(key[Attribute.VALUE]) == 32


@pytest.mark.parametrize(
    ("algorithm", "length", "secret_part"),
    [(A.RSA, 2048, Attribute.PRIVATE_EXPONENT), (A.EC, 256, Attribute.VALUE)],
)
def test_a_key_pairs_private_key_is_in_the_token_and_its_public_key_is_not(
    kmip: KmipClient, hsm_session: Any, algorithm: A, length: int, secret_part: Attribute
) -> None:
    private, public = create_pair(kmip, algorithm, length, (Tag.EXTRACTABLE, False))
    (key,) = token_objects(hsm_session, private)
    assert key[Attribute.CLASS] == ObjectClass.PRIVATE_KEY
    assert key[Attribute.LOCAL] is True  # generated inside the token, not imported
    assert key[Attribute.EXTRACTABLE] is False
    assert key[Attribute.SIGN] is True
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        key[secret_part]
    assert token_objects(hsm_session, public) == []  # the database keeps public keys


def test_the_database_row_holds_no_key_material(kmip: KmipClient, hsm_server: RunningServer) -> None:
    import sqlite3

    from pkcs11_kmip_server.store.sealing import Sealer

    uid = create_key(kmip, A.AES, 128, U.ENCRYPT)
    value: bytes = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    sealer = Sealer.from_file(hsm_server.data_dir / "master.key")
    with sqlite3.connect(hsm_server.data_dir / "kmip.sqlite3") as database:
        (sealed,) = database.execute("SELECT material FROM object WHERE uid = ?", (uid,)).fetchone()
    stored = sealer.open(sealed, uid)
    assert value not in stored
    assert uid.encode() in stored  # the reference: CKA_ID


def test_destroy_destroys_the_token_object(kmip: KmipClient, hsm_session: Any) -> None:
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT)
    kmip.call(
        RevokeRequest(
            unique_identifier=uid,
            revocation_reason=RevocationReason(revocation_reason_code=RevocationReasonCode.KEY_COMPROMISE),
        )
    )
    assert len(token_objects(hsm_session, uid)) == 1
    kmip.call(DestroyRequest(unique_identifier=uid))
    assert token_objects(hsm_session, uid) == []


def test_a_rolled_back_create_leaves_no_token_object(kmip: KmipClient, hsm_session: Any) -> None:
    """A batch that fails with Undo rolls the database back, and the token object it made goes too."""
    before = all_token_keys(hsm_session)
    create = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=attributes_of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, A.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT),
        ),
    )
    items = kmip.batch(
        create,
        GetRequest(unique_identifier="no-such-object"),
        batch_error_continuation_option=BatchErrorContinuationOption.UNDO,
    )
    assert items[1].result_reason is ResultReason.OBJECT_NOT_FOUND
    assert all_token_keys(hsm_session) == before


def test_a_registered_key_is_imported_into_the_token(kmip: KmipClient, hsm_session: Any) -> None:
    block = KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=bytes(range(32))),
        cryptographic_algorithm=A.AES,
        cryptographic_length=256,
    )
    uid = kmip.call(
        RegisterRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            object=SymmetricKey(key_block=block),
            attributes=attributes_of((Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT), (Tag.SENSITIVE, True)),
        )
    ).unique_identifier
    (key,) = token_objects(hsm_session, uid)
    assert key[Attribute.LOCAL] is False  # C_CreateObject, not generated there
    assert key[Attribute.SENSITIVE] is True
    assert key[Attribute.VALUE_LEN] == 32


def test_sensitive_and_extractable_set_through_kmip_reach_the_token_object(
    kmip: KmipClient, hsm_session: Any
) -> None:
    """KMIP's one-way flags (Sensitive false -> true, Extractable true -> false) are PKCS#11's:
    the token object follows once the change is committed, and its value can no longer be read."""
    uid = create_key(kmip, A.AES, 128, U.ENCRYPT)
    (key,) = token_objects(hsm_session, uid)
    assert len(key[Attribute.VALUE]) == 16
    kmip.call(
        SetAttributeRequest(unique_identifier=uid, new_attribute=NewAttribute.of((Tag.SENSITIVE, True)))
    )
    kmip.call(
        ModifyAttributeRequest(unique_identifier=uid, new_attribute=NewAttribute.of((Tag.EXTRACTABLE, False)))
    )
    (key,) = token_objects(hsm_session, uid)
    assert (key[Attribute.SENSITIVE], key[Attribute.EXTRACTABLE]) == (True, False)
    with pytest.raises(pkcs11.exceptions.AttributeSensitive):
        key[Attribute.VALUE]
