"""The library's knowledge of the message-based operations (PKCS#11 3.0) of each session.

A C_EncryptMessage's `pParameter` is a `CK_VOID_PTR`: what it points to (a
CK_GCM_MESSAGE_PARAMS, a CK_CCM_MESSAGE_PARAMS, ...) follows from the mechanism given to
C_MessageEncryptInit, so the library remembers that mechanism per session and kind of
operation, from the answers it forwarded, to read (and later write back) the parameter.
Which of the parameter's buffers the library writes back, and when, is also here.

Works on wire values, never on C memory (pkcs11_kmip.cryptoki.embed does that).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from pkcs11_kmip.cryptoki.calls import Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import (
    FieldKind,
    Mechanism,
    StructValue,
    Value,
    message_layout,
    pointer_members,
)

# The kind of message operation each message-based function belongs to, and the
# C_SessionCancel flag (CKF_MESSAGE_*) that cancels it.
KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("C_MessageEncryptInit", "C_EncryptMessage", "C_EncryptMessageBegin", "C_EncryptMessageNext"),
        "encrypt",
    ),
    "C_MessageEncryptFinal": "encrypt",
    **dict.fromkeys(
        ("C_MessageDecryptInit", "C_DecryptMessage", "C_DecryptMessageBegin", "C_DecryptMessageNext"),
        "decrypt",
    ),
    "C_MessageDecryptFinal": "decrypt",
    **dict.fromkeys(
        ("C_MessageSignInit", "C_SignMessage", "C_SignMessageBegin", "C_SignMessageNext"), "sign"
    ),
    "C_MessageSignFinal": "sign",
    **dict.fromkeys(
        ("C_MessageVerifyInit", "C_VerifyMessage", "C_VerifyMessageBegin", "C_VerifyMessageNext"), "verify"
    ),
    "C_MessageVerifyFinal": "verify",
}
CANCEL_FLAGS: dict[str, int] = {"encrypt": 0x2, "decrypt": 0x4, "sign": 0x8, "verify": 0x10}
"""CKF_MESSAGE_ENCRYPT ... CKF_MESSAGE_VERIFY (pkcs11t.h 3.0), as C_SessionCancel takes them."""

CKF_END_OF_MESSAGE = 0x1
"""C_EncryptMessageNext's flag for the last part: the tag is written then."""
CKG_NO_GENERATE = 0
"""CK_GENERATOR_FUNCTION: the caller gives the IV (nothing is written back into it)."""

# The IV (nonce) member of a message parameter and the member that says who makes it.
GENERATED: dict[str, tuple[str, str]] = {
    "CK_GCM_MESSAGE_PARAMS": ("pIv", "ivGenerator"),
    "CK_CCM_MESSAGE_PARAMS": ("pNonce", "nonceGenerator"),
}


class MessageOperations:
    """Per session and kind, the mechanism of the message operation a C_Message*Init
    began (and that no Final, C_SessionCancel or C_CloseSession has ended)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[tuple[int, str], int] = {}

    def mechanism(self, session: int, kind: str) -> int | None:
        with self._lock:
            return self._active.get((session, kind))

    def learn(self, call: Call, inputs: Mapping[str, Value], rv: int) -> None:
        """Follow the answers that begin or end message operations."""
        name = call.name
        session = inputs.get("hSession")
        if not isinstance(session, int):
            return
        with self._lock:
            if name.startswith("C_Message") and name.endswith("Init"):
                mechanism = inputs.get("pMechanism")
                if rv == CKR.OK and isinstance(mechanism, Mechanism):
                    self._active[(session, KINDS[name])] = mechanism.type
            elif name.startswith("C_Message") and name.endswith("Final"):
                if rv in (CKR.OK, CKR.OPERATION_NOT_INITIALIZED):
                    self._active.pop((session, KINDS[name]), None)
            elif name == "C_SessionCancel" and rv == CKR.OK:
                flags = inputs.get("flags")
                for kind, flag in CANCEL_FLAGS.items():
                    if isinstance(flags, int) and flags & flag:
                        self._active.pop((session, kind), None)
            elif (name == "C_CloseSession" and rv == CKR.OK) or rv in (
                CKR.SESSION_HANDLE_INVALID,
                CKR.SESSION_CLOSED,
            ):
                for kind in CANCEL_FLAGS:
                    self._active.pop((session, kind), None)
            elif name == "C_CloseAllSessions" and rv == CKR.OK:
                self._active.clear()  # (one slot's sessions: the others' are looked up again)


def written_back(call: Call, inputs: Mapping[str, Value], rv: int, parameter: StructValue) -> list[str]:
    """The members of a C_EncryptMessage* parameter whose buffers the library fills from
    the answer: only on CKR_OK, never after a length query; the IV only when the token
    generated it (at C_EncryptMessage or C_EncryptMessageBegin), the tag only when the
    message ended (C_EncryptMessage, or C_EncryptMessageNext with CKF_END_OF_MESSAGE)."""
    if rv != CKR.OK:
        return []
    name = call.name
    for field in ("pCiphertext", "pCiphertextPart"):
        request = inputs.get(field)
        if request is not None and not getattr(request, "present", True):
            return []  # a length query: nothing was encrypted
    layout = _layout(inputs)
    if layout is None:
        return []
    members = []
    iv = GENERATED.get(layout)
    if iv is not None and name in ("C_EncryptMessage", "C_EncryptMessageBegin"):
        member, generator = iv
        if parameter.get(generator) != CKG_NO_GENERATE:
            members.append(member)
    flags = inputs.get("flags")
    ended = name == "C_EncryptMessage" or (isinstance(flags, int) and flags & CKF_END_OF_MESSAGE)
    if ended:
        members += [m.name for m in pointer_members(layout) if m.kind is FieldKind.TAG]
    return members


def _layout(inputs: Mapping[str, Value]) -> str | None:
    parameter = inputs.get("pParameter")
    mechanism = getattr(parameter, "mechanism", None)
    return message_layout(mechanism) if isinstance(mechanism, int) else None
