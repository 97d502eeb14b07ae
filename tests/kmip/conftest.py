"""Shared data and helpers for the KMIP codec tests.

The reference data (OASIS test cases, TTLV vectors) lives outside the repository, in
`../shared/kmip`. Its absence is an error, never a reason to skip: a test run without
its vectors would pass while proving nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.cli.ttlv import bind_placeholder
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver

SHARED_KMIP = Path(__file__).resolve().parents[2].parent / "shared" / "kmip"
TESTCASES = SHARED_KMIP / "testcases"
SPEC_EXAMPLES = SHARED_KMIP / "ttlv-vectors" / "kmip-spec-v1.4-9.1.2-ttlv-examples.json"
PYKMIP_VECTORS = SHARED_KMIP / "ttlv-vectors" / "pykmip" / "pykmip-ttlv-test-vectors.json"


def _require(path: Path) -> Path:
    if not path.exists():
        raise pytest.UsageError(f"KMIP reference data missing: {path} (expected beside the repository)")
    return path


def testcase_files() -> list[Path]:
    return sorted(_require(TESTCASES).rglob("*.xml"))


def load_json(path: Path) -> Any:
    return json.loads(_require(path).read_text(encoding="utf-8"))


def pykmip_id(vector: dict[str, Any]) -> str:
    return f"{Path(vector['file']).stem}:{vector['line']}:{vector['name']}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize over the reference data, one test per file or vector so a failure names it."""
    if "testcase_path" in metafunc.fixturenames:
        files = testcase_files()
        metafunc.parametrize("testcase_path", files, ids=[str(p.relative_to(TESTCASES)) for p in files])
    if "spec_example" in metafunc.fixturenames:
        examples = load_json(SPEC_EXAMPLES)["vectors"]
        metafunc.parametrize("spec_example", examples, ids=[str(i) for i in range(len(examples))])
    if "pykmip_vector" in metafunc.fixturenames:
        vectors = load_json(PYKMIP_VECTORS)
        metafunc.parametrize("pykmip_vector", vectors, ids=[pykmip_id(v) for v in vectors])


@pytest.fixture
def bind() -> PlaceholderResolver:
    """The deterministic placeholder resolver (same text, same value) the CLI binds with."""
    return bind_placeholder


@pytest.fixture(scope="session")
def testcases_dir() -> Path:
    return _require(TESTCASES)


@pytest.fixture(scope="session")
def testcase_paths() -> list[Path]:
    return testcase_files()


@pytest.fixture(scope="session")
def spec_examples() -> list[dict[str, str]]:
    examples: list[dict[str, str]] = load_json(SPEC_EXAMPLES)["vectors"]
    return examples


@pytest.fixture(scope="session")
def pykmip_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = load_json(PYKMIP_VECTORS)
    return vectors
