"""The message parameters of the PKCS#11 3.0 message-based functions (docs/wire-format.md,
rule 10): golden vectors spelled out byte for byte, and the library's side of them (what
it reads from the caller's structure, what it writes back and when), driven through the
cffi edge with a scripted server.
"""

from __future__ import annotations

from typing import Any

import cffi
import pytest

from pkcs11_kmip.cryptoki import embed, wire
from pkcs11_kmip.cryptoki.calls import BY_NAME, Call
from pkcs11_kmip.cryptoki.cdefs import TYPES
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.module import Library, default_info
from pkcs11_kmip.cryptoki.remote import Reply
from pkcs11_kmip.cryptoki.wire import MessageParameter, OutData, OutRequest, WireError

CKM_AES_GCM, CKM_AES_CCM, CKM_CHACHA20_POLY1305, CKM_ECDSA = 0x1087, 0x1088, 0x4021, 0x1041
CKG_NO_GENERATE, CKG_GENERATE_RANDOM = 0, 3


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


GCM = {"pIv": bytes(12), "ulIvFixedBits": 0, "ivGenerator": 3, "pTag": bytes(16), "ulTagBits": 128}


# --- golden vectors ---------------------------------------------------------------------------


def test_c_encrypt_message_with_gcm() -> None:
    """present · mechanism · length · CK_GCM_MESSAGE_PARAMS (pIv, ulIvFixedBits, ivGenerator,
    pTag as data, ulTagBits), then the AAD, the plaintext and the ciphertext buffer."""
    values = {
        "hSession": 1,
        "pParameter": MessageParameter(CKM_AES_GCM, GCM),
        "pAssociatedData": b"aad",
        "pPlaintext": b"hello",
        "pCiphertext": OutRequest(True, 5),
    }
    encoded = h(
        "0000000000000001"
        "01 0000000000001087 0000003e"
        "   01 0000000c 000000000000000000000000  0000000000000000  0000000000000003"
        "   01 00000010 00000000000000000000000000000000  0000000000000080"
        "01 00000003 616164  01 00000005 68656c6c6f  01 00000005"
    )
    assert wire.encode_inputs("C_EncryptMessage", values) == encoded
    assert wire.decode_inputs("C_EncryptMessage", encoded) == values


def test_c_encrypt_message_answers_the_iv_and_tag() -> None:
    """The answer carries the structure's buffers only (pIv, pTag), then the ciphertext."""
    outputs = {
        "pParameter": MessageParameter(CKM_AES_GCM, {"pIv": bytes(range(12)), "pTag": bytes(range(16))}),
        "pCiphertext": OutData(5, b"abcde"),
    }
    encoded = h(
        "01 0000000000001087 00000026"
        "   01 0000000c 000102030405060708090a0b  01 00000010 000102030405060708090a0b0c0d0e0f"
        "01 00000005 6162636465"
    )
    assert wire.encode_outputs("C_EncryptMessage", outputs) == encoded
    assert wire.decode_outputs("C_EncryptMessage", encoded) == outputs
    # A length query: no structure to answer, the needed length.
    query = {"pParameter": None, "pCiphertext": OutData(5)}
    assert wire.encode_outputs("C_EncryptMessage", query) == h("00 00 00000005")


def test_ccm_and_chacha20_poly1305_layouts() -> None:
    ccm = {
        "ulDataLen": 4,
        "pNonce": h("0102030405060708"),
        "ulNonceFixedBits": 0,
        "nonceGenerator": 0,
        "pMAC": h("aabbccdd"),
        "ulMACLen": 4,
    }
    values = {
        "hSession": 2,
        "pParameter": MessageParameter(CKM_AES_CCM, ccm),
        "pAssociatedData": None,
        "pCiphertext": b"\x99" * 4,
        "pPlaintext": OutRequest(False, 0),
    }
    encoded = wire.encode_inputs("C_DecryptMessage", values)
    assert encoded == h(
        "0000000000000002"
        "01 0000000000001088 00000036"
        "   0000000000000004  01 00000008 0102030405060708  0000000000000000  0000000000000000"
        "   01 00000004 aabbccdd  0000000000000004"
        "00  01 00000004 99999999  00 00000000"
    )
    assert wire.decode_inputs("C_DecryptMessage", encoded) == values
    chacha = MessageParameter(CKM_CHACHA20_POLY1305, {"pNonce": bytes(12), "pTag": bytes(range(16))})
    begin = wire.encode_inputs(
        "C_DecryptMessageBegin", {"hSession": 3, "pParameter": chacha, "pAssociatedData": b""}
    )
    assert begin == h(
        "0000000000000003 01 0000000000004021 00000026"
        "   01 0000000c 000000000000000000000000  01 00000010 000102030405060708090a0b0c0d0e0f"
        "01 00000000"
    )


