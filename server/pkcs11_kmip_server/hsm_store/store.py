"""The HSM-backed store: the SQLite store for attributes, a PKCS#11 token for the keys.

`HsmBackedStore` wraps the database store. A record saved with a key the token holds
(`token.holds_record`) has its key put into the token first (C_CreateObject; Create
and Create Key Pair generate it there instead, through `HsmSession.generate_secret`
and `generate_pair`), and the row keeps a reference block in place of the material.

No half-written objects: the token objects a transaction made are destroyed if it
rolls back (an error, a Conflict the engine retries, an Undo batch, a savepoint of a
failed batch item), and a Destroy's token object goes only once the database has
committed the destroyed record. A token object left behind then (the HSM failing
after the commit) is logged with its CKA_ID, never silently kept.

Key pairs are generated in the token before the write transaction (`PairAhead`), as the
database store's are generated before it: the record that takes one renames it; one that
no record takes is destroyed once its message is done.
"""

from __future__ import annotations

import copy
import logging
import secrets
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import RecommendedCurve
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.formats import convert_material
from pkcs11_kmip_server.hsm_store.token import (
    HsmToken,
    holds_record,
    made_alike,
    reference_block,
    reference_of,
)
from pkcs11_kmip_server.objects import digest_of, place_digest
from pkcs11_kmip_server.store import LocateQuery, ObjectRecord, Store, StoreSession
from pkcs11_kmip_server.store.access import Rights
from pkcs11_kmip_server.store.policy import PolicyTables

log = logging.getLogger(__name__)

AHEAD = b"made-ahead:"  # the CKA_ID prefix of a key pair made ahead, until a record takes it


@dataclass
class Journal:
    """The token objects one transaction made, and those it destroyed (done at commit)."""

    created: list[bytes] = field(default_factory=list)
    destroyed: list[bytes] = field(default_factory=list)
    # Keys made Sensitive or not Extractable (KMIP's one-way flags): CKA_SENSITIVE=TRUE,
    # CKA_EXTRACTABLE=FALSE at commit, as PKCS#11 lets them change only that way too.
    tightened: list[tuple[bytes, Flags]] = field(default_factory=list)
    loaded: dict[str, tuple[bytes, Flags]] = field(default_factory=dict)  # uid -> CKA_ID, flags read

    def mark(self) -> tuple[int, int, int]:
        return len(self.created), len(self.destroyed), len(self.tightened)

    def undo_to(self, mark: tuple[int, int, int], token: HsmToken) -> None:
        """Destroy what was made since `mark`; forget the changes asked since."""
        made, self.created = self.created[mark[0] :], self.created[: mark[0]]
        del self.destroyed[mark[1] :]
        del self.tightened[mark[2] :]
        for reference in made:
            _destroy(token, reference, "rolled back")

    def commit(self, token: HsmToken) -> None:
        for reference, (sensitive, unextractable) in self.tightened:
            try:
                token.tighten(reference, sensitive, unextractable)
            except Exception:
                log.exception("HSM key %s keeps its former flags", reference.decode(errors="replace"))
        for reference in self.destroyed:
            _destroy(token, reference, "destroyed")


Flags = tuple[bool, bool]
"""(Sensitive, not Extractable) of a record."""


def flags_of(record: ObjectRecord) -> Flags:
    return record.attributes.get(Tag.SENSITIVE) is True, record.attributes.get(Tag.EXTRACTABLE) is False


def _destroy(token: HsmToken, reference: bytes, why: str) -> None:
    try:
        if not token.destroy(reference):
            log.warning("HSM key %s (%s) was already gone", reference.decode(errors="replace"), why)
    except Exception:
        log.exception(
            "HSM key %s (%s) could not be destroyed: left in the token",
            reference.decode(errors="replace"),
            why,
        )


def with_block(material: Structure, block: KeyBlock) -> Structure:
    """The same object with another key block."""
    changed = copy.copy(material)
    changed.key_block = block  # type: ignore[attr-defined]
    return changed


def read_plain(token: HsmToken, record: ObjectRecord, material: Structure) -> Structure:
    """The record's object with its key read out of the token, in the record's Key Format Type."""
    block = token.read(record)
    plain = with_block(material, block)
    wanted = record.attributes.get(Tag.KEY_FORMAT_TYPE)
    return plain if wanted in (None, block.key_format_type) else convert_material(plain, wanted, None)


def add_digest(token: HsmToken, record: ObjectRecord) -> None:
    """The Digest of a key just generated in the token (KMIP 2.1 §4.18), where the token gives
    its value: a Sensitive or unextractable key gets none (its value never leaves the token)."""
    attributes = record.attributes
    if attributes.get(Tag.SENSITIVE) is True or attributes.get(Tag.EXTRACTABLE) is False:
        return
    assert record.material is not None
    digest = digest_of(read_plain(token, record, record.material))
    if digest is None:
        return
    place_digest(attributes, digest)


