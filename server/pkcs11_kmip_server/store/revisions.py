"""A revision for a set of tables, so a process can keep what it read from them.

A cache of rows any connection may change (another server process, `pkcs11-kmip admin`,
SQL by hand) keeps its copy while one value, read in the reader's own transaction, stays
the same. Triggers give that value a new random number on every change to the tables.
Random, not a counter: a change rolled back after a read had cached its result, followed
by another change that commits, would bring a counter back to the cached value.
"""

from __future__ import annotations

from collections.abc import Iterable

EVENTS = ("INSERT", "UPDATE", "DELETE")


def revision_schema(revision_table: str, watched: Iterable[str]) -> str:
    """The revision's table (one row) and its triggers on each of the `watched` tables."""
    triggers = "".join(
        f"CREATE TRIGGER IF NOT EXISTS {revision_table}_{table}_{event.lower()}"
        f" AFTER {event} ON {table}\n"
        f"BEGIN UPDATE {revision_table} SET revision = random() WHERE id = 0; END;\n"
        for table in watched
        for event in EVENTS
    )
    return f"""CREATE TABLE IF NOT EXISTS {revision_table} (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    revision INTEGER NOT NULL
);
INSERT OR IGNORE INTO {revision_table} (id, revision) VALUES (0, 0);
{triggers}"""


def revision_query(revision_table: str) -> str:
    """The statement that reads the revision."""
    return f"SELECT revision FROM {revision_table} WHERE id = 0"
