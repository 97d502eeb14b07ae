"""The OASIS test cases of Create/Join Split Key (TC-SJ-*) and PKCS#12 (TC-PKCS12-*) through the runner.

They belong to no profile; they run as test_wrap_derive_testcases.py runs its files,
each with a client identity of its own. A file no conformant server can pass is listed
with the reason and the beginning of the runner's first difference, and is marked
xfail(strict): it must fail exactly so.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import CND02, V21, Listed, params, replay

RANDOM_SHARES = (
    "the expected Get answers hold the reference server's split of the key, made with random "
    "coefficients (those of TC-SJ-2 are of GF(2^8) mod 0x11D and join back to the key, as "
    "tests/server/test_split_keys.py checks); no other split can equal them"
)

# file -> None (passes), or (reason, the beginning of the runner's first difference)
FILES: dict[Path, Listed] = {
    CND02 / "TC-SJ-1-20.xml": None,
    CND02 / "TC-SJ-2-20.xml": (
        RANDOM_SHARES,
        "message 3 / BatchItem / ResponsePayload / SplitKey / KeyBlock / KeyValue / KeyMaterial: "
        "expected 66c46a7754f94de420c7b1a7fff5ec56, got",
    ),
    CND02 / "TC-SJ-3-20.xml": None,
    V21 / "TC-SJ-3-21.xml": None,
    CND02 / "TC-SJ-4-20.xml": (
        RANDOM_SHARES.replace("of GF(2^8) mod 0x11D", "XOR shares"),
        "message 3 / BatchItem / ResponsePayload / SplitKey / KeyBlock / KeyValue / KeyMaterial: "
        "expected d4b92c299199298e30dee13b967e6dda, got",
    ),
    CND02 / "TC-PKCS12-1-20.xml": None,
    CND02 / "TC-PKCS12-2-20.xml": (
        "the file contradicts itself: its Locate (message 7) finds the certificate by the Certificate "
        "Serial Number 020900d2f5bad76a5ac8f9 (the DER INTEGER, as every other OASIS file writes it), "
        "and its Get Attributes (message 9) expects the same serial without tag and length; everything "
        "before (the Wrong Key Lifecycle State of a PreActive password, the PKCS#12 registered as a "
        "PKCS#8 key with a certificate linked) matches",
        "message 9 / BatchItem / ResponsePayload / Attributes / X_509CertificateIdentifier / "
        "CertificateSerialNumber: expected 00d2f5bad76a5ac8f9, got 020900d2f5bad76a5ac8f9",
    ),
}


@pytest.mark.parametrize(("path", "listed"), params(FILES))
def test_testcase_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(kmip_server, path, listed)
