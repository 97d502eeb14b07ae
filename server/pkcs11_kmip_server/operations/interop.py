"""Interop: the markers OASIS interoperability tests put around a test case."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import InteropRequest, InteropResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.INTEROP)
def interop(context: RequestContext, request: InteropRequest) -> InteropResponse:
    return InteropResponse()
