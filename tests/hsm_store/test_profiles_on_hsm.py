"""The SKLC, AKLC, CS-BC and CS-AC profile files against a server with the HSM key store.

Every file of those four profiles (KMIP 1.4, 2.0, 2.1) runs through the conformance
runner against `hsm_server`, each with a client identity of its own, as
tests/conformance runs them against the database store. A file must pass, or fail
exactly as listed: in tests/hsm_store/expected_failures.toml if the HSM store is the
reason (what SoftHSM2 or python-pkcs11 cannot do, with the reason), else in
tests/conformance/expected_failures.toml (files no server can pass).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import TESTCASES, Listed, params, replay

PROFILES = ("SKLC", "AKLC", "CS-BC", "CS-AC")
VERSION_FOLDERS = ("kmip-profiles-v1.4", "kmip-profiles-v2.0", "kmip-profiles-v2.1")
HSM_FAILURES = Path(__file__).with_name("expected_failures.toml")
STORE_FAILURES = Path(__file__).resolve().parents[1] / "conformance" / "expected_failures.toml"


def _listed(path: Path) -> dict[str, tuple[str, str]]:
    """File name -> (reason, beginning of the first difference) of an expected_failures.toml."""
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        name: (entry["reason"], entry["difference"])
        for table in tables.values()
        for name, entry in table.items()
    }


def _files() -> dict[Path, Listed]:
    hsm, store = _listed(HSM_FAILURES), _listed(STORE_FAILURES)
    files = sorted(
        (path for folder in VERSION_FOLDERS for path in (TESTCASES / folder).glob("*/*.xml")),
        key=lambda path: path.stem,
    )
    chosen = [path for path in files if path.stem.startswith(tuple(f"{p}-" for p in PROFILES))]
    return {path: hsm.get(path.stem, store.get(path.stem)) for path in chosen}


FILES = _files()


@pytest.mark.parametrize(("path", "listed"), params(FILES))
def test_profile_file_on_the_hsm_store(hsm_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(hsm_server, path, listed)


def test_every_hsm_failure_is_a_file_of_these_profiles_with_a_reason() -> None:
    names = {path.stem for path in FILES}
    for name, (reason, difference) in _listed(HSM_FAILURES).items():
        assert name in names, f"{HSM_FAILURES.name} lists {name}, which is not a file of {PROFILES}"
        assert len(reason) > 20 and difference.startswith("message "), name
    assert len(names) == 133  # 43 of KMIP 1.4, 43 of 2.0, 47 of 2.1
