"""Fork safety and many threads, against the real server and token: a forked child sees
CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize, then works with a context of
its own, while the parent's sessions, login and threads carry on; many threads with a
session each call at once; pkcs11-tool's --test-fork and --test-threads pass; threads
calling through a server restart carry on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from testsupport.softhsm import Token, start_pkcs11_server, write_client_config
from testsupport.tools import pkcs11_tool, run

HOST = Path(__file__).with_name("fork_host.py")
NOT_INITIALIZED = "0x190"


def host(python: str, module_path: Path, env: dict[str, str], token: Token, mode: str) -> dict[str, str]:
    done = run([python, str(HOST), str(module_path), token.pin, mode], env)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def check_fork(values: dict[str, str]) -> None:
    assert values["initialize"] == values["slots"] == "0x0"
    assert values["parent_open"] == values["parent_login"] == "0x0"
    # The child: nothing inherited, not even the parent's session handle.
    assert values["child_getinfo_before"] == NOT_INITIALIZED
    assert values["child_parent_session"] == NOT_INITIALIZED
    assert values["child_initialize"] == values["child_slots"] == values["child_open"] == "0x0"
    assert values["child_state_before_login"] == "2"  # CKS_RW_PUBLIC_SESSION: its own context
    for key in ("child_login", "child_random", "child_digest", "child_finalize"):
        assert values[key] == "0x0", key
    assert values["child_status"] == "0"
    # The parent: still logged in (CKS_RW_USER_FUNCTIONS), its threads never failed.
    assert values["parent_session_after"] == "0x0" and values["parent_state_after"] == "3"
    assert values["parent_random_after"] == "0x0"
    assert values["thread_failures"] == "0" and int(values["thread_calls"]) > 0
    assert values["finalize"] == "0x0"


def test_a_forked_child_starts_uninitialized_and_the_parent_is_untouched(
    module_path: Path, ours: dict[str, str], token: Token
) -> None:
    check_fork(host(sys.executable, module_path, ours, token, "fork"))


def test_fork_in_a_host_of_another_python_version(
    module_path: Path, ours: dict[str, str], token: Token, other_python: str | None
) -> None:
    """Our interpreter in its own link-map namespace beside the host's, across fork."""
    if other_python is None:
        pytest.skip(
            "needs a Python of another minor version (pyenv's 3.9-3.13 under $PYENV_ROOT); without one "
            "the library inside a host of another version is not tested"
        )
    check_fork(host(other_python, module_path, ours, token, "fork"))


def test_many_threads_call_at_once(module_path: Path, ours: dict[str, str], token: Token) -> None:
    values = host(sys.executable, module_path, ours, token, "threads")
    assert values["thread_count"] == "16" and values["thread_errors"] == "0"
    assert values["thread_calls"] == str(16 * 25 * 2) and values["thread_failures"] == "0"
    assert values["finalize"] == "0x0"


def test_pkcs11_tool_test_fork(module_path: Path, ours: dict[str, str]) -> None:
    """(SoftHSM2 2.6.1 itself fails it: its child gets CKR_CRYPTOKI_ALREADY_INITIALIZED.)"""
    done = pkcs11_tool(module_path, ours, "--test-fork")
    assert done.returncode == 0, done.stderr
    assert "Calling C_Initialize in forked child process" in done.stdout
    assert "error" not in done.stderr.lower()


def test_pkcs11_tool_test_threads(module_path: Path, ours: dict[str, str], token: Token) -> None:
    """Four threads initialize with CKF_OS_LOCKING_OK while the main thread does, then list
    slots and tokens. (SoftHSM2 2.6.1 itself can crash here: its C_Initialize is not
    safe against a concurrent one.) The main thread's -M -T give the threads time to end:
    pkcs11-tool waits 30 s for threads still running when it is done."""
    threads = [arg for _ in range(4) for arg in ("--test-threads", "ILGISLT0")]
    done = pkcs11_tool(module_path, ours, *threads, "-L", "-M", "-T")
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "test_threads all threads have ended with CKR_OK" in output
    for thread in range(4):
        assert f"Test thread {thread} C_GetTokenInfo from slot_index 0" in output
        assert f"Test thread {thread} C_GetSlotList returned CKR_OK" in output
    returned = [line for line in output.splitlines() if " returned CKR_" in line]
    assert all(
        line.endswith(("CKR_OK", "C_Initialize  returned CKR_CRYPTOKI_ALREADY_INITIALIZED"))
        for line in returned
    ), returned
    assert f"token label        : {token.label}" in output


def test_threads_survive_a_server_restart(
    module_path: Path, token: Token, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Threads calling while the server stops and starts again: calls fail only with
    CKR_DEVICE_ERROR (the server is away, or went away with a request) or
    CKR_SESSION_HANDLE_INVALID (the session was lost), then work again in new sessions."""
    server = start_pkcs11_server(tmp_path_factory.mktemp("restarting"), token)
    config = write_client_config(tmp_path_factory.mktemp("restart-threads") / "pkcs11-kmip.toml", server)
    env = {**os.environ, "PKCS11_KMIP_CONFIG": str(config)}
    process = subprocess.Popen(
        [sys.executable, str(HOST), str(module_path), token.pin, "restart"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdin is not None and process.stdout is not None

    def count() -> int:
        process.stdin.write("count\n")  # type: ignore[union-attr]
        process.stdin.flush()  # type: ignore[union-attr]
        while not (line := process.stdout.readline()).startswith("count="):  # type: ignore[union-attr]
            assert line, "the host exited"
        return int(line.partition("=")[2])

    def calls_go_on(since: int) -> int:
        deadline = time.monotonic() + 30
        while (now := count()) < since + 50:
            assert time.monotonic() < deadline, f"no progress past {now} calls"
            time.sleep(0.1)
        return now

    try:
        before = calls_go_on(0)
        server.stop()
        time.sleep(0.5)  # calls made now find no server
        server.start()
        calls_go_on(count())
        assert count() > before
        output, _ = process.communicate("stop\n", timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
        if server.process is not None:
            server.stop()
    values = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    failures = dict(item.split(":") for item in values["failures"].split(",") if item)
    assert set(failures) <= {"0x30", "0xb3"}, failures  # CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID
    assert failures, "the restart went unnoticed: were the calls going to this server?"
    assert values["finalize"] == "0x0"
