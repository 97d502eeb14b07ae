"""The PyPI conformance checker pkcs11-check (its smoke set) on SoftHSM2 directly and on
our library with SoftHSM2 behind the server: the same results, but for what follows from
our library being a Cryptoki 3.0 module where SoftHSM2 2.6.1 is a 2.40 one (it has no
C_GetInterfaceList): three interface checks pass through us that SoftHSM2 skips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import run

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / ".venv-check" / "bin" / "pkcs11-check"  # made by scripts/setup (Python >= 3.12)

# The differences, each explained: unit -> (more passed through us, skip reasons only SoftHSM2 gives,
# skip reasons only we give).
INTERFACE_3_0 = {
    "test_interface.py": (
        3,
        {"module did not negotiate v3.0+", "Function C_GetInterfaceList not present in module"},
        set(),
    ),
    "test_interface_negotiation.py": (0, {"v2.40 module - no C_GetInterfaceList"}, {"Not a v2.40 module"}),
}


def check(module: Path, env: dict[str, str], token: Token, output: Path) -> dict[str, Any]:
    done = run(
        [str(CHECKER), "test", "--module", str(module), "--pin", token.pin, "--slot", "0",
         "--marker", "smoke", "--output", "json", "--output-file", str(output)],
        env,
        cwd=output.parent,  # it keeps state files in its working directory
        timeout=600,  # about a minute on an idle machine: it starts a Python process per unit
    )  # fmt: skip
    assert output.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads(output.read_text())
    return results


def units(results: dict[str, Any]) -> dict[str, tuple[dict[str, int], set[str]]]:
    return {
        unit["target"].rsplit("/", 1)[1]: (unit["counts"], set(unit.get("skip_reasons") or {}))
        for unit in results["units"]
    }


def test_the_same_results_as_softhsm_directly(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path: Path
) -> None:
    if not CHECKER.exists():
        pytest.skip(
            "pkcs11-check is not installed (scripts/setup puts it in .venv-check from a Python >= 3.12; "
            "none here): parity with SoftHSM2 under pkcs11-check is not tested"
        )
    direct = check(SOFTHSM_MODULE, token.env, token, tmp_path / "direct.json")
    forwarded = check(module_path, ours, token, tmp_path / "ours.json")
    for results in (direct, forwarded):
        summary = results["summary"]
        assert summary["failed"] == summary["error"] == summary["crashed"] == summary["timeout"] == 0, summary
        assert not summary["incomplete"] and summary["passed"] > 100
    direct_units, forwarded_units = units(direct), units(forwarded)
    assert set(direct_units) == set(forwarded_units)
    for name, (direct_counts, direct_skips) in direct_units.items():
        counts, skips = forwarded_units[name]
        more, only_direct, only_ours = INTERFACE_3_0.get(name, (0, set(), set()))
        assert counts["passed"] == direct_counts["passed"] + more, name
        assert counts["skipped"] == direct_counts["skipped"] - more, name
        assert direct_skips - skips == only_direct and skips - direct_skips == only_ours, name
    compared = run(
        [str(CHECKER), "compare-results", str(tmp_path / "direct.json"), str(tmp_path / "ours.json")],
        ours,
        cwd=tmp_path,
    )
    assert compared.returncode == 0 and "NO REGRESSIONS" in compared.stdout, compared.stdout
