"""A SoftHSM2 token for the HSM passthrough tests, and services running on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    return init_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture
def make_service(token: Token) -> Iterator[Callable[..., Pkcs11Service]]:
    """Services on the session's token (closed after the test), with settings changed as asked."""
    made: list[Pkcs11Service] = []

    def make(**changes: object) -> Pkcs11Service:
        settings = {"module": SOFTHSM_MODULE, "environment": {"SOFTHSM2_CONF": str(token.conf)}, **changes}
        service = Pkcs11Service(Pkcs11Settings(**settings))  # type: ignore[arg-type]
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


@pytest.fixture
def service(make_service: Callable[..., Pkcs11Service]) -> Pkcs11Service:
    return make_service()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path
