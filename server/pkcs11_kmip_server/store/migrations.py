"""Schema versions of the object store, so a data dir made by an older server upgrades on start.

The base schema (store.sqlite.SCHEMA) is the shape stores had before versions were
recorded; each `Migration` after it changes the shape and brings the rows along. The
version reached is one row in `schema_version`. Every store runs the migrations it lacks
when it opens (a new store all of them, on empty tables), in one write transaction
that reads the version under the write lock: server processes starting together
upgrade once, and a failure leaves the data dir as it was. Portable SQL (ALTER TABLE ADD COLUMN,
correlated UPDATE, partial indexes), as PostgreSQL takes it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pkcs11_kmip.kmip.spec import Tag

VERSION_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version"
    " (id INTEGER PRIMARY KEY CHECK (id = 0), version INTEGER NOT NULL)",
    "INSERT INTO schema_version (id, version) SELECT 0, 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
)


@dataclass(frozen=True)
class Migration:
    """The change to reach `version`; its statements take the parameters of `run`."""

    version: int
    why: str
    statements: tuple[str, ...]


# An object's distinct Object Group values, from its attribute rows (what Locate probed).
_GROUP_VALUES = (
    "FROM attribute a WHERE a.object_seq = object.seq AND a.tag = :object_group_tag"
    " AND a.text_value IS NOT NULL"
)

# Migration 2's columns (store.sqlite.NUMBER_COLUMNS then; activation and deactivation
# dates had theirs in the base schema), as they were: a migration does not change later.
_NUMBER_COLUMNS_2 = (
    (Tag.INITIAL_DATE, "initial_date"),
    (Tag.LAST_CHANGE_DATE, "last_change_date"),
    (Tag.ORIGINAL_CREATION_DATE, "original_creation_date"),
    (Tag.SENSITIVE, "sensitive"),
    (Tag.EXTRACTABLE, "extractable"),
    (Tag.ALWAYS_SENSITIVE, "always_sensitive"),
    (Tag.NEVER_EXTRACTABLE, "never_extractable"),
    (Tag.FRESH, "fresh"),
    (Tag.KEY_FORMAT_TYPE, "key_format_type"),
    (Tag.PROTECTION_STORAGE_MASK, "protection_storage_mask"),
)
_ROWS_DROPPED_2 = (
    *(tag for tag, _ in _NUMBER_COLUMNS_2),
    Tag.ACTIVATION_DATE,
    Tag.DEACTIVATION_DATE,
    Tag.UNIQUE_IDENTIFIER,
)


# Migration 4's columns, as they were: the numbers that a Create still wrote as rows.
_NUMBER_COLUMNS_4 = (
    (Tag.CRYPTOGRAPHIC_ALGORITHM, "cryptographic_algorithm"),
    (Tag.CRYPTOGRAPHIC_LENGTH, "cryptographic_length"),
    (Tag.CRYPTOGRAPHIC_USAGE_MASK, "cryptographic_usage_mask"),
)


# Migration 5's columns, as they were: the single-valued byte strings a Create wrote as rows.
_BYTES_COLUMNS_5 = (
    (Tag.SHORT_UNIQUE_IDENTIFIER, "short_unique_identifier"),
    (Tag.RANDOM_NUMBER_GENERATOR, "random_number_generator"),
)


def _columns_from_rows(
    columns: tuple[tuple[Tag, str], ...], dropped: tuple[Tag, ...], kind: str = "INTEGER"
) -> tuple[str, ...]:
    """Migrations 2, 4 and 5: each column added and filled from the object's (first) attribute
    row of its tag (its int_value, or for a BLOB column its blob_value), then the rows of the
    `dropped` tags, which Locate no longer reads, deleted."""
    source = "blob_value" if kind == "BLOB" else "int_value"
    statements = []
    for tag, column in columns:
        statements.append(f"ALTER TABLE object ADD COLUMN {column} {kind}")
        statements.append(
            f"UPDATE object SET {column} = (SELECT a.{source} FROM attribute a"
            f" WHERE a.object_seq = object.seq AND a.tag = {int(tag)} LIMIT 1)"
        )
    tags = ", ".join(str(int(tag)) for tag in dropped)
    statements.append(f"DELETE FROM attribute WHERE tag IN ({tags})")
    return tuple(statements)


# Migration 3's triggers, as they were: the access tables' revision made new by each change.
_ACCESS_TABLES_3 = ("principal", "access_group", "access_member", "access_grant", "access_grant_operation")


def _random_access_revision() -> tuple[str, ...]:
    """Migration 3's statements: each access_revision trigger again, setting random()."""
    statements = []
    for table in _ACCESS_TABLES_3:
        for event in ("INSERT", "UPDATE", "DELETE"):
            trigger = f"access_revision_{table}_{event.lower()}"
            statements.append(f"DROP TRIGGER IF EXISTS {trigger}")
            statements.append(
                f"CREATE TRIGGER {trigger} AFTER {event} ON {table}"
                " BEGIN UPDATE access_revision SET revision = random() WHERE id = 0; END"
            )
    return tuple(statements)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "Locate with access control reads what a caller may see from indexes: an object's"
        " Object Group in its row when it has exactly one (`object_group`, NULL otherwise),"
        " how many it has (`object_groups`), an index per group carrying storage and owner"
        " (a page merges one stream per granted group, a count reads the index alone), and"
        " one over the few objects in several groups",
        (
            "ALTER TABLE object ADD COLUMN object_group TEXT",
            "ALTER TABLE object ADD COLUMN object_groups INTEGER NOT NULL DEFAULT 0",
            f"UPDATE object SET object_groups = (SELECT COUNT(DISTINCT a.text_value) {_GROUP_VALUES})"
            f" WHERE EXISTS (SELECT 1 {_GROUP_VALUES})",
            # (Not MIN(): SQLite would take it from the (tag, text_value) index, a scan per object.)
            f"UPDATE object SET object_group = (SELECT a.text_value {_GROUP_VALUES} LIMIT 1)"
            " WHERE object_groups = 1",
            "CREATE INDEX object_in_group ON object (object_group, storage, seq, owner)"
            " WHERE object_group IS NOT NULL",
            "CREATE INDEX object_in_groups ON object (storage, seq) WHERE object_groups > 1",
        ),
    ),
    Migration(
        2,
        "A Create wrote 18 attribute rows, each three B-tree entries: the single-valued"
        " numbers (dates, flags, Key Format Type, Protection Storage Mask) move to columns of"
        " the object's row, which Locate reads; the Unique Identifier's rows go (Locate reads"
        " the uid column)",
        _columns_from_rows(_NUMBER_COLUMNS_2, _ROWS_DROPPED_2),
    ),
    Migration(
        3,
        "The access tables' revision was a counter: a change rolled back after a Locate had"
        " cached grants under the counter's next value, then a committed change of as many"
        " rows, brought that value back with the rolled-back grants; now each change sets a"
        " random value",
        _random_access_revision(),
    ),
    Migration(
        4,
        "A Create still wrote 7 attribute rows (each in the attribute table, (tag, int_value) and"
        " (object_seq, tag)); the algorithm, length and usage mask, single-valued numbers, move"
        " to columns of the object's row, algorithm and length indexed together for Locate (a"
        " mask's bits are matched per object, which its (tag, int_value) rows did not help)",
        (
            *_columns_from_rows(_NUMBER_COLUMNS_4, tuple(tag for tag, _ in _NUMBER_COLUMNS_4)),
            "CREATE INDEX object_algorithm ON object (cryptographic_algorithm, cryptographic_length)",
        ),
    ),
    Migration(
        5,
        "Of the 4 attribute rows a Create still wrote, the Short Unique Identifier's and the"
        " Random Number Generator's (single-valued, bytes) served no index: Locate by them read"
        " every row of their tag. They move to BLOB columns of the object's row, compared whole",
        _columns_from_rows(_BYTES_COLUMNS_5, tuple(tag for tag, _ in _BYTES_COLUMNS_5), "BLOB"),
    ),
    Migration(
        6,
        "Every attribute row had an entry in (tag, int_value), a Digest's (a structure: no"
        " number) too, which no Locate seeks: a search by a number implies it is not NULL, and a"
        " search by bytes read every row of the tag anyway. The index keeps the rows with a"
        " number only: one B-tree entry fewer per Create",
        (
            "DROP INDEX attribute_int",
            "CREATE INDEX attribute_int ON attribute (tag, int_value) WHERE int_value IS NOT NULL",
        ),
    ),
)


LATEST = MIGRATIONS[-1].version


def migrate(connection: sqlite3.Connection) -> list[int]:
    """Bring the store at `connection` (autocommit mode, base schema in place) to LATEST;
    the versions this call applied (none if the store had them, or another process
    applied them first: the version is read under the write lock)."""
    parameters: dict[str, Any] = {"object_group_tag": int(Tag.OBJECT_GROUP)}
    applied = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        for statement in VERSION_SCHEMA:
            connection.execute(statement)
        (reached,) = connection.execute("SELECT version FROM schema_version WHERE id = 0").fetchone()
        for migration in MIGRATIONS:
            if migration.version > reached:
                for statement in migration.statements:
                    used = {name: value for name, value in parameters.items() if f":{name}" in statement}
                    connection.execute(statement, used)
                applied.append(migration.version)
        if applied:
            connection.execute("UPDATE schema_version SET version = ? WHERE id = 0", (applied[-1],))
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
    return applied
