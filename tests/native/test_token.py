"""The native token's Cryptoki conventions, through the engine (KMIP PKCS#11 operation in,
out) on a real store: length queries, CKR_BUFFER_TOO_SMALL, bad arguments, templates,
sessions and handles that stay one client's, login with the client's PIN."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, hashes, keywrap, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, KBKDFHMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

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
from pkcs11_kmip.kmip.messages import (
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    RequestPayload,
    ResponseMessage,
    ResponsePayload,
)
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CreateRequest,
    EncryptRequest,
    EncryptResponse,
    GetAttributesRequest,
    LocateRequest,
    MACRequest,
    PKCS11Request,
    PKCS11Response,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    HashingAlgorithm,
    ObjectType,
    Operation,
    PKCS11Function,
    ResultStatus,
    State,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import MASTER_KEY_BYTES
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings
from pkcs11_kmip_server.native import pins
from pkcs11_kmip_server.pki import write_private
from pkcs11_kmip_server.serve import open_store
from testsupport import certificates
from testsupport.kmip_builders import as_attributes, name, symmetric_create

RW = CKF_SERIAL_SESSION | CKF_RW_SESSION
DATA = b"one key, two protocols"
SLOT = 1


def ulong(value: int) -> bytes:
    return value.to_bytes(wire.NATIVE_ULONG, sys.byteorder)


def true(type_: int) -> Attribute:
    return Attribute.of(type_, b"\x01")


MECHANISM_COUNT = (
    94  # 26 for keys, 5 HMACs, 5 digests, 3 key wraps, ECDH, generic secrets, 2 CMAC, 2 EdDSA, 5 3DES,
    # SHA-3: 4 digests, 4 HMACs, 12 signatures; X25519/X448 key pairs; HKDF, PBKDF2, 3 SP 800-108 KDFs;
    # AES-ECB/CBC and 3DES-ECB/CBC encrypt-data and 9 hash key derivations;
    # ChaCha20, ChaCha20-Poly1305, AES-XTS and the two key generations
)

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

    def kmip(self, operation: Operation, payload: RequestPayload) -> ResponsePayload:
        """A KMIP request of the same client, beside its PKCS#11 calls."""
        message = RequestMessage(
            header=RequestHeader(protocol_version=ProtocolVersion.of((2, 1)), batch_count=1),
            batch_items=[RequestBatchItem(operation=operation, request_payload=payload)],
        )
        (item,) = ResponseMessage.decode(
            self.engine.handle(message.encode(), Peer(self.principal))
        ).batch_items
        assert item.result_status is ResultStatus.SUCCESS, item.result_message
        assert isinstance(item.response_payload, ResponsePayload)
        return item.response_payload

    def made(self, name: str, output: str, **inputs: Value) -> tuple[int, int | None]:
        """A call that makes an object: its CK_RV and the new handle (None if it failed)."""
        rv, outputs = self(name, **inputs)
        handle = outputs[output] if outputs else None
        assert handle is None or isinstance(handle, int)
        return rv, handle

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
def make_app(tmp_path: Path, key_store: HsmStoreSettings | None) -> Iterator[Callable[[str], App]]:
    """Applications of clients alice (PIN issued) and bob (none) on one engine, whose store is
    the one a server opens (serve.open_store): keys in the database, or in `key_store`'s token."""
    (tmp_path / "clients" / "alice").mkdir(parents=True)
    config = ServerConfig(tmp_path, store_path=Path("store.sqlite3"), key_store=key_store)
    write_private(config.path(config.master_key), secrets.token_bytes(MASTER_KEY_BYTES))
    store = open_store(config)
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
    assert isinstance(count, OutData) and count.data is None and count.length == MECHANISM_COUNT
    rv, small = app("C_GetMechanismList", slotID=SLOT, pMechanismList=OutRequest(True, 3))
    assert rv == CKR.BUFFER_TOO_SMALL and small == {"pMechanismList": OutData(MECHANISM_COUNT)}
    listed = OutRequest(True, MECHANISM_COUNT)
    full = app.ok("C_GetMechanismList", slotID=SLOT, pMechanismList=listed)["pMechanismList"]
    assert isinstance(full, OutData) and full.data is not None and CKM.AES_GCM in full.data
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=CKM.RSA_PKCS_KEY_PAIR_GEN)["pInfo"]
    assert isinstance(info, dict) and (info["ulMinKeySize"], info["ulMaxKeySize"]) == (2048, 4096)
    assert (
        app("C_GetMechanismInfo", slotID=SLOT, type=0x121)[0] == CKR.MECHANISM_INVALID
    )  # single DES: not here
    assert app("C_GetSlotInfo", slotID=2)[0] == CKR.SLOT_ID_INVALID
    assert app("C_SeedRandom", hSession=1, pSeed=b"x")[0] == CKR.FUNCTION_NOT_SUPPORTED


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
    assert alice.ok("C_GetSessionInfo", hSession=session)["pInfo"]["state"] == 3  # type: ignore[index, call-overload]
    bobs = bob.session()
    assert bob.login(bobs, alice_pin) == CKR.USER_PIN_NOT_INITIALIZED  # bob has no PIN
    # A second application of alice's is not logged in by the first one's login.
    again = make_app("alice")
    assert again.ok("C_GetSessionInfo", hSession=again.session())["pInfo"]["state"] == 2  # type: ignore[index, call-overload]
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
    assert generate((*AES_256, Attribute.of(CKA.ID, bytes(256)))) == CKR.ATTRIBUTE_VALUE_INVALID
    # An empty CKA_ID (python-pkcs11's default template) is kept and read back empty, as SoftHSM2 does.
    unnamed = app.aes_key(session, (*AES_256, Attribute.of(CKA.ID, b"")))
    assert read(app, session, unnamed, CKA.ID) == [b""]
    assert generate((*AES_256, Attribute.of(CKA.TOKEN, b"\x00\x00"))) == CKR.ATTRIBUTE_VALUE_INVALID
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
    (point,) = read(app, session, public, CKA.EC_POINT)
    assert isinstance(point, bytes)
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])
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


# --- digests, multi-part ciphers, C_CreateObject, C_SetAttributeValue ---------------------

P256 = bytes.fromhex("06082a8648ce3d030107")
CKO_CERTIFICATE, CKA_CERTIFICATE_TYPE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER = 1, 0x80, 0x101, 0x81, 0x82


def logged_in(make_app: Callable[[str], App], pin: str) -> tuple[App, int]:
    app = make_app("alice")
    session = app.session()
    assert app.login(session, pin) == CKR.OK
    return app, session


def output(answer: dict[str, Value], name: str) -> bytes:
    value = answer[name]
    assert isinstance(value, OutData) and isinstance(value.data, bytes)
    return value.data


def read(app: App, session: int, handle: int, *types: int) -> list[bytes | None]:
    queries = tuple(AttributeQuery(type_, True, 4096) for type_ in types)
    rv, outputs = app("C_GetAttributeValue", hSession=session, hObject=handle, pTemplate=queries)
    assert outputs is not None, hex(rv)
    template = outputs["pTemplate"]
    assert isinstance(template, tuple)
    return [entry.value if isinstance(entry, Attribute) else None for entry in template]


def find_all(app: App, session: int, *template: Attribute) -> set[int]:
    """The handles C_FindObjects gives for `template` (at most 100)."""
    app.ok("C_FindObjectsInit", hSession=session, pTemplate=template)
    found = app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 100))["phObject"]
    app.ok("C_FindObjectsFinal", hSession=session)
    assert isinstance(found, OutData) and isinstance(found.data, tuple)
    return set(found.data)


def kmip_made(
    app: App,
    session: int,
    label: str,
    algorithm: CryptographicAlgorithm,
    bits: int,
    usage: CryptographicUsageMask,
    *parameters: CryptographicParameters,
) -> int:
    """The token's handle of a symmetric key KMIP Create made (readable: not Sensitive,
    Extractable) and Activate activated, named `label`."""
    created = app.kmip(
        Operation.CREATE,
        CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=as_attributes(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm),
                (Tag.CRYPTOGRAPHIC_LENGTH, bits),
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage),
                *((Tag.CRYPTOGRAPHIC_PARAMETERS, p) for p in parameters),
                (Tag.NAME, name(label)),
                (Tag.SENSITIVE, False),
                (Tag.EXTRACTABLE, True),
            ),
        ),
    )
    app.kmip(Operation.ACTIVATE, ActivateRequest(unique_identifier=created.unique_identifier))  # type: ignore[attr-defined]
    (handle,) = find_all(app, session, Attribute.of(CKA.LABEL, label.encode()))
    return handle


def unwrapped_by_kwp(
    app: App, session: int, wrapping: int, plain: bytes, *template: Attribute
) -> tuple[int, int | None]:
    """C_UnwrapKey with CKM_AES_KEY_WRAP_KWP of `plain` as pyca wraps it (RFC 5649) under the
    value of the readable AES key `wrapping`: the CK_RV and the new handle."""
    (kek,) = read(app, session, wrapping, CKA.VALUE)
    assert isinstance(kek, bytes)
    return app.made(
        "C_UnwrapKey",
        "phKey",
        hSession=session,
        pMechanism=Mechanism(0x210B),  # CKM_AES_KEY_WRAP_KWP
        hUnwrappingKey=wrapping,
        pWrappedKey=keywrap.aes_key_wrap_with_padding(kek, plain),
        pTemplate=template,
    )


def decrypt_in_parts(
    app: App, session: int, mechanism: Mechanism, key: int, sealed: bytes, cuts: tuple[int, ...]
) -> bytes:
    """C_DecryptInit, C_DecryptUpdate of `sealed` cut at `cuts`, C_DecryptFinal: all the output."""
    app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=key)
    opened = b""
    for start, end in zip((0, *cuts), (*cuts, len(sealed)), strict=True):
        room = OutRequest(True, 256)
        opened += output(
            app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=sealed[start:end], pPart=room), "pPart"
        )
    return opened + output(
        app.ok("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 32)), "pLastPart"
    )


def test_digests_are_kmip_hash(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    sha256 = Mechanism(CKM.SHA256)
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=CKM.SHA512)["pInfo"]
    assert isinstance(info, dict) and info["flags"] == 0x400  # CKF_DIGEST
    assert app("C_Digest", hSession=session, pData=b"x", pDigest=OutRequest(True, 32))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    app.ok("C_DigestInit", hSession=session, pMechanism=sha256)
    assert app("C_DigestInit", hSession=session, pMechanism=sha256)[0] == CKR.OPERATION_ACTIVE
    assert app.ok("C_Digest", hSession=session, pData=DATA, pDigest=OutRequest(False, 0)) == {
        "pDigest": OutData(32)
    }
    digest = app.ok("C_Digest", hSession=session, pData=DATA, pDigest=OutRequest(True, 32))
    assert output(digest, "pDigest") == hashlib.sha256(DATA).digest()

    # Multi-part, with a key's value in the middle (C_DigestKey), as one KMIP Hash.
    key = app.aes_key(session, (*AES_256, Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE)))
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes) and len(value) == 32
    app.ok("C_DigestInit", hSession=session, pMechanism=Mechanism(CKM.SHA_1))
    app.ok("C_DigestUpdate", hSession=session, pPart=DATA[:5])
    app.ok("C_DigestKey", hSession=session, hKey=key)
    app.ok("C_DigestUpdate", hSession=session, pPart=DATA[5:])
    assert (
        app("C_Digest", hSession=session, pData=b"", pDigest=OutRequest(True, 20))[0] == CKR.OPERATION_ACTIVE
    )
    final = app.ok("C_DigestFinal", hSession=session, pDigest=OutRequest(True, 20))
    assert output(final, "pDigest") == hashlib.sha1(DATA[:5] + value + DATA[5:]).digest()

    hidden = app.aes_key(session, (Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.LABEL, b"h")))
    app.ok("C_DigestInit", hSession=session, pMechanism=sha256)
    assert app("C_DigestKey", hSession=session, hKey=hidden)[0] == CKR.KEY_INDIGESTIBLE
    assert app("C_DigestFinal", hSession=session, pDigest=OutRequest(True, 32))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    assert app("C_DigestInit", hSession=session, pMechanism=Mechanism(CKM.SHA256, b"x"))[0] == (
        CKR.MECHANISM_PARAM_INVALID
    )
    assert (
        app("C_DigestInit", hSession=session, pMechanism=Mechanism(CKM.AES_GCM))[0] == CKR.MECHANISM_INVALID
    )
    assert (
        app("C_DigestInit", hSession=session, pMechanism=Mechanism(0x210))[0] == CKR.MECHANISM_INVALID
    )  # MD5


