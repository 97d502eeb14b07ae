"""OpenSSL 3 through pkcs11-provider (Debian: `pkcs11-provider`, from bookworm-backports;
scripts/setup adds the suite) on our library: RSA-2048 and EC P-256 keys held behind the
server are read by PKCS#11 URI (`openssl pkey`) and sign (`openssl dgst -sign`,
`openssl pkeyutl` with RSA-PSS); the signatures verify with the public keys pkcs11-tool
exports, in a process that has no provider configured."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from testsupport.softhsm import Token
from testsupport.tools import RSA_PSS, make_exported_keys, pkeyutl_verify, run

PROVIDER = Path("/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so")
KEYS = {"rsa": ("rsa:2048", "f1"), "ec": ("EC:prime256v1", "f2")}
PLAIN = {"OPENSSL_CONF": "/dev/null"}  # the verifier: OpenSSL's default provider only


@pytest.fixture(scope="module")
def keys(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The provider's keys, made through us; their public halves as pkcs11-tool reads them."""
    assert PROVIDER.is_file(), "pkcs11-provider is missing (scripts/setup: from bookworm-backports)"
    folder = tmp_path_factory.mktemp("provider-keys")
    return make_exported_keys(module_path, ours, token.pin, KEYS, "provider", folder)


@pytest.fixture(scope="module")
def provider_env(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """An OpenSSL configuration loading pkcs11-provider on our library, the PIN from a file."""
    folder = tmp_path_factory.mktemp("provider-conf")
    (folder / "pin").write_text(token.pin)
    (folder / "pin").chmod(0o600)
    (folder / "openssl.cnf").write_text(
        "openssl_conf = openssl_init\n"
        "[openssl_init]\nproviders = provider_sect\n"
        "[provider_sect]\ndefault = default_sect\npkcs11 = pkcs11_sect\n"
        "[default_sect]\nactivate = 1\n"
        f"[pkcs11_sect]\nmodule = {PROVIDER}\n"
        f"pkcs11-module-path = {module_path}\n"
        f"pkcs11-module-token-pin = file:{folder / 'pin'}\n"
        "pkcs11-module-quirks = no-deinit\n"
        "activate = 1\n"
    )
    return {**ours, "OPENSSL_CONF": str(folder / "openssl.cnf")}


def uri(token: Token, label: str, kind: str) -> str:
    return f"pkcs11:token={token.label};object=provider-{label};type={kind}"


def test_the_provider_is_loaded(provider_env: dict[str, str]) -> None:
    listed = run(["openssl", "list", "-providers"], provider_env)
    assert listed.returncode == 0, listed.stderr
    assert "PKCS#11 Provider" in listed.stdout and "status: active" in listed.stdout


@pytest.mark.parametrize("label", list(KEYS))
def test_the_public_key_read_by_uri_is_the_one_pkcs11_tool_exports(
    label: str, keys: dict[str, Path], provider_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    read = run(
        ["openssl", "pkey", "-pubin", "-in", uri(token, label, "public"), "-pubout", "-out", "pub.pem"],
        provider_env,
        cwd=tmp_path,
    )
    assert read.returncode == 0, read.stderr
    assert (tmp_path / "pub.pem").read_text() == keys[label].read_text()


@pytest.mark.parametrize("label", list(KEYS))
def test_dgst_signs_and_the_exported_key_verifies(
    label: str, keys: dict[str, Path], provider_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    (tmp_path / "data").write_bytes(b"hashed by openssl, signed behind the server\n" * 100)
    signed = run(
        ["openssl", "dgst", "-sha256", "-sign", uri(token, label, "private"), "-out", "sig", "data"],
        provider_env,
        cwd=tmp_path,
    )
    assert signed.returncode == 0, signed.stderr
    verify = ["openssl", "dgst", "-sha256", "-verify", str(keys[label]), "-signature", "sig", "data"]
    verified = run(verify, PLAIN, cwd=tmp_path)
    assert verified.stdout.strip() == "Verified OK", verified.stderr
    (tmp_path / "data").write_bytes(b"something else")  # the check above could fail
    assert run(verify, PLAIN, cwd=tmp_path).stdout.strip() == "Verification failure"


def test_pkeyutl_signs_with_rsa_pss(
    keys: dict[str, Path], provider_env: dict[str, str], token: Token, tmp_path: Path
) -> None:
    (tmp_path / "digest").write_bytes(hashlib.sha256(b"provider pss").digest())
    signed = run(
        ["openssl", "pkeyutl", "-sign", "-inkey", uri(token, "rsa", "private"), "-in", "digest",
         "-out", "sig", *RSA_PSS],
        provider_env,
        cwd=tmp_path,
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = pkeyutl_verify(keys["rsa"], tmp_path, *RSA_PSS, env=PLAIN)
    assert verified.stdout.strip() == "Signature Verified Successfully", verified.stderr
