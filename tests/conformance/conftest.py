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

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"
COVERAGE = TESTCASES.parent / "tables" / "profile-testcase-coverage.json"
VERSION_FOLDERS = ("kmip-profiles-v1.4", "kmip-profiles-v2.0", "kmip-profiles-v2.1")
PROFILES = ("BL", "SKLC", "AKLC", "SASED", "TL", "OMOS", "QS", "CS-BC", "CS-AC", "CS-RNG", "SKFF", "AX")
EXPECTED_FAILURES = Path(__file__).with_name("expected_failures.toml")


def _require(path: Path) -> Path:
    if not path.exists():
        raise pytest.UsageError(f"KMIP reference data missing: {path} (expected beside the repository)")
    return path


def profile_of(path: Path) -> str:
    """The profile a file belongs to: its name's first part, or two for the CS-* profiles."""
    return next((p for p in PROFILES if path.name.startswith(f"{p}-")), path.name.split("-", 1)[0])


@cache
def all_files() -> dict[str, Path]:
    """Every profile test-case file of the three versions, by name (names are unique)."""
    files = [path for folder in VERSION_FOLDERS for path in _require(TESTCASES / folder).glob("*/*.xml")]
    by_name = {path.stem: path for path in files}
    assert len(by_name) == len(files), "two test-case files share a name"
    return by_name


@cache
def profile_files() -> list[Path]:
    return sorted((p for p in all_files().values() if profile_of(p) in PROFILES), key=lambda p: p.stem)


@dataclass(frozen=True)
class Listed:
    category: str
    reason: str
    difference: str  # the beginning of the runner's first difference


@cache
def expected_failures() -> dict[str, Listed]:
    """File name -> why it fails and how, from expected_failures.toml."""
    tables = tomllib.loads(EXPECTED_FAILURES.read_text(encoding="utf-8"))
    entries: dict[str, Listed] = {}
    for category, table in tables.items():
        for name, entry in table.items():
            assert name not in entries, f"{name} is listed twice in {EXPECTED_FAILURES.name}"
            entries[name] = Listed(category, entry["reason"], entry["difference"])
    return entries


@pytest.fixture(scope="session")
def testcase_files() -> dict[str, Path]:
    """Every profile test-case file of KMIP 1.4, 2.0 and 2.1, by name."""
    return all_files()


@pytest.fixture(scope="session")
def profile_paths() -> list[Path]:
    """The files of the profiles under test, in name order."""
    return profile_files()


@pytest.fixture(scope="session")
def failure_categories() -> dict[str, tuple[str, str, str]]:
    """File name -> (category, reason, difference) of every expected_failures.toml entry."""
    return {name: (e.category, e.reason, e.difference) for name, e in expected_failures().items()}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`profile_file` with `listed_difference`: how expected_failures.toml says it fails, or None.

    A listed file is marked xfail(strict=True) that only an imperative `pytest.xfail()`
    satisfies: the test calls it when the file failed exactly as listed, so passing
    (XPASS) and failing differently (an assertion) both fail the run.
    """
    if "profile_file" in metafunc.fixturenames:
        failures = expected_failures()
        params = []
        for path in profile_files():
            entry = failures.get(path.stem)
            marks = []
            if entry is not None:
                reason = f"{entry.category}: {entry.reason}"
                marks.append(pytest.mark.xfail(strict=True, raises=pytest.xfail.Exception, reason=reason))
            difference = entry.difference if entry is not None else None
            params.append(pytest.param(path, difference, id=path.stem, marks=marks))
        metafunc.parametrize(("profile_file", "listed_difference"), params)
