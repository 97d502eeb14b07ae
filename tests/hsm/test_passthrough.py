"""HSM passthrough on SoftHSM2: client contexts, their isolation, their end.

Calls go through the wire encoding into Pkcs11Service, which runs each context's
module in a worker process of its own, exactly as the KMIP operation does.
"""

from __future__ import annotations

import os
import signal
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import Attribute, AttributeQuery, Mechanism, OutData, OutRequest, WireError
from pkcs11_kmip_server.engine import Peer
from pkcs11_kmip_server.hsm.service import Pkcs11Service, WorkerBackend
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from testsupport.softhsm import Token

CKF_RW_SESSION, CKF_SERIAL_SESSION = 2, 4
CKU_USER = 1
CKS_RO_PUBLIC_SESSION, CKS_RW_PUBLIC_SESSION, CKS_RW_USER_FUNCTIONS = 0, 2, 3
CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_VALUE, CKA_VALUE_LEN = 0x0, 0x1, 0x2, 0x3, 0x11, 0x161
CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_EC_PARAMS, CKA_EC_POINT = 0x103, 0x162, 0x180, 0x181
CKO_PRIVATE_KEY, CKO_SECRET_KEY = 3, 4
CKM_AES_KEY_GEN, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA = 0x1080, 0x1040, 0x1041
P256 = bytes.fromhex("06082a8648ce3d030107")
TRUE, FALSE = b"\x01", b"\x00"


def ulong(value: int) -> bytes:
    return struct.pack("@L", value)


class App:
    """One client application: its context on the service, calls through the wire encoding."""

    peer: Peer | None = None  # the connection it calls on (None: none)

    def __init__(self, service: Pkcs11Service, principal: str = "alice", peer: Peer | None = None) -> None:
        self.service = service
        self.principal = principal
        self.peer = peer
        reply = service.handle(principal, BY_NAME["C_Initialize"].id, b"\x01", None, peer=peer)
        assert reply.rv == CKR.OK and reply.correlation_value is not None
        self.correlation_value: bytes | None = reply.correlation_value

    def __call__(self, name: str, **values: Any) -> tuple[int, dict[str, Any]]:
        reply = self.service.handle(
            self.principal,
            BY_NAME[name].id,
            wire.encode_inputs(name, values),
            self.correlation_value,
            peer=self.peer,
        )
        outputs = wire.decode_outputs(name, reply.output) if reply.output is not None else {}
        return reply.rv, outputs

    def ok(self, name: str, **values: Any) -> dict[str, Any]:
        rv, outputs = self(name, **values)
        assert rv == CKR.OK, f"{name}: 0x{rv:X}"
        return outputs

    def finalize(self) -> int:
        function = BY_NAME["C_Finalize"].id
        return self.service.handle(self.principal, function, b"", self.correlation_value, peer=self.peer).rv

    @property
    def worker_pid(self) -> int:
        connection = self.peer.connection if self.peer is not None else None
        context = self.service._context(self.principal, self.correlation_value, connection)
        assert context is not None and isinstance(context.backend, WorkerBackend)
        return context.backend.worker.pid

    # -- what most tests need --------------------------------------------------------------

    def slot(self) -> int:
        slots = self.ok("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(True, 8))["pSlotList"]
        return int(slots.data[0])

    def session(self, rw: bool = True) -> int:
        flags = CKF_SERIAL_SESSION | (CKF_RW_SESSION if rw else 0)
        return int(self.ok("C_OpenSession", slotID=self.slot(), flags=flags)["phSession"])

    def login(self, session: int, pin: str) -> int:
        return self("C_Login", hSession=session, userType=CKU_USER, pPin=pin.encode())[0]

    def find(self, session: int, *template: Attribute) -> tuple[int, ...]:
        self.ok("C_FindObjectsInit", hSession=session, pTemplate=template)
        found = self.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 100))["phObject"]
        self.ok("C_FindObjectsFinal", hSession=session)
        return tuple(found.data)

    def aes_key(self, session: int, label: bytes, token: bool = False) -> int:
        template = (
            Attribute.of(CKA_VALUE_LEN, ulong(32)),
            Attribute.of(CKA_TOKEN, TRUE if token else FALSE),
            Attribute.of(CKA_LABEL, label),
        )
        outputs = self.ok(
            "C_GenerateKey", hSession=session, pMechanism=Mechanism(CKM_AES_KEY_GEN), pTemplate=template
        )
        return int(outputs["phKey"])


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process `pid` (our child) has exited and been reaped, within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


