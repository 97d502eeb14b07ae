"""What the built libraries export and link against (checked on the installed files)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from pkcs11_kmip.cryptoki.calls import CALLS


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is not installed (scripts/setup installs binutils)"
    return path


def defined_dynamic_symbols(library: Path) -> set[str]:
    out = subprocess.run(
        [tool("nm"), "-D", "--defined-only", str(library)], capture_output=True, text=True, check=True
    ).stdout
    return {line.split()[-1] for line in out.splitlines() if line.strip()}


def dynamic_section(library: Path) -> str:
    return subprocess.run(
        [tool("readelf"), "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout


def test_provider_exports_exactly_the_cryptoki_functions(module_path: Path) -> None:
    assert defined_dynamic_symbols(module_path) == {call.name for call in CALLS}
    assert len(CALLS) == 92


def test_provider_does_not_link_libpython(module_path: Path) -> None:
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic_section(module_path))
    assert needed and not [name for name in needed if "python" in name]


def test_provider_binds_its_own_symbols_and_stays_loaded(module_path: Path) -> None:
    section = dynamic_section(module_path)
    assert "SYMBOLIC" in section  # its function lists point at its own C_*
    assert "NODELETE" in section  # the interpreter it starts cannot be unloaded


def test_embed_library_links_the_build_libpython(embed_path: Path, build_libpython: Path) -> None:
    section = dynamic_section(embed_path)
    assert re.findall(r"\(NEEDED\).*\[(.+)\]", section).count(build_libpython.name) == 1
    assert re.findall(r"\(RUNPATH\).*\[(.+)\]", section) == [str(build_libpython.parent)]


def test_embed_library_exports_only_its_entry_points(embed_path: Path) -> None:
    symbols = defined_dynamic_symbols(embed_path)
    assert "pkcs11_kmip_dispatch" in symbols
    assert "pkcs11_kmip_embed_boot" in symbols
    assert all(s.startswith(("pkcs11_kmip_", "PyInit__pkcs11_kmip_embed")) for s in symbols)
