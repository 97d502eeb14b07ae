"""The PKCS#11 3.0 message-based functions on the native token, as KMIP operations.

A message operation (C_MessageEncryptInit ... C_MessageEncryptFinal) lives beside the
session's other operation, one per kind; each message is one KMIP call with its own
parameters:

- CKM_AES_GCM encrypts and decrypts: each C_EncryptMessage / C_DecryptMessage is one
  KMIP Encrypt / Decrypt with the message's IV, AAD and tag length, as C_Encrypt with
  the same CK_GCM_PARAMS would be (the token's `_cipher`). CKG_GENERATE_RANDOM (and
  CKG_GENERATE) IVs are KMIP RNG Retrieve bytes after the caller's fixed bits; the
  counter generators need a per-key counter the token does not keep
  (CKR_MECHANISM_PARAM_INVALID). A tag that does not verify is CKR_AEAD_DECRYPT_FAILED,
  the CK_RV PKCS#11 3.0 gives authenticated decryption.
- CKM_CHACHA20_POLY1305 likewise, with CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS: the caller's
  12-byte nonce (no generator in that structure) and the 16-byte tag, as C_Encrypt with
  CK_SALSA20_CHACHA20_POLY1305_PARAMS; one part per message (no CKF_MULTI_MESSAGE).
- The HMAC and ECDSA mechanisms sign and verify: C_SignMessage / C_VerifyMessage are the
  token's KMIP MAC / MAC Verify / Sign / Signature Verify, per message, with no message
  parameter (NULL).

A message in parts (C_*MessageBegin, then C_*MessageNext) is native.message_parts; the
mechanisms that take one carry CKF_MULTI_MESSAGE (all but CKM_ECDSA, whose data is a
digest and, as with C_SignUpdate, comes in one part).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

from pkcs11_kmip.cryptoki.constants import CKF, CKM, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.messages import CANCEL_FLAGS, CKG_NO_GENERATE
from pkcs11_kmip.cryptoki.wire import Mechanism, MessageParameter, OutData, OutRequest, StructValue, Value
from pkcs11_kmip.kmip.messages.payloads import RNGRetrieveRequest, RNGRetrieveResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.native.constants import MoreCKM
from pkcs11_kmip_server.native.mechanisms import HASHED, HMACS, lookup

if TYPE_CHECKING:
    from pkcs11_kmip_server.native.token import Active, NativeToken, Session

Outputs = dict[str, Value]
Result = tuple[int, Outputs | None]

CKG_GENERATE, CKG_GENERATE_RANDOM = 1, 3
"""CK_GENERATOR_FUNCTION values the token fills an IV with (random bytes, both)."""

CKF_MULTI_MESSAGE = 0x20
"""CK_MECHANISM_INFO flag (pkcs11t.h 3.0): the mechanism takes a message in parts."""

# The CKF_MESSAGE_* flags C_GetMechanismInfo shows, for exactly what works here.
_CIPHER = CANCEL_FLAGS["encrypt"] | CANCEL_FLAGS["decrypt"]
_SIGN = CANCEL_FLAGS["sign"] | CANCEL_FLAGS["verify"]
MESSAGE_FLAGS: dict[int, int] = {
    CKM.AES_GCM: _CIPHER | CKF_MULTI_MESSAGE,
    MoreCKM.CHACHA20_POLY1305: _CIPHER,
    CKM.ECDSA: _SIGN,
    **{ecdsa: _SIGN | CKF_MULTI_MESSAGE for _, _, _, ecdsa in HASHED},
    **{ckm: _SIGN | CKF_MULTI_MESSAGE for _, ckm, _ in HMACS},
}
# What each kind asks of the mechanism's ordinary flags (the token's own table).
_USES = {"encrypt": CKF.ENCRYPT, "decrypt": CKF.DECRYPT, "sign": CKF.SIGN, "verify": CKF.VERIFY}


def message_flags(mechanism: int) -> int:
    """CKF_MESSAGE_ENCRYPT/DECRYPT/SIGN/VERIFY of a mechanism on this token."""
    return MESSAGE_FLAGS.get(mechanism, 0)


# --- beginning and ending ------------------------------------------------------------------


def _init(token: NativeToken, kind: str, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_MessageEncryptInit ...: the key checked as C_EncryptInit checks it; the mechanism
    takes no parameter here (each message brings its own)."""
    from pkcs11_kmip_server.native.token import Active, _kmip, _mechanism

    session = token._session(inputs["hSession"])
    if kind in session.messages:
        return CKR.OPERATION_ACTIVE, None
    mechanism = _mechanism(inputs["pMechanism"])
    if not message_flags(mechanism.type) & CANCEL_FLAGS[kind]:
        return CKR.MECHANISM_INVALID, None
    found = lookup(mechanism, _USES[kind])
    if mechanism.parameter is not None:
        return CKR.MECHANISM_PARAM_INVALID, None
    uid = token.operation_key(_kmip(request), inputs["hKey"], found, kind)
    session.messages[kind] = Active(kind, mechanism, found, uid)
    return CKR.OK, None


