"""The native token over the HSM key store ([store] keys = "hsm"): the keys pkcs11-tool
makes on the native token are generated inside the store's SoftHSM2 token, and what
the native token shows of them is read from there, as KMIP Get reads it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages.payloads import GetRequest, LocateRequest
from pkcs11_kmip.kmip.spec import Tag
from testsupport import tools
from testsupport.hosts import NativeTool
from testsupport.hsm_store import init_hsm_data_dir
from testsupport.kmip_builders import as_attributes, name
from testsupport.server import RunningServer
from testsupport.softhsm import init_token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    token = init_token(tmp_path_factory.mktemp("native-hsm-token"), label="kmip-keys")
    data_dir = tmp_path_factory.mktemp("native-hsm-server") / "data"
    init_hsm_data_dir(data_dir, token)
    running = RunningServer(data_dir)
    running.start()
    yield running
    if running.process is not None:
        running.stop()


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
