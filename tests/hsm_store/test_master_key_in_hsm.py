"""[store] master_key_in_hsm = true: the database's master key kept wrapped by a key in the token.

A real server over TLS: its first start wraps DIR/master.key under a new AES key in the
token (not extractable) and removes the plain file; every start after that has the token
unwrap it, so the store still opens and serves the keys it holds; a token without that
key cannot start the server.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pkcs11 import Attribute

from pkcs11_kmip.kmip.messages.payloads import GetRequest
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask
from pkcs11_kmip_server.hsm_store.envelope import WRAPPED_FILE, WRAPPING_KEY_ID
from testsupport.hsm_store import create_key, init_hsm_data_dir
from testsupport.server import RunningServer
from testsupport.softhsm import Token, init_token


def test_the_master_key_is_wrapped_by_the_token_and_unwrapped_at_each_start(
    tmp_path: Path, store_token: Token, hsm_session: Any
) -> None:
    data_dir = tmp_path / "data"
    init_hsm_data_dir(data_dir, store_token, keys=False, master_key=True)
    plain = (data_dir / "master.key").read_bytes()
    server = RunningServer(data_dir)
    server.start()
    try:
        assert not (data_dir / "master.key").exists()
        wrapped = data_dir / WRAPPED_FILE
        assert os.stat(wrapped).st_mode & 0o777 == 0o600
        assert len(wrapped.read_bytes()) == 40 and plain not in wrapped.read_bytes()
        with server.client() as kmip:
            uid = create_key(kmip, CryptographicAlgorithm.AES, 256, CryptographicUsageMask.ENCRYPT)
            value = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
        server.stop()
        server.start()  # the token unwraps the master key again; the sealed material opens
        with server.client() as kmip:
            again = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
        assert again == value
    finally:
        if server.process is not None:
            server.stop()
    (key,) = hsm_session.get_objects({Attribute.ID: WRAPPING_KEY_ID})
    assert key[Attribute.EXTRACTABLE] is False and key[Attribute.SENSITIVE] is True


def test_a_token_without_the_wrapping_key_cannot_start_the_server(tmp_path: Path, store_token: Token) -> None:
    data_dir = tmp_path / "data"
    init_hsm_data_dir(data_dir, store_token, keys=False, master_key=True)
    server = RunningServer(data_dir)
    server.start()
    server.stop()
    other = init_token(tmp_path / "other-token", label="kmip-keys")
    toml = data_dir / "server.toml"
    toml.write_text(toml.read_text().replace(str(store_token.conf), str(other.conf)))
    with pytest.raises(RuntimeError, match="no master key wrapping key"):
        server.start()
