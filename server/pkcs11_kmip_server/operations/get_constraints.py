"""Get Constraints: the rules in force (KMIP 2.1 §6.1.22), for administrators."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import GetConstraintsRequest, GetConstraintsResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.GET_CONSTRAINTS)
def get_constraints(context: RequestContext, _request: GetConstraintsRequest) -> GetConstraintsResponse:
    policy.require_admin(context)
    return GetConstraintsResponse(
        constraints=policy.constraints_structure(context.session.policy().constraints())
    )
