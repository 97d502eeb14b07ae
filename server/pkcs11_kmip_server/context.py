"""What an operation sees of its request: who asks, in which version, when, and the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, UniqueIdentifier
from pkcs11_kmip_server.access import authorize
from pkcs11_kmip_server.errors import KmipError, not_found
from pkcs11_kmip_server.jobs import AsyncJobs
from pkcs11_kmip_server.store import ObjectRecord, StoreSession

if TYPE_CHECKING:
    from pkcs11_kmip_server.audit import AuditLog
    from pkcs11_kmip_server.auth import PasswordUsers
    from pkcs11_kmip_server.crypto.services import CryptoServices
    from pkcs11_kmip_server.delegation import Delegation
    from pkcs11_kmip_server.engine import Peer
    from pkcs11_kmip_server.hsm.service import Pkcs11Service


@dataclass
class RequestContext:
    """One request message: shared by its batch items, which run in order.

    `now` is read once per message, so every item of a batch sees the same instant.
    """

    principal: str
    version: Version
    now: datetime
    session: StoreSession
    jobs: AsyncJobs | None = None
    # The ID Placeholder: the object the previous batch item created or acted on.
    id_placeholder: str | None = None
    # Objects created by earlier items of this batch, by their position (KMIP 2.x lets a
    # Unique Identifier be an Integer: the index of an earlier batch item's object).
    batch_objects: list[str | None] = field(default_factory=list)
    # The engine's crypto provider and open streams (Encrypt, Decrypt, ...).
    crypto: CryptoServices | None = None
    # The PKCS#11 operation's client contexts (Correlation Values) and the module behind them.
    pkcs11: Pkcs11Service | None = None
    # The operation of the batch item that runs: what `load` checks the caller may do.
    operation: Operation | None = None
    # The connection the message came on (PKCS#11 contexts are bound to it).
    peer: Peer | None = None
    # DIR/audit.log and DIR/users.toml, for the administration operations.
    audit: AuditLog | None = None
    users: PasswordUsers | None = None
    # The Rights of the Delegated Login ticket the request presented (None: no such ticket).
    delegation: Delegation | None = None
    # [auth] max_ticket_lease: the longest Lease Time Login and Delegated Login grant (0: none).
    max_ticket_lease: int = 0
    # What the running item's preparer made before the transaction (operations.prepares),
    # e.g. a key pair generated with no writer waiting for it; None if it made nothing.
    made_ahead: object | None = None
    # What to do once the message's transaction has committed (an administrative change's
    # audit line, a password written beside the store): nothing if it is rolled back.
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def committed(self) -> None:
        """The transaction committed: run what waited for it."""
        for action in self.after_commit:
            action()
        self.after_commit.clear()

    @property
    def is_1x(self) -> bool:
        return self.version < (2, 0)

    def resolve(self, uid: str | UniqueIdentifier | int | None) -> str:
        """The Unique Identifier a request means: given, or the ID Placeholder."""
        if uid is None or uid is UniqueIdentifier.ID_PLACEHOLDER:
            if self.id_placeholder is None:
                raise KmipError(
                    ResultReason.MISSING_DATA, "no Unique Identifier, and no ID Placeholder to use"
                )
            return self.id_placeholder
        if isinstance(uid, UniqueIdentifier):
            raise KmipError(ResultReason.INVALID_FIELD, f"Unique Identifier {uid.name} is not supported here")
        if isinstance(uid, int):
            if not 0 <= uid < len(self.batch_objects) or self.batch_objects[uid] is None:
                raise KmipError(ResultReason.INVALID_FIELD, f"no batch item {uid} created an object")
            resolved = self.batch_objects[uid]
            assert resolved is not None
            return resolved
        return uid

    def load(self, uid: str | UniqueIdentifier | int | None) -> ObjectRecord:
        """The object, if the caller may run this operation on it (access.authorize);
        Object Not Found whether it is absent or not the caller's to see. A delegated
        ticket's Rights come first (Not Authorised outside them, delegation.py)."""
        resolved = self.resolve(uid)
        record = self.session.load(resolved, None)
        if self.delegation is not None:
            self.delegation.check_object(self.operation, resolved, record)
        if record is None:
            raise not_found(resolved)
        authorize(self.session, self.principal, self.operation, record)
        return record
