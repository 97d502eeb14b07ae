"""Locating the compiled PKCS#11 library that ships inside this package."""

from __future__ import annotations

from pathlib import Path

LIBRARY_NAME = "libpkcs11_kmip.so"


def provider_path() -> Path:
    """Absolute path of the installed `libpkcs11_kmip.so` (raises if it was not built)."""
    path = Path(__file__).resolve().parent / LIBRARY_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{LIBRARY_NAME} is not next to {Path(__file__).parent}: "
            "install the package with `pip install .` so that meson builds it"
        )
    return path
