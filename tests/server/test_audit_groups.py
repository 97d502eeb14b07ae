"""The audit lines of a group of messages (Engine.handle_many, the writer thread): one line
per message, as `handle` writes for each alone, all written in one write(2)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip.messages import ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import ActivateRequest
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from tests.server.test_engine import message
from tests.server.test_group_commit import named

ALICE = Peer("alice", address="192.0.2.1:4000")
BOB = Peer("bob", address="192.0.2.2:4000")


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    audit = AuditLog(tmp_path / "audit.log")
    engine = Engine(store, DEFAULT_LIMITS, clock=lambda: datetime(2026, 1, 1, tzinfo=UTC), audit=audit)
    yield engine
    engine.close()
    audit.close()
    store.close()


def lines(engine: Engine) -> list[dict[str, Any]]:
    assert engine.audit is not None
    return [json.loads(line) for line in engine.audit.path.read_text().splitlines()]


def uid_of(answer: bytes | Exception) -> str:
    assert isinstance(answer, bytes)
    uid: str = ResponseMessage.decode(answer).batch_items[0].response_payload.unique_identifier  # type: ignore[union-attr]
    return uid


def test_a_group_writes_a_line_per_message_in_one_write(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[bytes] = []
    write = os.write

    def counted(descriptor: int, data: bytes) -> int:
        writes.append(data)
        return write(descriptor, data)

    monkeypatch.setattr(os, "write", counted)  # the call audit.py makes
    missing = message((2, 1), ActivateRequest(unique_identifier="missing"))
    answers = engine.handle_many([(named("a"), ALICE), (missing, BOB), (named("b"), BOB)])
    assert len(writes) == 1 and writes[0].count(b"\n") == 3
    first, failed, second = lines(engine)
    assert (first["principal"], first["address"], first["version"]) == ("alice", "192.0.2.1:4000", "2.1")
    assert first["items"] == [{"operation": "Create", "ids": [uid_of(answers[0])], "status": "Success"}]
    assert failed["principal"] == "bob"
    assert failed["items"] == [
        {
            "operation": "Activate",
            "ids": ["missing"],
            "status": "Operation Failed",
            "reason": "Object Not Found",
        }
    ]
    assert second["items"][0]["ids"] == [uid_of(answers[2])]


def test_a_group_line_is_the_line_the_message_gets_alone(engine: Engine) -> None:
    alone = engine.handle(named("alone"), ALICE)
    grouped = engine.handle_many([(named("grouped"), ALICE), (named("other"), BOB)])
    first, second, _ = lines(engine)
    first["items"][0]["ids"] = second["items"][0]["ids"] = []
    assert first == second
    assert uid_of(alone) != uid_of(grouped[0])
