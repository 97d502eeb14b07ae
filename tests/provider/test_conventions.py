"""Cryptoki calling conventions at the library's C edge, with SoftHSM2 behind the server.

The dispatcher reads and writes real C memory (an ABI-mode cffi FFI built from the
library's own declarations); calls go through the wire encoding and the library's
Remote to the server's PKCS#11 service (a module worker per context) in this process:
only the KMIP connection is left out (test_forwarding.py has it). Buffers are filled with a sentinel byte
so that any byte written past what the caller allowed shows.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cffi
import pytest

from pkcs11_kmip.cryptoki import embed, wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME, Call
from pkcs11_kmip.cryptoki.cdefs import TYPES
from pkcs11_kmip.cryptoki.config import ClientConfig
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.module import Library, default_info
from pkcs11_kmip.cryptoki.remote import Remote, Reply
from pkcs11_kmip.cryptoki.wire import OutData
from pkcs11_kmip.kmip.messages import RequestMessage, ResponseBatchItem, ResponseHeader, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import Operation, PKCS11ReturnCode, ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token

SENTINEL = 0xA5
UNAVAILABLE = wire.UNAVAILABLE
CKF_SERIAL_RW = 6
CKU_USER = 1
CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_SENSITIVE, CKA_EC_PARAMS = 0x0, 0x1, 0x3, 0x11, 0x103, 0x180
CKM_EC_KEY_PAIR_GEN, CKM_ECDSA = 0x1040, 0x1041
CKO_PRIVATE_KEY = 3
P256 = bytes.fromhex("06082a8648ce3d030107")


class ServiceClient:
    """The server's PKCS#11 operation in this process, in place of a KmipClient."""

    def __init__(self, service: Pkcs11Service, principal: str = "tester") -> None:
        self.service = service
        self.principal = principal

    def call(self, request: PKCS11Request) -> PKCS11Response:
        function = int(request.pkcs_11_function or 0)
        data = request.pkcs_11_input_parameters or b""
        reply = self.service.handle(self.principal, function, data, request.correlation_value)
        return PKCS11Response(
            pkcs_11_function=request.pkcs_11_function,
            correlation_value=reply.correlation_value,
            pkcs_11_output_parameters=reply.output,
            pkcs_11_return_code=PKCS11ReturnCode(reply.rv),
        )

    version = (2, 1)
    limits = DEFAULT_LIMITS

    def exchange(self, message: bytes) -> bytes:
        """Bytes in, bytes out, as a KmipClient: the library's own message path is exercised."""
        request = RequestMessage.decode(message)
        (item,) = request.batch_items
        assert isinstance(item.request_payload, PKCS11Request)
        return ResponseMessage(
            header=ResponseHeader(
                protocol_version=ProtocolVersion.of(self.version),
                time_stamp=datetime.now(UTC).replace(microsecond=0),
                batch_count=1,
            ),
            batch_items=[
                ResponseBatchItem(
                    operation=Operation.PKCS_11,
                    result_status=ResultStatus.SUCCESS,
                    response_payload=self.call(item.request_payload),
                )
            ],
        ).encode()

    def close(self) -> None:
        pass


UNUSED_CONFIG = ClientConfig(Path("unused.toml"), "127.0.0.1", 1, Path("ca"), Path("crt"), Path("key"))


class ServiceTransport:
    """The server's PKCS#11 service in this process, as the library's transport."""

    contexts = 0

    def __init__(self, service: Pkcs11Service, principal: str = "tester") -> None:
        self.service = service
        self.principal = principal
        self.correlation_value: bytes | None = None

    def initialize(self) -> None:
        reply = self.service.handle(self.principal, 1, b"\x01", None)
        if reply.rv != CKR.OK:
            raise CKRError(reply.rv)
        self.correlation_value = reply.correlation_value

    def finalize(self) -> None:
        self.service.handle(self.principal, 2, b"", self.correlation_value)

    def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
        reply = self.service.handle(self.principal, call.id, data, self.correlation_value)
        return Reply(reply.rv, reply.output, self.contexts)


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    return init_token(tmp_path_factory.mktemp("softhsm"))


@pytest.fixture(scope="module")
def service(token: Token) -> Iterator[Pkcs11Service]:
    service = Pkcs11Service(
        Pkcs11Settings(module=SOFTHSM_MODULE, environment={"SOFTHSM2_CONF": str(token.conf)})
    )
    yield service
    service.close()


