"""Login: a ticket that authenticates the caller's later requests (KMIP 2.1 §6.1.30).

The ticket is 32 random bytes; the store keeps only its hash (store/tickets.py). It is
bound to who logged in and to the TLS certificate identity of the connection that did:
a ticket authenticates a client, it does not replace the connection's identity, so it
is refused over another client's connection. A Lease Time of 0 (or none) sets no time
limit, as for Obtain Lease; no Request Count sets no count limit. Usage Limits are not
supported: a Login that sets them fails rather than issue a ticket that ignores them.
"""

from __future__ import annotations

import secrets

from pkcs11_kmip.kmip.messages.payloads import LoginRequest, LoginResponse
from pkcs11_kmip.kmip.messages.structures import Ticket
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, TicketType
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles

TICKET_BYTES = 32


@handles(Operation.LOGIN)
def login(context: RequestContext, request: LoginRequest) -> LoginResponse:
    if request.usage_limits is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "Login with Usage Limits is not supported")
    if request.request_count is not None and request.request_count < 1:
        raise KmipError(ResultReason.INVALID_FIELD, "Request Count must be at least 1")
    now = context.now.timestamp()
    expires = now + request.lease_time if request.lease_time else None
    peer = context.peer.principal if context.peer is not None else None
    value = secrets.token_bytes(TICKET_BYTES)
    tickets = context.session.tickets()
    tickets.forget_expired(now)
    tickets.issue(value, context.principal, peer or context.principal, expires, request.request_count)
    return LoginResponse(ticket=Ticket(ticket_type=TicketType.LOGIN, ticket_value=value))
