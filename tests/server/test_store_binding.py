"""The store's parameters bind through the identity adapters store.sqlite registers (None,
bytes, Tag) exactly as they did through the sqlite3 module's fallback: NULLs, BLOBs and
integers in the object's and the attribute rows."""

from __future__ import annotations

import secrets
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pkcs11_kmip.kmip.messages import Attribute, Attributes
from pkcs11_kmip.kmip.messages.structures import (
    AlternativeName,
    ApplicationSpecificInformation,
    Digest,
    Link,
    Name,
    RandomNumberGenerator,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AlternativeNameType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    LinkType,
    NameType,
    ObjectType,
    RNGAlgorithm,
)
from pkcs11_kmip_server.objects import SERVER_RNG
from pkcs11_kmip_server.store import ObjectRecord, Storage
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore, column_value, index_values


def test_adapted_parameters_bind_as_null_blob_and_integer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    try:
        digest = Digest(hashing_algorithm=HashingAlgorithm.SHA_256, digest_value=b"\x01" * 32)
        attributes = Attributes.of(
            (Tag.NAME, Name(name_value="bound", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
            (Tag.DIGEST, digest),
            (Tag.SHORT_UNIQUE_IDENTIFIER, b"\x02" * 32),
        )
        with store.session() as session:
            session.insert(ObjectRecord("uid-1", ObjectType.SECRET_DATA, "alice", attributes, None))
        connection = sqlite3.connect(tmp_path / "store.sqlite3")
        try:
            row = connection.execute(
                "SELECT typeof(activation_date), typeof(material), typeof(object_group),"
                " typeof(attributes), typeof(short_unique_identifier), short_unique_identifier,"
                " storage FROM object WHERE uid = 'uid-1'"
            ).fetchone()
            rows = connection.execute(
                "SELECT typeof(tag), tag, typeof(name), typeof(text_value), typeof(text_value2),"
                " typeof(int_value), typeof(blob_value) FROM attribute ORDER BY tag"
            ).fetchall()
        finally:
            connection.close()
    finally:
        store.close()
    assert row == ("null", "null", "null", "blob", "blob", b"\x02" * 32, int(Storage.ONLINE))
    assert rows == [
        ("integer", int(Tag.DIGEST), "null", "null", "null", "null", "blob"),
        ("integer", int(Tag.NAME), "null", "text", "null", "integer", "null"),
    ]


def test_column_value_is_that_column_of_index_values() -> None:
    """_columns reads its column values through column_value; Locate and the attribute
    rows through index_values: the same table, the same column for every kind of value."""
    values = [
        Attribute(vendor_identification="x", attribute_name="y", attribute_value=None),
        Name(name_value="n", name_type=NameType.URI),
        AlternativeName(alternative_name_value="a", alternative_name_type=AlternativeNameType.URI),
        ApplicationSpecificInformation(application_namespace="ns", application_data="data"),
        Link(link_type=LinkType.PUBLIC_KEY_LINK, linked_object_identifier="uid-2"),
        "text",
        datetime(2026, 11, 29, 11, 0, tzinfo=UTC),
        datetime(2026, 11, 29, 11, 0),
        256,
        True,
        CryptographicAlgorithm.AES,
        CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT,
        b"\x03" * 8,
        Digest(hashing_algorithm=HashingAlgorithm.SHA_256, digest_value=b"\x01" * 32),
        1.5,  # no entry: no columns
    ]
    for value in values:
        columns = index_values(0, value)
        assert any(column is not None for column in columns) or isinstance(value, float | Attribute)
        for place in range(len(columns)):
            assert column_value(place, value) == columns[place], (value, place)


def test_a_shared_structure_binds_its_own_encoding(tmp_path: Path) -> None:
    """objects.SERVER_RNG's TTLV is made once (share_encoding); the Random Number Generator
    column of a generated key holds exactly its encoding, and any other structure of the
    class (an equal one too) is encoded itself."""
    assert column_value(4, SERVER_RNG) == SERVER_RNG.encode()
    other = RandomNumberGenerator(rng_algorithm=RNGAlgorithm.DRBG)
    assert column_value(4, other) == other.encode() != SERVER_RNG.encode()
    equal = RandomNumberGenerator(rng_algorithm=RNGAlgorithm.UNSPECIFIED)
    assert column_value(4, equal) == SERVER_RNG.encode()
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    try:
        with store.session() as session:
            for uid, rng in (("uid-1", SERVER_RNG), ("uid-2", other)):
                attributes = Attributes.of((Tag.RANDOM_NUMBER_GENERATOR, rng))
                session.insert(ObjectRecord(uid, ObjectType.SECRET_DATA, "alice", attributes, None))
        connection = sqlite3.connect(tmp_path / "store.sqlite3")
        try:
            rows = connection.execute(
                "SELECT uid, random_number_generator FROM object ORDER BY uid"
            ).fetchall()
        finally:
            connection.close()
    finally:
        store.close()
    assert rows == [("uid-1", SERVER_RNG.encode()), ("uid-2", other.encode())]
