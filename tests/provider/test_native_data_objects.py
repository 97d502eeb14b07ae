"""KMIP Secret Data and Opaque Objects as PKCS#11 data objects (CKO_DATA) on the native
token, through pkcs11-tool, our library and a real server over TLS (docs/native-token.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.objects import OpaqueObject
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, SecretDataType
from testsupport.hosts import NativeTool
from testsupport.kmip_builders import name
from testsupport.managed_keys import register_object, secret_data
from testsupport.server import RunningServer

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
