"""`pkcs11-kmip ca issue-client NAME`: a new client identity from the data directory's CA."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    issue = actions.add_parser("issue-client", help="make DIR/clients/NAME/{client.crt,client.key,ca.crt}")
    issue.add_argument("name", help="the client's name: its certificate's CN, its identity on the server")
    issue.add_argument("--data-dir", type=Path, required=True)
    issue.set_defaults(run=issue_client)


def issue_client(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.datadir import DataDirError
    from pkcs11_kmip_server.datadir import issue_client as issue

    try:
        folder = issue(options.data_dir, options.name)
    except (DataDirError, OSError) as error:
        print(f"pkcs11-kmip: {error}", file=sys.stderr)
        return 1
    print(folder)
    return 0
