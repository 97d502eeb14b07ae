"""The Cryptoki 3.0 call table: every function of CK_FUNCTION_LIST_3_0, in order.

One table drives the C stubs (tools/gen_cstubs.py), the function ids that cross
the C/Python boundary and, later, the KMIP marshalling rules. A function's id is
its 1-based position here, which is also its KMIP "PKCS#11 Function" enumeration
value (KMIP 2.0 section 6.1.35).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """One C parameter: its Cryptoki type name and its name in the standard."""

    ctype: str
    name: str


@dataclass(frozen=True)
class Call:
    """One Cryptoki function.

    `local` functions are answered by the C shim itself and never reach Python:
    they must work before C_Initialize and without starting an interpreter.
    """

    id: int
    name: str
    params: tuple[Param, ...]
    version: tuple[int, int]
    local: bool = False

    @property
    def c_signature(self) -> str:
        """The C parameter list, as written in the standard's headers."""
        return ", ".join(f"{p.ctype} {p.name}" for p in self.params)


def _parse(signature: str) -> tuple[Param, ...]:
    params = []
    for item in signature.split(","):
        ctype, name = item.split()
        params.append(Param(ctype, name))
    return tuple(params)


# (name, C parameter list, PKCS#11 version that added it, answered in C)
_V2 = (2, 40)
_V3 = (3, 0)
_TABLE: tuple[tuple[str, str, tuple[int, int], bool], ...] = (
    ("C_Initialize", "CK_VOID_PTR pInitArgs", _V2, False),
    ("C_Finalize", "CK_VOID_PTR pReserved", _V2, False),
    ("C_GetInfo", "CK_INFO_PTR pInfo", _V2, False),
    ("C_GetFunctionList", "CK_FUNCTION_LIST_PTR_PTR ppFunctionList", _V2, True),
    (
        "C_GetSlotList",
        "CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount",
        _V2,
        False,
    ),
    ("C_GetSlotInfo", "CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo", _V2, False),
    ("C_GetTokenInfo", "CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo", _V2, False),
    (
        "C_GetMechanismList",
        "CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount",
        _V2,
        False,
    ),
    (
        "C_GetMechanismInfo",
        "CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo",
        _V2,
        False,
    ),
    (
        "C_InitToken",
        "CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel",
        _V2,
        False,
    ),
    (
        "C_InitPIN",
        "CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen",
        _V2,
        False,
    ),
    (
        "C_SetPIN",
        "CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, "
        "CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen",
        _V2,
        False,
    ),
    (
        "C_OpenSession",
        "CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify, "
        "CK_SESSION_HANDLE_PTR phSession",
        _V2,
        False,
    ),
    ("C_CloseSession", "CK_SESSION_HANDLE hSession", _V2, False),
    ("C_CloseAllSessions", "CK_SLOT_ID slotID", _V2, False),
    ("C_GetSessionInfo", "CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo", _V2, False),
    (
        "C_GetOperationState",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG_PTR pulOperationStateLen",
        _V2,
        False,
    ),
    (
        "C_SetOperationState",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState, CK_ULONG ulOperationStateLen, "
        "CK_OBJECT_HANDLE hEncryptionKey, CK_OBJECT_HANDLE hAuthenticationKey",
        _V2,
        False,
    ),
    (
        "C_Login",
        "CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen",
        _V2,
        False,
    ),
    ("C_Logout", "CK_SESSION_HANDLE hSession", _V2, False),
    (
        "C_CreateObject",
        "CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, "
        "CK_OBJECT_HANDLE_PTR phObject",
        _V2,
        False,
    ),
    (
        "C_CopyObject",
        "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, "
        "CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject",
        _V2,
        False,
    ),
    ("C_DestroyObject", "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject", _V2, False),
    (
        "C_GetObjectSize",
        "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize",
        _V2,
        False,
    ),
    (
        "C_GetAttributeValue",
        "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount",
        _V2,
        False,
    ),
    (
        "C_SetAttributeValue",
        "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount",
        _V2,
        False,
    ),
    (
        "C_FindObjectsInit",
        "CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount",
        _V2,
        False,
    ),
    (
        "C_FindObjects",
        "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount, "
        "CK_ULONG_PTR pulObjectCount",
        _V2,
        False,
    ),
    ("C_FindObjectsFinal", "CK_SESSION_HANDLE hSession", _V2, False),
    (
        "C_EncryptInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_Encrypt",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, "
        "CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen",
        _V2,
        False,
    ),
    (
        "C_EncryptUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, "
        "CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen",
        _V2,
        False,
    ),
    (
        "C_EncryptFinal",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart, CK_ULONG_PTR pulLastEncryptedPartLen",
        _V2,
        False,
    ),
    (
        "C_DecryptInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_Decrypt",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen, "
        "CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen",
        _V2,
        False,
    ),
    (
        "C_DecryptUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, "
        "CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen",
        _V2,
        False,
    ),
    (
        "C_DecryptFinal",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen",
        _V2,
        False,
    ),
    ("C_DigestInit", "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism", _V2, False),
    (
        "C_Digest",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, "
        "CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen",
        _V2,
        False,
    ),
    (
        "C_DigestUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen",
        _V2,
        False,
    ),
    ("C_DigestKey", "CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey", _V2, False),
    (
        "C_DigestFinal",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen",
        _V2,
        False,
    ),
    (
        "C_SignInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_Sign",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, "
        "CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen",
        _V2,
        False,
    ),
    (
        "C_SignUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen",
        _V2,
        False,
    ),
    (
        "C_SignFinal",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen",
        _V2,
        False,
    ),
    (
        "C_SignRecoverInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_SignRecover",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, "
        "CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen",
        _V2,
        False,
    ),
    (
        "C_VerifyInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_Verify",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen, "
        "CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen",
        _V2,
        False,
    ),
    (
        "C_VerifyUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen",
        _V2,
        False,
    ),
    (
        "C_VerifyFinal",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen",
        _V2,
        False,
    ),
    (
        "C_VerifyRecoverInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V2,
        False,
    ),
    (
        "C_VerifyRecover",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen, "
        "CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen",
        _V2,
        False,
    ),
    (
        "C_DigestEncryptUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, "
        "CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen",
        _V2,
        False,
    ),
    (
        "C_DecryptDigestUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, "
        "CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen",
        _V2,
        False,
    ),
    (
        "C_SignEncryptUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen, "
        "CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen",
        _V2,
        False,
    ),
    (
        "C_DecryptVerifyUpdate",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, "
        "CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen",
        _V2,
        False,
    ),
    (
        "C_GenerateKey",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate, "
        "CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey",
        _V2,
        False,
    ),
    (
        "C_GenerateKeyPair",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, "
        "CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount, "
        "CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount, "
        "CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey",
        _V2,
        False,
    ),
    (
        "C_WrapKey",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, "
        "CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, "
        "CK_ULONG_PTR pulWrappedKeyLen",
        _V2,
        False,
    ),
    (
        "C_UnwrapKey",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, "
        "CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, "
        "CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey",
        _V2,
        False,
    ),
    (
        "C_DeriveKey",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey, "
        "CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey",
        _V2,
        False,
    ),
    (
        "C_SeedRandom",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen",
        _V2,
        False,
    ),
    (
        "C_GenerateRandom",
        "CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen",
        _V2,
        False,
    ),
    ("C_GetFunctionStatus", "CK_SESSION_HANDLE hSession", _V2, False),
    ("C_CancelFunction", "CK_SESSION_HANDLE hSession", _V2, False),
    (
        "C_WaitForSlotEvent",
        "CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved",
        _V2,
        True,
    ),
    ("C_GetInterfaceList", "CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount", _V3, True),
    (
        "C_GetInterface",
        "CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion, "
        "CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags",
        _V3,
        True,
    ),
    (
        "C_LoginUser",
        "CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, "
        "CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen",
        _V3,
        False,
    ),
    ("C_SessionCancel", "CK_SESSION_HANDLE hSession, CK_FLAGS flags", _V3, False),
    (
        "C_MessageEncryptInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V3,
        False,
    ),
    (
        "C_EncryptMessage",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext, "
        "CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen",
        _V3,
        False,
    ),
    (
        "C_EncryptMessageBegin",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen",
        _V3,
        False,
    ),
    (
        "C_EncryptMessageNext",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart, "
        "CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags",
        _V3,
        False,
    ),
    ("C_MessageEncryptFinal", "CK_SESSION_HANDLE hSession", _V3, False),
    (
        "C_MessageDecryptInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V3,
        False,
    ),
    (
        "C_DecryptMessage",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext, "
        "CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen",
        _V3,
        False,
    ),
    (
        "C_DecryptMessageBegin",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen",
        _V3,
        False,
    ),
    (
        "C_DecryptMessageNext",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart, "
        "CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags",
        _V3,
        False,
    ),
    ("C_MessageDecryptFinal", "CK_SESSION_HANDLE hSession", _V3, False),
    (
        "C_MessageSignInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V3,
        False,
    ),
    (
        "C_SignMessage",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, "
        "CK_ULONG_PTR pulSignatureLen",
        _V3,
        False,
    ),
    (
        "C_SignMessageBegin",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen",
        _V3,
        False,
    ),
    (
        "C_SignMessageNext",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, "
        "CK_ULONG_PTR pulSignatureLen",
        _V3,
        False,
    ),
    ("C_MessageSignFinal", "CK_SESSION_HANDLE hSession", _V3, False),
    (
        "C_MessageVerifyInit",
        "CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey",
        _V3,
        False,
    ),
    (
        "C_VerifyMessage",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen",
        _V3,
        False,
    ),
    (
        "C_VerifyMessageBegin",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen",
        _V3,
        False,
    ),
    (
        "C_VerifyMessageNext",
        "CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen, "
        "CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen",
        _V3,
        False,
    ),
    ("C_MessageVerifyFinal", "CK_SESSION_HANDLE hSession", _V3, False),
)

CALLS: tuple[Call, ...] = tuple(
    Call(id=index, name=name, params=_parse(signature), version=version, local=local)
    for index, (name, signature, version, local) in enumerate(_TABLE, start=1)
)
"""Every Cryptoki 3.0 function, ordered as in CK_FUNCTION_LIST_3_0 (id = position)."""

BY_NAME: dict[str, Call] = {call.name: call for call in CALLS}
BY_ID: dict[int, Call] = {call.id: call for call in CALLS}

# CK_FUNCTION_LIST (version 2.40) is the prefix of CK_FUNCTION_LIST_3_0 up to here.
LAST_V2_FUNCTION = "C_WaitForSlotEvent"
