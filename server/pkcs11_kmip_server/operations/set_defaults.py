"""Set Defaults: the administrators' default attributes for new objects (KMIP 2.1 §6.1.53).

The request's Object Defaults replace the server-wide and object-group sets (no Defaults
Information: none are left); name-prefix sets, which KMIP cannot express, stay.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SetDefaultsRequest, SetDefaultsResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.SET_DEFAULTS)
def set_defaults(context: RequestContext, request: SetDefaultsRequest) -> SetDefaultsResponse:
    policy.require_admin(context)
    wanted = policy.sets_from(request.defaults_information)
    tables = context.session.policy()
    for present in tables.default_sets():
        if present.selector != "prefix":
            tables.remove("default", present.name)
    for entry in wanted:
        tables.add_default_set(entry, context.principal)
    return SetDefaultsResponse()
