"""A message in parts on the native token (PKCS#11 3.0 C_*MessageBegin, C_*MessageNext).

Within a message operation (native.messages) a message may come in parts: Begin opens it,
each Next brings a part, and the part that says it is the last (CKF_END_OF_MESSAGE for the
ciphers, a signature length pointer or a signature for signing and verifying) ends it.
One message in parts at a time per operation, and no single-part message meanwhile
(CKR_OPERATION_ACTIVE); an error other than CKR_BUFFER_TOO_SMALL ends the message, not
the operation. As KMIP carries each:

- AES-GCM encryption: C_EncryptMessageBegin takes the message's IV (the caller's, or
  generated as for C_EncryptMessage, and written back there) and AAD; the parts are a KMIP
  Encrypt stream (Init Indicator with IV and AAD, then the Correlation Value), each part's
  ciphertext given at once, as C_EncryptUpdate streams; the last part's Final Indicator
  brings the tag, written into the parameter's tag buffer. A message that is one last part
  is one plain KMIP Encrypt.
- AES-GCM decryption: the parts are collected (16 MiB at most) and decrypted whole, with
  the tag of the last part's parameter, by one KMIP Decrypt: no plaintext is released before
  the tag is checked (as C_DecryptUpdate does), so every part but the last answers no bytes
  and the last the whole message's plaintext (under the length convention); a tag or AAD
  that does not verify is CKR_AEAD_DECRYPT_FAILED.
- HMAC and ECDSA with a hash: the parts are collected (16 MiB at most) and signed or
  verified whole by one KMIP MAC / Sign / MAC Verify / Signature Verify, as C_SignUpdate's
  parts are. CKM_ECDSA signs a digest the caller made, in one part only
  (CKR_FUNCTION_NOT_SUPPORTED at Begin, as C_SignUpdate answers).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.messages import CKF_END_OF_MESSAGE
from pkcs11_kmip.cryptoki.wire import MessageParameter, OutData, OutRequest, Value
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.native.mechanisms import cipher_call
from pkcs11_kmip_server.native.messages import (
    CKF_MULTI_MESSAGE,
    Result,
    _gcm,
    _iv,
    _length_only,
    _message,
    _no_parameter,
    message_flags,
    opened,
    signed,
)

if TYPE_CHECKING:
    from pkcs11_kmip_server.native.token import Active, NativeToken


def _operation(token: NativeToken, inputs: dict[str, Value], kind: str) -> Active:
    """The session's `kind` message operation (CKR_OPERATION_NOT_INITIALIZED without one), for
    a mechanism that takes a message in parts (CKF_MULTI_MESSAGE; else CKR_FUNCTION_NOT_SUPPORTED)."""
    active = token._session(inputs["hSession"]).messages.get(kind)
    if active is None:
        raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
    if not message_flags(active.mechanism.type) & CKF_MULTI_MESSAGE:
        raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "the mechanism takes a message in one part")
    return active


def _begin(token: NativeToken, inputs: dict[str, Value], kind: str, message: Active) -> None:
    """Open `message` on the operation, unless one is open already."""
    active = _operation(token, inputs, kind)
    if active.message is not None:
        raise CKRError(CKR.OPERATION_ACTIVE, "a message in parts is open")
    active.message = message


def _open(token: NativeToken, inputs: dict[str, Value], kind: str) -> tuple[Active, Active]:
    """The operation and its open message (CKR_OPERATION_NOT_INITIALIZED without one)."""
    active = _operation(token, inputs, kind)
    if active.message is None:
        raise CKRError(CKR.OPERATION_NOT_INITIALIZED, "no message was begun")
    return active, active.message


def _next(active: Active, step: Callable[[Active], Result]) -> Result:
    """A part of the open message: an error (but CKR_BUFFER_TOO_SMALL, which keeps it) ends
    the message; so does the last part's answer, unless it was a length query."""
    message = active.message
    assert message is not None
    try:
        rv, outputs = step(message)
    except CKRError:
        active.message = None
        raise
    if rv != CKR.OK and rv != CKR.BUFFER_TOO_SMALL:
        active.message = None
    return rv, outputs


