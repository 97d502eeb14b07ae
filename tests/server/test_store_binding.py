"""The store's parameters bind through the identity adapters store.sqlite registers (None,
bytes, Tag) exactly as they did through the sqlite3 module's fallback: NULLs, BLOBs and
integers in the object's and the attribute rows."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Digest, Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, NameType, ObjectType
from pkcs11_kmip_server.store import ObjectRecord, Storage
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore


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
