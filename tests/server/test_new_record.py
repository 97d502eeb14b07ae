"""objects.new_record: the attributes every new object gets, in the order the store keeps
them (the attribute blob's bytes depend on it), and requested_attributes' checks. Written
out entry by entry, so that a shared or precomputed entry cannot drift from the spec."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.attributes import TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import Certificate, KeyBlock, KeyValue, SecretData, SymmetricKey
from pkcs11_kmip.kmip.messages.structures import Digest, Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    KeyFormatType,
    NameType,
    ObjectType,
    Operation,
    ProtectionStorageMask,
    ResultReason,
    SecretDataType,
    State,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.objects import SERVER_RNG, new_record, requested_attributes
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
KEY = bytes(range(32))


@pytest.fixture
def context(tmp_path: Path) -> Iterator[RequestContext]:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    with store.session(write=False) as session:
        yield RequestContext("alice", (2, 1), NOW, session, operation=Operation.CREATE)
    store.close()


def pairs(attributes: Attributes) -> list[tuple[int, Any]]:
    return [(int(tag), value) for tag, value in attributes]


def head(uid: str, object_type: ObjectType) -> list[tuple[int, Any]]:
    return [
        (Tag.UNIQUE_IDENTIFIER, uid),
        (Tag.SHORT_UNIQUE_IDENTIFIER, hashlib.sha256(uid.encode()).digest()),
        (Tag.OBJECT_TYPE, object_type),
    ]


DATES = [(Tag.INITIAL_DATE, NOW), (Tag.LAST_CHANGE_DATE, NOW), (Tag.ORIGINAL_CREATION_DATE, NOW)]


def aes_key() -> SymmetricKey:
    block = KeyBlock(
        key_format_type=KeyFormatType.RAW,
        key_value=KeyValue(key_material=KEY),
        cryptographic_algorithm=CryptographicAlgorithm.AES,
        cryptographic_length=256,
    )
    return SymmetricKey(key_block=block)


def test_a_created_key_gets_the_server_set_attributes_in_order(context: RequestContext) -> None:
    name = Name(name_value="k1", name_type=NameType.UNINTERPRETED_TEXT_STRING)
    requested = Attributes.of(
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.CRYPTOGRAPHIC_LENGTH, 256),
        (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT),
        (Tag.NAME, name),
    )
    record = new_record(context, ObjectType.SYMMETRIC_KEY, aes_key(), requested, generated=True)
    digest = Digest(
        hashing_algorithm=HashingAlgorithm.SHA_256,
        digest_value=hashlib.sha256(KEY).digest(),
        key_format_type=KeyFormatType.RAW,
    )
    assert pairs(record.attributes) == [
        *head(record.uid, ObjectType.SYMMETRIC_KEY),
        (Tag.KEY_FORMAT_TYPE, KeyFormatType.RAW),
        *pairs(requested),
        (Tag.DIGEST, digest),
        (Tag.STATE, State.PRE_ACTIVE),
        *DATES,
        (Tag.SENSITIVE, False),
        (Tag.EXTRACTABLE, True),
        (Tag.ALWAYS_SENSITIVE, False),
        (Tag.NEVER_EXTRACTABLE, False),
        (Tag.FRESH, True),
        (Tag.RANDOM_NUMBER_GENERATOR, SERVER_RNG),
        (Tag.PROTECTION_STORAGE_MASK, ProtectionStorageMask.SOFTWARE),
    ]
    assert all(type(entry) is AttributeEntry for entry in record.attributes)
    assert (record.owner, record.object_type) == ("alice", ObjectType.SYMMETRIC_KEY)


def test_given_flags_and_parameters_are_kept_and_not_added_again(context: RequestContext) -> None:
    requested = Attributes.of(
        (Tag.SENSITIVE, True),
        (Tag.EXTRACTABLE, False),
        (Tag.FRESH, False),
        (Tag.PROTECTION_STORAGE_MASK, ProtectionStorageMask.HARDWARE),
        (rules.VACATED_INDEXES, "left out"),
    )
    record = new_record(context, ObjectType.SYMMETRIC_KEY, aes_key(), requested)
    assert pairs(record.attributes)[3:] == [
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.CRYPTOGRAPHIC_LENGTH, 256),
        (Tag.KEY_FORMAT_TYPE, KeyFormatType.RAW),
        *pairs(requested)[:4],
        (Tag.DIGEST, record.attributes.get(Tag.DIGEST)),
        (Tag.STATE, State.PRE_ACTIVE),
        *DATES,
        (Tag.ALWAYS_SENSITIVE, True),
        (Tag.NEVER_EXTRACTABLE, True),
    ]


def test_secret_data_and_certificates(context: RequestContext) -> None:
    secret = SecretData(
        secret_data_type=SecretDataType.PASSWORD,
        key_block=KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=KeyValue(key_material=b"pw")),
    )
    record = new_record(context, ObjectType.SECRET_DATA, secret, Attributes(), generated=True)
    assert pairs(record.attributes)[3] == (Tag.KEY_FORMAT_TYPE, KeyFormatType.OPAQUE)
    assert pairs(record.attributes)[-2:] == [
        (Tag.RANDOM_NUMBER_GENERATOR, SERVER_RNG),
        (Tag.PROTECTION_STORAGE_MASK, ProtectionStorageMask.SOFTWARE),
    ]
    certificate = Certificate(certificate_type=CertificateType.X_509, certificate_value=b"\x30\x00")
    record = new_record(context, ObjectType.CERTIFICATE, certificate, Attributes())
    assert pairs(record.attributes)[:5] == [
        *head(record.uid, ObjectType.CERTIFICATE),
        (Tag.KEY_FORMAT_TYPE, KeyFormatType.X_509),
        (
            Tag.DIGEST,
            Digest(
                hashing_algorithm=HashingAlgorithm.SHA_256, digest_value=hashlib.sha256(b"\x30\x00").digest()
            ),
        ),
    ]
    assert (Tag.RANDOM_NUMBER_GENERATOR, SERVER_RNG) not in pairs(record.attributes)


def test_records_share_no_list_and_differ_only_in_what_is_their_own(context: RequestContext) -> None:
    one = new_record(context, ObjectType.SYMMETRIC_KEY, aes_key(), Attributes())
    other = new_record(context, ObjectType.SYMMETRIC_KEY, aes_key(), Attributes())
    assert one.attributes.entries is not other.attributes.entries
    one.attributes.add(Tag.OBJECT_GROUP, "only mine")
    differing = [i for i, (a, b) in enumerate(zip(one.attributes, other.attributes, strict=False)) if a != b]
    assert differing == [0, 1]  # the Unique and Short Unique Identifiers
    assert len(other.attributes) == len(one.attributes) - 1


def template(*attributes: tuple[str, Any]) -> TemplateAttribute:
    return TemplateAttribute(
        attributes=[Attribute(attribute_name=name, attribute_value=value) for name, value in attributes]
    )


def test_requested_attributes_of_a_1x_template(context: RequestContext) -> None:
    name = Name(name_value="k1", name_type=NameType.UNINTERPRETED_TEXT_STRING)
    requested = requested_attributes(
        context,
        template_attribute=template(
            ("Cryptographic Algorithm", CryptographicAlgorithm.AES),
            ("Name", name),
            ("x-colour", "blue"),
            ("Name", Name(name_value="k2", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
        ),
    )
    assert pairs(requested) == [
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.NAME, name),
        (
            Tag.ATTRIBUTE,
            Attribute(vendor_identification="x", attribute_name="colour", attribute_value="blue"),
        ),
        (Tag.NAME, Name(name_value="k2", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
    ]


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        # the first problem found: read-only before single-valued, in request order
        (
            (("Cryptographic Length", 128), ("Cryptographic Length", 256), ("State", State.ACTIVE)),
            "read-only",
        ),
        ((("Cryptographic Length", 128), ("Cryptographic Length", 256)), "single"),
        ((("x-a", 1), ("x-a", 2), ("Initial Date", NOW)), "read-only"),
        ((("Cryptographic Algorithm", Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, "AES")),), "type"),
        ((("Name", None),), "type"),
    ],
)
def test_requested_attributes_refusals(
    context: RequestContext, attributes: tuple[tuple[str, Any], ...], reason: str
) -> None:
    with pytest.raises(KmipError) as raised:
        requested_attributes(context, template_attribute=template(*attributes))
    expected = {
        "read-only": ResultReason.ATTRIBUTE_READ_ONLY,
        "single": ResultReason.MULTI_VALUED_ATTRIBUTE,
        "type": ResultReason.INVALID_FIELD,
    }[reason]
    assert raised.value.reason is expected
