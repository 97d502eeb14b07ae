"""`pkcs11-kmip admin ... --server HOST:PORT`: the same changes, sent to a running server over KMIP.

Users, groups and grants go in this product's extension operations
(pkcs11_kmip.kmip.messages.access_admin); the server runs them only for its
administrators and writes each change to its own audit log, so nothing is recorded
here. The client identity is --cert/--key/--ca, or --config naming a client
configuration such as DIR/clients/admin/pkcs11-kmip.toml.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pkcs11_kmip.kmip.client import KmipClient, KmipConnectionError, KmipResultError
from pkcs11_kmip.kmip.messages.access_admin import (
    AccessGrant,
    AccessGroup,
    AddGrantRequest,
    AddGroupRequest,
    AddUserRequest,
    GetAccessRequest,
    GetAccessResponse,
    RemoveGrantRequest,
    RemoveGroupRequest,
    RemoveUserRequest,
)
from pkcs11_kmip.kmip.messages.payloads import (
    GetConstraintsRequest,
    QueryRequest,
    RequestPayload,
    SetConstraintsRequest,
    SetDefaultsRequest,
)
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, QueryFunction

if TYPE_CHECKING:
    from pkcs11_kmip_server.store.access import Grant, Group, GroupKind, MemberKind, Principal, TargetKind
    from pkcs11_kmip_server.store.policy import ConstraintRule, DefaultSet

T = TypeVar("T")


class RemoteError(Exception):
    """The server refused the change, or could not be reached (the message says which)."""


def client_from(options: argparse.Namespace) -> KmipClient:
    """A client for --server/--cert/--key/--ca, or for the configuration --config names."""
    from pkcs11_kmip.cli.conformance import _address

    if options.config is not None:
        from pkcs11_kmip.cryptoki.config import ConfigError, load

        try:
            config = load(options.config)
        except ConfigError as error:
            raise RemoteError(str(error)) from None
        return KmipClient(
            config.host,
            config.port,
            cert=config.certificate,
            key=config.key,
            ca=config.ca,
            timeout=config.timeout,
            server_hostname=config.server_name,
        )
    address = _address(options.server)
    if address is None:
        raise RemoteError("--server takes HOST:PORT")
    if not (options.cert and options.key and options.ca):
        raise RemoteError("--server needs --cert, --key and --ca (or use --config)")
    try:
        return KmipClient(address[0], address[1], cert=options.cert, key=options.key, ca=options.ca)
    except OSError as error:
        raise RemoteError(f"cannot use the client identity: {error}") from None


class RemoteAccess:
    """The admin command's view of a running server's users, groups and grants."""

    def __init__(self, client: KmipClient) -> None:
        self.client = client

    def close(self) -> None:
        self.client.close()

    def call(self, payload: RequestPayload) -> Any:
        """One operation's answer; a refusal or a broken connection as RemoteError."""
        try:
            return self.client.call(payload)
        except KmipResultError as error:
            reason = error.reason.name.replace("_", " ").title() if error.reason is not None else "failed"
            raise RemoteError(f"the server refused: {reason}: {error.message or ''}".rstrip(": ")) from None
        except KmipConnectionError as error:
            raise RemoteError(str(error)) from None

    def _everything(self) -> GetAccessResponse:
        answer: GetAccessResponse = self.call(GetAccessRequest())
        return answer

    def users(self) -> list[tuple[Principal, bool]]:
        from pkcs11_kmip_server.store.access import Principal

        return [
            (
                Principal(user.name or "", bool(user.admin), user.created or "", list(user.groups)),
                bool(user.has_password),
            )
            for user in self._everything().users
        ]

    def add_user(self, name: str, admin: bool | None, password: str | None) -> bool:
        answer = self.call(AddUserRequest(name=name, admin=admin, password=password))
        return bool(answer.new)

    def remove_user(self, name: str) -> None:
        self.call(RemoveUserRequest(name=name))

    def groups(self, kind: GroupKind | None) -> list[Group]:
        return [_group(group) for group in self._everything().groups if kind is None or group.kind == kind]

    def add_group(self, kind: GroupKind, name: str, users: Sequence[str], groups: Sequence[str]) -> None:
        wanted = AccessGroup(kind=kind, name=name, users=list(users), groups=list(groups))
        self.call(AddGroupRequest(group=wanted))

    def remove_group(self, kind: GroupKind, name: str, users: Sequence[str], groups: Sequence[str]) -> None:
        wanted = AccessGroup(kind=kind, name=name, users=list(users), groups=list(groups))
        self.call(RemoveGroupRequest(group=wanted))

    def grants(self, grantee: str | None) -> list[Grant]:
        found = self._everything().grants
        return [_grant(grant) for grant in found if grantee is None or grant.grantee == grantee]

    def add_grant(
        self,
        grantee_kind: MemberKind,
        grantee: str,
        target_kind: TargetKind,
        target: str | int,
        operations: Iterable[int],
        role: str | None,
    ) -> Grant:
        wanted = AccessGrant(
            grantee_kind=grantee_kind,
            grantee=grantee,
            unique_identifier=str(target) if target_kind == "object" else None,
            object_group=str(target) if target_kind == "group" else None,
            object_type=ObjectType(int(target)) if target_kind == "type" else None,
            role=role,
            operations=[] if role is not None else [Operation(operation) for operation in operations],
        )
        return _grant(self.call(AddGrantRequest(grant=wanted)).grant)

    def remove_grant(self, grant_id: int) -> Grant:
        return _grant(self.call(RemoveGrantRequest(identifier=grant_id)).grant)