@dataclass
class PairAhead:
    """A private key generated in the token before the transaction that stores it (no writer
    waits for the token then), under a CKA_ID of its own until a record takes it.

    A record made alike takes it (`take`: renamed, then undone with that transaction as
    any key it made); the engine releases it once the message is done, and one no record
    took (a Name taken meanwhile, a changed policy, a batch stopped before it) is
    destroyed then: never left in the token.
    """

    token: HsmToken
    reference: bytes  # its CKA_ID until taken
    made: dict[Any, Any]  # made_alike() of the record it was made for
    key: Any  # the token object
    public: formats.AnyKey
    taken: bool = False  # by a record, or released

    @classmethod
    def generate(cls, token: HsmToken, private: ObjectRecord, curve: RecommendedCurve | None) -> PairAhead:
        """Generate the key pair the planned record `private` will have (no transaction open)."""
        reference = AHEAD + secrets.token_hex(16).encode()
        key, public = token.generate_pair(private, curve, reference)
        return cls(token, reference, made_alike(private), key, public)

    def take(self, private: ObjectRecord) -> formats.AnyKey | None:
        """Its public key, the token object now the record's; None if it is not for this record
        (taken before, e.g. by an attempt rolled back, or made with other flags)."""
        if self.taken:
            return None
        if made_alike(private) != self.made:
            self.release()
            return None
        self.token.name(self.key, private)
        self.taken = True
        return self.public

    def release(self) -> None:
        """Destroy it unless a record took it."""
        if not self.taken:
            self.taken = True
            _destroy(self.token, self.reference, "made ahead, not taken")


class HsmSession:
    """One transaction: the database session's, with the keys going to the token."""

    def __init__(self, inner: StoreSession, token: HsmToken, journal: Journal) -> None:
        self._inner = inner
        self.token = token
        self._journal = journal

    def _keep(self, record: ObjectRecord) -> None:
        """Put a new record's plain key into the token; the record then holds the reference."""
        material = record.material
        if material is None or not holds_record(record, material):
            return
        block = getattr(material, "key_block", None)
        assert isinstance(block, KeyBlock)
        reference = self.token.import_key(record, block)
        self._journal.created.append(record.uid.encode())
        record.material = with_block(material, reference)

    def generate_secret(self, record: ObjectRecord) -> None:
        """Generate the new record's symmetric key inside the token (before `insert`)."""
        assert record.material is not None
        block = self.token.generate_secret(record)
        self._journal.created.append(record.uid.encode())
        record.material = with_block(record.material, block)
        add_digest(self.token, record)

    def generate_pair(
        self, private: ObjectRecord, curve: RecommendedCurve | None, ahead: PairAhead | None = None
    ) -> formats.AnyKey:
        """Generate the private key of `private` inside the token (before `insert`), or take the
        one made `ahead` for it if it was made alike; its public key."""
        assert private.material is not None
        public = ahead.take(private) if ahead is not None else None
        if public is None:
            _, public = self.token.generate_pair(private, curve)
        self._journal.created.append(private.uid.encode())
        private.material = with_block(private.material, reference_block(private))
        add_digest(self.token, private)
        return public

    def copy_key(self, source: ObjectRecord, copy: ObjectRecord) -> Structure:
        """The key of `source` copied inside the token for the new record `copy` (before
        `insert`): the copy's material, a reference. Undone with the transaction."""
        assert source.material is not None
        block = self.token.copy_key(source, copy)
        self._journal.created.append(copy.uid.encode())
        return with_block(source.material, block)

    # --- StoreSession -------------------------------------------------------------------------

    def insert(self, record: ObjectRecord) -> None:
        self._keep(record)
        self._inner.insert(record)

    def save(self, record: ObjectRecord) -> None:
        known = self._journal.loaded.get(record.uid)
        if known is not None:
            reference, before = known
            if record.material is None:  # Destroy: the key goes at commit
                self._journal.destroyed.append(reference)
                del self._journal.loaded[record.uid]
            elif flags_of(record) != before:
                now = flags_of(record)
                change = (now[0] and not before[0], now[1] and not before[1])  # only what turned on
                self._journal.tightened.append((reference, change))
                self._journal.loaded[record.uid] = reference, now
        self._inner.save(record)

    def load(self, uid: str, owner: str | None) -> ObjectRecord | None:
        record = self._inner.load(uid, owner)
        if record is not None:
            reference = reference_of(record)
            if reference is not None:
                self._journal.loaded[uid] = reference, flags_of(record)
        return record

    def rights(self, principal: str, record: ObjectRecord) -> Rights:
        return self._inner.rights(principal, record)

    def policy(self) -> PolicyTables:
        return self._inner.policy()

    def locate(self, query: LocateQuery) -> tuple[list[str], int | None]:
        return self._inner.locate(query)

    def named(self, owner: str, value: str | None) -> list[str]:
        return self._inner.named(owner, value)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        mark = self._journal.mark()
        try:
            with self._inner.savepoint():
                yield
        except BaseException:
            self._journal.undo_to(mark, self.token)
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # what a database session has beyond the protocol


class HsmBackedStore:
    """A Store whose sessions keep keys in `token` and everything else in `inner`."""

    def __init__(self, inner: Store, token: HsmToken) -> None:
        self.inner = inner
        self.token = token

    @contextmanager
    def _session(self, write: bool) -> Iterator[StoreSession]:
        journal = Journal()
        try:
            with self.inner.session(write) as inner:
                yield HsmSession(inner, self.token, journal)
        except BaseException:
            journal.undo_to((0, 0, 0), self.token)
            raise
        journal.commit(self.token)

    def session(self, write: bool = True) -> AbstractContextManager[StoreSession]:
        return self._session(write)

    def close(self) -> None:
        self.inner.close()
        self.token.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # what the database store has beyond the protocol
