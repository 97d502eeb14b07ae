"""A request header's Ticket Credential, as a KMIP 2.x client presents a Login ticket."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.structures import Authentication, Credential, CredentialValue, Ticket
from pkcs11_kmip.kmip.spec.enums import CredentialType, TicketType


def ticket(value: bytes) -> Ticket:
    return Ticket(ticket_type=TicketType.LOGIN, ticket_value=value)


def with_ticket(value: bytes) -> Authentication:
    """The Authentication of a request made with the ticket `value` (Login or Delegated Login's)."""
    credential = Credential(
        credential_type=CredentialType.TICKET, credential_value=CredentialValue(ticket=ticket(value))
    )
    return Authentication(credentials=[credential])