@pytest.fixture(scope="module")
def ffi() -> Any:
    ffi = cffi.FFI()
    ffi.cdef(TYPES)
    return ffi


class Host:
    """An application calling the library's C functions with raw pointers."""

    def __init__(self, ffi: Any, library: Library) -> None:
        self.ffi = ffi
        self.dispatcher = embed.Dispatcher(ffi, library)
        self.kept: list[Any] = []  # what templates point to: it must outlive them

    def __call__(self, name: str, *args: Any) -> int:
        raw = [int(self.ffi.cast("uintptr_t", a)) if isinstance(a, self.ffi.CData) else a for a in args]
        return self.dispatcher.dispatch(BY_NAME[name].id, self.ffi.new("uintptr_t[]", raw or [0]), len(raw))

    def buffer(self, size: int) -> Any:
        return self.ffi.new("CK_BYTE[]", [SENTINEL] * size)

    def ulong(self, value: int = 0) -> Any:
        return self.ffi.new("CK_ULONG *", value)

    def template(self, *entries: tuple[int, Any, int]) -> Any:
        template = self.ffi.new("CK_ATTRIBUTE[]", len(entries))
        self.kept.extend(value for _, value, _ in entries if isinstance(value, self.ffi.CData))
        for entry, (type_, value, length) in zip(template, entries, strict=True):
            entry.type, entry.pValue, entry.ulValueLen = type_, value or self.ffi.NULL, length
        return template


@pytest.fixture
def host(ffi: Any, service: Pkcs11Service) -> Iterator[Host]:
    remote = Remote(UNUSED_CONFIG, client=ServiceClient(service))  # type: ignore[arg-type]
    host = Host(ffi, Library(default_info("0.1.0"), connect=lambda: remote))
    assert host("C_Initialize", 0) == CKR.OK
    yield host
    host("C_Finalize", 0)


@pytest.fixture
def session(host: Host, token: Token) -> int:
    count = host.ulong(2)
    slots = host.ffi.new("CK_SLOT_ID[2]")  # SoftHSM2: our token, then a free slot
    assert host("C_GetSlotList", 1, slots, count) == CKR.OK
    handle = host.ffi.new("CK_SESSION_HANDLE *")
    assert host("C_OpenSession", slots[0], CKF_SERIAL_RW, 0, 0, handle) == CKR.OK
    pin = host.ffi.new("CK_UTF8CHAR[]", token.pin.encode())
    assert host("C_Login", handle[0], CKU_USER, pin, len(token.pin)) == CKR.OK
    return int(handle[0])


def ec_key(host: Host, session: int) -> tuple[int, int]:
    ffi = host.ffi
    mechanism = ffi.new("CK_MECHANISM *", {"mechanism": CKM_EC_KEY_PAIR_GEN})
    params = ffi.new("CK_BYTE[]", P256)
    false, true = ffi.new("CK_BBOOL *", 0), ffi.new("CK_BBOOL *", 1)
    public = host.template((CKA_EC_PARAMS, params, len(P256)), (CKA_TOKEN, false, 1))
    private = host.template((CKA_TOKEN, false, 1), (CKA_SENSITIVE, true, 1))
    handles = ffi.new("CK_OBJECT_HANDLE[2]")
    rv = host("C_GenerateKeyPair", session, mechanism, public, 2, private, 2, handles, handles + 1)
    assert rv == CKR.OK
    return int(handles[0]), int(handles[1])


def test_slot_list_length_convention(host: Host) -> None:
    count = host.ulong(0)
    assert host("C_GetSlotList", 0, 0, count) == CKR.OK
    assert count[0] == 2
    slots = host.ffi.new("CK_SLOT_ID[3]", [7, 7, 7])
    count[0] = 1
    assert host("C_GetSlotList", 0, slots, count) == CKR.BUFFER_TOO_SMALL
    assert count[0] == 2 and list(slots) == [7, 7, 7]
    count[0] = 3
    assert host("C_GetSlotList", 0, slots, count) == CKR.OK
    assert count[0] == 2 and slots[2] == 7 and slots[0] != 7


