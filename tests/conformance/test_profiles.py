"""Our server against the OASIS profile test cases, through the conformance runner.

Each file runs with a client identity of its own, so nothing another file leaves can
change its outcome; a file that works on objects an earlier file of its scenario left
(TL-M-3 on TL-M-2's key) runs that file first, in the same identity.
"""

from __future__ import annotations

import json
from pathlib import Path

from testsupport.server import RunningServer
from testsupport.testcases import PROFILES, Listed, replay

COVERAGE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "kmip"
    / "tables"
    / "profile-testcase-coverage.json"
)


def test_profile_file_passes(kmip_server: RunningServer, profile_file: Path, listed: Listed) -> None:
    replay(kmip_server, profile_file, listed)


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