def test_multi_part_ciphers_stream_through_kmip(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    key = app.aes_key(session, (*AES_256, Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE)))
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes)
    iv = bytes(range(16))
    cbc = Mechanism(CKM.AES_CBC_PAD, iv)
    data = secrets.token_bytes(100)

    # CBC-PAD: every part's whole blocks come out at once (a KMIP Encrypt stream).
    app.ok("C_EncryptInit", hSession=session, pMechanism=cbc, hKey=key)
    sealed = b""
    for part in (data[:10], data[10:50], data[50:]):
        asked = app.ok("C_EncryptUpdate", hSession=session, pPart=part, pEncryptedPart=OutRequest(False, 0))
        size = asked["pEncryptedPart"]
        assert isinstance(size, OutData)
        if size.length:  # a buffer too small keeps the part's output for the call repeated
            rv, _ = app("C_EncryptUpdate", hSession=session, pPart=part, pEncryptedPart=OutRequest(True, 1))
            assert rv == CKR.BUFFER_TOO_SMALL
        room = OutRequest(True, size.length)
        got = app.ok("C_EncryptUpdate", hSession=session, pPart=part, pEncryptedPart=room)
        sealed += output(got, "pEncryptedPart") if size.length else b""
    assert len(sealed) == 96
    assert app("C_Encrypt", hSession=session, pData=b"x", pEncryptedData=OutRequest(True, 32))[0] == (
        CKR.OPERATION_ACTIVE
    )
    last = app.ok("C_EncryptFinal", hSession=session, pLastEncryptedPart=OutRequest(True, 32))
    sealed += output(last, "pLastEncryptedPart")
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(value), modes.CBC(iv)).encryptor()
    assert sealed == encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()

    assert decrypt_in_parts(app, session, cbc, key, sealed, (7, 64)) == data

    # GCM: encryption streams, its tag after the last part; decryption waits for the tag.
    gcm = Mechanism(
        CKM.AES_GCM, {"pIv": iv[:12], "ulIvBits": 96, "pAAD": b"aad", "ulAADLen": 3, "ulTagBits": 128}
    )
    app.ok("C_EncryptInit", hSession=session, pMechanism=gcm, hKey=key)
    sealed = b""
    for part in (data[:33], data[33:]):
        got = app.ok("C_EncryptUpdate", hSession=session, pPart=part, pEncryptedPart=OutRequest(True, 256))
        sealed += output(got, "pEncryptedPart")
    sealed += output(
        app.ok("C_EncryptFinal", hSession=session, pLastEncryptedPart=OutRequest(True, 32)),
        "pLastEncryptedPart",
    )
    assert sealed == AESGCM(value).encrypt(iv[:12], data, b"aad")
    app.ok("C_DecryptInit", hSession=session, pMechanism=gcm, hKey=key)
    for part in (sealed[:50], sealed[50:]):
        got = app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=part, pPart=OutRequest(True, 256))
        assert got == {"pPart": OutData(0, b"")}
    assert (
        output(app.ok("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 256)), "pLastPart")
        == data
    )
    app.ok("C_DecryptInit", hSession=session, pMechanism=gcm, hKey=key)
    app.ok(
        "C_DecryptUpdate", hSession=session, pEncryptedPart=sealed[:-1] + b"!", pPart=OutRequest(True, 256)
    )
    assert (
        app("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 256))[0]
        == CKR.ENCRYPTED_DATA_INVALID
    )
    assert app("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 256))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    # ECB and CBC without padding: whole blocks, else CKR_DATA_LEN_RANGE (at once, or at the end).
    ecb = Mechanism(0x1081)
    app.ok("C_EncryptInit", hSession=session, pMechanism=ecb, hKey=key)
    sealed = output(
        app.ok("C_Encrypt", hSession=session, pData=data[:32], pEncryptedData=OutRequest(True, 32)),
        "pEncryptedData",
    )
    encryptor = Cipher(algorithms.AES(value), modes.ECB()).encryptor()
    assert sealed == encryptor.update(data[:32]) + encryptor.finalize()
    app.ok("C_EncryptInit", hSession=session, pMechanism=ecb, hKey=key)
    assert (
        app("C_Encrypt", hSession=session, pData=data[:17], pEncryptedData=OutRequest(True, 32))[0]
        == CKR.DATA_LEN_RANGE
    )
    app.ok("C_EncryptInit", hSession=session, pMechanism=Mechanism(0x1082, iv), hKey=key)
    app.ok("C_EncryptUpdate", hSession=session, pPart=data[:17], pEncryptedPart=OutRequest(True, 32))
    assert (
        app("C_EncryptFinal", hSession=session, pLastEncryptedPart=OutRequest(True, 32))[0]
        == CKR.DATA_LEN_RANGE
    )
    # A padding that does not unpad ends the stream at C_DecryptFinal.
    app.ok("C_DecryptInit", hSession=session, pMechanism=cbc, hKey=key)
    app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=bytes(32), pPart=OutRequest(True, 64))
    assert (
        app("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 32))[0]
        == CKR.ENCRYPTED_DATA_INVALID
    )


def test_objects_are_created_through_kmip_register(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)

    def create(*template: Attribute, on: int = session) -> tuple[int, int | None]:
        return app.made("C_CreateObject", "phObject", hSession=on, pTemplate=template)

    secret = (Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY)), Attribute.of(CKA.KEY_TYPE, ulong(0x1F)))
    value = secrets.token_bytes(16)
    rv, aes = create(
        *secret, Attribute.of(CKA.VALUE, value), Attribute.of(CKA.LABEL, b"imported"), true(CKA.TOKEN)
    )
    assert rv == CKR.OK and aes is not None
    assert read(app, session, aes, CKA.VALUE_LEN, CKA.LOCAL, CKA.SENSITIVE) == [ulong(16), b"\x00", b"\x01"]
    gcm = Mechanism(
        CKM.AES_GCM, {"pIv": bytes(12), "ulIvBits": 96, "pAAD": None, "ulAADLen": 0, "ulTagBits": 128}
    )
    app.ok("C_EncryptInit", hSession=session, pMechanism=gcm, hKey=aes)
    sealed = app.ok("C_Encrypt", hSession=session, pData=DATA, pEncryptedData=OutRequest(True, 64))
    assert output(sealed, "pEncryptedData") == AESGCM(value).encrypt(bytes(12), DATA, None)

    # An EC key pair from its components signs and verifies like a generated one.
    private = ec.generate_private_key(ec.SECP256R1())
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ec_key = (Attribute.of(CKA.KEY_TYPE, ulong(0x3)), Attribute.of(CKA.EC_PARAMS, P256))
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    rv, signer = create(
        Attribute.of(CKA.CLASS, ulong(CKO.PRIVATE_KEY)), *ec_key, Attribute.of(CKA.VALUE, scalar)
    )
    assert rv == CKR.OK and signer is not None
    rv, verifier = create(
        Attribute.of(CKA.CLASS, ulong(CKO.PUBLIC_KEY)),
        *ec_key,
        Attribute.of(CKA.EC_POINT, b"\x04\x41" + point),
    )
    assert rv == CKR.OK and verifier is not None
    assert read(app, session, verifier, CKA.EC_POINT) == [b"\x04\x41" + point]
    app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(CKM.ECDSA_SHA256), hKey=signer)
    signature = output(
        app.ok("C_Sign", hSession=session, pData=DATA, pSignature=OutRequest(True, 64)), "pSignature"
    )
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    private.public_key().verify(encode_dss_signature(r, s), DATA, ec.ECDSA(hashes.SHA256()))

    # A certificate: CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER as the server reads them.
    made = certificates.self_signed("native token", 0x1234567)
    der = made.public_bytes(serialization.Encoding.DER)
    cert = (Attribute.of(CKA.CLASS, ulong(CKO_CERTIFICATE)), Attribute.of(CKA_CERTIFICATE_TYPE, ulong(0)))
    subject = made.subject.public_bytes()
    rv, handle = create(*cert, Attribute.of(CKA.VALUE, der), Attribute.of(CKA_SUBJECT, subject))
    assert rv == CKR.OK and handle is not None
    serial = b"\x02\x04" + (0x1234567).to_bytes(4, "big")
    assert read(app, session, handle, CKA.VALUE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA.PRIVATE) == [
        der,
        subject,
        made.issuer.public_bytes(),
        serial,
        b"\x00",
    ]
    assert read(app, session, handle, CKA.KEY_TYPE) == [None]  # a certificate has none
    app.ok(
        "C_FindObjectsInit", hSession=session, pTemplate=(Attribute.of(CKA.CLASS, ulong(CKO_CERTIFICATE)),)
    )
    assert app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 10))["phObject"] == OutData(
        1, (handle,)
    )
    app.ok("C_FindObjectsFinal", hSession=session)

    # Misuse, each with its own CK_RV.
    assert create(*cert, Attribute.of(CKA.VALUE, b"not a certificate"))[0] == CKR.ATTRIBUTE_VALUE_INVALID
    other = Attribute.of(CKA_SUBJECT, x509.Name([]).public_bytes())
    assert create(*cert, Attribute.of(CKA.VALUE, der), other)[0] == CKR.TEMPLATE_INCONSISTENT
    assert create(*secret, Attribute.of(CKA.VALUE, bytes(20)))[0] == CKR.ATTRIBUTE_VALUE_INVALID
    assert create(*secret)[0] == CKR.TEMPLATE_INCOMPLETE
    assert create(secret[1], Attribute.of(CKA.VALUE, value))[0] == CKR.TEMPLATE_INCOMPLETE
    des = Attribute.of(CKA.KEY_TYPE, ulong(0x13))  # single DES: not a key type of the token's
    assert create(secret[0], des, Attribute.of(CKA.VALUE, bytes(8)))[0] == CKR.TEMPLATE_INCONSISTENT
    mismatch = Attribute.of(CKA.VALUE_LEN, ulong(32))
    assert create(*secret, Attribute.of(CKA.VALUE, value), mismatch)[0] == CKR.TEMPLATE_INCONSISTENT
    off_curve = Attribute.of(CKA.EC_POINT, b"\x04\x41\x04" + bytes(64))
    assert create(Attribute.of(CKA.CLASS, ulong(CKO.PUBLIC_KEY)), *ec_key, off_curve)[0] == (
        CKR.ATTRIBUTE_VALUE_INVALID
    )
    assert create(
        *secret, Attribute.of(CKA.VALUE, value), Attribute.of(CKA.LABEL, b"imported"), true(CKA.TOKEN)
    )[0] == (
        CKR.ATTRIBUTE_VALUE_INVALID  # KMIP Names are unique per client
    )
    read_only = app.session(CKF_SERIAL_SESSION)
    token = Attribute.of(CKA.TOKEN, b"\x01")
    assert create(*secret, Attribute.of(CKA.VALUE, value), token, on=read_only)[0] == CKR.SESSION_READ_ONLY


def test_set_attribute_value_follows_kmip_rules(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    key = app.aes_key(session, (*AES_256, Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE)))

    def set_(*template: Attribute, on: int = session, handle: int = key) -> int:
        return app("C_SetAttributeValue", hSession=on, hObject=handle, pTemplate=template)[0]

    assert read(app, session, key, CKA.MODIFIABLE) == [b"\x01"]
    assert set_(Attribute.of(CKA.LABEL, b"renamed"), Attribute.of(CKA.ID, b"\x0a\x0b")) == CKR.OK
    app.ok("C_FindObjectsInit", hSession=session, pTemplate=(Attribute.of(CKA.LABEL, b"renamed"),))
    assert app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 10))["phObject"] == OutData(
        1, (key,)
    )
    app.ok("C_FindObjectsFinal", hSession=session)
    assert read(app, session, key, CKA.ID) == [b"\x0a\x0b"]
    assert set_(Attribute.of(CKA.ID, b"\x0c")) == CKR.OK
    assert read(app, session, key, CKA.ID) == [b"\x0c"]
    # A failing entry leaves the whole template undone.
    assert (
        set_(Attribute.of(CKA.LABEL, b"again"), Attribute.of(CKA.ENCRYPT, b"\x00")) == CKR.ATTRIBUTE_READ_ONLY
    )
    assert read(app, session, key, CKA.LABEL) == [b"renamed"]
    assert set_(Attribute.of(CKA.ENCRYPT, b"\x01")) == CKR.OK  # the value it has
    assert set_(Attribute.of(CKA.SENSITIVE, b"\x01"), Attribute.of(CKA.EXTRACTABLE, b"\x00")) == CKR.OK
    assert read(
        app, session, key, CKA.SENSITIVE, CKA.EXTRACTABLE, CKA.ALWAYS_SENSITIVE, CKA.NEVER_EXTRACTABLE
    ) == [
        b"\x01",
        b"\x00",
        b"\x00",
        b"\x00",
    ]
    assert set_(Attribute.of(CKA.SENSITIVE, b"\x00")) == CKR.ATTRIBUTE_READ_ONLY
    assert set_(Attribute.of(CKA.EXTRACTABLE, b"\x01")) == CKR.ATTRIBUTE_READ_ONLY
    assert set_(Attribute.of(CKA.VALUE_LEN, ulong(16))) == CKR.ATTRIBUTE_READ_ONLY
    # Dates: the Deactivation Date while Active; the Activation Date only while Pre-Active.
    assert set_(Attribute.of(CKA.START_DATE, b"20300101")) == CKR.ATTRIBUTE_READ_ONLY  # Active already
    assert set_(Attribute.of(CKA.END_DATE, b"20301231")) == CKR.OK
    assert read(app, session, key, CKA.END_DATE) == [b"20301231"]
    assert set_(Attribute.of(CKA.END_DATE, b"2030-12")) == CKR.ATTRIBUTE_VALUE_INVALID
    assert set_(Attribute.of(CKA.END_DATE, b"")) == CKR.ATTRIBUTE_READ_ONLY
    assert set_(Attribute.of(CKA.END_DATE, b"20000101")) == CKR.OK  # now Deactivated: no more changes
    assert set_(Attribute.of(CKA.END_DATE, b"20310101")) == CKR.ATTRIBUTE_READ_ONLY
    assert set_(Attribute.of(CKA.MODULUS, b"\x01")) == CKR.ATTRIBUTE_TYPE_INVALID
    assert set_(Attribute.of(CKA.SENSITIVE, b"\x01\x00")) == CKR.ATTRIBUTE_VALUE_INVALID
    other = app.aes_key(
        session, (Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.LABEL, b"other"), true(CKA.TOKEN))
    )
    assert set_(Attribute.of(CKA.LABEL, b"other")) == CKR.ATTRIBUTE_VALUE_INVALID  # unique Names
    assert set_(Attribute.of(CKA.LABEL, b"x"), handle=other + 100) == CKR.OBJECT_HANDLE_INVALID
    assert set_(Attribute.of(CKA.LABEL, b"x"), on=app.session(CKF_SERIAL_SESSION)) == CKR.SESSION_READ_ONLY
    copied = app("C_CopyObject", hSession=session, hObject=key, pTemplate=())
    assert copied[0] == CKR.TEMPLATE_INCOMPLETE  # it would keep the label: KMIP Names are unique
    assert (
        app("C_CopyObject", hSession=session, hObject=key + 100, pTemplate=())[0] == CKR.OBJECT_HANDLE_INVALID
    )
    assert set_(Attribute.of(CKA.LABEL, b"")) == CKR.OK  # no label: the Name is deleted
    assert read(app, session, key, CKA.LABEL) == [b""]