# --- contexts ---------------------------------------------------------------------------------


def test_c_initialize_makes_a_context_bound_to_its_client(service: Pkcs11Service) -> None:
    alice, again = App(service), App(service)
    assert alice.correlation_value is not None and len(alice.correlation_value) == 16
    assert alice.correlation_value != again.correlation_value
    info = alice.ok("C_GetInfo")["pInfo"]
    assert info["manufacturerID"] == b"pkcs11-kmip".ljust(32) and info["cryptokiVersion"] == (3, 0)
    stolen = App.__new__(App)
    stolen.service, stolen.principal, stolen.correlation_value = service, "mallory", alice.correlation_value
    assert stolen("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert stolen.finalize() == CKR.CRYPTOKI_NOT_INITIALIZED
    none = App.__new__(App)
    none.service, none.principal, none.correlation_value = service, "alice", None
    assert (
        none("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(False, 0))[0]
        == CKR.CRYPTOKI_NOT_INITIALIZED
    )
    reply = service.handle("alice", BY_NAME["C_Initialize"].id, b"\x01", alice.correlation_value)
    assert reply.rv == CKR.CRYPTOKI_ALREADY_INITIALIZED and reply.correlation_value is None
    assert alice.finalize() == CKR.OK
    assert alice("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert alice.finalize() == CKR.CRYPTOKI_NOT_INITIALIZED
    assert again.ok("C_GetInfo")


def test_slots_tokens_and_mechanisms_pass_through(service: Pkcs11Service, token: Token) -> None:
    app = App(service)
    # SoftHSM2 shows the initialized token and a free slot (whose blank token is present).
    count = app.ok("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(False, 0))["pSlotList"]
    assert count == OutData(2)
    rv, outputs = app("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(True, 1))
    assert (rv, outputs) == (CKR.BUFFER_TOO_SMALL, {"pSlotList": OutData(2)})
    slot = app.slot()
    assert app.ok("C_GetTokenInfo", slotID=slot)["pInfo"]["label"] == token.label.encode().ljust(32)
    assert app.ok("C_GetSlotInfo", slotID=slot)["pInfo"]["manufacturerID"].startswith(b"SoftHSM")
    mechanisms = app.ok("C_GetMechanismList", slotID=slot, pMechanismList=OutRequest(True, 200))[
        "pMechanismList"
    ]
    assert CKM_ECDSA in mechanisms.data and mechanisms.length == len(mechanisms.data)
    info = app.ok("C_GetMechanismInfo", slotID=slot, type=CKM_ECDSA)["pInfo"]
    assert info["ulMaxKeySize"] >= 256
    assert app("C_GetSlotInfo", slotID=0xDEAD)[0] == CKR.SLOT_ID_INVALID


def test_login_state_belongs_to_one_client(service: Pkcs11Service, token: Token) -> None:
    alice, bob = App(service, "alice"), App(service, "bob")
    a, b = alice.session(), bob.session()
    assert alice.login(a, token.pin) == CKR.OK
    assert alice.ok("C_GetSessionInfo", hSession=a)["pInfo"]["state"] == CKS_RW_USER_FUNCTIONS
    assert bob.ok("C_GetSessionInfo", hSession=b)["pInfo"]["state"] == CKS_RW_PUBLIC_SESSION
    alice.aes_key(a, b"private", token=False)
    assert bob.find(b, Attribute.of(CKA_PRIVATE, TRUE)) == ()
    assert bob.login(b, "0000") == CKR.PIN_INCORRECT
    assert bob.login(b, token.pin) == CKR.OK  # not CKR_USER_ALREADY_LOGGED_IN: Alice's login is hers
    assert alice.ok("C_Logout", hSession=a) == {}
    assert bob.ok("C_GetSessionInfo", hSession=b)["pInfo"]["state"] == CKS_RW_USER_FUNCTIONS


def test_sessions_and_handles_belong_to_one_client(service: Pkcs11Service, token: Token) -> None:
    alice, bob = App(service, "alice"), App(service, "bob")
    a = alice.session()
    alice.login(a, token.pin)
    key = alice.aes_key(a, b"alice's session key")
    assert bob("C_GetSessionInfo", hSession=a)[0] == CKR.SESSION_HANDLE_INVALID
    b = bob.session()
    assert bob.login(b, token.pin) == CKR.OK
    assert bob.find(b, Attribute.of(CKA_LABEL, b"alice's session key")) == ()
    query = (AttributeQuery(CKA_LABEL, True, 64),)
    assert (
        bob("C_GetAttributeValue", hSession=b, hObject=key, pTemplate=query)[0] == CKR.OBJECT_HANDLE_INVALID
    )
    assert alice.ok("C_GetAttributeValue", hSession=a, hObject=key, pTemplate=query)["pTemplate"] == (
        Attribute.of(CKA_LABEL, b"alice's session key"),
    )


def test_finalize_closes_the_clients_sessions_on_the_module(service: Pkcs11Service) -> None:
    app = App(service)
    app.session()
    pid = app.worker_pid
    assert app.finalize() == CKR.OK
    assert gone(pid), "the context's module instance is still running"


def test_idle_contexts_are_closed(make_service: Callable[..., Pkcs11Service]) -> None:
    now = [1000.0]
    service = make_service(idle_timeout=60.0)
    service.clock = lambda: now[0]
    idle, busy = App(service, "idle"), App(service, "busy")
    idle.session()
    pid = idle.worker_pid
    now[0] += 45
    busy.ok("C_GetInfo")
    busy.ok("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(False, 0))
    now[0] += 30
    assert service.sweep() == 1
    assert gone(pid)
    assert idle("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert busy.ok("C_GetInfo")


def test_closing_a_connection_ends_its_contexts_only(service: Pkcs11Service) -> None:
    closing, staying = Peer("alice", connection=1), Peer("alice", connection=2)
    first, second = App(service, peer=closing), App(service, peer=closing)
    other, unbound = App(service, peer=staying), App(service)
    for app in (first, second, other, unbound):
        app.session()
    pids = [first.worker_pid, second.worker_pid]
    assert service.context_count == 4
    assert service.connection_closed(closing.connection) == 2
    assert service.context_count == 2
    assert all(gone(pid, timeout=5.0) for pid in pids), "a closed connection's module instance runs on"
    assert first("C_GetInfo")[0] == second("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert other.slot() and unbound.slot()
    assert os.waitpid(other.worker_pid, os.WNOHANG) == (0, 0)  # still running
    assert service.connection_closed(closing.connection) == 0
    assert service.connection_closed(None) == 0


def test_a_context_answers_only_on_its_own_connection(service: Pkcs11Service) -> None:
    """A reconnected client's old Correlation Value: as after a server restart."""
    app = App(service, peer=Peer("alice", connection=1))
    session = app.session()
    elsewhere = App.__new__(App)
    elsewhere.service, elsewhere.principal = service, "alice"
    elsewhere.correlation_value, elsewhere.peer = app.correlation_value, Peer("alice", connection=2)
    assert elsewhere("C_GetSessionInfo", hSession=session)[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert elsewhere.finalize() == CKR.CRYPTOKI_NOT_INITIALIZED
    elsewhere.peer = None
    assert elsewhere("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert app.ok("C_GetSessionInfo", hSession=session)["pInfo"]["state"] == CKS_RW_PUBLIC_SESSION


def test_a_context_made_while_its_connection_closed_ends(service: Pkcs11Service) -> None:
    """C_Initialize still running when the transport reported the close: it ends too."""
    peer = Peer("alice", connection=7, closed=True)
    reply = service.handle("alice", BY_NAME["C_Initialize"].id, b"\x01", None, peer=peer)
    assert reply.rv == CKR.OK
    assert service.context_count == 0


def test_a_module_crash_ends_only_that_clients_context(service: Pkcs11Service) -> None:
    victim, other = App(service, "victim"), App(service, "other")
    os.kill(victim.worker_pid, signal.SIGKILL)
    assert victim("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(False, 0))[0] == CKR.DEVICE_ERROR
    assert victim("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert other.slot()


def test_buffers_follow_the_length_convention(service: Pkcs11Service, token: Token) -> None:
    app = App(service)
    session = app.session()
    app.login(session, token.pin)
    template = (Attribute.of(CKA_EC_PARAMS, P256),)
    private = (Attribute.of(CKA_TOKEN, FALSE), Attribute.of(CKA_SENSITIVE, TRUE))
    keys = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM_EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=template,
        pPrivateKeyTemplate=private,
    )
    app.ok("C_SignInit", hSession=session, pMechanism=Mechanism(CKM_ECDSA), hKey=keys["phPrivateKey"])
    digest = bytes(32)
    assert app.ok("C_Sign", hSession=session, pData=digest, pSignature=OutRequest(False, 0)) == {
        "pSignature": OutData(64)
    }
    rv, outputs = app("C_Sign", hSession=session, pData=digest, pSignature=OutRequest(True, 10))
    assert (rv, outputs) == (CKR.BUFFER_TOO_SMALL, {"pSignature": OutData(64)})
    signature = app.ok("C_Sign", hSession=session, pData=digest, pSignature=OutRequest(True, 200))[
        "pSignature"
    ]
    assert signature.length == 64 and len(signature.data) == 64
    # The operation ended with the signature: a new C_Sign is not initialized.
    assert app("C_Sign", hSession=session, pData=digest, pSignature=OutRequest(True, 64))[0] == (
        CKR.OPERATION_NOT_INITIALIZED
    )
    query = (
        AttributeQuery(CKA_VALUE, True, 64),  # sensitive: CK_UNAVAILABLE_INFORMATION
        AttributeQuery(CKA_CLASS, True, 8),
        AttributeQuery(CKA_EC_PARAMS, False, 0),  # length only
        AttributeQuery(0x7FFFFFFF, True, 8),  # no such attribute
    )
    rv, outputs = app("C_GetAttributeValue", hSession=session, hObject=keys["phPrivateKey"], pTemplate=query)
    assert rv in (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID)
    assert outputs["pTemplate"] == (
        Attribute(CKA_VALUE, None, None),
        Attribute.of(CKA_CLASS, ulong(CKO_PRIVATE_KEY)),
        Attribute(CKA_EC_PARAMS, None, len(P256)),
        Attribute(0x7FFFFFFF, None, None),
    )
    random = app.ok("C_GenerateRandom", hSession=session, RandomData=OutRequest(True, 32))["RandomData"]
    assert random.length == 32 and len(random.data) == 32


def test_codec_errors_are_reported_not_executed(service: Pkcs11Service) -> None:
    app = App(service)
    with pytest.raises(WireError, match="after the last field"):
        service.handle(
            "alice", BY_NAME["C_GetSlotList"].id, b"\x01\x00\x00\x00\x00\x00\xff", app.correlation_value
        )
    with pytest.raises(WireError, match="encoding version"):
        service.handle("alice", BY_NAME["C_Initialize"].id, b"\x02", None)
    with pytest.raises(WireError):
        service.handle("alice", BY_NAME["C_Finalize"].id, b"\x00", app.correlation_value)
    assert app.slot()  # the context is intact


def test_a_parameter_of_unknown_layout_never_reaches_the_module(service: Pkcs11Service, token: Token) -> None:
    """Raw parameter bytes could hold pointers the module would follow: refused."""
    app = App(service)
    session = app.session()
    mechanism = Mechanism(0x80000001, b"\xff" * 16)
    assert app("C_DigestInit", hSession=session, pMechanism=mechanism)[0] == CKR.MECHANISM_PARAM_INVALID


def test_context_limits(make_service: Callable[..., Pkcs11Service]) -> None:
    now = [1000.0]
    service = make_service(max_contexts_per_client=1, max_contexts=2)
    service.clock = lambda: now[0]
    first = App(service, "alice")
    assert service.handle("alice", BY_NAME["C_Initialize"].id, b"\x01", None).rv == CKR.DEVICE_MEMORY
    App(service, "bob")
    assert service.handle("carol", BY_NAME["C_Initialize"].id, b"\x01", None).rv == CKR.DEVICE_MEMORY
    # An application that exited without C_Finalize: its context makes room after a while.
    now[0] += 61
    second = App(service, "alice")
    assert first("C_GetInfo")[0] == CKR.CRYPTOKI_NOT_INITIALIZED
    assert second.ok("C_GetInfo")


def test_a_module_that_does_not_load(make_service: Callable[..., Pkcs11Service], tmp_path: Path) -> None:
    service = make_service(module=tmp_path / "missing.so")
    assert service.handle("alice", BY_NAME["C_Initialize"].id, b"\x01", None).rv == CKR.DEVICE_ERROR
    assert service.context_count == 0


def test_without_a_module_the_native_token_is_the_slot() -> None:
    app = App(Pkcs11Service())
    assert app.ok("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(True, 4)) == {
        "pSlotList": OutData(1, (1,))
    }
    assert app.ok("C_GetSlotInfo", slotID=1)["pInfo"]["slotDescription"].startswith(b"pkcs11-kmip native")
    assert app.finalize() == CKR.OK


def test_an_hsm_token_without_a_module_has_no_slots() -> None:
    service = Pkcs11Service(Pkcs11Settings(token="hsm"))
    app = App(service)
    assert app.ok("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(True, 4)) == {
        "pSlotList": OutData(0, ())
    }
    assert app("C_OpenSession", slotID=1, flags=CKF_SERIAL_SESSION)[0] == CKR.SLOT_ID_INVALID
    assert app("C_GetSessionInfo", hSession=1)[0] == CKR.SESSION_HANDLE_INVALID
    assert app.ok("C_GetInfo")["pInfo"]["libraryDescription"] == b"PKCS#11 over KMIP 2.0".ljust(32)
    assert app.finalize() == CKR.OK


# --- settings ---------------------------------------------------------------------------------


def test_settings_from_server_toml(tmp_path: Path) -> None:
    settings = Pkcs11Settings.from_table(
        {"module": "lib/hsm.so", "clients": ["app"], "environment": {"X": "1"}, "idle_timeout": 10},
        tmp_path,
    )
    assert settings.module == tmp_path / "lib/hsm.so"
    assert settings.clients == frozenset({"app"}) and settings.environment == {"X": "1"}
    assert settings.idle_timeout == 10.0
    assert Pkcs11Settings.from_table({}, tmp_path) == Pkcs11Settings(pins=tmp_path / "pins.toml")
    assert Pkcs11Settings.from_table({}, tmp_path).native and not settings.native
    assert Pkcs11Settings.from_table({"module": "m.so", "token": "native"}, tmp_path).native
    for bad, message in [
        ({"token": "hsm"}, "token"),
        ({"token": "soft"}, "token"),
        ({"modul": "x"}, "unknown"),
        ({"module": 1}, "path"),
        ({"clients": "app"}, "list"),
        ({"environment": {"X": 1}}, "strings"),
        ({"idle_timeout": 0}, "positive"),
        ({"max_contexts": True}, "number"),
    ]:
        with pytest.raises(ValueError, match=message):
            Pkcs11Settings.from_table(bad, tmp_path)


def test_what_one_call_may_allocate_on_the_server_is_bounded(service: Pkcs11Service) -> None:
    app = App(service)
    session = app.session()
    rv, _ = app("C_GenerateRandom", hSession=session, RandomData=OutRequest(True, 17 * 2**20))
    assert rv == CKR.DEVICE_MEMORY
    query = tuple(AttributeQuery(CKA_LABEL, True, 16 * 2**20) for _ in range(5))
    assert app("C_GetAttributeValue", hSession=session, hObject=1, pTemplate=query)[0] == CKR.DEVICE_MEMORY
    # A large capacity alone is fine: the module is given at most 16 MiB, and answers what it has.
    slots = app.ok("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(True, 2**31))["pSlotList"]
    assert slots.length == 2 and len(slots.data) == 2
