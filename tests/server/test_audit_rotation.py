"""Audit log rotation ([log] audit_max_bytes, audit_keep): no line lost, whoever rotates.

The unit tests write through several AuditLog objects on one path, as the server's
processes and the admin CLI do; the last one runs a real server of two processes over
TLS with a small size and counts every request line across the rotated files.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from pkcs11_kmip.kmip.messages.payloads import DiscoverVersionsRequest
from pkcs11_kmip_server.audit import FOLLOW_EVERY, AuditLog
from testsupport.server import start_server


def lines_of(directory: Path) -> list[dict[str, object]]:
    """Every line of audit.log and its rotated files, oldest file first."""
    files = [*sorted(directory.glob("audit-*.log")), directory / "audit.log"]
    return [json.loads(line) for path in files if path.exists() for line in path.read_text().splitlines()]


def test_a_full_file_is_renamed_aside_and_a_new_one_started(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.log", max_bytes=1000)
    for number in range(60):
        audit.admin("tester", "step", number=number)
    audit.close()
    rotated = sorted(tmp_path.glob("audit-*.log"))
    assert len(rotated) >= 3
    assert all(1000 <= path.stat().st_size < 1200 for path in rotated)  # past the size by one line
    assert [line["number"] for line in lines_of(tmp_path)] == list(range(60))
    assert all(oct(path.stat().st_mode & 0o777) == "0o600" for path in [*rotated, tmp_path / "audit.log"])


def test_writers_sharing_the_file_follow_each_others_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    writers = [
        AuditLog(path, max_bytes=700),
        AuditLog(path, max_bytes=700),
        AuditLog(path),
    ]  # the last: the CLI
    for number in range(90):
        writers[number % 3].admin("tester", "step", number=number)
    for writer in writers:
        writer.close()
    assert len(list(tmp_path.glob("audit-*.log"))) >= 4
    assert sorted(line["number"] for line in lines_of(tmp_path)) == list(range(90))
    # Each rotated file holds whole lines only, and the current one is below the size again.
    assert path.stat().st_size < 700 + 120


def test_keep_removes_the_oldest_rotated_files_and_an_outside_rename_is_followed(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    audit = AuditLog(path, max_bytes=500, keep=2)
    for number in range(80):
        audit.admin("tester", "step", number=number)
    rotated = sorted(tmp_path.glob("audit-*.log"))
    assert len(rotated) == 2
    kept = [line["number"] for line in lines_of(tmp_path)]
    assert kept == list(range(kept[0], 80)) and kept[0] > 0  # the oldest lines went with their files
    os.rename(path, tmp_path / "audit.log.1")  # logrotate's way
    time.sleep(FOLLOW_EVERY + 0.1)  # writers look at the path at most once a second
    audit.admin("tester", "after logrotate")
    audit.close()
    assert json.loads(path.read_text())["action"] == "after logrotate"


def test_a_server_of_two_processes_rotates_without_losing_a_request_line(tmp_path: Path) -> None:
    server = start_server(tmp_path, processes=2)
    try:
        config = server.data_dir / "server.toml"
        text = re.sub(r"(?m)^audit_max_bytes = 0\b", "audit_max_bytes = 3000", config.read_text())
        config.write_text(text)
        server.stop()
        server.start()
        for _ in range(4):
            with server.client("admin") as kmip:  # new connections: both processes answer some
                for _ in range(15):
                    kmip.call(DiscoverVersionsRequest())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            requests = [line for line in lines_of(server.data_dir) if line["kind"] == "request"]
            discovered = [line for line in requests if line["items"][0]["operation"] == "Discover Versions"]
            if len(discovered) >= 60:
                break
            time.sleep(0.1)
        assert len(discovered) == 60
        assert len(list(server.data_dir.glob("audit-*.log"))) >= 2
    finally:
        if server.process is not None:
            server.stop()
