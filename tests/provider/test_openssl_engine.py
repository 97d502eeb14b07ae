"""OpenSSL 3 through libp11's engine (libengine-pkcs11-openssl) on our library: RSA and EC
keys held behind the server sign, and the signatures verify with the public keys
pkcs11-tool exports. OpenSSL and our TLS share the process's libcrypto here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from testsupport.softhsm import Token
from testsupport.tools import RSA_PSS, make_exported_keys, pkeyutl_verify, run

ENGINE = Path("/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so")
KEYS = {"rsa": ("rsa:2048", "e1"), "ec": ("EC:prime256v1", "e2")}


@pytest.fixture(scope="module")
def keys(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The engine's keys, made through us; their public halves in PEM files."""
    assert ENGINE.is_file(), "libengine-pkcs11-openssl is missing (scripts/setup)"
    return make_exported_keys(
        module_path, ours, token.pin, KEYS, "engine", tmp_path_factory.mktemp("engine-keys")
    )


@pytest.fixture
def engine_env(module_path: Path, ours: dict[str, str]) -> dict[str, str]:
    return {**ours, "PKCS11_MODULE_PATH": str(module_path)}


def uri(token: Token, label: str) -> str:
    return f"pkcs11:token={token.label};object=engine-{label};type=private;pin-value={token.pin}"


@pytest.mark.parametrize("label", list(KEYS))
def test_pkeyutl_signs_a_digest(
    label: str, keys: dict[str, Path], engine_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    (tmp_path / "digest").write_bytes(hashlib.sha256(b"engine " + label.encode()).digest())
    signed = run(
        ["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri(token, label),
         "-sign", "-in", "digest", "-pkeyopt", "digest:sha256", "-out", "sig"],
        engine_env,
        cwd=tmp_path,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = pkeyutl_verify(keys[label], tmp_path, "-pkeyopt", "digest:sha256")
    assert verified.stdout.strip() == "Signature Verified Successfully", verified.stderr
    # Another message's digest does not verify: the check above could fail.
    (tmp_path / "digest").write_bytes(hashlib.sha256(b"something else").digest())
    assert pkeyutl_verify(keys[label], tmp_path, "-pkeyopt", "digest:sha256").returncode != 0


def test_pkeyutl_signs_with_rsa_pss(
    keys: dict[str, Path], engine_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    (tmp_path / "digest").write_bytes(hashlib.sha256(b"engine pss").digest())
    signed = run(
        ["openssl", "pkeyutl", "-engine", "pkcs11", "-keyform", "engine", "-inkey", uri(token, "rsa"),
         "-sign", "-in", "digest", "-out", "sig", *RSA_PSS],
        engine_env,
        cwd=tmp_path,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = pkeyutl_verify(keys["rsa"], tmp_path, *RSA_PSS)
    assert verified.stdout.strip() == "Signature Verified Successfully", verified.stderr


def test_dgst_signs_a_file_with_the_ec_key(
    keys: dict[str, Path], engine_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    (tmp_path / "data").write_bytes(b"hashed by openssl, signed behind the server\n" * 100)
    signed = run(
        ["openssl", "dgst", "-engine", "pkcs11", "-keyform", "engine", "-sign", uri(token, "ec"),
         "-sha256", "-out", "sig", "data"],
        engine_env,
        cwd=tmp_path,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = run(
        ["openssl", "dgst", "-sha256", "-verify", str(keys["ec"]), "-signature", "sig", "data"], cwd=tmp_path
    )
    assert verified.stdout.strip() == "Verified OK", verified.stderr
