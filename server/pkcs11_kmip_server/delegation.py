"""What a Delegated Login ticket lets its holder do (KMIP 2.1 §6.1.12, Right §7.34).

A delegated ticket acts as the principal that asked for it (the delegator), and only
within the Rights it names: "the ticket holder may only perform operations allowed by at
least one of the contained Right structures". A Right's Operations, Objects and Object
Groups each narrow it; a field left out leaves that aspect unrestricted. The holder's
requests are then checked twice, both at use:

- against the ticket (here): an operation no Right allows, or an object outside every
  Right that allows the operation, is *Not Authorised*, whether the object exists or
  not, so a ticket tells its holder nothing about objects beyond it;
- against the delegator's own rights (access.authorize, with the delegator as the
  principal), so a ticket never does more than its delegator may do now: a grant
  revoked from the delegator ends that part of the delegation at the next request.

Objects and Object Groups restrict what a request does to existing objects (the ones an
operation loads, and what Locate returns); an operation that names none (Create,
Register, Query, RNG Retrieve...) is allowed by any Right that lists it. Object Groups
match an object's Object Group attribute values as the spec defines them, not the
groups nested above them. The PKCS#11 operation reaches a token's objects without naming
them, so only a Right without Objects or Object Groups allows it. Usage Limits in a
Right are refused (Feature Not Supported) rather than ignored.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pkcs11_kmip.kmip.messages.structures import Right, Rights, UniqueId
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.access import display_name
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import LocateQuery, ObjectRecord, StoreSession

# Operations that reach objects without naming them: only an unscoped Right allows them.
UNSCOPED_ONLY = frozenset({Operation.PKCS_11})

# Operations that issue tickets: a delegated ticket never makes another ticket (a Login
# from it would shed its Rights; a Delegated Login would have to be bounded by them too).
ISSUING = frozenset({Operation.LOGIN, Operation.DELEGATED_LOGIN})


def not_authorised(message: str) -> KmipError:
    return KmipError(ResultReason.NOT_AUTHORISED, message)


@dataclass(frozen=True)
class DelegatedRight:
    """One Right: None in a field leaves that aspect unrestricted."""

    operations: frozenset[Operation] | None = None
    objects: frozenset[str] | None = None
    object_groups: frozenset[str] | None = None

    @property
    def scoped(self) -> bool:
        """Whether it limits the objects the holder may act on."""
        return self.objects is not None or self.object_groups is not None

    def allows(self, operation: Operation) -> bool:
        return self.operations is None or operation in self.operations

    def covers(self, uid: str, groups: Iterable[str]) -> bool:
        """Whether the object `uid` in the Object Groups `groups` is within this Right."""
        if self.objects is not None and uid not in self.objects:
            return False
        return self.object_groups is None or not self.object_groups.isdisjoint(groups)

    def as_json(self) -> dict[str, list[Any] | None]:
        return {
            "operations": None if self.operations is None else sorted(int(op) for op in self.operations),
            "objects": None if self.objects is None else sorted(self.objects),
            "object_groups": None if self.object_groups is None else sorted(self.object_groups),
        }

    @classmethod
    def from_json(cls, entry: dict[str, list[Any] | None]) -> DelegatedRight:
        operations, objects, groups = entry["operations"], entry["objects"], entry["object_groups"]
        return cls(
            None if operations is None else frozenset(Operation(op) for op in operations),
            None if objects is None else frozenset(str(uid) for uid in objects),
            None if groups is None else frozenset(str(group) for group in groups),
        )


@dataclass(frozen=True)
class Delegation:
    """The Rights of the delegated ticket a request presented, and the ticket's audit name."""

    rights: tuple[DelegatedRight, ...]
    reference: str  # store.tickets.ticket_reference: never the ticket itself

    @classmethod
    def from_json(cls, text: str, reference: str) -> Delegation:
        """A ticket's Rights as the store keeps them (`encoded_rights`)."""
        return cls(tuple(DelegatedRight.from_json(entry) for entry in json.loads(text)), reference)

    def check_operation(self, operation: Operation) -> None:
        """Before a batch item runs: some Right must allow its operation (Not Authorised)."""
        if operation in ISSUING:
            raise not_authorised("a delegated ticket cannot issue tickets")
        permitted = [right for right in self.rights if right.allows(operation)]
        if operation in UNSCOPED_ONLY:
            permitted = [right for right in permitted if not right.scoped]
        if not permitted:
            raise not_authorised(f"the ticket does not allow {display_name(operation)}")

    def unscoped(self, operation: Operation) -> bool:
        """Whether a Right allows `operation` on any object (Locate then needs no filter)."""
        return any(right.allows(operation) and not right.scoped for right in self.rights)

    def covers(self, operation: Operation | None, uid: str, record: ObjectRecord | None) -> bool:
        """Whether a Right allows `operation` on the object (`record`: None if there is none)."""
        groups = record.attributes.get_all(Tag.OBJECT_GROUP) if record is not None else []
        return any(
            (operation is None or right.allows(operation)) and right.covers(uid, groups)
            for right in self.rights
        )

    def check_object(self, operation: Operation | None, uid: str, record: ObjectRecord | None) -> None:
        """When an operation loads an object: Not Authorised outside the ticket's Rights,
        for an object that does not exist as well (no hint either way)."""
        if not self.covers(operation, uid, record):
            name = display_name(operation) if operation is not None else "this operation"
            raise not_authorised(f"the ticket does not allow {name} on {uid}")

    def locate(self, session: StoreSession, query: LocateQuery) -> tuple[list[str], int | None]:
        """Locate for a ticket whose Locate is limited to some objects: every match, kept if
        a Right covers it, then paged (slower than the store's paging, and only for these)."""
        whole = replace(query, offset=0, maximum=None, count=False)
        found = [
            uid
            for uid in session.locate(whole)[0]
            if self.covers(Operation.LOCATE, uid, session.load(uid, None))
        ]
        end = None if query.maximum is None else query.offset + query.maximum
        return found[query.offset : end], len(found)

    def operations(self, supported: Iterable[Operation]) -> list[Operation]:
        """Of `supported`, what the ticket allows (Query Operations answers these)."""
        return [operation for operation in supported if self.may_run(operation)]

    def may_run(self, operation: Operation) -> bool:
        try:
            self.check_operation(operation)
        except KmipError:
            return False
        return True

    def audit_fields(self, holder: str | None) -> dict[str, Any]:
        """What a request line of the audit log says of the ticket: its name and who presented it."""
        return {"delegation": {"ticket": self.reference, "holder": holder}}


