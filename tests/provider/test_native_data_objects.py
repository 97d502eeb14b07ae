"""KMIP Secret Data and Opaque Objects as PKCS#11 data objects (CKO_DATA) on the native
token, through pkcs11-tool, our library and a real server over TLS (docs/native-token.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.objects import KeyValue, OpaqueObject, SecretData
from pkcs11_kmip.kmip.messages.payloads import GetAttributesRequest, GetRequest, LocateRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, SecretDataType, State
from testsupport import tools
from testsupport.hosts import NativeTool
from testsupport.kmip_builders import as_attributes, name
from testsupport.managed_keys import register_object, secret_data
from testsupport.server import RunningServer

HOST = Path(__file__).with_name("native_data_host.py")
U = CryptographicUsageMask
OPAQUE_DATA_TYPE = 0x80000001  # KMIP defines no Opaque Data Type of its own: an extension value


@pytest.fixture(scope="module")
def tool(native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> NativeTool:
    return NativeTool(native, module_path, tmp_path_factory.mktemp("native-data"))


def register_secret(kmip: KmipClient, label: str, value: bytes, *extra: tuple[int, object]) -> str:
    data = secret_data(value, SecretDataType.SEED)
    return register_object(kmip, ObjectType.SECRET_DATA, data, U.DERIVE_KEY, (Tag.NAME, name(label)), *extra)


def register_opaque(kmip: KmipClient, label: str, value: bytes) -> str:
    opaque = OpaqueObject(opaque_data_type=OPAQUE_DATA_TYPE, opaque_data_value=value)
    return register_object(
        kmip, ObjectType.OPAQUE_OBJECT, opaque, U(0), (Tag.NAME, name(label)), active=False
    )


def locate_by_name(kmip: KmipClient, text: str) -> list[str]:
    return list(kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(text))))).unique_identifiers)


def read_data(tool: NativeTool, label: str, out: Path, ok: bool = True) -> str:
    return tool("--read-object", "--type", "data", "--label", label, "-o", str(out), ok=ok)


def test_kmip_secret_data_and_opaque_objects_are_data_objects(
    tool: NativeTool, native: RunningServer, tmp_path: Path
) -> None:
    seed, blob = os.urandom(32), b"an opaque \x00 blob" * 10
    with native.client("admin") as kmip:
        register_secret(kmip, "kmip-seed", seed)
        register_opaque(kmip, "kmip-blob", blob)
    read_data(tool, "kmip-seed", tmp_path / "seed")
    assert (tmp_path / "seed").read_bytes() == seed
    read_data(tool, "kmip-blob", tmp_path / "blob")
    assert (tmp_path / "blob").read_bytes() == blob
    listing = tool("-O", "--type", "data")
    assert "Data object" in listing and "'kmip-seed'" in listing and "'kmip-blob'" in listing
    # Private (Secret Data is secret): not seen without the login.
    logged_out = tool("-O", "--type", "data", login=False)
    assert "kmip-seed" not in logged_out


def test_a_sensitive_or_unextractable_one_refuses_its_value(
    tool: NativeTool, native: RunningServer, tmp_path: Path
) -> None:
    with native.client("admin") as kmip:
        register_secret(kmip, "sensitive-seed", os.urandom(16), (Tag.SENSITIVE, True))
        register_secret(kmip, "kept-seed", os.urandom(16), (Tag.EXTRACTABLE, False))
    for label in ("sensitive-seed", "kept-seed"):
        refused = read_data(tool, label, tmp_path / label, ok=False)
        assert "CKR_ATTRIBUTE_SENSITIVE" in refused, refused
        assert not (tmp_path / label).exists() or not (tmp_path / label).read_bytes()


def test_another_client_does_not_see_them(
    tool: NativeTool, native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    with native.client("admin") as kmip:
        register_secret(kmip, "admins-seed", os.urandom(16))
    native.client_identity("data-other")
    other = NativeTool(native, module_path, tmp_path, identity="data-other")
    assert "admins-seed" not in other("-O")
    read_data(other, "admins-seed", tmp_path / "nothing", ok=False)


def kmip_object(kmip: KmipClient, label: str) -> tuple[str, object]:
    (uid,) = locate_by_name(kmip, label)
    return uid, kmip.call(GetRequest(unique_identifier=uid)).object


def test_pkcs11_tool_writes_secret_data_a_kmip_client_gets(
    tool: NativeTool, native: RunningServer, tmp_path: Path
) -> None:
    value = os.urandom(100)
    (tmp_path / "in").write_bytes(value)
    written = ("--write-object", str(tmp_path / "in"), "--type", "data", "--label", "tool-data")
    tool(*written, "--application-label", "an app", "--application-id", "1.2.840.113549.1.7.1")
    with native.client("admin") as kmip:
        uid, secret = kmip_object(kmip, "tool-data")
        attributes = {
            entry.tag: entry.value
            for entry in kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes
        }
    assert isinstance(secret, SecretData) and secret.secret_data_type is SecretDataType.SEED
    stored = secret.key_block.key_value if secret.key_block is not None else None
    assert isinstance(stored, KeyValue) and stored.key_material == value
    assert attributes[Tag.STATE] == State.ACTIVE
    listing = tool("-O", "--type", "data")
    assert "application:    'an app'" in listing and "app_id:         1.2.840.113549.1.7.1" in listing
    # pkcs11-tool makes data objects with CKA_PRIVATE FALSE: read without the login too.
    tool("--read-object", "--type", "data", "--label", "tool-data", "-o", str(tmp_path / "out"), login=False)
    assert (tmp_path / "out").read_bytes() == value
    # A second object of the same label is refused (KMIP Names are unique per owner).
    refused = tool(*written, ok=False)
    assert "CKR_ATTRIBUTE_VALUE_INVALID" in refused, refused
    tool("--write-object", str(tmp_path / "in"), "--type", "data", "--label", "private-data", "--private")
    assert "private-data" not in tool("-O", "--type", "data", login=False)
    tool("--delete-object", "--type", "data", "--label", "tool-data")
    with native.client("admin") as kmip:
        assert locate_by_name(kmip, "tool-data") == []
        assert {e.tag: e.value for e in kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes}[
            Tag.STATE
        ] == State.DESTROYED


def test_python_pkcs11_renames_data_and_keeps_session_data_to_its_session(
    tool: NativeTool, native: RunningServer, module_path: Path
) -> None:
    done = tools.run([sys.executable, str(HOST), str(module_path), tool.pin], tool.env, timeout=120)
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert done.returncode == 0 and lines.get("done") == "1", done.stdout + done.stderr
    assert bytes.fromhex(lines["renamed.value"]) == b"token data from python-pkcs11"
    assert (lines["renamed.token"], lines["renamed.private"], lines["old_label.found"]) == (
        "True",
        "True",
        "0",
    )
    assert (lines["session.token"], bytes.fromhex(lines["session.value"])) == ("False", b"session data")
    with native.client("admin") as kmip:
        _, renamed = kmip_object(kmip, "host-data-renamed")
        assert locate_by_name(kmip, "host-data") == [] and locate_by_name(kmip, "host-session-data") == []
    assert isinstance(renamed, SecretData)