def test_signatures_take_no_parameter_and_unknown_layouts_travel_raw() -> None:
    values = {"hSession": 1, "pParameter": None, "pData": b"m", "pSignature": OutRequest(True, 64)}
    assert wire.encode_inputs("C_SignMessage", values) == h("0000000000000001 00 01 00000001 6d 01 00000040")
    raw = {"hSession": 1, "pParameter": MessageParameter(CKM_ECDSA, b"\x01\x02")}
    encoded = wire.encode_inputs("C_SignMessageBegin", raw)
    assert encoded == h("0000000000000001 01 0000000000001041 00000002 0102")
    assert wire.decode_inputs("C_SignMessageBegin", encoded) == raw
    # No operation known to the library: CK_UNAVAILABLE_INFORMATION as the mechanism.
    unknown = {"hSession": 1, "pParameter": MessageParameter(wire.NO_OPERATION, b"")}
    assert wire.encode_inputs("C_VerifyMessageBegin", unknown) == h(
        "0000000000000001 01 ffffffffffffffff 00000000"
    )


def test_sign_message_next_may_ask_no_signature() -> None:
    """C_SignMessageNext with a NULL pulSignatureLen (not the last part): `00`, answered `00`;
    with one, the out-request and answer of rule 3 behind a `01`."""
    middle = {"hSession": 1, "pParameter": None, "pData": b"m", "pSignature": None}
    assert wire.encode_inputs("C_SignMessageNext", middle) == h("0000000000000001 00 01 00000001 6d 00")
    assert wire.decode_inputs("C_SignMessageNext", h("0000000000000001 00 01 00000001 6d 00")) == middle
    assert wire.encode_outputs("C_SignMessageNext", {"pSignature": None}) == h("00")
    last = dict(middle, pSignature=OutRequest(False, 0))
    assert wire.encode_inputs("C_SignMessageNext", last).endswith(h("01 00 00000000"))
    answer = {"pSignature": OutData(2, b"sg")}
    assert wire.encode_outputs("C_SignMessageNext", answer) == h("01 01 00000002 7367")
    assert wire.decode_outputs("C_SignMessageNext", h("01 01 00000002 7367")) == answer
    assert wire.carries_outputs("C_SignMessageNext", CKR.BUFFER_TOO_SMALL)


def test_malformed_message_parameters_are_wire_errors() -> None:
    short_tag = dict(GCM, pTag=bytes(12))  # ulTagBits says 16 bytes
    with pytest.raises(WireError, match="not as long"):
        wire.encode_inputs(
            "C_EncryptMessageBegin",
            {"hSession": 1, "pParameter": MessageParameter(CKM_AES_GCM, short_tag), "pAssociatedData": None},
        )
    with pytest.raises(WireError, match="takes a"):
        wire.encode_inputs(
            "C_SignMessageBegin", {"hSession": 1, "pParameter": MessageParameter(CKM_AES_GCM, b"raw")}
        )
    with pytest.raises(WireError, match="not as long"):
        wire.decode_inputs(
            "C_DecryptMessageBegin",
            h(
                "0000000000000001 01 0000000000001087 0000003a"
                "01 0000000c 000000000000000000000000 0000000000000000 0000000000000000"
                "01 0000000c 000000000000000000000000 0000000000000080 00"
            ),
        )
    with pytest.raises(WireError, match="no message parameter structure"):
        wire.decode_outputs("C_EncryptMessageBegin", h("01 0000000000001041 00000000"))
    with pytest.raises(WireError, match="truncated"):
        wire.decode_inputs("C_SignMessageBegin", h("0000000000000001 01 0000000000001087 00000010 01"))


