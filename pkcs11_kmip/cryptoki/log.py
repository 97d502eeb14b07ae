"""The library's one log line format: `pkcs11-kmip[pid]: message` on stderr."""

from __future__ import annotations

import contextlib
import os


def log(message: str) -> None:
    """One syslog-style line on stderr, written with a single write(2); never raises."""
    with contextlib.suppress(OSError):
        os.write(2, f"pkcs11-kmip[{os.getpid()}]: {message}\n".encode("utf-8", "replace"))
