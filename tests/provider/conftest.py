"""Fixtures for the provider tests: the installed library, and hosts that load it.

The library is only ever loaded in subprocesses (C programs, other Python
interpreters), never into the pytest process, whose interpreter it would share.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from testsupport import tools
from testsupport.hsm_store import hsm_store_server
from testsupport.server import RunningServer
from testsupport.softhsm import Token, init_token, start_pkcs11_server, write_client_config

HERE = Path(__file__).resolve().parent
TIMEOUT = 90  # seconds, for every subprocess: a hang is a failure, not a stuck CI job
SCRUBBED_ENV = {"PATH": "/usr/bin:/bin", "PYTHONHOME": "/nonexistent", "PYTHONPATH": "/nonexistent"}


@dataclass
class Run:
    """A finished host process: exit status, its key=value lines, and stderr."""

    returncode: int
    values: dict[str, str]
    stdout: str
    stderr: str

    def __getitem__(self, key: str) -> str:
        assert key in self.values, f"{key!r} missing; stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return self.values[key]


def run_host(argv: list[str], env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a host with a timeout and parse its key=value output."""
    try:
        done = tools.run(argv, env, cwd, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"host hung for {TIMEOUT}s: {argv}\nstdout: {error.stdout!r}")
    values = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return Run(done.returncode, values, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def scrubbed_env() -> dict[str, str]:
    """A host environment with nothing useful for Python in it."""
    return dict(SCRUBBED_ENV)


@pytest.fixture(scope="session")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed libpkcs11_kmip.so, as the installed package reports it (run in an
    isolated subprocess so that a checkout on sys.path cannot answer instead)."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", "from pkcs11_kmip.provider import provider_path as p; print(p())"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp_path_factory.getbasetemp(),
    )
    assert done.returncode == 0, f"the package is not installed with its library: {done.stderr}"
    path = Path(done.stdout.strip())
    assert path.is_file()
    return path


@pytest.fixture(scope="session")
def embed_path(module_path: Path) -> Path:
    return module_path.with_name("libpkcs11_kmip_python.so")


@pytest.fixture(scope="session")
def build_libpython() -> Path:
    """The libpython the library was built against: the one of the interpreter that
    installed it (the tests run in that environment)."""
    libdir = sysconfig.get_config_var("LIBDIR")
    soname = sysconfig.get_config_var("INSTSONAME")
    return Path(libdir) / soname


@pytest.fixture(scope="session")
def c_host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/provider/c_host.c, compiled."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc is not None, "no C compiler (scripts/setup installs build-essential)"
    binary = tmp_path_factory.mktemp("c_host") / "c_host"
    subprocess.run(
        [
            gcc,
            "-Wall",
            "-Wextra",
            "-Werror",
            "-O1",
            "-o",
            str(binary),
            str(HERE / "c_host.c"),
            "-ldl",
            "-lpthread",
        ],
        check=True,
        timeout=TIMEOUT,
    )
    return binary


@pytest.fixture(scope="session")
def run_c(c_host: Path) -> Callable[..., Run]:
    def run(
        module: Path | str, mode: str, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Run:
        return run_host([str(c_host), str(module), mode], env=env, cwd=cwd)

    return run


@pytest.fixture(scope="session")
def run_py(module_path: Path) -> Callable[..., Run]:
    """Run tests/provider/py_host.py under a given interpreter (isolated mode: -I)."""

    def run(python: str, mode: str = "basic", module: Path | None = None) -> Run:
        script = str(HERE / "py_host.py")
        return run_host([python, "-I", script, str(module or module_path), mode])

    return run


# --- the whole path: a SoftHSM2 token behind a real server, per test module ---------------


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    return init_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def hsm_server(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[RunningServer]:
    server = start_pkcs11_server(tmp_path_factory.mktemp("hsm-server"), token)
    yield server
    if server.process is not None:
        server.stop()


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, hsm_server: RunningServer) -> dict[str, str]:
    """The environment of a host using our library: the client configuration, and no
    SOFTHSM2_CONF (the token is the server's business)."""
    config = write_client_config(tmp_path_factory.mktemp("client") / "pkcs11-kmip.toml", hsm_server)
    env = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
    return {**env, "PKCS11_KMIP_CONFIG": str(config)}


def other_pythons() -> list[Path]:
    """Interpreters of other versions to use as hosts: pyenv's, 3.9 and newer."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = {}
    for python in sorted(root.glob("3.*/bin/python3")):
        version = tuple(int(n) for n in python.parent.parent.name.split(".")[:2])
        if version >= (3, 9) and version != sys.version_info[:2]:
            found[version] = python
    return list(found.values())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests taking `other_python` run once per other interpreter found; in a module that
    names its `NATIVE_KEY_STORES`, tests on the native token run once per key store."""
    stores = getattr(metafunc.module, "NATIVE_KEY_STORES", None)
    if stores and "native" in metafunc.fixturenames:
        metafunc.parametrize("native", stores, indirect=True, scope="module")
    if "other_python" in metafunc.fixturenames:
        pythons = other_pythons()
        metafunc.parametrize(
            "other_python",
            [str(p) for p in pythons] or [None],
            ids=[p.parent.parent.name for p in pythons] or ["none"],
        )


@pytest.fixture(scope="module")
def native(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server with no HSM module, so its default slot is the native token; one per test module
    (and key store: pytest_generate_tests)."""
    if getattr(request, "param", "database") == "hsm":
        yield from hsm_store_server(tmp_path_factory)
        return
    server = start_pkcs11_server(tmp_path_factory.mktemp("native"), None)
    yield server
    if server.process is not None:
        server.stop()
