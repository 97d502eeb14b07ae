"""Set Defaults: the administrators' default attributes for new objects (KMIP 2.1 §6.1.53).

The request's Object Defaults replace the server-wide and object-group sets (no Defaults
Information: none are left); name-prefix sets, which KMIP cannot express, stay. Sets that
do not change keep their creation time and author; each set added or removed is in the
audit log.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SetDefaultsRequest, SetDefaultsResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.administration import default_row, record_replaced
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.SET_DEFAULTS)
def set_defaults(context: RequestContext, request: SetDefaultsRequest) -> SetDefaultsResponse:
    policy.require_admin(context)
    wanted = policy.sets_from(request.defaults_information)
    changes = context.session.policy().replace_default_sets(wanted, context.principal)
    record_replaced(context, "defaults", changes, default_row)
    return SetDefaultsResponse()
