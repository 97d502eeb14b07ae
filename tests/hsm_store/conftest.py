"""Two real servers over real TLS: one keeping key material in its database, one in SoftHSM2.

`store_server` is parametrized over the two store kinds, so every contract test runs
against both; `hsm_server` alone is for what only the HSM store has (objects in the
token). The token lives in its own temporary directory (testsupport.softhsm); tests
open it directly with python-pkcs11 (`hsm_session`) to see what the server put there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pkcs11
import pytest

from testsupport.hsm_store import hsm_store_server
from testsupport.server import RunningServer
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token

STORE_KINDS = ("database", "hsm")


@pytest.fixture(scope="session")
def store_token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    return init_token(tmp_path_factory.mktemp("hsm-store-token"), label="kmip-keys")


@pytest.fixture(scope="session")
def hsm_server(tmp_path_factory: pytest.TempPathFactory, store_token: Token) -> Iterator[RunningServer]:
    yield from hsm_store_server(tmp_path_factory, store_token)


@pytest.fixture(params=STORE_KINDS)
def store_server(request: pytest.FixtureRequest) -> RunningServer:
    """The server of each store kind in turn (the session's default server is the database kind)."""
    name = "kmip_server" if request.param == "database" else "hsm_server"
    server: RunningServer = request.getfixturevalue(name)
    return server


@pytest.fixture(scope="session")
def hsm_session(store_token: Token) -> Iterator[Any]:
    """A session of this test process on the server's token (python-pkcs11, logged in)."""
    os.environ["SOFTHSM2_CONF"] = str(store_token.conf)
    library = pkcs11.lib(str(SOFTHSM_MODULE))
    session = library.get_token(token_label=store_token.label).open(user_pin=store_token.pin)
    yield session
    session.close()


@pytest.fixture
def store_kind(request: pytest.FixtureRequest, store_server: RunningServer) -> str:
    """Which kind `store_server` is in this test: "database" or "hsm"."""
    kind: str = request.node.callspec.params["store_server"]
    return kind
