"""PyKCS11 as an application (its SWIG wrapper, not python-pkcs11's Cython one).

Usage: python pykcs11_host.py MODULE TOKEN_LABEL PIN
Prints one JSON object of results that do not depend on the random keys (True when a
check passed, a length, or the CKR_ name of the PyKCS11Error raised), so that a run on
SoftHSM2 directly and one through our library compare whole. Signatures are also
verified with pyca/cryptography against the exported public point, ciphertexts
decrypted with it against the extracted key.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from typing import Any

import PyKCS11  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from PyKCS11 import LowLevel as P

DATA = b"PyKCS11 through KMIP " * 9
P256 = bytes.fromhex("06082a8648ce3d030107")  # DER OID prime256v1
results: dict[str, Any] = {}


def record(name: str, check: Callable[[], Any]) -> None:
    try:
        results[name] = check()
    except PyKCS11.PyKCS11Error as error:
        results[name] = f"error:{PyKCS11.CKR.get(error.value, error.value)}"


def aes(session: Any) -> None:
    key = session.generateKey(
        [
            (P.CKA_CLASS, P.CKO_SECRET_KEY),
            (P.CKA_KEY_TYPE, P.CKK_AES),
            (P.CKA_VALUE_LEN, 32),
            (P.CKA_TOKEN, False),
            (P.CKA_SENSITIVE, False),
            (P.CKA_EXTRACTABLE, True),
            (P.CKA_ENCRYPT, True),
            (P.CKA_DECRYPT, True),
            (P.CKA_LABEL, "pykcs11-aes"),
        ],
        mecha=PyKCS11.MechanismAESGENERATEKEY,
    )
    value = bytes(session.getAttributeValue(key, [P.CKA_VALUE])[0])
    record("aes_key_length", lambda: len(value))
    iv = bytes(range(12))

    def gcm() -> bool:
        mechanism = PyKCS11.AES_GCM_Mechanism(iv, b"aad", 128)
        sealed = bytes(session.encrypt(key, DATA, mechanism))
        opened = bytes(session.decrypt(key, sealed, mechanism))
        return opened == DATA and AESGCM(value).decrypt(iv, sealed, b"aad") == DATA

    def cbc_pad() -> bool:
        mechanism = PyKCS11.Mechanism(P.CKM_AES_CBC_PAD, bytes(16))
        sealed = bytes(session.encrypt(key, DATA, mechanism))
        return (
            len(sealed) == (len(DATA) // 16 + 1) * 16
            and bytes(session.decrypt(key, sealed, mechanism)) == DATA
        )

    record("aes_gcm", gcm)
    record("aes_cbc_pad", cbc_pad)
    record("find_by_label", lambda: len(session.findObjects([(P.CKA_LABEL, "pykcs11-aes")])))


def ecdsa(session: Any) -> None:
    public, private = session.generateKeyPair(
        [
            (P.CKA_CLASS, P.CKO_PUBLIC_KEY),
            (P.CKA_KEY_TYPE, P.CKK_EC),
            (P.CKA_EC_PARAMS, P256),
            (P.CKA_TOKEN, False),
            (P.CKA_VERIFY, True),
        ],
        [
            (P.CKA_CLASS, P.CKO_PRIVATE_KEY),
            (P.CKA_KEY_TYPE, P.CKK_EC),
            (P.CKA_TOKEN, False),
            (P.CKA_PRIVATE, True),
            (P.CKA_SENSITIVE, True),
            (P.CKA_SIGN, True),
        ],
        mecha=PyKCS11.MechanismECGENERATEKEYPAIR,
    )
    point = bytes(session.getAttributeValue(public, [P.CKA_EC_POINT])[0])[2:]  # DER OCTET STRING
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    digest = hashlib.sha256(DATA).digest()
    mechanism = PyKCS11.Mechanism(P.CKM_ECDSA)
    signature = bytes(session.sign(private, digest, mechanism))

    def by_cryptography() -> bool:
        half = len(signature) // 2
        der = encode_dss_signature(int.from_bytes(signature[:half]), int.from_bytes(signature[half:]))
        try:
            verifier.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        except InvalidSignature:
            return False
        return True

    record("ecdsa_signature_length", lambda: len(signature))
    record("ecdsa_verify", lambda: session.verify(public, digest, signature, mechanism))
    record("ecdsa_verify_tampered", lambda: session.verify(public, digest[::-1], signature, mechanism))
    record("ecdsa_by_cryptography", by_cryptography)
    record("private_value_hidden", lambda: session.getAttributeValue(private, [P.CKA_VALUE]))


def main() -> int:
    module, label, pin = sys.argv[1:4]
    lib = PyKCS11.PyKCS11Lib()
    lib.load(module)
    slot = next(s for s in lib.getSlotList(tokenPresent=True) if lib.getTokenInfo(s).label.strip() == label)
    session = lib.openSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)
    record("wrong_pin", lambda: session.login(pin + "0"))
    session.login(pin)
    results["token_label"] = lib.getTokenInfo(slot).label.strip()
    aes(session)
    ecdsa(session)
    record(
        "digest_sha256",
        lambda: bytes(session.digest(DATA, PyKCS11.Mechanism(P.CKM_SHA256))) == hashlib.sha256(DATA).digest(),
    )
    record("random_bytes", lambda: len(session.generateRandom(32)))
    session.logout()
    session.closeSession()
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