def _final(token: NativeToken, kind: str, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_Message*Final: the operation ends, and with it a message in parts left open (an
    encryption's KMIP stream is ended with it, not left to expire)."""
    from pkcs11_kmip_server.native.message_parts import abandon

    session = token._session(inputs["hSession"])
    active = session.messages.pop(kind, None)
    if active is None:
        return CKR.OPERATION_NOT_INITIALIZED, None
    if active.message is not None and request is not None:
        abandon(token, request, active.message)
    return CKR.OK, None


def _operation(token: NativeToken, inputs: dict[str, Value], kind: str) -> tuple[Session, Active]:
    """The session's `kind` message operation, for a message in one part: not while a
    message in parts (C_*MessageBegin) is open (CKR_OPERATION_ACTIVE)."""
    session = token._session(inputs["hSession"])
    active = session.messages.get(kind)
    if active is None:
        raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
    if active.message is not None:
        raise CKRError(CKR.OPERATION_ACTIVE, "a message in parts is open")
    return session, active


# --- AES-GCM ---------------------------------------------------------------------------------


NONCES: dict[int, str] = {CKM.AES_GCM: "pIv", MoreCKM.CHACHA20_POLY1305: "pNonce"}
"""The member of each AEAD mechanism's message parameter that holds its IV or nonce."""


def _message(active: Active, parameter: Value, aad: Value, iv: bytes) -> Active:
    """The operation as one C_Encrypt/C_Decrypt of this message would have it: CK_GCM_PARAMS
    with the message's IV, AAD and tag length, or CK_SALSA20_CHACHA20_POLY1305_PARAMS with
    its nonce and AAD (checked by the token's cipher_call)."""
    assert isinstance(parameter, MessageParameter) and isinstance(parameter.value, dict)
    data = aad if isinstance(aad, bytes) else None
    single: StructValue = {"pNonce": iv, "pAAD": data}
    if active.mechanism.type == CKM.AES_GCM:
        single = {
            "pIv": iv,
            "ulIvBits": len(iv) * 8,
            "pAAD": data,
            "ulTagBits": parameter.value.get("ulTagBits"),
        }
    return dataclasses.replace(active, mechanism=Mechanism(active.mechanism.type, single))


def nonce(gcm: StructValue) -> bytes | None:
    """The IV (CK_GCM_MESSAGE_PARAMS) or nonce (CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS) given."""
    given = gcm["pIv"] if "pIv" in gcm else gcm.get("pNonce")
    return given if isinstance(given, bytes) else None


def _gcm(active: Active, parameter: Value) -> StructValue:
    """The message's CK_GCM_MESSAGE_PARAMS, or CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS for
    ChaCha20-Poly1305 (CKR_MECHANISM_PARAM_INVALID if it is not the mechanism's)."""
    if (
        not isinstance(parameter, MessageParameter)
        or parameter.mechanism != active.mechanism.type
        or not isinstance(parameter.value, dict)
        or not isinstance(parameter.value.get("pTag"), bytes)
    ):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "an AEAD message takes its message parameter with a tag")
    return parameter.value


def _iv(token: NativeToken, kmip: RequestContext, gcm: StructValue) -> bytes:
    """The message's IV: the caller's, or its fixed bits followed by random ones (a
    ChaCha20-Poly1305 nonce is the caller's: its structure names no generator)."""
    given, generator = nonce(gcm), gcm.get("ivGenerator", CKG_NO_GENERATE)
    fixed = gcm.get("ulIvFixedBits", 0)
    if not isinstance(given, bytes) or not given or not isinstance(fixed, int):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "an AEAD message needs an IV or nonce buffer")
    if generator == CKG_NO_GENERATE:
        return given
    if generator not in (CKG_GENERATE, CKG_GENERATE_RANDOM) or fixed > len(given) * 8:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "the token generates random IVs only")
    answer = token._run(kmip, RNGRetrieveRequest(data_length=len(given)), Operation.RNG_RETRIEVE)
    assert isinstance(answer, RNGRetrieveResponse) and answer.data is not None
    keep = ((1 << fixed) - 1) << (len(given) * 8 - fixed)  # the leading `fixed` bits
    value = (int.from_bytes(given, "big") & keep) | (int.from_bytes(answer.data, "big") & ~keep)
    return value.to_bytes(len(given), "big")


