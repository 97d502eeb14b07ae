"""The OASIS test cases of key wrapping, Derive Key and Export/Import (KMIP 2.0), through the runner.

They belong to no profile, so test_profiles.py does not run them; they run here the
same way, each with a client identity of its own. A file no conformant server can pass
is listed with the reason and the beginning of the runner's first difference, and is
marked xfail(strict): it must fail exactly so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import CND02, Listed, params, replay

LITERAL_DATES = (
    "the expected Export answer holds the reference server's Initial Date and Last Change Date "
    "(2018-12-19) as literals, not $NOW: no server run later can answer them"
)
EXPORTED_DATE = (
    "message 3 / BatchItem / ResponsePayload / Attributes / InitialDate: expected 2018-12-19T09:24:26+00:00"
)

# name -> None (passes), or (reason, the beginning of the runner's first difference)
FILES: dict[str, Listed] = {
    "TC-WRAP-1-20": None,
    "TC-WRAP-2-20": None,
    "TC-WRAP-3-20": None,
    "TC-SENSITIVE-1-20": None,
    "TC-EXTRACTABLE-1-20": None,
    "TC-DERIVEKEY-1-20": None,
    "TC-DERIVEKEY-2-20": None,
    "TC-DERIVEKEY-3-20": None,
    "TC-DERIVEKEY-4-20": None,
    "TC-DERIVEKEY-5-20": None,
    "TC-DERIVEKEY-6-20": (
        "the expected key material of the ECDH derivation is c5e478d5..., TC-DERIVEKEY-5's PBKDF2 output "
        "(RFC 6070's SHA-256 vector) copied here; the two key pairs are generated at random in messages 1 "
        "and 2, so no server's shared secret of them can equal it",
        "message 4 / BatchItem / ResponsePayload / SymmetricKey / KeyBlock / KeyValue / KeyMaterial: "
        "expected c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a, got",
    ),
    "TC-IMPEXP-1-20": (LITERAL_DATES, EXPORTED_DATE),
    "TC-IMPEXP-2-20": (LITERAL_DATES, EXPORTED_DATE),
    "TC-IMPEXP-3-20": (LITERAL_DATES, EXPORTED_DATE),
    "TC-IMPEXP-4-20": (
        "the expected Export answer has a second Digest, of the Transparent RSA private key as PKCS#1 "
        "(KMIP 2.1 §4.18's digest in the default format), which this server does not record; and after "
        f"it, {LITERAL_DATES}",
        "message 3 / BatchItem / ResponsePayload / Attributes: missing Digest[1]",
    ),
    "TC-IMPEXP-5-20": (
        "the expected Digest of a Certificate carries Key Format Type Raw, which a certificate has not "
        f"(KMIP 2.1 §4.26, Table 81); and after it, {LITERAL_DATES}",
        "message 3 / BatchItem / ResponsePayload / Attributes / Digest: missing KeyFormatType",
    ),
}


@pytest.mark.parametrize(
    ("path", "listed"), params({CND02 / f"{name}.xml": listed for name, listed in FILES.items()})
)
def test_testcase_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(kmip_server, path, listed)