def test_signature_length_convention(host: Host, session: int) -> None:
    _, private = ec_key(host, session)
    ffi = host.ffi
    assert host("C_SignInit", session, ffi.new("CK_MECHANISM *", {"mechanism": CKM_ECDSA}), private) == CKR.OK
    digest = ffi.new("CK_BYTE[32]")
    length = host.ulong(0)
    assert host("C_Sign", session, digest, 32, 0, length) == CKR.OK
    assert length[0] == 64
    small = host.buffer(80)
    length[0] = 10
    assert host("C_Sign", session, digest, 32, small, length) == CKR.BUFFER_TOO_SMALL
    assert length[0] == 64 and bytes(small) == bytes([SENTINEL]) * 80
    length[0] = 70
    assert host("C_Sign", session, digest, 32, small, length) == CKR.OK
    assert length[0] == 64 and bytes(small[64:80]) == bytes([SENTINEL]) * 16
    assert host("C_Sign", session, digest, 32, small, 0) == CKR.ARGUMENTS_BAD


def test_partial_attribute_values(host: Host, session: int) -> None:
    _, private = ec_key(host, session)
    ffi = host.ffi
    value, klass, params = host.buffer(64), host.buffer(16), host.buffer(4)
    template = host.template(
        (CKA_VALUE, value, 64),  # sensitive
        (CKA_CLASS, klass, 16),
        (CKA_LABEL, 0, 99),  # a length query
        (CKA_EC_PARAMS, params, 4),  # too small
        (0x7FFFFFF0, klass, 16),  # no such attribute
    )
    rv = host("C_GetAttributeValue", session, private, template, 5)
    assert rv in (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID, CKR.BUFFER_TOO_SMALL)
    lengths = [int(template[i].ulValueLen) for i in range(5)]
    assert lengths == [UNAVAILABLE, ffi.sizeof("CK_ULONG"), 0, UNAVAILABLE, UNAVAILABLE]
    assert ffi.cast("CK_ULONG *", klass)[0] == CKO_PRIVATE_KEY
    assert bytes(klass[8:16]) == bytes([SENTINEL]) * 8
    assert bytes(value) == bytes([SENTINEL]) * 64 and bytes(params) == bytes([SENTINEL]) * 4


def test_find_objects_writes_at_most_the_maximum(host: Host, session: int) -> None:
    ec_key(host, session)
    ffi = host.ffi
    assert host("C_FindObjectsInit", session, 0, 0) == CKR.OK
    found = ffi.new("CK_OBJECT_HANDLE[3]", [7, 7, 7])
    count = host.ulong(99)
    assert host("C_FindObjects", session, found, 1, count) == CKR.OK
    assert count[0] == 1 and found[0] != 7 and list(found[1:3]) == [7, 7]
    assert host("C_FindObjects", session, 0, 1, count) == CKR.ARGUMENTS_BAD
    assert host("C_FindObjectsFinal", session) == CKR.OK


def test_random_bytes_fill_exactly_the_buffer(host: Host, session: int) -> None:
    buffer = host.buffer(40)
    assert host("C_GenerateRandom", session, buffer, 32) == CKR.OK
    assert bytes(buffer[32:40]) == bytes([SENTINEL]) * 8 and bytes(buffer[0:32]) != bytes([SENTINEL]) * 32
    assert host("C_GenerateRandom", session, 0, 32) == CKR.ARGUMENTS_BAD


def test_null_pointers_are_arguments_bad(host: Host, session: int) -> None:
    info = host.ffi.new("CK_SESSION_INFO *")
    assert host("C_GetSessionInfo", session, 0) == CKR.ARGUMENTS_BAD
    assert host("C_GetSessionInfo", session, info) == CKR.OK and info.state == 3
    assert host("C_OpenSession", 1, CKF_SERIAL_RW, 0, 0, 0) == CKR.ARGUMENTS_BAD
    assert host("C_Login", session, CKU_USER, 0, 4) == CKR.ARGUMENTS_BAD
    assert host("C_GetAttributeValue", session, 1, 0, 1) == CKR.ARGUMENTS_BAD
    assert host("C_FindObjectsInit", session, 0, 2) == CKR.ARGUMENTS_BAD
    assert host("C_SignInit", session, 0, 1) == CKR.ARGUMENTS_BAD
    assert host("C_GetTokenInfo", 1, 0) == CKR.ARGUMENTS_BAD


def test_sessions_end_with_c_finalize(host: Host, session: int, service: Pkcs11Service) -> None:
    before = service.context_count
    assert host("C_Finalize", 0) == CKR.OK
    assert service.context_count == before - 1
    assert (
        host("C_GetSessionInfo", session, host.ffi.new("CK_SESSION_INFO *")) == CKR.CRYPTOKI_NOT_INITIALIZED
    )
    assert host("C_Initialize", 0) == CKR.OK
    assert host("C_GetSessionInfo", session, host.ffi.new("CK_SESSION_INFO *")) == CKR.SESSION_HANDLE_INVALID