def _collect(message: Active, part: bytes, too_long: int) -> None:
    """Keep a part of a message used whole at its end (MAX_PARTS bytes at most)."""
    from pkcs11_kmip_server.native.token import MAX_PARTS

    parts = message.parts if message.parts is not None else bytearray()
    if len(parts) + len(part) > MAX_PARTS:
        raise CKRError(too_long, "more than a message in parts collects")
    parts += part
    message.parts = parts


def _data(value: Value) -> bytes:
    data = value or b""
    assert isinstance(data, bytes)
    return data


# --- AES-GCM ---------------------------------------------------------------------------------


def encrypt_begin(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_EncryptMessageBegin: the message's IV (generated now if asked: it is written back
    here) and AAD; nothing is encrypted until the first part."""
    from pkcs11_kmip_server.native.token import _kmip

    active = _operation(token, inputs, "encrypt")
    gcm = _gcm(active, inputs["pParameter"])
    iv = _iv(token, _kmip(request), gcm)
    message = _message(active, inputs["pParameter"], inputs["pAssociatedData"], iv)
    _begin(token, inputs, "encrypt", dataclasses.replace(message, computed=None))
    return CKR.OK, {"pParameter": MessageParameter(active.mechanism.type, {"pIv": iv, "pTag": None})}


def encrypt_next(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_EncryptMessageNext: a part of the KMIP Encrypt stream, its ciphertext as long as
    the part (a length query encrypts nothing); the last part's tag into the parameter."""
    from pkcs11_kmip_server.native.token import _kmip

    active, _ = _open(token, inputs, "encrypt")
    _gcm(active, inputs["pParameter"])
    part, out = _data(inputs["pPlaintextPart"]), inputs["pCiphertextPart"]
    last = bool(_int_flags(inputs["flags"]) & CKF_END_OF_MESSAGE)

    def step(message: Active) -> Result:
        short = _length_only(out, len(part), "pCiphertextPart", pParameter=None)
        if short is not None:
            return short
        kmip = _kmip(request)
        if not last:
            ciphertext = token._stream(kmip, message, part, final=False)
            return CKR.OK, {"pParameter": None, "pCiphertextPart": OutData(len(ciphertext), ciphertext)}
        if message.stream is None:  # the whole message in this part: one plain Encrypt
            sealed = token._cipher(kmip, message, part)
        else:
            sealed = token._stream(kmip, message, part, final=True)
        active.message = None
        cut = len(sealed) - cipher_call(message.mechanism, message.found).tag_bytes
        tag = MessageParameter(active.mechanism.type, {"pIv": None, "pTag": sealed[cut:]})
        return CKR.OK, {"pParameter": tag, "pCiphertextPart": OutData(cut, sealed[:cut])}

    return _next(active, step)


def decrypt_begin(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_DecryptMessageBegin: the message's IV and AAD, kept for its decryption at the end."""
    active = _operation(token, inputs, "decrypt")
    gcm = _gcm(active, inputs["pParameter"])
    iv = gcm.get("pIv")
    if not isinstance(iv, bytes) or not iv:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "an AES-GCM message needs its IV")
    message = _message(active, inputs["pParameter"], inputs["pAssociatedData"], iv)
    _begin(token, inputs, "decrypt", dataclasses.replace(message, computed=None, parts=bytearray()))
    return CKR.OK, None


