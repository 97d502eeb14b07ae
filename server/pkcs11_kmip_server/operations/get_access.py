"""Get Access (extension 0x80000107): every user, group and grant, for the admin command's lists."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import GET_ACCESS, GetAccessRequest, GetAccessResponse
from pkcs11_kmip_server.administration import (
    access_tables,
    grant_structure,
    group_structure,
    password_users,
    require_server_admin,
    user_structure,
)
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(GET_ACCESS)
def get_access(context: RequestContext, _request: GetAccessRequest) -> GetAccessResponse:
    require_server_admin(context)
    with_password = password_users(context)
    with access_tables(context) as tables:
        return GetAccessResponse(
            users=[user_structure(user, with_password) for user in tables.users()],
            groups=[group_structure(group) for group in tables.groups()],
            grants=[grant_structure(grant) for grant in tables.grants()],
        )
