"""python-pkcs11 as an application: what SoftHSM2 supports, done through a module.

Usage: python python_pkcs11_host.py MODULE TOKEN_LABEL PIN
Prints one JSON object: for each operation, a result that does not depend on the random
keys (True when it checked out, a length, or the PKCS11Error class it raised), so that
the run on SoftHSM2 directly and the run through our library can be compared whole.
Cryptographic results are also checked against pyca/cryptography where the key or the
standard allows it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import pkcs11
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.mechanisms import KDF, GCMParams
from pkcs11.util.ec import encode_ec_public_key, encode_ecdsa_signature, encode_named_curve_parameters
from pkcs11.util.rsa import encode_rsa_public_key

DATA = b"python-pkcs11 through KMIP " * 7
READABLE = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
results: dict[str, Any] = {}


def record(name: str, check: Callable[[], Any]) -> None:
    try:
        results[name] = check()
    except pkcs11.PKCS11Error as error:
        results[name] = f"error:{type(error).__name__}"


def symmetric(session: Any) -> None:
    key = session.generate_key(KeyType.AES, 256, template=READABLE)
    value = key[Attribute.VALUE]
    iv = os.urandom(12)

    def gcm() -> bool:
        sealed = key.encrypt(DATA, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"aad"))
        opened = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"aad"))
        return bool(opened == DATA and AESGCM(value).decrypt(iv, sealed, b"aad") == DATA)

    def gcm_tampered() -> Any:
        sealed = bytearray(AESGCM(value).encrypt(iv, DATA, b"aad"))
        sealed[0] ^= 1
        return key.decrypt(bytes(sealed), mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, b"aad"))

    def cbc_pad() -> bool:
        block_iv = os.urandom(16)
        sealed = key.encrypt(DATA, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=block_iv)
        cipher = Cipher(algorithms.AES(value), modes.CBC(block_iv)).decryptor()
        plain = cipher.update(sealed) + cipher.finalize()
        return bool(plain[: len(DATA)] == DATA and len(sealed) == (len(DATA) // 16 + 1) * 16)

    def cbc_pad_multipart() -> bool:
        """C_EncryptUpdate / C_DecryptUpdate in pieces that do not fall on block edges."""
        block_iv = os.urandom(16)
        pieces = [DATA[i : i + 23] for i in range(0, len(DATA), 23)]
        sealed = b"".join(
            key.encrypt(iter(pieces), mechanism=Mechanism.AES_CBC_PAD, mechanism_param=block_iv)
        )
        whole = key.encrypt(DATA, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=block_iv)
        parts = [sealed[i : i + 20] for i in range(0, len(sealed), 20)]
        opened = b"".join(key.decrypt(iter(parts), mechanism=Mechanism.AES_CBC_PAD, mechanism_param=block_iv))
        return sealed == whole and opened == DATA

    record("aes_gcm", gcm)
    record("aes_cbc_pad_multipart", cbc_pad_multipart)
    record("aes_gcm_tampered", gcm_tampered)
    record("aes_cbc_pad", cbc_pad)
    record("aes_key_length", lambda: key[Attribute.VALUE_LEN])


def wrapping(session: Any) -> None:
    wrapper = session.generate_key(KeyType.AES, 128, template=READABLE)
    target = session.generate_key(KeyType.AES, 256, template=READABLE)

    def aes_key_wrap_round_trip() -> bool:
        wrapped = wrapper.wrap_key(target, mechanism=Mechanism.AES_KEY_WRAP)
        unwrapped = wrapper.unwrap_key(
            ObjectClass.SECRET_KEY, KeyType.AES, wrapped, mechanism=Mechanism.AES_KEY_WRAP, template=READABLE
        )
        expected = aes_key_wrap(wrapper[Attribute.VALUE], target[Attribute.VALUE])
        return bool(wrapped == expected and unwrapped[Attribute.VALUE] == target[Attribute.VALUE])

    record("aes_key_wrap", aes_key_wrap_round_trip)


def rsa(session: Any) -> None:
    public, private = session.generate_keypair(KeyType.RSA, 2048)
    loaded: Any = serialization.load_der_public_key(encode_rsa_public_key(public))
    sha1_oaep = (Mechanism.SHA_1, MGF.SHA1, None)

    def oaep() -> bool:
        sealed = public.encrypt(DATA[:100], mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=sha1_oaep)
        theirs = loaded.encrypt(
            DATA[:100], padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
        )
        ours = private.decrypt(theirs, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=sha1_oaep)
        mine = private.decrypt(sealed, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=sha1_oaep)
        return bool(ours == mine == DATA[:100])

    def oaep_sha256() -> Any:
        return public.encrypt(
            DATA[:64], mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=(Mechanism.SHA256, MGF.SHA256, None)
        )

    def pss() -> bool:
        pss = {
            "mechanism": Mechanism.SHA256_RSA_PKCS_PSS,
            "mechanism_param": (Mechanism.SHA256, MGF.SHA256, 32),
        }
        signature = private.sign(DATA, **pss)
        loaded.verify(
            signature, DATA, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256()
        )
        return bool(
            public.verify(DATA, signature, **pss) and not public.verify(DATA + b"!", signature, **pss)
        )

    def oaep_wrap() -> bool:
        secret = session.generate_key(KeyType.AES, 128, template=READABLE)
        wrapped = public.wrap_key(secret, mechanism=Mechanism.RSA_PKCS_OAEP, mechanism_param=sha1_oaep)
        unwrapped = private.unwrap_key(
            ObjectClass.SECRET_KEY, KeyType.AES, wrapped, mechanism=Mechanism.RSA_PKCS_OAEP,
            mechanism_param=sha1_oaep, template=READABLE,
        )  # fmt: skip
        return bool(unwrapped[Attribute.VALUE] == secret[Attribute.VALUE])

    record("rsa_oaep_sha1", oaep)
    record("rsa_oaep_sha256", oaep_sha256)
    record("rsa_pss_sha256", pss)
    record("rsa_oaep_wrap", oaep_wrap)
    record("rsa_modulus_bits", lambda: public[Attribute.MODULUS_BITS])


def elliptic(session: Any) -> None:
    curve = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
    )
    public, private = curve.generate_keypair()

    def ecdsa() -> bool:
        """CKM_ECDSA on a SHA-256 digest (SoftHSM2 2.6 has no CKM_ECDSA_SHA256)."""
        digest = hashlib.sha256(DATA).digest()
        signature = private.sign(digest, mechanism=Mechanism.ECDSA)
        loaded: Any = serialization.load_der_public_key(encode_ec_public_key(public))
        loaded.verify(encode_ecdsa_signature(signature), DATA, ec.ECDSA(hashes.SHA256()))
        return bool(public.verify(digest, signature, mechanism=Mechanism.ECDSA))

    def ecdh() -> bool:
        other_public, other_private = curve.generate_keypair()

        def derive(mine: Any, theirs: Any) -> bytes:
            key = mine.derive_key(
                KeyType.GENERIC_SECRET, 256, mechanism_param=(KDF.NULL, None, theirs[Attribute.EC_POINT]),
                template=READABLE,
            )  # fmt: skip
            return bytes(key[Attribute.VALUE])

        return derive(private, other_public) == derive(other_private, public)

    record("ecdsa_p256", ecdsa)
    record("ecdh_p256", ecdh)


def edwards(session: Any) -> None:
    def ed25519_sign() -> bool:
        curve = session.create_domain_parameters(
            KeyType.EC_EDWARDS,
            {Attribute.EC_PARAMS: encode_named_curve_parameters("1.3.101.112")},
            local=True,
        )
        public, private = curve.generate_keypair(mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN)
        signature = private.sign(DATA, mechanism=Mechanism.EDDSA)
        point = bytes(public[Attribute.EC_POINT])
        ed25519.Ed25519PublicKey.from_public_bytes(point[-32:]).verify(signature, DATA)
        return bool(public.verify(DATA, signature, mechanism=Mechanism.EDDSA))

    record("ed25519", ed25519_sign)


def main() -> int:
    module, label, pin = sys.argv[1:4]
    token = pkcs11.lib(module).get_token(token_label=label)
    with token.open(user_pin=pin, rw=True) as session:
        expected = hashlib.sha256(DATA).digest()
        record("digest_sha256", lambda: session.digest(DATA, mechanism=Mechanism.SHA256) == expected)
        pieces = [DATA[:10], DATA[10:100], DATA[100:]]
        record(
            "digest_multipart", lambda: session.digest(iter(pieces), mechanism=Mechanism.SHA256) == expected
        )
        record("random_bytes", lambda: len(session.generate_random(32 * 8)))
        symmetric(session)
        wrapping(session)
        rsa(session)
        elliptic(session)
        edwards(session)
        found = session.generate_key(KeyType.AES, 128, label="python-pkcs11-find")
        record(
            "find_by_label", lambda: [o == found for o in session.get_objects({Attribute.LABEL: found.label})]
        )
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
