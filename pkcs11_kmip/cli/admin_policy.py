"""`pkcs11-kmip admin defaults|constraints`: attribute defaults and policy constraints.

    pkcs11-kmip admin defaults list|add|remove ... --data-dir DIR [--json]
    pkcs11-kmip admin constraints list|add|remove ... --data-dir DIR [--json]

A default set gives attributes to new objects of one type that a request leaves out:
selected by an Object Group value (--by group, the default) or a Name prefix (--by prefix)
equal to its name, or by a KMIP 1.x Template of its name; or server-wide (--by server).
A constraint is a named rule (see pkcs11_kmip_server.policy for the forms, e.g.
min-length=AES:256) for some object types and object groups. Like the other admin
commands this works on the data directory, also under a running server (which reads
the tables on each request), and appends every change to DIR/audit.log; or, with
--server/--config, on a running server through the standard KMIP 2.1 operations
(admin_remote.RemotePolicy), which records the changes in its own audit log.
"""

from __future__ import annotations

import argparse
import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from pkcs11_kmip.cli.admin import _action, _actions, _object_type, _print, _record, store_path

if TYPE_CHECKING:
    from pkcs11_kmip.cli.admin_remote import RemotePolicy
    from pkcs11_kmip_server.store.policy import ConstraintRule, DefaultSet, PolicyTables


def configure_policy(areas: Any) -> None:
    defaults = _actions(areas, "defaults", "default attributes for new objects (named sets, server-wide)")
    _action(defaults, "list", "list the default sets", _list_defaults, remote=True)
    add = _action(defaults, "add", "add a default set", _add_defaults, remote=True)
    add.add_argument("name", help="the Object Group value, Name prefix or Template name that selects it")
    add.add_argument("--object-type", required=True, metavar="TYPE", help="e.g. SymmetricKey")
    add.add_argument(
        "--by", choices=("group", "prefix", "server"), default="group", help="how it is selected"
    )
    add.add_argument("--algorithm", help="Cryptographic Algorithm, e.g. AES")
    add.add_argument("--length", type=int, help="Cryptographic Length in bits")
    add.add_argument("--mode", help="Block Cipher Mode (in Cryptographic Parameters), e.g. CBC")
    add.add_argument("--padding", help="Padding Method (in Cryptographic Parameters), e.g. PKCS5")
    add.add_argument("--usage", help="Cryptographic Usage Mask, e.g. Encrypt|Decrypt")
    add.add_argument("--sensitive", action="store_true", default=None, help="Sensitive true")
    add.add_argument("--not-extractable", action="store_true", help="Extractable false")
    _action(defaults, "remove", "remove a default set", _remove_defaults, remote=True).add_argument("name")

    constraints = _actions(areas, "constraints", "rules new and changed objects must keep")
    _action(constraints, "list", "list the constraints", _list_constraints, remote=True)
    add = _action(constraints, "add", "add a constraint", _add_constraint, remote=True)
    add.add_argument("name")
    add.add_argument("rule", help="e.g. algorithms=AES, min-length=AES:256, usage-forbidden=Sign|Decrypt")
    add.add_argument("--object-type", action="append", default=[], metavar="TYPE", help="only for this type")
    add.add_argument(
        "--object-group", action="append", default=[], metavar="GROUP", help="only in this group"
    )
    _action(constraints, "remove", "remove a constraint", _remove_constraint, remote=True).add_argument(
        "name"
    )


class _LocalPolicy:
    """The policy tables of a data directory, in one transaction (store.policy.open_policy);
    the same methods as admin_remote.RemotePolicy."""

    def __init__(self, tables: PolicyTables) -> None:
        self.tables = tables

    def default_sets(self) -> list[DefaultSet]:
        return self.tables.default_sets()

    def add_default_set(self, entry: DefaultSet) -> DefaultSet:
        self.tables.add_default_set(entry, getpass.getuser())
        return next(found for found in self.tables.default_sets() if found.name == entry.name)

    def constraints(self) -> list[ConstraintRule]:
        return self.tables.constraints()

    def add_constraint(self, rule: ConstraintRule) -> ConstraintRule:
        self.tables.add_constraint(rule, getpass.getuser())
        return next(found for found in self.tables.constraints() if found.name == rule.name)

    def remove(self, table: Literal["default", "constraint"], name: str) -> None:
        self.tables.remove(table, name)


