"""The OASIS streaming test cases of Encrypt and Decrypt (KMIP 2.0 test cases, TC-STREAM-*).

They are not part of a profile, so test_profiles.py does not run them; they run here
the same way, each with a client identity of its own. TC-STREAM-ENC-1-20 expects the
ciphertexts of the key the reference server generated in its first message, which no
other server can produce (as CS-BC-M-1 in expected_failures.toml). The Hash, MAC
and Sign streams pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import CND02, Listed, params, replay

GENERATED_KEY = (
    "the expected ciphertexts were made with the key the reference server generated at random in message 1"
)
FILES: dict[str, str | None] = {
    "TC-STREAM-ENC-1-20": (
        "message 2 / BatchItem / ResponsePayload / Data: expected fd912d102dbb482f6f6e91bd57119095, got"
    ),
    "TC-STREAM-ENC-2-20": None,
    "TC-STREAM-ENCDEC-1-20": None,
    "TC-STREAM-HASH-1-20": None,
    "TC-STREAM-HASH-2-20": None,
    "TC-STREAM-HASH-3-20": None,
    "TC-STREAM-MAC-1-20": None,
    "TC-STREAM-SIGN-1-20": None,
    "TC-STREAM-SIGNVFY-1-20": None,
}


@pytest.mark.parametrize(
    ("path", "listed"),
    params(
        {
            CND02 / f"{name}.xml": (GENERATED_KEY, difference) if difference else None
            for name, difference in FILES.items()
        }
    ),
)
def test_stream_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(kmip_server, path, listed)
