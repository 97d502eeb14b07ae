"""A session ends in the thread that owns its connection, but the garbage collector may free
it in any thread (it runs in whichever thread allocates). Freed there, a cursor that still
held one of the connection's cached statements reset it under the owner's next session,
which then failed binding it: sqlite3.InterfaceError, "bad parameter or other API misuse"
(a Create or an Activate answered General Failure when four clients wrote at once)."""

from __future__ import annotations

import gc
import secrets
import sys
import threading
import time
from pathlib import Path

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, NameType, ObjectType, State
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

SESSIONS = 2000
SECONDS = 6.0  # at most; the collector's thread makes each session slow


def record(index: int) -> ObjectRecord:
    """An object with a dozen attribute rows: the insert binds one statement many times."""
    names = [
        (Tag.NAME, Name(name_value=f"key-{index}-{n}", name_type=NameType.UNINTERPRETED_TEXT_STRING))
        for n in range(10)
    ]
    attributes = Attributes.of(
        *names, (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.STATE, State.PRE_ACTIVE)
    )
    return ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, "alice", attributes, None)


def test_sessions_freed_by_another_threads_collector_leave_the_next_insert_alone(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            gc.collect(0)
            time.sleep(0.0005)  # a few sessions' garbage at a time

    collecting_here, switching = gc.isenabled(), sys.getswitchinterval()
    gc.disable()  # only the other thread collects
    sys.setswitchinterval(1e-5)  # this thread gets the GIL back soon after each SQLite call
    collector = threading.Thread(target=collect)
    collector.start()
    failures: list[str] = []
    made = 0
    try:
        deadline = time.monotonic() + SECONDS
        while made < SESSIONS and time.monotonic() < deadline:
            try:
                with store.session() as session:
                    session.policy()
                    session.insert(record(made))
                    cycle: list[object] = [session]
                    cycle.append(cycle)  # garbage only the collector frees
            except Exception as error:
                failures.append(f"session {made}: {error!r}")
            made += 1
    finally:
        stop.set()
        collector.join()
        sys.setswitchinterval(switching)
        if collecting_here:
            gc.enable()
    with store.session(write=False) as session:
        (stored,) = session.connection.execute("SELECT COUNT(*) FROM object").fetchone()
    store.close()
    assert failures == [], f"{len(failures)} of {made}"
    assert made >= 50, "too few sessions to mean anything"
    assert stored == made