def test_a_lost_context_is_opened_again(host: Host, session: int, service: Pkcs11Service) -> None:
    """The server forgot us (restart, idle timeout): the next call opens a new context
    and runs there; the old sessions are gone, as after a token removal."""
    remote = host.dispatcher.library._transport
    assert isinstance(remote, Remote)
    service.finalize("tester", remote._context[1])
    info = host.ffi.new("CK_SESSION_INFO *")
    assert host("C_GetSessionInfo", session, info) == CKR.SESSION_HANDLE_INVALID
    count = host.ulong()
    assert host("C_GetSlotList", 1, 0, count) == CKR.OK and count[0] == 2


def test_a_session_of_a_lost_context_never_names_a_new_one(
    host: Host, session: int, service: Pkcs11Service
) -> None:
    """The context in place of a lost one numbers its sessions anew (a new module worker):
    a thread still holding a lost session must not reach another thread's new session
    of the same number (tests/provider/test_failover.py met CKR_OPERATION_ACTIVE so)."""
    library = host.dispatcher.library
    remote = library._transport
    assert isinstance(remote, Remote)
    lost = library._sessions.get(session)
    assert lost is not None
    service.finalize("tester", remote._context[1])
    handle = host.ffi.new("CK_SESSION_HANDLE *")
    assert host("C_OpenSession", token_slot(host), CKF_SERIAL_RW, 0, 0, handle) == CKR.OK
    fresh = int(handle[0])
    opened = library._sessions.get(fresh)
    assert opened is not None and opened.handle == lost.handle  # the server's numbers collide...
    assert fresh != session  # ...the application's do not
    sha256 = host.ffi.new("CK_MECHANISM *", {"mechanism": CKM_SHA256})
    assert host("C_DigestInit", fresh, sha256) == CKR.OK
    assert host("C_DigestInit", session, sha256) == CKR.SESSION_HANDLE_INVALID
    data, digest, length = host.ffi.new("CK_BYTE[]", b"abc"), host.buffer(32), host.ulong(32)
    assert host("C_Digest", fresh, data, 3, digest, length) == CKR.OK
    assert bytes(digest) == hashlib.sha256(b"abc").digest()


def test_a_call_in_a_lost_session_is_not_repeated_in_the_new_context(
    counted: tuple[Host, CountingClient, int], service: Pkcs11Service
) -> None:
    host, client, session = counted
    remote = host.dispatcher.library._transport
    assert isinstance(remote, Remote)
    service.finalize("tester", remote._context[1])
    sent = len(client.sent)
    assert host("C_GetSessionInfo", session, host.ffi.new("CK_SESSION_INFO *")) == CKR.SESSION_HANDLE_INVALID
    assert client.sent[sent:] == ["C_GetSessionInfo", "C_Initialize"]  # not sent to the new context
    assert host("C_CloseSession", session) == CKR.SESSION_HANDLE_INVALID and client.sent[sent + 2 :] == []


class LyingTransport(ServiceTransport):
    """A server that answers more than the caller asked for."""

    def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
        if call.name == "C_GenerateRandom":
            return Reply(CKR.OK, wire.encode_outputs(call, {"RandomData": OutData(64, bytes(64))}), 0)
        if call.name == "C_GetSlotList":
            return Reply(CKR.OK, wire.encode_outputs(call, {"pSlotList": OutData(3, (1, 2, 3))}), 0)
        return super().call(call, data, context)


def test_an_answer_that_does_not_fit_is_never_written(ffi: Any, service: Pkcs11Service, host: Host) -> None:
    slot = token_slot(host)  # asked by an honest host: the lying one answers three slots
    host = Host(ffi, Library(default_info("0.1.0"), connect=lambda: LyingTransport(service)))
    assert host("C_Initialize", 0) == CKR.OK
    session = host.ffi.new("CK_SESSION_HANDLE *")
    assert host("C_OpenSession", slot, CKF_SERIAL_RW, 0, 0, session) == CKR.OK
    buffer = host.buffer(40)
    assert host("C_GenerateRandom", session[0], buffer, 32) == CKR.DEVICE_ERROR
    assert bytes(buffer) == bytes([SENTINEL]) * 40
    slots, count = ffi.new("CK_SLOT_ID[2]", [7, 7]), host.ulong(2)
    assert host("C_GetSlotList", 0, slots, count) == CKR.DEVICE_ERROR
    assert list(slots) == [7, 7] and count[0] == 2
    assert host("C_Finalize", 0) == CKR.OK