def _length_only(out: Value, length: int, name: str, **more: Value) -> Result | None:
    """A length query or a buffer too small (GCM: as long as the input): the length, with
    nothing computed; None when the buffer holds the output."""
    assert isinstance(out, OutRequest)
    if out.present and out.capacity >= length:
        return None
    return (CKR.OK if not out.present else CKR.BUFFER_TOO_SMALL), {**more, name: OutData(length)}


def encrypt_message(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_EncryptMessage: the ciphertext under the length convention (as long as the
    plaintext: nothing is encrypted for a length query); the IV and tag into the parameter."""
    from pkcs11_kmip_server.native.token import _kmip

    _, active = _operation(token, inputs, "encrypt")
    gcm = _gcm(active, inputs["pParameter"])
    plaintext = inputs["pPlaintext"] or b""
    assert isinstance(plaintext, bytes)
    short = _length_only(inputs["pCiphertext"], len(plaintext), "pCiphertext", pParameter=None)
    if short is not None:
        return short
    kmip = _kmip(request)
    iv = _iv(token, kmip, gcm)
    message = _message(active, inputs["pParameter"], inputs["pAssociatedData"], iv)
    sealed = token._cipher(kmip, message, plaintext)
    ciphertext, tag = sealed[: len(plaintext)], sealed[len(plaintext) :]
    answer = MessageParameter(active.mechanism.type, {NONCES[active.mechanism.type]: iv, "pTag": tag})
    return CKR.OK, {"pParameter": answer, "pCiphertext": OutData(len(ciphertext), ciphertext)}


def decrypt_message(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_DecryptMessage: the plaintext (as long as the ciphertext) only once the tag verified."""
    from pkcs11_kmip_server.native.token import _kmip

    _, active = _operation(token, inputs, "decrypt")
    gcm = _gcm(active, inputs["pParameter"])
    ciphertext = inputs["pCiphertext"] or b""
    assert isinstance(ciphertext, bytes)
    short = _length_only(inputs["pPlaintext"], len(ciphertext), "pPlaintext")
    if short is not None:
        return short
    iv = nonce(gcm)
    if not isinstance(iv, bytes) or not iv:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "an AEAD message needs its IV or nonce")
    message = _message(active, inputs["pParameter"], inputs["pAssociatedData"], iv)
    plaintext = opened(token, _kmip(request), message, ciphertext, gcm)
    return CKR.OK, {"pPlaintext": OutData(len(plaintext), plaintext)}


