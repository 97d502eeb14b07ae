"""NSS on our library: modutil registers it in an NSS database and shows the server's
token; certutil lists the token's keys and certificates as it does with SoftHSM2
registered directly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import make_certified_key, run

KEYS = {"nss-ec": ("EC:prime256v1", "b1"), "nss-rsa": ("rsa:2048", "b2")}


@pytest.fixture(scope="module")
def certified(module_path: Path, ours: dict[str, str], token: Token) -> list[str]:
    assert shutil.which("modutil") and shutil.which("certutil"), "libnss3-tools is missing (scripts/setup)"
    for label, (key_type, key_id) in KEYS.items():
        make_certified_key(module_path, ours, token.label, token.pin, key_type, label, key_id)
    return list(KEYS)


def nss_database(folder: Path, library: Path, env: dict[str, str]) -> str:
    """A new NSS database with `library` registered as module "kmip"."""
    folder.mkdir()
    database = f"sql:{folder}"
    assert run(["certutil", "-N", "-d", database, "--empty-password"], env).returncode == 0
    added = run(
        ["modutil", "-dbdir", database, "-add", "kmip", "-libfile", str(library), "-force"], env, input="\n"
    )
    assert added.returncode == 0, added.stdout + added.stderr
    return database


def test_modutil_shows_the_servers_token(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path: Path
) -> None:
    database = nss_database(tmp_path / "db", module_path, ours)
    listed = run(["modutil", "-dbdir", database, "-list", "kmip"], ours)
    assert listed.returncode == 0, listed.stderr
    assert "Description: PKCS#11 over KMIP 2.0" in listed.stdout
    assert f"Token Name: {token.label.ljust(32)}" in listed.stdout
    assert "Token Manufacturer: SoftHSM project" in listed.stdout


def test_certutil_lists_the_same_keys_and_certificates(
    module_path: Path, ours: dict[str, str], token: Token, certified: list[str], tmp_path: Path
) -> None:
    (tmp_path / "pin").write_text(token.pin + "\n")
    listings = []
    for name, library, env in (("ours", module_path, ours), ("direct", SOFTHSM_MODULE, token.env)):
        database = nss_database(tmp_path / name, library, env)
        keys = run(["certutil", "-K", "-d", database, "-h", token.label, "-f", str(tmp_path / "pin")], env)
        certificates = run(
            ["certutil", "-L", "-d", database, "-h", token.label, "-f", str(tmp_path / "pin")], env
        )
        assert keys.returncode == 0 and certificates.returncode == 0, keys.stderr + certificates.stderr
        # NSS numbers the keys in the order the module found them, which SoftHSM2 varies.
        key_lines = sorted(
            line.partition(">")[2] for line in keys.stdout.splitlines() if line.startswith("<")
        )
        listings.append((key_lines, sorted(certificates.stdout.splitlines())))
    assert listings[0] == listings[1]
    key_lines, certificate_lines = listings[0]
    for label in certified:
        assert any(line.split()[-1] == label for line in key_lines), key_lines
        assert any(line.startswith(f"{token.label}:{label} ") for line in certificate_lines), (
            certificate_lines
        )
