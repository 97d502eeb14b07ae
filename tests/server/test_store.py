"""The SQLite store itself: Locate runs on the indexes, not on every stored attribute."""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Digest, Name, RandomNumberGenerator
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    KeyFormatType,
    NameType,
    ObjectType,
    ProtectionStorageMask,
    RNGAlgorithm,
    State,
)
from pkcs11_kmip_server.access import ROLES
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord, Storage, migrations
from pkcs11_kmip_server.store.access import MERGED_TARGETS, AccessAdmin
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import NUMBER_COLUMNS, SqliteStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)
# A plan step reading every object or attribute row (the partial index over the objects in
# several Object Groups is not every row).
SCAN_OF_OBJECTS = r"SCAN (o|object|a|attribute)\b(?! USING INDEX object_in_groups)"


def name(value: str) -> Name:
    return Name(name_value=value, name_type=NameType.UNINTERPRETED_TEXT_STRING)


def rows_besides_names(store: SqliteStore) -> tuple[int, int]:
    """How many attribute rows a store has for other attributes than Name, and its schema version."""
    with store.session(write=False) as session:
        (left,) = session.connection.execute(
            "SELECT COUNT(*) FROM attribute WHERE tag != ?", (int(Tag.NAME),)
        ).fetchone()
        (version,) = session.connection.execute("SELECT version FROM schema_version").fetchone()
    return left, version


def columns_back_to_rows(old: sqlite3.Connection, columns: tuple[tuple[Tag, str], ...], value: str) -> None:
    """Undo a migration that moved attribute rows to columns: each column's values as rows
    again (in the rows' `value` column), the column dropped."""
    for tag, column in columns:
        old.execute(
            f"INSERT INTO attribute (object_seq, tag, {value}) SELECT seq, ?, {column} FROM object"
            f" WHERE {column} IS NOT NULL",
            (int(tag),),
        )
        old.execute(f"ALTER TABLE object DROP COLUMN {column}")


def upgraded_from(
    tmp_path: Path, records: list[ObjectRecord], back: Callable[[sqlite3.Connection], None]
) -> SqliteStore:
    """A store holding `records`, taken back to an older schema by `back`, opened again
    (so upgraded): checked to be at the latest version with no rows but the Names'."""
    path = tmp_path / "store.sqlite3"
    sealer = Sealer(secrets.token_bytes(32))
    store = SqliteStore(path, sealer)
    with store.session() as session:
        for record in records:
            session.insert(record)
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    back(old)
    old.close()
    upgraded = SqliteStore(path, sealer)
    assert rows_besides_names(upgraded) == (0, migrations.LATEST)
    return upgraded


def back_to_schema_4(old: sqlite3.Connection) -> None:
    """Undo migration 5 on a store of the latest schema: its byte strings as attribute rows again."""
    columns_back_to_rows(old, migrations._BYTES_COLUMNS_5, "blob_value")
    old.execute("UPDATE schema_version SET version = 4")


def back_to_schema_3(old: sqlite3.Connection) -> None:
    """Undo migrations 5 and 4 on a store of the latest schema: their values as attribute rows again."""
    back_to_schema_4(old)
    old.execute("DROP INDEX object_algorithm")
    columns_back_to_rows(old, migrations._NUMBER_COLUMNS_4, "int_value")
    old.execute("UPDATE schema_version SET version = 3")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    with store.session() as session:
        for index in range(50):
            attributes = Attributes.of(
                (Tag.NAME, name(f"key-{index}")),
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
                (Tag.STATE, State.PRE_ACTIVE),
            )
            owner = "alice" if index % 2 == 0 else "bob"
            session.insert(ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, owner, attributes, None))
    yield store
    store.close()


def plans(store: SqliteStore, query: LocateQuery) -> tuple[list[str], int | None, list[str]]:
    """Locate's answer, and SQLite's plan for each statement it ran."""
    statements: list[str] = []
    with store.session(write=False) as session:
        session.connection.set_trace_callback(statements.append)
        uids, total = session.locate(query)
        session.connection.set_trace_callback(None)
        steps = [
            str(row[-1])
            for sql in statements
            if sql.lstrip().upper().startswith(("SELECT", "WITH"))
            for row in session.connection.execute(f"EXPLAIN QUERY PLAN {sql}")
        ]
    return uids, total, steps


def test_locate_by_name_searches_the_text_index_once(store: SqliteStore) -> None:
    query = LocateQuery(owner="alice", now=NOW, filters=[AttributeFilter(Tag.NAME, name("key-10"))])
    uids, total, steps = plans(store, query)
    assert (uids, total) == (["uid-10"], None)  # no count unless asked
    assert any("attribute_text" in step for step in steps), steps
    assert not any("CORRELATED" in step for step in steps), steps


