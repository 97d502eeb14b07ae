"""The OASIS profile files the conformance runner replays, and which of them fail today.

`profile_file` is parametrized over every file of the Baseline, Symmetric and
Asymmetric Key Lifecycle, Storage Array, Tape Library, Opaque Managed Object Store,
Query and Cryptographic Services Block Cipher, Asymmetric/Cryptographic (CS-AC: Sign,
Signature Verify, MAC, Hash, RSA-OAEP) and RNG profiles for KMIP 1.4, 2.0 and 2.1
(mandatory and optional). A file listed in
expected_failures.toml is marked xfail(strict=True) with its reason, so a file that
starts to pass fails the run until its entry is removed. The reference data lives
beside the repository; its absence is an error, never a reason to skip.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from testsupport.testcases import ExpectedFailure, Listed, all_profile_files, params, profile_files
from testsupport.testcases import expected_failures as read_expected_failures

EXPECTED_FAILURES = Path(__file__).with_name("expected_failures.toml")


@cache
def expected_failures() -> dict[str, ExpectedFailure]:
    """File name -> why it fails and how, from expected_failures.toml."""
    return read_expected_failures(EXPECTED_FAILURES)


@pytest.fixture(scope="session")
def testcase_files() -> dict[str, Path]:
    """Every profile test-case file of KMIP 1.4, 2.0 and 2.1, by name."""
    return all_profile_files()


@pytest.fixture(scope="session")
def profile_paths() -> list[Path]:
    """The files of the profiles under test, in name order."""
    return profile_files()


@pytest.fixture(scope="session")
def failure_categories() -> dict[str, tuple[str, str, str]]:
    """File name -> (category, reason, difference) of every expected_failures.toml entry."""
    return {name: (e.category, e.reason, e.difference) for name, e in expected_failures().items()}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`profile_file` with `listed`: (why, the difference's beginning) from expected_failures.toml, or None.

    A listed file is marked xfail(strict=True) that only an imperative `pytest.xfail()`
    satisfies (testsupport.testcases.params): `replay` calls it when the file failed
    exactly as listed, so passing (XPASS) and failing differently both fail the run.
    """
    if "profile_file" in metafunc.fixturenames:
        failures = expected_failures()
        listed: dict[Path, Listed] = {
            path: (f"{e.category}: {e.reason}", e.difference) if (e := failures.get(path.stem)) else None
            for path in profile_files()
        }
        metafunc.parametrize(("profile_file", "listed"), params(listed))
