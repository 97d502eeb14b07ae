"""Login: a ticket that authenticates the caller's later requests (KMIP 2.1 §6.1.30).

The ticket is 32 random bytes; the store keeps only its hash (store/tickets.py). It is
bound to who logged in and to the TLS certificate identity of the connection that did:
a ticket authenticates a client, it does not replace the connection's identity, so it
is refused over another client's connection. A Lease Time of 0 (or none) asks for no
time limit and a Request Count of 0 (or none) for no count limit, as TC-DLOGIN-1-20 and
-2-20 send them; the server's `[auth] max_ticket_lease` bounds the lease whatever is
asked (a longer one is refused, not shortened behind the client's back). Usage Limits
are not supported: a Login that sets them fails rather than issue a ticket that ignores
them. Delegated Login (delegated_login.py) issues its tickets here too.
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
    return LoginResponse(ticket=issue_ticket(context, request))


def issue_ticket(context: RequestContext, request: LoginRequest, rights: str | None = None) -> Ticket:
    """A new ticket for the caller, within the request's limits; `rights`: a delegated
    ticket's Rights (delegation.py), None for a Login ticket."""
    if request.usage_limits is not None:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, "a ticket with Usage Limits is not supported")
    if request.request_count is not None and request.request_count < 0:
        raise KmipError(ResultReason.INVALID_FIELD, "Request Count must not be negative")
    lease = ticket_lease(request.lease_time, context.max_ticket_lease)
    now = context.now.timestamp()
    peer = context.peer.principal if context.peer is not None else None
    value = secrets.token_bytes(TICKET_BYTES)
    tickets = context.session.tickets()
    tickets.forget_expired(now)
    expires = None if lease is None else now + lease
    count = request.request_count or None  # 0: no count limit
    tickets.issue(value, context.principal, peer or context.principal, expires, count, rights)
    return Ticket(ticket_type=TicketType.LOGIN, ticket_value=value)


def ticket_lease(requested: int | None, maximum: int) -> int | None:
    """The ticket's life in seconds (None: no limit) for a requested Lease Time under the
    server's maximum (0: none). No lease, or 0, gets the maximum; more than it is refused."""
    if not requested:
        return maximum or None
    if maximum and requested > maximum:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"Lease Time {requested} s exceeds the server's maximum of {maximum} s",
        )
    return requested