def decrypt_next(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_DecryptMessageNext: a part collected (no bytes yet), or the last: the whole
    message decrypted with the tag of this call's parameter, its plaintext given now."""
    from pkcs11_kmip_server.native.token import _kmip

    active, _ = _open(token, inputs, "decrypt")
    gcm = _gcm(active, inputs["pParameter"])
    part, out = _data(inputs["pCiphertextPart"]), inputs["pPlaintextPart"]
    assert isinstance(out, OutRequest)
    last = bool(_int_flags(inputs["flags"]) & CKF_END_OF_MESSAGE)

    def step(message: Active) -> Result:
        if not last:
            if out.present:  # (a length query must not keep the part: the call comes again)
                _collect(message, part, CKR.ENCRYPTED_DATA_LEN_RANGE)
            return CKR.OK, {"pPlaintextPart": OutData(0, b"" if out.present else None)}
        ciphertext = bytes(message.parts or b"") + part
        short = _length_only(out, len(ciphertext), "pPlaintextPart")
        if short is not None:
            return short
        plaintext = opened(token, _kmip(request), message, ciphertext, gcm)
        active.message = None
        return CKR.OK, {"pPlaintextPart": OutData(len(plaintext), plaintext)}

    return _next(active, step)


# --- signatures and MACs ---------------------------------------------------------------------


def _sign_begin(kind: str) -> Callable[[NativeToken, dict[str, Value], RequestContext | None], Result]:
    def begin(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_SignMessageBegin, C_VerifyMessageBegin: no parameter; a mechanism whose data is
        a digest takes it in one part only."""
        active = _operation(token, inputs, kind)
        _no_parameter(inputs["pParameter"])
        if active.found.prehashed:
            raise CKRError(CKR.FUNCTION_NOT_SUPPORTED, "a digest comes in one part")
        _begin(token, inputs, kind, dataclasses.replace(active, computed=None, parts=bytearray()))
        return CKR.OK, None

    return begin


def _whole(
    token: NativeToken,
    inputs: dict[str, Value],
    kind: str,
    last: Value,
    finish: Callable[[Active, Active, bytes], Result],
) -> Result:
    """C_SignMessageNext, C_VerifyMessageNext: a part kept (`last` None), or the last one:
    `finish` signs or verifies the whole message (the operation, its message, the data)."""
    active, _ = _open(token, inputs, kind)
    _no_parameter(inputs["pParameter"])
    part = _data(inputs["pData"])

    def step(message: Active) -> Result:
        if last is None:
            _collect(message, part, CKR.DATA_LEN_RANGE)
            return CKR.OK, ({"pSignature": None} if kind == "sign" else None)
        return finish(active, message, bytes(message.parts or b"") + part)

    return _next(active, step)


def sign_next(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_SignMessageNext: without a signature length pointer a part, with one the last: the
    whole message signed, under the length convention (a length query keeps the message)."""
    from pkcs11_kmip_server.native.token import _kmip

    out = inputs["pSignature"]

    def finish(active: Active, message: Active, data: bytes) -> Result:
        rv, outputs = signed(token, _kmip(request), message, data, out)
        if rv == CKR.OK and outputs is not None and _given(outputs["pSignature"]):
            active.message = None
        return rv, outputs

    return _whole(token, inputs, "sign", out, finish)


def verify_next(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_VerifyMessageNext: without a signature a part, with one the last: the whole message
    verified (CKR_SIGNATURE_INVALID ends it as CKR_OK does)."""
    from pkcs11_kmip_server.native.token import _kmip

    signature = inputs["pSignature"]

    def finish(active: Active, message: Active, data: bytes) -> Result:
        assert isinstance(signature, bytes)
        valid = token._signature_valid(_kmip(request), message, data, signature)
        active.message = None
        return (CKR.OK if valid else CKR.SIGNATURE_INVALID), None

    return _whole(token, inputs, "verify", signature, finish)


def abandon(token: NativeToken, kmip: RequestContext, message: Active) -> None:
    """A message left open at C_Message*Final: an encryption's KMIP stream is ended (its
    output dropped) so that it does not hold one of the client's streams until it expires."""
    if message.stream is None or message.use != "encrypt":
        return
    with contextlib.suppress(CKRError):  # (the stream is gone either way: a failed part ends it)
        token._stream(kmip, message, b"", final=True)


def _given(out: Value) -> bool:
    """Whether an answer carries the bytes (not a length only)."""
    return isinstance(out, OutData) and out.data is not None


def _int_flags(value: Value) -> int:
    if not isinstance(value, int):
        raise CKRError(CKR.ARGUMENTS_BAD)
    return value


PART_FUNCTIONS: dict[str, Callable[[NativeToken, dict[str, Value], RequestContext | None], Result]] = {
    "C_EncryptMessageBegin": encrypt_begin,
    "C_EncryptMessageNext": encrypt_next,
    "C_DecryptMessageBegin": decrypt_begin,
    "C_DecryptMessageNext": decrypt_next,
    "C_SignMessageBegin": _sign_begin("sign"),
    "C_SignMessageNext": sign_next,
    "C_VerifyMessageBegin": _sign_begin("verify"),
    "C_VerifyMessageNext": verify_next,
}
"""The functions of a message in parts (token.FUNCTIONS includes them)."""
