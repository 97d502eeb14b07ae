"""`pkcs11-kmip admin`: administration of a server's data directory.

    pkcs11-kmip admin users add NAME --data-dir DIR [--password-stdin]

A user added here may authenticate with a KMIP Username and Password Credential in
the request header; the server notices the change without a restart.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    areas = parser.add_subparsers(dest="area", required=True, metavar="AREA")
    users = areas.add_parser("users", help="users who authenticate with a username and password")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a user, or set a user's password")
    add.add_argument("name")
    add.add_argument("--data-dir", type=Path, required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(run=add_user)


def add_user(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.auth import add_user as add
    from pkcs11_kmip_server.datadir import is_initialized

    if not is_initialized(options.data_dir):
        print(f"pkcs11-kmip: {options.data_dir} is not a server data directory", file=sys.stderr)
        return 1
    if options.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {options.name}: ")
    if not password:
        print("pkcs11-kmip: an empty password is not accepted", file=sys.stderr)
        return 1
    add(options.data_dir, options.name, password)
    print(f"user {options.name} saved in {options.data_dir}")
    return 0
