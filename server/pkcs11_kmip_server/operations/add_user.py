"""Add User (extension 0x80000101): a new user, or a user's administrator flag or password.

The password is hashed (scrypt, auth.hash_password) here and written to DIR/users.toml
once the request commits; neither it nor its hash goes to the audit log.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.access_admin import ADD_USER, AddUserRequest, AddUserResponse
from pkcs11_kmip.kmip.spec.enums import ResultReason
from pkcs11_kmip_server.administration import (
    access_tables,
    password_users,
    record,
    require_server_admin,
    user_structure,
)
from pkcs11_kmip_server.auth import USERS_COMMENT, hash_password, store_hash
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(ADD_USER)
def add_user(context: RequestContext, request: AddUserRequest) -> AddUserResponse:
    require_server_admin(context)
    name = request.name or ""
    password = request.password
    if password is not None:
        if password == "":
            raise KmipError(ResultReason.INVALID_FIELD, "an empty password is not accepted")
        if context.users is None:
            raise KmipError(ResultReason.OPERATION_NOT_SUPPORTED, "this server keeps no passwords")
    with access_tables(context) as tables:
        new = tables.add_user(name, request.admin)
        user = next(found for found in tables.users() if found.name == name)
    with_password = password_users(context)
    if password is not None and context.users is not None:
        path, stored = context.users.path, hash_password(password)
        context.after_commit.append(lambda: store_hash(path, name, stored, USERS_COMMENT))
        with_password.add(name)
    change = {"admin": request.admin} if request.admin is not None else {}
    record(
        context,
        "user added" if new else "user changed",
        user=name,
        **change,
        password_set=password is not None,
    )
    return AddUserResponse(user=user_structure(user, with_password), new=new)
