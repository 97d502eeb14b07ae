"""The engine-level native token fixtures (applications of alice and bob on one engine,
alice's PIN) for every test module here, not only test_token's, and the key store under
that engine: the database's, or with PKCS11_KMIP_TEST_KEY_STORE=hsm a SoftHSM2 token's
(tests/hsm_store/matrix.toml names these modules for that run)."""

from __future__ import annotations

import os
import tomllib

import pytest
from native.test_token import alice_pin, make_app  # noqa: F401 (fixtures)

from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings
from testsupport.hsm_store import hsm_store_section
from testsupport.softhsm import init_token


@pytest.fixture(scope="session")
def key_store(tmp_path_factory: pytest.TempPathFactory) -> HsmStoreSettings | None:
    """The [store] settings of every engine here: None (keys in the database), or one SoftHSM2
    token for the session. One, because the module reads SOFTHSM2_CONF once per process (at
    C_Initialize) and keeps it; each engine opens and closes its own logged-in session on it,
    as a server does, and the keys' CKA_IDs are their random UUIDs, so engines never meet."""
    if os.environ.get("PKCS11_KMIP_TEST_KEY_STORE", "database") != "hsm":
        return None
    directory = tmp_path_factory.mktemp("native-key-store")
    token = init_token(directory, label="native-keys")
    (directory / "hsm.pin").write_text(token.pin + "\n")
    server_toml = f'[store]\nkeys = "hsm"\n{hsm_store_section(token)}'
    return HsmStoreSettings.from_store_table(tomllib.loads(server_toml)["store"], directory)
