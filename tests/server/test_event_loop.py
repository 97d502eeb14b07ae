"""`[server] event_loop`: uvloop when installed ("auto"), asyncio's own loop as the fallback.

The rest of tests/server runs the server as `pkcs11-kmip serve` with the default, so on a
machine with uvloop the whole suite is the uvloop edge; here both loops serve the same
requests over real TLS, and the setting's bad values and a missing uvloop are refused.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import CreateRequest, DestroyRequest, GetRequest, LocateRequest
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask, NameType, ObjectType
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import DataDirError, initialize
from pkcs11_kmip_server.serve import loop_factory
from testsupport.server import RunningServer, cli


def set_event_loop(data_dir: Path, choice: str) -> None:
    config = data_dir / "server.toml"
    text, count = re.subn(r'(?m)^event_loop = "auto"', f'event_loop = "{choice}"', config.read_text())
    assert count == 1
    config.write_text(text)


def test_a_new_data_dir_says_auto_and_bad_values_are_refused(tmp_path: Path) -> None:
    initialize(tmp_path, "127.0.0.1", 0)
    assert ServerConfig.load(tmp_path).event_loop == "auto"
    set_event_loop(tmp_path, "asyncio")
    assert ServerConfig.load(tmp_path).event_loop == "asyncio"
    config = tmp_path / "server.toml"
    config.write_text(config.read_text().replace('event_loop = "asyncio"', 'event_loop = "trio"'))
    with pytest.raises(ValueError, match=r'event_loop must be "auto", "asyncio" or "uvloop"'):
        ServerConfig.load(tmp_path)


def test_loop_factory_falls_back_to_asyncio_only_for_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop  # a dependency of the package (pyproject.toml), so here

    assert loop_factory("auto") is uvloop.new_event_loop
    assert loop_factory("uvloop") is uvloop.new_event_loop
    assert loop_factory("asyncio") is None
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert loop_factory("auto") is None
    with pytest.raises(DataDirError, match="uvloop is not installed"):
        loop_factory("uvloop")


def aes_key(length: int, name: str) -> CreateRequest:
    return CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=Attributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, length),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT),
            (Tag.NAME, Name(name_value=name, name_type=NameType.UNINTERPRETED_TEXT_STRING)),
        ),
    )


@pytest.mark.parametrize("choice", ["asyncio", "uvloop"])
def test_each_loop_serves_over_tls(tmp_path: Path, choice: str) -> None:
    data_dir = tmp_path / "data"
    subprocess.run([*cli(), "init", "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=60)
    set_event_loop(data_dir, choice)
    server = RunningServer(data_dir)
    server.start()
    try:
        with server.client() as kmip:
            # Creates through the writer thread and back, a Get through the Get lane, a Locate
            # through the worker threads.
            uids = [
                kmip.call(aes_key(length, f"{choice} {length}")).unique_identifier for length in (128, 256)
            ]
            key = kmip.call(GetRequest(unique_identifier=uids[0])).object.key_block
            assert len(key.key_value.key_material) == 16
            name = Name(name_value=f"{choice} 256", name_type=NameType.UNINTERPRETED_TEXT_STRING)
            located = kmip.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name))))
            assert located.unique_identifiers == [uids[1]]
            for uid in uids:
                kmip.call(DestroyRequest(unique_identifier=uid))
        assert server.stop() == 0  # SIGTERM: a clean stop on either loop
        assert f"(KMIP over TLS, {choice} event loop)" in server.log()
    finally:
        if server.process is not None:
            server.stop()
