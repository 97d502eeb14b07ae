"""The one `pkcs11-kmip` command; each subcommand lives in its own module.

Subcommand modules are imported only when chosen, so `pkcs11-kmip provider-path`
stays instant even as the server and codec grow.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module under pkcs11_kmip.cli, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "provider-path": ("provider", "print the absolute path of the installed PKCS#11 library"),
    "p11-kit-install": ("p11kit", "register the PKCS#11 library with p11-kit (a pkcs11-kmip.module file)"),
    "ttlv": ("ttlv", "convert KMIP messages between TTLV, XML and JSON"),
    "serve": ("serve", "run the KMIP server on a data directory"),
    "init": ("init", "create a server data directory (configuration, PKI, admin client)"),
    "ca": ("ca", "issue client identities from a data directory's CA"),
    "conformance": ("conformance", "replay OASIS KMIP XML test cases against a KMIP server"),
    "admin": ("admin", "administer a server's users, groups and grants (on its data directory)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pkcs11-kmip", description=__doc__.splitlines()[0])
    from pkcs11_kmip import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in SUBCOMMANDS:
        build_parser().parse_args(args)  # prints usage or the error, and exits
        return 2
    module_name, help_text = SUBCOMMANDS[args[0]]
    module = importlib.import_module(f"pkcs11_kmip.cli.{module_name}")
    parser = argparse.ArgumentParser(prog=f"pkcs11-kmip {args[0]}", description=help_text)
    module.configure(parser)
    options = parser.parse_args(args[1:])
    result: int = options.run(options)
    return result


if __name__ == "__main__":
    sys.exit(main())
