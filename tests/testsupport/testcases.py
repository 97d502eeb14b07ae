"""OASIS test-case files replayed through the conformance runner: the profile files and the others.

Each file runs with a client identity of its own, after the files it needs (the
runner's `prerequisites`, in the same identity). A file no conformant server can pass
is listed with its reason and the beginning of the runner's first difference, and
marked xfail(strict): it must fail exactly so. The profile list and the profile files
live here so the database store (tests/conformance) and the HSM store (tests/hsm_store)
replay the same set.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.conformance import CaseResult, prerequisites, run_files
from testsupport.server import RunningServer

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"
CND02 = TESTCASES / "kmip-testcases-v2.0-cnd02"
V21 = TESTCASES / "kmip-testcases-v2.1-cn01-partial"
PROFILE_FOLDERS = ("kmip-profiles-v1.4", "kmip-profiles-v2.0", "kmip-profiles-v2.1")
PROFILES = ("BL", "SKLC", "AKLC", "SASED", "TL", "OMOS", "QS", "CS-BC", "CS-AC", "CS-RNG", "SKFF", "AX")
"""The profiles whose files every store replays (tests/conformance, tests/hsm_store)."""


def _require(path: Path) -> Path:
    if not path.exists():
        raise pytest.UsageError(f"KMIP reference data missing: {path} (expected beside the repository)")
    return path


def profile_of(path: Path) -> str:
    """The profile a file belongs to: its name's first part, or two for the CS-* profiles."""
    return next((p for p in PROFILES if path.name.startswith(f"{p}-")), path.name.split("-", 1)[0])


@cache
def all_profile_files() -> dict[str, Path]:
    """Every profile test-case file of KMIP 1.4, 2.0 and 2.1, by name (names are unique)."""
    files = [path for folder in PROFILE_FOLDERS for path in _require(TESTCASES / folder).glob("*/*.xml")]
    by_name = {path.stem: path for path in files}
    assert len(by_name) == len(files), "two test-case files share a name"
    return by_name


@cache
def profile_files() -> list[Path]:
    """The files of PROFILES, in name order."""
    return sorted(
        (p for p in all_profile_files().values() if profile_of(p) in PROFILES), key=lambda p: p.stem
    )


@dataclass(frozen=True)
class ExpectedFailure:
    """An expected_failures.toml entry: its table, why the file fails, how it fails."""

    category: str
    reason: str
    difference: str


def expected_failures(toml: Path) -> dict[str, ExpectedFailure]:
    """File name -> its entry, from an expected_failures.toml (a table per category)."""
    tables = tomllib.loads(toml.read_text(encoding="utf-8"))
    entries: dict[str, ExpectedFailure] = {}
    for category, table in tables.items():
        for name, entry in table.items():
            assert name not in entries, f"{name} is listed twice in {toml}"
            entries[name] = ExpectedFailure(category, entry["reason"], entry["difference"])
    return entries


Listed = tuple[str, str] | None
"""None: the file passes; else (why it cannot, the beginning of the runner's first difference)."""


def params(files: Mapping[Path, Listed]) -> list[Any]:
    """pytest parameters (path, listed) for `files`, the listed ones xfail(strict)."""
    return [
        pytest.param(
            path,
            listed,
            id=path.stem,
            marks=[pytest.mark.xfail(strict=True, raises=pytest.xfail.Exception, reason=listed[0])]
            if listed
            else [],
        )
        for path, listed in files.items()
    ]


def replay(
    server: RunningServer, path: Path, listed: Listed = None, identity: str | None = None
) -> CaseResult:
    """Run one file against `server` after its prerequisites; it passes, or fails exactly as listed."""
    before = [all_profile_files()[name] for name in prerequisites(path.stem)]
    with server.client(identity or f"conformance-{path.stem}") as client:
        *earlier, result = run_files([*before, _require(path)], client.exchange)
    for done in earlier:
        assert done.passed, f"prerequisite {done.line()}"
    if listed is not None and result.difference is not None:
        assert result.difference.startswith(listed[1]), result.difference
        pytest.xfail(result.difference)
    assert result.passed, result.line()
    assert result.messages > 0, f"{path} holds no request"
    return result