def test_keys_wrap_and_unwrap_through_kmip(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    readable = (Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE))
    kek = app.aes_key(session, (*AES_256, *readable))
    (kek_value,) = read(app, session, kek, CKA.VALUE)
    assert isinstance(kek_value, bytes)
    wrappable = app.aes_key(
        session,
        (
            Attribute.of(CKA.VALUE_LEN, ulong(16)),
            Attribute.of(CKA.LABEL, b"w"),
            true(CKA.EXTRACTABLE),
            true(CKA.TOKEN),
        ),
    )
    gcm = Mechanism(
        CKM.AES_GCM, {"pIv": bytes(12), "ulIvBits": 96, "pAAD": None, "ulAADLen": 0, "ulTagBits": 128}
    )

    def sealed_by(handle: int) -> bytes:
        app.ok("C_EncryptInit", hSession=session, pMechanism=gcm, hKey=handle)
        return output(
            app.ok("C_Encrypt", hSession=session, pData=DATA, pEncryptedData=OutRequest(True, 64)),
            "pEncryptedData",
        )

    def wrap(mechanism: Mechanism, wrapping: int, key: int, room: int = 512) -> tuple[int, bytes | None]:
        rv, outputs = app(
            "C_WrapKey",
            hSession=session,
            pMechanism=mechanism,
            hWrappingKey=wrapping,
            hKey=key,
            pWrappedKey=OutRequest(True, room),
        )
        data = outputs["pWrappedKey"] if outputs else None
        return rv, data.data if isinstance(data, OutData) else None

    def unwrap(mechanism: Mechanism, unwrapping: int, wrapped: bytes, label: bytes) -> tuple[int, int | None]:
        template = (
            Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY)),
            Attribute.of(CKA.KEY_TYPE, ulong(0x1F)),
            Attribute.of(CKA.LABEL, label),
            true(CKA.TOKEN),
        )
        return app.made(
            "C_UnwrapKey",
            "phKey",
            hSession=session,
            pMechanism=mechanism,
            hUnwrappingKey=unwrapping,
            pWrappedKey=wrapped,
            pTemplate=template,
        )

    # AES-KWP (RFC 5649), KMIP's wrapping for an AES key without Cryptographic Parameters, and
    # AES-KW (RFC 3394) with a key whose Cryptographic Parameters name it (made through KMIP):
    # the same bytes a local implementation makes.
    nist = CryptographicParameters(block_cipher_mode=BlockCipherMode.NIST_KEY_WRAP)
    wrapping_use = CryptographicUsageMask.WRAP_KEY | CryptographicUsageMask.UNWRAP_KEY
    kw_kek = kmip_made(app, session, "kw-kek", CryptographicAlgorithm.AES, 256, wrapping_use, nist)
    (kw_value,) = read(app, session, kw_kek, CKA.VALUE)
    assert isinstance(kw_value, bytes)
    for mechanism, wrapping, wrapping_value, label in (
        (0x210B, kek, kek_value, b"kwp"),
        (0x2109, kw_kek, kw_value, b"kw"),
        (0x2109, kek, kek_value, b"kw-p11"),  # a key the token made names AES-KW too
    ):
        asked = app.ok(
            "C_WrapKey",
            hSession=session,
            pMechanism=Mechanism(mechanism),
            hWrappingKey=wrapping,
            hKey=wrappable,
            pWrappedKey=OutRequest(False, 0),
        )
        assert asked == {"pWrappedKey": OutData(24)}
        assert wrap(Mechanism(mechanism), wrapping, wrappable, 8) == (CKR.BUFFER_TOO_SMALL, None)
        rv, wrapped = wrap(Mechanism(mechanism), wrapping, wrappable)
        assert rv == CKR.OK and wrapped is not None
        unwrap_locally = (
            keywrap.aes_key_unwrap if mechanism == 0x2109 else keywrap.aes_key_unwrap_with_padding
        )
        value = unwrap_locally(wrapping_value, wrapped)
        assert sealed_by(wrappable) == AESGCM(value).encrypt(bytes(12), DATA, None)
        rv, unwrapped = unwrap(Mechanism(mechanism), wrapping, wrapped, label)
        assert rv == CKR.OK and unwrapped is not None
        assert sealed_by(unwrapped) == sealed_by(wrappable)
        assert read(app, session, unwrapped, CKA.LABEL, CKA.SENSITIVE, CKA.LOCAL) == [label, b"\x01", b"\x00"]
    # The KMIP rule: AES-KWP with a key whose Cryptographic Parameters name AES-KW only.
    assert wrap(Mechanism(0x210B), kw_kek, wrappable) == (CKR.MECHANISM_PARAM_INVALID, None)
    # What KMIP clients see of a key the token made: an empty instance first (a request without
    # parameters keeps the server's defaults: Encrypt is AES-GCM, with an IV and a tag), then the
    # wrappings the token offers for it.
    located = app.kmip(Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.NAME, name("k")))))
    (kek_uid,) = located.unique_identifiers  # type: ignore[attr-defined]
    shown = app.kmip(Operation.GET_ATTRIBUTES, GetAttributesRequest(unique_identifier=kek_uid))
    assert shown.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS) == [  # type: ignore[attr-defined]
        CryptographicParameters(),
        CryptographicParameters(block_cipher_mode=BlockCipherMode.AES_KEY_WRAP_PADDING),
        nist,
    ]
    sealed = app.kmip(Operation.ENCRYPT, EncryptRequest(unique_identifier=kek_uid, data=DATA))
    assert isinstance(sealed, EncryptResponse) and sealed.iv_counter_nonce is not None
    assert sealed.data is not None and sealed.authenticated_encryption_tag is not None
    assert (
        AESGCM(kek_value).decrypt(
            sealed.iv_counter_nonce, sealed.data + sealed.authenticated_encryption_tag, None
        )
        == DATA
    )

    # RSA-OAEP: the public key wraps, the private key unwraps.
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.MODULUS_BITS, ulong(2048)), true(CKA.TOKEN)),
        pPrivateKeyTemplate=(Attribute.of(CKA.LABEL, b"rsa"), true(CKA.TOKEN)),
    )
    public, private = pair["phPublicKey"], pair["phPrivateKey"]
    assert isinstance(public, int) and isinstance(private, int)
    exponent = (AttributeQuery(0x123, True, 512),)  # CKA_PRIVATE_EXPONENT: there, never given
    rv, _ = app("C_GetAttributeValue", hSession=session, hObject=private, pTemplate=exponent)
    assert rv == CKR.ATTRIBUTE_SENSITIVE
    oaep = Mechanism(0x9, {"hashAlg": CKM.SHA256, "mgf": 0x2, "source": 1, "pSourceData": None})
    sha1 = Mechanism(0x9, {"hashAlg": CKM.SHA_1, "mgf": 0x1, "source": 1, "pSourceData": None})
    # Every hash the token takes, MGF1 with the same (the pair's Cryptographic Parameters name
    # them); MGF1 with another hash or a label, which they do not name: CKR_MECHANISM_PARAM_INVALID.
    for oaep_mechanism, label in ((oaep, b"oaep"), (sha1, b"oaep-sha1")):
        rv, wrapped = wrap(oaep_mechanism, public, wrappable)
        assert rv == CKR.OK and wrapped is not None and len(wrapped) == 256
        rv, unwrapped = unwrap(oaep_mechanism, private, wrapped, label)
        assert rv == CKR.OK and unwrapped is not None and sealed_by(unwrapped) == sealed_by(wrappable)
    mixed = Mechanism(0x9, {"hashAlg": CKM.SHA256, "mgf": 0x1, "source": 1, "pSourceData": None})
    labelled = Mechanism(0x9, {"hashAlg": CKM.SHA256, "mgf": 0x2, "source": 1, "pSourceData": b"l"})
    assert wrap(mixed, public, wrappable) == (CKR.MECHANISM_PARAM_INVALID, None)
    assert wrap(labelled, public, wrappable) == (CKR.MECHANISM_PARAM_INVALID, None)

    # Misuse.
    kw = Mechanism(0x210B)
    hidden = app.aes_key(
        session, (Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.LABEL, b"ne"), true(CKA.TOKEN))
    )
    assert wrap(kw, kek, hidden) == (CKR.KEY_UNEXTRACTABLE, None)
    assert wrap(kw, kek, public) == (CKR.KEY_NOT_WRAPPABLE, None)
    assert wrap(kw, public, wrappable) == (CKR.WRAPPING_KEY_TYPE_INCONSISTENT, None)
    assert wrap(oaep, private, wrappable) == (CKR.WRAPPING_KEY_TYPE_INCONSISTENT, None)
    assert wrap(kw, kek + 100, wrappable) == (CKR.WRAPPING_KEY_HANDLE_INVALID, None)
    assert wrap(kw, kek, kek + 100) == (CKR.KEY_HANDLE_INVALID, None)
    assert wrap(Mechanism(0x210B, bytes(8)), kek, wrappable) == (CKR.MECHANISM_PARAM_INVALID, None)
    assert wrap(Mechanism(CKM.AES_GCM), kek, wrappable) == (CKR.MECHANISM_INVALID, None)
    no_wrap = app.aes_key(
        session,
        (*AES_256[:1], Attribute.of(CKA.LABEL, b"nw"), Attribute.of(CKA.WRAP, b"\x00"), true(CKA.TOKEN)),
    )
    assert wrap(kw, no_wrap, wrappable) == (CKR.KEY_FUNCTION_NOT_PERMITTED, None)
    assert unwrap(kw, kek, bytes(24), b"bad") == (CKR.WRAPPED_KEY_INVALID, None)
    assert unwrap(kw, kek + 100, bytes(24), b"bad") == (CKR.UNWRAPPING_KEY_HANDLE_INVALID, None)
    assert unwrap(kw, kek, b"", b"bad") == (CKR.WRAPPED_KEY_LEN_RANGE, None)


def test_session_objects_live_with_their_session(
    make_app: Callable[[str], App], alice_pin: str, tmp_path: Path
) -> None:
    store_path = tmp_path / "store.sqlite3"
    app, session = logged_in(make_app, alice_pin)
    read_only = app.session(CKF_SERIAL_SESSION)
    # CKA_TOKEN left out is a session object (Cryptoki's default), made even in a read-only session.
    key = app.aes_key(read_only, (Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.LABEL, b"s")))
    assert read(app, session, key, CKA.TOKEN, CKA.LABEL) == [b"\x00", b"s"]
    gcm = Mechanism(
        CKM.AES_GCM, {"pIv": bytes(12), "ulIvBits": 96, "pAAD": None, "ulAADLen": 0, "ulTagBits": 128}
    )
    app.ok("C_EncryptInit", hSession=session, pMechanism=gcm, hKey=key)  # from another session of the app
    sealed = output(
        app.ok("C_Encrypt", hSession=session, pData=DATA, pEncryptedData=OutRequest(True, 64)),
        "pEncryptedData",
    )
    app.ok("C_DecryptInit", hSession=read_only, pMechanism=gcm, hKey=key)
    assert (
        output(
            app.ok("C_Decrypt", hSession=read_only, pEncryptedData=sealed, pData=OutRequest(True, 64)),
            "pData",
        )
        == DATA
    )
    # A token object may have the same label: KMIP Names are unique per owner.
    token = app.aes_key(session, (*AES_256[:1], Attribute.of(CKA.LABEL, b"s"), true(CKA.TOKEN)))

    def found(on: int, *template: Attribute, by: App = app) -> set[int]:
        by.ok("C_FindObjectsInit", hSession=on, pTemplate=template)
        handles = by.ok("C_FindObjects", hSession=on, phObject=OutRequest(True, 50))["phObject"]
        by.ok("C_FindObjectsFinal", hSession=on)
        assert isinstance(handles, OutData) and isinstance(handles.data, tuple)
        return set(handles.data)

    assert found(session, Attribute.of(CKA.LABEL, b"s")) == {key, token}
    assert found(session, Attribute.of(CKA.TOKEN, b"\x00")) == {key}
    # Not the client's KMIP object, nor another application's.
    located = app.kmip(Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.NAME, name("s")))))
    assert len(located.unique_identifiers) == 1  # type: ignore[attr-defined]  # the token object only
    other = make_app("alice")
    others = other.session()
    assert other.login(others, alice_pin) == CKR.OK
    (seen,) = found(others, Attribute.of(CKA.LABEL, b"s"), by=other)
    assert read(other, others, seen, CKA.TOKEN) == [b"\x01"]
    # A session key pair signs; wrapping needs both keys of one kind (KMIP wraps within one owner).
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=read_only,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256),),
        pPrivateKeyTemplate=(),
    )
    private = pair["phPrivateKey"]
    app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(CKM.ECDSA_SHA256), hKey=private)
    assert (
        len(
            output(
                app.ok("C_Sign", hSession=session, pData=DATA, pSignature=OutRequest(True, 64)), "pSignature"
            )
        )
        == 64
    )
    mixed = app(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), true(CKA.TOKEN)),
        pPrivateKeyTemplate=(),
    )
    assert mixed[0] == CKR.TEMPLATE_INCONSISTENT
    kek = app.aes_key(read_only, (Attribute.of(CKA.VALUE_LEN, ulong(32)),))
    wrappable = app.aes_key(read_only, (Attribute.of(CKA.VALUE_LEN, ulong(16)), true(CKA.EXTRACTABLE)))
    kwp = Mechanism(0x210B)
    wrapped = app.ok(
        "C_WrapKey",
        hSession=session,
        pMechanism=kwp,
        hWrappingKey=kek,
        hKey=wrappable,
        pWrappedKey=OutRequest(True, 64),
    )
    assert isinstance(wrapped["pWrappedKey"], OutData) and wrapped["pWrappedKey"].length == 24
    rv, _ = app(
        "C_WrapKey",
        hSession=session,
        pMechanism=kwp,
        hWrappingKey=token,
        hKey=wrappable,
        pWrappedKey=OutRequest(True, 64),
    )
    assert rv == CKR.KEY_NOT_WRAPPABLE

    # Closing the session that made them destroys them in the store; the token object stays.
    app.ok("C_CloseSession", hSession=read_only)
    assert (
        app("C_GetAttributeValue", hSession=session, hObject=key, pTemplate=())[0]
        == CKR.OBJECT_HANDLE_INVALID
    )
    assert found(session, Attribute.of(CKA.LABEL, b"s")) == {token}
    # In the store: the session objects' records are Destroyed (no key material left).
    with sqlite3.connect(store_path) as database:
        states = database.execute("SELECT state FROM object WHERE instr(owner, char(31)) > 0").fetchall()
    assert len(states) == 5 and {state for (state,) in states} == {State.DESTROYED}


def test_ecdh_derives_an_aes_key_through_kmip(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    token = true(CKA.TOKEN)
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), token),
        pPrivateKeyTemplate=(true(CKA.DERIVE), token, Attribute.of(CKA.LABEL, b"ecdh")),
    )
    public, private = pair["phPublicKey"], pair["phPrivateKey"]
    assert isinstance(public, int) and isinstance(private, int)
    (encoded,) = read(app, session, public, CKA.EC_POINT)
    assert isinstance(encoded, bytes)
    ours = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), encoded[2:])
    peer = ec.generate_private_key(ec.SECP256R1())
    point = peer.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    expected = peer.exchange(ec.ECDH(), ours)

    def derive(
        base: int, template: tuple[Attribute, ...], public_data: bytes = point, kdf: int = 1
    ) -> tuple[int, int | None]:
        parameters = {"kdf": kdf, "pSharedData": None, "pPublicData": public_data}
        mechanism = Mechanism(0x1050, parameters)
        return app.made(
            "C_DeriveKey", "phKey", hSession=session, pMechanism=mechanism, hBaseKey=base, pTemplate=template
        )

    readable = (
        Attribute.of(CKA.SENSITIVE, b"\x00"),
        true(CKA.EXTRACTABLE),
        Attribute.of(CKA.LABEL, b"shared"),
    )
    rv, shared = derive(private, (Attribute.of(CKA.VALUE_LEN, ulong(32)), *readable, token))
    assert rv == CKR.OK and shared is not None
    assert read(app, session, shared, CKA.VALUE, CKA.KEY_TYPE, CKA.TOKEN) == [expected, ulong(0x1F), b"\x01"]
    rv, short = derive(
        private, (Attribute.of(CKA.VALUE_LEN, ulong(16)), true(CKA.EXTRACTABLE), token), b"\x04\x41" + point
    )
    assert rv == CKR.OK and short is not None  # the point in an OCTET STRING, as some applications send it

    # Misuse.
    sixteen = (Attribute.of(CKA.VALUE_LEN, ulong(16)), token)
    assert derive(private, sixteen, kdf=2)[0] == CKR.MECHANISM_PARAM_INVALID  # CKD_SHA1_KDF: not here
    assert derive(private, (token,))[0] == CKR.TEMPLATE_INCOMPLETE
    assert derive(private, (Attribute.of(CKA.VALUE_LEN, ulong(20)), token))[0] == CKR.KEY_SIZE_RANGE
    assert derive(private, sixteen, b"\x04" + bytes(64))[0] == CKR.MECHANISM_PARAM_INVALID  # not on the curve
    assert derive(shared, sixteen)[0] == CKR.KEY_TYPE_INCONSISTENT
    assert derive(private + 100, sixteen)[0] == CKR.KEY_HANDLE_INVALID
    assert (
        derive(private, (Attribute.of(CKA.VALUE_LEN, ulong(16)),))[0] == CKR.TEMPLATE_INCONSISTENT
    )  # a session key
    signer = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), token),
        pPrivateKeyTemplate=(token,),
    )["phPrivateKey"]
    assert isinstance(signer, int)
    assert derive(signer, sixteen)[0] == CKR.KEY_FUNCTION_NOT_PERMITTED  # no CKA_DERIVE


# --- HMAC: C_Sign/C_Verify as KMIP MAC / MAC Verify ---------------------------------------

HMAC_SHA256 = 0x251


def hmac_key(app: App, session: int, label: str, algorithm: CryptographicAlgorithm, mask: int) -> int:
    """An HMAC key made through KMIP Create (extractable, so the test can compute locally)."""
    extractable = ((Tag.SENSITIVE, False), (Tag.EXTRACTABLE, True))
    created = app.kmip(Operation.CREATE, symmetric_create(algorithm, mask, label, *extractable))
    app.kmip(Operation.ACTIVATE, ActivateRequest(unique_identifier=created.unique_identifier))  # type: ignore[attr-defined]
    app.ok("C_FindObjectsInit", hSession=session, pTemplate=(Attribute.of(CKA.LABEL, label.encode()),))
    found = app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 2))["phObject"]
    app.ok("C_FindObjectsFinal", hSession=session)
    assert isinstance(found, OutData) and isinstance(found.data, tuple)
    (handle,) = found.data
    assert isinstance(handle, int)
    return handle


