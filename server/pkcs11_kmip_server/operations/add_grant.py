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
from pkcs11_kmip_server.store.access import TargetKind


@handles(ADD_GRANT)
def add_grant(context: RequestContext, request: AddGrantRequest) -> AddGrantResponse:
    require_server_admin(context)
    grant = request.grant
    assert grant is not None  # required: the codec refuses a request without it
    grantee_kind = one_of(GRANTEE_KINDS, grant.grantee_kind, "grantee kind")
    named: tuple[tuple[TargetKind, str | int | None], ...] = (
        ("object", grant.unique_identifier),
        ("group", grant.object_group),
        ("type", int(grant.object_type) if grant.object_type is not None else None),
    )
    targets = [(kind, value) for kind, value in named if value is not None]
    if len(targets) != 1:
        raise KmipError(
            ResultReason.INVALID_FIELD if targets else ResultReason.MISSING_DATA,
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
    target_kind, target = targets[0]
    assert target is not None
    with access_tables(context) as tables:
        grant_id = tables.add_grant(
            grantee_kind,
            grant.grantee or "",
            target_kind,
            target,
            [int(operation) for operation in operations],
            grant.role,
            context.principal,
        )
        added = next(found for found in tables.grants() if found.id == grant_id)
    record(context, "grant added", grant=grant_details(added))
    return AddGrantResponse(grant=grant_structure(added))
