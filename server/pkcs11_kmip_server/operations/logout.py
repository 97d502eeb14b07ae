"""Logout: the ticket Login or Delegated Login issued is no longer valid (KMIP 2.1 §6.1.31).

Only the principal the ticket was issued to can log it out; anyone else's Logout gets
Invalid Ticket, as an unknown ticket does, so it learns nothing about other tickets. A
request made with a delegated ticket (whose Rights allow Logout) acts as the delegator,
yet may end only the ticket it presents, not the delegator's others.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import LogoutRequest, LogoutResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store.tickets import ticket_reference


@handles(Operation.LOGOUT)
def logout(context: RequestContext, request: LogoutRequest) -> LogoutResponse:
    ticket = request.ticket
    value = ticket.ticket_value if ticket is not None else None
    if not (
        value and _may_end(context, value) and context.session.tickets().revoke(value, context.principal)
    ):
        raise KmipError(ResultReason.INVALID_TICKET, "no such ticket")
    return LogoutResponse()


def _may_end(context: RequestContext, value: bytes) -> bool:
    delegation = context.delegation
    return delegation is None or ticket_reference(value) == delegation.reference
