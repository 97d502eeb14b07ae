"""Attribute defaults and constraints, as two tables beside the objects, in portable SQL.

Tables:
  policy_default     named sets of default attributes (TTLV, any version's form): selected
                     by Object Group or Name prefix (`selector` 'group' / 'prefix', and
                     always by a 1.x Template name), or server-wide for an object type
                     ('server')
  policy_constraint  named rules (the text `pkcs11_kmip_server.policy` reads, e.g.
                     "min-length=AES:256"), for some object types and object groups
                     (JSON lists; empty: all)

The server reads them on every creating or attribute-changing request, so a change by
`pkcs11-kmip admin` or by Set Defaults / Set Constraints applies to the next request.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip_server.store.access import IS_ADMIN
from pkcs11_kmip_server.store.revisions import revision_query, revision_schema

POLICY_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_default (
    name TEXT PRIMARY KEY,
    selector TEXT NOT NULL CHECK (selector IN ('server', 'group', 'prefix')),
    object_type INTEGER NOT NULL,
    attributes BLOB NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_constraint (
    name TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    object_types TEXT NOT NULL,
    object_groups TEXT NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT NOT NULL
);
""" + revision_schema("policy_revision", ("policy_default", "policy_constraint"))
REVISION = revision_query("policy_revision")  # PolicyCache keeps its copy while it stays

# :groups (a JSON list) and the object groups containing them, transitively (UNION: a
# cycle made by hand still ends).
ENCLOSING_GROUPS = """WITH RECURSIVE enclosing(name) AS (
    SELECT value FROM json_each(:groups)
    UNION
    SELECT m.group_name FROM access_member m JOIN enclosing e
        ON m.kind = 'object' AND m.member_kind = 'group' AND m.member = e.name
) SELECT name FROM enclosing"""

Selector = Literal["server", "group", "prefix"]
SELECTORS: tuple[Selector, ...] = ("server", "group", "prefix")


E = TypeVar("E", "DefaultSet", "ConstraintRule")


class PolicyError(ValueError):
    """A change the policy tables refuse: an unknown name, a duplicate, a bad rule."""


@dataclass
class DefaultSet:
    """Default attributes for new objects of one type."""

    name: str
    selector: Selector
    object_type: int
    attributes: Attributes
    created: str = ""
    created_by: str = ""


@dataclass(frozen=True)
class ConstraintRule:
    """A named rule for objects of `object_types` in `object_groups` (empty lists: all)."""

    name: str
    rule: str
    object_types: list[int] = field(default_factory=list)
    object_groups: list[str] = field(default_factory=list)
    created: str = ""
    created_by: str = ""


@functools.lru_cache(maxsize=4096)
def _constraint_rule(name: str, rule: str, types: str, groups: str, created: str, by: str) -> ConstraintRule:
    """A row as a rule, remembered: every creating request reads every rule."""
    return ConstraintRule(name, rule, json.loads(types), json.loads(groups), created, by)


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class PolicyCache:
    """The default sets and constraints as last read, kept while the tables' revision
    (policy_revision) stays the same: every Create reads both, and they seldom change.

    The revision is read in the caller's transaction (`PolicyTables.revision`), so a
    change committed by any connection, or made earlier in that transaction, is seen at
    the next read. The entries are shared between requests: read-only, as the grant
    cache's are.
    """

    def __init__(self) -> None:
        self._entry: tuple[int, list[DefaultSet], list[ConstraintRule]] | None = None

    def tables(self, execute: Any, revision: int) -> tuple[list[DefaultSet], list[ConstraintRule]]:
        """The tables at `revision`, read through `execute` unless this cache holds them."""
        entry = self._entry
        if entry is None or entry[0] != revision:
            entry = revision, _read_default_sets(execute), _read_constraints(execute)
            self._entry = entry  # one assignment: threads sharing the cache see a whole entry
        return entry[1], entry[2]


def _read_default_sets(execute: Any) -> list[DefaultSet]:
    rows = execute(
        "SELECT name, selector, object_type, attributes, created, created_by FROM policy_default"
        " ORDER BY name"
    ).fetchall()
    return [
        DefaultSet(name, selector, object_type, Attributes.decode_any_version(blob), created, by)
        for name, selector, object_type, blob, created, by in rows
    ]


def _read_constraints(execute: Any) -> list[ConstraintRule]:
    rows = execute(
        "SELECT name, rule, object_types, object_groups, created, created_by FROM policy_constraint"
        " ORDER BY name"
    ).fetchall()
    return [_constraint_rule(*row) for row in rows]


