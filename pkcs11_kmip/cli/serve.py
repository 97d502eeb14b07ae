"""`pkcs11-kmip serve`: run the KMIP server on a data directory (created on first start)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, required=True, help="the server's data directory")
    parser.add_argument(
        "--listen", metavar="HOST:PORT", help="address to listen on (default from server.toml)"
    )
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from pkcs11_kmip_server.datadir import DataDirError
    from pkcs11_kmip_server.serve import prepare, serve_until_stopped

    host = port = None
    if options.listen:
        host_text, _, port_text = options.listen.rpartition(":")
        if not host_text or not port_text.isdigit():
            print("pkcs11-kmip: --listen takes HOST:PORT", file=sys.stderr)
            return 2
        host, port = host_text.strip("[]"), int(port_text)
    try:
        config = prepare(options.data_dir, host, port)
        logging.basicConfig(
            level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
        serve_until_stopped(config)
    except DataDirError as error:
        print(f"pkcs11-kmip: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"pkcs11-kmip: cannot serve: {error}", file=sys.stderr)
        return 1
    return 0
