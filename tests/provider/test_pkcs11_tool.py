"""OpenSC's pkcs11-tool, a real C host, loads the installed library."""

from __future__ import annotations

import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from pkcs11_kmip.cryptoki.module import version_pair


@pytest.fixture(autouse=True)
def _pkcs11_tool_installed() -> None:
    assert shutil.which("pkcs11-tool"), "pkcs11-tool is missing (scripts/setup installs opensc)"


def pkcs11_tool(
    module: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pkcs11-tool", "--module", str(module), *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
    )


@pytest.mark.parametrize("scrubbed", [False, True], ids=["host-env", "scrubbed-env"])
def test_show_info(module_path: Path, scrubbed: bool, scrubbed_env: dict[str, str]) -> None:
    done = pkcs11_tool(module_path, "-I", env=scrubbed_env if scrubbed else None)
    major, minor = version_pair(version("pkcs11-kmip"))
    assert "Cryptoki version 3.0" in done.stdout, done.stderr
    assert "Manufacturer     pkcs11-kmip" in done.stdout
    assert f"Library          PKCS#11 over KMIP 2.0 (ver {major}.{minor})" in done.stdout
    assert done.returncode >= 0  # not killed by a signal (it exits 1 when it finds no slots)


def test_list_slots_shows_none_until_a_server_provides_them(module_path: Path) -> None:
    done = pkcs11_tool(module_path, "-L")
    assert "Available slots:" in done.stdout, done.stderr
    assert "No slots." in done.stdout + done.stderr
    assert "CKR_" not in done.stderr  # no Cryptoki call failed
