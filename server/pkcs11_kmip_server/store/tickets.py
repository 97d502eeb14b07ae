"""KMIP 2.x Login and Delegated Login tickets in the store, so that a ticket one server
process issued is honoured (and counted down) by every other process of the same data
directory.

One row per ticket:

  login_ticket  digest (SHA-256 of the ticket value: the value itself is never stored;
                it is 32 random bytes, so a plain hash cannot be reversed by guessing),
                principal (who logged in: the identity requests made with the ticket act
                as), peer (the TLS client certificate's identity that logged in: the only
                connection identity the ticket is honoured for), expires (unix time, NULL:
                no Lease Time), remaining (requests left, NULL: no Request Count)
  ticket_rights digest (of a Delegated Login ticket: a row of login_ticket, deleted with
                it), rights (the Rights it was limited to, as delegation.py writes them)

A delegated ticket is not bound to the connection identity that asked for it: handing it
to another client is what it is for. It still acts as the principal that delegated, within
its Rights (server/pkcs11_kmip_server/delegation.py).

A request that presents a ticket spends one use in the same statement that checks it,
so two processes cannot both spend the last one.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any

TICKETS_SCHEMA = """
CREATE TABLE IF NOT EXISTS login_ticket (
    digest BLOB PRIMARY KEY,
    principal TEXT NOT NULL,
    peer TEXT NOT NULL,
    expires REAL,
    remaining INTEGER
);
CREATE TABLE IF NOT EXISTS ticket_rights (
    digest BLOB PRIMARY KEY REFERENCES login_ticket (digest) ON DELETE CASCADE,
    rights TEXT NOT NULL
);
"""


def ticket_digest(value: bytes) -> bytes:
    """What the store keeps of a ticket value (and looks it up by)."""
    return hashlib.sha256(b"kmip-login-ticket:" + value).digest()


def ticket_reference(value: bytes) -> str:
    """A name for a ticket in the audit log: neither the value nor the digest the store
    looks it up by (another hash of 32 random bytes), so the log cannot be used to find or
    present the ticket, yet its issue and each use can be told apart and matched."""
    return hashlib.sha256(b"kmip-ticket-reference:" + value).hexdigest()[:16]


class Refusal(enum.Enum):
    """Why a ticket was not honoured (the engine maps these to Result Reasons)."""

    INVALID = "invalid"  # unknown, logged out, expired, or another connection identity's
    SPENT = "spent"  # its Request Count has been used up


@dataclass(frozen=True)
class Spent:
    """A ticket honoured for one request: who the request acts as, and within what."""

    principal: str
    rights: str | None = None  # a Delegated Login ticket's Rights; None: a Login ticket


class TicketTable:
    """Reads and changes of `login_ticket` through `execute`, inside the caller's transaction."""

    def __init__(self, execute: Any) -> None:
        self.execute = execute

    def issue(
        self,
        value: bytes,
        principal: str,
        peer: str,
        expires: float | None,
        remaining: int | None,
        rights: str | None = None,
    ) -> None:
        """Keep a new ticket; `rights`: a delegated one's (honoured over any connection)."""
        digest = ticket_digest(value)
        self.execute(
            "INSERT INTO login_ticket (digest, principal, peer, expires, remaining) VALUES (?, ?, ?, ?, ?)",
            (digest, principal, peer, expires, remaining),
        )
        if rights is not None:
            self.execute("INSERT INTO ticket_rights (digest, rights) VALUES (?, ?)", (digest, rights))

    def spend(self, value: bytes, peer: str, now: float) -> Spent | Refusal:
        """Use the ticket once for a request that came over `peer`'s connection (any
        connection, for a delegated ticket).

        An expired ticket is deleted; a spent one stays (so that it keeps answering Usage
        Limit Exceeded rather than Invalid Ticket) until it expires or is logged out.
        """
        digest = ticket_digest(value)
        row = self.execute(
            "SELECT t.principal, t.peer, t.expires, t.remaining, r.rights FROM login_ticket t"
            " LEFT JOIN ticket_rights r ON r.digest = t.digest WHERE t.digest = ?",
            (digest,),
        ).fetchone()
        if row is None:
            return Refusal.INVALID
        principal, owner_peer, expires, remaining, rights = row
        if expires is not None and expires <= now:
            self.execute("DELETE FROM login_ticket WHERE digest = ?", (digest,))
            return Refusal.INVALID
        if rights is None and owner_peer != peer:
            return Refusal.INVALID  # no hint to a foreign connection that the ticket exists
        if remaining is not None:
            cursor = self.execute(
                "UPDATE login_ticket SET remaining = remaining - 1 WHERE digest = ? AND remaining > 0",
                (digest,),
            )
            if not cursor.rowcount:
                return Refusal.SPENT
        return Spent(str(principal), None if rights is None else str(rights))

    def revoke(self, value: bytes, principal: str) -> bool:
        """Logout: forget `principal`'s ticket; False if it has no such ticket."""
        cursor = self.execute(
            "DELETE FROM login_ticket WHERE digest = ? AND principal = ?", (ticket_digest(value), principal)
        )
        return bool(cursor.rowcount)

    def forget_expired(self, now: float) -> None:
        """Drop tickets whose Lease Time has passed (Login calls this: the table stays small)."""
        self.execute("DELETE FROM login_ticket WHERE expires IS NOT NULL AND expires <= ?", (now,))
