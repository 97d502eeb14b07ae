"""The object store: a narrow interface, one implementation per database.

Operations see `Store.session()` (one transaction: commit on success, roll back on
error) and the records it loads and saves. Implementations: `sqlite` (the embedded
default). Each one indexes attributes so that Locate runs in the database.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pkcs11_kmip.kmip.messages import Attributes, Structure
from pkcs11_kmip.kmip.spec.enums import ObjectType
from pkcs11_kmip_server.store.access import AccessAdmin, Rights
from pkcs11_kmip_server.store.jobs import JobTable
from pkcs11_kmip_server.store.policy import PolicyTables
from pkcs11_kmip_server.store.tickets import TicketTable


class Conflict(Exception):
    """Another transaction changed what this one read: the request must run again."""


class Storage(enum.IntEnum):
    """Where an object lives (the Storage Status Mask bits)."""

    ONLINE = 1
    ARCHIVED = 2
    DESTROYED = 4


@dataclass
class ObjectRecord:
    """A managed object: its attributes (the canonical 2.x form) and its material.

    `material` is the typed managed object (e.g. a SymmetricKey with its key block),
    None once destroyed; the store keeps it encrypted.
    """

    uid: str
    object_type: ObjectType
    owner: str
    attributes: Attributes
    material: Structure | None
    storage: Storage = Storage.ONLINE


@dataclass
class AttributeFilter:
    """One Locate criterion: an attribute (by tag, or by vendor and name) and its value."""

    tag: int
    value: Any
    vendor: str | None = None
    name: str | None = None


@dataclass
class LocateQuery:
    """A search for objects. `owner` is the caller: the query finds the caller's objects,
    and with `shared` (the Locate operation) also those the access grants let it locate
    (every object, for an administrator). Server-internal lookups (unique names,
    templates) stay within the caller's own objects."""

    owner: str
    now: datetime
    filters: list[AttributeFilter] = field(default_factory=list)
    offset: int = 0
    maximum: int | None = None
    storage: int = Storage.ONLINE
    count: bool = False  # also count every match (Located Items), a second query
    shared: bool = False


class StoreSession(Protocol):
    """One transaction's view of the store."""

    def insert(self, record: ObjectRecord) -> None: ...

    def load(self, uid: str, owner: str | None) -> ObjectRecord | None:
        """The object if `owner` owns it (None: whoever does), else None."""
        ...

    def rights(self, principal: str, record: ObjectRecord) -> Rights:
        """What the access tables let `principal` do with `record` (ownership aside)."""
        ...

    def policy(self) -> PolicyTables:
        """The attribute defaults and constraints (store.policy), read in this transaction."""
        ...

    def access(self) -> AccessAdmin:
        """The users, groups and grants (store.access), changed in this transaction."""
        ...

    def jobs(self) -> JobTable:
        """The asynchronous operations (store.jobs), read and changed in this transaction."""
        ...

    def tickets(self) -> TicketTable:
        """The KMIP Login tickets (store.tickets), checked and spent in this transaction."""
        ...

    def save(self, record: ObjectRecord) -> None: ...

    def owners_containing(self, mark: str) -> list[str]:
        """The owners, with `mark` in their name, of objects not yet destroyed (the native
        token's session objects belong to such owners: a sweep at start finds them)."""
        ...

    def locate(self, query: LocateQuery) -> tuple[list[str], int | None]:
        """Matching uids, newest first, after offset and maximum; and, if asked, how many in all."""
        ...

    def named(self, owner: str, value: str | None) -> list[str]:
        """At most two of `owner`'s on-line or archived objects with a Name of this value,
        newest first: what a Locate by that Name alone finds (the unique-name check's
        question, asked on every Create without building a Locate)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested scope whose changes are undone if it raises (batch items run in one)."""
        ...


class Store(Protocol):
    def session(self, write: bool = True) -> AbstractContextManager[StoreSession]:
        """One transaction; `write=False` is a hint that it will probably only read."""
        ...

    def close(self) -> None: ...


# Structures every new object of a kind shares and nobody changes (objects.SERVER_RNG): a
# store encodes each once for its columns. Kept with the value itself, so that only that
# very object hits, not a later one at its address.
_SHARED_TTLV: dict[int, tuple[Structure, bytes]] = {}


def share_encoding(value: Structure) -> None:
    """Declare `value` a constant its owner never changes: stores encode it once."""
    _SHARED_TTLV[id(value)] = (value, value.encode())


def shared_encoding(value: Structure) -> bytes | None:
    """The TTLV of a structure declared by `share_encoding`, else None."""
    shared = _SHARED_TTLV.get(id(value))
    return shared[1] if shared is not None and shared[0] is value else None


def iter_filters_by_tag(filters: list[AttributeFilter]) -> Iterator[tuple[int, list[AttributeFilter]]]:
    """Group a Locate's criteria by attribute (two dates of one attribute make a range)."""
    groups: dict[tuple[int, str | None, str | None], list[AttributeFilter]] = {}
    for criterion in filters:
        groups.setdefault((criterion.tag, criterion.vendor, criterion.name), []).append(criterion)
    for (tag, _vendor, _name), group in groups.items():
        yield tag, group
