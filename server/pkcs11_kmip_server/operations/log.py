"""Log: a client's message for the server's log (KMIP 2.0)."""

from __future__ import annotations

import logging

from pkcs11_kmip.kmip.messages.payloads import LogRequest, LogResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles

client_log = logging.getLogger("pkcs11_kmip_server.client_log")


@handles(Operation.LOG)
def log(context: RequestContext, request: LogRequest) -> LogResponse:
    # Logged as data (repr), so a client cannot forge log lines with newlines.
    client_log.info("client %s: %r", context.principal, request.log_message)
    return LogResponse()
