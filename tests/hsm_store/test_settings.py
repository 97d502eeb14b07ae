"""[store] keys and [store.hsm] in server.toml, and a server that cannot open its token."""

from __future__ import annotations

from pathlib import Path

import pytest

from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings
from testsupport.hsm_store import init_hsm_data_dir
from testsupport.server import RunningServer
from testsupport.softhsm import SOFTHSM_MODULE, Token

HSM = {"module": "/usr/lib/x.so", "token_label": "kmip", "pin_file": "hsm.pin"}


def test_the_default_keeps_key_material_in_the_database(tmp_path: Path) -> None:
    assert HsmStoreSettings.from_store_table({}, tmp_path) is None
    assert HsmStoreSettings.from_store_table({"keys": "database"}, tmp_path) is None


def test_relative_paths_are_in_the_data_directory(tmp_path: Path) -> None:
    settings = HsmStoreSettings.from_store_table({"keys": "hsm", "hsm": HSM}, tmp_path)
    assert settings is not None
    assert settings.module == Path("/usr/lib/x.so")
    assert settings.pin_file == tmp_path / "hsm.pin"
    assert settings.token_label == "kmip"


@pytest.mark.parametrize(
    ("table", "complaint"),
    [
        ({"keys": "vault"}, 'keys must be "database" or "hsm"'),
        ({"keys": "hsm"}, "needs module"),
        ({"keys": "hsm", "hsm": {**HSM, "pin_file": ""}}, "needs pin_file"),
        ({"keys": "hsm", "hsm": {**HSM, "pin": "1234"}}, "unknown settings: pin"),
        ({"keys": "hsm", "hsm": {**HSM, "environment": {"A": 1}}}, "environment must map"),
        ({"hsm": HSM}, 'neither keys = "hsm" nor master_key_in_hsm'),
        ({"master_key_in_hsm": "yes", "hsm": HSM}, "master_key_in_hsm must be true or false"),
    ],
)
def test_a_wrong_table_is_refused_with_what_is_wrong(
    tmp_path: Path, table: dict[str, object], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        HsmStoreSettings.from_store_table(table, tmp_path)


def test_a_fresh_server_toml_says_where_keys_live_and_loads_back(tmp_path: Path) -> None:
    text = ServerConfig(data_dir=tmp_path).render()
    assert 'keys = "database"' in text and "# [store.hsm]" in text
    (tmp_path / "server.toml").write_text(text)
    assert ServerConfig.load(tmp_path).key_store is None


def test_a_wrong_pin_stops_the_server_at_start_without_showing_the_pin(
    tmp_path: Path, store_token: Token
) -> None:
    data_dir = tmp_path / "data"
    init_hsm_data_dir(data_dir, store_token)
    (data_dir / "hsm.pin").write_text("98765-wrong\n")
    server = RunningServer(data_dir)
    with pytest.raises(RuntimeError, match="did not start") as failure:
        server.start()
    assert "PinIncorrect" in str(failure.value)
    assert "98765-wrong" not in str(failure.value)
    assert SOFTHSM_MODULE.exists()
