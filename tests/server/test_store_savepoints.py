"""SqliteSession.savepoint: nested savepoints undo only their own block, and their SQL
repeats from one message to the next (named by depth), so it is parsed once."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from pkcs11_kmip_server.store.policy import ConstraintRule
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteSession, SqliteStore


def rule(session: SqliteSession, name: str) -> None:
    session.policy().add_constraint(ConstraintRule(name, "min-length=AES:128"), "admin")


def names(session: SqliteSession) -> list[str]:
    return [entry.name for entry in session.policy().constraints()]


def test_nested_savepoints_undo_only_their_own_block(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    try:
        with store.session() as session:
            statements: list[str] = []
            session.connection.set_trace_callback(statements.append)
            with session.savepoint():  # a message
                rule(session, "outer")
                with pytest.raises(RuntimeError), session.savepoint():  # a failing item
                    rule(session, "inner")
                    with session.savepoint():
                        rule(session, "innermost")
                    raise RuntimeError("undo the item")
                with session.savepoint():  # the next item
                    rule(session, "next")
            with pytest.raises(RuntimeError), session.savepoint():  # a failing message
                rule(session, "failed")
                raise RuntimeError("undo the message")
            with session.savepoint():
                rule(session, "last")
            session.connection.set_trace_callback(None)
            assert names(session) == ["last", "next", "outer"]
        with store.session(write=False) as session:
            assert names(session) == ["last", "next", "outer"]
    finally:
        store.close()
    opened = [sql for sql in statements if sql.startswith("SAVEPOINT")]
    assert opened == [
        "SAVEPOINT item0",
        "SAVEPOINT item1",
        "SAVEPOINT item2",
        "SAVEPOINT item1",
        "SAVEPOINT item0",
        "SAVEPOINT item0",
    ]
    assert "ROLLBACK TO item1" in statements and "ROLLBACK TO item0" in statements
