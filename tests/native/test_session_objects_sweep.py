"""The start sweep of session objects a killed run left (native.ending.sweep), on a real
SQLite store: it destroys every object of a marked owner, and nothing of anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages.payloads import ActivateRequest, CreateRequest, CreateResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ObjectType,
    Operation,
    State,
)
from pkcs11_kmip_server.native import ending
from pkcs11_kmip_server.native.objects import SESSION_MARK
from pkcs11_kmip_server.operations import HANDLERS, load_all
from pkcs11_kmip_server.store import Storage, StoreSession
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from testsupport.kmip_builders import as_attributes


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "kmip.sqlite3", Sealer(b"\x01" * 32))
    yield opened
    opened.close()


def aes_key(store: SqliteStore, owner: str, activate: bool = True) -> str:
    """An AES key of `owner`, made by the Create (and Activate) handlers."""
    load_all()
    request = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=as_attributes(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT),
        ),
    )
    made: list[str] = []

    def work(session: StoreSession) -> None:
        context = ending.context_of(owner, session, datetime.now(UTC).replace(microsecond=0))
        context.operation = Operation.CREATE
        created = HANDLERS[Operation.CREATE](context, request)
        assert isinstance(created, CreateResponse) and isinstance(created.unique_identifier, str)
        uid = created.unique_identifier
        if activate:
            context.operation = Operation.ACTIVATE
            HANDLERS[Operation.ACTIVATE](context, ActivateRequest(unique_identifier=uid))
        made.append(uid)

    ending.in_transaction(store, work)
    return made[0]


def state_of(store: SqliteStore, uid: str) -> tuple[State, Storage, bool]:
    with store.session(write=False) as session:
        record = session.load(uid, None)
        assert record is not None
        return record.attributes.get(Tag.STATE), record.storage, record.material is not None


def test_the_sweep_destroys_every_object_of_marked_owners_and_nothing_else(store: SqliteStore) -> None:
    token = aes_key(store, "alice")
    lookalike = aes_key(store, "alice session-objects x")  # a client's name, no mark
    active = aes_key(store, f"alice{SESSION_MARK}0011")
    pre_active = aes_key(store, f"alice{SESSION_MARK}0011", activate=False)
    other_app = aes_key(store, f"bob{SESSION_MARK}ffee")

    assert ending.sweep(store) == 3
    for uid in (active, pre_active, other_app):
        state, storage, material = state_of(store, uid)
        assert state is State.DESTROYED and storage is Storage.DESTROYED and not material
    for uid in (token, lookalike):
        assert state_of(store, uid) == (State.ACTIVE, Storage.ONLINE, True)
    assert ending.sweep(store) == 0  # the Destroyed records stay, and are not swept again