def test_locate_by_unique_identifier_reads_the_uid_column(store: SqliteStore) -> None:
    """The Unique Identifier has no attribute row (a random leaf of the text index per
    Create); Locate finds it by the object's uid index, still the caller's own only."""
    by_uid = [AttributeFilter(Tag.UNIQUE_IDENTIFIER, "uid-10")]
    uids, _, steps = plans(store, LocateQuery(owner="alice", now=NOW, filters=by_uid, count=True))
    assert uids == ["uid-10"]
    assert any("sqlite_autoindex_object_1 (uid=?)" in step for step in steps), steps
    assert plans(store, LocateQuery(owner="bob", now=NOW, filters=by_uid))[0] == []
    both = [*by_uid, AttributeFilter(Tag.UNIQUE_IDENTIFIER, "uid-12")]
    assert plans(store, LocateQuery(owner="alice", now=NOW, filters=both))[0] == []
    with store.session(write=False) as session:
        rows = session.connection.execute(
            "SELECT COUNT(*) FROM attribute WHERE tag = ?", (int(Tag.UNIQUE_IDENTIFIER),)
        ).fetchone()
    assert rows == (0,)


def test_locate_counts_only_when_asked(store: SqliteStore) -> None:
    criteria = [AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)]
    query = LocateQuery(owner="alice", now=NOW, filters=criteria, maximum=10, count=True)
    uids, total, _ = plans(store, query)
    assert total == 25 and len(uids) == 10
    assert uids[0] == "uid-48"  # newest first
    bob = plans(store, LocateQuery(owner="bob", now=NOW, filters=[AttributeFilter(Tag.NAME, name("key-10"))]))
    assert bob[0] == []  # alice's key, by its name: not bob's to find


def carol_reads_payments(admin: AccessAdmin) -> int:
    """Carol, in eu-auditors within auditors, may read object group payments (payments-eu
    nested in it) through a grant to auditors; that grant's id."""
    admin.add_user("carol", admin=False)
    admin.add_group("user", "eu-auditors", users=["carol"])
    admin.add_group("user", "auditors", groups=["eu-auditors"])
    admin.add_group("object", "payments", groups=["payments-eu"])
    return admin.add_grant("group", "auditors", "group", "payments", ROLES["reader"], "reader", "test")


def test_locate_applies_the_grant_rule_in_the_query_on_the_indexes(store: SqliteStore) -> None:
    """A grantee's Locate: still one search of the criteria's index, with the grant rule
    (object groups nested, user groups nested) probed per candidate row, never a scan."""
    with store.session() as session:
        for index in range(50, 60):
            attributes = Attributes.of(
                (Tag.NAME, name(f"key-{index}")),
                (Tag.OBJECT_GROUP, "payments-eu" if index % 2 == 0 else "other"),
                (Tag.STATE, State.PRE_ACTIVE),
            )
            session.insert(ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, "alice", attributes, None))
    admin = AccessAdmin.open(store.path)
    carol_reads_payments(admin)
    admin.close()

    uids, total, steps = plans(store, carol(AttributeFilter(Tag.NAME, name("key-52"))))
    assert (uids, total) == (["uid-52"], 1)
    assert any("attribute_text" in step for step in steps), steps
    assert any("attribute_object" in step for step in steps), steps  # the probe, for several groups
    assert any("object_in_group" in step for step in steps), steps  # the count's group part
    # (The count's visible set reads the objects in several groups: their partial index.)
    assert not any(re.match(SCAN_OF_OBJECTS, step) for step in steps), steps
    assert plans(store, carol(AttributeFilter(Tag.NAME, name("key-53"))))[:2] == ([], 0)  # group "other"
    assert plans(store, carol())[:2] == (["uid-58", "uid-56", "uid-54", "uid-52", "uid-50"], 5)
    # Without shared (server-internal lookups), and for a caller without grants: the owner index.
    assert plans(store, LocateQuery(owner="carol", now=NOW))[0] == []
    _, _, owner_steps = plans(store, LocateQuery(owner="bob", now=NOW, shared=True))
    assert any("object_owner" in step for step in owner_steps), owner_steps


def carol(*filters: AttributeFilter) -> LocateQuery:
    return LocateQuery(owner="carol", now=NOW, filters=list(filters), shared=True, count=True)


# The grant rule's first term in a traced statement (the cached lists follow it).
CAROLS_RULE = "o.owner = 'carol' OR"


def statements_of(store: SqliteStore, query: LocateQuery) -> tuple[list[str], list[str]]:
    """Locate's answer and the statements it ran."""
    statements: list[str] = []
    with store.session(write=False) as session:
        session.connection.set_trace_callback(statements.append)
        uids, _ = session.locate(query)
        session.connection.set_trace_callback(None)
    return uids, statements


