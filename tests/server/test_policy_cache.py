"""The store's PolicyCache: the default sets and constraints read once per policy revision,
and every change to them seen at the next read, whoever made it: this store's session,
another store on the same file (as another server process), `open_policy` (as
`pkcs11-kmip admin`), and not a change rolled back. Over TLS, test_defaults_constraints
has the admin CLI change the tables beside a running server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType
from pkcs11_kmip_server.store.policy import ConstraintRule, DefaultSet, open_policy
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite3"


@pytest.fixture
def stores(path: Path) -> Iterator[tuple[SqliteStore, SqliteStore]]:
    """Two stores on one file, each with its own cache, as two server processes have."""
    sealer = Sealer(secrets.token_bytes(32))
    one, other = SqliteStore(path, sealer), SqliteStore(path, sealer)
    yield one, other
    one.close()
    other.close()


def read(store: SqliteStore) -> tuple[list[str], list[str], list[str]]:
    """The sets' and rules' names as a session reads them, and the statements it ran."""
    with store.session(write=False) as session:
        statements: list[str] = []
        session.connection.set_trace_callback(statements.append)
        tables = session.policy()
        sets, rules = [s.name for s in tables.default_sets()], [r.name for r in tables.constraints()]
        session.connection.set_trace_callback(None)
    return sets, rules, statements


def default_set(name: str) -> DefaultSet:
    return DefaultSet(
        name, "server", int(ObjectType.SYMMETRIC_KEY), Attributes.of((Tag.CRYPTOGRAPHIC_LENGTH, 256))
    )


def test_the_tables_are_read_again_only_when_they_changed(stores: tuple[SqliteStore, SqliteStore]) -> None:
    one, _ = stores
    assert read(one)[:2] == ([], [])
    *_, statements = read(one)
    assert not any("FROM policy_default" in sql or "FROM policy_constraint" in sql for sql in statements)
    with one.session() as session:
        session.policy().add_constraint(ConstraintRule("min", "min-length=AES:256"), "admin")
    sets, rules, statements = read(one)
    assert (sets, rules) == ([], ["min"])
    assert any("FROM policy_constraint" in sql for sql in statements)


def test_another_store_on_the_file_sees_each_change_at_its_next_read(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    one, other = stores
    assert read(one)[:2] == read(other)[:2] == ([], [])
    with other.session() as session:
        session.policy().add_default_set(default_set("sym"), "admin")
    assert read(one)[:2] == (["sym"], [])
    with other.session() as session:
        session.policy().add_constraint(ConstraintRule("min", "min-length=AES:256"), "admin")
    assert read(one)[:2] == (["sym"], ["min"])
    with other.session() as session:
        session.policy().clear("default")
        session.policy().remove("constraint", "min")
    assert read(one)[:2] == ([], [])


def test_the_admin_tools_transaction_is_seen(stores: tuple[SqliteStore, SqliteStore], path: Path) -> None:
    one, _ = stores
    assert read(one)[:2] == ([], [])
    with open_policy(path) as tables:
        tables.add_constraint(ConstraintRule("max", "max-length=AES:128"), "admin")
    assert read(one)[:2] == ([], ["max"])


def test_a_change_rolled_back_after_a_read_leaves_no_stale_entry(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    """The cache may be filled inside the transaction that changes the tables (Set
    Constraints, then Create, in one batch); once that rolls back and another change
    commits, the cache must hold that one, not the rolled-back rules."""
    one, other = stores
    assert read(one)[:2] == ([], [])
    with pytest.raises(RuntimeError), one.session() as session:
        session.policy().add_constraint(ConstraintRule("gone", "min-length=AES:256"), "admin")
        assert [rule.name for rule in session.policy().constraints()] == ["gone"]
        raise RuntimeError("roll back")
    assert read(other)[:2] == ([], [])
    with other.session() as session:  # a counter would now be back at the value cached above
        session.policy().add_constraint(ConstraintRule("kept", "max-length=AES:256"), "admin")
    assert read(one)[:2] == ([], ["kept"])


def revision_reads(statements: list[str]) -> int:
    return sum("FROM policy_revision" in sql for sql in statements)


def test_a_transaction_reads_the_revision_once_while_it_changes_no_policy_row(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    """A Create reads the defaults and then the constraints: one revision read between them."""
    one, _ = stores
    with one.session() as session:
        statements: list[str] = []
        session.connection.set_trace_callback(statements.append)
        for _ in range(3):
            session.policy().default_sets()
            session.policy().constraints()
        session.connection.set_trace_callback(None)
    assert revision_reads(statements) == 1


def test_a_change_undone_by_its_savepoint_is_not_seen_later_in_the_transaction(
    stores: tuple[SqliteStore, SqliteStore],
) -> None:
    """After a change of its own, a transaction reads the revision each time: a savepoint
    rolled back brings the old revision back, and the old rules with it."""
    one, other = stores
    with one.session() as session:
        assert session.policy().constraints() == []
        with pytest.raises(RuntimeError), session.savepoint():
            session.policy().add_constraint(ConstraintRule("gone", "min-length=AES:256"), "admin")
            assert [rule.name for rule in session.policy().constraints()] == ["gone"]
            raise RuntimeError("roll back the message")
        statements: list[str] = []
        session.connection.set_trace_callback(statements.append)
        assert session.policy().constraints() == []
        assert session.policy().default_sets() == []
        session.connection.set_trace_callback(None)
        assert revision_reads(statements) == 2
    assert read(other)[:2] == ([], [])
