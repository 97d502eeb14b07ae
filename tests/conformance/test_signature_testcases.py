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

from testsupport.server import RunningServer
from testsupport.testcases import CND02, V21, Listed, params, replay

FILES = (
    CND02 / "TC-ECDSA-SIGN-1-20.xml",
    CND02 / "TC-ECDSA-SIGN-DIGESTEDDATA-1-20.xml",
    CND02 / "TC-RSA-SIGN-DIGESTEDDATA-1-20.xml",
    V21 / "TC-RSA-SIGN-DIGESTEDDATA-1-21.xml",
)


@pytest.mark.parametrize(("path", "listed"), params(dict.fromkeys(FILES)))
def test_signature_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    assert replay(kmip_server, path, listed).messages > 0
