"""GnuTLS and p11-kit hosts: p11tool given our library, and p11-kit finding it through the
module file `pkcs11-kmip p11-kit-install` writes (then p11tool without --provider too)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.cli.p11kit import FILE_NAME, user_directory
from pkcs11_kmip.cryptoki import config
from testsupport.server import RunningServer, cli
from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import make_key, run, sorted_blocks

NOBODY = 65534


def blocks(listing: str) -> list[str]:
    """p11tool's tokens or objects, without their numbers."""
    return sorted_blocks(
        listing, lambda line: line.startswith(("Token ", "Object ")) and line.endswith(":"), keep_header=False
    )


def test_p11tool_lists_the_same_tokens_and_objects_as_on_softhsm(
    module_path: Path, ours: dict[str, str], token: Token
) -> None:
    make_key(module_path, ours, token.pin, "EC:prime256v1", "gnutls", "21")
    listings = []
    for module, env in ((module_path, ours), (SOFTHSM_MODULE, token.env)):
        tokens = run(["p11tool", "--provider", str(module), "--list-tokens"], env)
        objects = run(
            ["p11tool", "--provider", str(module), "--login", "--list-all", f"pkcs11:token={token.label}"],
            {**env, "GNUTLS_PIN": token.pin},
        )
        assert tokens.returncode == 0 and objects.returncode == 0, tokens.stderr + objects.stderr
        listings.append((blocks(tokens.stdout), blocks(objects.stdout)))
    assert listings[0] == listings[1]
    tokens_listed, objects_listed = listings[0]
    assert any(f"Label: {token.label}" in block for block in tokens_listed)
    assert any("Type: Private key (EC/ECDSA-SECP256R1)\n\tLabel: gnutls" in b for b in objects_listed)


def test_p11tool_signs_through_us(module_path: Path, ours: dict[str, str], token: Token) -> None:
    make_key(module_path, ours, token.pin, "EC:prime256v1", "gnutls-sign", "22")
    signed = run(
        ["p11tool", "--provider", str(module_path), "--login", "--test-sign",
         f"pkcs11:token={token.label};object=gnutls-sign"],
        {**ours, "GNUTLS_PIN": token.pin},
    )  # fmt: skip
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert "Verifying against public key in the token... ok" in signed.stderr + signed.stdout


# --- p11-kit's module registry ---------------------------------------------------------------


def test_the_user_folder_follows_xdg_config_home() -> None:
    assert user_directory({"HOME": "/h"}) == Path("/h/.config/pkcs11/modules")
    assert user_directory({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/pkcs11/modules")


def test_dir_writes_the_module_file_with_the_absolute_library_path(module_path: Path, tmp_path: Path) -> None:
    done = run([*cli(), "p11-kit-install", "--dir", str(tmp_path / "modules")], dict(os.environ))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "modules" / FILE_NAME
    assert done.stdout.strip() == str(written)
    assert f"module: {module_path}\n" in written.read_text()


@pytest.fixture
def user_home(module_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A home folder for an unprivileged user (p11-kit ignores per-user modules for root):
    as root, `nobody`, who must be able to read the installed library."""
    home = Path(tempfile.mkdtemp(prefix="p11kit-home-"))
    home.chmod(0o755)
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        if run([*prefix, "test", "-r", str(module_path)], {"PATH": "/usr/bin:/bin"}).returncode != 0:
            shutil.rmtree(home)
            pytest.skip(
                f"p11-kit ignores per-user modules for root, and user nobody cannot read {module_path} "
                "(a checkout under a private home): p11-kit's module discovery is not tested"
            )
    try:
        yield home, prefix
    finally:
        shutil.rmtree(home)


def test_p11kit_lists_the_module_installed_for_the_user(
    module_path: Path, hsm_server: RunningServer, token: Token, user_home: tuple[Path, list[str]]
) -> None:
    home, as_user = user_home
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    installed = run([*cli(), "p11-kit-install", "--user"], {**os.environ, **env})
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == str(home / ".config/pkcs11/modules" / FILE_NAME)
    # The user's own provider configuration, in the default place (no PKCS11_KMIP_CONFIG).
    identity = hsm_server.client_identity("p11kit-user")
    folder = home / ".config" / "pkcs11-kmip"
    folder.mkdir()
    for source in (identity.ca, identity.cert, identity.key):
        shutil.copy(source, folder / source.name)
    (folder / "pkcs11-kmip.toml").write_text(config.render(hsm_server.host, hsm_server.port))
    if as_user:
        shutil.chown(home, NOBODY, NOBODY)
        for path in home.rglob("*"):
            shutil.chown(path, NOBODY, NOBODY)

    listed = run([*as_user, "p11-kit", "list-modules"], env)
    assert listed.returncode == 0, listed.stderr
    # Our module's block: its lines up to the next module's name (not indented).
    ours = re.split(r"\n(?=\S)", listed.stdout.partition(f"pkcs11-kmip: {module_path}\n")[2])[0]
    assert ours.startswith("    library-description: PKCS#11 over KMIP 2.0\n"), listed.stdout + listed.stderr
    assert f"    token: {token.label}\n        manufacturer: SoftHSM project" in ours

    # GnuTLS without --provider loads p11-kit's modules, ours among them.
    tokens = run([*as_user, "p11tool", "--list-tokens"], env)
    assert tokens.returncode == 0, tokens.stderr
    assert f"token={token.label}" in tokens.stdout and "Manufacturer: SoftHSM project" in tokens.stdout


def test_errors_other_code_left_on_the_openssl_queue_do_not_break_our_tls(
    module_path: Path, ours: dict[str, str]
) -> None:
    """Under p11-kit, SoftHSM2 (loaded first) leaves ENGINE errors on the thread's queue;
    Python's ssl would read them as its own failure (CPython issue 81891)."""
    commands = ["dirty", "init", "slot", "dirty", "open", "dirty", "info", "dirty", "finalize"]
    done = run(
        [sys.executable, str(Path(__file__).with_name("session_host.py")), str(module_path)],
        ours,
        input="\n".join(commands) + "\n",
    )
    assert done.stdout.splitlines() == [f"{command}=0x0" for command in commands], done.stderr