@contextmanager
def _policy(options: argparse.Namespace) -> Iterator[_LocalPolicy | RemotePolicy]:
    """The data directory's policy tables, or (--server, --config) the running server's."""
    from pkcs11_kmip.cli.admin_remote import RemotePolicy, client_from
    from pkcs11_kmip_server.store.policy import open_policy

    if options.data_dir is None:
        remote = RemotePolicy(client_from(options))
        try:
            yield remote
        finally:
            remote.close()
        return
    with open_policy(store_path(options)) as tables:
        yield _LocalPolicy(tables)


# --- defaults --------------------------------------------------------------------------------


def _list_defaults(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.administration import default_row

    with _policy(options) as tables:
        rows = [default_row(entry) for entry in tables.default_sets()]
    return _print(options, ("name", "by", "object_type", "attributes", "created", "created_by"), rows)


def _add_defaults(options: argparse.Namespace) -> int:
    from pkcs11_kmip.kmip.messages import Attributes
    from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
    from pkcs11_kmip.kmip.spec import Tag
    from pkcs11_kmip.kmip.spec.enums import BlockCipherMode, CryptographicAlgorithm, PaddingMethod
    from pkcs11_kmip_server.administration import default_row
    from pkcs11_kmip_server.policy import enum_named, usage_named
    from pkcs11_kmip_server.store.policy import DefaultSet

    attributes = Attributes()
    if options.algorithm:
        attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, enum_named(CryptographicAlgorithm, options.algorithm))
    if options.length is not None:
        attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, options.length)
    if options.mode or options.padding:
        attributes.add(
            Tag.CRYPTOGRAPHIC_PARAMETERS,
            CryptographicParameters(
                block_cipher_mode=enum_named(BlockCipherMode, options.mode) if options.mode else None,
                padding_method=enum_named(PaddingMethod, options.padding) if options.padding else None,
            ),
        )
    if options.usage:
        attributes.add(Tag.CRYPTOGRAPHIC_USAGE_MASK, usage_named(options.usage))
    if options.sensitive:
        attributes.add(Tag.SENSITIVE, True)
    if options.not_extractable:
        attributes.add(Tag.EXTRACTABLE, False)
    if not len(attributes):
        raise ValueError("a default set needs at least one attribute (--algorithm, --length, ...)")
    entry = DefaultSet(options.name, options.by, _object_type(options.object_type), attributes)
    with _policy(options) as tables:
        added = tables.add_default_set(entry)
    return _added(options, "defaults", default_row(added), f"default set {added.name} saved")


def _remove_defaults(options: argparse.Namespace) -> int:
    return _removed(options, "default", "defaults", f"default set {options.name}")


# --- constraints -----------------------------------------------------------------------------


def _list_constraints(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.administration import constraint_row

    with _policy(options) as tables:
        rows = [constraint_row(rule) for rule in tables.constraints()]
    return _print(options, ("name", "rule", "object_types", "object_groups", "created", "created_by"), rows)


def _add_constraint(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.administration import constraint_row
    from pkcs11_kmip_server.policy import parse_rules
    from pkcs11_kmip_server.store.policy import ConstraintRule

    parse_rules(options.rule)  # a ValueError says what is wrong with it
    rule = ConstraintRule(
        options.name,
        options.rule,
        [_object_type(text) for text in options.object_type],
        list(options.object_group),
    )
    with _policy(options) as tables:
        added = tables.add_constraint(rule)
    return _added(options, "constraint", constraint_row(added), f"constraint {options.name} saved")


def _remove_constraint(options: argparse.Namespace) -> int:
    return _removed(options, "constraint", "constraint", f"constraint {options.name}")


# --- both ------------------------------------------------------------------------------------


def _added(options: argparse.Namespace, area: str, row: dict[str, Any], text: str) -> int:
    """An addition: audited (its row under `area`; a server records its own), then printed
    as JSON or as `text`."""
    if options.data_dir is not None:
        _record(options, f"{area} added", **{area: row})
    print(json.dumps(row, indent=2) if options.json else text)
    return 0


def _removed(
    options: argparse.Namespace, table: Literal["default", "constraint"], area: str, what: str
) -> int:
    """Remove the named row of `table`, audited (a server records its own)."""
    with _policy(options) as tables:
        tables.remove(table, options.name)
    if options.data_dir is not None:
        _record(options, f"{area} removed", **{area: options.name})
    print(f"{what} removed")
    return 0
