"""The OASIS elliptic-curve key test cases (KMIP 2.0 test cases TC-ECC-*, not part of a profile).

TC-ECC-1 registers a secp256k1 key pair as ECPrivateKey and X.509 and gets them back;
TC-ECC-3 does the same with a self-signed certificate of the public key, whose
attribute list names a Key Format Type (X.509, a certificate's in 2.1 §4.26's table).
Each runs with a client identity of its own, as the profile files do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import CND02, Listed, params, replay

FILES: dict[Path, Listed] = {
    CND02 / "TC-ECC-1-20.xml": None,
    CND02 / "TC-ECC-2-20.xml": (
        "its private key is an encrypted PKCS#8 (EncryptedPrivateKeyInfo, "
        "pbeWithSHA1And3-KeyTripleDES-CBC) whose password the file never gives: the server reads "
        "every key it registers (attributes, conversions, use) and refuses one it cannot read "
        "with Invalid Field, where the reference server stored the bytes unread",
        "message 1 / BatchItem / ResultStatus: expected Success, got OperationFailed (InvalidField: "
        "the key material is not a PKCS_8 private key",
    ),
    CND02 / "TC-ECC-3-20.xml": None,
}


@pytest.mark.parametrize(("path", "listed"), params(FILES))
def test_ecc_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    assert replay(kmip_server, path, listed).messages > 0