def test_unreadable_outputs_are_a_device_error(ffi: Any, service: Pkcs11Service, tmp_path: Path) -> None:
    class Garbled(ServiceTransport):
        def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
            return Reply(CKR.OK, b"\x07", 0)

    host = Host(ffi, Library(default_info("0.1.0"), connect=lambda: Garbled(service)))
    assert host("C_Initialize", 0) == CKR.OK
    assert host("C_GetInfo", ffi.new("CK_INFO *")) == CKR.DEVICE_ERROR
    assert host("C_Finalize", 0) == CKR.OK


# --- local answers (pkcs11_kmip/cryptoki/local.py; docs/pkcs11-forwarding.md) -------------

CKA_KEY_TYPE, CKA_PRIVATE = 0x100, 0x2
CKK_EC = 3


class CountingClient(ServiceClient):
    """Counts the calls that reach the server, by function name."""

    def __init__(self, service: Pkcs11Service) -> None:
        super().__init__(service)
        self.sent: list[str] = []

    def call(self, request: PKCS11Request) -> PKCS11Response:
        self.sent.append(BY_ID[int(request.pkcs_11_function or 0)].name)
        return super().call(request)


@pytest.fixture
def counted(ffi: Any, service: Pkcs11Service, token: Token) -> Iterator[tuple[Host, CountingClient, int]]:
    """A host whose forwarded calls are counted, with a logged-in session."""
    client = CountingClient(service)
    remote = Remote(UNUSED_CONFIG, client=client)  # type: ignore[arg-type]
    host = Host(ffi, Library(default_info("0.1.0"), connect=lambda: remote))
    assert host("C_Initialize", 0) == CKR.OK
    yield host, client, open_session(host, token)
    host("C_Finalize", 0)


def token_slot(host: Host) -> int:
    count, slots = host.ulong(2), host.ffi.new("CK_SLOT_ID[2]")
    assert host("C_GetSlotList", 1, slots, count) == CKR.OK
    return int(slots[0])


def open_session(host: Host, token: Token, login: bool = True) -> int:
    handle = host.ffi.new("CK_SESSION_HANDLE *")
    assert host("C_OpenSession", token_slot(host), CKF_SERIAL_RW, 0, 0, handle) == CKR.OK
    if login:
        pin = host.ffi.new("CK_UTF8CHAR[]", token.pin.encode())
        assert host("C_Login", handle[0], CKU_USER, pin, len(token.pin)) == CKR.OK
    return int(handle[0])


def read_class_and_type(host: Host, session: int, handle: int) -> tuple[int, list[int], list[int]]:
    ffi = host.ffi
    klass, key_type = host.buffer(8), host.buffer(8)
    template = host.template((CKA_CLASS, klass, 8), (CKA_KEY_TYPE, key_type, 8))
    rv = host("C_GetAttributeValue", session, handle, template, 2)
    values = [int(ffi.cast("CK_ULONG *", klass)[0]), int(ffi.cast("CK_ULONG *", key_type)[0])]
    return rv, values, [int(template[i].ulValueLen) for i in range(2)]


def test_immutable_attributes_are_answered_locally(counted: tuple[Host, CountingClient, int]) -> None:
    host, client, session = counted
    _, private = ec_key(host, session)
    assert read_class_and_type(host, session, private)[:2] == (CKR.OK, [CKO_PRIVATE_KEY, CKK_EC])
    sent = len(client.sent)
    assert read_class_and_type(host, session, private) == (CKR.OK, [CKO_PRIVATE_KEY, CKK_EC], [8, 8])
    query = host.template((CKA_CLASS, 0, 0))  # a length query
    assert host("C_GetAttributeValue", session, private, query, 1) == CKR.OK and query[0].ulValueLen == 8
    small = host.buffer(4)
    query = host.template((CKA_CLASS, small, 4))
    assert host("C_GetAttributeValue", session, private, query, 1) == CKR.BUFFER_TOO_SMALL
    assert query[0].ulValueLen == UNAVAILABLE and bytes(small) == bytes([SENTINEL]) * 4
    assert len(client.sent) == sent  # none of these reached the server
    label = host.template((CKA_CLASS, host.buffer(8), 8), (CKA_LABEL, 0, 0))
    assert host("C_GetAttributeValue", session, private, label, 2) == CKR.OK
    assert client.sent[sent:] == ["C_GetAttributeValue"]  # a mutable attribute: asked


