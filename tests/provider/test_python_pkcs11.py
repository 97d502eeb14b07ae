"""python-pkcs11 as the application, in a subprocess: everything SoftHSM2 does directly
(keys, AES-GCM/CBC, RSA-OAEP/PSS, ECDSA, Ed25519, wrapping, ECDH, digests, find) gives
the same results through our library, and the same errors where SoftHSM2 refuses."""

from __future__ import annotations

from pathlib import Path

from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import run_json_host

HOST = Path(__file__).with_name("python_pkcs11_host.py")

# What SoftHSM2 2.6.1 answers: every operation checks out, but OAEP with SHA-256 (it does
# SHA-1 OAEP only) and a tampered GCM tag (CKR_GENERAL_ERROR, not ENCRYPTED_DATA_INVALID).
EXPECTED = {
    "aes_cbc_pad": True,
    "aes_cbc_pad_multipart": True,
    "aes_gcm": True,
    "aes_gcm_tampered": "error:GeneralError",
    "aes_key_length": 32,
    "aes_key_wrap": True,
    "digest_multipart": True,
    "digest_sha256": True,
    "ecdh_p256": True,
    "ecdsa_p256": True,
    "ed25519": True,
    "find_by_label": [True],
    "random_bytes": 32,
    "rsa_modulus_bits": 2048,
    "rsa_oaep_sha1": True,
    "rsa_oaep_sha256": "error:ArgumentsBad",
    "rsa_oaep_wrap": True,
    "rsa_pss_sha256": True,
}


def results(module: Path, env: dict[str, str], token: Token) -> dict[str, object]:
    return run_json_host(HOST, module, env, token.label, token.pin)


def test_python_pkcs11_sees_no_difference(module_path: Path, ours: dict[str, str], token: Token) -> None:
    direct = results(SOFTHSM_MODULE, token.env, token)
    forwarded = results(module_path, ours, token)
    assert forwarded == direct
    assert forwarded == EXPECTED
