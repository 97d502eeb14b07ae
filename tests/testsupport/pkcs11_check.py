"""Running the PyPI conformance checker pkcs11-check (in .venv-check, made by scripts/setup)
on a module, and reading its JSON results per unit and per test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from testsupport.tools import run

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / ".venv-check" / "bin" / "pkcs11-check"
UNITS = next(ROOT.joinpath(".venv-check", "lib").glob("python3.*/site-packages/pkcs11_check/testcases"), None)
"""The checker's test units (test_*.py), where a run names them by path."""


def check(module: Path, env: dict[str, str], pin: str, output: Path, *targets: str) -> dict[str, Any]:
    """The checker's results for these units (file names in UNITS) of the module's first slot.
    `output` is in a directory of its own: the checker keeps state files beside it."""
    assert UNITS is not None, "pkcs11-check is not installed"
    done = run(
        [str(CHECKER), "test", "--module", str(module), "--pin", pin, "--slot", "0",
         "--output", "json", "--output-file", str(output), *(str(UNITS / target) for target in targets)],
        env,
        cwd=output.parent,
        timeout=900,  # a Python process per unit: 1-3 minutes for a dozen units on a busy machine
    )  # fmt: skip
    assert output.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    results: dict[str, Any] = json.loads(output.read_text())
    return results


def outcomes(results: dict[str, Any]) -> dict[str, str]:
    """Each test that did not pass (unit file::test id) and its outcome (failed, error,
    skipped, xfailed, xpassed): the checker lists only those per unit."""
    found = {}
    for unit in results["units"]:
        for test in unit.get("tests") or []:
            found[test["nodeid"].split("testcases/", 1)[-1]] = test["outcome"]
    return found
