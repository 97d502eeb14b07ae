"""`pkcs11-kmip admin`: users, groups and grants of a server, on its data directory.

    pkcs11-kmip admin users  list|add|remove ... --data-dir DIR [--json]
    pkcs11-kmip admin groups list|add|remove ... --data-dir DIR [--json]
    pkcs11-kmip admin grants list|add|remove ... --data-dir DIR [--json]
    pkcs11-kmip admin defaults|constraints list|add|remove ... --data-dir DIR [--json]

Users are principals: a client certificate's CN, or a username that authenticates with a
KMIP Username and Password Credential (its scrypt hash in DIR/users.toml). Groups are user
groups (of users and user groups) or, with --objects, object groups (values of the
Object Group attribute, which may contain other object groups). A grant gives a user or
user group a role (reader, user, manager, admin) or a list of operations on an object,
an object group or an object type. The owner of an object always has every right.

This works on the data directory, also while a server runs on it: the server reads the
access tables on each request, so a change applies to the next request. Every change is
appended to DIR/audit.log with who made it. With --server HOST:PORT --cert --key --ca (or
--config DIR/clients/admin/pkcs11-kmip.toml) instead of --data-dir, users, groups and
grants are changed over KMIP by an administrator of the running server (admin_remote),
which records each change in its own audit log. Attribute defaults and constraints: see
admin_policy.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pkcs11_kmip.cli.admin_remote import RemoteAccess
    from pkcs11_kmip_server.store.access import Grant, Group, GroupKind, MemberKind, Principal, TargetKind

Action = Callable[[argparse.Namespace], int]


def configure(parser: argparse.ArgumentParser) -> None:
    areas = parser.add_subparsers(dest="area", required=True, metavar="AREA")

    users = _actions(areas, "users", "principals: certificate CNs and credential usernames")
    _action(users, "list", "list the users", _list_users, remote=True)
    add = _action(
        users, "add", "add a user, or change a user's password or administrator flag", _add_user, remote=True
    )
    add.add_argument("name")
    role = add.add_mutually_exclusive_group()
    role.add_argument(
        "--admin", action="store_true", default=None, help="an administrator: every right on every object"
    )
    role.add_argument("--no-admin", dest="admin", action="store_false", help="no longer an administrator")
    secret = add.add_mutually_exclusive_group()
    secret.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    secret.add_argument(
        "--no-password", action="store_true", help="no password (a certificate user); keep any it has"
    )
    remove = _action(
        users, "remove", "remove a user, their group memberships and grants", _remove_user, remote=True
    )
    remove.add_argument("name")

    groups = _actions(areas, "groups", "user groups and object groups (they nest; cycles are refused)")
    _action(groups, "list", "list the groups and their members", _list_groups, remote=True).add_argument(
        "--objects", action="store_true", help="object groups only"
    )
    for name, help_text, run in (
        ("add", "create a group and/or add members", _add_group),
        ("remove", "remove members, or (with none named) the group", _remove_group),
    ):
        action = _action(groups, name, help_text, run, remote=True)
        action.add_argument("name")
        action.add_argument("--objects", action="store_true", help="an object group (else a user group)")
        action.add_argument("--user", action="append", default=[], metavar="USER", help="a member user")
        action.add_argument("--group", action="append", default=[], metavar="GROUP", help="a member group")

    grants = _actions(areas, "grants", "who may do what with which objects")
    listing = _action(grants, "list", "list the grants", _list_grants, remote=True)
    listing.add_argument("--to", metavar="NAME", help="only the grants to this user or group")
    add = _action(grants, "add", "grant a role or operations", _add_grant, remote=True)
    grantee = add.add_mutually_exclusive_group(required=True)
    grantee.add_argument("--user", help="the user it is granted to")
    grantee.add_argument("--group", help="the user group it is granted to")
    target = add.add_mutually_exclusive_group(required=True)
    target.add_argument("--object", metavar="UID", help="one object, by its Unique Identifier")
    target.add_argument(
        "--object-group", metavar="GROUP", help="objects of this object group (and nested ones)"
    )
    target.add_argument("--object-type", metavar="TYPE", help="every object of a type, e.g. SymmetricKey")
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("--role", choices=("reader", "user", "manager", "admin"))
    what.add_argument("--operations", metavar="OPS", help="comma-separated, e.g. Get,GetAttributes,Locate")
    remove = _action(grants, "remove", "remove a grant by its id", _remove_grant, remote=True)
    remove.add_argument("id", type=int)

    from pkcs11_kmip.cli.admin_policy import configure_policy

    configure_policy(areas)


def _actions(areas: Any, name: str, help_text: str) -> Any:
    parser = areas.add_parser(name, help=help_text)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def _action(
    actions: Any, name: str, help_text: str, run: Action, remote: bool = False
) -> argparse.ArgumentParser:
    """One command; `remote`: it also works against a running server over KMIP."""
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help_text)
    if not remote:
        parser.add_argument("--data-dir", type=Path, required=True)
    else:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--data-dir", type=Path, help="the server's data directory")
        where.add_argument("--server", metavar="HOST:PORT", help="a running server, over KMIP")
        where.add_argument(
            "--config",
            type=Path,
            metavar="FILE",
            help="a client configuration (pkcs11-kmip.toml) to reach it",
        )
        parser.add_argument("--cert", metavar="C", help="with --server: the administrator's certificate")
        parser.add_argument("--key", metavar="K", help="with --server: its private key")
        parser.add_argument("--ca", metavar="CA", help="with --server: the CA of the server's certificate")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(run=_guarded(run))
    return parser


class _Refused(Exception):
    """Something the command cannot do; its message goes to standard error."""


def _guarded(run: Action) -> Action:
    def guarded(options: argparse.Namespace) -> int:
        from pkcs11_kmip.cli.admin_remote import RemoteError
        from pkcs11_kmip_server.store.access import AccessAdminError

        try:
            return run(options)
        except (_Refused, AccessAdminError, RemoteError, ValueError) as error:
            print(f"pkcs11-kmip: {error}", file=sys.stderr)
            return 1

    return guarded


def store_path(options: argparse.Namespace) -> Path:
    """The store database of the data directory --data-dir names."""
    from pkcs11_kmip_server.config import ServerConfig
    from pkcs11_kmip_server.datadir import is_initialized

    if not is_initialized(options.data_dir):
        raise _Refused(f"{options.data_dir} is not a server data directory")
    config = ServerConfig.load(options.data_dir)
    return config.path(config.store_path)


class _LocalAccess:
    """The users, groups and grants of a data directory (the store's tables and
    DIR/users.toml), each change appended to DIR/audit.log; the same methods as
    admin_remote.RemoteAccess."""

    def __init__(self, options: argparse.Namespace) -> None:
        from pkcs11_kmip_server.store.access import AccessAdmin

        self.options = options
        self.admin = AccessAdmin.open(store_path(options))

    def close(self) -> None:
        self.admin.close()

    def users(self) -> list[tuple[Principal, bool]]:
        from pkcs11_kmip_server.auth import password_users

        with_password = password_users(self.options.data_dir)
        return [(user, user.name in with_password) for user in self.admin.users()]

    def add_user(self, name: str, admin: bool | None, password: str | None) -> bool:
        from pkcs11_kmip_server.auth import add_user

        new = self.admin.add_user(name, admin)
        if password is not None:
            add_user(self.options.data_dir, name, password)
        change = {"admin": admin} if admin is not None else {}
        action = "user added" if new else "user changed"
        _record(self.options, action, user=name, **change, password_set=password is not None)
        return new

    def remove_user(self, name: str) -> None:
        from pkcs11_kmip_server.auth import remove_user

        self.admin.remove_user(name)
        remove_user(self.options.data_dir, name)
        _record(self.options, "user removed", user=name)

    def groups(self, kind: GroupKind | None) -> list[Group]:
        return self.admin.groups(kind)

    def add_group(self, kind: GroupKind, name: str, users: Sequence[str], groups: Sequence[str]) -> None:
        self.admin.add_group(kind, name, users, groups)
        _record(self.options, "group added", group_kind=kind, group=name, users=users, groups=groups)

    def remove_group(self, kind: GroupKind, name: str, users: Sequence[str], groups: Sequence[str]) -> None:
        self.admin.remove_group(kind, name, users, groups)
        action = "group removed" if not (users or groups) else "group members removed"
        _record(self.options, action, group_kind=kind, group=name, users=users, groups=groups)

    def grants(self, grantee: str | None) -> list[Grant]:
        return self.admin.grants(grantee)

    def add_grant(
        self,
        grantee_kind: MemberKind,
        grantee: str,
        target_kind: TargetKind,
        target: str | int,
        operations: Sequence[int],
        role: str | None,
    ) -> Grant:
        grant_id = self.admin.add_grant(
            grantee_kind, grantee, target_kind, target, operations, role, getpass.getuser()
        )
        grant = next(grant for grant in self.admin.grants() if grant.id == grant_id)
        _record(self.options, "grant added", grant=_grant_row(grant))
        return grant

    def remove_grant(self, grant_id: int) -> Grant:
        grant = self.admin.remove_grant(grant_id)
        _record(self.options, "grant removed", grant=_grant_row(grant))
        return grant


@contextmanager
def _access(options: argparse.Namespace) -> Iterator[_LocalAccess | RemoteAccess]:
    """The data directory's tables, or (--server, --config) the running server's over KMIP."""
    from pkcs11_kmip.cli.admin_remote import RemoteAccess, client_from

    access = _LocalAccess(options) if options.data_dir is not None else RemoteAccess(client_from(options))
    try:
        yield access
    finally:
        access.close()


def _record(options: argparse.Namespace, action: str, **details: Any) -> None:
    """The change, in DIR/audit.log (who: the account running this command)."""
    from pkcs11_kmip_server.audit import AUDIT_FILE, AuditLog

    audit = AuditLog(options.data_dir / AUDIT_FILE)
    try:
        audit.admin(f"{getpass.getuser()} (pkcs11-kmip admin on the data directory)", action, **details)
    finally:
        audit.close()


def _print(options: argparse.Namespace, headers: Sequence[str], rows: list[dict[str, Any]]) -> int:
    """Rows as JSON (a list of objects) or as an aligned table."""
    if options.json:
        print(json.dumps(rows, indent=2))
        return 0
    cells = [[_cell(row[header]) for header in headers] for row in rows]
    widths = [max([len(header), *(len(line[i]) for line in cells)]) for i, header in enumerate(headers)]
    for line in [[header.upper() for header in headers], *cells]:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return "-" if value is None else str(value)


# --- users -----------------------------------------------------------------------------------


def _list_users(options: argparse.Namespace) -> int:
    with _access(options) as access:
        users = access.users()
    rows = [
        {
            "name": user.name,
            "admin": user.admin,
            "password": with_password,
            "groups": user.groups,
            "created": user.created,
        }
        for user, with_password in users
    ]
    return _print(options, ("name", "admin", "password", "groups", "created"), rows)


def _add_user(options: argparse.Namespace) -> int:
    password = None
    if options.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not options.no_password:
        password = _asked_password(options.name)
    if password == "":
        raise _Refused("an empty password is not accepted")
    with _access(options) as access:
        access.add_user(options.name, options.admin, password)
    print(f"user {options.name} saved in {_where(options)}")
    return 0


def _asked_password(name: str) -> str:
    """The password typed at the terminal; without one (a script, a pipe), a refusal that
    names the flags, since getpass would otherwise read the pipe or fail mid-prompt."""
    if not sys.stdin.isatty():
        raise _Refused("no terminal to ask the password on: use --password-stdin or --no-password")
    try:
        return getpass.getpass(f"password for {name}: ")
    except EOFError:
        raise _Refused("no password given") from None


def _remove_user(options: argparse.Namespace) -> int:
    with _access(options) as access:
        access.remove_user(options.name)
    print(f"user {options.name} removed")
    return 0


def _where(options: argparse.Namespace) -> str:
    """What the command changed, for its messages."""
    return str(options.data_dir or options.server or options.config)


# --- groups ----------------------------------------------------------------------------------


def _list_groups(options: argparse.Namespace) -> int:
    with _access(options) as access:
        groups = access.groups("object" if options.objects else None)
    rows = [
        {
            "kind": group.kind,
            "name": group.name,
            "users": [member for kind, member in group.members if kind == "user"],
            "groups": [member for kind, member in group.members if kind == "group"],
        }
        for group in groups
    ]
    return _print(options, ("kind", "name", "users", "groups"), rows)


def _add_group(options: argparse.Namespace) -> int:
    kind: GroupKind = "object" if options.objects else "user"
    with _access(options) as access:
        access.add_group(kind, options.name, options.user, options.group)
    print(f"{kind} group {options.name} saved")
    return 0


def _remove_group(options: argparse.Namespace) -> int:
    kind: GroupKind = "object" if options.objects else "user"
    with _access(options) as access:
        access.remove_group(kind, options.name, options.user, options.group)
    whole = not (options.user or options.group)
    print(f"{kind} group {options.name} removed" if whole else f"members removed from {options.name}")
    return 0


# --- grants ----------------------------------------------------------------------------------


def _list_grants(options: argparse.Namespace) -> int:
    with _access(options) as access:
        grants = access.grants(options.to)
    rows = [_grant_row(grant) for grant in grants]
    return _print(options, ("id", "to", "on", "role", "operations", "created", "created_by"), rows)


def _grant_row(grant: Grant) -> dict[str, Any]:
    from pkcs11_kmip_server.administration import grant_details

    return {**grant_details(grant), "created": grant.created, "created_by": grant.created_by}


def _object_type(text: str) -> int:
    from pkcs11_kmip.kmip.spec.enums import ObjectType

    key = text.replace("_", "").replace(" ", "").replace("-", "").lower()
    for object_type in ObjectType:
        if object_type.name.replace("_", "").lower() == key:
            return int(object_type)
    raise _Refused(f"no object type {text!r} (e.g. SymmetricKey, PrivateKey, Certificate)")


def _add_grant(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.access import ROLES, operation_named
    from pkcs11_kmip_server.store.access import target_of

    if options.role is not None:
        operations = [int(operation) for operation in ROLES[options.role]]
    else:
        operations = [
            int(operation_named(name.strip())) for name in options.operations.split(",") if name.strip()
        ]
    grantee_kind: MemberKind = "user" if options.user else "group"
    grantee = options.user or options.group
    object_type = _object_type(options.object_type) if options.object_type is not None else None
    target = target_of(options.object, options.object_group, object_type)
    assert target is not None  # argparse: exactly one of the three
    target_kind, target_value = target
    with _access(options) as access:
        grant = access.add_grant(grantee_kind, grantee, target_kind, target_value, operations, options.role)
    row = _grant_row(grant)
    if options.json:
        print(json.dumps(row, indent=2))
    else:
        print(f"grant {grant.id}: {row['to']} on {row['on']}: {options.role or ','.join(row['operations'])}")
    return 0


def _remove_grant(options: argparse.Namespace) -> int:
    with _access(options) as access:
        access.remove_grant(options.id)
    print(f"grant {options.id} removed")
    return 0
