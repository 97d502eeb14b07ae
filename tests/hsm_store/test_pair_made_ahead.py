"""The HSM store's key pairs are generated in the token before the write transaction.

Create Key Pair's preparer (operations.prepares) makes the private key in the token
under a CKA_ID of its own (`made-ahead:...`); the record stored in the transaction takes
it (CKA_ID becomes the Unique Identifier, CKA_LABEL its Name). A key made ahead that no
record takes, because the request failed in its transaction (its Name taken meanwhile),
its batch stopped before it, or the transaction rolled back after taking it, must be
destroyed in the token, never left behind. Seen by opening SoftHSM2 directly.

The Name taken "meanwhile" is taken by an earlier item of the same batch: the
preparers' checks run before any item does, so the pair is made ahead, and the
handler then meets the Name in use, as it would after another client's request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pkcs11 import Attribute

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes
from pkcs11_kmip.kmip.messages.payloads import (
    CreateKeyPairRequest,
    CreateRequest,
    CreateResponse,
    GetRequest,
    ReKeyKeyPairRequest,
)
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    NameType,
    ObjectType,
    ResultReason,
    ResultStatus,
)
from testsupport.hsm_store import attributes_of
from testsupport.server import RunningServer

A = CryptographicAlgorithm
U = CryptographicUsageMask
AHEAD = b"made-ahead:"


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("made-ahead") as client:
        yield client


def token_ids(session: Any) -> list[bytes]:
    """The CKA_ID of every token object."""
    return [bytes(key[Attribute.ID]) for key in session.get_objects({Attribute.TOKEN: True})]


def named(value: str) -> tuple[int, object]:
    return Tag.NAME, Name(name_value=value, name_type=NameType.UNINTERPRETED_TEXT_STRING)


def ec_pair(*private: tuple[int, object]) -> CreateKeyPairRequest:
    return CreateKeyPairRequest(
        common_attributes=attributes_of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, A.EC), (Tag.CRYPTOGRAPHIC_LENGTH, 256), kind=CommonAttributes
        ),
        private_key_attributes=attributes_of(
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.SIGN), *private, kind=PrivateKeyAttributes
        ),
        public_key_attributes=attributes_of(
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.VERIFY), kind=PublicKeyAttributes
        ),
    )


def aes_named(value: str) -> CreateRequest:
    return CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=attributes_of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, A.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.ENCRYPT),
            named(value),
        ),
    )


def test_the_stored_pair_takes_the_key_made_ahead(kmip: KmipClient, hsm_session: Any) -> None:
    before = token_ids(hsm_session)
    response = kmip.call(ec_pair(named("pair-ahead-taken")))
    uid = response.private_key_unique_identifier
    (key,) = hsm_session.get_objects({Attribute.ID: uid.encode(), Attribute.TOKEN: True})
    assert key[Attribute.LABEL] == "pair-ahead-taken"
    assert key[Attribute.LOCAL] is True  # generated there
    after = token_ids(hsm_session)
    assert sorted(after) == sorted([*before, uid.encode()])
    assert not any(ident.startswith(AHEAD) for ident in after)


def test_a_pair_whose_name_was_taken_meanwhile_leaves_nothing_in_the_token(
    kmip: KmipClient, hsm_session: Any
) -> None:
    before = token_ids(hsm_session)
    first, second = kmip.batch(
        aes_named("pair-ahead-contested"),
        ec_pair(named("pair-ahead-contested")),
        batch_error_continuation_option=BatchErrorContinuationOption.CONTINUE,
    )
    assert first.result_status is ResultStatus.SUCCESS
    assert second.result_reason is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    assert isinstance(first.response_payload, CreateResponse)
    aes = str(first.response_payload.unique_identifier).encode()
    assert sorted(token_ids(hsm_session)) == sorted([*before, aes])  # the AES key, no private key


def test_a_pair_after_a_failed_item_of_a_stopped_batch_leaves_nothing(
    kmip: KmipClient, hsm_session: Any
) -> None:
    before = token_ids(hsm_session)
    first, *rest = kmip.batch(
        GetRequest(unique_identifier="no-such-object"),
        ec_pair(),
        batch_error_continuation_option=BatchErrorContinuationOption.STOP,
    )
    assert first.result_reason is ResultReason.OBJECT_NOT_FOUND
    assert all(item.result_status is not ResultStatus.SUCCESS for item in rest)
    assert sorted(token_ids(hsm_session)) == sorted(before)


def test_a_taken_pair_rolled_back_leaves_nothing(kmip: KmipClient, hsm_session: Any) -> None:
    before = token_ids(hsm_session)
    first, second = kmip.batch(
        ec_pair(),
        GetRequest(unique_identifier="no-such-object"),
        batch_error_continuation_option=BatchErrorContinuationOption.UNDO,
    )
    assert first.result_status is ResultStatus.OPERATION_UNDONE
    assert second.result_reason is ResultReason.OBJECT_NOT_FOUND
    assert sorted(token_ids(hsm_session)) == sorted(before)


def test_re_key_key_pair_takes_the_key_made_ahead_too(kmip: KmipClient, hsm_session: Any) -> None:
    old = kmip.call(ec_pair(named("pair-ahead-rekeyed")))
    before = token_ids(hsm_session)
    new = kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=old.private_key_unique_identifier))
    uid = new.private_key_unique_identifier
    (key,) = hsm_session.get_objects({Attribute.ID: uid.encode(), Attribute.TOKEN: True})
    assert key[Attribute.LABEL] == "pair-ahead-rekeyed"  # the Name moved to the replacement
    assert sorted(token_ids(hsm_session)) == sorted([*before, uid.encode()])
