"""Access control: the one check every operation on an existing object goes through.

The owner of an object (the principal that made it) may do everything with it. Anyone
else may do what the grants in the store allow (to them or to a user group they are in,
transitively; on the object, on an object group it is in, or on its object type), and
an administrator everything. `RequestContext.load` calls `authorize` for every object an
operation loads, with the operation of the batch item that runs, so batch items are
checked one by one; Locate applies the same rule in its SQL (store.access).

What a refusal says never tells whether an object exists: a caller with no right at all
on an object gets Object Not Found, as for an identifier nobody uses; Permission Denied
only goes to a caller the grants already let see the object.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.errors import KmipError, not_found
from pkcs11_kmip_server.store import ObjectRecord, StoreSession

_READER = frozenset(
    {
        Operation.LOCATE,
        Operation.CHECK,
        Operation.GET,
        Operation.GET_ATTRIBUTES,
        Operation.GET_ATTRIBUTE_LIST,
        Operation.EXPORT,  # KMIP 2.1's Get with attributes
    }
)
_USER = _READER | {
    Operation.ENCRYPT,
    Operation.DECRYPT,
    Operation.SIGN,
    Operation.SIGNATURE_VERIFY,
    Operation.MAC,
    Operation.MAC_VERIFY,
    Operation.DERIVE_KEY,
    Operation.CERTIFY,
    Operation.VALIDATE,
    Operation.OBTAIN_LEASE,
    Operation.GET_USAGE_ALLOCATION,
}
_MANAGER = _USER | {
    Operation.ACTIVATE,
    Operation.REVOKE,
    Operation.ADD_ATTRIBUTE,
    Operation.MODIFY_ATTRIBUTE,
    Operation.DELETE_ATTRIBUTE,
    Operation.SET_ATTRIBUTE,
    Operation.ADJUST_ATTRIBUTE,
    Operation.RE_KEY,
    Operation.RE_KEY_KEY_PAIR,
    Operation.RE_CERTIFY,
    Operation.ARCHIVE,
    Operation.RECOVER,
}

# Named roles a grant may give instead of a list of operations; each includes the one before.
ROLES: dict[str, frozenset[Operation]] = {
    "reader": _READER,
    "user": frozenset(_USER),
    "manager": frozenset(_MANAGER),
    "admin": frozenset(Operation),  # everything, Destroy included
}


def _key(name: str) -> str:
    return name.replace("_", "").replace(" ", "").replace("-", "").lower()


_OPERATIONS_BY_KEY = {_key(operation.name): operation for operation in Operation}


def operation_named(name: str) -> Operation:
    """An operation by its spec name in any spelling: "Get Attributes", GetAttributes, get_attributes."""
    found = _OPERATIONS_BY_KEY.get(_key(name))
    if found is None:
        raise ValueError(f"no KMIP operation {name!r}")
    return found


def display_name(operation: int) -> str:
    """An operation as the spec writes it (Get Attributes), for tables and the audit log."""
    try:
        return Operation(operation).name.replace("_", " ").title().replace("Mac", "MAC").replace("Rng", "RNG")
    except ValueError:
        return f"0x{operation:08X}"


def authorize(
    session: StoreSession, principal: str, operation: Operation | None, record: ObjectRecord
) -> None:
    """Let `principal` run `operation` on `record`, or raise (see the module's rule)."""
    if record.owner == principal:
        return
    granted = session.rights(principal, record)
    if granted.admin or (operation is not None and operation in granted.operations):
        return
    if not granted.operations:
        raise not_found(record.uid)
    name = display_name(operation) if operation is not None else "this operation"
    raise KmipError(ResultReason.PERMISSION_DENIED, f"no grant allows {name} on {record.uid}")