def test_the_cached_grants_follow_every_change_at_the_next_locate(store: SqliteStore) -> None:
    """The caller's expanded grants are kept between requests (no recursive query while
    nothing changed), yet a grant removed, a membership taken away or a grant added by
    the admin tables' own connection applies to the very next Locate."""
    with store.session() as session:
        attributes = Attributes.of((Tag.NAME, name("shared")), (Tag.OBJECT_GROUP, "payments-eu"))
        session.insert(ObjectRecord("uid-shared", ObjectType.SYMMETRIC_KEY, "alice", attributes, None))
    admin = AccessAdmin.open(store.path)
    grant = carol_reads_payments(admin)
    try:
        first, statements = statements_of(store, carol())
        assert first == ["uid-shared"]
        assert any("RECURSIVE" in sql for sql in statements), statements  # computed once
        again, statements = statements_of(store, carol())
        assert again == first
        assert not any("RECURSIVE" in sql for sql in statements), statements  # then kept

        admin.remove_grant(grant)
        assert statements_of(store, carol())[0] == []
        grant = admin.add_grant("group", "auditors", "group", "payments", ROLES["reader"], "reader", "test")
        assert statements_of(store, carol())[0] == ["uid-shared"]
        admin.remove_group("user", "auditors", groups=["eu-auditors"])  # carol leaves the nesting
        assert statements_of(store, carol())[0] == []
        admin.add_group("user", "auditors", groups=["eu-auditors"])
        admin.remove_group("object", "payments", groups=["payments-eu"])  # the object group leaves
        assert statements_of(store, carol())[0] == []
        admin.add_group("object", "payments", groups=["payments-eu"])
        assert statements_of(store, carol())[0] == ["uid-shared"]
        admin.add_user("carol", admin=True)  # an administrator sees everything
        assert len(statements_of(store, carol())[0]) == 51
        # A change by hand in SQL, outside AccessAdmin, moves the revision too.
        admin.connection.execute("UPDATE principal SET admin = 0 WHERE name = 'carol'")
        admin.connection.execute("DELETE FROM access_grant_operation WHERE grant_id = ?", (grant,))
        assert statements_of(store, carol())[0] == []
    finally:
        admin.close()


def test_grants_cached_in_a_transaction_that_rolls_back_are_not_used_later(store: SqliteStore) -> None:
    """A batch may change the grants and then Locate (the cache filled with what that
    transaction saw); once it rolls back and another change commits, the next Locate must
    see that change, not the rolled-back grants (a counter for a revision would be back
    at the value cached)."""
    with store.session() as session:
        attributes = Attributes.of((Tag.NAME, name("shared")), (Tag.OBJECT_GROUP, "payments-eu"))
        session.insert(ObjectRecord("uid-shared", ObjectType.SYMMETRIC_KEY, "alice", attributes, None))
    admin = AccessAdmin.open(store.path)
    admin.add_user("carol", admin=False)
    admin.add_user("dave", admin=False)
    admin.add_group("object", "payments", groups=["payments-eu"])
    try:
        assert statements_of(store, carol())[0] == []
        with pytest.raises(RuntimeError), store.session() as session:
            granting = session.access()
            granting.add_grant("user", "carol", "group", "payments", ROLES["reader"], "reader", "test")
            assert session.locate(carol())[0] == ["uid-shared"]
            raise RuntimeError("roll back")
        # The same change for someone else commits: as many rows, as many trigger runs.
        admin.add_grant("user", "dave", "group", "payments", ROLES["reader"], "reader", "test")
        assert statements_of(store, carol())[0] == []
    finally:
        admin.close()


def test_a_criterion_within_the_grants_needs_no_rule_per_row(store: SqliteStore) -> None:
    """Locate by a granted Object Group (or a group nested in one) or a granted Object Type
    finds only what the grants allow by itself: it runs as without access control (no
    grant lists, no probe per row), while a criterion outside the grants keeps the rule."""
    with store.session() as session:
        for index in range(50, 60):
            group = "payments-eu" if index % 2 == 0 else "other"
            attributes = Attributes.of((Tag.NAME, name(f"key-{index}")), (Tag.OBJECT_GROUP, group))
            session.insert(ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, "alice", attributes, None))
        attributes = Attributes.of((Tag.NAME, name("carol's")), (Tag.OBJECT_GROUP, "other"))
        session.insert(ObjectRecord("uid-carol", ObjectType.SECRET_DATA, "carol", attributes, None))
        attributes = Attributes.of((Tag.NAME, name("dave's")))
        session.insert(ObjectRecord("uid-opaque", ObjectType.OPAQUE_OBJECT, "dave", attributes, None))
    admin = AccessAdmin.open(store.path)
    admin.add_user("carol", admin=False)
    admin.add_group("object", "payments", groups=["payments-eu"])
    admin.add_grant("user", "carol", "group", "payments", ROLES["reader"], "reader", "test")
    admin.add_grant("user", "carol", "type", int(ObjectType.OPAQUE_OBJECT), ROLES["reader"], "reader", "test")
    admin.close()

    granted_group = AttributeFilter(Tag.OBJECT_GROUP, "payments-eu")
    uids, statements = statements_of(store, carol(granted_group))
    assert uids == ["uid-58", "uid-56", "uid-54", "uid-52", "uid-50"]
    assert not any(CAROLS_RULE in sql for sql in statements), statements
    uids, statements = statements_of(store, carol(AttributeFilter(Tag.OBJECT_TYPE, ObjectType.OPAQUE_OBJECT)))
    assert uids == ["uid-opaque"]
    assert not any(CAROLS_RULE in sql for sql in statements), statements

    # Outside the grants: the rule stays (only carol's own object of group "other").
    uids, statements = statements_of(store, carol(AttributeFilter(Tag.OBJECT_GROUP, "other")))
    assert uids == ["uid-carol"]
    assert any(CAROLS_RULE in sql for sql in statements), statements
    # Both criteria must hold; a granted group beside another group still finds only that group's.
    both = [granted_group, AttributeFilter(Tag.OBJECT_GROUP, "other")]
    assert statements_of(store, carol(*both))[0] == []
    # Only the first Object Type criterion is matched, so a granted second one implies nothing.
    # (Symmetric keys she may see: the granted group's, none of alice's and bob's others.)
    types = [
        AttributeFilter(Tag.OBJECT_TYPE, ObjectType.SYMMETRIC_KEY),
        AttributeFilter(Tag.OBJECT_TYPE, ObjectType.OPAQUE_OBJECT),
    ]
    assert statements_of(store, carol(*types))[0] == ["uid-58", "uid-56", "uid-54", "uid-52", "uid-50"]