def test_hmac_is_kmip_mac(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    macs = CryptographicUsageMask.MAC_GENERATE | CryptographicUsageMask.MAC_VERIFY
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=HMAC_SHA256)["pInfo"]
    assert isinstance(info, dict)
    flags = 0x2000 | 0x800 | 0x8 | 0x10 | 0x20  # CKF_VERIFY, CKF_SIGN, CKF_MESSAGE_SIGN/VERIFY, MULTI_MESSAGE
    assert (info["ulMinKeySize"], info["ulMaxKeySize"], info["flags"]) == (1, 512, flags)
    cases = (
        (0x221, CryptographicAlgorithm.HMAC_SHA1, hashlib.sha1),
        (0x256, CryptographicAlgorithm.HMAC_SHA224, hashlib.sha224),
        (HMAC_SHA256, CryptographicAlgorithm.HMAC_SHA256, hashlib.sha256),
        (0x261, CryptographicAlgorithm.HMAC_SHA384, hashlib.sha384),
        (0x271, CryptographicAlgorithm.HMAC_SHA512, hashlib.sha512),
    )
    for ckm, algorithm, hash_ in cases:
        key = hmac_key(app, session, f"mac-{ckm:x}", algorithm, macs)
        (value,) = read(app, session, key, CKA.VALUE)
        assert isinstance(value, bytes) and len(value) == 32
        expected = hmac.new(value, DATA, hash_).digest()
        mechanism = Mechanism(ckm)
        app.ok("C_SignInit", hSession=session, pMechanism=mechanism, hKey=key)
        signed = app.ok("C_Sign", hSession=session, pData=DATA, pSignature=OutRequest(True, 64))
        assert output(signed, "pSignature") == expected
        app.ok("C_SignInit", hSession=session, pMechanism=mechanism, hKey=key)
        for part in (DATA[:5], DATA[5:]):
            app.ok("C_SignUpdate", hSession=session, pPart=part)
        assert output(
            app.ok("C_SignFinal", hSession=session, pSignature=OutRequest(True, 64)), "pSignature"
        ) == (expected)
        app.ok("C_VerifyInit", hSession=session, pMechanism=mechanism, hKey=key)
        app.ok("C_Verify", hSession=session, pData=DATA, pSignature=expected)
        app.ok("C_VerifyInit", hSession=session, pMechanism=mechanism, hKey=key)
        app.ok("C_VerifyUpdate", hSession=session, pPart=DATA[:3])
        app.ok("C_VerifyUpdate", hSession=session, pPart=DATA[3:])
        app.ok("C_VerifyFinal", hSession=session, pSignature=expected)
    sha256 = Mechanism(HMAC_SHA256)
    key = hmac_key(app, session, "hmac-sha256", CryptographicAlgorithm.HMAC_SHA256, macs)
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes)
    good = hmac.new(value, DATA, hashlib.sha256).digest()
    app.ok("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=key)
    assert app("C_Verify", hSession=session, pData=DATA + b"!", pSignature=good)[0] == CKR.SIGNATURE_INVALID
    app.ok("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=key)
    assert app("C_Verify", hSession=session, pData=DATA, pSignature=good[:16])[0] == CKR.SIGNATURE_LEN_RANGE
    # Another hash's HMAC key, an AES key: not this mechanism's key type.
    sha1_key = hmac_key(app, session, "mac-1", CryptographicAlgorithm.HMAC_SHA1, macs)
    aes = app.aes_key(session)
    for wrong in (sha1_key, aes):
        assert (
            app("C_SignInit", hSession=session, pMechanism=sha256, hKey=wrong)[0] == CKR.KEY_TYPE_INCONSISTENT
        )
    # A key that may MAC but not verify (and the reverse): the usage KMIP MAC / MAC Verify ask.
    only_mac = hmac_key(
        app, session, "mac-only", CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MAC_GENERATE
    )
    only_verify = hmac_key(
        app, session, "verify-only", CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MAC_VERIFY
    )
    assert (
        app("C_VerifyInit", hSession=session, pMechanism=sha256, hKey=only_mac)[0]
        == CKR.KEY_FUNCTION_NOT_PERMITTED
    )
    assert (
        app("C_SignInit", hSession=session, pMechanism=sha256, hKey=only_verify)[0]
        == CKR.KEY_FUNCTION_NOT_PERMITTED
    )
    assert app("C_SignInit", hSession=session, pMechanism=Mechanism(HMAC_SHA256, b"x"), hKey=key)[0] == (
        CKR.MECHANISM_PARAM_INVALID
    )
    assert read(app, session, only_mac, CKA.SIGN, CKA.VERIFY) == [b"\x01", b"\x00"]
    assert read(app, session, only_verify, CKA.SIGN, CKA.VERIFY) == [b"\x00", b"\x01"]


# --- RSA encryption: CKM_RSA_PKCS and CKM_RSA_PKCS_OAEP as KMIP Encrypt/Decrypt -----------


def rsa_pair(app: App, session: int, *both: Attribute) -> tuple[int, int, rsa.RSAPublicKey]:
    """An RSA-2048 pair the token generates (`both`: in each half's template): its handles, and
    its public key for pyca, from CKA_MODULUS and CKA_PUBLIC_EXPONENT."""
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.MODULUS_BITS, ulong(2048)), *both),
        pPrivateKeyTemplate=both,
    )
    public, private = pair["phPublicKey"], pair["phPrivateKey"]
    assert isinstance(public, int) and isinstance(private, int)
    modulus, exponent = read(app, session, public, CKA.MODULUS, CKA.PUBLIC_EXPONENT)
    assert isinstance(modulus, bytes) and isinstance(exponent, bytes)
    numbers = rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big"))
    return public, private, numbers.public_key()


def test_rsa_encrypts_and_decrypts_through_kmip(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    public, private, local = rsa_pair(app, session, Attribute.of(CKA.LABEL, b"rsa"))
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=CKM.RSA_PKCS)["pInfo"]
    assert (
        isinstance(info, dict) and info["flags"] == 0x100 | 0x200 | 0x800 | 0x2000
    )  # en/decrypt, sign, verify
    oaep_sha256 = {"hashAlg": CKM.SHA256, "mgf": 0x2, "source": 1, "pSourceData": None}
    oaep_sha1 = {"hashAlg": CKM.SHA_1, "mgf": 0x1, "source": 1, "pSourceData": None}
    cases = (
        (Mechanism(CKM.RSA_PKCS), asym_padding.PKCS1v15(), 256 - 11),
        (
            Mechanism(0x9, oaep_sha256),
            asym_padding.OAEP(asym_padding.MGF1(hashes.SHA256()), hashes.SHA256(), None),
            190,
        ),
        (
            Mechanism(0x9, oaep_sha1),
            asym_padding.OAEP(asym_padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
            214,
        ),
    )
    for mechanism, local_padding, most in cases:
        # pyca encrypts, the token decrypts (single-part, and multi-part: collected whole).
        sealed = local.encrypt(DATA, local_padding)
        app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=private)
        opened = app.ok("C_Decrypt", hSession=session, pEncryptedData=sealed, pData=OutRequest(True, 256))
        assert output(opened, "pData") == DATA
        app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=private)
        app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=sealed[:100], pPart=OutRequest(True, 256))
        app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=sealed[100:], pPart=OutRequest(True, 256))
        assert output(
            app.ok("C_DecryptFinal", hSession=session, pLastPart=OutRequest(True, 256)), "pLastPart"
        ) == (DATA)
        # The token encrypts (randomised: not pyca's bytes), and decrypts that back.
        app.ok("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=public)
        sealed = output(
            app.ok("C_Encrypt", hSession=session, pData=b"\x07" * most, pEncryptedData=OutRequest(True, 256)),
            "pEncryptedData",
        )
        assert len(sealed) == 256 and sealed != local.encrypt(b"\x07" * most, local_padding)
        app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=private)
        opened = app.ok("C_Decrypt", hSession=session, pEncryptedData=sealed, pData=OutRequest(True, 256))
        assert output(opened, "pData") == b"\x07" * most
        # One byte too many to encrypt; a ciphertext not the modulus's length; a garbled one.
        app.ok("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=public)
        too_long = app(
            "C_Encrypt", hSession=session, pData=b"\x07" * (most + 1), pEncryptedData=OutRequest(True, 256)
        )
        assert too_long[0] == CKR.DATA_LEN_RANGE
        app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=private)
        short = app("C_Decrypt", hSession=session, pEncryptedData=sealed[:-1], pData=OutRequest(True, 256))
        assert short[0] == CKR.ENCRYPTED_DATA_LEN_RANGE
        if mechanism.type == CKM.RSA_PKCS:
            continue  # PKCS#1 v1.5 rejects implicitly (OpenSSL against Marvin): random bytes, no error
        app.ok("C_DecryptInit", hSession=session, pMechanism=mechanism, hKey=private)
        garbled = app("C_Decrypt", hSession=session, pEncryptedData=bytes(256), pData=OutRequest(True, 256))
        assert garbled[0] == CKR.ENCRYPTED_DATA_INVALID
    # An AES key is not an RSA key; an RSA key pair without the usage (a signing-only one).
    aes = app.aes_key(session)
    assert app("C_EncryptInit", hSession=session, pMechanism=Mechanism(CKM.RSA_PKCS), hKey=aes)[0] == (
        CKR.KEY_TYPE_INCONSISTENT
    )
    signing = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.RSA_PKCS_KEY_PAIR_GEN),
        pPublicKeyTemplate=(
            Attribute.of(CKA.MODULUS_BITS, ulong(2048)),
            Attribute.of(CKA.ENCRYPT, b"\x00"),
            Attribute.of(CKA.LABEL, b"signing"),
        ),
        pPrivateKeyTemplate=(Attribute.of(CKA.DECRYPT, b"\x00"), Attribute.of(CKA.LABEL, b"signing")),
    )
    for function, handle in (
        ("C_EncryptInit", signing["phPublicKey"]),
        ("C_DecryptInit", signing["phPrivateKey"]),
    ):
        assert isinstance(handle, int)
        assert app(function, hSession=session, pMechanism=Mechanism(CKM.RSA_PKCS), hKey=handle)[0] == (
            CKR.KEY_FUNCTION_NOT_PERMITTED
        )
    # Parameters: none for PKCS#1 v1.5; OAEP's must name a hash the token takes.
    assert app("C_EncryptInit", hSession=session, pMechanism=Mechanism(CKM.RSA_PKCS, b"x"), hKey=public)[
        0
    ] == (CKR.MECHANISM_PARAM_INVALID)
    bad = Mechanism(0x9, {**oaep_sha256, "hashAlg": 0x1234})
    assert (
        app("C_EncryptInit", hSession=session, pMechanism=bad, hKey=public)[0] == CKR.MECHANISM_PARAM_INVALID
    )


# --- AES-CTR: KMIP CTR with CK_AES_CTR_PARAMS's counter block as the IV -------------------


def test_aes_ctr_is_kmip_ctr(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    key = app.aes_key(session, (*AES_256, Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE)))
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes)
    block = bytes(8) + (2**64 - 2).to_bytes(8, "big")  # two blocks before 64 counter bits wrap
    data = secrets.token_bytes(70)
    expected = Cipher(algorithms.AES(value), modes.CTR(block)).encryptor().update(data)
    ctr = Mechanism(0x1086, {"ulCounterBits": 128, "cb": block})
    app.ok("C_EncryptInit", hSession=session, pMechanism=ctr, hKey=key)
    sealed = app.ok("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(True, 70))
    assert output(sealed, "pEncryptedData") == expected
    # Multi-part: a KMIP Encrypt stream, each part's output at once (no padding, no blocks kept).
    assert decrypt_in_parts(app, session, ctr, key, expected, (5, 40)) == data
    # 64 counter bits: two blocks fit, a third would wrap them (the server counts on in all 128).
    short = Mechanism(0x1086, {"ulCounterBits": 64, "cb": block})
    app.ok("C_EncryptInit", hSession=session, pMechanism=short, hKey=key)
    done = app.ok("C_Encrypt", hSession=session, pData=data[:32], pEncryptedData=OutRequest(True, 32))
    assert output(done, "pEncryptedData") == expected[:32]
    app.ok("C_EncryptInit", hSession=session, pMechanism=short, hKey=key)
    assert app("C_Encrypt", hSession=session, pData=data[:33], pEncryptedData=OutRequest(True, 33))[0] == (
        CKR.DATA_LEN_RANGE
    )
    app.ok("C_DecryptInit", hSession=session, pMechanism=short, hKey=key)
    app.ok("C_DecryptUpdate", hSession=session, pEncryptedPart=expected[:20], pPart=OutRequest(True, 70))
    assert app(
        "C_DecryptUpdate", hSession=session, pEncryptedPart=expected[20:40], pPart=OutRequest(True, 70)
    )[0] == (CKR.ENCRYPTED_DATA_LEN_RANGE)
    for bad in ({"ulCounterBits": 0, "cb": block}, {"ulCounterBits": 129, "cb": block}, None):
        assert app("C_EncryptInit", hSession=session, pMechanism=Mechanism(0x1086, bad), hKey=key)[0] == (
            CKR.MECHANISM_PARAM_INVALID
        )
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), Attribute.of(CKA.LABEL, b"ec")),
        pPrivateKeyTemplate=(Attribute.of(CKA.LABEL, b"ec"),),
    )
    assert app("C_EncryptInit", hSession=session, pMechanism=ctr, hKey=pair["phPublicKey"])[0] == (
        CKR.KEY_TYPE_INCONSISTENT
    )


# --- generic secrets, CMAC, EdDSA, 3DES ----------------------------------------------------

GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET, CKK_SHA512_HMAC = 0x350, 0x10, 0x2D
AES_CMAC, AES_CMAC_GENERAL = 0x108A, 0x108B
EC_EDWARDS_KEY_PAIR_GEN, EDDSA, CKK_EC_EDWARDS = 0x1055, 0x1057, 0x40
DES3_KEY_GEN, DES3_ECB, DES3_CBC, DES3_CBC_PAD, CKK_DES3 = 0x131, 0x132, 0x133, 0x136, 0x15
MESSAGE_FLAGS = 0x2 | 0x4 | 0x8 | 0x10 | 0x20  # CKF_MESSAGE_ENCRYPT, _DECRYPT, _SIGN, _VERIFY, MULTI_MESSAGE
SHOWN = (Attribute.of(CKA.SENSITIVE, b"\x00"), true(CKA.EXTRACTABLE))  # the test reads CKA_VALUE


def mechanism_info(app: App, ckm: int) -> tuple[Value, Value, Value]:
    info = app.ok("C_GetMechanismInfo", slotID=SLOT, type=ckm)["pInfo"]
    assert isinstance(info, dict)
    # (Without the 3.0 message flags: the message functions have tests of their own.)
    return info["ulMinKeySize"], info["ulMaxKeySize"], int(info["flags"]) & ~MESSAGE_FLAGS  # type: ignore[call-overload]


def generate(app: App, session: int, ckm: int, *template: Attribute) -> tuple[int, int | None]:
    return app.made("C_GenerateKey", "phKey", hSession=session, pMechanism=Mechanism(ckm), pTemplate=template)


def signed(app: App, session: int, mechanism: Mechanism, key: int, data: bytes = DATA) -> bytes:
    app.ok("C_SignInit", hSession=session, pMechanism=mechanism, hKey=key)
    return output(
        app.ok("C_Sign", hSession=session, pData=data, pSignature=OutRequest(True, 256)), "pSignature"
    )


def verified(app: App, session: int, mechanism: Mechanism, key: int, data: bytes, signature: bytes) -> int:
    app.ok("C_VerifyInit", hSession=session, pMechanism=mechanism, hKey=key)
    return app("C_Verify", hSession=session, pData=data, pSignature=signature)[0]


def import_key(app: App, session: int, cko: int, ckk: int, *components: Attribute) -> int:
    """C_CreateObject of a key of this class and type from its components (default usage)."""
    template = (Attribute.of(CKA.CLASS, ulong(cko)), Attribute.of(CKA.KEY_TYPE, ulong(ckk)), *components)
    rv, handle = app.made("C_CreateObject", "phObject", hSession=session, pTemplate=template)
    assert rv == CKR.OK and handle is not None, hex(rv)
    return handle


def typed_hmac_key(app: App, session: int, ckk: int, length: int) -> tuple[int, bytes]:
    """CKM_GENERIC_SECRET_KEY_GEN of a key its template types CKK_SHA*_HMAC (it reads back as
    that): its handle and value."""
    rv, key = generate(
        app,
        session,
        GENERIC_SECRET_KEY_GEN,
        Attribute.of(CKA.VALUE_LEN, ulong(length)),
        Attribute.of(CKA.KEY_TYPE, ulong(ckk)),
        *SHOWN,
    )
    assert rv == CKR.OK and key is not None
    value, kind = read(app, session, key, CKA.VALUE, CKA.KEY_TYPE)
    assert isinstance(value, bytes) and kind == ulong(ckk)
    return key, value


