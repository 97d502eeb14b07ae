"""The native token's Cryptoki conventions, through the engine (KMIP PKCS#11 operation in,
out) on a real store: length queries, CKR_BUFFER_TOO_SMALL, bad arguments, templates,
sessions and handles that stay one client's, login with the client's PIN."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_NAME
from pkcs11_kmip.cryptoki.constants import (
    CKA,
    CKF_RW_SESSION,
    CKF_SERIAL_SESSION,
    CKM,
    CKO,
    CKR,
    CKU_SO,
    CKU_USER,
)
from pkcs11_kmip.cryptoki.wire import Attribute, AttributeQuery, Mechanism, OutData, OutRequest, Value
from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import Operation, PKCS11Function, ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from pkcs11_kmip_server.native import pins
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

RW = CKF_SERIAL_SESSION | CKF_RW_SESSION
SLOT = 1


def ulong(value: int) -> bytes:
    return value.to_bytes(wire.NATIVE_ULONG, sys.byteorder)


def true(type_: int) -> Attribute:
    return Attribute.of(type_, b"\x01")


AES_256 = (Attribute.of(CKA.VALUE_LEN, ulong(32)), Attribute.of(CKA.LABEL, b"k"), true(CKA.TOKEN))


class App:
    """One application of one client: a context (Correlation Value) on the engine."""

    def __init__(self, engine: Engine, principal: str) -> None:
        self.engine, self.principal = engine, principal
        self.correlation_value: bytes | None = None
        rv, _ = self("C_Initialize")
        assert rv == CKR.OK

    def __call__(self, name: str, **inputs: Value) -> tuple[int, dict[str, Value] | None]:
        call = BY_NAME[name]
        payload = PKCS11Request(
            pkcs_11_function=PKCS11Function(call.id),
            correlation_value=self.correlation_value,
            pkcs_11_input_parameters=wire.encode_inputs(call, inputs),
        )
        message = RequestMessage(
            header=RequestHeader(protocol_version=ProtocolVersion.of((2, 1)), batch_count=1),
            batch_items=[RequestBatchItem(operation=Operation.PKCS_11, request_payload=payload)],
        )
        (item,) = ResponseMessage.decode(
            self.engine.handle(message.encode(), Peer(self.principal))
        ).batch_items
        assert item.result_status is ResultStatus.SUCCESS, item.result_message
        answer = item.response_payload
        assert isinstance(answer, PKCS11Response) and answer.pkcs_11_return_code is not None
        self.correlation_value = self.correlation_value or answer.correlation_value
        output = answer.pkcs_11_output_parameters
        return int(answer.pkcs_11_return_code), None if output is None else wire.decode_outputs(call, output)

    def ok(self, name: str, **inputs: Value) -> dict[str, Value]:
        rv, outputs = self(name, **inputs)
        assert rv == CKR.OK, f"{name}: 0x{rv:X}"
        return outputs or {}

    def session(self, flags: int = RW) -> int:
        handle = self.ok("C_OpenSession", slotID=SLOT, flags=flags)["phSession"]
        assert isinstance(handle, int)
        return handle

    def login(self, session: int, pin: str) -> int:
        return self("C_Login", hSession=session, userType=CKU_USER, pPin=pin.encode())[0]

    def aes_key(self, session: int, template: tuple[Attribute, ...] = AES_256) -> int:
        mechanism = Mechanism(CKM.AES_KEY_GEN)
        handle = self.ok("C_GenerateKey", hSession=session, pMechanism=mechanism, pTemplate=template)["phKey"]
        assert isinstance(handle, int)
        return handle


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[[str], App]]:
    """Applications of clients alice (PIN issued) and bob (none) on one engine."""
    (tmp_path / "clients" / "alice").mkdir(parents=True)
    store = SqliteStore(tmp_path / "store.sqlite3", Sealer(secrets.token_bytes(32)))
    service = Pkcs11Service(Pkcs11Settings(pins=tmp_path / pins.PINS_FILE))
    engine = Engine(store, DEFAULT_LIMITS, pkcs11=service)
    yield lambda principal: App(engine, principal)
    engine.close()
    service.close()
    store.close()


@pytest.fixture
def alice_pin(tmp_path: Path) -> str:
    return pins.issue(tmp_path, "alice")


def test_lists_follow_the_length_convention(make_app: Callable[[str], App]) -> None:
    app = make_app("alice")
    count = app.ok("C_GetMechanismList", slotID=SLOT, pMechanismList=OutRequest(False, 0))["pMechanismList"]
    assert isinstance(count, OutData) and count.data is None and count.length == 23
    rv, small = app("C_GetMechanismList", slotID=SLOT, pMechanismList=OutRequest(True, 3))
    assert rv == CKR.BUFFER_TOO_SMALL and small == {"pMechanismList": OutData(23)}
    full = app.ok("C_GetMechanismList", slotID=SLOT, pMechanismList=OutRequest(True, 23))["pMechanismList"]
    assert isinstance(full, OutData) and full.data is not None and CKM.AES_GCM in full.data
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=CKM.RSA_PKCS_KEY_PAIR_GEN)["pInfo"]
    assert isinstance(info, dict) and (info["ulMinKeySize"], info["ulMaxKeySize"]) == (2048, 4096)
    assert app("C_GetMechanismInfo", slotID=SLOT, type=0x1057)[0] == CKR.MECHANISM_INVALID  # EdDSA: not here
    assert app("C_GetSlotInfo", slotID=2)[0] == CKR.SLOT_ID_INVALID
    assert app("C_DigestInit", hSession=1, pMechanism=Mechanism(CKM.SHA256))[0] == CKR.FUNCTION_NOT_SUPPORTED


def test_sessions_and_logins_stay_one_applications(make_app: Callable[[str], App], alice_pin: str) -> None:
    alice, bob = make_app("alice"), make_app("bob")
    assert alice("C_OpenSession", slotID=SLOT, flags=CKF_RW_SESSION)[0] == CKR.SESSION_PARALLEL_NOT_SUPPORTED
    session = alice.session()
    assert bob("C_GetSessionInfo", hSession=session)[0] == CKR.SESSION_HANDLE_INVALID
    thief = make_app("bob")
    thief.correlation_value = alice.correlation_value
    assert thief("C_GetSessionInfo", hSession=session)[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert alice("C_Login", hSession=session, userType=CKU_SO, pPin=b"x")[0] == CKR.USER_TYPE_INVALID
    assert alice.login(session, "0" * 8 if alice_pin != "0" * 8 else "1" * 8) == CKR.PIN_INCORRECT
    assert alice.login(session, alice_pin) == CKR.OK
    assert alice.login(session, alice_pin) == CKR.USER_ALREADY_LOGGED_IN
    assert alice.ok("C_GetSessionInfo", hSession=session)["pInfo"]["state"] == 3  # type: ignore[index]
    bobs = bob.session()
    assert bob.login(bobs, alice_pin) == CKR.USER_PIN_NOT_INITIALIZED  # bob has no PIN
    # A second application of alice's is not logged in by the first one's login.
    again = make_app("alice")
    assert again.ok("C_GetSessionInfo", hSession=again.session())["pInfo"]["state"] == 2  # type: ignore[index]
    assert alice.ok("C_Logout", hSession=session) == {}
    assert alice("C_Logout", hSession=session)[0] == CKR.USER_NOT_LOGGED_IN


def test_templates_are_checked(make_app: Callable[[str], App], alice_pin: str) -> None:
    app = make_app("alice")
    read_only = app.session(CKF_SERIAL_SESSION)
    session = app.session()
    aes = Mechanism(CKM.AES_KEY_GEN)

    def generate(template: tuple[Attribute, ...], on: int = session, mechanism: Mechanism = aes) -> int:
        return app("C_GenerateKey", hSession=on, pMechanism=mechanism, pTemplate=template)[0]

    assert generate(AES_256) == CKR.USER_NOT_LOGGED_IN
    assert app.login(session, alice_pin) == CKR.OK
    assert generate(AES_256, read_only) == CKR.SESSION_READ_ONLY
    assert generate(AES_256[1:]) == CKR.TEMPLATE_INCOMPLETE
    assert generate((Attribute.of(CKA.VALUE_LEN, ulong(20)),)) == CKR.KEY_SIZE_RANGE
    assert generate((*AES_256, Attribute.of(CKA.ID, b""))) == CKR.ATTRIBUTE_VALUE_INVALID
    assert generate((*AES_256, Attribute.of(CKA.TOKEN, b"\x00"))) == CKR.ATTRIBUTE_VALUE_INVALID
    assert generate((*AES_256, Attribute.of(CKA.CLASS, ulong(CKO.PRIVATE_KEY)))) == CKR.TEMPLATE_INCONSISTENT
    assert generate((*AES_256, Attribute.of(CKA.MODULUS_BITS, ulong(2048)))) == CKR.ATTRIBUTE_TYPE_INVALID
    assert generate(AES_256, mechanism=Mechanism(CKM.EC_KEY_PAIR_GEN)) == CKR.MECHANISM_INVALID
    assert generate(AES_256, mechanism=Mechanism(CKM.AES_KEY_GEN, b"\x00")) == CKR.MECHANISM_PARAM_INVALID
    odd_rsa = (Attribute.of(CKA.MODULUS_BITS, ulong(2050)),)
    rv, _ = app(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        pPublicKeyTemplate=odd_rsa,
        pPrivateKeyTemplate=(),
    )
    assert rv == CKR.KEY_SIZE_RANGE


def test_attribute_values_follow_the_conventions(make_app: Callable[[str], App], alice_pin: str) -> None:
    app = make_app("alice")
    session = app.session()
    assert app.login(session, alice_pin) == CKR.OK
    key = app.aes_key(session, (*AES_256, true(CKA.SENSITIVE)))

    def query(*entries: AttributeQuery) -> tuple[int, tuple[Attribute, ...]]:
        rv, outputs = app("C_GetAttributeValue", hSession=session, hObject=key, pTemplate=entries)
        assert outputs is not None
        template = outputs["pTemplate"]
        assert isinstance(template, tuple)
        return rv, template  # type: ignore[return-value]

    rv, lengths = query(AttributeQuery(CKA.LABEL, False, 0), AttributeQuery(CKA.CLASS, False, 0))
    assert rv == CKR.OK and [a.length for a in lengths] == [1, wire.NATIVE_ULONG]
    rv, answer = query(
        AttributeQuery(CKA.LABEL, True, 0), AttributeQuery(CKA.VALUE_LEN, True, wire.NATIVE_ULONG)
    )
    assert rv == CKR.BUFFER_TOO_SMALL and answer == (
        Attribute(CKA.LABEL, None, None),
        Attribute.of(CKA.VALUE_LEN, ulong(32)),
    )
    rv, answer = query(AttributeQuery(CKA.VALUE, True, 64), AttributeQuery(CKA.SENSITIVE, True, 1))
    assert rv == CKR.ATTRIBUTE_SENSITIVE and answer == (
        Attribute(CKA.VALUE, None, None),
        Attribute.of(CKA.SENSITIVE, b"\x01"),
    )
    rv, answer = query(AttributeQuery(CKA.MODULUS, True, 256))
    assert rv == CKR.ATTRIBUTE_TYPE_INVALID and answer == (Attribute(CKA.MODULUS, None, None),)
    rv, _ = app("C_GetAttributeValue", hSession=session, hObject=key + 100, pTemplate=())
    assert rv == CKR.OBJECT_HANDLE_INVALID
    chosen = app.aes_key(
        session, (*AES_256[:1], Attribute.of(CKA.LABEL, b"k2"), Attribute.of(CKA.ID, b"\x0e\x01"))
    )
    app.ok("C_FindObjectsInit", hSession=session, pTemplate=(Attribute.of(CKA.ID, b"\x0e\x01"),))
    found = app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 10))["phObject"]
    assert found == OutData(1, (chosen,))
    assert app("C_FindObjectsInit", hSession=session, pTemplate=())[0] == CKR.OPERATION_ACTIVE
    app.ok("C_FindObjectsFinal", hSession=session)
    rv, answer = query(AttributeQuery(CKA.ID, True, 8))
    assert rv == CKR.OK and len(answer[0].value or b"") == 8  # the first key's: derived from its identifier
    # Logged out, a secret key is not there at all.
    app.ok("C_Logout", hSession=session)
    assert (
        app("C_GetAttributeValue", hSession=session, hObject=key, pTemplate=())[0]
        == CKR.OBJECT_HANDLE_INVALID
    )


def test_a_length_query_keeps_the_operation_and_its_answer(
    make_app: Callable[[str], App], alice_pin: str
) -> None:
    app = make_app("alice")
    session = app.session()
    assert app.login(session, alice_pin) == CKR.OK
    key = app.aes_key(session)
    mechanism = Mechanism(CKM.AES_CBC_PAD, bytes(16))
    assert app("C_Encrypt", hSession=session, pData=b"x", pEncryptedData=OutRequest(False, 0))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    app.ok("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=key)
    assert app("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=key)[0] == CKR.OPERATION_ACTIVE
    data = b"seventeen bytes.."
    asked = app.ok("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(False, 0))
    assert asked == {"pEncryptedData": OutData(32)}
    rv, small = app("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(True, 16))
    assert (rv, small) == (CKR.BUFFER_TOO_SMALL, {"pEncryptedData": OutData(32)})
    sealed = app.ok("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(True, 32))[
        "pEncryptedData"
    ]
    assert isinstance(sealed, OutData) and sealed.length == 32 and isinstance(sealed.data, bytes)
    assert app("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(True, 32))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=key)
    opened = app.ok("C_Decrypt", hSession=session, pEncryptedData=sealed.data, pData=OutRequest(True, 32))
    assert opened == {"pData": OutData(len(data), data)}
    bad_iv = Mechanism(CKM.AES_CBC_PAD, bytes(8))
    assert (
        app("C_EncryptInit", hSession=session, pMechanism=bad_iv, hKey=key)[0] == CKR.MECHANISM_PARAM_INVALID
    )
    ecdsa = Mechanism(CKM.ECDSA)
    assert app("C_SignInit", hSession=session, pMechanism=ecdsa, hKey=key)[0] == CKR.KEY_TYPE_INCONSISTENT
    random = app.ok("C_GenerateRandom", hSession=session, RandomData=OutRequest(True, 24))["RandomData"]
    assert isinstance(random, OutData) and isinstance(random.data, bytes) and len(random.data) == 24
    too_many = OutRequest(True, 2 << 20)
    assert app("C_GenerateRandom", hSession=session, RandomData=too_many)[0] == CKR.DEVICE_MEMORY


def test_multi_part_signatures_are_signed_whole(make_app: Callable[[str], App], alice_pin: str) -> None:
    app = make_app("alice")
    session = app.session()
    assert app.login(session, alice_pin) == CKR.OK
    p256 = Attribute.of(CKA.EC_PARAMS, bytes.fromhex("06082a8648ce3d030107"))
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(p256, Attribute.of(CKA.LABEL, b"pair")),
        pPrivateKeyTemplate=(Attribute.of(CKA.LABEL, b"pair"),),
    )
    public, private = pair["phPublicKey"], pair["phPrivateKey"]
    sha256 = Mechanism(CKM.ECDSA_SHA256)
    app.ok("C_SignInit", hSession=session, pMechanism=sha256, hKey=private)
    for part in (b"one key, ", b"two protocols"):
        app.ok("C_SignUpdate", hSession=session, pPart=part)
    assert (
        app("C_Sign", hSession=session, pData=b"x", pSignature=OutRequest(True, 64))[0]
        == CKR.OPERATION_ACTIVE
    )
    signed = app.ok("C_SignFinal", hSession=session, pSignature=OutRequest(True, 64))["pSignature"]
    assert isinstance(signed, OutData) and isinstance(signed.data, bytes) and signed.length == 64
    rv, outputs = app(
        "C_GetAttributeValue",
        hSession=session,
        hObject=public,
        pTemplate=(AttributeQuery(CKA.EC_POINT, True, 80),),
    )
    assert rv == CKR.OK and outputs is not None
    (point,) = outputs["pTemplate"]  # type: ignore[misc]
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point.value[2:])
    r, s = int.from_bytes(signed.data[:32], "big"), int.from_bytes(signed.data[32:], "big")
    key.verify(encode_dss_signature(r, s), b"one key, two protocols", ec.ECDSA(hashes.SHA256()))
    app.ok("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=public)
    app.ok("C_Verify", hSession=session, pData=b"one key, two protocols", pSignature=signed.data)
    app.ok("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=public)
    app.ok("C_VerifyUpdate", hSession=session, pPart=b"one key, two protocol!")
    assert app("C_VerifyFinal", hSession=session, pSignature=signed.data)[0] == CKR.SIGNATURE_INVALID
    app.ok("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=public)
    assert app("C_VerifyFinal", hSession=session, pSignature=signed.data[:10])[0] == CKR.SIGNATURE_LEN_RANGE
    app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(CKM.ECDSA), hKey=private)
    assert app("C_SignUpdate", hSession=session, pPart=b"x")[0] == CKR.FUNCTION_NOT_SUPPORTED
    assert (
        app("C_SignFinal", hSession=session, pSignature=OutRequest(True, 64))[0]
        == CKR.OPERATION_NOT_INITIALIZED
    )