def test_a_destroyed_object_is_not_answered_from_the_cache(counted: tuple[Host, CountingClient, int]) -> None:
    host, _, session = counted
    _, private = ec_key(host, session)
    assert read_class_and_type(host, session, private)[0] == CKR.OK
    assert host("C_DestroyObject", session, private) == CKR.OK
    assert read_class_and_type(host, session, private)[0] == CKR.OBJECT_HANDLE_INVALID


def test_closing_the_owning_session_drops_its_objects(
    counted: tuple[Host, CountingClient, int], token: Token
) -> None:
    host, _, session = counted
    other = open_session(host, token, login=False)
    _, private = ec_key(host, other)  # a session object of the other session
    assert read_class_and_type(host, session, private)[0] == CKR.OK
    assert host("C_CloseSession", other) == CKR.OK
    assert read_class_and_type(host, session, private)[0] == CKR.OBJECT_HANDLE_INVALID
    # and a closed session is never answered locally
    _, kept = ec_key(host, session)
    assert read_class_and_type(host, session, kept)[0] == CKR.OK
    assert host("C_CloseSession", session) == CKR.OK
    assert read_class_and_type(host, session, kept)[0] == CKR.SESSION_HANDLE_INVALID


def test_after_logout_private_objects_are_asked_again(counted: tuple[Host, CountingClient, int]) -> None:
    host, client, session = counted
    flag = host.ffi.new("CK_BBOOL *", 1)
    public, private = ec_key(host, session)
    attribute = host.template((CKA_PRIVATE, flag, 1))
    assert host("C_GetAttributeValue", session, private, attribute, 1) == CKR.OK and flag[0] == 1
    assert read_class_and_type(host, session, private)[0] == CKR.OK
    assert host("C_Logout", session) == CKR.OK
    sent = len(client.sent)
    rv = read_class_and_type(host, session, private)[0]
    assert client.sent[sent:] == ["C_GetAttributeValue"] and rv != CKR.OK  # hidden now, as the module says
    assert read_class_and_type(host, session, public)[0] == CKR.OK


def test_mechanisms_are_asked_once_per_context(
    counted: tuple[Host, CountingClient, int], token: Token
) -> None:
    host, client, _ = counted
    ffi = host.ffi
    slot = token_slot(host)
    count = host.ulong(0)
    assert host("C_GetMechanismList", slot, 0, count) == CKR.OK
    total = int(count[0])
    first = ffi.new("CK_MECHANISM_TYPE[]", total)
    assert host("C_GetMechanismList", slot, first, count) == CKR.OK
    info = ffi.new("CK_MECHANISM_INFO *")
    assert host("C_GetMechanismInfo", slot, CKM_ECDSA, info) == CKR.OK
    sent = len(client.sent)
    again, small = ffi.new("CK_MECHANISM_TYPE[]", total), ffi.new("CK_MECHANISM_TYPE[]", [7, 7])
    count[0] = 0
    assert host("C_GetMechanismList", slot, 0, count) == CKR.OK and count[0] == total
    count[0] = 1
    assert host("C_GetMechanismList", slot, small, count) == CKR.BUFFER_TOO_SMALL
    assert count[0] == total and list(small) == [7, 7]
    count[0] = total
    assert host("C_GetMechanismList", slot, again, count) == CKR.OK and list(again) == list(first)
    cached = ffi.new("CK_MECHANISM_INFO *")
    assert host("C_GetMechanismInfo", slot, CKM_ECDSA, cached) == CKR.OK
    assert (cached.ulMinKeySize, cached.ulMaxKeySize, cached.flags) == (
        info.ulMinKeySize,
        info.ulMaxKeySize,
        info.flags,
    )
    assert len(client.sent) == sent
    assert host("C_Finalize", 0) == CKR.OK and host("C_Initialize", 0) == CKR.OK
    assert host("C_GetMechanismInfo", slot, CKM_ECDSA, cached) == CKR.OK
    assert client.sent[-1] == "C_GetMechanismInfo"  # a new context asks again