# --- the library: reading the caller's structure, writing back -------------------------------


class Scripted:
    """A server that answers the message functions from a script, and records what it got."""

    contexts = 0

    def __init__(self, answers: dict[str, tuple[int, dict[str, Any] | None]]) -> None:
        self.answers = answers  # the test may change them as it goes
        answers.setdefault("C_OpenSession", (CKR.OK, {"phSession": 1}))
        self.got: dict[str, dict[str, wire.Value]] = {}

    def initialize(self) -> None:
        pass

    def finalize(self) -> None:
        pass

    def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
        self.got[call.name] = wire.decode_inputs(call, data)
        rv, outputs = self.answers.get(call.name, (CKR.OK, None))
        return Reply(rv, None if outputs is None else wire.encode_outputs(call, outputs), self.contexts)


@pytest.fixture
def ffi() -> Any:
    ffi = cffi.FFI()
    ffi.cdef(TYPES)
    return ffi


class App:
    """The cffi edge with a scripted server, and a caller's CK_GCM_MESSAGE_PARAMS."""

    def __init__(self, ffi: Any, server: Scripted) -> None:
        self.ffi, self.server = ffi, server
        self.dispatcher = embed.Dispatcher(ffi, Library(default_info("1.0"), connect=lambda: server))
        assert self("C_Initialize", 0) == CKR.OK
        handle = ffi.new("CK_SESSION_HANDLE *")
        assert self("C_OpenSession", 0, 6, 0, 0, handle) == CKR.OK and handle[0] == 1  # used below
        self.iv, self.tag = ffi.new("CK_BYTE[12]", [7] * 12), ffi.new("CK_BYTE[16]", [7] * 16)
        self.data = ffi.new("CK_BYTE[4]", list(b"data"))
        self.parameter = ffi.new(
            "CK_GCM_MESSAGE_PARAMS *",
            {
                "pIv": self.iv,
                "ulIvLen": 12,
                "ivGenerator": CKG_GENERATE_RANDOM,
                "pTag": self.tag,
                "ulTagBits": 128,
            },
        )

    def __call__(self, name: str, *args: Any) -> int:
        raw = [int(self.ffi.cast("uintptr_t", a)) if isinstance(a, self.ffi.CData) else a for a in args]
        return self.dispatcher.dispatch(BY_NAME[name].id, self.ffi.new("uintptr_t[]", raw or [0]), len(raw))

    def init(self) -> int:
        mechanism = self.ffi.new("CK_MECHANISM *", {"mechanism": CKM_AES_GCM})
        return self("C_MessageEncryptInit", 1, mechanism, 5)

    def encrypt(self, buffer: Any, length: Any) -> int:
        size = self.ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
        return self("C_EncryptMessage", 1, self.parameter, size, 0, 0, self.data, 4, buffer, length)


ANSWER = MessageParameter(CKM_AES_GCM, {"pIv": bytes(range(12)), "pTag": bytes(range(16))})


def test_the_parameter_is_read_by_the_operations_mechanism(ffi: Any) -> None:
    server = Scripted(
        {"C_EncryptMessage": (CKR.OK, {"pParameter": ANSWER, "pCiphertext": OutData(4, b"ciph")})}
    )
    app = App(ffi, server)
    out, length = ffi.new("CK_BYTE[8]"), ffi.new("CK_ULONG *", 8)
    app.encrypt(out, length)  # before any C_MessageEncryptInit: sent raw, for the server to refuse
    sent = server.got["C_EncryptMessage"]["pParameter"]
    assert isinstance(sent, MessageParameter) and sent.mechanism == wire.NO_OPERATION
    assert app.init() == CKR.OK
    assert app.encrypt(out, length) == CKR.OK
    sent = server.got["C_EncryptMessage"]["pParameter"]
    assert sent == MessageParameter(CKM_AES_GCM, dict(GCM, pIv=bytes([7] * 12)))  # the tag sent as zeros
    assert bytes(app.iv) == bytes(range(12)) and bytes(app.tag) == bytes(range(16))
    assert bytes(out)[:4] == b"ciph" and length[0] == 4
    assert app("C_MessageEncryptFinal", 1) == CKR.OK
    app.encrypt(out, length)  # the operation ended: raw again
    sent = server.got["C_EncryptMessage"]["pParameter"]
    assert isinstance(sent, MessageParameter) and sent.mechanism == wire.NO_OPERATION