# A population for checking the parts plan against the grant rule evaluated in Python:
# three owners, three object types, single, several and no Object Group values, every
# storage, two states, each owner with each set of groups. Carol may see her own, three
# granted uids (one alone, one also in a granted group, one also of the granted type), a
# granted type and the groups "payments" and (nested in it) "payments-eu".
GROUP_SETS: tuple[list[str], ...] = (
    ["payments-eu"],
    ["other"],
    ["payments-eu", "other"],
    ["other", "misc"],
    [],
    ["payments"],
)
GRANTED_GROUPS = {"payments", "payments-eu"}
GRANTED_UIDS = ("uid-p4", "uid-p6", "uid-p7")


def population(index: int) -> tuple[str, ObjectType, list[str], Storage, State]:
    owner = ("alice", "bob", "carol")[index // len(GROUP_SETS) % 3]
    object_type = (
        ObjectType.OPAQUE_OBJECT
        if index % 7 == 0
        else ObjectType.SECRET_DATA
        if index % 11 == 0
        else ObjectType.SYMMETRIC_KEY
    )
    storage = Storage.ONLINE
    if index % 13 == 0 or index % 17 == 0:
        storage = Storage.ARCHIVED if index % 13 == 0 else Storage.DESTROYED
    return owner, object_type, GROUP_SETS[index % 6], storage, (State.ACTIVE, State.PRE_ACTIVE)[index % 2]


def populate_for_parts(store: SqliteStore, count: int = 120) -> None:
    with store.session() as session:
        for index in range(count):
            owner, object_type, groups, storage, state = population(index)
            attributes = Attributes.of((Tag.NAME, name(f"p-{index}")), (Tag.STATE, state))
            for group in groups:
                attributes.add(Tag.OBJECT_GROUP, group)
            record = ObjectRecord(f"uid-p{index}", object_type, owner, attributes, None, storage)
            session.insert(record)
    admin = AccessAdmin.open(store.path)
    carol_reads_payments(admin)
    admin.add_grant("user", "carol", "type", int(ObjectType.OPAQUE_OBJECT), ROLES["reader"], "reader", "test")
    for uid in GRANTED_UIDS:
        admin.add_grant("user", "carol", "object", uid, ROLES["reader"], "reader", "test")
    admin.close()


def expected_for_carol(query: LocateQuery, count: int = 120) -> tuple[list[str], int]:
    """The rule (own, a granted uid, type or group) and the query, evaluated in Python."""
    found = []
    for index in reversed(range(count)):  # newest first
        owner, object_type, groups, storage, state = population(index)
        uid = f"uid-p{index}"
        visible = (
            owner == "carol"
            or uid in GRANTED_UIDS
            or object_type == ObjectType.OPAQUE_OBJECT
            or bool(GRANTED_GROUPS & set(groups))
        )
        matches = all(
            (f.tag == Tag.STATE and state == f.value) or (f.tag == Tag.OBJECT_TYPE and object_type == f.value)
            for f in query.filters
        )
        if visible and matches and storage & query.storage:
            found.append(uid)
    end = None if query.maximum is None else query.offset + query.maximum
    return found[query.offset : end], len(found)


def test_a_locate_on_columns_reads_the_visible_parts_and_finds_what_the_rule_allows(
    store: SqliteStore,
) -> None:
    """Without criteria on attributes, Locate with grants merges one stream per granted
    group and type (an index each, newest first) and counts by adding up disjoint parts:
    the same objects, order and Located Items as the rule, for every page, storage mask
    and column criterion, objects in several groups included; no scan of the objects."""
    populate_for_parts(store)
    criteria: list[list[AttributeFilter]] = [
        [],
        [AttributeFilter(Tag.STATE, State.ACTIVE)],
        [AttributeFilter(Tag.OBJECT_TYPE, ObjectType.SYMMETRIC_KEY)],  # a type not granted
    ]
    pages = [(0, None), (0, 5), (7, 10), (30, 100), (1000, 5)]
    storages = [int(Storage.ONLINE), int(Storage.ONLINE | Storage.ARCHIVED)]
    for filters in criteria:
        for offset, maximum in pages:
            for storage in storages:
                query = LocateQuery(
                    owner="carol",
                    now=NOW,
                    filters=filters,
                    offset=offset,
                    maximum=maximum,
                    storage=storage,
                    count=True,
                    shared=True,
                )
                uids, total, steps = plans(store, query)
                assert (uids, total) == expected_for_carol(query), (filters, offset, maximum, storage)
    query = LocateQuery(owner="carol", now=NOW, maximum=10, count=True, shared=True)
    _, statements = statements_of(store, query)
    assert any("UNION ALL" in sql for sql in statements), statements
    _, _, steps = plans(store, query)
    assert any("object_in_group (object_group=? AND storage=?)" in step for step in steps), steps
    assert not any(re.match(SCAN_OF_OBJECTS, step) for step in steps), steps
    # An Object Type criterion does not take over the streams' indexes (the caller's own
    # stream would read every symmetric key through the (object_type) index).
    typed = LocateQuery(owner="carol", now=NOW, filters=criteria[2], maximum=10, count=True, shared=True)
    _, _, steps = plans(store, typed)
    assert any("object_owner (owner=?)" in step for step in steps), steps
    assert any("object_in_group (object_group=? AND storage=?)" in step for step in steps), steps

    # With a criterion on the attribute index, the rule is tested per candidate: the same answer.
    def by_name(value: str) -> list[str]:
        criterion = AttributeFilter(Tag.NAME, name(value))
        return plans(store, LocateQuery(owner="carol", now=NOW, filters=[criterion], shared=True))[0]

    assert by_name("p-2") == ["uid-p2"]  # alice's, in payments-eu and other
    assert by_name("p-3") == []  # alice's, in other and misc


def test_an_object_keeps_its_object_group_columns_through_saves(store: SqliteStore) -> None:
    """The row's copy of the Object Group follows every save: one value, several, none."""

    def columns() -> tuple[str | None, int]:
        with store.session(write=False) as session:
            row = session.connection.execute(
                "SELECT object_group, object_groups FROM object WHERE uid = 'uid-0'"
            ).fetchone()
        return row[0], row[1]

    def regroup(*groups: str) -> None:
        with store.session() as session:
            record = session.load("uid-0", None)
            assert record is not None
            record.attributes.remove(Tag.OBJECT_GROUP)
            for group in groups:
                record.attributes.add(Tag.OBJECT_GROUP, group)
            session.save(record)

    assert columns() == (None, 0)
    regroup("payments")
    assert columns() == ("payments", 1)
    regroup("payments", "other")
    assert columns() == (None, 2)
    regroup("other", "other")  # one value twice is one group
    assert columns() == ("other", 1)
    regroup()
    assert columns() == (None, 0)


def test_a_store_made_before_the_object_group_columns_upgrades_on_open(tmp_path: Path) -> None:
    """A data dir of the base schema (no schema_version, no object_group columns) is brought
    to the latest version when the store opens: the columns filled from the attribute rows,
    the indexes made, Locate's answers as before; opening again changes nothing."""
    path = tmp_path / "store.sqlite3"
    sealer = Sealer(secrets.token_bytes(32))
    store = SqliteStore(path, sealer)
    populate_for_parts(store)
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    back_to_schema_3(old)
    old.executescript(
        """DROP INDEX object_in_group; DROP INDEX object_in_groups;
        ALTER TABLE object DROP COLUMN object_group; ALTER TABLE object DROP COLUMN object_groups;
        DROP TABLE schema_version;"""
    )
    for _, column in migrations._NUMBER_COLUMNS_2:  # a base-schema store has none of them
        old.execute(f"ALTER TABLE object DROP COLUMN {column}")
    # The fill reads each object's attribute rows by (object_seq, tag), not a scan per object.
    old.execute("ALTER TABLE object ADD COLUMN object_group TEXT")
    old.execute("ALTER TABLE object ADD COLUMN object_groups INTEGER NOT NULL DEFAULT 0")
    for statement in migrations.MIGRATIONS[0].statements:
        if statement.startswith("UPDATE"):
            plan = old.execute(f"EXPLAIN QUERY PLAN {statement}", {"object_group_tag": 1})
            steps = [row[-1] for row in plan]
            assert all("attribute_object_tag" in step for step in steps if "SEARCH a" in step), steps
    old.execute("ALTER TABLE object DROP COLUMN object_group")
    old.execute("ALTER TABLE object DROP COLUMN object_groups")
    old.close()

    upgraded = SqliteStore(path, sealer)
    try:
        with upgraded.session(write=False) as session:
            rows = session.connection.execute(
                "SELECT uid, object_group, object_groups FROM object ORDER BY seq"
            ).fetchall()
            (version,) = session.connection.execute("SELECT version FROM schema_version").fetchone()
        assert version == migrations.LATEST
        for index, (uid, group, groups) in enumerate(rows):
            values = set(population(index)[2])
            assert (uid, groups) == (f"uid-p{index}", len(values))
            assert group == (next(iter(values)) if len(values) == 1 else None)
        query = LocateQuery(owner="carol", now=NOW, offset=3, maximum=20, count=True, shared=True)
        assert plans(upgraded, query)[:2] == expected_for_carol(query)
        again = sqlite3.connect(path, isolation_level=None)
        assert migrations.migrate(again) == []
        again.close()
    finally:
        upgraded.close()


def numbered(index: int) -> Attributes:
    """Dates, flags, a format and a mask: attributes Locate finds by the object's columns."""
    return Attributes.of(
        (Tag.NAME, name(f"n-{index}")),
        (Tag.INITIAL_DATE, datetime(2026, 1, 1 + index, tzinfo=UTC)),
        (Tag.SENSITIVE, index % 2 == 0),
        (Tag.KEY_FORMAT_TYPE, (KeyFormatType.RAW, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY)[index % 2]),
        (
            Tag.PROTECTION_STORAGE_MASK,
            ProtectionStorageMask.SOFTWARE | (ProtectionStorageMask.HARDWARE if index % 3 == 0 else 0),
        ),
    )


NUMBER_QUERIES: list[tuple[list[AttributeFilter], list[int]]] = [
    ([AttributeFilter(Tag.INITIAL_DATE, datetime(2026, 1, 4, tzinfo=UTC))], [3]),
    (
        [
            AttributeFilter(Tag.INITIAL_DATE, datetime(2026, 1, 6, tzinfo=UTC)),
            AttributeFilter(Tag.INITIAL_DATE, datetime(2026, 1, 3, tzinfo=UTC)),
        ],
        [5, 4, 3, 2],
    ),
    ([AttributeFilter(Tag.SENSITIVE, True)], [8, 6, 4, 2, 0]),
    ([AttributeFilter(Tag.SENSITIVE, False), AttributeFilter(Tag.KEY_FORMAT_TYPE, KeyFormatType.RAW)], []),
    ([AttributeFilter(Tag.KEY_FORMAT_TYPE, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY)], [9, 7, 5, 3, 1]),
    ([AttributeFilter(Tag.PROTECTION_STORAGE_MASK, ProtectionStorageMask.HARDWARE)], [9, 6, 3, 0]),
    ([AttributeFilter(Tag.FRESH, True)], []),
    ([AttributeFilter(Tag.SENSITIVE, "yes")], []),  # no number: nothing, as no row matched it
]


def test_locate_by_the_number_columns_matches_as_the_rows_did(tmp_path: Path) -> None:
    """Single-valued numbers (NUMBER_COLUMNS) have no attribute rows; Locate by them (one
    date or a range, a flag, an enumeration, a mask's bits) reads the object's columns."""
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    try:
        with store.session() as session:
            for index in range(10):
                session.insert(
                    ObjectRecord(f"n-{index}", ObjectType.SYMMETRIC_KEY, "alice", numbered(index), None)
                )
            tags = ", ".join(str(int(tag)) for tag in NUMBER_COLUMNS)
            rows = session.connection.execute(
                f"SELECT COUNT(*) FROM attribute WHERE tag IN ({tags})"
            ).fetchone()
        assert rows == (0,)
        for filters, expected in NUMBER_QUERIES:
            query = LocateQuery(owner="alice", now=NOW, filters=filters, count=True)
            uids, total, steps = plans(store, query)
            assert (uids, total) == ([f"n-{i}" for i in expected], len(expected)), filters
            assert not any(re.match(SCAN_OF_OBJECTS, step) for step in steps), steps
    finally:
        store.close()


def test_a_store_of_schema_1_moves_its_number_rows_to_columns_on_open(tmp_path: Path) -> None:
    """Migration 2: a store whose numbers are attribute rows (schema 1) gets them in the
    object's columns, the rows (and the Unique Identifier's) deleted; Locate answers alike."""
    path = tmp_path / "store.sqlite3"
    sealer = Sealer(secrets.token_bytes(32))
    store = SqliteStore(path, sealer)
    with store.session() as session:
        for index in range(10):
            session.insert(
                ObjectRecord(f"n-{index}", ObjectType.SYMMETRIC_KEY, "alice", numbered(index), None)
            )
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    back_to_schema_3(old)
    columns_back_to_rows(old, migrations._NUMBER_COLUMNS_2, "int_value")  # back to schema 1
    old.execute(
        "INSERT INTO attribute (object_seq, tag, text_value) SELECT seq, ?, uid FROM object",
        (int(Tag.UNIQUE_IDENTIFIER),),
    )
    old.execute("UPDATE schema_version SET version = 1")
    old.close()
    upgraded = SqliteStore(path, sealer)
    try:
        assert rows_besides_names(upgraded) == (0, migrations.LATEST)
        for filters, expected in NUMBER_QUERIES:
            query = LocateQuery(owner="alice", now=NOW, filters=filters)
            assert plans(upgraded, query)[0] == [f"n-{i}" for i in expected], filters
    finally:
        upgraded.close()


def test_a_store_of_schema_2_gets_access_revision_triggers_that_set_a_new_value(tmp_path: Path) -> None:
    """Migration 3: the triggers of a store made before it (a counter, revision + 1) are
    replaced by ones setting random(), and a grant change still moves the revision."""
    path = tmp_path / "store.sqlite3"
    sealer = Sealer(secrets.token_bytes(32))
    SqliteStore(path, sealer).close()
    old = sqlite3.connect(path, isolation_level=None)
    back_to_schema_3(old)
    for (statement,) in old.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'access_revision_%'"
    ).fetchall():
        name = statement.split()[2]
        old.execute(f"DROP TRIGGER {name}")
        old.execute(statement.replace("random()", "revision + 1"))
    old.execute("UPDATE schema_version SET version = 2")
    old.close()
    upgraded = SqliteStore(path, sealer)
    try:
        with upgraded.session() as session:
            bodies = [
                sql
                for (sql,) in session.connection.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'access_revision_%'"
                )
            ]
            (before,) = session.connection.execute("SELECT revision FROM access_revision").fetchone()
            session.access().add_user("erin", admin=False)
            (after,) = session.connection.execute("SELECT revision FROM access_revision").fetchone()
        assert len(bodies) == 15 and all("random()" in sql and "+ 1" not in sql for sql in bodies)
        assert after != before
    finally:
        upgraded.close()


