"""The SQLite store itself: Locate runs on the indexes, not on every stored attribute."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, NameType, ObjectType, State
from pkcs11_kmip_server.access import ROLES
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord
from pkcs11_kmip_server.store.access import AccessAdmin
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def name(value: str) -> Name:
    return Name(name_value=value, name_type=NameType.UNINTERPRETED_TEXT_STRING)


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


def test_locate_counts_only_when_asked(store: SqliteStore) -> None:
    criteria = [AttributeFilter(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)]
    query = LocateQuery(owner="alice", now=NOW, filters=criteria, maximum=10, count=True)
    uids, total, _ = plans(store, query)
    assert total == 25 and len(uids) == 10
    assert uids[0] == "uid-48"  # newest first
    bob = plans(store, LocateQuery(owner="bob", now=NOW, filters=[AttributeFilter(Tag.NAME, name("key-10"))]))
    assert bob[0] == []  # alice's key, by its name: not bob's to find


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
    admin.add_user("carol", admin=False)
    admin.add_group("user", "eu-auditors", users=["carol"])
    admin.add_group("user", "auditors", groups=["eu-auditors"])
    admin.add_group("object", "payments", groups=["payments-eu"])
    admin.add_grant("group", "auditors", "group", "payments", ROLES["reader"], "reader", "test")
    admin.close()

    uids, total, steps = plans(store, carol(AttributeFilter(Tag.NAME, name("key-52"))))
    assert (uids, total) == (["uid-52"], 1)
    assert any("attribute_text" in step for step in steps), steps
    assert any("attribute_object" in step for step in steps), steps  # the group probe, by row
    assert any("json_each" in step for step in steps), steps  # the cached lists
    assert not any(re.match(r"SCAN (o|object|a|attribute)\b", step) for step in steps), steps
    assert plans(store, carol(AttributeFilter(Tag.NAME, name("key-53"))))[:2] == ([], 0)  # group "other"
    assert plans(store, carol())[:2] == (["uid-58", "uid-56", "uid-54", "uid-52", "uid-50"], 5)
    # Without shared (server-internal lookups), and for a caller without grants: the owner index.
    assert plans(store, LocateQuery(owner="carol", now=NOW))[0] == []
    _, _, owner_steps = plans(store, LocateQuery(owner="bob", now=NOW, shared=True))
    assert any("object_owner" in step for step in owner_steps), owner_steps


def carol(*filters: AttributeFilter) -> LocateQuery:
    return LocateQuery(owner="carol", now=NOW, filters=list(filters), shared=True, count=True)


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
    admin.add_user("carol", admin=False)
    admin.add_group("user", "eu-auditors", users=["carol"])
    admin.add_group("user", "auditors", groups=["eu-auditors"])
    admin.add_group("object", "payments", groups=["payments-eu"])
    grant = admin.add_grant("group", "auditors", "group", "payments", ROLES["reader"], "reader", "test")
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
    assert not any("json_each" in sql for sql in statements if "FROM object o" in sql), statements
    uids, statements = statements_of(store, carol(AttributeFilter(Tag.OBJECT_TYPE, ObjectType.OPAQUE_OBJECT)))
    assert uids == ["uid-opaque"]
    assert not any("json_each" in sql for sql in statements if "FROM object o" in sql), statements

    # Outside the grants: the rule stays (only carol's own object of group "other").
    uids, statements = statements_of(store, carol(AttributeFilter(Tag.OBJECT_GROUP, "other")))
    assert uids == ["uid-carol"]
    assert any("json_each" in sql for sql in statements if "FROM object o" in sql), statements
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