def test_nothing_is_written_back_after_a_length_query_or_a_failure(ffi: Any) -> None:
    answers = {"C_EncryptMessage": (CKR.OK, {"pParameter": ANSWER, "pCiphertext": OutData(4)})}
    app = App(ffi, Scripted(answers))
    assert app.init() == CKR.OK
    length = ffi.new("CK_ULONG *", 0)
    assert app.encrypt(ffi.NULL, length) == CKR.OK and length[0] == 4
    assert bytes(app.iv) == bytes([7] * 12) and bytes(app.tag) == bytes([7] * 16)
    answers["C_EncryptMessage"] = (CKR.BUFFER_TOO_SMALL, {"pParameter": ANSWER, "pCiphertext": OutData(4)})
    out, length = ffi.new("CK_BYTE[2]"), ffi.new("CK_ULONG *", 2)
    assert app.encrypt(out, length) == CKR.BUFFER_TOO_SMALL and length[0] == 4
    assert bytes(app.iv) == bytes([7] * 12) and bytes(app.tag) == bytes([7] * 16)


def test_a_given_iv_is_never_written_and_a_lying_answer_writes_nothing(ffi: Any) -> None:
    answers = {"C_EncryptMessage": (CKR.OK, {"pParameter": ANSWER, "pCiphertext": OutData(4, b"ciph")})}
    app = App(ffi, Scripted(answers))
    assert app.init() == CKR.OK
    app.parameter.ivGenerator = CKG_NO_GENERATE
    out, length = ffi.new("CK_BYTE[8]"), ffi.new("CK_ULONG *", 8)
    assert app.encrypt(out, length) == CKR.OK
    assert bytes(app.iv) == bytes([7] * 12) and bytes(app.tag) == bytes(
        range(16)
    )  # (the IV may be read-only)
    long_tag = MessageParameter(CKM_AES_GCM, {"pIv": bytes(12), "pTag": bytes(32)})
    answers["C_EncryptMessage"] = (CKR.OK, {"pParameter": long_tag, "pCiphertext": OutData(4, b"CIPH")})
    assert app.encrypt(out, length) == CKR.DEVICE_ERROR
    assert bytes(out)[:4] == b"ciph" and bytes(app.tag) == bytes(range(16))  # neither buffer touched


def test_the_callers_structure_is_checked_before_sending(ffi: Any) -> None:
    server = Scripted({})
    app = App(ffi, server)
    assert app.init() == CKR.OK
    length = ffi.new("CK_ULONG *", 0)
    assert (
        app("C_EncryptMessage", 1, app.parameter, 7, 0, 0, app.data, 1, 0, length)
        == CKR.MECHANISM_PARAM_INVALID
    )
    assert app("C_EncryptMessage", 1, 0, 48, 0, 0, app.data, 1, 0, length) == CKR.ARGUMENTS_BAD
    assert "C_EncryptMessage" not in server.got


def test_sign_message_next_without_a_length_pointer(ffi: Any) -> None:
    """Not the last part: nothing asked, nothing written; the last part: rule 3's convention."""
    server = Scripted({"C_SignMessageNext": (CKR.OK, {"pSignature": None})})
    app = App(ffi, server)
    assert app("C_SignMessageNext", 1, 0, 0, app.data, 4, 0, 0) == CKR.OK
    assert server.got["C_SignMessageNext"]["pSignature"] is None
    server.answers["C_SignMessageNext"] = (CKR.OK, {"pSignature": OutData(2, b"sg")})
    assert app("C_SignMessageNext", 1, 0, 0, app.data, 4, 0, 0) == CKR.DEVICE_ERROR  # none was asked
    out, length = ffi.new("CK_BYTE[4]"), ffi.new("CK_ULONG *", 4)
    assert app("C_SignMessageNext", 1, 0, 0, app.data, 4, out, length) == CKR.OK
    assert server.got["C_SignMessageNext"]["pSignature"] == OutRequest(True, 4)
    assert bytes(out)[:2] == b"sg" and length[0] == 2
