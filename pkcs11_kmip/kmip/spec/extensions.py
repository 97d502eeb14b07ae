"""This product's KMIP vendor extensions, as data: administration of users, groups and grants.

KMIP has no operation for its server's access tables, so `pkcs11-kmip admin --server`
sends these extension operations (values 0x8xxxxxxx, KMIP 2.1 §11.36 allows them) with
extension tags (0x54xxxx, §8.1). They travel in every protocol version 1.0-2.1 and only
an administrator of the server may run them. docs/access-control.md shows the wire form.

Elsewhere a tag or operation is named by its XML name through `extension_tag` and
`extension_operation`, never by its number, so this table is the one place they are set.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip.kmip.spec.model import EnumValueRow, TagRow

_V1_0 = (1, 0)

TAGS: tuple[TagRow, ...] = (
    TagRow(0x540101, "Access User Name", "AccessUserName", ("TextString",), _V1_0, None),
    TagRow(0x540102, "Access Administrator", "AccessAdministrator", ("Boolean",), _V1_0, None),
    TagRow(0x540103, "Access Password", "AccessPassword", ("TextString",), _V1_0, None),
    TagRow(0x540104, "Access Has Password", "AccessHasPassword", ("Boolean",), _V1_0, None),
    TagRow(0x540105, "Access Group Kind", "AccessGroupKind", ("TextString",), _V1_0, None),
    TagRow(0x540106, "Access Group Name", "AccessGroupName", ("TextString",), _V1_0, None),
    TagRow(0x540107, "Access Member User", "AccessMemberUser", ("TextString",), _V1_0, None),
    TagRow(0x540108, "Access Member Group", "AccessMemberGroup", ("TextString",), _V1_0, None),
    TagRow(0x540109, "Access Grant Identifier", "AccessGrantIdentifier", ("Integer",), _V1_0, None),
    TagRow(0x54010A, "Access Grantee Kind", "AccessGranteeKind", ("TextString",), _V1_0, None),
    TagRow(0x54010B, "Access Grantee", "AccessGrantee", ("TextString",), _V1_0, None),
    TagRow(0x54010C, "Access Role", "AccessRole", ("TextString",), _V1_0, None),
    TagRow(0x54010D, "Access Created", "AccessCreated", ("TextString",), _V1_0, None),
    TagRow(0x54010E, "Access Created By", "AccessCreatedBy", ("TextString",), _V1_0, None),
    TagRow(0x54010F, "Access User", "AccessUser", ("Structure",), _V1_0, None),
    TagRow(0x540110, "Access Group", "AccessGroup", ("Structure",), _V1_0, None),
    TagRow(0x540111, "Access Grant", "AccessGrant", ("Structure",), _V1_0, None),
    TagRow(0x540112, "Access New", "AccessNew", ("Boolean",), _V1_0, None),
)

OPERATIONS: tuple[EnumValueRow, ...] = (
    EnumValueRow(0x80000101, "Add User", "AddUser", (), _V1_0, None),
    EnumValueRow(0x80000102, "Remove User", "RemoveUser", (), _V1_0, None),
    EnumValueRow(0x80000103, "Add Group", "AddGroup", (), _V1_0, None),
    EnumValueRow(0x80000104, "Remove Group", "RemoveGroup", (), _V1_0, None),
    EnumValueRow(0x80000105, "Add Grant", "AddGrant", (), _V1_0, None),
    EnumValueRow(0x80000106, "Remove Grant", "RemoveGrant", (), _V1_0, None),
    EnumValueRow(0x80000107, "Get Access", "GetAccess", (), _V1_0, None),
)

_TAG_BY_XML = {row.xml: row.value for row in TAGS}
_OPERATION_BY_XML = {row.xml: row.value for row in OPERATIONS}


def extension_tag(xml: str) -> int:
    """The value of one of our extension tags (KeyError for a name the table lacks)."""
    return _TAG_BY_XML[xml]


def extension_operation(xml: str) -> Operation:
    """One of our extension operations, as an Operation member named like the spec's
    (ADD_USER: its name then reads "Add User" in the audit log and in messages)."""
    member = Operation(_OPERATION_BY_XML[xml])
    # KmipEnum made a pseudo-member named by its number; give it the table's name.
    member._name_ = next(row.name for row in OPERATIONS if row.xml == xml).upper().replace(" ", "_")
    return member
