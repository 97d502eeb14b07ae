"""The native token's storage flags and object sizes, through the engine on a real store:
CKA_MODIFIABLE/COPYABLE/DESTROYABLE set by generation, key pair and import templates (and
honoured by C_SetAttributeValue, C_CopyObject, C_DestroyObject), CKA_COPYABLE TRUE -> FALSE
by C_SetAttributeValue, and C_GetObjectSize as the managed object's TTLV length."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from native.test_token import AES_256, P256, App, logged_in, read, true, ulong

from pkcs11_kmip.cryptoki.constants import CKA, CKM, CKO, CKR, UNAVAILABLE
from pkcs11_kmip.cryptoki.wire import Attribute, Mechanism
from pkcs11_kmip.kmip.messages.payloads import GetRequest, GetResponse, LocateRequest, LocateResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation
from testsupport import certificates
from testsupport.kmip_builders import as_attributes, name

FLAGS = (CKA.MODIFIABLE, CKA.COPYABLE, CKA.DESTROYABLE)
FALSE, TRUE = b"\x00", b"\x01"
CKO_CERTIFICATE, CKA_CERTIFICATE_TYPE = 1, 0x80


def off(*types: int) -> tuple[Attribute, ...]:
    return tuple(Attribute.of(type_, FALSE) for type_ in types)


def flags(app: App, session: int, handle: int) -> list[bytes | None]:
    return read(app, session, handle, *FLAGS)


def ec_pair(
    app: App, session: int, public: tuple[Attribute, ...] = (), private: tuple[Attribute, ...] = ()
) -> tuple[int, int]:
    made = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), *public),
        pPrivateKeyTemplate=(true(CKA.SIGN), *private),
    )
    handles = made["phPublicKey"], made["phPrivateKey"]
    assert isinstance(handles[0], int) and isinstance(handles[1], int)
    return handles[0], handles[1]


def test_templates_set_the_storage_flags(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    # C_GenerateKey: all three FALSE, and what they forbid.
    frozen = app.aes_key(session, (*AES_256, *off(*FLAGS)))
    assert flags(app, session, frozen) == [FALSE, FALSE, FALSE]
    label = Attribute.of(CKA.LABEL, b"renamed")
    assert app("C_SetAttributeValue", hSession=session, hObject=frozen, pTemplate=(label,))[0] == (
        CKR.ACTION_PROHIBITED
    )
    copy = app("C_CopyObject", hSession=session, hObject=frozen, pTemplate=(label,))
    assert copy[0] == CKR.ACTION_PROHIBITED
    assert app("C_DestroyObject", hSession=session, hObject=frozen)[0] == CKR.ACTION_PROHIBITED
    # TRUE given is the default: nothing recorded, and the key is as any other.
    given = (Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.LABEL, b"free"), true(CKA.TOKEN))
    free = app.aes_key(session, (*given, *(Attribute.of(flag, TRUE) for flag in FLAGS)))
    assert flags(app, session, free) == [TRUE, TRUE, TRUE]
    assert app("C_DestroyObject", hSession=session, hObject=free)[0] == CKR.OK

    # C_GenerateKeyPair: each half its own.
    public, private = ec_pair(app, session, off(CKA.DESTROYABLE), off(CKA.MODIFIABLE, CKA.COPYABLE))
    assert flags(app, session, public) == [TRUE, TRUE, FALSE]
    assert flags(app, session, private) == [FALSE, FALSE, TRUE]

    # C_CreateObject: a secret key and a certificate.
    secret = (Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY)), Attribute.of(CKA.KEY_TYPE, ulong(0x1F)))
    rv, imported = app.made(
        "C_CreateObject",
        "phObject",
        hSession=session,
        pTemplate=(*secret, Attribute.of(CKA.VALUE, secrets.token_bytes(16)), *off(CKA.COPYABLE)),
    )
    assert rv == CKR.OK and imported is not None
    assert flags(app, session, imported) == [TRUE, FALSE, TRUE]
    der = certificates.self_signed("flags", 7).public_bytes(serialization.Encoding.DER)
    cert = (Attribute.of(CKA.CLASS, ulong(CKO_CERTIFICATE)), Attribute.of(CKA_CERTIFICATE_TYPE, ulong(0)))
    rv, certificate = app.made(
        "C_CreateObject",
        "phObject",
        hSession=session,
        pTemplate=(*cert, Attribute.of(CKA.VALUE, der), *off(CKA.DESTROYABLE)),
    )
    assert rv == CKR.OK and certificate is not None
    assert flags(app, session, certificate) == [TRUE, TRUE, FALSE]
    assert app("C_DestroyObject", hSession=session, hObject=certificate)[0] == CKR.ACTION_PROHIBITED

    # A flag that is no CK_BBOOL.
    bad = Attribute.of(CKA.COPYABLE, b"\x00\x00")
    assert app(
        "C_GenerateKey", hSession=session, pMechanism=Mechanism(CKM.AES_KEY_GEN), pTemplate=(*given, bad)
    )[0] == (CKR.ATTRIBUTE_VALUE_INVALID)


def test_copyable_goes_from_true_to_false_only(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    key = app.aes_key(session)

    def set_(*template: Attribute, handle: int = key) -> int:
        return app("C_SetAttributeValue", hSession=session, hObject=handle, pTemplate=template)[0]

    assert set_(Attribute.of(CKA.COPYABLE, TRUE)) == CKR.OK  # the value it has
    copy = app("C_CopyObject", hSession=session, hObject=key, pTemplate=(Attribute.of(CKA.LABEL, b"c1"),))
    assert copy[0] == CKR.OK
    # One refused entry leaves the template undone: still copyable.
    assert (
        set_(Attribute.of(CKA.COPYABLE, FALSE), Attribute.of(CKA.MODIFIABLE, FALSE))
        == CKR.ATTRIBUTE_READ_ONLY
    )
    assert flags(app, session, key) == [TRUE, TRUE, TRUE]
    assert set_(Attribute.of(CKA.COPYABLE, FALSE)) == CKR.OK
    assert flags(app, session, key) == [TRUE, FALSE, TRUE]
    copy = app("C_CopyObject", hSession=session, hObject=key, pTemplate=(Attribute.of(CKA.LABEL, b"c2"),))
    assert copy[0] == CKR.ACTION_PROHIBITED
    assert set_(Attribute.of(CKA.COPYABLE, TRUE)) == CKR.ATTRIBUTE_READ_ONLY
    assert set_(Attribute.of(CKA.COPYABLE, FALSE)) == CKR.OK  # (already FALSE: nothing to do)
    assert set_(Attribute.of(CKA.DESTROYABLE, FALSE)) == CKR.ATTRIBUTE_READ_ONLY
    assert flags(app, session, key) == [TRUE, FALSE, TRUE]
    assert app("C_DestroyObject", hSession=session, hObject=key)[0] == CKR.OK


def uid_of(app: App, label: str) -> str:
    located = app.kmip(Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.NAME, name(label)))))
    assert isinstance(located, LocateResponse) and located.unique_identifiers
    return located.unique_identifiers[0]


def size(app: App, session: int, handle: int) -> tuple[int, int | None]:
    rv, outputs = app("C_GetObjectSize", hSession=session, hObject=handle)
    value = outputs["pulSize"] if outputs else None
    assert value is None or isinstance(value, int)
    return rv, value


def test_object_size_is_the_managed_objects_ttlv_length(
    make_app: Callable[[str], App], alice_pin: str
) -> None:
    app, session = logged_in(make_app, alice_pin)
    readable = (Attribute.of(CKA.SENSITIVE, FALSE), true(CKA.EXTRACTABLE), true(CKA.TOKEN))
    sizes = {}
    for length in (16, 32):
        label = f"size-{length}"
        template = (
            Attribute.of(CKA.VALUE_LEN, ulong(length)),
            Attribute.of(CKA.LABEL, label.encode()),
            *readable,
        )
        rv, sizes[length] = size(app, session, app.aes_key(session, template))
        assert rv == CKR.OK
        got = app.kmip(Operation.GET, GetRequest(unique_identifier=uid_of(app, label)))
        assert isinstance(got, GetResponse) and got.object is not None
        assert sizes[length] == len(got.object.encode())  # what KMIP Get gives, byte for byte
    assert sizes[32] - sizes[16] == 16  # the key bytes, nothing else grows
    # A sensitive key has a size too (it says no more than CKA_VALUE_LEN).
    rv, sensitive = size(app, session, app.aes_key(session))
    assert rv == CKR.OK and sensitive == sizes[32]
    public, private = ec_pair(app, session)
    rv, public_size = size(app, session, public)
    assert rv == CKR.OK and public_size is not None and 91 < public_size < 300  # a P-256 SPKI and more
    assert size(app, session, private)[0] == CKR.OK
    assert size(app, session, private + public + 100)[0] == CKR.OBJECT_HANDLE_INVALID
    assert UNAVAILABLE not in (public_size, sensitive)
