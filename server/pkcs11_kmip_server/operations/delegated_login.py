"""Delegated Login: a ticket limited to Rights, for the caller to hand on (KMIP 2.1 §6.1.12).

The ticket is issued as Login's is (login.issue_ticket: Lease Time, Request Count, the
server's maximum lease), with the Rights it may use kept beside it in the store. Whoever
presents it, over any client connection of this server, acts as the caller within those
Rights (delegation.py says how they are checked at each use, against the caller's own
rights too). Here the request is checked once more: a Right that names objects may only
name objects the caller may itself do those operations on now (a Right without
Operations on an object needs every right on it: its owner or an administrator);
otherwise Permission Denied, the same for an object that does not exist. Logout of the
ticket, by the caller, ends it.

The audit log gets a line for the delegation (who, the ticket's reference, lease, count
and Rights), written once the transaction commits; never the ticket.
"""

from __future__ import annotations

from typing import Any

from pkcs11_kmip.kmip.messages.payloads import DelegatedLoginRequest, DelegatedLoginResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.access import authorize, display_name
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.delegation import DelegatedRight, encoded_rights, requested_rights
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.login import issue_ticket
from pkcs11_kmip_server.store.tickets import ticket_reference


@handles(Operation.DELEGATED_LOGIN)
def delegated_login(context: RequestContext, request: DelegatedLoginRequest) -> DelegatedLoginResponse:
    rights = requested_rights(request.rights, context.resolve)
    for right in rights:
        _within_callers_rights(context, right)
    ticket = issue_ticket(context, request, encoded_rights(rights))
    if context.audit is not None:
        audit = context.audit
        entry: dict[str, Any] = {
            "kind": "delegation",
            "time": context.now.isoformat(),
            "principal": context.principal,
            "ticket": ticket_reference(ticket.ticket_value or b""),
            "lease_time": request.lease_time or None,
            "request_count": request.request_count or None,
            "rights": [_described(right) for right in rights],
        }
        context.after_commit.append(lambda: audit.write(entry))
    return DelegatedLoginResponse(ticket=ticket)


def _within_callers_rights(context: RequestContext, right: DelegatedRight) -> None:
    """Permission Denied unless the caller may do the Right's operations on each object it
    names. (Rights by operation or Object Group alone are bounded at each use.)"""
    for uid in sorted(right.objects or ()):
        record = context.session.load(uid, None)
        for operation in sorted(right.operations) if right.operations is not None else [None]:
            try:
                if record is None:
                    raise KmipError(ResultReason.OBJECT_NOT_FOUND, uid)
                authorize(context.session, context.principal, operation, record)
            except KmipError:
                what = display_name(operation) if operation is not None else "every operation"
                raise KmipError(
                    ResultReason.PERMISSION_DENIED, f"the caller may not delegate {what} on {uid}"
                ) from None


def _described(right: DelegatedRight) -> dict[str, Any]:
    """A Right for the audit log, its operations by name."""
    entry = right.as_json()
    if right.operations is not None:
        entry["operations"] = sorted(display_name(operation) for operation in right.operations)
    return entry
