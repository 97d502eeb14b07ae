"""A C host (c_host.c): dlopen RTLD_LOCAL, threads, fork, atexit, reload, broken installs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.cryptoki.module import version_pair

NOT_INITIALIZED = "0x190"
ALREADY_INITIALIZED = "0x191"
ARGUMENTS_BAD = "0x7"
GENERAL_ERROR = "0x5"
FUNCTION_NOT_SUPPORTED = "0x54"


def test_entry_points_answer_from_c_without_starting_python(
    run_c: Callable[..., Any], module_path: Path, scrubbed_env: dict[str, str]
) -> None:
    run = run_c(module_path, "basic", env=scrubbed_env)
    assert run["getfunctionlist"] == "0x0"
    assert run["getfunctionlist_version"] == "2.40"
    assert run["getinterface"] == "0x0"
    assert run["interface"] == "PKCS 11 3.0"
    assert run["interfacelist_count_rv"] == "0x0"
    assert run["interfacelist_count"] == "2"
    assert run["interfacelist_small"] == "0x150"  # CKR_BUFFER_TOO_SMALL
    assert run["interfacelist_rv"] == "0x0"
    assert run["interfacelist"] == "PKCS 11 3.0,PKCS 11 2.40"
    assert run["getinterface_240"] == "0x0"
    assert run["getinterface_240_version"] == "2.40"
    assert run["getinterface_unknown"] == ARGUMENTS_BAD
    assert run["waitforslotevent_before_initialize"] == NOT_INITIALIZED
    assert run["python_before_initialize"] == "0"
    assert run["getinfo_before_initialize"] == NOT_INITIALIZED


def test_initialize_getinfo_finalize_in_a_scrubbed_environment(
    run_c: Callable[..., Any],
    module_path: Path,
    scrubbed_env: dict[str, str],
    build_libpython: Path,
) -> None:
    """PATH=/usr/bin:/bin and bogus PYTHONHOME/PYTHONPATH: the library finds its
    environment from its own location, not from the host's variables."""
    run = run_c(module_path, "basic", env=scrubbed_env)
    assert run.returncode == 0, run.stderr
    assert run["initialize_partial_mutexes"] == ARGUMENTS_BAD
    assert run["initialize_reserved"] == ARGUMENTS_BAD
    assert run["initialize"] == "0x0"
    assert run["python_after_initialize"] == "1"
    assert run["libpython"] == str(build_libpython)
    assert run["initialize_again"] == ALREADY_INITIALIZED
    assert run["getinfo"] == "0x0"
    assert run["manufacturer"] == "pkcs11-kmip".ljust(32) + "|"
    assert run["description"] == "PKCS#11 over KMIP 2.0".ljust(32) + "|"
    assert run["cryptoki"] == "3.0"
    assert run["flags"] == "0"
    assert run["library"] == "{}.{}".format(*version_pair(version("pkcs11-kmip")))
    assert run["getinfo_null"] == ARGUMENTS_BAD
    assert run["getslotlist"] == "0x0"
    assert run["waitforslotevent"] == FUNCTION_NOT_SUPPORTED
    assert run["finalize_reserved"] == ARGUMENTS_BAD
    assert run["finalize"] == "0x0"
    assert run["finalize_again"] == NOT_INITIALIZED
    assert run["getinfo_after_finalize"] == NOT_INITIALIZED
    assert run["reinitialize"] == "0x0"
    assert run["refinalize"] == "0x0"
    assert run.stderr == ""


def test_loader_path_cannot_substitute_another_libpython(
    run_c: Callable[..., Any], module_path: Path, build_libpython: Path
) -> None:
    """Debian's own libpython3.11.so.1.0 is on the default loader path."""
    env = dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu:/usr/lib")
    run = run_c(module_path, "basic", env=env)
    assert run["initialize"] == "0x0"
    assert run["libpython"] == str(build_libpython)


def test_concurrent_threads(run_c: Callable[..., Any], module_path: Path) -> None:
    run = run_c(module_path, "threads")
    assert run.returncode == 0, run.stderr
    assert run["thread_calls_positive"] == "1"
    assert run["thread_failure"] == "0x0"
    assert run["finalize"] == "0x0"


def test_fork_while_threads_are_inside_the_library(run_c: Callable[..., Any], module_path: Path) -> None:
    """Children forked while other threads hold the GIL must not deadlock; each
    starts uninitialized (PKCS#11) and can initialize and use the library."""
    run = run_c(module_path, "fork")
    assert run.returncode == 0, run.stderr
    for child in range(5):
        assert run[f"child{child}_status"] == "0", run.stdout
        assert run[f"child{child}_getinfo_uninitialized"] == NOT_INITIALIZED
        assert run[f"child{child}_initialize"] == "0x0"
        assert run[f"child{child}_finalize"] == "0x0"
    assert run["child0_getinfo"] == "0x0"
    assert run["thread_failure"] == "0x0"
    assert run["parent_getinfo"] == "0x0"
    assert run["finalize"] == "0x0"


def test_finalize_from_an_atexit_handler(run_c: Callable[..., Any], module_path: Path) -> None:
    run = run_c(module_path, "atexit")
    assert run.returncode == 0, run.stderr
    assert run["done"] == "1"
    assert run["atexit_finalize"] == "0x0"


def test_unload_and_reload(run_c: Callable[..., Any], module_path: Path) -> None:
    run = run_c(module_path, "reload")
    assert run.returncode == 0, run.stderr
    assert run["dlclose"] == "0"
    assert run["reload_initialize"] == "0x0"
    assert run["reload_getinfo"] == "0x0"
    assert run["reload_finalize"] == "0x0"


def test_loaded_by_a_relative_path(run_c: Callable[..., Any], module_path: Path) -> None:
    run = run_c("./" + module_path.name, "initialize", cwd=module_path.parent)
    assert run["initialize"] == "0x0", run.stderr


def test_failed_start_is_an_error_with_a_reason(
    run_c: Callable[..., Any], module_path: Path, embed_path: Path, tmp_path: Path
) -> None:
    """Both libraries, but no package around them: cffi would report CKR_OK (0)."""
    for library in (module_path, embed_path):
        shutil.copy(library, tmp_path)
    run = run_c(tmp_path / module_path.name, "initialize")
    assert run.returncode == 0
    assert run["initialize"] == GENERAL_ERROR
    assert run["initialize_again"] == GENERAL_ERROR
    assert "cannot start the Python side" in run.stderr
    assert "No module named 'pkcs11_kmip'" in run.stderr
    assert run.stderr.startswith("pkcs11-kmip[")


def test_missing_embed_library_is_an_error_with_a_reason(
    run_c: Callable[..., Any], module_path: Path, tmp_path: Path
) -> None:
    shutil.copy(module_path, tmp_path)
    run = run_c(tmp_path / module_path.name, "initialize")
    assert run["initialize"] == GENERAL_ERROR
    assert "libpkcs11_kmip_python.so is missing" in run.stderr


@pytest.mark.parametrize("mode", ["basic", "threads"])
def test_stderr_is_quiet_when_all_is_well(run_c: Callable[..., Any], module_path: Path, mode: str) -> None:
    run = run_c(module_path, mode)
    assert run.stderr == ""
