"""`pkcs11-kmip init`: create a server data directory without starting the server.

It holds a ready admin client: DIR/clients/admin/ with its certificate and a provider
configuration (pkcs11-kmip.toml) for the address given here, and its user PIN for the
native token (pin).
"""

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
    admin = options.data_dir / "clients" / "admin"
    print(f"initialized {options.data_dir}; client identity: {admin}")
    print(f"provider configuration: PKCS11_KMIP_CONFIG={admin / 'pkcs11-kmip.toml'}")
    print(f"user PIN of the native token (C_Login): {admin / 'pin'}")
    return 0
