"""Payloads of the access-administration extension operations (pkcs11_kmip.kmip.spec.extensions).

Importing this module registers them, so that a batch item with one of these
operations decodes to the typed payload (the server's operation modules and the admin
command's client import it). Standard tags are used where KMIP has one: a grant's
target is a Unique Identifier, an Object Group or an Object Type, its operations are
Operation items.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.core import Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.messages.payloads import RequestPayload, ResponsePayload, payload
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation
from pkcs11_kmip.kmip.spec.extensions import extension_operation, extension_tag

ADD_USER = extension_operation("AddUser")
REMOVE_USER = extension_operation("RemoveUser")
ADD_GROUP = extension_operation("AddGroup")
REMOVE_GROUP = extension_operation("RemoveGroup")
ADD_GRANT = extension_operation("AddGrant")
REMOVE_GRANT = extension_operation("RemoveGrant")
GET_ACCESS = extension_operation("GetAccess")
OPERATIONS = frozenset({ADD_USER, REMOVE_USER, ADD_GROUP, REMOVE_GROUP, ADD_GRANT, REMOVE_GRANT, GET_ACCESS})

_USER_NAME = extension_tag("AccessUserName")
_GROUP_KIND = extension_tag("AccessGroupKind")
_GROUP_NAME = extension_tag("AccessGroupName")
_MEMBER_USER = extension_tag("AccessMemberUser")
_MEMBER_GROUP = extension_tag("AccessMemberGroup")
_CREATED = extension_tag("AccessCreated")


@structure
class AccessUser(Structure):
    """A user: its name, administrator flag, whether it has a password, its user groups."""

    TAG = extension_tag("AccessUser")
    name: str | None = kmip(_USER_NAME, required=True)
    admin: bool | None = kmip(extension_tag("AccessAdministrator"))
    has_password: bool | None = kmip(extension_tag("AccessHasPassword"))
    groups: list[str] = kmip_list(_GROUP_NAME)
    created: str | None = kmip(_CREATED)


@structure
class AccessGroup(Structure):
    """A group ("user" or "object") and its direct members."""

    TAG = extension_tag("AccessGroup")
    kind: str | None = kmip(_GROUP_KIND, required=True)
    name: str | None = kmip(_GROUP_NAME, required=True)
    users: list[str] = kmip_list(_MEMBER_USER)
    groups: list[str] = kmip_list(_MEMBER_GROUP)


@structure
class AccessGrant(Structure):
    """A grant: to whom ("user" or "group" and a name), on what (one of the three targets),
    which operations (a role is sent with its operations expanded)."""

    TAG = extension_tag("AccessGrant")
    identifier: int | None = kmip(extension_tag("AccessGrantIdentifier"))
    grantee_kind: str | None = kmip(extension_tag("AccessGranteeKind"), required=True)
    grantee: str | None = kmip(extension_tag("AccessGrantee"), required=True)
    unique_identifier: str | None = kmip(Tag.UNIQUE_IDENTIFIER)
    object_group: str | None = kmip(Tag.OBJECT_GROUP)
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE)
    role: str | None = kmip(extension_tag("AccessRole"))
    operations: list[Operation] = kmip_list(Tag.OPERATION)
    created: str | None = kmip(_CREATED)
    created_by: str | None = kmip(extension_tag("AccessCreatedBy"))


@payload(ADD_USER)
class AddUserRequest(RequestPayload):
    """Add a user, or change one's administrator flag (absent: keep) or password (absent: keep)."""

    name: str | None = kmip(_USER_NAME, required=True)
    admin: bool | None = kmip(extension_tag("AccessAdministrator"))
    password: str | None = kmip(extension_tag("AccessPassword"))


@payload(ADD_USER)
class AddUserResponse(ResponsePayload):
    user: AccessUser | None = kmip(extension_tag("AccessUser"), required=True)
    new: bool | None = kmip(extension_tag("AccessNew"))


@payload(REMOVE_USER)
class RemoveUserRequest(RequestPayload):
    name: str | None = kmip(_USER_NAME, required=True)


@payload(REMOVE_USER)
class RemoveUserResponse(ResponsePayload):
    pass


@payload(ADD_GROUP)
class AddGroupRequest(RequestPayload):
    """Create the group if new and add these members."""

    group: AccessGroup | None = kmip(extension_tag("AccessGroup"), required=True)


@payload(ADD_GROUP)
class AddGroupResponse(ResponsePayload):
    pass


@payload(REMOVE_GROUP)
class RemoveGroupRequest(RequestPayload):
    """Remove these members; with none, the group itself."""

    group: AccessGroup | None = kmip(extension_tag("AccessGroup"), required=True)


@payload(REMOVE_GROUP)
class RemoveGroupResponse(ResponsePayload):
    pass


@payload(ADD_GRANT)
class AddGrantRequest(RequestPayload):
    grant: AccessGrant | None = kmip(extension_tag("AccessGrant"), required=True)


@payload(ADD_GRANT)
class AddGrantResponse(ResponsePayload):
    grant: AccessGrant | None = kmip(extension_tag("AccessGrant"), required=True)


@payload(REMOVE_GRANT)
class RemoveGrantRequest(RequestPayload):
    identifier: int | None = kmip(extension_tag("AccessGrantIdentifier"), required=True)


@payload(REMOVE_GRANT)
class RemoveGrantResponse(ResponsePayload):
    grant: AccessGrant | None = kmip(extension_tag("AccessGrant"), required=True)


@payload(GET_ACCESS)
class GetAccessRequest(RequestPayload):
    pass


@payload(GET_ACCESS)
class GetAccessResponse(ResponsePayload):
    users: list[AccessUser] = kmip_list(extension_tag("AccessUser"))
    groups: list[AccessGroup] = kmip_list(extension_tag("AccessGroup"))
    grants: list[AccessGrant] = kmip_list(extension_tag("AccessGrant"))