def test_threads_with_separate_sessions(counted: tuple[Host, CountingClient, int], token: Token) -> None:
    """Each thread makes, reads and destroys its own keys: every read is its own key's,
    and no destroyed key is ever answered."""
    host, _, _ = counted
    failures: list[str] = []

    def work() -> None:
        session = open_session(host, token, login=False)
        for _ in range(5):
            _, private = ec_key(host, session)
            for _ in range(3):
                if read_class_and_type(host, session, private)[:2] != (CKR.OK, [CKO_PRIVATE_KEY, CKK_EC]):
                    failures.append("read")
            host("C_DestroyObject", session, private)
            if read_class_and_type(host, session, private)[0] != CKR.OBJECT_HANDLE_INVALID:
                failures.append("destroyed key answered")
        host("C_CloseSession", session)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# --- single-part length queries (pkcs11_kmip/cryptoki/single_part.py) ---------------------

CKM_SHA256 = 0x250


def sign(host: Host, session: int, private: int, data: bytes) -> tuple[int, bytes]:
    """C_SignInit, C_Sign(NULL) for the length, C_Sign: as python-pkcs11 signs."""
    ffi = host.ffi
    assert host("C_SignInit", session, ffi.new("CK_MECHANISM *", {"mechanism": CKM_ECDSA}), private) == CKR.OK
    message, length = ffi.new("CK_BYTE[]", data), host.ulong(0)
    assert host("C_Sign", session, message, len(data), 0, length) == CKR.OK
    signature = host.buffer(int(length[0]))
    rv = host("C_Sign", session, message, len(data), signature, length)
    return rv, bytes(signature[0 : int(length[0])])


def verifies(host: Host, session: int, public: int, data: bytes, signature: bytes) -> bool:
    ffi = host.ffi
    assert (
        host("C_VerifyInit", session, ffi.new("CK_MECHANISM *", {"mechanism": CKM_ECDSA}), public) == CKR.OK
    )
    message, value = ffi.new("CK_BYTE[]", data), ffi.new("CK_BYTE[]", signature)
    return host("C_Verify", session, message, len(data), value, len(signature)) == CKR.OK


def test_a_length_query_and_its_call_are_one_round_trip(counted: tuple[Host, CountingClient, int]) -> None:
    host, client, session = counted
    public, private = ec_key(host, session)
    sent = len(client.sent)
    rv, signature = sign(host, session, private, bytes(32))
    assert rv == CKR.OK and len(signature) == 64
    assert client.sent[sent:] == ["C_SignInit", "C_Sign"]
    assert verifies(host, session, public, bytes(32), signature)


def test_a_length_query_followed_by_another_call(counted: tuple[Host, CountingClient, int]) -> None:
    """The module is put back where the application believes it is: a new Init meets
    the active operation, and a C_Sign of other data signs that data."""
    host, _, session = counted
    public, private = ec_key(host, session)
    ffi = host.ffi
    mechanism = ffi.new("CK_MECHANISM *", {"mechanism": CKM_ECDSA})
    assert host("C_SignInit", session, mechanism, private) == CKR.OK
    first, length = ffi.new("CK_BYTE[]", bytes(32)), host.ulong(0)
    assert host("C_Sign", session, first, 32, 0, length) == CKR.OK and length[0] == 64
    assert host("C_SignInit", session, mechanism, private) == CKR.OPERATION_ACTIVE
    other, signature = ffi.new("CK_BYTE[]", b"\x01" * 32), host.buffer(64)
    assert host("C_Sign", session, other, 32, signature, length) == CKR.OK
    assert verifies(host, session, public, b"\x01" * 32, bytes(signature))
    assert host("C_Sign", session, other, 32, signature, length) == CKR.OPERATION_NOT_INITIALIZED


def test_digest_length_query(counted: tuple[Host, CountingClient, int]) -> None:
    host, client, session = counted
    ffi = host.ffi
    assert host("C_DigestInit", session, ffi.new("CK_MECHANISM *", {"mechanism": CKM_SHA256})) == CKR.OK
    data, length = ffi.new("CK_BYTE[]", b"abc"), host.ulong(0)
    assert host("C_Digest", session, data, 3, 0, length) == CKR.OK and length[0] == 32
    small = host.buffer(16)
    length[0] = 16
    assert host("C_Digest", session, data, 3, small, length) == CKR.BUFFER_TOO_SMALL and length[0] == 32
    digest = host.buffer(40)
    length[0] = 40
    sent = len(client.sent)
    assert host("C_Digest", session, data, 3, digest, length) == CKR.OK and length[0] == 32
    assert (
        bytes(digest[0:32]) == hashlib.sha256(b"abc").digest()
        and bytes(digest[32:40]) == bytes([SENTINEL]) * 8
    )
    assert client.sent[sent:] == [] and bytes(small) == bytes([SENTINEL]) * 16


