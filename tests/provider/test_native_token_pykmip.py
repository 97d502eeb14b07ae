"""One key, two protocols, with another vendor's KMIP client on the KMIP side: a key
pkcs11-tool makes on the native token is found and used by PyKMIP's client (KMIP 1.2
and 2.0, the versions it speaks for Encrypt), and what the server encrypts for PyKMIP
pkcs11-tool decrypts through our library; a key PyKMIP creates is a PKCS#11 object
whose ciphertext PyKMIP decrypts, and PyKMIP's Revoke stops pkcs11-tool's next sign."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie.client import ProxyKmipClient

from testsupport.hosts import NativeTool
from testsupport.pykmip import open_pykmip
from testsupport.server import RunningServer

pytestmark = pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")

DATA = b"made by pkcs11-tool, used by PyKMIP"
CBC_PAD = {
    "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
}
VERSIONS = [(1, 2), (2, 0)]  # PyKMIP speaks Encrypt from 1.2


class Tool(NativeTool):
    """pkcs11-tool, logged in, that also finds a key's CKA_ID by its label."""

    def id_of(self, label: str) -> str:
        """The CKA_ID pkcs11-tool -O shows for the one secret key or private key so labelled."""
        blocks = re.split(r"\n(?=\S)", self("-O"))
        ids = {
            match.group(1)
            for block in blocks
            if re.search(rf"label:\s+{re.escape(label)}\s*$", block, re.M)
            and block.startswith(("Secret Key Object", "Private Key Object"))
            for match in [re.search(r"ID:\s+([0-9a-f]+)", block)]
            if match
        }
        (only,) = ids
        return only


@pytest.fixture(scope="module")
def tool(native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Tool:
    return Tool(native, module_path, tmp_path_factory.mktemp("tool"))


@pytest.fixture(params=VERSIONS, ids=lambda version: f"{version[0]}.{version[1]}")
def pykmip(native: RunningServer, request: pytest.FixtureRequest) -> Iterator[ProxyKmipClient]:
    with open_pykmip(native, "admin", request.param) as client:
        yield client


def locate_by_name(pykmip: ProxyKmipClient, label: str) -> list[str]:
    name = AttributeFactory().create_attribute(enums.AttributeType.NAME, label)
    return list(pykmip.locate(attributes=[name]))


def test_what_pykmip_encrypts_pkcs11_tool_decrypts_and_the_reverse(
    tool: Tool, pykmip: ProxyKmipClient, tmp_path: Path
) -> None:
    label = f"both-ways-{pykmip.kmip_version.name}"
    tool("--keygen", "--key-type", "AES:16", "--label", label)
    key_id = tool.id_of(label)
    (uid,) = locate_by_name(pykmip, label)

    iv = os.urandom(16)
    sealed, returned_iv = pykmip.encrypt(DATA, uid=uid, cryptographic_parameters=CBC_PAD, iv_counter_nonce=iv)
    assert returned_iv is None and len(sealed) == 48 and DATA not in sealed  # the IV was the client's
    (tmp_path / "sealed").write_bytes(sealed)
    tool("--decrypt", "-m", "AES-CBC-PAD", "--iv", iv.hex(), "--id", key_id,
         "-i", str(tmp_path / "sealed"), "-o", str(tmp_path / "opened"))  # fmt: skip
    assert (tmp_path / "opened").read_bytes() == DATA

    (tmp_path / "plain").write_bytes(DATA)
    tool("--encrypt", "-m", "AES-CBC-PAD", "--iv", iv.hex(), "--id", key_id,
         "-i", str(tmp_path / "plain"), "-o", str(tmp_path / "by-pkcs11"))  # fmt: skip
    by_pkcs11 = (tmp_path / "by-pkcs11").read_bytes()
    assert by_pkcs11 == sealed  # the same key, mode and IV on both sides
    assert pykmip.decrypt(by_pkcs11, uid=uid, cryptographic_parameters=CBC_PAD, iv_counter_nonce=iv) == DATA


def test_a_pykmip_key_is_a_pkcs11_object_and_pykmip_revoke_stops_pkcs11_use(
    tool: Tool, pykmip: ProxyKmipClient, tmp_path: Path
) -> None:
    label = f"kmip-made-{pykmip.kmip_version.name}"
    masks = [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]
    uid = pykmip.create(enums.CryptographicAlgorithm.AES, 256, name=label, cryptographic_usage_mask=masks)
    assert locate_by_name(pykmip, label) == [uid]
    pykmip.activate(uid)
    key_id = tool.id_of(label)

    iv = os.urandom(16)
    (tmp_path / "plain").write_bytes(DATA)
    tool("--encrypt", "-m", "AES-CBC-PAD", "--iv", iv.hex(), "--id", key_id,
         "-i", str(tmp_path / "plain"), "-o", str(tmp_path / "sealed"))  # fmt: skip
    sealed = (tmp_path / "sealed").read_bytes()
    assert pykmip.decrypt(sealed, uid=uid, cryptographic_parameters=CBC_PAD, iv_counter_nonce=iv) == DATA

    pykmip.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, uid, compromise_occurrence_date=1)
    refused = tool("--encrypt", "-m", "AES-CBC-PAD", "--iv", iv.hex(), "--id", key_id,
                   "-i", str(tmp_path / "plain"), "-o", str(tmp_path / "late"), ok=False)  # fmt: skip
    assert "CKR_KEY_FUNCTION_NOT_PERMITTED" in refused
