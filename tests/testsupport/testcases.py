"""OASIS test-case files outside the profiles, replayed through the conformance runner.

Each file runs with a client identity of its own, as test_profiles.py runs the profile
files. A file no conformant server can pass is listed with its reason and the beginning
of the runner's first difference, and marked xfail(strict): it must fail exactly so.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.conformance import CaseResult, run_files
from testsupport.server import RunningServer

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"
CND02 = TESTCASES / "kmip-testcases-v2.0-cnd02"
V21 = TESTCASES / "kmip-testcases-v2.1-cn01-partial"

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
    """Run one file against `server`; it passes, or fails exactly as listed."""
    if not path.exists():
        raise pytest.UsageError(f"KMIP reference data missing: {path}")
    with server.client(identity or f"conformance-{path.stem}") as client:
        (result,) = run_files([path], client.exchange)
    if listed is not None and result.difference is not None:
        assert result.difference.startswith(listed[1]), result.difference
        pytest.xfail(result.difference)
    assert result.passed, result.line()
    return result