def keyed(index: int) -> Attributes:
    """What a Create stores of the numbers migration 4 moved: algorithm, length, usage mask."""
    return Attributes.of(
        (Tag.NAME, name(f"k-{index}")),
        (
            Tag.CRYPTOGRAPHIC_ALGORITHM,
            (CryptographicAlgorithm.AES, CryptographicAlgorithm.HMAC_SHA256)[index % 2],
        ),
        (Tag.CRYPTOGRAPHIC_LENGTH, (128, 256)[index % 3 == 0]),
        (
            Tag.CRYPTOGRAPHIC_USAGE_MASK,
            CryptographicUsageMask.ENCRYPT | (CryptographicUsageMask.DECRYPT if index % 4 == 0 else 0),
        ),
    )


KEYED_QUERIES: list[tuple[list[AttributeFilter], list[int]]] = [
    ([AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.HMAC_SHA256)], [11, 9, 7, 5, 3, 1]),
    (
        [
            AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            AttributeFilter(Tag.CRYPTOGRAPHIC_LENGTH, 256),
        ],
        [6, 0],
    ),
    ([AttributeFilter(Tag.CRYPTOGRAPHIC_LENGTH, 128)], [11, 10, 8, 7, 5, 4, 2, 1]),
    ([AttributeFilter(Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.DECRYPT)], [8, 4, 0]),
    (
        [AttributeFilter(Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT)],
        list(range(11, -1, -1)),
    ),
    ([AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.RSA)], []),
]


