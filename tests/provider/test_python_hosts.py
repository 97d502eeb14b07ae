"""Python processes (ctypes) as hosts: a host of the build's version shares its
interpreter; other versions get ours in a separate link-map namespace. Never a hang."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def check_works(run: Any) -> None:
    assert run.returncode == 0, run.stderr
    assert run["initialize"] == "0x0", run.stderr
    assert run["getinfo"] == "0x0"
    assert run["manufacturer"] == "pkcs11-kmip".ljust(32) + "|"
    assert run["cryptoki"] == "3.0"
    assert run["done"] == "1"


def test_same_version_host_shares_its_interpreter(run_py: Callable[..., Any]) -> None:
    run = run_py(sys.executable)
    check_works(run)
    assert run["host_sees_our_modules"] == "1"
    assert run["finalize"] == "0x0"


def test_same_version_other_build_host(run_py: Callable[..., Any]) -> None:
    """Debian's /usr/bin/python3.11 (statically linked, another patch release)."""
    debian = Path(f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}")
    if not debian.exists():
        pytest.skip(f"no {debian} (Debian's python3): a same-version host of another build is not tested")
    run = run_py(str(debian))
    check_works(run)
    assert run["host_sees_our_modules"] == "1"


@pytest.mark.parametrize("mode", ["threads", "fork"])
def test_same_version_host_threads_and_fork(run_py: Callable[..., Any], mode: str) -> None:
    run = run_py(sys.executable, mode)
    check_works(run)
    assert run["thread_failures"] == "0"
    assert run["finalize"] == "0x0"
    if mode == "fork":
        for child in range(3):
            assert run[f"child{child}_status"] == "0"
            assert run[f"child{child}_initialize"] == "0x0"
            assert run[f"child{child}_getinfo"] == "0x0"


@pytest.mark.parametrize("mode", ["atexit", "finalizing"])
def test_finalize_while_the_host_interpreter_exits(run_py: Callable[..., Any], mode: str) -> None:
    """From a Python atexit function, and from a destructor run during interpreter
    shutdown (answered in C, without entering Python)."""
    run = run_py(sys.executable, mode)
    check_works(run)
    assert run["atexit_finalize" if mode == "atexit" else "del_finalize"] == "0x0"


def test_host_that_used_capsule_attributes(module_path: Path) -> None:
    """cffi < 3.12 headers spin on PyCapsule_Type.tp_version_tag as a start-up lock; a
    host that looked up an attribute on a capsule has a non-zero tag there."""
    script = (
        "import ctypes, datetime, sys\n"
        "hasattr(datetime.datetime_CAPI, 'x')\n"
        "lib = ctypes.CDLL(sys.argv[1])\n"
        "lib.C_Initialize.restype = ctypes.c_ulong\n"
        "print(f'initialize=0x{lib.C_Initialize(None):x}')\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, str(module_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "initialize=0x0", done.stderr


@pytest.mark.parametrize("mode", ["basic", "threads", "fork", "atexit", "finalizing"])
def test_other_version_host(run_py: Callable[..., Any], other_python: str | None, mode: str) -> None:
    """A different Python version in the process: our interpreter runs in its own
    link-map namespace (dlmopen) beside the host's and the calls work."""
    if other_python is None:
        pytest.skip(
            "needs a Python of another minor version (pyenv's 3.9-3.13 under $PYENV_ROOT); without one "
            "the library inside a host of another version is not tested"
        )
    run = run_py(other_python, mode)
    check_works(run)
    assert run["host_sees_our_modules"] == "0"
    if mode in ("basic", "threads", "fork"):
        assert run["finalize"] == "0x0"
    if mode == "fork":
        for child in range(3):
            assert run[f"child{child}_status"] == "0"
            assert run[f"child{child}_getinfo"] == "0x0"
