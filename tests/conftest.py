"""Fixtures every test directory may use.

`kmip_server` is one real KMIP server for the whole session, on a fresh data
directory and a free port, reached over real TLS. Tests that need isolation use
their own client identity (`kmip_server.client_identity(name)`): every object
belongs to the client that made it, so two identities never see each other's
objects. `fresh_kmip_server` is a private server for tests that stop, kill or
reconfigure it. Helpers live in tests/testsupport (on sys.path via pyproject).

With PKCS11_KMIP_TEST_KEY_STORE=hsm, `kmip_server` keeps its key material in a SoftHSM2
token (`[store] keys = "hsm"`, docs/hsm-store.md): scripts/test runs the modules
tests/hsm_store/matrix.toml names that way too, and the tests its [limits] table lists
(true limits of the token) are strict xfails with their reason there.
"""

from __future__ import annotations

import os
import signal
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.server import RunningServer, start_server

KEY_STORE = os.environ.get("PKCS11_KMIP_TEST_KEY_STORE", "database")
HSM_MATRIX = Path(__file__).parent / "hsm_store" / "matrix.toml"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the HSM store, each test [limits] names (a node id, or one without its parameters
    for all of them) is a strict xfail; an entry for a collected module that names no test
    is an error, so the table cannot go stale."""
    if KEY_STORE != "hsm":
        return
    limits: dict[str, str] = tomllib.loads(HSM_MATRIX.read_text())["limits"]
    used: set[str] = set()
    for item in items:
        name = item.nodeid if item.nodeid in limits else item.nodeid.split("[")[0]
        if name in limits:
            used.add(name)
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"HSM key store: {limits[name]}"))
    modules = {item.nodeid.split("::")[0] for item in items}
    filtered = config.option.keyword or config.option.markexpr or config.option.deselect
    stale = [name for name in limits if name.split("::")[0] in modules and name not in used]
    if stale and not filtered:
        raise pytest.UsageError(f"{HSM_MATRIX}: [limits] names no collected test: {', '.join(stale)}")


@pytest.fixture(scope="session")
def kmip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if KEY_STORE == "hsm":
        from testsupport.hsm_store import hsm_store_server

        yield from hsm_store_server(tmp_path_factory)
        return
    server = start_server(tmp_path_factory.mktemp("kmip-server"))
    yield server
    if server.process is not None:
        server.stop()


@pytest.fixture
def fresh_kmip_server(tmp_path: Path) -> Iterator[RunningServer]:
    server = start_server(tmp_path)
    yield server
    if server.process is not None:
        server.stop(signal.SIGKILL)
