"""Every OASIS profile file tests/conformance replays, against a server with the HSM key store.

The same files (testsupport.testcases.PROFILES, KMIP 1.4, 2.0, 2.1) run through the
conformance runner against `hsm_server`, each with a client identity of its own after
its prerequisites, as tests/conformance/test_profiles.py runs them against the database
store. A file must pass, or fail exactly as listed: in tests/hsm_store/expected_failures.toml
if the HSM store is the reason (what SoftHSM2 or python-pkcs11 cannot do, with the
reason), else in tests/conformance/expected_failures.toml (files no server can pass).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import PROFILES, Listed, expected_failures, params, profile_files, replay

HSM_FAILURES = Path(__file__).with_name("expected_failures.toml")
STORE_FAILURES = Path(__file__).resolve().parents[1] / "conformance" / "expected_failures.toml"


def _files() -> dict[Path, Listed]:
    """Each profile file -> how it fails on the HSM store: the HSM's entry, else the database store's."""
    listed = {**expected_failures(STORE_FAILURES), **expected_failures(HSM_FAILURES)}
    return {
        path: (entry.reason, entry.difference) if (entry := listed.get(path.stem)) else None
        for path in profile_files()
    }


FILES = _files()


@pytest.mark.parametrize(("path", "listed"), params(FILES))
def test_profile_file_on_the_hsm_store(hsm_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(hsm_server, path, listed)


def test_every_hsm_failure_is_a_profile_file_with_a_reason() -> None:
    names = {path.stem for path in FILES}
    for name, entry in expected_failures(HSM_FAILURES).items():
        assert name in names, f"{HSM_FAILURES.name} lists {name}, which is not a file of {PROFILES}"
        assert len(entry.reason) > 20 and entry.difference.startswith("message "), name
    assert len(names) == 230  # the files tests/conformance/test_profiles.py replays
