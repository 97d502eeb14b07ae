"""The embedded object store: SQLite in WAL mode, key material sealed with the master key.

Tables:
  object     one row per managed object: the columns Locate and the lifecycle need,
             the attributes (TTLV, no secrets) and the sealed material; its Object
             Group if it has exactly one, and how many it has (for access control)
  attribute  one row per attribute instance, indexed: what Locate searches (except the
             attributes it finds by the object's columns: State, Object Type, Unique
             Identifier and the single-valued numbers and byte strings, NUMBER_COLUMNS
             and BYTES_COLUMNS)
  principal, access_*  users, groups and grants (see store.access)
  policy_*   attribute defaults and constraints (see store.policy)
  async_job  asynchronous operations, for Poll and Cancel from any server process (store.jobs)
  schema_version  how far store.migrations brought this store (SCHEMA is the base shape)
Every worker thread has its own connection; a session is one transaction.
A session meant to write starts IMMEDIATE: writers queue for SQLite's one write lock
(up to the busy timeout) instead of failing. A read session starts deferred, so
readers never wait; if it writes after all and meets a newer snapshot, it raises
`Conflict` and the engine runs the message again as a writer.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pkcs11_kmip.kmip.messages import Attribute, Attributes, Structure
from pkcs11_kmip.kmip.messages.objects import (
    OBJECT_CLASSES,
)
from pkcs11_kmip.kmip.messages.structures import (
    AlternativeName,
    ApplicationSpecificInformation,
    Link,
    Name,
)
from pkcs11_kmip.kmip.spec import KmipEnum, KmipMask, Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, State
from pkcs11_kmip.kmip.ttlv import Item, Limits, binary
from pkcs11_kmip.kmip.ttlv.limits import MAX_SUPPORTED_DEPTH
from pkcs11_kmip_server.store import (
    AttributeFilter,
    Conflict,
    LocateQuery,
    ObjectRecord,
    Storage,
    iter_filters_by_tag,
    shared_encoding,
)
from pkcs11_kmip_server.store.access import (
    ACCESS_SCHEMA,
    AccessAdmin,
    GrantCache,
    Rights,
    VisiblePart,
    rights,
)
from pkcs11_kmip_server.store.jobs import JOBS_SCHEMA, JobTable
from pkcs11_kmip_server.store.migrations import migrate
from pkcs11_kmip_server.store.policy import POLICY_SCHEMA, PolicyCache, PolicyTables
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.tickets import TICKETS_SCHEMA, TicketTable
from pkcs11_kmip_server.store.writer_lock import WriterLock

SCHEMA = """
CREATE TABLE IF NOT EXISTS object (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    object_type INTEGER NOT NULL,
    owner TEXT NOT NULL,
    storage INTEGER NOT NULL,
    state INTEGER NOT NULL,
    activation_date INTEGER,
    deactivation_date INTEGER,
    attributes BLOB NOT NULL,
    material BLOB
);
CREATE INDEX IF NOT EXISTS object_owner ON object (owner, seq);
CREATE INDEX IF NOT EXISTS object_type ON object (object_type);
CREATE TABLE IF NOT EXISTS attribute (
    object_seq INTEGER NOT NULL REFERENCES object (seq) ON DELETE CASCADE,
    tag INTEGER NOT NULL,
    name TEXT,
    text_value TEXT,
    text_value2 TEXT,
    int_value INTEGER,
    blob_value BLOB
);
CREATE INDEX IF NOT EXISTS attribute_text ON attribute (tag, text_value) WHERE text_value IS NOT NULL;
CREATE INDEX IF NOT EXISTS attribute_int ON attribute (tag, int_value);  -- partial since migration 6
CREATE INDEX IF NOT EXISTS attribute_named ON attribute (name, text_value) WHERE name IS NOT NULL;
CREATE INDEX IF NOT EXISTS attribute_object_tag ON attribute (object_seq, tag);
DROP INDEX IF EXISTS attribute_object;
"""


# Single-valued attributes whose value is a number (dates, flags, enumerations, masks)
# that Locate finds by a column of the object's row (`_number_condition`) instead of
# attribute rows: 13 of a new key's 18 rows, each three B-tree entries per Create (the
# table, (tag, int_value), (object_seq, tag)). Algorithm and length share one index
# (object_algorithm); the others have none (Locate by one of them alone reads the caller's
# objects, through the owner index). The two dates of the lifecycle had theirs before
# (EFFECTIVE_STATE), the next ten came with migration 2, the last three with migration 4.
NUMBER_COLUMNS: dict[int, str] = {
    Tag.ACTIVATION_DATE: "activation_date",
    Tag.DEACTIVATION_DATE: "deactivation_date",
    Tag.INITIAL_DATE: "initial_date",
    Tag.LAST_CHANGE_DATE: "last_change_date",
    Tag.ORIGINAL_CREATION_DATE: "original_creation_date",
    Tag.SENSITIVE: "sensitive",
    Tag.EXTRACTABLE: "extractable",
    Tag.ALWAYS_SENSITIVE: "always_sensitive",
    Tag.NEVER_EXTRACTABLE: "never_extractable",
    Tag.FRESH: "fresh",
    Tag.KEY_FORMAT_TYPE: "key_format_type",
    Tag.PROTECTION_STORAGE_MASK: "protection_storage_mask",
    Tag.CRYPTOGRAPHIC_ALGORITHM: "cryptographic_algorithm",
    Tag.CRYPTOGRAPHIC_LENGTH: "cryptographic_length",
    Tag.CRYPTOGRAPHIC_USAGE_MASK: "cryptographic_usage_mask",
}

# Single-valued attributes whose value is bytes (a Byte String, or a structure as its TTLV
# as index_values writes it) that Locate compares whole with a column of the object's row,
# instead of attribute rows (migration 5): what a Create wrote that no index served, as
# Locate by them read every row of their tag. Locate by one of them now reads the caller's
# objects, through the owner index.
BYTES_COLUMNS: dict[int, str] = {
    Tag.SHORT_UNIQUE_IDENTIFIER: "short_unique_identifier",
    Tag.RANDOM_NUMBER_GENERATOR: "random_number_generator",
}

# Each attribute kept in a column: its place among the row's NUMBER_COLUMNS and then
# BYTES_COLUMNS, and which of index_values' columns it takes (the number, or the bytes).
_IN_COLUMNS: dict[int, tuple[int, int]] = {
    **{tag: (place, 3) for place, tag in enumerate(NUMBER_COLUMNS)},
    **{tag: (len(NUMBER_COLUMNS) + place, 4) for place, tag in enumerate(BYTES_COLUMNS)},
}
_STATE = int(Tag.STATE)
_OBJECT_GROUP = int(Tag.OBJECT_GROUP)
_NAME = int(Tag.NAME)

# What insert and save write to an object's row (the uid last: save finds the row by it).
OBJECT_COLUMNS = (
    "object_type",
    "owner",
    "storage",
    "state",
    *NUMBER_COLUMNS.values(),
    *BYTES_COLUMNS.values(),
    "attributes",
    "material",
    "object_group",
    "object_groups",
    "uid",
)
INSERT_OBJECT = (
    f"INSERT INTO object ({', '.join(OBJECT_COLUMNS)}) VALUES ({', '.join('?' * len(OBJECT_COLUMNS))})"
)
UPDATE_OBJECT = (
    f"UPDATE object SET {', '.join(f'{c} = ?' for c in OBJECT_COLUMNS[:-1])} WHERE uid = ? RETURNING seq"
)
INSERT_ATTRIBUTE = (
    "INSERT INTO attribute (object_seq, tag, name, text_value, text_value2, int_value, blob_value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)

# Attributes Locate finds by the object's own columns (see _condition), so they get
# no attribute rows: each row costs an index entry, and a page written, per commit (the
# Unique Identifier's a random leaf of the text index, the uid column has its own).
LOCATED_BY_COLUMN = frozenset({Tag.STATE, Tag.OBJECT_TYPE, Tag.UNIQUE_IDENTIFIER})
_NO_ROWS = LOCATED_BY_COLUMN | _IN_COLUMNS.keys()

# The effective state (lifecycle.effective_state) as SQL, for Locate by State.
EFFECTIVE_STATE = f"""(CASE
    WHEN o.state = {State.PRE_ACTIVE} AND o.activation_date IS NOT NULL AND o.activation_date <= :now THEN
        (CASE WHEN o.deactivation_date IS NOT NULL AND o.deactivation_date <= :now
              THEN {State.DEACTIVATED} ELSE {State.ACTIVE} END)
    WHEN o.state = {State.ACTIVE} AND o.deactivation_date IS NOT NULL AND o.deactivation_date <= :now
        THEN {State.DEACTIVATED}
    ELSE o.state END)"""


def _same(value: Any) -> Any:
    return value


# The sqlite3 module binds exact int, float, str and bytearray parameters as they are; for
# any other (None, bytes, an enum) it first looks for an adapter: a registry miss, then two
# attribute lookups (__adapt__, __conform__) that each raise and clear an AttributeError in
# C, ~0.4 us a parameter, 17 of a Create's. Adapters registered for the types the store
# binds make the registry lookup hit: None and bytes bind as themselves, a Tag as its int,
# exactly as before (process-wide, as the registry is the module's). The adapters are C
# callables, not a Python function (a frame per parameter, ~16 a Create): an empty dict's
# `get` answers None for None, `bytes.__bytes__` an exact bytes object itself (callgrind,
# bench/create_instructions.py: -3.8k instructions a Create).
_NO_ADAPTED: dict[None, None] = {}  # stays empty
sqlite3.register_adapter(type(None), _NO_ADAPTED.get)
sqlite3.register_adapter(bytes, bytes.__bytes__)
sqlite3.register_adapter(Tag, int)


# A Create's dates are mostly one instant (Initial, Last Change, Original Creation Date).
@functools.lru_cache(maxsize=64)
def epoch(moment: datetime) -> int:
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def vendor_key(attribute: Attribute) -> str:
    return f"{attribute.vendor_identification or ''}\x00{attribute.attribute_name or ''}"


IndexColumns = tuple[str | None, str | None, str | None, int | None, bytes | None]
_NO_COLUMNS: IndexColumns = (None, None, None, None, None)


def _vendor_columns(value: Attribute) -> IndexColumns:
    raw = value.attribute_value
    text = raw.value if isinstance(raw, Item) and isinstance(raw.value, str) else None
    number = raw.value if isinstance(raw, Item) and type(raw.value) is int else None
    blob = binary.encode(raw) if isinstance(raw, Item) and text is None and number is None else None
    return vendor_key(value), text, None, number, blob


def _name_columns(value: Name) -> IndexColumns:
    name_type = value.name_type
    return None, value.name_value, None, int(name_type) if name_type is not None else None, None


def _alternative_name_columns(value: AlternativeName) -> IndexColumns:
    alt_type = value.alternative_name_type
    return None, value.alternative_name_value, None, int(alt_type) if alt_type is not None else None, None


def _application_columns(value: ApplicationSpecificInformation) -> IndexColumns:
    return None, value.application_namespace, value.application_data, None, None


def _link_columns(value: Link) -> IndexColumns:
    linked = value.linked_object_identifier
    return None, str(linked) if linked is not None else None, None, int(value.link_type or 0), None


def _encoded(value: Structure) -> bytes:
    shared = shared_encoding(value)  # a constant every new object shares (objects.SERVER_RNG)
    return value.encode() if shared is None else shared


# What indexes a value, by its class, most specific first: a value takes the first
# entry its class is a subclass of (Attribute and Name before any Structure, bool
# and the enums and masks as int); and, for a class whose value fills one column, which
# one and how (`column_value`; test_store_binding checks it against the columns).
_COLUMNS_BY_CLASS: tuple[
    tuple[type, Callable[[Any], IndexColumns], tuple[int, Callable[[Any], Any]] | None], ...
] = (
    (Attribute, _vendor_columns, None),
    (Name, _name_columns, None),
    (AlternativeName, _alternative_name_columns, None),
    (ApplicationSpecificInformation, _application_columns, None),
    (Link, _link_columns, None),
    (str, lambda value: (None, value, None, None, None), (1, _same)),
    (datetime, lambda value: (None, None, None, epoch(value), None), (3, epoch)),
    (int, lambda value: (None, None, None, int(value), None), (3, int)),
    (bytes, lambda value: (None, None, None, None, value), (4, _same)),
    (Structure, lambda value: (None, None, None, None, value.encode()), (4, _encoded)),
)
# The same, per exact class, filled on first use: one dictionary lookup per value.
_columns_cache: dict[type, Callable[[Any], IndexColumns]] = {}
# Per column (a place in IndexColumns), what gives that column alone, per exact class.
_column_caches: tuple[dict[type, Callable[[Any], Any]], ...] = tuple({} for _ in _NO_COLUMNS)


def _entry_for(kind: type) -> tuple[Callable[[Any], IndexColumns], tuple[int, Callable[[Any], Any]] | None]:
    return next(
        ((columns, one) for base, columns, one in _COLUMNS_BY_CLASS if issubclass(kind, base)),
        (lambda value: _NO_COLUMNS, None),
    )


def _columns_for(kind: type) -> Callable[[Any], IndexColumns]:
    columns = _columns_cache[kind] = _entry_for(kind)[0]
    return columns


def _column_for(kind: type, place: int) -> Callable[[Any], Any]:
    """The class's converter if its value fills that column (int() for an int: no tuple,
    no Python frame), None if it fills another, else that item of its columns."""
    columns, one = _entry_for(kind)
    if one is None:
        getter: Callable[[Any], Any] = lambda value: columns(value)[place]  # noqa: E731
    else:
        getter = one[1] if one[0] == place else lambda value: None
    _column_caches[place][kind] = getter
    return getter


def index_values(tag: int, value: Any) -> IndexColumns:
    """(name, text, text2, int, blob) columns of one attribute instance."""
    kind = type(value)
    return (_columns_cache.get(kind) or _columns_for(kind))(value)


def column_value(place: int, value: Any) -> Any:
    """index_values(tag, value)[place], without the others."""
    kind = type(value)
    return (_column_caches[place].get(kind) or _column_for(kind, place))(value)


# The SQL `locate` writes for a Locate by one Name value (no Name Type) of the owner's
# on-line and archived objects, maximum 2: the unique-name check's (SqliteSession.named).
# "+" keeps SQLite off the (owner, seq) index: it reads the objects holding the Name by
# rowid, newest first from the list of them, where through that index it sorted them after
# (a temporary B-tree for ORDER BY): 16.2 -> 12.5 us for a Name no object has yet.
_NAMED = (
    "SELECT o.uid FROM object o WHERE +o.owner = ?"
    f" AND o.storage IN ({int(Storage.ONLINE)}, {int(Storage.ARCHIVED)})"
    " AND o.seq IN (SELECT a.object_seq FROM attribute a WHERE a.tag = ? AND a.text_value = ?)"
    " ORDER BY o.seq DESC LIMIT 2"
)
# Whether any object at all has the Name value: most Creates name a value no object has,
# and this one probe of the (tag, text_value) index answers them, where _NAMED first
# builds the list of the objects holding it (an ephemeral B-tree, opened even if empty).
_ANY_NAMED = "SELECT 1 FROM attribute WHERE tag = ? AND text_value = ? LIMIT 1"

# WAL pages a commit may leave before it copies them into the database (SQLite's default
# 1,000): the pages a Create changes (its object's leaves, the uid index's random one) are
# mostly changed again by the next ones, so copying less often copies each fewer times (a
# replay of grouped Creates' SQL on a 48 MB store: COMMIT 26.7 -> 19.9 us per Create), with
# two fsyncs per copy. At most ~16 MB of WAL; commits stay as durable (each is in the WAL).
WAL_AUTOCHECKPOINT = 4000

# Our own records: written by us, so no size limit applies; nesting as deep as allowed.
_STORED = Limits(max_message_size=2**62, max_depth=MAX_SUPPORTED_DEPTH)
_LOAD = (
    "SELECT object_type, storage, attributes, material, owner FROM object"
    " WHERE uid = ? AND (? IS NULL OR owner = ?)"
)


def record_of(uid: str, row: tuple[Any, ...], sealer: Sealer) -> ObjectRecord:
    """The record of a row as `_LOAD` selects it: attributes decoded, material unsealed."""
    object_type = ObjectType(row[0])
    attributes = Attributes.decode_any_version(row[2])
    material = None
    if row[3] is not None:
        plain = sealer.open(row[3], uid)
        material = OBJECT_CLASSES[object_type].from_item(binary.decode(plain, _STORED))
    return ObjectRecord(uid, object_type, row[4], attributes, material, Storage(row[1]))


class SqliteStore:
    def __init__(self, path: Path, sealer: Sealer, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.sealer = sealer
        self.synchronous = synchronous
        self._local = threading.local()
        self._peeking = threading.local()  # `peek`'s connections: one per thread, never waiting
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        # Writers of every server process queue here for SQLite's one write lock, and are
        # woken as soon as the previous one commits (store.writer_lock).
        self._writer = WriterLock(path)
        self._grants = GrantCache()  # each caller's Locate grants, per access revision
        self._policy = PolicyCache()  # the default sets and constraints, per policy revision
        with self._connection() as connection:
            connection.executescript(SCHEMA + ACCESS_SCHEMA + POLICY_SCHEMA + JOBS_SCHEMA + TICKETS_SCHEMA)
            migrate(connection)

    def _connection(self, local: threading.local | None = None, timeout: float = 30.0) -> sqlite3.Connection:
        local = local or self._local
        connection: sqlite3.Connection | None = getattr(local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self.path, isolation_level=None, timeout=timeout, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={self.synchronous}")
            connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT}")
            connection.execute("PRAGMA foreign_keys=ON")
            local.connection = connection
            with self._all_lock:
                self._all.append(connection)
        return connection

    def peek(self, uid: str) -> tuple[Any, ...] | None:
        """The object's row as `SqliteSession.load` reads it (`record_of` decodes it), or None.

        One statement outside any session (its own snapshot), on a connection that never
        waits for a lock: the Get lane (get_lane.py) calls it from the event loop, which
        must not block. A busy database raises Conflict, and the caller takes the general path.
        """
        try:
            row: tuple[Any, ...] | None = (
                self._connection(self._peeking, timeout=0).execute(_LOAD, (uid, None, None)).fetchone()
            )
        except sqlite3.OperationalError as error:
            raise Conflict(str(error)) from error
        return row

    @contextmanager
    def session(self, write: bool = True) -> Iterator[SqliteSession]:
        connection = self._connection()
        with self._writer if write else contextlib.nullcontext():
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            session = SqliteSession(connection, self.sealer, self._grants, self._policy)
            try:
                yield session
                connection.execute("COMMIT")
            except BaseException as error:
                connection.execute("ROLLBACK")
                if isinstance(error, sqlite3.OperationalError) and _is_busy(error):
                    raise Conflict(str(error)) from error
                raise
            finally:
                session.close()

    def close(self) -> None:
        with self._all_lock:
            for connection in self._all:
                connection.close()
            self._all.clear()
        self._writer.close()


def _between(dates: list[AttributeFilter], parameters: dict[str, Any], prefix: str) -> str:
    """Date criteria as SQL: one date that instant, two the range between them (KMIP Locate)."""
    moments = sorted(epoch(f.value) for f in dates)
    parameters[prefix + "low"], parameters[prefix + "high"] = moments[0], moments[-1]
    return f"BETWEEN :{prefix}low AND :{prefix}high"


def _is_busy(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


@functools.lru_cache(maxsize=256)
def _merged_statements(parts: tuple[VisiblePart, ...], where: str) -> tuple[str, str]:
    """The page and the count of SqliteSession._merged, built once per grants and criteria."""
    each = [stream for part in parts for stream in part.streams]
    streams = " UNION ALL ".join(f"SELECT o.seq FROM object o WHERE {s} AND {where}" for s in each)
    page = f"{streams} ORDER BY 1 DESC LIMIT :maximum OFFSET :offset"
    counts = " + ".join(f"(SELECT COUNT(*) FROM object o WHERE {p.whole} AND {where})" for p in parts)
    return f"SELECT o.uid FROM object o WHERE o.seq IN ({page}) ORDER BY o.seq DESC", f"SELECT {counts}"


@dataclass(frozen=True)
class Visible:
    """What a Locate may return: conditions on `o` for the page and for the count (None:
    every object), or, if `parts`, the disjoint parts to merge and add up instead."""

    page: str | None
    count: str | None
    parts: tuple[VisiblePart, ...] = ()


class _Savepoint(contextlib.AbstractContextManager[None]):
    """SqliteSession.savepoint's block: a class, not a generator (@contextmanager), as
    every message of a group runs in one (~1 us less per message)."""

    __slots__ = ("_name", "_session")

    def __init__(self, session: SqliteSession) -> None:
        self._session = session
        self._name = ""

    def __enter__(self) -> None:
        session = self._session
        self._name = name = f"item{session._savepoints}"
        session._execute(f"SAVEPOINT {name}", reuse=True)
        session._savepoints += 1

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: Any) -> None:
        session = self._session
        session._savepoints -= 1
        if kind is not None:
            session._execute(f"ROLLBACK TO {self._name}", reuse=True)
        session._execute(f"RELEASE {self._name}", reuse=True)


class SqliteSession:
    def __init__(
        self,
        connection: sqlite3.Connection,
        sealer: Sealer,
        grants: GrantCache | None = None,
        policy: PolicyCache | None = None,
    ) -> None:
        self.connection = connection
        self.sealer = sealer
        self.grants = grants if grants is not None else GrantCache()
        self.policy_cache = policy if policy is not None else PolicyCache()
        self._policy: PolicyTables | None = None  # one for the transaction (PolicyTables.revision)
        self._savepoints = 0  # how many are open: the next one's name
        self._cursor = connection.cursor()  # _execute's `reuse`

    def close(self) -> None:
        """Let go of the connection's statements here, in the thread that owns the connection.

        The session's cursor keeps the last statement it ran, one of the connection's cached
        statements. Freed later by the garbage collector (a session can be in a reference
        cycle: its PolicyTables holds its `_execute`), which runs in whichever thread
        allocates, the cursor resets that statement there, and a reset racing with this
        thread's next session binding the same statement is SQLITE_MISUSE ("bad parameter or
        other API misuse"). tests/server/test_store_threads.py.
        """
        self._cursor.close()
        self._policy = None

    def _execute(
        self, sql: str, parameters: Any = (), many: bool = False, reuse: bool = False
    ) -> sqlite3.Cursor:
        """Run a statement (`many`: once per row of parameters); a busy database is a Conflict.
        `reuse`: on the session's own cursor instead of a new one (Connection.execute makes
        and drops one per statement), for a statement whose caller reads its results before
        the next: the savepoints, the Name check and the inserts, five a Create."""
        target = self._cursor if reuse else self.connection
        try:
            if many:
                return target.executemany(sql, parameters)
            return target.execute(sql, parameters)
        except sqlite3.OperationalError as error:
            if _is_busy(error):
                raise Conflict(str(error)) from error
            raise

    def _columns(self, record: ObjectRecord) -> tuple[Any, ...]:
        """The record's OBJECT_COLUMNS values, in that order."""
        attributes = record.attributes
        # One pass over the entries (a get per column would be a dozen); the first instance
        # wins, so the pass runs backwards and the last value seen stays.
        state = None
        in_columns: list[Any] = [None] * len(_IN_COLUMNS)
        group_values = []
        for tag, value in reversed(attributes.entries):
            place = _IN_COLUMNS.get(tag)
            if place is not None:
                in_columns[place[0]] = column_value(place[1], value)
            elif tag == _STATE:
                state = value
            elif tag == _OBJECT_GROUP:
                group_values.append(value)
        material = None
        if record.material is not None:
            material = self.sealer.seal(record.material.encode(), record.uid)
        groups = {text for value in group_values if (text := column_value(1, value)) is not None}
        return (
            int(record.object_type),
            record.owner,
            int(record.storage),
            int(state if state is not None else State.PRE_ACTIVE),
            *in_columns,
            attributes.encode_any_version(),
            material,
            next(iter(groups)) if len(groups) == 1 else None,
            len(groups),
            record.uid,
        )

    def insert(self, record: ObjectRecord) -> None:
        cursor = self._execute(INSERT_OBJECT, self._columns(record), reuse=True)
        self._index(cursor.lastrowid, record.attributes)

    def save(self, record: ObjectRecord) -> None:
        (seq,) = self._execute(UPDATE_OBJECT, self._columns(record)).fetchone()
        self._execute("DELETE FROM attribute WHERE object_seq = ?", (seq,))
        self._index(seq, record.attributes)

    def _index(self, seq: int | None, attributes: Attributes) -> None:
        rows = [
            (seq, tag, *index_values(tag, value)) for tag, value in attributes.entries if tag not in _NO_ROWS
        ]
        self._execute(INSERT_ATTRIBUTE, rows, many=True, reuse=True)

    def load(self, uid: str, owner: str | None) -> ObjectRecord | None:
        row = self._execute(_LOAD, (uid, owner, owner)).fetchone()
        return None if row is None else record_of(uid, row, self.sealer)

    def rights(self, principal: str, record: ObjectRecord) -> Rights:
        return rights(self._execute, principal, record.uid, int(record.object_type), Tag.OBJECT_GROUP)

    def policy(self) -> PolicyTables:
        if self._policy is None:
            self._policy = PolicyTables(self._execute, self.policy_cache)
        return self._policy

    def jobs(self) -> JobTable:
        return JobTable(self._execute, self.sealer)

    def tickets(self) -> TicketTable:
        return TicketTable(self._execute)

    def access(self) -> AccessAdmin:
        return AccessAdmin(self.connection, in_transaction=True)

    def owners_containing(self, mark: str) -> list[str]:
        rows = self._execute(
            "SELECT DISTINCT owner FROM object WHERE instr(owner, ?) > 0 AND storage != ?",
            (mark, int(Storage.DESTROYED)),
        ).fetchall()
        return [row[0] for row in rows]

    def savepoint(self) -> _Savepoint:
        """All of the block or none of it. Named by its depth, as savepoints nest: the name
        is unique among the open ones, and the statements' text repeats, so the
        connection's statement cache holds them (a new name was a new parse, ~3 us)."""
        return _Savepoint(self)

    def named(self, owner: str, value: str | None) -> list[str]:
        if self._execute(_ANY_NAMED, (_NAME, value), reuse=True).fetchone() is None:
            return []
        rows = self._execute(_NAMED, (owner, _NAME, value), reuse=True).fetchall()
        return [row[0] for row in rows]

    def locate(self, query: LocateQuery) -> tuple[list[str], int | None]:
        parameters: dict[str, Any] = {"owner": query.owner, "now": epoch(query.now)}
        visible = self._visible(query, parameters)
        where = []
        storages = [int(bit) for bit in Storage if query.storage & bit]
        state_filter = [f for f in query.filters if f.tag == Tag.STATE]
        if any(f.value in (State.DESTROYED, State.DESTROYED_COMPROMISED) for f in state_filter):
            storages.append(int(Storage.DESTROYED))
        where.append(f"o.storage IN ({', '.join(str(s) for s in sorted(set(storages)))})")
        for number, (tag, group) in enumerate(iter_filters_by_tag(query.filters)):
            where.append(self._condition(number, tag, group, parameters, bool(visible.parts)))
        sql_where = " AND ".join(where)
        parameters["maximum"] = -1 if query.maximum is None else query.maximum  # SQLite: -1 is no limit
        parameters["offset"] = query.offset
        if visible.parts:
            return self._merged(visible.parts, sql_where, parameters, query.count)
        total = None
        if query.count:
            count_where = f"{visible.count} AND {sql_where}" if visible.count else sql_where
            counted = self._execute(f"SELECT COUNT(*) FROM object o WHERE {count_where}", parameters)
            (total,) = counted.fetchone()
        if visible.page:
            sql_where = f"{visible.page} AND {sql_where}"
        rows = self._execute(
            f"SELECT o.uid FROM object o WHERE {sql_where} ORDER BY o.seq DESC LIMIT :maximum OFFSET :offset",
            parameters,
        ).fetchall()
        return [row[0] for row in rows], total

    def _merged(
        self, parts: tuple[VisiblePart, ...], where: str, parameters: dict[str, Any], count: bool
    ) -> tuple[list[str], int | None]:
        """A page and a count over the visible objects in disjoint parts (`_visible`).

        The page is a UNION ALL of the parts' streams under one ORDER BY seq: SQLite
        merges the streams, each an index range read newest first, and stops at the
        page's end, so it reads about offset + maximum entries however few of the
        objects the caller may see. The count adds up the parts' counts, each read from
        its index (the object-group one alone, as it carries storage and owner).
        """
        page, counts = _merged_statements(parts, where)
        total = None
        if count:
            (total,) = self._execute(counts, parameters).fetchone()
        rows = self._execute(page, parameters).fetchall()
        return [row[0] for row in rows], total

    def _visible(self, query: LocateQuery, parameters: dict[str, Any]) -> Visible:
        """The objects the query may return (store.access), for the page and the count.

        Without `shared`, or for a caller no grant lets Locate anything, it is the
        caller's own objects, through the (owner, seq) index. With grants, from the lists
        the cache holds (store.access.LocateGrants), so no recursive query runs per
        request: a query on the objects' own columns only (no criteria, State, Object
        Type) reads the visible objects as disjoint parts from their indexes; one with
        criteria on attributes keeps to the criteria's index and tests the rule per
        candidate, its count reading the visible set once.
        """
        own = "o.owner = :owner"
        if not query.shared:
            return Visible(own, own)
        grants = self.grants.get(self._execute, query.owner, int(Operation.LOCATE))
        if grants.admin:
            return Visible(None, None)
        if not grants.any():
            return Visible(own, own)
        # The criteria this query enforces as written: each Object Group value, and the
        # first Object Type (_condition matches that one).
        groups = [f.value for f in query.filters if f.tag == Tag.OBJECT_GROUP and f.vendor is None]
        types = [int(f.value) for f in query.filters if f.tag == Tag.OBJECT_TYPE][:1]
        if grants.implied_by(groups, types):
            return Visible(None, None)
        parameters["object_group_tag"] = int(Tag.OBJECT_GROUP)
        if grants.mergeable() and all(f.tag in LOCATED_BY_COLUMN for f in query.filters):
            return Visible(None, None, grants.parts(parameters))
        return Visible(*grants.conditions(parameters))

    def _condition(
        self,
        number: int,
        tag: int,
        group: list[AttributeFilter],
        parameters: dict[str, Any],
        merged: bool = False,
    ) -> str:
        """SQL for one attribute's criteria (all of them must hold). `merged`: the visible
        parts' indexes drive the query (`_merged`), so a criterion on a column must not."""
        prefix = f"f{number}_"
        if tag == Tag.STATE:
            states = {int(f.value) for f in group}
            return f"{EFFECTIVE_STATE} IN ({', '.join(str(s) for s in sorted(states))})"
        if tag == Tag.UNIQUE_IDENTIFIER:  # each given identifier, by the uid column's index
            for index, criterion in enumerate(group):
                parameters[f"{prefix}{index}"] = index_values(tag, criterion.value)[1]
            return " AND ".join(f"o.uid = :{prefix}{index}" for index in range(len(group)))
        if tag == Tag.OBJECT_TYPE:
            parameters[prefix] = int(group[0].value)
            # "+" keeps SQLite off the (object_type) index when the parts' indexes drive:
            # it would read every object of the type for the caller's own stream.
            return f"{'+' if merged else ''}o.object_type = :{prefix}"
        column = NUMBER_COLUMNS.get(tag)
        if column is not None:
            return self._number_condition(f"o.{column}", group, parameters, prefix)
        column = BYTES_COLUMNS.get(tag)
        if column is not None:
            return self._bytes_condition(f"o.{column}", group, parameters, prefix)
        first = group[0].value
        if isinstance(first, datetime):
            return self._exists(tag, f"a.int_value {_between(group, parameters, prefix)}", parameters, prefix)
        conditions = []
        for index, criterion in enumerate(group):
            key = f"{prefix}{index}"
            conditions.append(self._exists(tag, self._match(criterion, key, parameters), parameters, key))
        return " AND ".join(conditions)

    @staticmethod
    def _number_condition(
        column: str, group: list[AttributeFilter], parameters: dict[str, Any], prefix: str
    ) -> str:
        """SQL for criteria on a NUMBER_COLUMNS attribute, as `_exists` and `_match` would
        have them on its rows: dates one instant or a range, a mask at least its bits, any
        other value equal (one that is no number matches nothing, as no row had it)."""
        if isinstance(group[0].value, datetime):
            return f"{column} {_between(group, parameters, prefix)}"
        conditions = []
        for index, criterion in enumerate(group):
            key = f"{prefix}{index}"
            parameters[key] = number = index_values(criterion.tag, criterion.value)[3]
            if number is None:
                conditions.append("0 = 1")
            elif isinstance(criterion.value, KmipMask):
                conditions.append(f"({column} & :{key}) = :{key}")
            else:
                conditions.append(f"{column} = :{key}")
        return " AND ".join(conditions)

    @staticmethod
    def _bytes_condition(
        column: str, group: list[AttributeFilter], parameters: dict[str, Any], prefix: str
    ) -> str:
        """SQL for criteria on a BYTES_COLUMNS attribute, as `_match` had them on its rows:
        the value's bytes equal (a value that has none matches nothing)."""
        conditions = []
        for index, criterion in enumerate(group):
            key = f"{prefix}{index}"
            parameters[key] = blob = index_values(criterion.tag, criterion.value)[4]
            conditions.append("0 = 1" if blob is None else f"{column} = :{key}")
        return " AND ".join(conditions)

    @staticmethod
    def _exists(tag: int, condition: str, parameters: dict[str, Any], key: str) -> str:
        """Objects with an instance of `tag` meeting `condition`.

        An uncorrelated IN runs the attribute search once, through the (tag, value)
        indexes; a correlated EXISTS would repeat it for every candidate object.
        """
        parameters[key + "tag"] = tag
        return f"o.seq IN (SELECT a.object_seq FROM attribute a WHERE a.tag = :{key}tag AND {condition})"

    @staticmethod
    def _match(criterion: AttributeFilter, key: str, parameters: dict[str, Any]) -> str:
        name, text, text2, number, blob = index_values(criterion.tag, criterion.value)
        parts = []
        if name is not None:
            parameters[key + "name"] = name
            parts.append(f"a.name = :{key}name")
        if isinstance(criterion.value, KmipMask):
            # A usage mask matches an object whose mask has (at least) these bits ("IS NOT
            # NULL", true of every match, lets SQLite read the partial (tag, int_value) index).
            parameters[key + "int"] = number
            parts.append(f"a.int_value IS NOT NULL AND (a.int_value & :{key}int) = :{key}int")
        else:
            for column, value in (("text_value", text), ("text_value2", text2), ("int_value", number)):
                if value is not None:
                    parameters[key + column] = value
                    # With a text to search by, the (tag, text_value) index is the selective
                    # one: "+" keeps SQLite from picking (tag, int_value) for a Name Type.
                    unary = "+" if column == "int_value" and text is not None else ""
                    parts.append(f"{unary}a.{column} = :{key}{column}")
            if blob is not None and not isinstance(criterion.value, KmipEnum):
                parameters[key + "blob"] = blob
                parts.append(f"a.blob_value = :{key}blob")
        return " AND ".join(parts) or "1"
