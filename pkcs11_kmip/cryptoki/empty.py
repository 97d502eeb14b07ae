"""The answers of a PKCS#11 service with no token: the library before it has a server,
and a server with no module configured. No slots; nothing to open; no error either.

Which error a function gets follows from its first parameter, so the rule covers the
whole call table: a slot ID names a slot that does not exist, a session handle a
session that cannot exist.
"""

from __future__ import annotations

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import OutData, OutRequest, StructValue, Value

_FIRST_PARAMETER_ERRORS = {"CK_SLOT_ID": CKR.SLOT_ID_INVALID, "CK_SESSION_HANDLE": CKR.SESSION_HANDLE_INVALID}


def answer(call: Call, inputs: dict[str, Value], info: StructValue) -> tuple[int, dict[str, Value] | None]:
    """The CK_RV and outputs of a forwarded function (C_Initialize/C_Finalize excepted);
    `info` is the CK_INFO to answer C_GetInfo with."""
    if call.name == "C_GetInfo":
        return CKR.OK, {"pInfo": info}
    if call.name == "C_GetSlotList":
        request = inputs["pSlotList"]
        assert isinstance(request, OutRequest)
        return CKR.OK, {"pSlotList": OutData(0, () if request.present else None)}
    first = call.params[0].ctype if call.params else ""
    return _FIRST_PARAMETER_ERRORS.get(first, CKR.FUNCTION_NOT_SUPPORTED), None


def answer_wire(call: Call, data: bytes, info: StructValue) -> tuple[int, bytes | None]:
    """`answer` on the wire: Input Parameters in (checked), Output Parameters out."""
    inputs = wire.decode_inputs(call, data)
    rv, outputs = answer(call, inputs, info)
    if outputs is None or not wire.carries_outputs(call, rv):
        return rv, None
    return rv, wire.encode_outputs(call, outputs)
