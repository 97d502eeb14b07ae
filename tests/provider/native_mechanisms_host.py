"""python-pkcs11 on the native token: a generic secret for HMAC, Ed25519 and Ed448, AES-CMAC
and 3DES (two- and three-key), each made and used through PKCS#11.

Usage: python native_mechanisms_host.py MODULE PIN
Prints key=value lines (bytes as hex) for the test to check against pyca/cryptography
and KMIP: the keys are made extractable so that their values can be compared. A process
of its own: the library hosts its own interpreter.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag
from pkcs11.util.ec import encode_named_curve_parameters

DATA = b"one key, two protocols " * 5
READABLE = {Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True}
MACS = MechanismFlag.SIGN | MechanismFlag.VERIFY


def show(name: str, value: Any) -> None:
    print(f"{name}={value.hex() if isinstance(value, bytes) else value}")


def outcome(check: Any) -> str:
    """The PKCS11Error class a call raised, or ok."""
    try:
        check()
    except pkcs11.PKCS11Error as error:
        return type(error).__name__
    return "ok"


def generic_secret(session: Any) -> None:
    """CKM_GENERIC_SECRET_KEY_GEN, then CKM_SHA256_HMAC (single and multi-part)."""
    key = session.generate_key(
        KeyType.GENERIC_SECRET,
        256,
        id=b"h",
        label="p11-hmac",
        store=True,
        capabilities=MACS,
        template=READABLE,
    )
    show("hmac_key_type", int(key[Attribute.KEY_TYPE]))
    show("hmac_value", bytes(key[Attribute.VALUE]))
    mac = key.sign(DATA, mechanism=Mechanism.SHA256_HMAC)
    show("hmac", bytes(mac))
    show("hmac_parts", bytes(key.sign(iter((DATA[:9], DATA[9:])), mechanism=Mechanism.SHA256_HMAC)))
    show("hmac_verified", key.verify(DATA, mac, mechanism=Mechanism.SHA256_HMAC))
    # A generic secret MACs with every HMAC hash (in parts, as pkcs11-check's multi-part units do).
    show("hmac_sha512", bytes(key.sign(iter((DATA[:9], DATA[9:])), mechanism=Mechanism.SHA512_HMAC)))


def edwards(session: Any) -> None:
    """CKM_EC_EDWARDS_KEY_PAIR_GEN on Ed25519 (RFC 8410 OID) and Ed448 (the printable name), CKM_EDDSA."""
    for name, params in (
        ("ed25519", encode_named_curve_parameters("1.3.101.112")),
        ("ed448", b"\x13\x0aedwards448"),
    ):
        domain = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: params}, local=True
        )
        public, private = domain.generate_keypair(
            mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN, store=True, label=name, id=name.encode()
        )
        signature = private.sign(DATA, mechanism=Mechanism.EDDSA)
        show(f"{name}_point", bytes(public[Attribute.EC_POINT]))
        show(f"{name}_params", bytes(public[Attribute.EC_PARAMS]))
        show(f"{name}_signature", bytes(signature))
        show(f"{name}_verified", public.verify(DATA, signature, mechanism=Mechanism.EDDSA))
        show(f"{name}_tampered", public.verify(DATA + b"!", signature, mechanism=Mechanism.EDDSA))


def cmac(session: Any) -> None:
    """CKM_AES_CMAC and CKM_AES_CMAC_GENERAL (12 bytes), single and multi-part."""
    key = session.generate_key(KeyType.AES, 256, id=b"c", capabilities=MACS, template=READABLE)
    show("cmac_key", bytes(key[Attribute.VALUE]))
    mac = key.sign(DATA, mechanism=Mechanism.AES_CMAC)
    show("cmac", bytes(mac))
    show("cmac_parts", bytes(key.sign(iter((DATA[:20], DATA[20:])), mechanism=Mechanism.AES_CMAC)))
    show("cmac_verified", key.verify(DATA, mac, mechanism=Mechanism.AES_CMAC))
    twelve = struct.pack("@L", 12)  # CK_MAC_GENERAL_PARAMS: a CK_ULONG
    show("cmac_12", bytes(key.sign(DATA, mechanism=Mechanism.AES_CMAC_GENERAL, mechanism_param=twelve)))
    four = struct.pack("@L", 4)
    show(
        "cmac_4", outcome(lambda: key.sign(DATA, mechanism=Mechanism.AES_CMAC_GENERAL, mechanism_param=four))
    )


def triple_des(session: Any) -> None:
    """CKM_DES3_KEY_GEN and CKM_DES2_KEY_GEN (a token key, for KMIP to find), then ECB, CBC and
    CBC-PAD encryptions the token also decrypts."""
    three = session.generate_key(KeyType.DES3, id=b"d", template=READABLE)
    two = session.generate_key(KeyType.DES2, id=b"d2", label="p11-des2", store=True, template=READABLE)
    iv = bytes(range(8))
    show("des3_iv", iv)
    for prefix, key in (("des3", three), ("des2", two)):
        show(f"{prefix}_key", bytes(key[Attribute.VALUE]))
        show(f"{prefix}_key_type", int(key[Attribute.KEY_TYPE]))
        for name, mechanism, param, data in (
            ("ecb", Mechanism.DES3_ECB, None, DATA[:48]),
            ("cbc", Mechanism.DES3_CBC, iv, DATA[:48]),
            ("cbc_pad", Mechanism.DES3_CBC_PAD, iv, DATA),
        ):
            sealed = bytes(key.encrypt(data, mechanism=mechanism, mechanism_param=param))
            show(f"{prefix}_{name}", sealed)
            show(
                f"{prefix}_{name}_opened",
                bytes(key.decrypt(sealed, mechanism=mechanism, mechanism_param=param)) == data,
            )


def plain(session: Any) -> None:
    """python-pkcs11's default template (an empty CKA_ID, no label): an AES key that encrypts."""
    key = session.generate_key(KeyType.AES, 256, template=READABLE)
    show("plain_id", f"[{bytes(key[Attribute.ID]).hex()}]")
    show("plain_key", bytes(key[Attribute.VALUE]))
    iv = bytes(16)
    show("plain_cbc", bytes(key.encrypt(DATA[:32], mechanism=Mechanism.AES_CBC, mechanism_param=iv)))


def sha3(session: Any) -> None:
    """CKM_SHA3_256 digest, CKM_SHA3_256_HMAC with a CKK_SHA3_256_HMAC key (python-pkcs11 has no
    CKM_ECDSA_SHA3_*: tests/native/test_token.py signs with those)."""
    show("sha3_digest", bytes(session.digest(DATA, mechanism=Mechanism.SHA3_256)))
    key = session.generate_key(
        KeyType.SHA3_256_HMAC,
        256,
        mechanism=Mechanism.GENERIC_SECRET_KEY_GEN,
        capabilities=MACS,
        template={**READABLE, Attribute.KEY_TYPE: KeyType.SHA3_256_HMAC},  # (python-pkcs11 sends none)
    )
    show("sha3_hmac_key", bytes(key[Attribute.VALUE]))
    show("sha3_hmac", bytes(key.sign(DATA, mechanism=Mechanism.SHA3_256_HMAC)))


def main() -> int:
    module, pin = sys.argv[1:3]
    token = pkcs11.lib(module).get_token(token_label="pkcs11-kmip")
    with token.open(user_pin=pin, rw=True) as session:
        generic_secret(session)
        edwards(session)
        cmac(session)
        triple_des(session)
        plain(session)
        sha3(session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
