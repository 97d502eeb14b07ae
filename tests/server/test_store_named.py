"""SqliteSession.named, the unique-name check's lookup: the same answer as the Locate it
replaced (by one Name value, the owner's on-line and archived objects, at most two), and
on the text index."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import NameType, ObjectType
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord, Storage
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import _ANY_NAMED, _NAMED, SqliteStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)

STORAGES = (Storage.ONLINE, Storage.ARCHIVED, Storage.DESTROYED)
NAME_TYPES = (NameType.UNINTERPRETED_TEXT_STRING, NameType.URI)


def populate(store: SqliteStore) -> None:
    """Alice's and Bob's objects, names shared by up to three objects, in every storage."""
    with store.session() as session:
        for index in range(60):
            value = f"name-{index % 20}"
            attributes = Attributes.of(
                (Tag.NAME, Name(name_value=value, name_type=NAME_TYPES[index % 2])),
                (Tag.NAME, Name(name_value=f"second-{index}", name_type=NameType.URI)),
            )
            owner = "alice" if index % 4 else "bob"
            storage = STORAGES[index % 7 % 3]
            session.insert(
                ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, owner, attributes, None, storage)
            )


def located(store: SqliteStore, owner: str, value: str) -> list[str]:
    """What check_unique_name asked before: a Locate by the Name value alone."""
    query = LocateQuery(
        owner=owner,
        now=NOW,
        filters=[AttributeFilter(Tag.NAME, Name(name_value=value))],
        maximum=2,
        storage=Storage.ONLINE | Storage.ARCHIVED,
    )
    with store.session(write=False) as session:
        return session.locate(query)[0]


def test_named_answers_as_the_locate_by_that_name_did(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    try:
        populate(store)
        values = [f"name-{n}" for n in range(20)] + [f"second-{n}" for n in range(60)] + ["none", ""]
        found = 0
        for owner in ("alice", "bob", "carol"):
            for value in values:
                with store.session(write=False) as session:
                    named = session.named(owner, value)
                assert named == located(store, owner, value), (owner, value)
                found += len(named)
        assert found > 60  # the cases hold names found once and twice, not only misses
        with store.session(write=False) as session:
            assert session.named("alice", "name-1") == ["uid-41", "uid-21"]  # newest first, 2 at most
            assert session.named("alice", "second-2") == []  # destroyed
            assert session.named("bob", "second-8") == ["uid-8"]  # archived
            assert session.named("bob", "second-9") == []  # Alice's
            plan = session.connection.execute(
                f"EXPLAIN QUERY PLAN {_NAMED}", ("a", int(Tag.NAME), "x")
            ).fetchall()
            probe = session.connection.execute(
                f"EXPLAIN QUERY PLAN {_ANY_NAMED}", (int(Tag.NAME), "x")
            ).fetchall()
        assert any("attribute_text" in str(row[-1]) for row in plan), plan
        assert not any("TEMP B-TREE" in str(row[-1]) for row in plan), plan  # no sort: newest first
        assert [str(row[-1]) for row in probe] == [
            "SEARCH attribute USING COVERING INDEX attribute_text (tag=? AND text_value=?)"
        ]
    finally:
        store.close()
