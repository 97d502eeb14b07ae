"""The OASIS test case of Set Constraints / Get Constraints (TC-MD-24-21) through the runner.

Constraints are server-wide and only administrators may set them, so the file runs on a
server of its own, as a client the administrators made one of them; the rules it sets
(AES, at least 256 bits in Group1 and 192 elsewhere) must come back from Get
Constraints exactly as sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport.admin import admin
from testsupport.server import RunningServer, start_server
from testsupport.testcases import V21, Listed, params, replay

FILES = [V21 / "TC-MD-24-21.xml"]


@pytest.fixture(scope="module")
def policy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("policy-conformance"))
    admin(running.data_dir, "users", "add", "conformance-policy", "--admin", "--no-password")
    yield running
    running.stop()


@pytest.mark.parametrize(("path", "listed"), params(dict.fromkeys(FILES)))
def test_testcase_file(policy_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(policy_server, path, listed, identity="conformance-policy")
