"""PyKCS11 (PyPI; a SWIG wrapper) as another Python host, in a subprocess: session,
login (a wrong PIN first), AES-256 and EC P-256 key generation, AES-GCM and AES-CBC-PAD
encrypt/decrypt, ECDSA sign/verify (checked by pyca/cryptography with the exported
point), digest, random, find: the same results through our library (SoftHSM2 behind
the server) as on SoftHSM2 directly."""

from __future__ import annotations

from pathlib import Path

from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import run_json_host

HOST = Path(__file__).with_name("pykcs11_host.py")

EXPECTED = {
    "aes_cbc_pad": True,
    "aes_gcm": True,
    "aes_key_length": 32,
    "digest_sha256": True,
    "ecdsa_by_cryptography": True,
    "ecdsa_signature_length": 64,
    "ecdsa_verify": True,
    "ecdsa_verify_tampered": False,
    "find_by_label": 1,
    "private_value_hidden": [None],  # CKR_ATTRIBUTE_SENSITIVE, which PyKCS11 reads as None
    "random_bytes": 32,
    "token_label": "t",
    "wrong_pin": "error:CKR_PIN_INCORRECT",
}


def results(module: Path, env: dict[str, str], token: Token) -> dict[str, object]:
    return run_json_host(HOST, module, env, token.label, token.pin)


def test_pykcs11_sees_no_difference(module_path: Path, ours: dict[str, str], token: Token) -> None:
    direct = results(SOFTHSM_MODULE, token.env, token)
    forwarded = results(module_path, ours, token)
    assert forwarded == direct
    assert forwarded == EXPECTED
