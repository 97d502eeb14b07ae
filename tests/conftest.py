"""Fixtures every test directory may use.

`kmip_server` is one real KMIP server for the whole session, on a fresh data
directory and a free port, reached over real TLS. Tests that need isolation use
their own client identity (`kmip_server.client_identity(name)`): every object
belongs to the client that made it, so two identities never see each other's
objects. `fresh_kmip_server` is a private server for tests that stop, kill or
reconfigure it. Helpers live in tests/testsupport (on sys.path via pyproject).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.server import RunningServer, start_server


@pytest.fixture(scope="session")
def kmip_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
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
