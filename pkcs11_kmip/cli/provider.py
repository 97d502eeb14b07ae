"""`pkcs11-kmip provider-path`: where the PKCS#11 library is, for `--module` options."""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from pkcs11_kmip.provider import provider_path

    try:
        print(provider_path())
    except FileNotFoundError as error:
        print(f"pkcs11-kmip: {error}", file=sys.stderr)
        return 1
    return 0
