"""Two engines on one store, to hold a lane's answers against the general path's.

tests/server/test_get_lane.py and test_crypto_lane.py build their lane on `lane_engine`
and compare its bytes and audit line with what `general` answers to the same message.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import RequestPayload
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.audit import AuditLog
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
ALICE = Peer("alice", "127.0.0.1:4242", connection=1)
BOB = Peer("bob", "127.0.0.1:4343", connection=2)


class EnginePair:
    """`general` answers every message, `lane_engine` is what a lane is built on; both on one
    store (`store`, made here) and one clock (`now`), each writing its own audit log, so lines
    can be compared."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.now = NOW
        self.store = SqliteStore(directory / "store.sqlite3", Sealer(secrets.token_bytes(32)))
        self.general = self._engine(self.store, "general")
        self.lane_engine = self._engine(self.store, "lane")

    def elsewhere(self) -> SqliteStore:
        """Another store on the same database, as another server process has it."""
        return SqliteStore(self.directory / "store.sqlite3", self.store.sealer)

    def _engine(self, store: SqliteStore, name: str) -> Engine:
        log = AuditLog(self.directory / f"{name}.log")
        engine = Engine(store, DEFAULT_LIMITS, clock=lambda: self.now, audit=log)
        engine.server_correlation_value = lambda: "A1B2C3D4-7"  # type: ignore[method-assign]
        return engine

    def call(self, version: Version, payload: RequestPayload, peer: Peer = ALICE) -> ResponseMessage:
        """The general path's answer to a one-item message."""
        header = RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1)
        item = RequestBatchItem(operation=payload.OPERATION, request_payload=payload)
        message = RequestMessage(header=header, batch_items=[item]).encode(version)
        return ResponseMessage.decode(self.general.handle(message, peer))

    def last_audit(self, name: str) -> dict[str, object]:
        lines = (self.directory / f"{name}.log").read_text().splitlines()
        entry: dict[str, object] = json.loads(lines[-1])
        return entry

    def close(self) -> None:
        for engine in (self.general, self.lane_engine):
            engine.close()
            assert engine.audit is not None
            engine.audit.close()
        self.store.close()