def opened(
    token: NativeToken, kmip: RequestContext, message: Active, ciphertext: bytes, gcm: StructValue
) -> bytes:
    """One KMIP Decrypt of a whole message with the tag of its CK_GCM_MESSAGE_PARAMS; a tag
    (or AAD) that does not verify is CKR_AEAD_DECRYPT_FAILED."""
    tag = gcm["pTag"]
    assert isinstance(tag, bytes)
    try:
        return token._cipher(kmip, message, ciphertext + tag)
    except CKRError as error:
        if error.rv == CKR.ENCRYPTED_DATA_INVALID:
            raise CKRError(CKR.AEAD_DECRYPT_FAILED, "the tag does not verify") from error
        raise


# --- signatures and MACs ---------------------------------------------------------------------


def _no_parameter(parameter: Value) -> None:
    if parameter is not None:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, "signature messages take no parameter")


def sign_message(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_SignMessage: the token's KMIP MAC or Sign of this message, under the length
    convention (a length query computes it and keeps it for the same message)."""
    from pkcs11_kmip_server.native.token import _kmip

    _, active = _operation(token, inputs, "sign")
    _no_parameter(inputs["pParameter"])
    data = inputs["pData"] or b""
    assert isinstance(data, bytes)
    return signed(token, _kmip(request), active, data, inputs["pSignature"])


def signed(token: NativeToken, kmip: RequestContext, active: Active, data: bytes, out: Value) -> Result:
    """A message's signature under the length convention: a length query (or a buffer too
    small) computes it and keeps it for the same message, so it is computed once."""
    assert isinstance(out, OutRequest)
    if active.computed is not None and active.computed[0] == data:
        signature = active.computed[1]
    else:
        signature = token._sign(kmip, active, data)
    if not out.present or out.capacity < len(signature):
        active.computed = (data, signature)
        rv = CKR.OK if not out.present else CKR.BUFFER_TOO_SMALL
        return rv, {"pSignature": OutData(len(signature))}
    active.computed = None
    return CKR.OK, {"pSignature": OutData(len(signature), signature)}


def verify_message(token: NativeToken, inputs: dict[str, Value], request: RequestContext | None) -> Result:
    """C_VerifyMessage: the token's KMIP MAC Verify or Signature Verify of this message."""
    from pkcs11_kmip_server.native.token import _kmip

    _, active = _operation(token, inputs, "verify")
    _no_parameter(inputs["pParameter"])
    data, signature = inputs["pData"] or b"", inputs["pSignature"] or b""
    assert isinstance(data, bytes) and isinstance(signature, bytes)
    valid = token._signature_valid(_kmip(request), active, data, signature)
    return (CKR.OK if valid else CKR.SIGNATURE_INVALID), None


Function = Callable[["NativeToken", dict[str, Value], RequestContext | None], Result]


def _kind(
    run: Callable[[NativeToken, str, dict[str, Value], RequestContext | None], Result], kind: str
) -> Function:
    return lambda token, inputs, request: run(token, kind, inputs, request)


MESSAGE_FUNCTIONS: dict[str, Function] = {
    "C_MessageEncryptInit": _kind(_init, "encrypt"),
    "C_EncryptMessage": encrypt_message,
    "C_MessageEncryptFinal": _kind(_final, "encrypt"),
    "C_MessageDecryptInit": _kind(_init, "decrypt"),
    "C_DecryptMessage": decrypt_message,
    "C_MessageDecryptFinal": _kind(_final, "decrypt"),
    "C_MessageSignInit": _kind(_init, "sign"),
    "C_SignMessage": sign_message,
    "C_MessageSignFinal": _kind(_final, "sign"),
    "C_MessageVerifyInit": _kind(_init, "verify"),
    "C_VerifyMessage": verify_message,
    "C_MessageVerifyFinal": _kind(_final, "verify"),
}
"""The message-based functions the token answers (token.FUNCTIONS includes them)."""
