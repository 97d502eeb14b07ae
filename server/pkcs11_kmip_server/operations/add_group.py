"""Add Group (extension 0x80000103): create a user or object group and/or add members."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import ADD_GROUP, AddGroupRequest, AddGroupResponse
from pkcs11_kmip_server.administration import access_tables, record, requested_group, require_server_admin
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(ADD_GROUP)
def add_group(context: RequestContext, request: AddGroupRequest) -> AddGroupResponse:
    require_server_admin(context)
    kind, name, group = requested_group(request.group)
    with access_tables(context) as tables:
        tables.add_group(kind, name, group.users, group.groups)
    record(context, "group added", group_kind=kind, group=name, users=group.users, groups=group.groups)
    return AddGroupResponse()
