"""The HSM worker's side of the message-based functions, on a module of our own making.

SoftHSM2 2.6 has no 3.0 interface, so a scripted stand-in for a 3.0 module (Python
callables in its function list, called with the very cffi arguments the Executor builds)
shows what a module gets: a CK_GCM_MESSAGE_PARAMS of the right size with the IV and a tag
buffer, whose IV and tag, once written by the module, are what the answer carries.
"""

from __future__ import annotations

from typing import Any

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import Mechanism, MessageParameter, OutData, OutRequest
from pkcs11_kmip_server.hsm.module import Executor, ffi

CKM_AES_GCM, CKM_AES_CCM = 0x1087, 0x1088
GCM = {"pIv": bytes(12), "ulIvFixedBits": 0, "ivGenerator": 3, "pTag": bytes(16), "ulTagBits": 128}


class Scripted3:
    """A module with the 3.0 functions: AES-GCM message encryption that writes a known IV,
    ciphertext and tag, and records the structure it was given."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def function(self, call_id: int) -> Any:
        name = BY_ID[call_id].name
        return getattr(self, name, lambda *args: CKR.OK)

    def C_EncryptMessage(self, session: int, parameter: Any, size: int, *rest: Any) -> int:
        _aad, _aad_len, data, data_len, out, out_len = rest
        self.seen = {"size": int(size), "null": parameter == ffi.NULL}
        if parameter == ffi.NULL:
            return CKR.ARGUMENTS_BAD
        gcm = ffi.cast("CK_GCM_MESSAGE_PARAMS *", parameter)
        self.seen.update(
            iv=bytes(ffi.buffer(gcm.pIv, gcm.ulIvLen)),
            tag_bits=int(gcm.ulTagBits),
            generator=int(gcm.ivGenerator),
        )
        ffi.memmove(gcm.pIv, bytes(range(12)), 12)
        ffi.memmove(gcm.pTag, b"T" * 16, 16)
        ffi.memmove(out, bytes(ffi.buffer(data, data_len)).upper(), data_len)
        out_len[0] = data_len
        return CKR.OK


def run(
    executor: Executor, name: str, values: dict[str, wire.Value]
) -> tuple[int, dict[str, wire.Value] | None]:
    reply = executor.execute(BY_NAME[name].id, wire.encode_inputs(name, values))
    return reply.rv, None if reply.output is None else wire.decode_outputs(name, reply.output)


def encrypt(
    executor: Executor, parameter: MessageParameter | None
) -> tuple[int, dict[str, wire.Value] | None]:
    values = {
        "hSession": 1,
        "pParameter": parameter,
        "pAssociatedData": None,
        "pPlaintext": b"text",
        "pCiphertext": OutRequest(True, 8),
    }
    return run(executor, "C_EncryptMessage", values)


def test_the_module_gets_the_structure_and_its_buffers_come_back() -> None:
    module = Scripted3()
    executor = Executor(module)  # type: ignore[arg-type]
    # No operation begun on the module: the parameter is never built.
    assert encrypt(executor, MessageParameter(CKM_AES_GCM, GCM))[0] == CKR.OPERATION_NOT_INITIALIZED
    assert module.seen == {}
    init = {"hSession": 1, "pMechanism": Mechanism(CKM_AES_GCM), "hKey": 2}
    assert run(executor, "C_MessageEncryptInit", init)[0] == CKR.OK
    rv, outputs = encrypt(executor, MessageParameter(CKM_AES_GCM, GCM))
    assert rv == CKR.OK
    assert module.seen == {
        "size": ffi.sizeof("CK_GCM_MESSAGE_PARAMS"),
        "null": False,
        "iv": bytes(12),
        "tag_bits": 128,
        "generator": 3,
    }
    assert outputs == {
        "pParameter": MessageParameter(CKM_AES_GCM, {"pIv": bytes(range(12)), "pTag": b"T" * 16}),
        "pCiphertext": OutData(4, b"TEXT"),
    }
    # A parameter of another mechanism than the operation's is never given to the module.
    module.seen = {}
    ccm = {
        "ulDataLen": 4,
        "pNonce": bytes(8),
        "ulNonceFixedBits": 0,
        "nonceGenerator": 0,
        "pMAC": bytes(4),
        "ulMACLen": 4,
    }
    assert encrypt(executor, MessageParameter(CKM_AES_CCM, ccm))[0] == CKR.MECHANISM_PARAM_INVALID
    assert (
        encrypt(executor, MessageParameter(wire.NO_OPERATION, b"\x00" * 48))[0]
        == CKR.OPERATION_NOT_INITIALIZED
    )
    assert module.seen == {}
    # NULL goes to the module as NULL, which answers for itself.
    assert encrypt(executor, None) == (CKR.ARGUMENTS_BAD, None)
    assert module.seen == {"size": 0, "null": True}
    assert run(executor, "C_MessageEncryptFinal", {"hSession": 1})[0] == CKR.OK
    assert encrypt(executor, MessageParameter(CKM_AES_GCM, GCM))[0] == CKR.OPERATION_NOT_INITIALIZED


def test_sign_message_next_without_a_length_pointer_passes_null() -> None:
    got: list[Any] = []

    class Signer(Scripted3):
        def C_SignMessageNext(
            self, session: int, parameter: Any, size: int, data: Any, length: int, sig: Any, sig_len: Any
        ) -> int:
            got.append((sig == ffi.NULL, sig_len == ffi.NULL))
            return CKR.OK

    executor = Executor(Signer())  # type: ignore[arg-type]
    values = {"hSession": 1, "pParameter": None, "pData": b"part", "pSignature": None}
    assert run(executor, "C_SignMessageNext", values) == (CKR.OK, {"pSignature": None})
    assert got == [(True, True)]