class PolicyTables:
    """Reads and changes of the policy tables through `execute` (one statement), inside
    the caller's transaction: a store session's, or `open_policy`'s (`cache`: the
    store's PolicyCache, if it keeps one).

    A store session keeps one PolicyTables for its transaction, which reads the revision
    once while it has changed no policy row: in that transaction only its own writes can
    change the revision (SQLite: a writer holds the write lock, a reader its snapshot; a
    PostgreSQL store needs Repeatable Read for the same). After a change of its own it
    reads the revision each time, as a savepoint rolled back may have undone the change.
    """

    def __init__(self, execute: Any, cache: PolicyCache | None = None) -> None:
        self.execute = execute
        self.cache = cache
        self._revision: int | None = None  # read in this transaction, before any change of ours
        self._changed = False

    def revision(self) -> int:
        """The tables' revision in this transaction (store.revisions)."""
        revision = self._revision
        if revision is None:
            (revision,) = self.execute(REVISION).fetchone()
            if not self._changed:
                self._revision = revision
        return revision

    def _change(self, sql: str, parameters: Any = ()) -> Any:
        """Run a statement that changes the tables: from now on, read the revision each time."""
        self._changed = True
        self._revision = None
        return self.execute(sql, parameters)

    def is_admin(self, principal: str) -> bool:
        row = self.execute(IS_ADMIN, {"me": principal}).fetchone()
        return bool(row and row[0])

    def default_sets(self) -> list[DefaultSet]:
        if self.cache is not None:
            return list(self.cache.tables(self.execute, self.revision())[0])
        return _read_default_sets(self.execute)

    def named_set(self, name: str) -> DefaultSet | None:
        """The set a 1.x Template name selects: a group- or prefix-selected set of that name."""
        found = [entry for entry in self.default_sets() if entry.name == name and entry.selector != "server"]
        return found[0] if found else None

    def constraints(self) -> list[ConstraintRule]:
        if self.cache is not None:
            return list(self.cache.tables(self.execute, self.revision())[1])
        return _read_constraints(self.execute)

    def add_default_set(self, entry: DefaultSet, created_by: str) -> None:
        self._check_new("default", entry.name, "default set")
        if entry.object_type is None:
            raise PolicyError("a default set is for one object type (KMIP 2.1 §7.22)")
        self._change(
            "INSERT INTO policy_default (name, selector, object_type, attributes, created, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.name,
                entry.selector,
                entry.object_type,
                entry.attributes.encode_any_version(),
                _now(),
                created_by,
            ),
        )

    def add_constraint(self, entry: ConstraintRule, created_by: str) -> None:
        self._check_new("constraint", entry.name, "constraint")
        self._change(
            "INSERT INTO policy_constraint (name, rule, object_types, object_groups, created, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                entry.name,
                entry.rule,
                json.dumps(sorted(entry.object_types)),
                json.dumps(entry.object_groups),
                _now(),
                created_by,
            ),
        )

    def _check_new(self, table: Literal["default", "constraint"], name: str, what: str) -> None:
        if not name or name != name.strip():
            raise PolicyError(f"{what} name {name!r}: empty or padded")
        if self.execute(f"SELECT 1 FROM policy_{table} WHERE name = ?", (name,)).fetchone():
            raise PolicyError(f"a {what} {name!r} exists (remove it first)")

    def remove(self, table: Literal["default", "constraint"], name: str) -> None:
        found = self._change(f"DELETE FROM policy_{table} WHERE name = ? RETURNING name", (name,)).fetchall()
        if not found:
            raise PolicyError(f"no {table} {name!r}" if table == "constraint" else f"no default set {name!r}")

    def clear(self, table: Literal["default", "constraint"]) -> None:
        self._change(f"DELETE FROM policy_{table}")

    def enclosing_groups(self, groups: list[str]) -> list[str]:
        """These object groups and every object group that contains one, transitively
        (the access tables' nesting, as grants follow it): a constraint scoped to a
        group governs the objects of the groups nested in it."""
        if not groups:
            return []
        rows = self.execute(ENCLOSING_GROUPS, {"groups": json.dumps(groups)})
        return [row[0] for row in rows]

    def replace_constraints(self, wanted: list[ConstraintRule], created_by: str) -> Changes[ConstraintRule]:
        """Make the rules exactly `wanted` (Set Constraints): a rule already there with the
        same name, text and scope stays as it is (its creation time and author too), so a
        client that reads the rules, adds one and sends them all back changes only that one."""
        present = {rule.name: rule for rule in self.constraints()}
        return self._replace("constraint", present, wanted, _same_rule, self.add_constraint, created_by)

    def replace_default_sets(self, wanted: list[DefaultSet], created_by: str) -> Changes[DefaultSet]:
        """Make the server-wide and object-group sets exactly `wanted` (Set Defaults; the
        name-prefix sets KMIP cannot express stay), keeping the sets that do not change."""
        present = {entry.name: entry for entry in self.default_sets() if entry.selector != "prefix"}
        return self._replace("default", present, wanted, _same_set, self.add_default_set, created_by)

    def _replace(
        self,
        table: Literal["default", "constraint"],
        present: dict[str, E],
        wanted: list[E],
        same: Callable[[E, E], bool],
        add: Callable[[E, str], None],
        created_by: str,
    ) -> Changes[E]:
        """Remove the entries of `present` that `wanted` does not hold unchanged; add the rest."""
        keep = {entry.name for entry in wanted if entry.name in present and same(present[entry.name], entry)}
        removed = [name for name in present if name not in keep]
        for name in removed:
            self.remove(table, name)
        added = [entry for entry in wanted if entry.name not in keep]
        for entry in added:
            add(entry, created_by)
        return Changes(added, removed)


@dataclass
class Changes(Generic[E]):
    """What a replacement did: the entries added (or changed), the names removed."""

    added: list[E]
    removed: list[str]


def _same_rule(one: ConstraintRule, other: ConstraintRule) -> bool:
    return (one.rule, sorted(one.object_types), one.object_groups) == (
        other.rule,
        sorted(other.object_types),
        other.object_groups,
    )


def _same_set(one: DefaultSet, other: DefaultSet) -> bool:
    return (one.selector, one.object_type, one.attributes.encode_any_version()) == (
        other.selector,
        other.object_type,
        other.attributes.encode_any_version(),
    )


@contextmanager
def open_policy(path: Path) -> Iterator[PolicyTables]:
    """The policy tables of the store at `path` (made if missing), in one write transaction,
    beside a running server (as `AccessAdmin.open`)."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=30.0)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(POLICY_SCHEMA)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield PolicyTables(connection.execute)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        connection.close()