def test_generic_secrets_are_kmip_hmac_keys(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, GENERIC_SECRET_KEY_GEN) == (8, 4096, 0x8000)  # bits; CKF_GENERATE
    length = Attribute.of(CKA.VALUE_LEN, ulong(32))
    rv, key = generate(
        app, session, GENERIC_SECRET_KEY_GEN, length, Attribute.of(CKA.LABEL, b"g"), true(CKA.TOKEN), *SHOWN
    )
    assert rv == CKR.OK and key is not None
    assert read(
        app, session, key, CKA.KEY_TYPE, CKA.VALUE_LEN, CKA.SIGN, CKA.VERIFY, CKA.KEY_GEN_MECHANISM
    ) == [
        ulong(CKK_GENERIC_SECRET),
        ulong(32),
        b"\x01",
        b"\x01",
        ulong(GENERIC_SECRET_KEY_GEN),
    ]
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes) and len(value) == 32
    expected = hmac.new(value, DATA, hashlib.sha256).digest()
    assert signed(app, session, Mechanism(HMAC_SHA256), key) == expected
    # KMIP sees an HMAC-SHA256 key with MAC Generate / MAC Verify, and MACs with it the same.
    located = app.kmip(Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.NAME, name("g")))))
    (uid,) = located.unique_identifiers  # type: ignore[attr-defined]
    attributes = app.kmip(Operation.GET_ATTRIBUTES, GetAttributesRequest(unique_identifier=uid)).attributes  # type: ignore[attr-defined]
    assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.HMAC_SHA256
    assert int(attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)) == int(
        CryptographicUsageMask.MAC_GENERATE | CryptographicUsageMask.MAC_VERIFY
    )
    mac = app.kmip(Operation.MAC, MACRequest(unique_identifier=uid, data=DATA))
    assert mac.mac_data == expected  # type: ignore[attr-defined]
    # A generic secret MACs with every hash (test_generic_secrets_mac_with_every_hash).
    assert signed(app, session, Mechanism(0x271), key) == hmac.new(value, DATA, hashlib.sha512).digest()
    # The template may name an HMAC key type instead; it reads back as that.
    sha512, value = typed_hmac_key(app, session, CKK_SHA512_HMAC, 64)
    assert signed(app, session, Mechanism(0x271), sha512) == hmac.new(value, DATA, hashlib.sha512).digest()
    # A KMIP-created HMAC key keeps its own type.
    made = hmac_key(
        app, session, "kmip-mac", CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MAC_GENERATE
    )
    assert read(app, session, made, CKA.KEY_TYPE) == [ulong(0x2B)]
    # Bad templates.
    assert generate(app, session, GENERIC_SECRET_KEY_GEN)[0] == CKR.TEMPLATE_INCOMPLETE
    assert generate(app, session, GENERIC_SECRET_KEY_GEN, Attribute.of(CKA.VALUE_LEN, ulong(513)))[0] == (
        CKR.KEY_SIZE_RANGE
    )
    aes_type = Attribute.of(CKA.KEY_TYPE, ulong(0x1F))
    assert generate(app, session, GENERIC_SECRET_KEY_GEN, length, aes_type)[0] == CKR.TEMPLATE_INCONSISTENT
    # Imported: C_CreateObject of a generic secret.
    secret = secrets.token_bytes(20)
    imported = import_key(app, session, CKO.SECRET_KEY, CKK_GENERIC_SECRET, Attribute.of(CKA.VALUE, secret))
    assert read(app, session, imported, CKA.KEY_TYPE, CKA.VALUE_LEN) == [ulong(CKK_GENERIC_SECRET), ulong(20)]
    assert (
        signed(app, session, Mechanism(HMAC_SHA256), imported)
        == hmac.new(secret, DATA, hashlib.sha256).digest()
    )


def test_cmac_is_kmip_mac(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, AES_CMAC) == (16, 32, 0x2000 | 0x800)
    assert mechanism_info(app, AES_CMAC_GENERAL) == (16, 32, 0x2000 | 0x800)
    key = app.aes_key(session, (*AES_256, true(CKA.SIGN), true(CKA.VERIFY), *SHOWN))
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes)
    reference = cmac.CMAC(algorithms.AES(value))
    reference.update(DATA)
    expected = reference.finalize()
    assert signed(app, session, Mechanism(AES_CMAC), key) == expected
    app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(AES_CMAC), hKey=key)
    for part in (DATA[:7], DATA[7:]):
        app.ok("C_SignUpdate", hSession=session, pPart=part)
    assert (
        output(app.ok("C_SignFinal", hSession=session, pSignature=OutRequest(True, 16)), "pSignature")
        == expected
    )
    assert verified(app, session, Mechanism(AES_CMAC), key, DATA, expected) == CKR.OK
    assert verified(app, session, Mechanism(AES_CMAC), key, DATA + b"!", expected) == CKR.SIGNATURE_INVALID
    assert verified(app, session, Mechanism(AES_CMAC), key, DATA, expected[:8]) == CKR.SIGNATURE_LEN_RANGE
    general = Mechanism(AES_CMAC_GENERAL, 10)
    assert signed(app, session, general, key) == expected[:10]
    assert verified(app, session, general, key, DATA, expected[:10]) == CKR.OK
    assert verified(app, session, general, key, DATA, expected[:11]) == CKR.SIGNATURE_LEN_RANGE
    for bad in (Mechanism(AES_CMAC_GENERAL, 4), Mechanism(AES_CMAC_GENERAL, 17), Mechanism(AES_CMAC, b"x")):
        assert app("C_SignInit", hSession=session, pMechanism=bad, hKey=key)[0] == CKR.MECHANISM_PARAM_INVALID
    # The AES key of the default usage has no MAC bits; an HMAC key is not an AES key.
    plain = app.aes_key(session, (Attribute.of(CKA.VALUE_LEN, ulong(16)),))
    assert app("C_SignInit", hSession=session, pMechanism=Mechanism(AES_CMAC), hKey=plain)[0] == (
        CKR.KEY_FUNCTION_NOT_PERMITTED
    )
    mac_key = hmac_key(
        app, session, "h", CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MAC_GENERATE
    )
    assert app("C_SignInit", hSession=session, pMechanism=Mechanism(AES_CMAC), hKey=mac_key)[0] == (
        CKR.KEY_TYPE_INCONSISTENT
    )


EDWARDS_PARAMS = {
    "printable edwards25519": (b"\x13\x0cedwards25519", ed25519.Ed25519PublicKey, 32),
    "RFC 8410 Ed448": (bytes.fromhex("06032b6571"), ed448.Ed448PublicKey, 57),
    "OpenSC 0.23 Ed25519": (bytes.fromhex("06092b06010401da470f01"), ed25519.Ed25519PublicKey, 32),
}


def test_eddsa_is_kmip_sign(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, EC_EDWARDS_KEY_PAIR_GEN) == (255, 448, 0x10000)
    assert mechanism_info(app, EDDSA) == (255, 448, 0x2000 | 0x800)
    generation = Mechanism(EC_EDWARDS_KEY_PAIR_GEN)
    for params, public_type, size in EDWARDS_PARAMS.values():
        rv, out = app(
            "C_GenerateKeyPair",
            hSession=session,
            pMechanism=generation,
            pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, params),),
            pPrivateKeyTemplate=(),
        )
        assert rv == CKR.OK and out is not None
        public, private = out["phPublicKey"], out["phPrivateKey"]
        assert isinstance(public, int) and isinstance(private, int)
        kind, shown_params, point, made_by = read(
            app, session, public, CKA.KEY_TYPE, CKA.EC_PARAMS, CKA.EC_POINT, CKA.KEY_GEN_MECHANISM
        )
        assert (kind, made_by) == (ulong(CKK_EC_EDWARDS), ulong(EC_EDWARDS_KEY_PAIR_GEN))
        assert shown_params == (bytes.fromhex("06032b6570") if size == 32 else bytes.fromhex("06032b6571"))
        assert isinstance(point, bytes) and point[:2] == bytes([4, size]) and len(point) == 2 + size
        signature = signed(app, session, Mechanism(EDDSA), private)
        public_type.from_public_bytes(point[2:]).verify(signature, DATA)  # type: ignore[attr-defined]
        assert verified(app, session, Mechanism(EDDSA), public, DATA, signature) == CKR.OK
        assert (
            verified(app, session, Mechanism(EDDSA), public, DATA + b"!", signature) == CKR.SIGNATURE_INVALID
        )
        app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(EDDSA), hKey=private)
        for part in (DATA[:4], DATA[4:]):
            app.ok("C_SignUpdate", hSession=session, pPart=part)
        multi = output(
            app.ok("C_SignFinal", hSession=session, pSignature=OutRequest(True, 114)), "pSignature"
        )
        assert multi == signature  # EdDSA is deterministic
    ph = Mechanism(EDDSA, {"phFlag": 1, "pContextData": b""})
    assert app("C_SignInit", hSession=session, pMechanism=ph, hKey=private)[0] == CKR.MECHANISM_PARAM_INVALID
    p256 = (Attribute.of(CKA.EC_PARAMS, bytes.fromhex("06082a8648ce3d030107")),)
    assert (
        app(
            "C_GenerateKeyPair",
            hSession=session,
            pMechanism=generation,
            pPublicKeyTemplate=p256,
            pPrivateKeyTemplate=(),
        )[0]
        == CKR.CURVE_NOT_SUPPORTED
    )
    # An Ed25519 public key imported from its CKA_EC_POINT verifies what the token signed.
    ed25519_params = Attribute.of(CKA.EC_PARAMS, bytes.fromhex("06032b6570"))  # the last pair's
    imported = import_key(
        app, session, CKO.PUBLIC_KEY, CKK_EC_EDWARDS, ed25519_params, Attribute.of(CKA.EC_POINT, point)
    )
    assert verified(app, session, Mechanism(EDDSA), imported, DATA, signature) == CKR.OK


def test_3des_is_kmip_encrypt(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, DES3_KEY_GEN) == (192, 192, 0x8000)
    for ckm in (DES3_ECB, DES3_CBC, DES3_CBC_PAD):
        assert mechanism_info(app, ckm) == (128, 192, 0x100 | 0x200)  # CKK_DES2 or CKK_DES3 keys
    rv, key = generate(app, session, DES3_KEY_GEN, *SHOWN)
    assert rv == CKR.OK and key is not None
    assert read(app, session, key, CKA.KEY_TYPE, CKA.VALUE_LEN, CKA.KEY_GEN_MECHANISM) == [
        ulong(CKK_DES3),
        ulong(24),
        ulong(DES3_KEY_GEN),
    ]
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes)
    iv = secrets.token_bytes(8)
    cases = (
        (Mechanism(DES3_ECB), modes.ECB(), DATA[:16]),
        (Mechanism(DES3_CBC, iv), modes.CBC(iv), DATA[:16]),
        (Mechanism(DES3_CBC_PAD, iv), modes.CBC(iv), DATA),
    )
    for mechanism, mode, data in cases:
        app.ok("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=key)
        sealed = output(
            app.ok("C_Encrypt", hSession=session, pData=data, pEncryptedData=OutRequest(True, 64)),
            "pEncryptedData",
        )
        decryptor = Cipher(TripleDES(value), mode).decryptor()
        opened = decryptor.update(sealed) + decryptor.finalize()
        if mechanism.type == DES3_CBC_PAD:
            unpadder = padding.PKCS7(64).unpadder()
            opened = unpadder.update(opened) + unpadder.finalize()
        assert opened == data
        assert decrypt_in_parts(app, session, mechanism, key, sealed, (5, 13)) == data
    app.ok("C_EncryptInit", hSession=session, pMechanism=Mechanism(DES3_ECB), hKey=key)
    assert app("C_Encrypt", hSession=session, pData=DATA[:12], pEncryptedData=OutRequest(True, 64))[0] == (
        CKR.DATA_LEN_RANGE
    )
    for bad in (Mechanism(DES3_CBC, bytes(16)), Mechanism(DES3_ECB, iv)):
        assert (
            app("C_EncryptInit", hSession=session, pMechanism=bad, hKey=key)[0] == CKR.MECHANISM_PARAM_INVALID
        )
    aes = app.aes_key(session)
    assert app("C_EncryptInit", hSession=session, pMechanism=Mechanism(DES3_ECB), hKey=aes)[0] == (
        CKR.KEY_TYPE_INCONSISTENT
    )
    assert generate(app, session, DES3_KEY_GEN, Attribute.of(CKA.VALUE_LEN, ulong(16)))[0] == (
        CKR.TEMPLATE_INCONSISTENT
    )
    # An imported 3DES key (C_CreateObject) encrypts as pyca does with its bytes; 16 bytes is not one.
    material = secrets.token_bytes(24)
    imported = import_key(app, session, CKO.SECRET_KEY, CKK_DES3, Attribute.of(CKA.VALUE, material))
    app.ok("C_EncryptInit", hSession=session, pMechanism=Mechanism(DES3_ECB), hKey=imported)
    sealed = app.ok("C_Encrypt", hSession=session, pData=DATA[:16], pEncryptedData=OutRequest(True, 16))
    encryptor = Cipher(TripleDES(material), modes.ECB()).encryptor()
    assert output(sealed, "pEncryptedData") == encryptor.update(DATA[:16]) + encryptor.finalize()
    short = (Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY)), Attribute.of(CKA.KEY_TYPE, ulong(CKK_DES3)))
    assert app("C_CreateObject", hSession=session, pTemplate=(*short, Attribute.of(CKA.VALUE, bytes(16))))[
        0
    ] == (CKR.ATTRIBUTE_VALUE_INVALID)


DES2_KEY_GEN, CKK_DES2 = 0x130, 0x14


def test_two_key_3des_is_ckk_des2_from_both_protocols(make_app: Callable[[str], App], alice_pin: str) -> None:
    """A two-key 3DES key (16 bytes, K1 K2 K1) is CKK_DES2 whichever protocol made it: a KMIP
    3DES key of 112 bits encrypts through the DES3 mechanisms as pyca does with its bytes,
    CKM_DES2_KEY_GEN makes one KMIP Encrypt uses, and a find by key type tells it from CKK_DES3."""
    app, session = logged_in(make_app, alice_pin)

    def three_keys(two: bytes) -> TripleDES:  # two-key 3DES is K1 K2 K1 (SP 800-67)
        return TripleDES(two + two[:8])

    assert mechanism_info(app, DES2_KEY_GEN) == (128, 128, 0x8000)
    cipher_use = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
    from_kmip = kmip_made(app, session, "two-key", CryptographicAlgorithm.DES3, 112, cipher_use)
    kind, value_len, value = read(app, session, from_kmip, CKA.KEY_TYPE, CKA.VALUE_LEN, CKA.VALUE)
    assert (kind, value_len) == (ulong(CKK_DES2), ulong(14))  # 112 bits: KMIP counts no parity here
    assert isinstance(value, bytes) and len(value) == 16
    iv = secrets.token_bytes(8)
    for mechanism, mode in ((Mechanism(DES3_ECB), modes.ECB()), (Mechanism(DES3_CBC, iv), modes.CBC(iv))):
        app.ok("C_EncryptInit", hSession=session, pMechanism=mechanism, hKey=from_kmip)
        sealed = output(
            app.ok("C_Encrypt", hSession=session, pData=DATA[:16], pEncryptedData=OutRequest(True, 64)),
            "pEncryptedData",
        )
        encryptor = Cipher(three_keys(value), mode).encryptor()
        assert sealed == encryptor.update(DATA[:16]) + encryptor.finalize()

    # CKM_DES2_KEY_GEN: a KMIP 3DES key of 128 bits (16 bytes with parity) that KMIP Encrypt uses.
    rv, made = generate(
        app, session, DES2_KEY_GEN, Attribute.of(CKA.LABEL, b"des2-made"), true(CKA.TOKEN), *SHOWN
    )
    assert rv == CKR.OK and made is not None
    kind, value_len, mechanism_made, value = read(
        app, session, made, CKA.KEY_TYPE, CKA.VALUE_LEN, CKA.KEY_GEN_MECHANISM, CKA.VALUE
    )
    assert (kind, value_len, mechanism_made) == (ulong(CKK_DES2), ulong(16), ulong(DES2_KEY_GEN))
    assert isinstance(value, bytes) and len(value) == 16
    assert all(bin(byte).count("1") % 2 == 1 for byte in value)  # odd parity, as DES keys have
    app.ok("C_EncryptInit", hSession=session, pMechanism=Mechanism(DES3_CBC_PAD, iv), hKey=made)
    sealed = output(
        app.ok("C_Encrypt", hSession=session, pData=DATA, pEncryptedData=OutRequest(True, 256)),
        "pEncryptedData",
    )
    decryptor = Cipher(three_keys(value), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(64).unpadder()
    opened = decryptor.update(sealed) + decryptor.finalize()
    assert unpadder.update(opened) + unpadder.finalize() == DATA
    located = app.kmip(
        Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.NAME, name("des2-made"))))
    )
    (made_uid,) = located.unique_identifiers  # type: ignore[attr-defined]
    by_kmip = app.kmip(Operation.ENCRYPT, EncryptRequest(unique_identifier=made_uid, data=DATA))
    assert isinstance(by_kmip, EncryptResponse) and by_kmip.data and by_kmip.iv_counter_nonce
    assert (
        decrypt_in_parts(
            app, session, Mechanism(DES3_CBC_PAD, by_kmip.iv_counter_nonce), made, by_kmip.data, (7,)
        )
        == DATA
    )
    assert generate(app, session, DES2_KEY_GEN, Attribute.of(CKA.VALUE_LEN, ulong(24)))[0] == (
        CKR.TEMPLATE_INCONSISTENT
    )

    # C_CreateObject: CKK_DES2 takes 16 bytes, not 24; CKK_DES3 24, not 16.
    material = secrets.token_bytes(16)
    imported = import_key(app, session, CKO.SECRET_KEY, CKK_DES2, Attribute.of(CKA.VALUE, material))
    app.ok("C_EncryptInit", hSession=session, pMechanism=Mechanism(DES3_ECB), hKey=imported)
    sealed = output(
        app.ok("C_Encrypt", hSession=session, pData=DATA[:8], pEncryptedData=OutRequest(True, 8)),
        "pEncryptedData",
    )
    encryptor = Cipher(three_keys(material), modes.ECB()).encryptor()
    assert sealed == encryptor.update(DATA[:8]) + encryptor.finalize()
    short = (Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY)), Attribute.of(CKA.KEY_TYPE, ulong(CKK_DES2)))
    assert app("C_CreateObject", hSession=session, pTemplate=(*short, Attribute.of(CKA.VALUE, bytes(24))))[
        0
    ] == (CKR.ATTRIBUTE_VALUE_INVALID)

    # A find by key type tells two-key keys from three-key ones.
    rv, three = generate(app, session, DES3_KEY_GEN, *SHOWN)
    assert rv == CKR.OK and three is not None
    secret = Attribute.of(CKA.CLASS, ulong(CKO.SECRET_KEY))
    by_type = {
        ckk: find_all(app, session, secret, Attribute.of(CKA.KEY_TYPE, ulong(ckk)))
        for ckk in (CKK_DES2, CKK_DES3)
    }
    assert by_type[CKK_DES2] == {from_kmip, made, imported}
    assert by_type[CKK_DES3] == {three}

    # C_UnwrapKey into a CKK_DES2 template (AES-KWP): the 16 bytes pyca wrapped, a two-key key.
    rv, kek = generate(
        app, session, CKM.AES_KEY_GEN, Attribute.of(CKA.VALUE_LEN, ulong(32)), true(CKA.UNWRAP), *SHOWN
    )
    assert rv == CKR.OK and kek is not None
    rv, unwrapped = unwrapped_by_kwp(app, session, kek, material, *short, *SHOWN)
    assert rv == CKR.OK and unwrapped is not None
    assert read(app, session, unwrapped, CKA.KEY_TYPE, CKA.VALUE) == [ulong(CKK_DES2), material]


