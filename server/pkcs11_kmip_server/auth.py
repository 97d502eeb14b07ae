"""Who a request speaks for: its TLS client certificate, or a KMIP Credential.

Every connection is authenticated by its certificate (subject CN). A request may
also carry a Username and Password Credential (NetApp and other appliances send
one); when the data directory lists that user, a valid password makes the request
act as that user, and a wrong one fails the request. Passwords are kept as scrypt
hashes in DIR/users.toml; verified ones are remembered briefly, since scrypt is
slow on purpose and some clients send the credential with every request.

A KMIP 2.x client may instead present a Ticket Credential that Login issued
(operations/login.py): the request then acts as whoever logged in, provided it comes
over a connection with the same certificate identity (store/tickets.py). A ticket from
Delegated Login acts as whoever delegated, over any client's connection, within the
Rights it carries (delegation.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pkcs11_kmip.kmip.messages.structures import Authentication
from pkcs11_kmip.kmip.spec.enums import CredentialType, ResultReason
from pkcs11_kmip_server.delegation import Delegation
from pkcs11_kmip_server.store import Store
from pkcs11_kmip_server.store.tickets import Refusal, ticket_reference

USERS_FILE = "users.toml"
USERS_COMMENT = "Users who may authenticate with a KMIP Username and Password Credential."
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
REMEMBER_SECONDS = 300.0


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, bytes.fromhex(digest))


def add_user(data_dir: Path, name: str, password: str) -> None:
    """Add or replace a user's password in DIR/users.toml (mode 0600)."""
    store_hash(data_dir / USERS_FILE, name, hash_password(password), USERS_COMMENT)


def remove_user(data_dir: Path, name: str) -> None:
    """Forget a user's password (no-op for a user without one)."""
    drop_hash(data_dir / USERS_FILE, name, USERS_COMMENT)


def password_users(data_dir: Path) -> set[str]:
    """The users with a password in DIR/users.toml."""
    return set(read_hashes(data_dir / USERS_FILE))


@contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on PATH.lock: one read-change-write of `path` at a time, across processes
    (`pkcs11-kmip ca issue-client` and `admin users` may run at once, and beside the server)."""
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def store_hash(path: Path, name: str, stored: str, comment: str) -> None:
    """Add or replace `name`'s hash in the table at `path` (hash it before: scrypt is slow)."""

    def put(hashes: dict[str, str]) -> bool:
        hashes[name] = stored
        return True

    _update(path, put, comment)


def drop_hash(path: Path, name: str, comment: str) -> None:
    """Remove `name` from the table at `path` (no-op if it is not there)."""
    _update(path, lambda hashes: hashes.pop(name, None) is not None, comment)


def _update(path: Path, change: Callable[[dict[str, str]], bool], comment: str) -> None:
    """Read the TOML table of name = hash, let `change` edit it, write it back if it says so.

    Under the lock, so that concurrent updates are never lost; written to a temporary file of
    its own (mode 0600) and renamed over `path`, so that readers see the old table or the new.
    """
    with _exclusive(path):
        hashes = read_hashes(path)
        if not change(hashes):
            return
        lines = [f"# {comment}\n"]
        # JSON's string escapes are TOML's: a name with quotes or backslashes stays one key.
        lines += [f"{json.dumps(name)} = {json.dumps(stored)}\n" for name, stored in sorted(hashes.items())]
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.writelines(lines)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise


def read_hashes(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        return {str(name): str(stored) for name, stored in tomllib.load(handle).items()}


class CredentialError(Exception):
    """A Credential that names a known user with the wrong password (or is malformed)."""


@dataclass
class PasswordUsers:
    """DIR/users.toml, re-read when it changes."""

    path: Path

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._users: dict[str, str] = {}
        self._verified: dict[tuple[str, bytes], float] = {}

    def _current(self) -> dict[str, str]:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            mtime = None
        with self._lock:
            if mtime != self._mtime:
                self._users = read_hashes(self.path) if mtime is not None else {}
                self._verified.clear()
                self._mtime = mtime
            return self._users

    def principal(self, authentication: Authentication | None, certificate_principal: str) -> str:
        """The identity the request acts as (raises CredentialError for a wrong password)."""
        if authentication is None:
            return certificate_principal
        users = self._current()
        for credential in authentication.credentials:
            value = credential.credential_value
            if credential.credential_type is not CredentialType.USERNAME_AND_PASSWORD or value is None:
                continue
            name = value.username or ""
            stored = users.get(name)
            if stored is None:
                continue  # not a user of this server: the certificate identifies the client
            if self._verify(name, value.password or "", stored):
                return name
            raise CredentialError(f"wrong password for {name!r}")
        return certificate_principal

    def _verify(self, name: str, password: str, stored: str) -> bool:
        key = (name, hashlib.sha256(password.encode()).digest())
        now = time.monotonic()
        with self._lock:
            if self._verified.get(key, 0.0) > now:
                return True
        if not password_matches(password, stored):
            return False
        with self._lock:
            self._verified[key] = now + REMEMBER_SECONDS
        return True


class TicketError(CredentialError):
    """A Ticket Credential that is not honoured, with the Result Reason to answer."""

    def __init__(self, reason: ResultReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def presented_ticket(authentication: Authentication | None) -> bytes | None:
    """The Ticket Value of the request header's Ticket Credential, if it has one."""
    for credential in authentication.credentials if authentication is not None else []:
        value = credential.credential_value
        if credential.credential_type is CredentialType.TICKET and value is not None:
            ticket = value.ticket
            return (ticket.ticket_value or b"") if ticket is not None else b""
    return None


def use_ticket(store: Store, ticket: bytes, peer_principal: str, now: float) -> tuple[str, Delegation | None]:
    """Spend one use of `ticket` for a request from `peer_principal`'s connection: who the
    request acts as, and a Delegated Login ticket's Rights (None for a Login ticket).
    Raises TicketError: Usage Limit Exceeded once its Request Count is used up, Invalid
    Ticket if unknown, logged out, expired, or another identity's Login ticket."""
    with store.session() as session:
        spent = session.tickets().spend(ticket, peer_principal, now)
    if spent is Refusal.SPENT:
        raise TicketError(ResultReason.USAGE_LIMIT_EXCEEDED, "the ticket's Request Count is used up")
    if isinstance(spent, Refusal):
        raise TicketError(ResultReason.INVALID_TICKET, "the ticket is not valid")
    if spent.rights is None:
        return spent.principal, None
    return spent.principal, Delegation.from_json(spent.rights, ticket_reference(ticket))
