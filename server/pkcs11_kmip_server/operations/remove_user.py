"""Remove User (extension 0x80000102): a user, their group memberships, grants and password."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import REMOVE_USER, RemoveUserRequest, RemoveUserResponse
from pkcs11_kmip_server.administration import access_tables, record, require_server_admin
from pkcs11_kmip_server.auth import USERS_COMMENT, drop_hash
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(REMOVE_USER)
def remove_user(context: RequestContext, request: RemoveUserRequest) -> RemoveUserResponse:
    require_server_admin(context)
    name = request.name or ""
    with access_tables(context) as tables:
        tables.remove_user(name)
    if context.users is not None:
        path = context.users.path
        context.after_commit.append(lambda: drop_hash(path, name, USERS_COMMENT))
    record(context, "user removed", user=name)
    return RemoveUserResponse()
