"""PKCS#11: one Cryptoki call carried in KMIP (KMIP 2.0 §6.1.35, 2.1 §6.1.37).

A Cryptoki failure is a successful batch item whose PKCS#11 Return Code is not OK;
the item fails only for what KMIP itself must refuse: undecodable parameters (PKCS#11
Codec Error), a function that is not forwarded (PKCS#11 Invalid Function), an
interface other than the default one, or a client not allowed to use PKCS#11.
"""

from __future__ import annotations

import logging

from pkcs11_kmip.cryptoki.calls import BY_ID
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import WireError
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.spec.enums import Operation, PKCS11Function, PKCS11ReturnCode, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles

log = logging.getLogger("pkcs11_kmip_server.hsm")

DEFAULT_INTERFACE = "PKCS 11"


@handles(Operation.PKCS_11)
def pkcs11(context: RequestContext, request: PKCS11Request) -> PKCS11Response:
    service = context.pkcs11
    if service is None or context.version < (2, 0):
        raise KmipError(ResultReason.OPERATION_NOT_SUPPORTED, "PKCS#11 is not served here")
    if request.pkcs_11_interface not in (None, DEFAULT_INTERFACE):
        raise KmipError(
            ResultReason.PKCS_11_INVALID_INTERFACE, f"only the default interface {DEFAULT_INTERFACE!r}"
        )
    function = int(request.pkcs_11_function) if request.pkcs_11_function is not None else 0
    call = BY_ID.get(function)
    if call is None or call.local:
        raise KmipError(ResultReason.PKCS_11_INVALID_FUNCTION, f"function {function} is not forwarded")
    if not service.allowed(context.principal):
        raise KmipError(ResultReason.PERMISSION_DENIED, "this client may not use PKCS#11")
    try:
        reply = service.handle(
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
        pkcs_11_return_code=_return_code(reply.rv),
    )


def _return_code(rv: int) -> PKCS11ReturnCode:
    """The CK_RV as the enumeration (a 32-bit value; a module's wider one is a general error)."""
    try:
        return PKCS11ReturnCode(rv)
    except ValueError:
        log.warning("a module returned CK_RV 0x%X, which KMIP cannot carry", rv)
        return PKCS11ReturnCode(CKR.GENERAL_ERROR)
