"""python-pkcs11 as an application copying objects on the native token (C_CopyObject).

Usage: python native_copy_host.py MODULE PIN [STEP...] | [copy LABEL...]
Prints key=value lines: what each copy shows, whether it works as its source does, and the
PKCS11Error class of each copy the token refuses. The test (test_native_copy.py) then looks
at the same objects through KMIP.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

DATA = b"copied on the native token, " * 4
IV = bytes(range(16))


def say(key: str, value: object) -> None:
    print(f"{key}={value}", flush=True)


def outcome(run: Callable[[], Any]) -> str:
    """'ok' or the PKCS11Error class a call raised."""
    try:
        run()
    except pkcs11.PKCS11Error as error:
        if type(error) is pkcs11.PKCS11Error and str(error).endswith("0x1b"):
            return "ActionProhibited"  # python-pkcs11 has no class for CKR_ACTION_PROHIBITED
        return type(error).__name__
    return "ok"


def show(prefix: str, obj: Any, *attributes: Attribute) -> None:
    for attribute in attributes:
        value = obj[attribute]
        say(f"{prefix}.{attribute.name}", value.hex() if isinstance(value, bytes) else value)


def secret_keys(session: Any) -> None:
    source = session.generate_key(
        KeyType.AES,
        256,
        id=b"src",
        label="copy-src",
        store=True,
        template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
    )
    copy = source.copy({Attribute.LABEL: "copy-dst", Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
    show(
        "aes",
        copy,
        Attribute.LABEL,
        Attribute.ID,
        Attribute.TOKEN,
        Attribute.SENSITIVE,
        Attribute.EXTRACTABLE,
        Attribute.ALWAYS_SENSITIVE,
        Attribute.NEVER_EXTRACTABLE,
        Attribute.LOCAL,
        Attribute.COPYABLE,
        Attribute.ENCRYPT,
    )
    sealed = copy.encrypt(DATA, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV)
    say("aes.same_key", source.decrypt(sealed, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV) == DATA)
    say("aes.value_hidden", outcome(lambda: copy[Attribute.VALUE]))

    refusals: dict[str, dict[Attribute, Any]] = {
        "same_label": {},
        "taken_label": {Attribute.LABEL: "copy-dst"},
        "usage": {Attribute.LABEL: "r3", Attribute.ENCRYPT: False},
        "public": {Attribute.LABEL: "r4", Attribute.PRIVATE: False},
        "key_type": {Attribute.LABEL: "r5", Attribute.VALUE_LEN: 16},
        "unknown": {Attribute.LABEL: "r6", Attribute.MODULUS: b"\x01"},
    }
    for case, template in refusals.items():
        say(f"refused.{case}", outcome(partial(source.copy, template)))
    say(
        "refused.unsensitive", outcome(lambda: copy.copy({Attribute.LABEL: "r1", Attribute.SENSITIVE: False}))
    )
    say(
        "refused.extractable",
        outcome(lambda: copy.copy({Attribute.LABEL: "r2", Attribute.EXTRACTABLE: True})),
    )

    locked = source.copy(
        {
            Attribute.LABEL: "locked",
            Attribute.COPYABLE: False,
            Attribute.MODIFIABLE: False,
            Attribute.DESTROYABLE: False,
        }
    )
    show("locked", locked, Attribute.COPYABLE, Attribute.MODIFIABLE, Attribute.DESTROYABLE)
    say("locked.copy", outcome(lambda: locked.copy({Attribute.LABEL: "from-locked"})))
    say("locked.set", outcome(lambda: locked.__setitem__(Attribute.LABEL, "renamed")))
    say("locked.destroy", outcome(locked.destroy))


def storage_flags(session: Any) -> None:
    """CKA_COPYABLE/DESTROYABLE FALSE in a generation template, and CKA_COPYABLE set FALSE
    afterwards (PKCS#11 allows that one way only)."""
    born = session.generate_key(
        KeyType.AES,
        128,
        label="born-locked",
        store=True,
        template={Attribute.COPYABLE: False, Attribute.DESTROYABLE: False},
    )
    show("born", born, Attribute.COPYABLE, Attribute.MODIFIABLE, Attribute.DESTROYABLE)
    say("born.copy", outcome(lambda: born.copy({Attribute.LABEL: "from-born"})))
    say("born.destroy", outcome(born.destroy))
    later = session.generate_key(KeyType.AES, 128, label="locked-later", store=True)
    say("later.copy_before", outcome(lambda: later.copy({Attribute.LABEL: "from-later"})))
    say("later.set_false", outcome(lambda: later.__setitem__(Attribute.COPYABLE, False)))
    show("later", later, Attribute.COPYABLE)
    say("later.copy_after", outcome(lambda: later.copy({Attribute.LABEL: "from-later-2"})))
    say("later.set_true", outcome(lambda: later.__setitem__(Attribute.COPYABLE, True)))


def session_copies(token: Any, pin: str, session: Any) -> None:
    """A session copy of a token object, seen by another session of the application, gone
    with the session that made it."""
    other = token.open(rw=True)  # the same application (login is per application)
    maker = token.open(rw=True)
    source = maker.get_key(label="copy-src")
    copy = source.copy({Attribute.TOKEN: False})  # keeps the label: another owner's Name
    show("session", copy, Attribute.TOKEN, Attribute.LABEL)
    sealed = copy.encrypt(DATA, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV)
    say(
        "session.same_key",
        source.decrypt(sealed, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=IV) == DATA,
    )
    say("session.seen_before", len(list(other.get_objects({Attribute.TOKEN: False}))))
    maker.close()
    say("session.seen_after", len(list(other.get_objects({Attribute.TOKEN: False}))))
    other.close()

    read_only = token.open(rw=False)
    kept = read_only.get_key(label="copy-src")
    say("read_only.token_copy", outcome(lambda: kept.copy({Attribute.LABEL: "ro"})))
    say("read_only.session_copy", outcome(lambda: kept.copy({Attribute.TOKEN: False, Attribute.LABEL: "ro"})))
    read_only.close()


def key_pairs(session: Any) -> None:
    parameters = session.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
    )
    public, private = parameters.generate_keypair(store=True, label="ec-src", id=b"ec")
    copy = private.copy({Attribute.LABEL: "ec-copy"})
    signature = copy.sign(DATA, mechanism=Mechanism.ECDSA_SHA256)
    say("ec.verifies", public.verify(DATA, signature, mechanism=Mechanism.ECDSA_SHA256))
    show("ec", copy, Attribute.ID, Attribute.LABEL, Attribute.LOCAL)
    public_copy = public.copy({Attribute.LABEL: "ec-pub-copy"})
    say("ec.public_copy_verifies", public_copy.verify(DATA, signature, mechanism=Mechanism.ECDSA_SHA256))
    say("ec.same_point", public_copy[Attribute.EC_POINT] == public[Attribute.EC_POINT])

    rsa_public, rsa_private = session.generate_keypair(
        KeyType.RSA, 2048, store=True, label="rsa-src", id=b"rsa"
    )
    rsa_copy = rsa_private.copy({Attribute.LABEL: "rsa-copy"})
    signature = rsa_copy.sign(DATA, mechanism=Mechanism.SHA256_RSA_PKCS)
    say("rsa.verifies", rsa_public.verify(DATA, signature, mechanism=Mechanism.SHA256_RSA_PKCS))
    say("rsa.same_modulus", rsa_copy[Attribute.MODULUS] == rsa_public[Attribute.MODULUS])
    say("rsa.private_modulus", rsa_private[Attribute.MODULUS] == rsa_public[Attribute.MODULUS])


