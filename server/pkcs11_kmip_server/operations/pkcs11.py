"""PKCS#11: one Cryptoki call carried in KMIP (KMIP 2.0 §6.1.35, 2.1 §6.1.37).

A Cryptoki failure is a successful batch item whose PKCS#11 Return Code is not OK;
the item fails only for what KMIP itself must refuse: undecodable parameters (PKCS#11
Codec Error), a function that is not forwarded (PKCS#11 Invalid Function), an
interface other than the default one, or a client not allowed to use PKCS#11.
"""

from __future__ import annotations

import logging

from pkcs11_kmip.cryptoki.calls import BY_ID, Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import WireError
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import Operation, PKCS11Function, PKCS11ReturnCode, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.operations import handles

log = logging.getLogger("pkcs11_kmip_server.hsm")

DEFAULT_INTERFACE = "PKCS 11"


def checked(
    service: Pkcs11Service | None, version: Version, interface: str | None, function: int, principal: str
) -> Call:
    """The call a PKCS#11 item asks for, if KMIP lets this client make it; else KmipError.

    The rules of both paths to the module: this operation, and the fast lane
    (pkcs11_kmip_server/fast_lane.py), which leaves whatever fails them to this one.
    """
    if service is None or version < (2, 0):
        raise KmipError(ResultReason.OPERATION_NOT_SUPPORTED, "PKCS#11 is not served here")
    if interface not in (None, DEFAULT_INTERFACE):
        raise KmipError(
            ResultReason.PKCS_11_INVALID_INTERFACE, f"only the default interface {DEFAULT_INTERFACE!r}"
        )
    call = BY_ID.get(function)
    if call is None or call.local:
        raise KmipError(ResultReason.PKCS_11_INVALID_FUNCTION, f"function {function} is not forwarded")
    if not service.allowed(principal):
        raise KmipError(ResultReason.PERMISSION_DENIED, "this client may not use PKCS#11")
    return call


@handles(Operation.PKCS_11)
def pkcs11(context: RequestContext, request: PKCS11Request) -> PKCS11Response:
    function = int(request.pkcs_11_function) if request.pkcs_11_function is not None else 0
    call = checked(context.pkcs11, context.version, request.pkcs_11_interface, function, context.principal)
    assert context.pkcs11 is not None  # checked
    try:
        reply = context.pkcs11.handle(
            context.principal,
            function,
            request.pkcs_11_input_parameters or b"",
            request.correlation_value,
            context,
            context.peer,
        )
    except WireError as error:
        raise KmipError(ResultReason.PKCS_11_CODEC_ERROR, f"{call.name}: {error}") from error
    log.debug("%s for %s: 0x%X", call.name, context.principal, reply.rv)
    return PKCS11Response(
        pkcs_11_interface=request.pkcs_11_interface,
        pkcs_11_function=PKCS11Function(function),
        correlation_value=reply.correlation_value,
        pkcs_11_output_parameters=reply.output,
        pkcs_11_return_code=PKCS11ReturnCode(return_code(reply.rv)),
    )


_RETURN_CODES = frozenset(int(code) for code in PKCS11ReturnCode)


def return_code(rv: int) -> int:
    """The CK_RV KMIP carries: its own, or a general error for one the enumeration lacks
    (a module's vendor-defined or wider than 32-bit value)."""
    if rv in _RETURN_CODES:
        return rv
    try:
        return int(PKCS11ReturnCode(rv))  # the vendor-defined range
    except ValueError:
        pass
    log.warning("a module returned CK_RV 0x%X, which KMIP cannot carry", rv)
    return int(CKR.GENERAL_ERROR)
