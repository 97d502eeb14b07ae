"""The native token over the HSM key store ([store] keys = "hsm"): the keys pkcs11-tool
makes on the native token are generated inside the store's SoftHSM2 token, and what
the native token shows of them is read from there, as KMIP Get reads it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages.payloads import ActivateRequest, GetRequest, LocateRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask
from testsupport import tools
from testsupport.hosts import CopyHost, NativeTool
from testsupport.hsm_store import hsm_store_server
from testsupport.kmip_builders import as_attributes, name, symmetric_create
from testsupport.server import RunningServer
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token


@pytest.fixture(scope="module")
def store_token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    return init_token(tmp_path_factory.mktemp("native-hsm-token"), label="kmip-keys")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, store_token: Token) -> Iterator[RunningServer]:
    yield from hsm_store_server(tmp_path_factory, store_token)


@pytest.fixture(scope="module")
def admin(server: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> NativeTool:
    return NativeTool(server, module_path, tmp_path_factory.mktemp("admin"))


def test_an_extractable_key_in_the_token_shows_its_value_and_a_sensitive_one_does_not(
    server: RunningServer, admin: NativeTool, tmp_path: Path
) -> None:
    tool = admin
    tool("--keygen", "--key-type", "AES:32", "--label", "open", "--id", "a1", "--extractable")
    tool("--keygen", "--key-type", "AES:32", "--label", "closed", "--id", "a2", "--sensitive")
    tool("--read-object", "--type", "secrkey", "--id", "a1", "-o", str(tmp_path / "open.key"))
    shown = (tmp_path / "open.key").read_bytes()
    assert len(shown) == 32
    with server.client("admin") as kmip:
        (uid,) = kmip.call(
            LocateRequest(attributes=as_attributes((Tag.NAME, name("open"))))
        ).unique_identifiers
        got = kmip.call(GetRequest(unique_identifier=uid)).object
        assert got.key_block.key_value.key_material == shown  # the same bytes through both protocols
    refused = tool("--read-object", "--type", "secrkey", "--id", "a2", "-o", str(tmp_path / "x"), ok=False)
    assert "CKR_ATTRIBUTE_SENSITIVE" in refused


def test_an_ec_key_made_in_the_token_signs_and_openssl_verifies(admin: NativeTool, tmp_path: Path) -> None:
    admin("--keypairgen", "--key-type", "EC:prime256v1", "--label", "signer", "--id", "e1")
    data = tmp_path / "data"
    data.write_bytes(b"signed inside the HSM key store's token")
    signature = tmp_path / "sig"
    admin("--sign", "-m", "ECDSA-SHA256", "--id", "e1", "-i", str(data), "-o", str(signature),
          "--signature-format", "openssl")  # fmt: skip
    pem = tools.export_public_key(admin.module, admin.env, "e1", tmp_path / "ec.pem")
    verified = tools.run(
        ["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(signature), str(data)]
    )
    assert verified.returncode == 0 and "Verified OK" in verified.stdout


# What the server's SoftHSM2 token holds under a CKA_ID, seen from a process of its own
# (SoftHSM2 reads its configuration once per process); `drop` then destroys them.
PEEK = """
import sys, pkcs11
from pkcs11 import Attribute
module, label, pin, reference, drop = sys.argv[1:6]
with pkcs11.lib(module).get_token(token_label=label).open(rw=True, user_pin=pin) as session:
    for key in session.get_objects({Attribute.ID: reference.encode()}):
        print(key[Attribute.SENSITIVE], key[Attribute.EXTRACTABLE])
        if drop == "drop":
            key.destroy()
