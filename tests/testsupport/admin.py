"""`pkcs11-kmip admin ...` on a data directory, as an administrator runs it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from testsupport.server import cli


def admin(data_dir: Path, *args: str, stdin: str = "", ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run it; `ok`: whether it must succeed (else fail)."""
    return admin_at(["--data-dir", str(data_dir)], *args, stdin=stdin, ok=ok)


def admin_at(
    where: list[str], *args: str, stdin: str = "", ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """`pkcs11-kmip admin ...` on what `where` names (--data-dir DIR, or --server ... with an identity)."""
    done = subprocess.run(
        [*cli(), "admin", *args, *where],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) is ok, (done.stdout, done.stderr)
    return done


def admin_json(data_dir: Path, *args: str) -> Any:
    """Run it with --json; what it printed, read."""
    return json.loads(admin(data_dir, *args, "--json").stdout)


def initialized(folder: Path) -> Path:
    """A new server data directory at `folder`."""
    subprocess.run([*cli(), "init", "--data-dir", str(folder)], check=True, capture_output=True, timeout=60)
    return folder