def test_a_store_of_schema_3_moves_algorithm_length_and_mask_rows_to_columns_on_open(tmp_path: Path) -> None:
    """Migration 4: a store whose algorithm, length and usage mask are attribute rows gets
    them in the object's columns, the rows deleted; Locate answers alike before and after,
    by algorithm (and length) through their index, never by reading every object."""
    records = [
        ObjectRecord(f"k-{i}", ObjectType.SYMMETRIC_KEY, "alice" if i != 5 else "bob", keyed(i), None)
        for i in range(11)
    ]
    upgraded = upgraded_from(tmp_path, records, back_to_schema_3)
    try:
        with upgraded.session() as session:  # a new object after the upgrade
            session.insert(ObjectRecord("k-11", ObjectType.SYMMETRIC_KEY, "alice", keyed(11), None))
        for filters, expected in KEYED_QUERIES:
            query = LocateQuery(owner="alice", now=NOW, filters=filters, count=True)
            uids, total, steps = plans(upgraded, query)
            wanted = [f"k-{i}" for i in expected if i != 5]  # bob's
            assert (uids, total) == (wanted, len(wanted)), filters
            assert not any(re.match(SCAN_OF_OBJECTS, step) for step in steps), steps
        with upgraded.session(write=False) as session:
            by_algorithm = session.connection.execute(
                "EXPLAIN QUERY PLAN SELECT uid FROM object WHERE cryptographic_algorithm = ?"
                " AND cryptographic_length = ?",
                (3, 256),
            ).fetchall()
        assert any("object_algorithm" in str(row[-1]) for row in by_algorithm), by_algorithm
    finally:
        upgraded.close()


