"""`pkcs11-kmip init`: create a server data directory without starting the server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, required=True, help="the data directory to create")
    parser.add_argument(
        "--listen", metavar="HOST:PORT", default="127.0.0.1:5696", help="address the server will use"
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.datadir import DataDirError, initialize

    host, _, port = options.listen.rpartition(":")
    try:
        initialize(options.data_dir, host.strip("[]"), int(port))
    except (DataDirError, ValueError) as error:
        print(f"pkcs11-kmip: {error}", file=sys.stderr)
        return 1
    print(f"initialized {options.data_dir}; client identity: {options.data_dir / 'clients' / 'admin'}")
    return 0
