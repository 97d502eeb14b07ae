"""`pkcs11-kmip conformance run` as a user runs it: the installed command, in a subprocess."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

from testsupport.server import RunningServer, cli


def conformance(
    server: RunningServer, identity: str, *args: str | Path, address: str | None = None
) -> subprocess.CompletedProcess[str]:
    who = server.client_identity(identity)
    command = [
        *cli(),
        "conformance",
        "run",
        "--server",
        address or f"{server.host}:{server.port}",
        "--cert",
        str(who.cert),
        "--key",
        str(who.key),
        "--ca",
        str(who.ca),
        *map(str, args),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def is_second_object_difference(text: str) -> bool:
    """The difference the mutated file must produce (the identifier itself is the server's)."""
    start = "message 2 / BatchItem / ResponsePayload / UniqueIdentifier: expected $UNIQUE_IDENTIFIER_1, got '"
    return text.startswith(start) and text.endswith("', which is $UNIQUE_IDENTIFIER_0")


def test_a_passing_file_prints_pass_and_the_summary(
    kmip_server: RunningServer, testcase_files: dict[str, Path]
) -> None:
    done = conformance(kmip_server, "conformance-cli-pass", testcase_files["OMOS-M-1-21"])
    assert done.stdout.splitlines() == ["PASS OMOS-M-1-21", "1 passed, 0 failed"], done.stderr
    assert done.returncode == 0


def test_verbose_lists_the_tolerances_applied(
    kmip_server: RunningServer, testcase_files: dict[str, Path]
) -> None:
    done = conformance(kmip_server, "conformance-cli-verbose", "-v", testcase_files["SASED-M-1-21"])
    assert done.stdout.splitlines() == [
        "PASS SASED-M-1-21",
        "  tolerated: message 1 / BatchItem / ResponsePayload: "
        "the server describes itself: only the kinds of answer are compared",
        "1 passed, 0 failed",
    ], done.stderr
    assert done.returncode == 0


def test_a_failing_file_prints_its_first_difference_and_exits_1(
    kmip_server: RunningServer, testcase_files: dict[str, Path], tmp_path: Path
) -> None:
    # The same file, expecting Destroy to name a second object: the server names the first.
    original = testcase_files["OMOS-M-1-21"].read_text()
    head, tail = original.rsplit('value="$UNIQUE_IDENTIFIER_0"', 1)
    wrong = tmp_path / "OMOS-WRONG.xml"
    wrong.write_text(f'{head}value="$UNIQUE_IDENTIFIER_1"{tail}')
    done = conformance(kmip_server, "conformance-cli-fail", wrong, testcase_files["OMOS-M-1-21"])
    lines = done.stdout.splitlines()
    assert is_second_object_difference(lines[0].removeprefix("FAIL OMOS-WRONG: ")), done.stdout + done.stderr
    assert lines[1:] == ["PASS OMOS-M-1-21", "1 passed, 1 failed"]
    assert done.returncode == 1

    as_json = conformance(kmip_server, "conformance-cli-fail", "--json", wrong)
    document = json.loads(as_json.stdout)
    assert (document["passed"], document["failed"]) == (0, 1)
    (result,) = document["results"]
    assert result["name"] == "OMOS-WRONG" and result["file"] == str(wrong) and not result["passed"]
    assert is_second_object_difference(result["difference"])
    assert result["messages"] == 1
    assert as_json.returncode == 1


def test_an_unreachable_server_fails_every_file_and_a_bad_address_is_a_usage_error(
    kmip_server: RunningServer, testcase_files: dict[str, Path]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = conformance(
        kmip_server, "conformance-cli-pass", testcase_files["OMOS-M-1-21"], address=f"127.0.0.1:{port}"
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"FAIL OMOS-M-1-21: message 1: no response: cannot reach 127.0.0.1:{port}")
    assert lines[1:] == ["0 passed, 1 failed"] and done.returncode == 1

    bad = conformance(kmip_server, "conformance-cli-pass", testcase_files["OMOS-M-1-21"], address="host:port")
    assert bad.returncode == 2 and "--server takes HOST:PORT" in bad.stderr