# SHA-3 (PKCS#11 3.0): digest, HMAC, RSA PKCS#1 v1.5 and PSS, ECDSA mechanisms per hash.
SHA3 = {
    "sha3_224": (0x2B5, 0x2B6, 0x36, 0x66, 0x67, 0x1047, hashes.SHA3_224()),
    "sha3_256": (0x2B0, 0x2B1, 0x37, 0x60, 0x63, 0x1048, hashes.SHA3_256()),
    "sha3_384": (0x2C0, 0x2C1, 0x38, 0x61, 0x64, 0x1049, hashes.SHA3_384()),
    "sha3_512": (0x2D0, 0x2D1, 0x39, 0x62, 0x65, 0x104A, hashes.SHA3_512()),
}
CKG_MGF1_SHA3 = {"sha3_224": 6, "sha3_256": 7, "sha3_384": 8, "sha3_512": 9}


def test_sha3_digests_macs_and_signatures(make_app: Callable[[str], App], alice_pin: str) -> None:
    """Each SHA-3 mechanism as KMIP Hash, MAC (an HMAC-SHA3 key) or Sign, checked with hashlib/pyca."""
    app, session = logged_in(make_app, alice_pin)
    _, rsa_private, rsa_public = rsa_pair(app, session)
    ec_pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256),),
        pPrivateKeyTemplate=(),
    )
    (point,) = read(app, session, int(ec_pair["phPublicKey"]), CKA.EC_POINT)  # type: ignore[arg-type]
    assert isinstance(point, bytes)
    ec_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])
    ec_private = int(ec_pair["phPrivateKey"])  # type: ignore[arg-type]
    for name_, (digest_ckm, hmac_ckm, ckk, pkcs1, pss, ecdsa, algorithm) in SHA3.items():
        assert mechanism_info(app, digest_ckm) == (0, 0, 0x400)
        assert mechanism_info(app, hmac_ckm) == (1, 512, 0x2000 | 0x800)
        assert mechanism_info(app, pkcs1) == mechanism_info(app, pss) == (2048, 4096, 0x2000 | 0x800)
        assert mechanism_info(app, ecdsa) == (256, 521, 0x2000 | 0x800 | 0x100000 | 0x800000 | 0x1000000)
        app.ok("C_DigestInit", hSession=session, pMechanism=Mechanism(digest_ckm))
        digest = app.ok("C_Digest", hSession=session, pData=DATA, pDigest=OutRequest(True, 64))
        assert output(digest, "pDigest") == hashlib.new(name_, DATA).digest()
        # An HMAC-SHA3 key (CKM_GENERIC_SECRET_KEY_GEN naming its CKK_SHA3_*_HMAC type).
        key, value = typed_hmac_key(app, session, ckk, 32)
        assert signed(app, session, Mechanism(hmac_ckm), key) == hmac.new(value, DATA, name_).digest()
        assert (
            app("C_SignInit", hSession=session, pMechanism=Mechanism(HMAC_SHA256), hKey=key)[0]
            == CKR.KEY_TYPE_INCONSISTENT
        )
        # RSA PKCS#1 v1.5 and PSS (MGF1 with the same SHA-3), ECDSA: verified by pyca.
        signature = signed(app, session, Mechanism(pkcs1), rsa_private)
        rsa_public.verify(signature, DATA, asym_padding.PKCS1v15(), algorithm)
        size = algorithm.digest_size
        pss_params: dict[str, int | bytes | tuple[int, int] | None] = {
            "hashAlg": digest_ckm,
            "mgf": CKG_MGF1_SHA3[name_],
            "sLen": size,
        }
        signature = signed(app, session, Mechanism(pss, pss_params), rsa_private)
        rsa_public.verify(signature, DATA, asym_padding.PSS(asym_padding.MGF1(algorithm), size), algorithm)
        other: dict[str, int | bytes | tuple[int, int] | None] = {
            "hashAlg": CKM.SHA256,
            "mgf": 0x2,
            "sLen": 32,
        }
        assert (
            app("C_SignInit", hSession=session, pMechanism=Mechanism(pss, other), hKey=rsa_private)[0]
            == CKR.MECHANISM_PARAM_INVALID
        )
        signature = signed(app, session, Mechanism(ecdsa), ec_private)
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        ec_public.verify(encode_dss_signature(r, s), DATA, ec.ECDSA(algorithm))


# X25519/X448: CKK_EC_MONTGOMERY, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKM_ECDH1_DERIVE.
CKK_EC_MONTGOMERY, EC_MONTGOMERY_KEY_PAIR_GEN = 0x41, 0x1056
MONTGOMERY = {
    "x25519": (bytes.fromhex("06032b656e"), b"\x13\x0acurve25519", 32),
    "x448": (bytes.fromhex("06032b656f"), b"\x13\x08curve448", 56),
}


@pytest.mark.parametrize("curve", sorted(MONTGOMERY))
def test_x25519_x448_derive_through_kmip(make_app: Callable[[str], App], alice_pin: str, curve: str) -> None:
    """A Montgomery pair (KMIP ECDH on Curve25519/Curve448) derives the secret pyca's exchange makes."""
    oid, printable, size = MONTGOMERY[curve]
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, EC_MONTGOMERY_KEY_PAIR_GEN) == (255, 448, 0x10000)
    assert mechanism_info(app, 0x1050) == (255, 521, 0x80000 | 0x100000 | 0x800000 | 0x1000000)
    token = true(CKA.TOKEN)
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(EC_MONTGOMERY_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, printable), token),
        pPrivateKeyTemplate=(token, Attribute.of(CKA.LABEL, curve.encode())),
    )
    public, private = pair["phPublicKey"], pair["phPrivateKey"]
    assert isinstance(public, int) and isinstance(private, int)
    kind, params, point, made_by = read(
        app, session, public, CKA.KEY_TYPE, CKA.EC_PARAMS, CKA.EC_POINT, CKA.KEY_GEN_MECHANISM
    )
    assert (kind, params, made_by) == (ulong(CKK_EC_MONTGOMERY), oid, ulong(EC_MONTGOMERY_KEY_PAIR_GEN))
    assert isinstance(point, bytes) and point[:2] == bytes([4, size]) and len(point) == 2 + size
    assert read(app, session, private, CKA.KEY_TYPE, CKA.DERIVE, CKA.SIGN) == [
        ulong(CKK_EC_MONTGOMERY),
        b"\x01",
        b"\x00",
    ]
    if size == 32:
        peer_key = x25519.X25519PrivateKey.generate()
        expected = peer_key.exchange(x25519.X25519PublicKey.from_public_bytes(point[2:]))
        peer_public = peer_key.public_key()
    else:
        peer448 = x448.X448PrivateKey.generate()
        expected = peer448.exchange(x448.X448PublicKey.from_public_bytes(point[2:]))
        peer_public = peer448.public_key()  # type: ignore[assignment]
    peer_bytes = peer_public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def derive(public_data: bytes, length: int = 32) -> tuple[int, int | None]:
        parameters: dict[str, int | bytes | tuple[int, int] | None] = {
            "kdf": 1,
            "pSharedData": None,
            "pPublicData": public_data,
        }
        template = (Attribute.of(CKA.VALUE_LEN, ulong(length)), *SHOWN, token)
        return app.made(
            "C_DeriveKey",
            "phKey",
            hSession=session,
            pMechanism=Mechanism(0x1050, parameters),
            hBaseKey=private,
            pTemplate=template,
        )

    rv, shared = derive(peer_bytes)
    assert rv == CKR.OK and shared is not None
    assert read(app, session, shared, CKA.VALUE, CKA.KEY_TYPE) == [expected[:32], ulong(0x1F)]
    rv, wrapped = derive(bytes([4, size]) + peer_bytes, 16)  # in a DER OCTET STRING, as CKA_EC_POINT has it
    assert rv == CKR.OK and wrapped is not None
    assert read(app, session, wrapped, CKA.VALUE) == [expected[:16]]
    # The peer's key of the other curve's size, or an EC point: CKR_MECHANISM_PARAM_INVALID.
    assert derive(bytes(88 - size))[0] == CKR.MECHANISM_PARAM_INVALID
    assert derive(b"\x04" + bytes(64))[0] == CKR.MECHANISM_PARAM_INVALID
    # X25519 keys do not sign; another curve name is CKR_CURVE_NOT_SUPPORTED.
    assert app("C_SignInit", hSession=session, pMechanism=Mechanism(CKM.ECDSA), hKey=private)[0] == (
        CKR.KEY_TYPE_INCONSISTENT
    )
    rv, _ = app(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(EC_MONTGOMERY_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256),),
        pPrivateKeyTemplate=(),
    )
    assert rv == CKR.CURVE_NOT_SUPPORTED


# --- HKDF and PBKDF2: KMIP Derive Key; a generic secret's HMACs -----------------------------

HKDF_DERIVE, PKCS5_PBKD2, CKF_DERIVE, CKF_GENERATE = 0x402A, 0x3B0, 0x80000, 0x8000
SALT_NULL, SALT_DATA, SALT_KEY = 1, 2, 4
HMACS = {  # CKM_*_HMAC (pkcs11t.h) and hashlib's name
    0x221: "sha1",
    0x256: "sha224",
    0x251: "sha256",
    0x261: "sha384",
    0x271: "sha512",
    0x2B6: "sha3_224",
    0x2B1: "sha3_256",
    0x2C1: "sha3_384",
    0x2D1: "sha3_512",
}


def generic_secret(app: App, session: int, length: int, *template: Attribute) -> tuple[int, bytes]:
    """A generic secret the test may read: its handle and value."""
    rv, key = generate(
        app, session, GENERIC_SECRET_KEY_GEN, Attribute.of(CKA.VALUE_LEN, ulong(length)), *SHOWN, *template
    )
    assert rv == CKR.OK and key is not None
    (value,) = read(app, session, key, CKA.VALUE)
    assert isinstance(value, bytes) and len(value) == length
    return key, value


def derive_key(
    app: App, session: int, mechanism: Mechanism, base: int, *template: Attribute
) -> tuple[int, int | None]:
    """C_DeriveKey: its CK_RV and the new key's handle."""
    return app.made(
        "C_DeriveKey", "phKey", hSession=session, pMechanism=mechanism, hBaseKey=base, pTemplate=template
    )


def hkdf_parameters(
    prf: int = CKM.SHA256,
    salt_type: int = SALT_DATA,
    salt: bytes | None = b"salt",
    info: bytes | None = b"info",
) -> dict[str, wire.FieldValue]:
    return {
        "bExtract": 1,
        "bExpand": 1,
        "prfHashMechanism": prf,
        "ulSaltType": salt_type,
        "pSalt": salt,
        "hSaltKey": 0,
        "pInfo": info,
    }


def secret_data_states(app: App, *state: State) -> list[object]:
    """The State of every Secret Data object of the client (PBKDF2's passwords), of `state` if given."""
    located = app.kmip(
        Operation.LOCATE,
        LocateRequest(
            attributes=as_attributes(
                (Tag.OBJECT_TYPE, ObjectType.SECRET_DATA), *((Tag.STATE, s) for s in state)
            )
        ),
    )
    states = []
    for uid in located.unique_identifiers or ():  # type: ignore[attr-defined]
        got = app.kmip(Operation.GET_ATTRIBUTES, GetAttributesRequest(unique_identifier=uid))
        states.append(got.attributes.get(Tag.STATE))  # type: ignore[attr-defined]
    return states


def test_hkdf_derives_through_kmip(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, HKDF_DERIVE) == (1, 512, CKF_DERIVE)  # the base key's bytes
    token = true(CKA.TOKEN)
    base, ikm = generic_secret(app, session, 32, true(CKA.DERIVE), token, Attribute.of(CKA.LABEL, b"ikm"))

    def derive(
        parameters: dict[str, wire.FieldValue], *template: Attribute, key: int = base
    ) -> tuple[int, int | None]:
        return derive_key(app, session, Mechanism(HKDF_DERIVE, parameters), key, token, *template)

    def expected(hashing: hashes.HashAlgorithm, length: int, salt: bytes | None, info: bytes | None) -> bytes:
        return HKDF(hashing, length, salt, info).derive(ikm)

    # Into a generic secret (the default type) of 42 bytes: SHA-256, salt and info.
    rv, derived = derive(hkdf_parameters(), Attribute.of(CKA.VALUE_LEN, ulong(42)), *SHOWN)
    assert rv == CKR.OK and derived is not None
    assert read(app, session, derived, CKA.VALUE, CKA.KEY_TYPE) == [
        expected(hashes.SHA256(), 42, b"salt", b"info"),
        ulong(CKK_GENERIC_SECRET),
    ]
    # Into an AES key: SHA-512 without salt or info, SHA3-256 and SHA-1; it encrypts through KMIP.
    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(32)), *SHOWN)
    for prf, hashing, salt_type, salt, info in (
        (CKM.SHA512, hashes.SHA512(), SALT_NULL, None, None),
        (0x2B0, hashes.SHA3_256(), SALT_DATA, b"NaCl", b"context"),
        (CKM.SHA_1, hashes.SHA1(), SALT_DATA, bytes(20), None),
    ):
        rv, key = derive(hkdf_parameters(prf, salt_type, salt, info), *aes, true(CKA.ENCRYPT))
        assert rv == CKR.OK and key is not None
        assert read(app, session, key, CKA.VALUE, CKA.KEY_TYPE) == [
            expected(hashing, 32, salt, info),
            ulong(0x1F),
        ]
    # Into an HMAC key type named in the template.
    rv, typed = derive(
        hkdf_parameters(),
        Attribute.of(CKA.KEY_TYPE, ulong(CKK_SHA512_HMAC)),
        Attribute.of(CKA.VALUE_LEN, ulong(64)),
        *SHOWN,
    )
    assert rv == CKR.OK and typed is not None
    assert read(app, session, typed, CKA.VALUE) == [expected(hashes.SHA256(), 64, b"salt", b"info")]

    # What KMIP's HKDF cannot say, and other misuse.
    sixteen = Attribute.of(CKA.VALUE_LEN, ulong(16))
    for bad in (
        {**hkdf_parameters(), "bExpand": 0},  # extract only: the PRK
        {**hkdf_parameters(), "bExtract": 0},  # expand only
        hkdf_parameters(salt_type=SALT_KEY, salt=None),  # a salt key
        hkdf_parameters(salt_type=SALT_DATA, salt=None),
        hkdf_parameters(salt_type=SALT_NULL, salt=b"salt"),
        hkdf_parameters(prf=0x210),  # CKM_MD5
    ):
        assert derive(bad, sixteen)[0] == CKR.MECHANISM_PARAM_INVALID, bad
    assert (
        app.made(
            "C_DeriveKey",
            "phKey",
            hSession=session,
            pMechanism=Mechanism(HKDF_DERIVE),
            hBaseKey=base,
            pTemplate=(token, sixteen),
        )[0]
        == CKR.MECHANISM_PARAM_INVALID
    )
    assert derive(hkdf_parameters())[0] == CKR.TEMPLATE_INCOMPLETE
    assert derive(hkdf_parameters(), Attribute.of(CKA.VALUE_LEN, ulong(513)))[0] == CKR.KEY_SIZE_RANGE
    assert (
        derive(hkdf_parameters(), *aes[:1], Attribute.of(CKA.VALUE_LEN, ulong(20)))[0] == CKR.KEY_SIZE_RANGE
    )
    assert derive(hkdf_parameters(), Attribute.of(CKA.KEY_TYPE, ulong(0x15)), sixteen)[0] == (
        CKR.TEMPLATE_INCONSISTENT  # 3DES is not made by derivation
    )
    no_derive, _ = generic_secret(app, session, 32, token)
    assert derive(hkdf_parameters(), sixteen, key=no_derive)[0] == CKR.KEY_FUNCTION_NOT_PERMITTED
    pair = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(Attribute.of(CKA.EC_PARAMS, P256), token),
        pPrivateKeyTemplate=(true(CKA.DERIVE), token),
    )["phPrivateKey"]
    assert isinstance(pair, int)
    assert derive(hkdf_parameters(), sixteen, key=pair)[0] == CKR.KEY_TYPE_INCONSISTENT
    assert (
        app.made(
            "C_DeriveKey",
            "phKey",
            hSession=session,
            pMechanism=Mechanism(HKDF_DERIVE, hkdf_parameters()),
            hBaseKey=base,
            pTemplate=(sixteen,),
        )[0]
        == CKR.TEMPLATE_INCONSISTENT
    )  # a session key from a token key: KMIP derives into one owner


