"""What the access-administration operations share (operations/add_user.py and the others).

Only the server's administrators may run them; anyone else gets Permission Denied with a
message that says nothing of what the request named. A change is made in the request's
store transaction and written to the audit log (who, what, when) only once that commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pkcs11_kmip.kmip.messages.access_admin import AccessGrant, AccessGroup, AccessUser
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, ResultReason
from pkcs11_kmip_server.access import display_name
from pkcs11_kmip_server.auth import read_hashes
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError, invalid_field
from pkcs11_kmip_server.store.access import (
    AccessAdmin,
    AccessAdminError,
    AccessNotFound,
    Grant,
    Group,
    GroupKind,
    MemberKind,
    Principal,
)
from pkcs11_kmip_server.store.policy import Changes, ConstraintRule, DefaultSet, E

T = TypeVar("T")

GROUP_KINDS: dict[str, GroupKind] = {"user": "user", "object": "object"}
GRANTEE_KINDS: dict[str, MemberKind] = {"user": "user", "group": "group"}


def require_server_admin(context: RequestContext) -> None:
    """Refuse anyone but an administrator, before anything of the request is looked at."""
    if not context.session.policy().is_admin(context.principal):
        raise KmipError(ResultReason.PERMISSION_DENIED, "permission denied")


@contextmanager
def access_tables(context: RequestContext) -> Iterator[AccessAdmin]:
    """The access tables in the request's transaction; their refusals as KMIP reasons."""
    try:
        yield context.session.access()
    except AccessNotFound as error:
        raise KmipError(ResultReason.ITEM_NOT_FOUND, str(error)) from None
    except AccessAdminError as error:
        raise invalid_field(str(error)) from None


def record(context: RequestContext, action: str, **details: Any) -> None:
    """The change, in the audit log once the transaction commits (never a secret in `details`)."""
    audit = context.audit
    if audit is not None:
        context.after_commit.append(lambda: audit.admin(context.principal, action, **details))


def record_replaced(
    context: RequestContext, what: str, changes: Changes[E], row: Callable[[E, bool], dict[str, Any]]
) -> None:
    """Audit a Set Defaults / Set Constraints: each entry removed, and each added or changed."""
    for name in changes.removed:
        record(context, f"{what} removed", **{what: name})
    for entry in changes.added:
        record(context, f"{what} added", **{what: row(entry, False)})


def password_users(context: RequestContext) -> set[str]:
    """The users with a password in DIR/users.toml (none if the server keeps no passwords)."""
    return set(read_hashes(context.users.path)) if context.users is not None else set()


def one_of(table: dict[str, T], value: str | None, what: str) -> T:
    """A kind given as text on the wire, checked against `table`."""
    if value is None:
        raise KmipError(ResultReason.MISSING_DATA, f"no {what}")
    found = table.get(value)
    if found is None:
        raise invalid_field(f"{what} {value!r}: one of {', '.join(table)}")
    return found


def requested_group(group: AccessGroup | None) -> tuple[GroupKind, str, AccessGroup]:
    """Add/Remove Group's group: its kind checked, its name, the structure."""
    assert group is not None  # required: the codec refuses a request without it
    return one_of(GROUP_KINDS, group.kind, "group kind"), group.name or "", group


def user_structure(user: Principal, with_password: set[str]) -> AccessUser:
    return AccessUser(
        name=user.name,
        admin=user.admin,
        has_password=user.name in with_password,
        groups=list(user.groups),
        created=user.created,
    )


def group_structure(group: Group) -> AccessGroup:
    return AccessGroup(
        kind=group.kind,
        name=group.name,
        users=[member for kind, member in group.members if kind == "user"],
        groups=[member for kind, member in group.members if kind == "group"],
    )


def grant_structure(grant: Grant) -> AccessGrant:
    return AccessGrant(
        identifier=grant.id,
        grantee_kind=grant.grantee_kind,
        grantee=grant.grantee,
        unique_identifier=str(grant.target) if grant.target_kind == "object" else None,
        object_group=str(grant.target) if grant.target_kind == "group" else None,
        object_type=ObjectType(int(grant.target)) if grant.target_kind == "type" else None,
        role=grant.role,
        operations=[Operation(operation) for operation in grant.operations],
        created=grant.created,
        created_by=grant.created_by,
    )


def grant_details(grant: Grant) -> dict[str, Any]:
    """A grant as the audit log records it."""
    target = ObjectType(int(grant.target)).name if grant.target_kind == "type" else str(grant.target)
    return {
        "id": grant.id,
        "to": f"{grant.grantee_kind}:{grant.grantee}",
        "on": f"{grant.target_kind}:{target}",
        "role": grant.role,
        "operations": [display_name(operation) for operation in grant.operations],
    }


def default_row(entry: DefaultSet, created: bool = True) -> dict[str, Any]:
    """A default set as the admin command lists it and the audit log records it."""
    from pkcs11_kmip_server.attributes import name_of
    from pkcs11_kmip_server.policy import describe

    row: dict[str, Any] = {
        "name": entry.name,
        "by": entry.selector,
        "object_type": ObjectType(entry.object_type).name,
        "attributes": [f"{name_of(e)}={describe(e.value)}" for e in entry.attributes],
    }
    return {**row, "created": entry.created, "created_by": entry.created_by} if created else row


def constraint_row(rule: ConstraintRule, created: bool = True) -> dict[str, Any]:
    """A constraint as the admin command lists it and the audit log records it."""
    row: dict[str, Any] = {
        "name": rule.name,
        "rule": rule.rule,
        "object_types": [ObjectType(t).name for t in rule.object_types],
        "object_groups": rule.object_groups,
    }
    return {**row, "created": rule.created, "created_by": rule.created_by} if created else row
