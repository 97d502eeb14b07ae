"""The protocol versions this server speaks, newest first (Discover Versions' order)."""

from __future__ import annotations

from pkcs11_kmip.kmip.spec import Version

SUPPORTED_VERSIONS: tuple[Version, ...] = ((2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0))