def test_a_store_of_schema_4_moves_short_identifier_and_generator_rows_to_columns_on_open(
    tmp_path: Path,
) -> None:
    """Migration 5: the Short Unique Identifier and Random Number Generator rows of a store
    made before it become BLOB columns of the object's row; Locate by them (bytes compared
    whole, a structure as its TTLV) answers alike before and after, with no scan of every
    object or row, and a new object writes no such rows."""
    generators = [
        RandomNumberGenerator(rng_algorithm=RNGAlgorithm.UNSPECIFIED),
        RandomNumberGenerator(rng_algorithm=RNGAlgorithm.DRBG),
    ]

    def made(index: int) -> Attributes:
        return Attributes.of(
            (Tag.NAME, name(f"b-{index}")),
            (Tag.SHORT_UNIQUE_IDENTIFIER, bytes([index]) * 32),
            (Tag.RANDOM_NUMBER_GENERATOR, generators[index % 3 == 0]),
        )

    def found(store: SqliteStore, criteria: list[AttributeFilter]) -> list[str]:
        uids, total, steps = plans(store, LocateQuery(owner="alice", now=NOW, filters=criteria, count=True))
        assert total == len(uids)
        assert not any(re.match(SCAN_OF_OBJECTS, step) for step in steps), steps
        return uids

    queries: list[tuple[list[AttributeFilter], list[str]]] = [
        ([AttributeFilter(Tag.SHORT_UNIQUE_IDENTIFIER, bytes([4]) * 32)], ["b-4"]),
        ([AttributeFilter(Tag.RANDOM_NUMBER_GENERATOR, generators[1])], ["b-9", "b-6", "b-3", "b-0"]),
        (
            [
                AttributeFilter(Tag.RANDOM_NUMBER_GENERATOR, generators[0]),
                AttributeFilter(Tag.SHORT_UNIQUE_IDENTIFIER, bytes([7]) * 32),
            ],
            ["b-7"],
        ),
        ([AttributeFilter(Tag.SHORT_UNIQUE_IDENTIFIER, "not bytes")], []),
    ]
    records = [ObjectRecord(f"b-{i}", ObjectType.SYMMETRIC_KEY, "alice", made(i), None) for i in range(9)]
    upgraded = upgraded_from(tmp_path, records, back_to_schema_4)
    try:
        with upgraded.session() as session:
            session.insert(ObjectRecord("b-9", ObjectType.SYMMETRIC_KEY, "alice", made(9), None))
        assert rows_besides_names(upgraded) == (0, migrations.LATEST)
        for criteria, expected in queries:
            assert found(upgraded, criteria) == expected, criteria
        with upgraded.session(write=False) as session:
            record = session.load("b-9", None)
        assert record is not None and record.attributes == made(9)
    finally:
        upgraded.close()