# --- Encrypt and Hash derivations: KMIP Derive Key ----------------------------------------

AES_ECB_ENCRYPT_DATA, AES_CBC_ENCRYPT_DATA = 0x1104, 0x1105
HASH_KEY_DERIVATIONS = {  # CKM_*_KEY_DERIVATION (pkcs11t.h) and hashlib's name
    0x392: "sha1",
    0x393: "sha256",
    0x394: "sha384",
    0x395: "sha512",
    0x396: "sha224",
    0x397: "sha3_256",
    0x398: "sha3_224",
    0x399: "sha3_384",
    0x39A: "sha3_512",
}


def test_encrypt_data_derivations(make_app: Callable[[str], App], alice_pin: str) -> None:
    """CKM_AES_ECB/CBC_ENCRYPT_DATA: the new key is the data encrypted with the base key."""
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, AES_ECB_ENCRYPT_DATA) == (16, 32, CKF_DERIVE)
    assert mechanism_info(app, AES_CBC_ENCRYPT_DATA) == (16, 32, CKF_DERIVE)
    token = true(CKA.TOKEN)
    rv, base = generate(app, session, CKM.AES_KEY_GEN, *AES_256, true(CKA.DERIVE), *SHOWN)
    assert rv == CKR.OK and base is not None
    (value,) = read(app, session, base, CKA.VALUE)
    assert isinstance(value, bytes)
    data, iv = bytes(range(48)), bytes(range(100, 116))

    def derive(
        ckm: int, parameter: dict[str, wire.FieldValue] | None, *template: Attribute
    ) -> tuple[int, int | None]:
        return derive_key(app, session, Mechanism(ckm, parameter), base, token, *template)

    def encrypted(mode: modes.Mode) -> bytes:
        context = Cipher(algorithms.AES(value), mode).encryptor()
        return context.update(data) + context.finalize()

    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(32)), *SHOWN)
    for ckm, parameter, mode in (
        (AES_ECB_ENCRYPT_DATA, {"pData": data}, modes.ECB()),
        (AES_CBC_ENCRYPT_DATA, {"iv": iv, "pData": data}, modes.CBC(iv)),
    ):
        rv, key = derive(ckm, parameter, *aes)
        assert rv == CKR.OK and key is not None
        assert read(app, session, key, CKA.VALUE, CKA.KEY_TYPE) == [encrypted(mode)[:32], ulong(0x1F)]
        # A generic secret takes the whole ciphertext without CKA_VALUE_LEN, and no more.
        rv, whole = derive(ckm, parameter, *SHOWN)
        assert rv == CKR.OK and whole is not None
        assert read(app, session, whole, CKA.VALUE) == [encrypted(mode)]
        assert derive(ckm, parameter, Attribute.of(CKA.VALUE_LEN, ulong(49)))[0] == CKR.TEMPLATE_INCONSISTENT
        for bad in ({"pData": data[:20]}, {"pData": None}):  # whole blocks only (no padding)
            assert derive(ckm, {**parameter, **bad}, *aes)[0] == CKR.MECHANISM_PARAM_INVALID, bad
    assert derive(AES_ECB_ENCRYPT_DATA, None, *aes)[0] == CKR.MECHANISM_PARAM_INVALID
    # The base must be an AES key.
    other, _ = generic_secret(app, session, 32, true(CKA.DERIVE), token)
    ecb = Mechanism(AES_ECB_ENCRYPT_DATA, {"pData": data})
    assert derive_key(app, session, ecb, other, token, *aes)[0] == CKR.KEY_TYPE_INCONSISTENT


DES3_ECB_ENCRYPT_DATA, DES3_CBC_ENCRYPT_DATA = 0x1102, 0x1103


def test_des3_encrypt_data_derivations(make_app: Callable[[str], App], alice_pin: str) -> None:
    """CKM_DES3_ECB/CBC_ENCRYPT_DATA: the new key is the data encrypted with the 3DES base key
    (8-byte blocks and IV); any other base key, ragged data or IV is refused."""
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, DES3_ECB_ENCRYPT_DATA) == (16, 24, CKF_DERIVE)
    assert mechanism_info(app, DES3_CBC_ENCRYPT_DATA) == (16, 24, CKF_DERIVE)
    token = true(CKA.TOKEN)
    rv, base = generate(app, session, DES3_KEY_GEN, true(CKA.DERIVE), token, *SHOWN)
    assert rv == CKR.OK and base is not None
    (value,) = read(app, session, base, CKA.VALUE)
    assert isinstance(value, bytes) and len(value) == 24
    data, iv = bytes(range(40)), bytes(range(200, 208))

    def derive(
        key: int, ckm: int, parameter: dict[str, wire.FieldValue], *template: Attribute
    ) -> tuple[int, int | None]:
        return derive_key(app, session, Mechanism(ckm, parameter), key, token, *template)

    def encrypted(mode: modes.Mode) -> bytes:
        context = Cipher(TripleDES(value), mode).encryptor()
        return context.update(data) + context.finalize()

    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(16)), *SHOWN)
    for ckm, parameter, mode in (
        (DES3_ECB_ENCRYPT_DATA, {"pData": data}, modes.ECB()),
        (DES3_CBC_ENCRYPT_DATA, {"iv": iv, "pData": data}, modes.CBC(iv)),
    ):
        rv, key = derive(base, ckm, parameter, *aes)
        assert rv == CKR.OK and key is not None
        assert read(app, session, key, CKA.VALUE) == [encrypted(mode)[:16]]
        rv, whole = derive(base, ckm, parameter, *SHOWN)  # a generic secret: the whole ciphertext
        assert rv == CKR.OK and whole is not None
        assert read(app, session, whole, CKA.VALUE) == [encrypted(mode)]
        assert (
            derive(base, ckm, parameter, Attribute.of(CKA.VALUE_LEN, ulong(41)))[0]
            == CKR.TEMPLATE_INCONSISTENT
        )
        for bad in ({"pData": data[:12]}, {"pData": None}):  # whole 8-byte blocks only
            assert derive(base, ckm, {**parameter, **bad}, *aes)[0] == CKR.MECHANISM_PARAM_INVALID, bad
    # The base must be a 3DES key: an AES key is another cipher.
    rv, aes_key = generate(app, session, CKM.AES_KEY_GEN, *AES_256, true(CKA.DERIVE), *SHOWN)
    assert rv == CKR.OK and aes_key is not None
    ecb = {"pData": data}
    assert derive(aes_key, DES3_ECB_ENCRYPT_DATA, ecb, *aes)[0] == CKR.KEY_TYPE_INCONSISTENT


def test_hash_key_derivations(make_app: Callable[[str], App], alice_pin: str) -> None:
    """CKM_SHA*_KEY_DERIVATION: the digest of the base key's value, its leading bytes."""
    app, session = logged_in(make_app, alice_pin)
    token = true(CKA.TOKEN)
    base, value = generic_secret(app, session, 40, true(CKA.DERIVE), token)

    def derive(ckm: int, *template: Attribute, parameter: bytes | None = None) -> tuple[int, int | None]:
        return derive_key(app, session, Mechanism(ckm, parameter), base, token, *template)

    for ckm, hash_name in HASH_KEY_DERIVATIONS.items():
        assert mechanism_info(app, ckm) == (1, 512, CKF_DERIVE)
        digest = hashlib.new(hash_name, value).digest()
        rv, whole = derive(ckm, *SHOWN)  # no type, no length: a generic secret of the digest's size
        assert rv == CKR.OK and whole is not None
        assert read(app, session, whole, CKA.VALUE, CKA.KEY_TYPE) == [digest, ulong(CKK_GENERIC_SECRET)]
        rv, short = derive(ckm, Attribute.of(CKA.VALUE_LEN, ulong(16)), *SHOWN)
        assert rv == CKR.OK and short is not None
        assert read(app, session, short, CKA.VALUE) == [digest[:16]]
        too_long = Attribute.of(CKA.VALUE_LEN, ulong(len(digest) + 1))
        assert derive(ckm, too_long)[0] == CKR.TEMPLATE_INCONSISTENT, hash_name
    # An AES key: its length is needed (AES has three), and SHA-1's 20 bytes make no AES-256 key.
    aes_type = Attribute.of(CKA.KEY_TYPE, ulong(0x1F))
    assert derive(0x393, aes_type)[0] == CKR.TEMPLATE_INCOMPLETE
    rv, aes = derive(0x393, aes_type, Attribute.of(CKA.VALUE_LEN, ulong(16)), *SHOWN)
    assert rv == CKR.OK and aes is not None
    assert read(app, session, aes, CKA.VALUE) == [hashlib.sha256(value).digest()[:16]]
    assert derive(0x392, aes_type, Attribute.of(CKA.VALUE_LEN, ulong(32)))[0] == CKR.TEMPLATE_INCONSISTENT
    assert derive(0x393, parameter=b"x")[0] == CKR.MECHANISM_PARAM_INVALID
    assert derive(0x390)[0] == CKR.MECHANISM_INVALID  # CKM_MD5_KEY_DERIVATION: not a hash KMIP derives with


SP800_108_COUNTER_KDF, CKM_AES_CMAC = 0x3AC, 0x108A
ITERATION_VARIABLE, OPTIONAL_COUNTER, DKM_LENGTH, BYTE_ARRAY = 1, 2, 3, 4
COUNTER_32_BE: wire.StructValue = {
    "type": ITERATION_VARIABLE,
    "pValue": {"bLittleEndian": 0, "ulWidthInBits": 32},
}


def dkm_length(method: int, width: int = 32, little: int = 0) -> dict[str, wire.FieldValue]:
    return {
        "type": DKM_LENGTH,
        "pValue": {"dkmLengthMethod": method, "bLittleEndian": little, "ulWidthInBits": width},
    }


def sp800_108(prf: int, *params: dict[str, wire.FieldValue], additional: int = 0) -> Mechanism:
    return Mechanism(
        SP800_108_COUNTER_KDF,
        {"prfType": prf, "pDataParams": params or None, "ulAdditionalDerivedKeys": additional},
    )


def test_sp800_108_counter_kdf_as_kmip_nist800_108_c(make_app: Callable[[str], App], alice_pin: str) -> None:
    """CKM_SP800_108_COUNTER_KDF: the bytes equal pyca's KBKDF (counter mode, the 32-bit counter
    before the fixed data); layouts the server cannot compute are CKR_MECHANISM_PARAM_INVALID."""
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, SP800_108_COUNTER_KDF) == (1, 512, CKF_DERIVE)
    token = true(CKA.TOKEN)
    base, secret = generic_secret(app, session, 32, true(CKA.DERIVE), token)  # KMIP HMAC-SHA256
    rv, aes_base = generate(app, session, CKM.AES_KEY_GEN, *AES_256, true(CKA.DERIVE), *SHOWN)
    assert rv == CKR.OK and aes_base is not None
    (aes_value,) = read(app, session, aes_base, CKA.VALUE)
    assert isinstance(aes_value, bytes)
    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(32)), *SHOWN)

    def derived(mechanism: Mechanism, key: int, *template: Attribute) -> bytes:
        rv, made = derive_key(app, session, mechanism, key, token, *template)
        assert rv == CKR.OK and made is not None
        (value,) = read(app, session, made, CKA.VALUE)
        assert isinstance(value, bytes)
        return value

    # label || 00 || context || [L]32: what pyca builds from label, context and llen.
    label, context = b"label", b"context"
    standard = sp800_108(
        0x251,  # CKM_SHA256_HMAC
        COUNTER_32_BE,
        {"type": BYTE_ARRAY, "pValue": label},
        {"type": BYTE_ARRAY, "pValue": b"\x00"},
        {"type": BYTE_ARRAY, "pValue": context},
        dkm_length(1),  # CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
    )
    kbkdf = KBKDFHMAC(
        hashes.SHA256(), Mode.CounterMode, 32, 4, 4, CounterLocation.BeforeFixed, label, context, None
    )
    assert derived(standard, base, *aes) == kbkdf.derive(secret)
    # SHA-512 from an AES key (no hash of its own); the DKM length of the PRF's whole output
    # (SUM_OF_SEGMENTS: one 64-byte block for a 40-byte key), 16 bits little-endian.
    fixed = b"ctx" + (64 * 8).to_bytes(2, "little")
    segments = sp800_108(0x271, COUNTER_32_BE, {"type": BYTE_ARRAY, "pValue": b"ctx"}, dkm_length(2, 16, 1))
    expected = KBKDFHMAC(
        hashes.SHA512(), Mode.CounterMode, 40, 4, None, CounterLocation.BeforeFixed, None, None, fixed
    ).derive(aes_value)
    assert derived(segments, aes_base, Attribute.of(CKA.VALUE_LEN, ulong(40)), *SHOWN) == expected
    # CMAC-AES as the PRF: an AES base key only.
    cmac_kdf = sp800_108(CKM_AES_CMAC, COUNTER_32_BE, {"type": BYTE_ARRAY, "pValue": fixed})
    expected = KBKDFCMAC(
        algorithms.AES, Mode.CounterMode, 32, 4, None, CounterLocation.BeforeFixed, None, None, fixed
    ).derive(aes_value)
    assert derived(cmac_kdf, aes_base, *aes) == expected
    assert derive_key(app, session, cmac_kdf, base, token, *aes)[0] == CKR.KEY_TYPE_INCONSISTENT
    # The generic secret is a KMIP HMAC-SHA256 key, which names its PRF: another hash would
    # not be what was asked.
    assert derive_key(app, session, segments, base, token, *aes)[0] == CKR.MECHANISM_PARAM_INVALID
    byte_array: wire.StructValue = {"type": BYTE_ARRAY, "pValue": b"x"}
    for bad in (
        sp800_108(0x251, {"type": ITERATION_VARIABLE, "pValue": {"bLittleEndian": 1, "ulWidthInBits": 32}}),
        sp800_108(0x251, {"type": ITERATION_VARIABLE, "pValue": {"bLittleEndian": 0, "ulWidthInBits": 16}}),
        sp800_108(0x251, {"type": ITERATION_VARIABLE, "pValue": None}, byte_array),
        sp800_108(0x251, byte_array, COUNTER_32_BE),  # the server's counter comes first
        sp800_108(0x251, COUNTER_32_BE, byte_array, COUNTER_32_BE),
        sp800_108(0x251, COUNTER_32_BE, {"type": OPTIONAL_COUNTER, "pValue": COUNTER_32_BE["pValue"]}),
        sp800_108(0x251, COUNTER_32_BE, dkm_length(1), dkm_length(2)),
        sp800_108(0x251, COUNTER_32_BE, dkm_length(3)),
        sp800_108(0x251, COUNTER_32_BE, dkm_length(1, 12)),
        sp800_108(0x251, COUNTER_32_BE, dkm_length(1, 8)),  # 256 bits do not fit 8
        sp800_108(0x251, COUNTER_32_BE, {"type": BYTE_ARRAY, "pValue": None}),
        sp800_108(0x251, COUNTER_32_BE, byte_array, additional=1),
        sp800_108(0x250, COUNTER_32_BE, byte_array),  # CKM_SHA256: not a PRF
        sp800_108(0x251),
        Mechanism(SP800_108_COUNTER_KDF),
    ):
        assert derive_key(app, session, bad, base, token, *aes)[0] == CKR.MECHANISM_PARAM_INVALID, bad