def certificates(session: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copied certificate")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(Encoding.DER)
    made = session.create_object(
        {
            Attribute.CLASS: ObjectClass.CERTIFICATE,
            Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
            Attribute.VALUE: der,
            Attribute.LABEL: "cert-src",
            Attribute.TOKEN: True,
        }
    )
    copy = made.copy({Attribute.LABEL: "cert-copy"})
    say("cert.same_value", copy[Attribute.VALUE] == der)
    say("cert.sensitive", outcome(lambda: made.copy({Attribute.LABEL: "c2", Attribute.SENSITIVE: True})))


def copy_refused(session: Any, labels: list[str]) -> None:
    """Copies of objects the test made (and changed) through KMIP or in the HSM first."""
    for label in labels:
        found = list(session.get_objects({Attribute.LABEL: label}))
        template = {Attribute.LABEL: f"{label}-copy"}
        say(f"copy.{label}", outcome(partial(found[0].copy, template)))


def main() -> None:
    module, pin = sys.argv[1:3]
    token = pkcs11.lib(module).get_token(token_label="pkcs11-kmip")
    with token.open(rw=True, user_pin=pin) as session:
        steps = sys.argv[3:] or ["secret", "session", "pairs", "certificates", "flags"]
        if steps[0] == "copy":
            copy_refused(session, steps[1:])
            steps = []
        if "secret" in steps:
            secret_keys(session)
        if "session" in steps:
            session_copies(token, pin, session)
        if "pairs" in steps:
            key_pairs(session)
        if "certificates" in steps:
            certificates(session)
        if "flags" in steps:
            storage_flags(session)
    say("done", True)


if __name__ == "__main__":
    main()
