"""Add Grant (extension 0x80000105): a role or operations for a user or user group on an
object, an object group or an object type."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import ADD_GRANT, AddGrantRequest, AddGrantResponse
from pkcs11_kmip.kmip.spec.enums import ResultReason
from pkcs11_kmip_server.access import ROLES
from pkcs11_kmip_server.administration import (
    GRANTEE_KINDS,
    access_tables,
    grant_details,
    grant_structure,
    one_of,
    record,
    require_server_admin,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError, invalid_field
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store.access import target_of


@handles(ADD_GRANT)
def add_grant(context: RequestContext, request: AddGrantRequest) -> AddGrantResponse:
    require_server_admin(context)
    grant = request.grant
    assert grant is not None  # required: the codec refuses a request without it
    grantee_kind = one_of(GRANTEE_KINDS, grant.grantee_kind, "grantee kind")
    object_type = int(grant.object_type) if grant.object_type is not None else None
    target = target_of(grant.unique_identifier, grant.object_group, object_type)
    if target is None:
        given = (grant.unique_identifier, grant.object_group, object_type)
        raise KmipError(
            ResultReason.MISSING_DATA if given == (None, None, None) else ResultReason.INVALID_FIELD,
            "a grant names one target: a Unique Identifier, an Object Group or an Object Type",
        )
    if grant.role is not None:
        if grant.operations:
            raise invalid_field("a grant gives a role or operations, not both")
        operations = ROLES.get(grant.role)
        if operations is None:
            raise invalid_field(f"role {grant.role!r}: one of {', '.join(ROLES)}")
    else:
        operations = frozenset(grant.operations)
    target_kind, target_value = target
    with access_tables(context) as tables:
        grant_id = tables.add_grant(
            grantee_kind,
            grant.grantee or "",
            target_kind,
            target_value,
            [int(operation) for operation in operations],
            grant.role,
            context.principal,
        )
        added = next(found for found in tables.grants() if found.id == grant_id)
    record(context, "grant added", grant=grant_details(added))
    return AddGrantResponse(grant=grant_structure(added))