SP800_108_FEEDBACK_KDF, SP800_108_DOUBLE_PIPELINE_KDF = 0x3AD, 0x3AE
ITERATION_NO_FORMAT: wire.StructValue = {"type": ITERATION_VARIABLE, "pValue": None}
OPTIONAL_32_BE: wire.StructValue = {
    "type": OPTIONAL_COUNTER,
    "pValue": {"bLittleEndian": 0, "ulWidthInBits": 32},
}


def nist_sp800_108(key: bytes, feedback: bool, fixed: bytes, iv: bytes, length: int) -> bytes:
    """SP 800-108 §5.2 (feedback: K(i) = PRF(K(i-1) || [i]32 || fixed), K(0) = IV) or §5.3
    (double pipeline: A(i) = PRF(A(i-1)), A(0) = fixed; K(i) = PRF(A(i) || [i]32 || fixed)),
    PRF HMAC-SHA256, written here from the standard (pyca has counter mode only)."""
    out, previous, pipeline = b"", iv, fixed
    for i in range(1, -(-length // 32) + 1):
        if feedback:
            previous = hmac.new(key, previous + i.to_bytes(4, "big") + fixed, "sha256").digest()
            out += previous
        else:
            pipeline = hmac.new(key, pipeline, "sha256").digest()
            out += hmac.new(key, pipeline + i.to_bytes(4, "big") + fixed, "sha256").digest()
    return out[:length]


def test_sp800_108_feedback_and_double_pipeline_kdfs(make_app: Callable[[str], App], alice_pin: str) -> None:
    """CKM_SP800_108_FEEDBACK_KDF (NIST800-108-F, pIV as K(0)) and _DOUBLE_PIPELINE_KDF
    (NIST800-108-DPI): bytes equal SP 800-108 computed here; the iteration variable must be
    the chaining value (no format) and the counter an optional 32-bit big-endian one after it."""
    app, session = logged_in(make_app, alice_pin)
    for offered in (SP800_108_FEEDBACK_KDF, SP800_108_DOUBLE_PIPELINE_KDF):
        assert mechanism_info(app, offered) == (1, 512, CKF_DERIVE)
    token = true(CKA.TOKEN)
    base, secret = generic_secret(app, session, 32, true(CKA.DERIVE), token)  # KMIP HMAC-SHA256
    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(48)), *SHOWN)
    label: wire.StructValue = {"type": BYTE_ARRAY, "pValue": b"label"}
    fixed = b"label" + (48 * 8).to_bytes(4, "big")

    def kdf(mechanism: int, *params: dict[str, wire.FieldValue], iv: bytes | None = None) -> Mechanism:
        fields: dict[str, wire.FieldValue] = {
            "prfType": 0x251,  # CKM_SHA256_HMAC
            "pDataParams": params or None,
            "ulAdditionalDerivedKeys": 0,
        }
        if mechanism == SP800_108_FEEDBACK_KDF:
            fields["pIV"] = iv
        return Mechanism(mechanism, fields)

    def derived(mechanism: Mechanism) -> bytes:
        rv, made = derive_key(
            app, session, mechanism, base, token, Attribute.of(CKA.VALUE_LEN, ulong(48)), *SHOWN
        )
        assert rv == CKR.OK and made is not None
        (value,) = read(app, session, made, CKA.VALUE)
        assert isinstance(value, bytes)
        return value

    layout = (ITERATION_NO_FORMAT, OPTIONAL_32_BE, label, dkm_length(1))
    feedback = derived(kdf(SP800_108_FEEDBACK_KDF, *layout, iv=b"\x01" * 32))
    assert feedback == nist_sp800_108(secret, True, fixed, b"\x01" * 32, 48)
    assert derived(kdf(SP800_108_FEEDBACK_KDF, *layout)) == nist_sp800_108(secret, True, fixed, b"", 48)
    pipeline = derived(kdf(SP800_108_DOUBLE_PIPELINE_KDF, *layout))
    assert pipeline == nist_sp800_108(secret, False, fixed, b"", 48)
    for mechanism in (SP800_108_FEEDBACK_KDF, SP800_108_DOUBLE_PIPELINE_KDF):
        for bad in (
            kdf(mechanism, COUNTER_32_BE, label),  # counter mode's layout
            kdf(mechanism, ITERATION_NO_FORMAT, label),  # no counter: the server always adds one
            kdf(
                mechanism,
                ITERATION_NO_FORMAT,
                {**OPTIONAL_32_BE, "pValue": {"bLittleEndian": 1, "ulWidthInBits": 32}},
            ),
            kdf(mechanism, label, ITERATION_NO_FORMAT, OPTIONAL_32_BE),  # data before the chaining value
            kdf(mechanism, ITERATION_NO_FORMAT, OPTIONAL_32_BE, label, OPTIONAL_32_BE),
            kdf(mechanism),
        ):
            assert derive_key(app, session, bad, base, token, *aes)[0] == CKR.MECHANISM_PARAM_INVALID, bad


def test_pbkdf2_makes_a_key_from_a_password(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    assert mechanism_info(app, PKCS5_PBKD2) == (8, 4096, CKF_GENERATE)  # bits, as generic secrets
    token = true(CKA.TOKEN)

    def pbkdf2(
        prf: int = 4, password: bytes | None = b"correct horse", **changes: wire.FieldValue
    ) -> dict[str, wire.FieldValue]:
        parameters: dict[str, wire.FieldValue] = {
            "saltSource": 1,
            "pSaltSourceData": b"pepper and salt",
            "iterations": 1000,
            "prf": prf,
            "pPrfData": None,
            "pPassword": password,
        }
        return {**parameters, **changes}

    def generated(parameters: dict[str, wire.FieldValue], *template: Attribute) -> tuple[int, int | None]:
        return app.made(
            "C_GenerateKey",
            "phKey",
            hSession=session,
            pMechanism=Mechanism(PKCS5_PBKD2, parameters),
            pTemplate=template,
        )

    aes = (Attribute.of(CKA.KEY_TYPE, ulong(0x1F)), Attribute.of(CKA.VALUE_LEN, ulong(32)), *SHOWN)
    rv, key = generated(pbkdf2(), *aes, token, Attribute.of(CKA.LABEL, b"from-password"))
    assert rv == CKR.OK and key is not None
    reference = PBKDF2HMAC(hashes.SHA256(), 32, b"pepper and salt", 1000).derive(b"correct horse")
    assert read(app, session, key, CKA.VALUE, CKA.KEY_TYPE, CKA.TOKEN) == [reference, ulong(0x1F), b"\x01"]
    # A session generic secret with HMAC-SHA-1 (PKCS#5's default PRF) and another count.
    rv, key = generated(pbkdf2(prf=1, iterations=7), Attribute.of(CKA.VALUE_LEN, ulong(20)), *SHOWN)
    assert rv == CKR.OK and key is not None
    reference = PBKDF2HMAC(hashes.SHA1(), 20, b"pepper and salt", 7).derive(b"correct horse")
    assert read(app, session, key, CKA.VALUE, CKA.KEY_TYPE, CKA.TOKEN) == [
        reference,
        ulong(CKK_GENERIC_SECRET),
        b"\x00",
    ]
    # The passwords were Secret Data for the call only: none is left but the token key's Destroyed
    # record (the session key's is its application's owner's).
    assert secret_data_states(app) == []
    assert secret_data_states(app, State.DESTROYED) == [State.DESTROYED]

    # Misuse: nothing is left of a refused call.
    sixteen = Attribute.of(CKA.VALUE_LEN, ulong(16))
    for bad in (
        pbkdf2(iterations=0),
        pbkdf2(prf=2),  # GOST R 34.11
        pbkdf2(prf=7),  # HMAC-SHA-512/224
        pbkdf2(saltSource=2),
        pbkdf2(pSaltSourceData=None),
        pbkdf2(pPrfData=b"x"),
        pbkdf2(password=None),
    ):
        assert generated(bad, sixteen, token)[0] == CKR.MECHANISM_PARAM_INVALID, bad
    assert generated(pbkdf2(), token)[0] == CKR.TEMPLATE_INCOMPLETE
    assert (
        generated(pbkdf2(), *aes[:1], Attribute.of(CKA.VALUE_LEN, ulong(20)), token)[0] == CKR.KEY_SIZE_RANGE
    )
    taken = Attribute.of(CKA.LABEL, b"from-password")
    assert generated(pbkdf2(), sixteen, token, taken)[0] == CKR.ATTRIBUTE_VALUE_INVALID  # its Name is taken
    assert secret_data_states(app, State.DESTROYED) == [State.DESTROYED]  # (rolled back: no other)
    assert secret_data_states(app) == []


def test_generic_secrets_mac_with_every_hash(make_app: Callable[[str], App], alice_pin: str) -> None:
    app, session = logged_in(make_app, alice_pin)
    key, value = generic_secret(app, session, 48, true(CKA.SIGN), true(CKA.VERIFY), true(CKA.TOKEN))
    for ckm, hash_name in HMACS.items():
        expected = hmac.new(value, DATA, hash_name).digest()
        assert signed(app, session, Mechanism(ckm), key) == expected, hash_name
        assert verified(app, session, Mechanism(ckm), key, DATA, expected) == CKR.OK
        assert (
            verified(app, session, Mechanism(ckm), key, DATA, bytes(len(expected))) == CKR.SIGNATURE_INVALID
        )
    # Through KMIP: the generic secret MACs with the hash a request names (SHA-256 by default) ...
    located = app.kmip(
        Operation.LOCATE, LocateRequest(attributes=as_attributes((Tag.OBJECT_TYPE, ObjectType.SYMMETRIC_KEY)))
    )
    (uid,) = located.unique_identifiers  # type: ignore[attr-defined]
    sha384 = CryptographicParameters(hashing_algorithm=HashingAlgorithm.SHA_384)
    mac = app.kmip(
        Operation.MAC, MACRequest(unique_identifier=uid, cryptographic_parameters=sha384, data=DATA)
    )
    assert mac.mac_data == hmac.new(value, DATA, "sha384").digest()  # type: ignore[attr-defined]
    mac = app.kmip(Operation.MAC, MACRequest(unique_identifier=uid, data=DATA))
    assert mac.mac_data == hmac.new(value, DATA, "sha256").digest()  # type: ignore[attr-defined]
    # ... while an HMAC key of a hash stays that hash's, from PKCS#11 and from KMIP.
    typed, _ = typed_hmac_key(app, session, 0x2B, 32)  # CKK_SHA256_HMAC
    for ckm in (0x221, 0x271, 0x2B1):
        assert (
            app("C_SignInit", hSession=session, pMechanism=Mechanism(ckm), hKey=typed)[0]
            == CKR.KEY_TYPE_INCONSISTENT
        )
    made = hmac_key(
        app, session, "sha256-only", CryptographicAlgorithm.HMAC_SHA256, CryptographicUsageMask.MAC_GENERATE
    )
    assert (
        app("C_SignInit", hSession=session, pMechanism=Mechanism(0x271), hKey=made)[0]
        == CKR.KEY_TYPE_INCONSISTENT
    )


@pytest.mark.parametrize("curve", sorted(MONTGOMERY))
def test_x25519_x448_keys_are_imported_and_unwrapped(
    make_app: Callable[[str], App], alice_pin: str, curve: str
) -> None:
    """C_CreateObject and C_UnwrapKey of CKK_EC_MONTGOMERY keys (KMIP Register of ECDH keys on
    Curve25519/Curve448): the imported or unwrapped private key derives pyca's shared secret."""
    oid, printable, size = MONTGOMERY[curve]
    private_type: Any = x25519.X25519PrivateKey if size == 32 else x448.X448PrivateKey
    app, session = logged_in(make_app, alice_pin)
    token = true(CKA.TOKEN)
    raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ours, peer = private_type.generate(), private_type.generate()
    secret = ours.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    point = bytes([4, size]) + ours.public_key().public_bytes(*raw)
    params = Attribute.of(CKA.EC_PARAMS, oid)
    public = import_key(
        app, session, CKO.PUBLIC_KEY, CKK_EC_MONTGOMERY, params, Attribute.of(CKA.EC_POINT, point), token
    )
    assert read(app, session, public, CKA.KEY_TYPE, CKA.EC_POINT, CKA.EC_PARAMS) == [
        ulong(CKK_EC_MONTGOMERY),
        point,
        oid,
    ]
    bare = import_key(
        app,
        session,
        CKO.PUBLIC_KEY,
        CKK_EC_MONTGOMERY,
        Attribute.of(CKA.EC_PARAMS, printable),
        Attribute.of(CKA.EC_POINT, point[2:]),
    )
    assert read(app, session, bare, CKA.EC_POINT) == [point]  # bare bytes and the curve's name too
    private = import_key(
        app, session, CKO.PRIVATE_KEY, CKK_EC_MONTGOMERY, params, Attribute.of(CKA.VALUE, secret), token
    )
    assert read(app, session, private, CKA.KEY_TYPE, CKA.DERIVE) == [ulong(CKK_EC_MONTGOMERY), b"\x01"]

    def derived(base: int) -> bytes | None:
        parameters: dict[str, wire.FieldValue] = {
            "kdf": 1,
            "pSharedData": None,
            "pPublicData": peer.public_key().public_bytes(*raw),
        }
        rv, shared = app.made(
            "C_DeriveKey",
            "phKey",
            hSession=session,
            pMechanism=Mechanism(0x1050, parameters),
            hBaseKey=base,
            pTemplate=(Attribute.of(CKA.VALUE_LEN, ulong(32)), *SHOWN, token),
        )
        assert rv == CKR.OK and shared is not None, hex(rv)
        return read(app, session, shared, CKA.VALUE)[0]

    assert derived(private) == peer.exchange(ours.public_key())[:32]
    # Unwrapped: the PKCS#8 of another key, wrapped by pyca with AES-KWP (RFC 5649).
    wrapping = app.aes_key(session, (*AES_256, true(CKA.UNWRAP), *SHOWN))
    other = private_type.generate()
    pkcs8 = other.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    rv, unwrapped = unwrapped_by_kwp(
        app,
        session,
        wrapping,
        pkcs8,
        Attribute.of(CKA.CLASS, ulong(CKO.PRIVATE_KEY)),
        Attribute.of(CKA.KEY_TYPE, ulong(CKK_EC_MONTGOMERY)),
        true(CKA.DERIVE),
        token,
    )
    assert rv == CKR.OK and unwrapped is not None, hex(rv)
    assert read(app, session, unwrapped, CKA.KEY_TYPE) == [ulong(CKK_EC_MONTGOMERY)]
    assert derived(unwrapped) == peer.exchange(other.public_key())[:32]
    # Values that make no such key, another curve.

    def created(cko: int, *components: Attribute) -> int:
        kind = (Attribute.of(CKA.CLASS, ulong(cko)), Attribute.of(CKA.KEY_TYPE, ulong(CKK_EC_MONTGOMERY)))
        return app.made("C_CreateObject", "phObject", hSession=session, pTemplate=(*kind, *components))[0]

    short = Attribute.of(CKA.VALUE, secret[:-1])
    assert created(CKO.PRIVATE_KEY, params, short) == CKR.ATTRIBUTE_VALUE_INVALID
    other_curve = (Attribute.of(CKA.EC_PARAMS, P256), Attribute.of(CKA.EC_POINT, point))
    assert created(CKO.PUBLIC_KEY, *other_curve) == CKR.CURVE_NOT_SUPPORTED