"""


def in_token(token: Token, uid: str, drop: bool = False) -> list[str]:
    """(CKA_SENSITIVE, CKA_EXTRACTABLE) of each token object holding the key of `uid`."""
    argv = [
        sys.executable,
        "-c",
        PEEK,
        str(SOFTHSM_MODULE),
        token.label,
        token.pin,
        uid,
        "drop" if drop else "-",
    ]
    done = tools.run(argv, token.env)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def located(server: RunningServer, identity: str, label: str) -> str:
    with server.client(identity) as kmip:
        (uid,) = kmip.call(
            LocateRequest(attributes=as_attributes((Tag.NAME, name(label))))
        ).unique_identifiers
    return str(uid)


@pytest.fixture(scope="module")
def copier(server: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> CopyHost:
    return CopyHost(server, module_path, tmp_path_factory.mktemp("copier"))


def test_a_copy_is_made_inside_the_token_and_a_private_key_shows_its_modulus(
    server: RunningServer, store_token: Token, copier: CopyHost
) -> None:
    copied = copier.run("secret", "pairs")
    assert copied["aes.same_key"] == "True" and copied["aes.value_hidden"] == "AttributeSensitive"
    assert (copied["aes.SENSITIVE"], copied["aes.EXTRACTABLE"]) == ("True", "False")
    assert copied["ec.verifies"] == "True" and copied["rsa.verifies"] == "True"
    # CKA_MODULUS of private keys the token holds (the source and its copy), read there.
    assert copied["rsa.same_modulus"] == "True" and copied["rsa.private_modulus"] == "True"
    source, copy = (located(server, copier.identity, label) for label in ("copy-src", "copy-dst"))
    assert in_token(store_token, source) == ["False True"]
    # The copy's own token object, with the template's flags (set when the copy committed).
    assert in_token(store_token, copy) == ["True False"]
    for label in ("ec-copy", "rsa-copy"):
        assert len(in_token(store_token, located(server, copier.identity, label))) == 1


def test_a_key_the_token_cannot_copy_is_refused_and_nothing_is_made(
    server: RunningServer, store_token: Token, copier: CopyHost
) -> None:
    with server.client(copier.identity) as kmip:
        uid = str(
            kmip.call(
                symmetric_create(CryptographicAlgorithm.AES, ENCRYPT_DECRYPT, "hsm-locked")
            ).unique_identifier
        )
        kmip.call(ActivateRequest(unique_identifier=uid))
    assert len(in_token(store_token, uid, drop=True)) == 1  # gone from the HSM behind the server's back
    assert copier.run("copy", "hsm-locked")["copy.hsm-locked"] == "DeviceError"
    with server.client(copier.identity) as kmip:  # nothing was made, in the store or the token
        found = kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name("hsm-locked-copy")))))
        assert not found.unique_identifiers


ENCRYPT_DECRYPT = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
SESSION_MARK = "\x1fsession-objects\x1f"  # native.objects.SESSION_MARK
SESSION_HOST = Path(__file__).with_name("session_object_host.py")


def session_objects(server: RunningServer) -> dict[str, bool]:
    """The admin's session objects in the store: uid -> whether it still has material."""
    with closing(sqlite3.connect(server.data_dir / "kmip.sqlite3", timeout=30)) as db:
        found = db.execute(
            "SELECT uid, material IS NOT NULL FROM object WHERE owner LIKE ?", (f"admin{SESSION_MARK}%",)
        ).fetchall()
    return {uid: bool(material) for uid, material in found}


def test_the_start_sweep_destroys_session_objects_in_the_tokens_too(
    server: RunningServer, store_token: Token, admin: NativeTool
) -> None:
    before = set(session_objects(server))
    argv = [sys.executable, str(SESSION_HOST), str(admin.module), admin.pin, "swept", "wait"]
    host = subprocess.Popen(argv, env=admin.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None and host.stdout.readline() == "made=swept\n"
        (uid,) = set(session_objects(server)) - before
        assert len(in_token(store_token, uid)) == 1  # generated in the store's token
        server.stop(signal.SIGKILL)  # nothing ends the application's context: the row stays
    finally:
        host.kill()
        host.communicate(timeout=30)
    assert session_objects(server)[uid] is True
    server.start()  # the sweep runs before the server listens
    assert session_objects(server)[uid] is False
    assert in_token(store_token, uid) == []  # the key went from the token with its record
    assert "destroyed 1 session object(s) left by the previous run" in server.log()