def _group(group: AccessGroup) -> Group:
    from pkcs11_kmip_server.store.access import Group

    kind: GroupKind = "object" if group.kind == "object" else "user"
    members: list[tuple[MemberKind, str]] = [("user", user) for user in group.users]
    members += [("group", inner) for inner in group.groups]
    return Group(kind, group.name or "", members)


def _grant(grant: AccessGrant) -> Grant:
    from pkcs11_kmip_server.store.access import Grant, target_of

    object_type = int(grant.object_type) if grant.object_type is not None else None
    target = target_of(grant.unique_identifier, grant.object_group, object_type)
    if target is None:
        raise RemoteError("the server answered a grant without one target")
    target_kind, target_value = target
    grantee_kind: MemberKind = "group" if grant.grantee_kind == "group" else "user"
    return Grant(
        grant.identifier or 0,
        grantee_kind,
        grant.grantee or "",
        target_kind,
        target_value,
        grant.role,
        sorted(int(operation) for operation in grant.operations),
        grant.created or "",
        grant.created_by or "",
    )


class RemotePolicy:
    """The admin command's view of a running server's attribute defaults and constraints,
    through the standard KMIP 2.1 operations: Query (Defaults Information) and Set
    Defaults, Get and Set Constraints. Both Set operations replace every entry, so an
    addition or removal reads them all and sends them back changed (the server keeps
    the entries that do not change as they were). Name-prefix default sets have no KMIP
    form; a server-wide set is named server:TYPE."""

    def __init__(self, client: KmipClient) -> None:
        self.access = RemoteAccess(client)

    def close(self) -> None:
        self.access.close()

    def _read(self, read: Callable[[], T]) -> T:
        from pkcs11_kmip_server.errors import KmipError

        try:
            return read()
        except KmipError as error:  # an answer the server's own reading refuses
            raise RemoteError(f"the server's answer cannot be read: {error.message}") from None

    def default_sets(self) -> list[DefaultSet]:
        from pkcs11_kmip_server.policy import sets_from

        answer = self.access.call(QueryRequest(query_functions=[QueryFunction.QUERY_DEFAULTS_INFORMATION]))
        return self._read(lambda: sets_from(answer.defaults_information))

    def _set_defaults(self, sets: list[DefaultSet]) -> None:
        from pkcs11_kmip_server.policy import defaults_information

        self.access.call(SetDefaultsRequest(defaults_information=defaults_information(sets)))

    def add_default_set(self, entry: DefaultSet) -> DefaultSet:
        if entry.selector == "prefix":
            raise RemoteError("a name-prefix default set has no KMIP form: add it with --data-dir")
        present = self.default_sets()
        if entry.selector == "server":
            entry = replace(entry, name=f"server:{ObjectType(entry.object_type).name}")
        if any(found.name == entry.name for found in present):
            raise RemoteError(f"default set {entry.name!r} already exists")
        self._set_defaults([*present, entry])
        return next(found for found in self.default_sets() if found.name == entry.name)

    def constraints(self) -> list[ConstraintRule]:
        from pkcs11_kmip_server.policy import rules_from

        answer = self.access.call(GetConstraintsRequest())
        return self._read(lambda: rules_from(answer.constraints))

    def _set_constraints(self, rules: list[ConstraintRule]) -> None:
        from pkcs11_kmip_server.policy import constraints_structure

        self.access.call(SetConstraintsRequest(constraints=constraints_structure(rules)))

    def add_constraint(self, rule: ConstraintRule) -> ConstraintRule:
        present = self.constraints()
        if any(found.name == rule.name for found in present):
            raise RemoteError(f"constraint {rule.name!r} already exists")
        self._set_constraints([*present, rule])
        return next(found for found in self.constraints() if found.name == rule.name)

    def remove(self, table: Literal["default", "constraint"], name: str) -> None:
        present: list[Any] = self.default_sets() if table == "default" else self.constraints()
        kept = [found for found in present if found.name != name]
        if len(kept) == len(present):
            raise RemoteError(f"no {table} {name!r}" if table == "constraint" else f"no default set {name!r}")
        if table == "default":
            self._set_defaults(kept)
        else:
            self._set_constraints(kept)
