"""Who may do what to which objects, as tables beside the objects, in portable SQL.

Tables:
  principal               users the administrators know (by certificate CN or credential
                          username), and which of them are administrators
  access_group            named groups of two kinds: 'user' groups (of users and user
                          groups) and 'object' groups (the Object Group attribute's values,
                          which may contain other object groups)
  access_member           a group's members: users, or groups of the same kind
  access_grant            (user | user group) x (object | object group | object type)
  access_grant_operation  the operations a grant allows (a role is stored expanded)

  access_revision         one value, made new (random) by triggers on every change to the
                          tables above (whoever makes it: the admin command, SQL by hand);
                          not a counter, which a rolled-back change followed by a committed
                          one would bring back to a value a cache entry was made under

Membership is evaluated transitively with recursive queries (UNION, so a cycle that got
in anyway still terminates); `AccessAdmin` refuses to make one. The object check reads
these tables on every request. Locate keeps each caller's expanded grants in a
`GrantCache`, checked against `access_revision` in the request's own transaction, so a
change still takes effect on the next request. The fragments below are shared by the
object check and by Locate, so both apply one rule.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pkcs11_kmip_server.store.revisions import revision_query, revision_schema

ACCESS_SCHEMA = """
CREATE TABLE IF NOT EXISTS principal (
    name TEXT PRIMARY KEY,
    admin INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS access_group (
    kind TEXT NOT NULL CHECK (kind IN ('user', 'object')),
    name TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS access_member (
    kind TEXT NOT NULL,
    group_name TEXT NOT NULL,
    member_kind TEXT NOT NULL CHECK (member_kind IN ('user', 'group')),
    member TEXT NOT NULL,
    PRIMARY KEY (kind, group_name, member_kind, member),
    FOREIGN KEY (kind, group_name) REFERENCES access_group (kind, name) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS access_member_of ON access_member (kind, member_kind, member, group_name);
CREATE TABLE IF NOT EXISTS access_grant (
    id INTEGER PRIMARY KEY,
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('user', 'group')),
    grantee TEXT NOT NULL,
    target_uid TEXT,
    target_group TEXT,
    target_type INTEGER,
    role TEXT,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL,
    CHECK ((CASE WHEN target_uid IS NULL THEN 0 ELSE 1 END)
         + (CASE WHEN target_group IS NULL THEN 0 ELSE 1 END)
         + (CASE WHEN target_type IS NULL THEN 0 ELSE 1 END) = 1)
);
CREATE INDEX IF NOT EXISTS access_grant_grantee ON access_grant (grantee_kind, grantee);
CREATE TABLE IF NOT EXISTS access_grant_operation (
    grant_id INTEGER NOT NULL REFERENCES access_grant (id) ON DELETE CASCADE,
    operation INTEGER NOT NULL,
    PRIMARY KEY (grant_id, operation)
);
""" + revision_schema(
    "access_revision",
    ("principal", "access_group", "access_member", "access_grant", "access_grant_operation"),
)

# Common table expressions (after WITH RECURSIVE), parameter :me:
#   my_groups: the user groups :me is in, directly or through nested groups;
#   my_grants: the grants to :me or to one of those groups.
MY_GRANTS = """my_groups(name) AS (
    SELECT m.group_name FROM access_member m
    WHERE m.kind = 'user' AND m.member_kind = 'user' AND m.member = :me
    UNION
    SELECT m.group_name FROM access_member m JOIN my_groups g
        ON m.kind = 'user' AND m.member_kind = 'group' AND m.member = g.name
),
my_grants(id, target_uid, target_group, target_type) AS (
    SELECT g.id, g.target_uid, g.target_group, g.target_type FROM access_grant g
    WHERE (g.grantee_kind = 'user' AND g.grantee = :me)
       OR (g.grantee_kind = 'group' AND g.grantee IN (SELECT name FROM my_groups))
)"""

# my_grants narrowed to those allowing :operation, and the object groups they cover
# (each granted group and the groups nested in it). Parameters :me, :operation.
GRANTS_FOR_OPERATION = (
    MY_GRANTS
    + """,
op_grants(target_uid, target_group, target_type) AS (
    SELECT g.target_uid, g.target_group, g.target_type FROM my_grants g
    WHERE EXISTS (SELECT 1 FROM access_grant_operation p WHERE p.grant_id = g.id AND p.operation = :operation)
),
op_groups(name) AS (
    SELECT target_group FROM op_grants WHERE target_group IS NOT NULL
    UNION
    SELECT m.member FROM access_member m JOIN op_groups s
        ON m.kind = 'object' AND m.member_kind = 'group' AND m.group_name = s.name
)"""
)

# What :me may Locate, flattened once per caller and access revision (GrantCache):
# the uids and object types of its Locate grants, and the object groups they cover.
LOCATE_TARGETS = (
    "WITH RECURSIVE "
    + GRANTS_FOR_OPERATION
    + """
SELECT 'uid', target_uid FROM op_grants WHERE target_uid IS NOT NULL
UNION SELECT 'type', target_type FROM op_grants WHERE target_type IS NOT NULL
UNION SELECT 'group', name FROM op_groups"""
)

REVISION = revision_query("access_revision")


# The most grant targets (object groups, object types, uids) a Locate reads as streams
# of their own (LocateGrants.parts); past it, the rule is checked row by row.
MERGED_TARGETS = 64


@dataclass(frozen=True)
class VisiblePart:
    """One of the disjoint parts of what a caller may see, as conditions on object `o`.

    Each of `streams` reads its objects from an index in `seq` order, so a page merges
    them and stops at the page's end; `whole` is the part as one condition, so a count
    is a sum of counts and no set of visible objects is ever built.
    """

    streams: tuple[str, ...]
    whole: str


# The JSON array parameter of each list, past MERGED_TARGETS.
_ARRAYS = {"vu": "granted_uids", "vt": "granted_types", "vg": "granted_groups"}


def _placeholders(prefix: str, count: int) -> str:
    return ", ".join(f":{prefix}{index}" for index in range(count))


@dataclass(frozen=True)
class LocateGrants:
    """What one caller may Locate besides its own objects, as plain lists."""

    admin: bool
    uids: tuple[str, ...] = ()
    types: tuple[int, ...] = ()
    groups: tuple[str, ...] = ()

    def any(self) -> bool:
        return bool(self.uids or self.types or self.groups)

    def implied_by(self, object_groups: Iterable[str], object_types: Iterable[int]) -> bool:
        """Whether a query's criteria alone keep its result within the grants: it requires
        a granted Object Group value (every match carries it) or a granted Object Type.
        The query then needs no rule per row and costs what it costs without access control."""
        return any(group in self.groups for group in object_groups) or any(
            object_type in self.types for object_type in object_types
        )

    def conditions(self, parameters: dict[str, Any]) -> tuple[str, str]:
        """The rule on object `o` for a page and for a count, the lists bound into
        `parameters`: a value each when `mergeable` (portable SQL), past that JSON arrays
        read by json_each (one parameter whatever their size).

        For a Locate with criteria on the attribute index. The page's shape keeps the
        criteria's index and tests each candidate row: small IN lists, the object's
        single Object Group by its `object_group` column, and only an object with
        several probes its attribute rows. The count's shape builds the set of visible
        objects once from the (owner, seq), uid, (object_type) and object-group indexes,
        so it costs in proportion to what the caller may see. Empty lists are left out,
        so no term is evaluated for nothing.
        """
        parameters.update(self._values if self.mergeable() else self._arrays)
        return self._conditions

    @cached_property
    def _arrays(self) -> dict[str, str]:
        return {
            "granted_uids": json.dumps(self.uids),
            "granted_types": json.dumps(self.types),
            "granted_groups": json.dumps(self.groups),
        }

    @cached_property
    def _conditions(self) -> tuple[str, str]:
        targets = {
            "vu": ("o.uid", self.uids),
            "vt": ("o.object_type", self.types),
            "vg": ("o.object_group", self.groups),
        }
        listed = {
            prefix: _placeholders(prefix, len(values))
            if self.mergeable()
            else f"SELECT value FROM json_each(:{_ARRAYS[prefix]})"
            for prefix, (_column, values) in targets.items()
        }
        probe, union = ["o.owner = :owner"], ["SELECT o.seq FROM object o WHERE o.owner = :owner"]
        for prefix, (column, values) in targets.items():
            if values:
                probe.append(f"{column} IN ({listed[prefix]})")
                union.append(f"SELECT o.seq FROM object o WHERE {probe[-1]}")
        if self.groups:
            several = _in_several_groups(listed["vg"])
            probe.append(several)
            union.append(f"SELECT o.seq FROM object o WHERE {several}")
        return f"({' OR '.join(probe)})", f"o.seq IN ({' UNION '.join(union)})"

    def mergeable(self) -> bool:
        """Whether `parts` applies: few enough targets for a stream each."""
        return len(self.uids) + len(self.types) + len(self.groups) <= MERGED_TARGETS

    def parts(self, parameters: dict[str, Any]) -> tuple[VisiblePart, ...]:
        """What the caller may see as disjoint parts: its own objects; else those whose one
        Object Group is granted (a stream per group, through the (object_group, storage,
        seq, owner) index); else those in several groups, one of them granted; else those
        of a granted type (a stream per type); else a granted uid. The lists are bound into
        `parameters` one value each (portable SQL; `mergeable` keeps them few)."""
        parameters.update(self._values)
        return self._parts

    @cached_property
    def _values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for prefix, listed in (("vg", self.groups), ("vt", self.types), ("vu", self.uids)):
            values.update((f"{prefix}{index}", value) for index, value in enumerate(listed))
        return values

    @cached_property
    def _parts(self) -> tuple[VisiblePart, ...]:
        own = "o.owner = :owner"
        parts = [VisiblePart((own,), own)]
        rest = "o.owner <> :owner"  # what no earlier part took
        if self.groups:
            listed = _placeholders("vg", len(self.groups))
            streams = tuple(f"o.object_group = :vg{index} AND {rest}" for index in range(len(self.groups)))
            parts.append(VisiblePart(streams, f"o.object_group IN ({listed}) AND {rest}"))
            several = f"{_in_several_groups(listed)} AND {rest}"
            parts.append(VisiblePart((several,), several))
            rest += (
                f" AND NOT ((o.object_group IS NOT NULL AND o.object_group IN ({listed}))"
                f" OR {_in_several_groups(listed)})"
            )
        if self.types:
            listed = _placeholders("vt", len(self.types))
            streams = tuple(f"o.object_type = :vt{index} AND {rest}" for index in range(len(self.types)))
            parts.append(VisiblePart(streams, f"o.object_type IN ({listed}) AND {rest}"))
            rest += f" AND o.object_type NOT IN ({listed})"
        if self.uids:
            listed = f"o.uid IN ({_placeholders('vu', len(self.uids))}) AND {rest}"
            parts.append(VisiblePart((listed,), listed))
        return tuple(parts)


def _in_several_groups(granted: str) -> str:
    """Object `o` has several Object Group values (so no `object_group` column), one of them
    in `granted` (a list or a subquery): the attribute rows' probe, for those objects only."""
    return (
        "o.object_groups > 1 AND EXISTS (SELECT 1 FROM attribute a WHERE a.object_seq = o.seq"
        f" AND a.tag = :object_group_tag AND a.text_value IN ({granted}))"
    )


class GrantCache:
    """Each caller's `LocateGrants`, kept while the access tables' revision stays the same.

    The revision is read in the caller's transaction, so an entry is used only with the
    snapshot it was computed from (or an equal one): a grant removed by any path stops
    applying at the next request. Shared by the store's threads.
    """

    LIMIT = 10_000  # callers kept; beyond that the cache starts again

    def __init__(self) -> None:
        self._entries: dict[tuple[str, int], tuple[int, LocateGrants]] = {}
        self._lock = threading.Lock()

    def clear(self, me: str | None = None) -> None:
        """Forget `me`'s entries, or every entry (the benchmark's cold case: one caller's
        first request after a grant change, the other callers' entries kept)."""
        with self._lock:
            if me is None:
                self._entries.clear()
            for key in [key for key in self._entries if key[0] == me]:
                del self._entries[key]

    def get(self, execute: Any, me: str, operation: int) -> LocateGrants:
        """`me`'s grants for `operation` in the transaction `execute` runs statements in."""
        (revision,) = execute(REVISION).fetchone()
        key = (me, operation)
        with self._lock:
            found = self._entries.get(key)
        if found is not None and found[0] == revision:
            return found[1]
        admin = execute(IS_ADMIN, {"me": me}).fetchone()
        lists: dict[str, list[Any]] = {"uid": [], "type": [], "group": []}
        parameters = {"me": me, "operation": operation}
        for kind, value in execute(LOCATE_TARGETS, parameters):
            lists[kind].append(value)
        grants = LocateGrants(
            bool(admin and admin[0]),
            tuple(sorted(lists["uid"])),
            tuple(sorted(lists["type"])),
            tuple(sorted(lists["group"])),
        )
        with self._lock:
            if len(self._entries) >= self.LIMIT:
                self._entries.clear()
            self._entries[key] = (revision, grants)
        return grants


# The operations granted to :me on the object :uid (of type :object_type): through a grant
# on it, on its type, or on an object group it is in (its Object Group attribute values and
# the groups containing those, transitively).
OPERATIONS_ON_OBJECT = (
    "WITH RECURSIVE "
    + MY_GRANTS
    + """,
object_groups(name) AS (
    SELECT a.text_value FROM attribute a JOIN object o ON o.seq = a.object_seq
    WHERE o.uid = :uid AND a.tag = :object_group_tag AND a.text_value IS NOT NULL
    UNION
    SELECT m.group_name FROM access_member m JOIN object_groups c
        ON m.kind = 'object' AND m.member_kind = 'group' AND m.member = c.name
)
SELECT DISTINCT p.operation FROM my_grants g JOIN access_grant_operation p ON p.grant_id = g.id
WHERE g.target_uid = :uid OR g.target_type = :object_type
   OR g.target_group IN (SELECT name FROM object_groups)"""
)

IS_ADMIN = "SELECT admin FROM principal WHERE name = :me"

GroupKind = Literal["user", "object"]
MemberKind = Literal["user", "group"]
TargetKind = Literal["object", "group", "type"]


class AccessAdminError(Exception):
    """A change the access tables refuse: an unknown name, a duplicate, a group cycle."""


class AccessNotFound(AccessAdminError):
    """The change names a user, group, membership or grant that is not there."""


@dataclass(frozen=True)
class Rights:
    """What one principal may do with one object through the access tables (not ownership)."""

    admin: bool
    operations: frozenset[int]


def rights(execute: Any, me: str, uid: str, object_type: int, object_group_tag: int) -> Rights:
    """A caller's rights on an object that is not theirs (`execute` runs one statement)."""
    admin = execute(IS_ADMIN, {"me": me}).fetchone()
    parameters = {"me": me, "uid": uid, "object_type": object_type, "object_group_tag": object_group_tag}
    operations = frozenset(row[0] for row in execute(OPERATIONS_ON_OBJECT, parameters))
    return Rights(bool(admin and admin[0]), operations)


def target_of(
    uid: str | None, group: str | None, object_type: int | None
) -> tuple[TargetKind, str | int] | None:
    """A grant's target from the one of its three forms that is given; None unless exactly one is."""
    forms: tuple[tuple[TargetKind, str | int | None], ...] = (
        ("object", uid),
        ("group", group),
        ("type", object_type),
    )
    given = [(kind, value) for kind, value in forms if value is not None]
    return given[0] if len(given) == 1 else None


@dataclass
class Grant:
    id: int
    grantee_kind: MemberKind
    grantee: str
    target_kind: TargetKind
    target: str | int
    role: str | None
    operations: list[int]
    created: str
    created_by: str


@dataclass
class Group:
    kind: GroupKind
    name: str
    members: list[tuple[MemberKind, str]] = field(default_factory=list)


@dataclass
class Principal:
    name: str
    admin: bool
    created: str
    groups: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _check_name(what: str, name: str) -> None:
    """Names are compared exactly: refuse those no certificate or attribute would carry."""
    if not name or name != name.strip() or any(ord(c) < 0x20 for c in name):
        raise AccessAdminError(f"{what} name {name!r}: empty, padded or with control characters")


# One membership row, by its key.
_MEMBER = "kind = ? AND group_name = ? AND member_kind = ? AND member = ?"


def _delete_grants(where: str, parameters: Sequence[Any]) -> list[tuple[str, Sequence[Any]]]:
    """Statements removing the grants `where` selects, with their operations (no reliance on
    the connection enforcing ON DELETE CASCADE)."""
    return [
        (
            "DELETE FROM access_grant_operation"
            f" WHERE grant_id IN (SELECT id FROM access_grant WHERE {where})",
            parameters,
        ),
        (f"DELETE FROM access_grant WHERE {where}", parameters),
    ]


class AccessAdmin:
    """Changes to the access tables, one transaction each, checked before they are made."""

    def __init__(self, connection: sqlite3.Connection, *, in_transaction: bool = False) -> None:
        """`connection` in autocommit mode (isolation_level=None): each change is one
        transaction begun here, checks and writes together. `in_transaction`: the
        connection is inside a store session's transaction (a KMIP request), whose commit
        or rollback the changes follow; the tables exist already."""
        self.connection = connection
        self._in_transaction = in_transaction
        if not in_transaction:
            connection.executescript(ACCESS_SCHEMA)

    @classmethod
    def open(cls, path: Path) -> AccessAdmin:
        """The access tables of the store at `path` (created if missing), beside a running server."""
        connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        return cls(connection)

    def close(self) -> None:
        self.connection.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._in_transaction:
            yield
            return
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def _write(self, statements: Iterable[tuple[str, Sequence[Any] | dict[str, Any]]]) -> None:
        for sql, parameters in statements:
            self.connection.execute(sql, parameters)

    # --- principals ------------------------------------------------------------------------

    def users(self) -> list[Principal]:
        rows = self.connection.execute("SELECT name, admin, created FROM principal ORDER BY name").fetchall()
        memberships = self.connection.execute(
            "SELECT member, group_name FROM access_member WHERE kind = 'user' AND member_kind = 'user'"
            " ORDER BY group_name"
        ).fetchall()
        users = [Principal(name, bool(admin), created) for name, admin, created in rows]
        by_name = {user.name: user for user in users}
        for member, group in memberships:
            if member in by_name:
                by_name[member].groups.append(group)
        return users

    def user_exists(self, name: str) -> bool:
        return (
            self.connection.execute("SELECT 1 FROM principal WHERE name = ?", (name,)).fetchone() is not None
        )

    def add_user(self, name: str, admin: bool | None = None) -> bool:
        """Add a user (not an administrator unless `admin`), or set an existing one's
        administrator flag (None: leave it); True if the user is new."""
        _check_name("user", name)
        with self._transaction():
            new = not self.user_exists(name)
            if new:
                self._write(
                    [
                        (
                            "INSERT INTO principal (name, admin, created) VALUES (?, ?, ?)",
                            (name, int(bool(admin)), _now()),
                        )
                    ]
                )
            elif admin is not None:
                self._write([("UPDATE principal SET admin = ? WHERE name = ?", (int(admin), name))])
            return new

    def remove_user(self, name: str) -> None:
        """Remove a user with their group memberships and the grants to them (not their objects)."""
        with self._transaction():
            if not self.user_exists(name):
                raise AccessNotFound(f"no user {name!r}")
            self._write(
                [
                    (
                        "DELETE FROM access_member"
                        " WHERE kind = 'user' AND member_kind = 'user' AND member = ?",
                        (name,),
                    ),
                    *_delete_grants("grantee_kind = 'user' AND grantee = ?", (name,)),
                    ("DELETE FROM principal WHERE name = ?", (name,)),
                ]
            )

    # --- groups ----------------------------------------------------------------------------

    def groups(self, kind: GroupKind | None = None) -> list[Group]:
        rows = self.connection.execute(
            "SELECT kind, name FROM access_group WHERE (? IS NULL OR kind = ?) ORDER BY kind DESC, name",
            (kind, kind),
        ).fetchall()
        groups = [Group(row_kind, name) for row_kind, name in rows]
        by_key = {(group.kind, group.name): group for group in groups}
        for row_kind, group_name, member_kind, member in self.connection.execute(
            "SELECT kind, group_name, member_kind, member FROM access_member"
            " ORDER BY member_kind DESC, member"
        ):
            if (row_kind, group_name) in by_key:
                by_key[(row_kind, group_name)].members.append((member_kind, member))
        return groups

    def group_exists(self, kind: GroupKind, name: str) -> bool:
        found = self.connection.execute(
            "SELECT 1 FROM access_group WHERE kind = ? AND name = ?", (kind, name)
        ).fetchone()
        return found is not None

    def add_group(
        self, kind: GroupKind, name: str, users: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> None:
        """Create the group if it is new, and add members: users (user groups only), groups of its kind."""
        for group in (name, *groups):
            _check_name("group", group)
        with self._transaction():
            if kind == "object" and users:
                raise AccessAdminError(
                    "an object group's members are object groups (objects join by attribute)"
                )
            for user in users:
                if not self.user_exists(user):
                    raise AccessNotFound(f"no user {user!r} (add it with `pkcs11-kmip admin users add`)")
            for member in groups:
                if member == name or name in self._contained(kind, member):
                    raise AccessAdminError(
                        f"{kind} group {member!r} contains {name!r}: adding it would make a cycle"
                    )
            statements: list[tuple[str, Sequence[Any]]] = []
            if not self.group_exists(kind, name):
                statements.append(
                    ("INSERT INTO access_group (kind, name, created) VALUES (?, ?, ?)", (kind, name, _now()))
                )
            for member in groups:
                if not self.group_exists(kind, member):
                    statements.append(
                        (
                            "INSERT INTO access_group (kind, name, created) VALUES (?, ?, ?)",
                            (kind, member, _now()),
                        )
                    )
            insert = (
                "INSERT INTO access_member (kind, group_name, member_kind, member) SELECT ?, ?, ?, ?"
                f" WHERE NOT EXISTS (SELECT 1 FROM access_member WHERE {_MEMBER})"
            )
            for member_kind, members in (("user", users), ("group", groups)):
                for member in members:
                    key = (kind, name, member_kind, member)
                    statements.append((insert, key + key))
            self._write(statements)

    def _contained(self, kind: GroupKind, name: str) -> set[str]:
        """The groups nested in `name`, transitively."""
        rows = self.connection.execute(
            """WITH RECURSIVE inner_groups(name) AS (
                SELECT member FROM access_member
                WHERE kind = :kind AND member_kind = 'group' AND group_name = :name
                UNION
                SELECT m.member FROM access_member m JOIN inner_groups i
                    ON m.kind = :kind AND m.member_kind = 'group' AND m.group_name = i.name
            ) SELECT name FROM inner_groups""",
            {"kind": kind, "name": name},
        )
        return {row[0] for row in rows}

    def remove_group(
        self, kind: GroupKind, name: str, users: Sequence[str] = (), groups: Sequence[str] = ()
    ) -> None:
        """Remove members; with none named, the group itself (its memberships, and grants to it)."""
        with self._transaction():
            if not self.group_exists(kind, name):
                raise AccessNotFound(f"no {kind} group {name!r}")
            if users or groups:
                statements: list[tuple[str, Sequence[Any]]] = []
                for member_kind, members in (("user", users), ("group", groups)):
                    for member in members:
                        key = (kind, name, member_kind, member)
                        found = self.connection.execute(f"SELECT 1 FROM access_member WHERE {_MEMBER}", key)
                        if found.fetchone() is None:
                            raise AccessNotFound(f"{member_kind} {member!r} is not a member of {name!r}")
                        statements.append((f"DELETE FROM access_member WHERE {_MEMBER}", key))
                self._write(statements)
                return
            grants = _delete_grants(
                "grantee_kind = 'group' AND grantee = ?" if kind == "user" else "target_group = ?", (name,)
            )
            self._write(
                [
                    (
                        "DELETE FROM access_member WHERE kind = ? AND member_kind = 'group' AND member = ?",
                        (kind, name),
                    ),
                    ("DELETE FROM access_member WHERE kind = ? AND group_name = ?", (kind, name)),
                    *grants,
                    ("DELETE FROM access_group WHERE kind = ? AND name = ?", (kind, name)),
                ]
            )

    # --- grants ----------------------------------------------------------------------------

    def grants(self, grantee: str | None = None) -> list[Grant]:
        rows = self.connection.execute(
            "SELECT id, grantee_kind, grantee, target_uid, target_group, target_type, role, created,"
            " created_by FROM access_grant WHERE (? IS NULL OR grantee = ?) ORDER BY id",
            (grantee, grantee),
        ).fetchall()
        operations: dict[int, list[int]] = {}
        for grant_id, operation in self.connection.execute(
            "SELECT grant_id, operation FROM access_grant_operation ORDER BY grant_id, operation"
        ):
            operations.setdefault(grant_id, []).append(operation)
        grants = []
        for grant_id, grantee_kind, name, uid, group, object_type, role, created, created_by in rows:
            target_kind: TargetKind = (
                "object" if uid is not None else "group" if group is not None else "type"
            )
            target = uid if uid is not None else group if group is not None else object_type
            grants.append(
                Grant(
                    grant_id,
                    grantee_kind,
                    name,
                    target_kind,
                    target,
                    role,
                    operations.get(grant_id, []),
                    created,
                    created_by,
                )
            )
        return grants

    def add_grant(
        self,
        grantee_kind: MemberKind,
        grantee: str,
        target_kind: TargetKind,
        target: str | int,
        operations: Iterable[int],
        role: str | None,
        created_by: str,
    ) -> int:
        """Record a grant; its id (used to remove it)."""
        with self._transaction():
            if grantee_kind == "user" and not self.user_exists(grantee):
                raise AccessNotFound(f"no user {grantee!r} (add it with `pkcs11-kmip admin users add`)")
            if grantee_kind == "group" and not self.group_exists("user", grantee):
                raise AccessNotFound(
                    f"no user group {grantee!r} (add it with `pkcs11-kmip admin groups add`)"
                )
            wanted = sorted(set(operations))
            if not wanted:
                raise AccessAdminError("a grant needs a role or at least one operation")
            columns = {"object": "target_uid", "group": "target_group", "type": "target_type"}[target_kind]
            cursor = self.connection.execute(
                f"INSERT INTO access_grant (grantee_kind, grantee, {columns}, role, created, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (grantee_kind, grantee, target, role, _now(), created_by),
            )
            grant_id = cursor.lastrowid
            assert grant_id is not None
            self.connection.executemany(
                "INSERT INTO access_grant_operation (grant_id, operation) VALUES (?, ?)",
                [(grant_id, operation) for operation in wanted],
            )
            return grant_id

    def remove_grant(self, grant_id: int) -> Grant:
        """Remove a grant by its id; what it was."""
        with self._transaction():
            found = [grant for grant in self.grants() if grant.id == grant_id]
            if not found:
                raise AccessNotFound(f"no grant {grant_id}")
            self._write(_delete_grants("id = ?", (grant_id,)))
            return found[0]
