"""`pkcs11-kmip p11-kit-install`: register the library with p11-kit.

p11-kit reads one file per module, `NAME.module`, from /etc/pkcs11/modules (every user)
and from ~/.config/pkcs11/modules (that user; p11-kit ignores it for root). Hosts that
load modules through p11-kit (GnuTLS's p11tool, p11-kit-proxy.so, NSS with p11-kit's
proxy) then find the library without being told its path.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

FILE_NAME = "pkcs11-kmip.module"
SYSTEM_DIRECTORY = Path("/etc/pkcs11/modules")


def user_directory(environ: Mapping[str, str]) -> Path:
    """p11-kit's per-user module folder: $XDG_CONFIG_HOME/pkcs11/modules, else ~/.config/..."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "pkcs11" / "modules"


def module_file(library: Path) -> str:
    """The module file's text: the library by absolute path (p11-kit resolves a relative
    one against its own module directory)."""
    return (
        "# pkcs11-kmip: PKCS#11 over KMIP. The server and identity come from PKCS11_KMIP_CONFIG,\n"
        "# else ~/.config/pkcs11-kmip/pkcs11-kmip.toml, else /etc/pkcs11-kmip/pkcs11-kmip.toml.\n"
        f"module: {library}\n"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--user", action="store_true", help="for the current user: ~/.config/pkcs11/modules (the default)"
    )
    where.add_argument("--system", action="store_true", help=f"for every user: {SYSTEM_DIRECTORY}")
    where.add_argument("--dir", type=Path, help="into this folder (packaging, other p11-kit layouts)")
    parser.set_defaults(run=run)


def run(options: argparse.Namespace) -> int:
    from pkcs11_kmip.provider import provider_path

    if options.dir is not None:
        folder = options.dir
    elif options.system:
        folder = SYSTEM_DIRECTORY
    else:
        folder = user_directory(os.environ)
    try:
        text = module_file(provider_path())
        folder.mkdir(parents=True, exist_ok=True)
        (folder / FILE_NAME).write_text(text)
    except OSError as error:
        print(f"pkcs11-kmip: {error}", file=sys.stderr)
        return 1
    print(folder / FILE_NAME)
    if folder == user_directory(os.environ) and os.geteuid() == 0:
        print("pkcs11-kmip: note: p11-kit ignores per-user modules for root; use --system", file=sys.stderr)
    return 0
