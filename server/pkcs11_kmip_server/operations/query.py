"""Query: what this server supports, in the client's version (KMIP 2.1 §6.1.36)."""

from __future__ import annotations

from pkcs11_kmip import __version__
from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages.payloads import QueryRequest, QueryResponse
from pkcs11_kmip.kmip.messages.structures import CapabilityInformation, ServerInformation
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import ObjectType, Operation, QueryFunction
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import HANDLERS, handles
from pkcs11_kmip_server.policy import defaults_information

VENDOR = "pkcs11-kmip"
OBJECT_TYPES = (
    ObjectType.CERTIFICATE,
    ObjectType.SYMMETRIC_KEY,
    ObjectType.PUBLIC_KEY,
    ObjectType.PRIVATE_KEY,
    ObjectType.SPLIT_KEY,
    ObjectType.TEMPLATE,
    ObjectType.SECRET_DATA,
    ObjectType.OPAQUE_OBJECT,
    ObjectType.PGP_KEY,
    ObjectType.CERTIFICATE_REQUEST,
)


def _defined(enumeration: str, value: int, version: Version) -> bool:
    row = next((r for r in spec.enumeration(enumeration).rows if r.value == value), None)
    return row is not None and row.since <= version and (row.until is None or version <= row.until)


@handles(Operation.QUERY)
def query(context: RequestContext, request: QueryRequest) -> QueryResponse:
    version = context.version
    wanted = set(request.query_functions)
    response = QueryResponse()
    if QueryFunction.QUERY_OPERATIONS in wanted:
        response.operations = sorted(op for op in HANDLERS if _defined("Operation", op, version))
        if context.delegation is not None:  # a delegated ticket: what its Rights allow (TC-DLOGIN-1-20)
            response.operations = context.delegation.operations(response.operations)
    if QueryFunction.QUERY_OBJECTS in wanted:
        response.object_types = [t for t in OBJECT_TYPES if _defined("Object Type", t, version)]
    if QueryFunction.QUERY_SERVER_INFORMATION in wanted:
        response.vendor_identification = VENDOR
        if version >= (2, 0):
            response.server_information = ServerInformation(
                server_name=VENDOR, product_name=VENDOR, server_version=__version__
            )
    if QueryFunction.QUERY_CAPABILITIES in wanted and version >= (1, 3):
        response.capability_information = [
            CapabilityInformation(
                streaming_capability=False,
                asynchronous_capability=False,
                attestation_capability=False,
                batch_undo_capability=version >= (1, 4) or None,
                batch_continue_capability=version >= (1, 4) or None,
            )
        ]
    if QueryFunction.QUERY_DEFAULTS_INFORMATION in wanted and version >= (2, 0):
        response.defaults_information = defaults_information(context.session.policy().default_sets())
    return response
