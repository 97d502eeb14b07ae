"""Remove Grant (extension 0x80000106): a grant by its identifier; the answer says what it was."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import REMOVE_GRANT, RemoveGrantRequest, RemoveGrantResponse
from pkcs11_kmip_server.administration import (
    access_tables,
    grant_details,
    grant_structure,
    record,
    require_server_admin,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(REMOVE_GRANT)
def remove_grant(context: RequestContext, request: RemoveGrantRequest) -> RemoveGrantResponse:
    require_server_admin(context)
    with access_tables(context) as tables:
        removed = tables.remove_grant(request.identifier or 0)
    record(context, "grant removed", grant=grant_details(removed))
    return RemoveGrantResponse(grant=grant_structure(removed))