def encoded_rights(rights: Iterable[DelegatedRight]) -> str:
    """Rights as the store keeps them beside a ticket (store.tickets: ticket_rights)."""
    return json.dumps([right.as_json() for right in rights], separators=(",", ":"))


def requested_rights(rights: Rights | None, resolve: Callable[[UniqueId], str]) -> tuple[DelegatedRight, ...]:
    """The Rights of a Delegated Login request, checked for form (not yet against the
    delegator's: delegated_login.py does that); `resolve` turns an ID Placeholder or a
    batch item's index in Objects into the identifier it stands for."""
    if rights is None or not rights.rights:
        raise KmipError(ResultReason.INVALID_FIELD, "Delegated Login needs at least one Right")
    return tuple(_requested(right, resolve) for right in rights.rights)


def _requested(right: Right, resolve: Callable[[UniqueId], str]) -> DelegatedRight:
    if right.usage_limits is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "a Right with Usage Limits is not supported")
    operations = objects = groups = None
    if right.operations is not None:
        if not right.operations.operations:
            raise KmipError(ResultReason.INVALID_FIELD, "a Right's Operations names no operation")
        operations = frozenset(Operation(op) for op in right.operations.operations)
        if not operations.isdisjoint(ISSUING):
            raise KmipError(ResultReason.PERMISSION_DENIED, "Login and Delegated Login cannot be delegated")
    if right.objects is not None:
        if not right.objects.unique_identifiers:
            raise KmipError(ResultReason.INVALID_FIELD, "a Right's Objects names no object")
        objects = frozenset(resolve(uid) for uid in right.objects.unique_identifiers)
    if right.object_groups is not None:
        if not right.object_groups.object_groups:
            raise KmipError(ResultReason.INVALID_FIELD, "a Right's Object Groups names no group")
        groups = frozenset(right.object_groups.object_groups)
    return DelegatedRight(operations, objects, groups)
