"""Our server against the OASIS profile test cases, through the conformance runner.

Each file runs with a client identity of its own, so nothing another file leaves can
change its outcome; a file that works on objects an earlier file of its scenario left
(TL-M-3 on TL-M-2's key) runs that file first, in the same identity.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pkcs11_kmip.conformance import prerequisites, run_files
from testsupport.server import RunningServer

COVERAGE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "kmip"
    / "tables"
    / "profile-testcase-coverage.json"
)
PROFILES = ("BL", "SKLC", "AKLC", "SASED", "TL", "OMOS", "QS", "CS-BC", "CS-AC", "CS-RNG", "SKFF", "AX")


def test_profile_file_passes(
    kmip_server: RunningServer,
    profile_file: Path,
    listed_difference: str | None,
    testcase_files: dict[str, Path],
) -> None:
    before = [testcase_files[name] for name in prerequisites(profile_file.stem)]
    with kmip_server.client(f"conformance-{profile_file.stem}") as client:
        results = run_files([*before, profile_file], client.exchange)
    for result in results[:-1]:
        assert result.passed, f"prerequisite {result.line()}"
    result = results[-1]
    if listed_difference is not None and result.difference is not None:
        assert result.difference.startswith(listed_difference), (
            f"{result.name} fails differently from expected_failures.toml: {result.difference}"
        )
        pytest.xfail(result.difference)
    assert result.passed, result.line()
    assert result.messages > 0


def test_the_file_set_is_what_the_profiles_hold(
    profile_paths: list[Path], testcase_files: dict[str, Path]
) -> None:
    """Every file the coverage table lists for these profiles (2.0, 2.1) is run, and no other."""
    coverage = json.loads(COVERAGE.read_text(encoding="utf-8"))
    names = {path.stem for path in profile_paths}
    for version, suffix in (("2.0", "-20"), ("2.1", "-21")):
        listed = {
            Path(name).stem
            for profile in PROFILES
            for name in coverage[version].get(profile, {}).get("files", [])
        }
        assert listed <= set(testcase_files), f"the {version} table lists files that are not there"
        assert listed == {name for name in names if name.endswith(suffix)}
    assert {next(p for p in PROFILES if name.startswith(f"{p}-")) for name in names} == set(PROFILES)
    # 70 of KMIP 1.4, 71 of 2.0, 89 of 2.1 (CS-BC: 17, 21, 21; CS-AC 18 and CS-RNG 5 each;
    # SKFF 12, 11, 12; AX 2 each)
    assert len(names) == 230


def test_every_expected_failure_names_a_profile_file_with_a_reason(
    profile_paths: list[Path], failure_categories: dict[str, tuple[str, str, str]]
) -> None:
    names = {path.stem for path in profile_paths}
    for name, (category, reason, difference) in failure_categories.items():
        assert name in names, f"expected_failures.toml lists {name}, which is not a profile file"
        assert category in ("missing_feature", "server_bug", "cannot_pass"), category
        assert len(reason) > 20, f"{name}: give the reason, not a word"
        assert difference.startswith("message "), f"{name}: give the runner's first difference"
