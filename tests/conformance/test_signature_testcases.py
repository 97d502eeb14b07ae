"""The OASIS signature test cases (KMIP 2.0 and 2.1 test cases, not part of a profile).

TC-ECDSA-SIGN-1 verifies a fixed signature made by the key it registers;
TC-ECDSA-SIGN-DIGESTEDDATA-1 and TC-RSA-SIGN-DIGESTEDDATA-1 sign a 16-byte Digested
Data and verify it, and expect Invalid (not an error) for a verification with RSA-PSS
parameters over the raw data, even with an EC key. Each runs with a client identity
of its own, as the profile files do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pkcs11_kmip.conformance import run_files
from testsupport.server import RunningServer

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"
FILES = (
    "kmip-testcases-v2.0-cnd02/TC-ECDSA-SIGN-1-20",
    "kmip-testcases-v2.0-cnd02/TC-ECDSA-SIGN-DIGESTEDDATA-1-20",
    "kmip-testcases-v2.0-cnd02/TC-RSA-SIGN-DIGESTEDDATA-1-20",
    "kmip-testcases-v2.1-cn01-partial/TC-RSA-SIGN-DIGESTEDDATA-1-21",
)


@pytest.mark.parametrize("name", FILES, ids=[name.rsplit("/", 1)[1] for name in FILES])
def test_signature_file(kmip_server: RunningServer, name: str) -> None:
    path = TESTCASES / f"{name}.xml"
    if not path.exists():
        raise pytest.UsageError(f"KMIP reference data missing: {path}")
    with kmip_server.client(f"conformance-{path.stem}") as client:
        (result,) = run_files([path], client.exchange)
    assert result.passed, result.line()
    assert result.messages > 0