def test_a_failing_call_answers_where_the_module_would(counted: tuple[Host, CountingClient, int]) -> None:
    """The real call fails (no operation was started): the length query itself is
    forwarded, and its own answer is the module's."""
    host, _, session = counted
    data, length = host.ffi.new("CK_BYTE[]", bytes(32)), host.ulong(0)
    assert host("C_Sign", session, data, 32, 0, length) == CKR.OPERATION_NOT_INITIALIZED


def test_threads_sign_in_their_own_sessions(counted: tuple[Host, CountingClient, int], token: Token) -> None:
    host, _, _ = counted
    failures: list[str] = []

    def work(index: int) -> None:
        session = open_session(host, token, login=False)
        public, private = ec_key(host, session)
        for round_ in range(5):
            data = bytes([index, round_]) * 16
            rv, signature = sign(host, session, private, data)
            if rv != CKR.OK or not verifies(host, session, public, data, signature):
                failures.append(f"thread {index} round {round_}")
        host("C_CloseSession", session)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_find_objects_reads_ahead(counted: tuple[Host, CountingClient, int]) -> None:
    """One C_FindObjects reaches the server however the application pages; the search
    stays the module's (a second Init meets it, Final ends it)."""
    host, client, session = counted
    ffi = host.ffi
    made = {ec_key(host, session)[1] for _ in range(3)}
    klass = ffi.new("CK_ULONG *", CKO_PRIVATE_KEY)
    template = host.template((CKA_CLASS, klass, ffi.sizeof("CK_ULONG")))
    assert host("C_FindObjectsInit", session, template, 1) == CKR.OK
    assert host("C_FindObjectsInit", session, template, 1) == CKR.OPERATION_ACTIVE
    sent = len(client.sent)
    found, count, seen = ffi.new("CK_OBJECT_HANDLE[2]", [7, 7]), host.ulong(), set()
    while True:
        assert host("C_FindObjects", session, found, 1, count) == CKR.OK
        if count[0] == 0:
            break
        assert found[1] == 7
        seen.add(int(found[0]))
    assert made <= seen and client.sent[sent:] == ["C_FindObjects"]
    assert host("C_FindObjectsFinal", session) == CKR.OK
    assert host("C_FindObjects", session, found, 1, count) == CKR.OPERATION_NOT_INITIALIZED


class RacingClient(CountingClient):
    """Before the first call named `racing` reaches the server, another thread's call finds the
    context lost and opens a new one: the call then goes out with the old Correlation Value."""

    def __init__(self, service: Pkcs11Service, racing: str) -> None:
        super().__init__(service)
        self.racing = racing
        self.remote: Remote | None = None

    def call(self, request: PKCS11Request) -> PKCS11Response:
        if self.remote is not None and BY_ID[int(request.pkcs_11_function or 0)].name == self.racing:
            remote, self.remote = self.remote, None
            self.service.finalize("tester", remote._context[1])  # the server lost the context
            remote._open_context()  # as Remote.call does for the other thread, under its lock
        return super().call(request)


def test_a_context_remade_while_a_session_call_is_sent_is_not_used_for_it(
    ffi: Any, service: Pkcs11Service, token: Token
) -> None:
    """A call that read the context just before another thread remade it: the server refuses
    the old Correlation Value, and the call neither opens a third context nor is repeated in
    the new one, where its session handle would name another session."""
    client = RacingClient(service, "C_GetSessionInfo")
    remote = Remote(UNUSED_CONFIG, client=client)  # type: ignore[arg-type]
    host = Host(ffi, Library(default_info("0.1.0"), connect=lambda: remote))
    assert host("C_Initialize", 0) == CKR.OK
    try:
        session = open_session(host, token)
        contexts, sent = remote.contexts, len(client.sent)
        client.remote = remote
        info = host.ffi.new("CK_SESSION_INFO *")
        assert host("C_GetSessionInfo", session, info) == CKR.SESSION_HANDLE_INVALID
        assert client.sent[sent:] == ["C_Initialize", "C_GetSessionInfo"]  # the other thread's, then ours
        assert remote.contexts == contexts + 1
        assert open_session(host, token) != session  # the new context serves new sessions
    finally:
        host("C_Finalize", 0)