def test_grants_past_the_merged_limit_keep_the_rule_per_row(store: SqliteStore) -> None:
    """A caller granted more targets than Locate merges as streams (MERGED_TARGETS) gets the
    rule tested per row, its lists bound as JSON arrays: still exactly what it may see."""
    populate_for_parts(store)
    granted = [f"uid-p{index}" for index in range(0, 120, 2)] + [f"uid-p{index}" for index in range(1, 15, 2)]
    assert len(granted) > MERGED_TARGETS
    admin = AccessAdmin.open(store.path)
    admin.add_user("dave", admin=False)
    for uid in granted:
        admin.add_grant("user", "dave", "object", uid, ROLES["reader"], "reader", "test")
    admin.close()
    online = [
        uid
        for uid in sorted(granted, key=lambda uid: -int(uid[5:]))
        if population(int(uid[5:]))[3] == Storage.ONLINE
    ]
    query = LocateQuery(owner="dave", now=NOW, offset=2, maximum=30, count=True, shared=True)
    uids, statements = statements_of(store, query)
    assert uids == online[2:32]
    assert any("json_each" in sql for sql in statements) and not any("UNION ALL" in sql for sql in statements)
    assert plans(store, query)[1] == len(online)


def test_a_store_of_schema_5_indexes_only_the_rows_with_a_number_on_open(tmp_path: Path) -> None:
    """Migration 6: (tag, int_value) keeps the rows that have a number (a Name's type, a
    date's instant), not a Digest's; Locate by Name, by a date kept in rows and by Digest
    answers alike before and after, the date through that index."""
    path = tmp_path / "store.sqlite3"
    sealer = Sealer(secrets.token_bytes(32))

    def made(index: int) -> Attributes:
        return Attributes.of(
            (Tag.NAME, name(f"d-{index}")),
            (
                Tag.DIGEST,
                Digest(hashing_algorithm=HashingAlgorithm.SHA_256, digest_value=bytes([index % 3]) * 32),
            ),
            (Tag.PROCESS_START_DATE, datetime(2026, 1, 1 + index, tzinfo=UTC)),
        )

    queries: list[tuple[list[AttributeFilter], list[str]]] = [
        ([AttributeFilter(Tag.NAME, name("d-4"))], ["d-4"]),
        (
            [
                AttributeFilter(Tag.PROCESS_START_DATE, datetime(2026, 1, 3, tzinfo=UTC)),
                AttributeFilter(Tag.PROCESS_START_DATE, datetime(2026, 1, 6, tzinfo=UTC)),
            ],
            ["d-5", "d-4", "d-3", "d-2"],
        ),
        (
            [
                AttributeFilter(
                    Tag.DIGEST,
                    Digest(hashing_algorithm=HashingAlgorithm.SHA_256, digest_value=bytes([1]) * 32),
                )
            ],
            ["d-7", "d-4", "d-1"],
        ),
    ]

    def answers(store: SqliteStore) -> list[list[str]]:
        found = []
        for criteria, _ in queries:
            uids, total, steps = plans(
                store, LocateQuery(owner="alice", now=NOW, filters=criteria, count=True)
            )
            assert total == len(uids)
            if criteria[0].tag == Tag.PROCESS_START_DATE:
                assert any("attribute_int" in step for step in steps), steps
            found.append(uids)
        return found

    def int_index(store: SqliteStore) -> str:
        with store.session(write=False) as session:
            (sql,) = session.connection.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'attribute_int'"
            ).fetchone()
        return str(sql)

    store = SqliteStore(path, sealer)
    with store.session() as session:
        for index in range(8):
            session.insert(ObjectRecord(f"d-{index}", ObjectType.SYMMETRIC_KEY, "alice", made(index), None))
    assert answers(store) == [expected for _, expected in queries]
    store.close()
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("DROP INDEX attribute_int")
    old.execute("CREATE INDEX attribute_int ON attribute (tag, int_value)")
    old.execute("UPDATE schema_version SET version = 5")
    old.close()
    upgraded = SqliteStore(path, sealer)
    try:
        assert int_index(upgraded).endswith("WHERE int_value IS NOT NULL")
        with upgraded.session() as session:
            session.insert(ObjectRecord("d-8", ObjectType.SYMMETRIC_KEY, "alice", made(8), None))
        assert answers(upgraded) == [["d-4"], ["d-5", "d-4", "d-3", "d-2"], ["d-7", "d-4", "d-1"]]
        with upgraded.session(write=False) as session:
            (version,) = session.connection.execute("SELECT version FROM schema_version").fetchone()
        assert version == migrations.LATEST == 6
    finally:
        upgraded.close()
