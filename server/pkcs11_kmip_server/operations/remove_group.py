"""Remove Group (extension 0x80000104): members of a group, or (none named) the group itself."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import REMOVE_GROUP, RemoveGroupRequest, RemoveGroupResponse
from pkcs11_kmip_server.administration import access_tables, record, requested_group, require_server_admin
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(REMOVE_GROUP)
def remove_group(context: RequestContext, request: RemoveGroupRequest) -> RemoveGroupResponse:
    require_server_admin(context)
    kind, name, group = requested_group(request.group)
    with access_tables(context) as tables:
        tables.remove_group(kind, name, group.users, group.groups)
    whole = not (group.users or group.groups)
    record(
        context,
        "group removed" if whole else "group members removed",
        group_kind=kind,
        group=name,
        users=group.users,
        groups=group.groups,
    )
    return RemoveGroupResponse()
