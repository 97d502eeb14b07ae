"""Set Constraints: the rules new and changed objects must keep (KMIP 2.1 §6.1.52).

The request's Constraints replace all rules (none given: no rule is left); rules that
do not change keep their creation time and author. Each Constraint carries its rule as
`policy.rules_from` reads it. Each rule added or removed is in the audit log.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SetConstraintsRequest, SetConstraintsResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.administration import constraint_row, record_replaced
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.SET_CONSTRAINTS)
def set_constraints(context: RequestContext, request: SetConstraintsRequest) -> SetConstraintsResponse:
    policy.require_admin(context)
    wanted = policy.rules_from(request.constraints)
    changes = context.session.policy().replace_constraints(wanted, context.principal)
    record_replaced(context, "constraint", changes, constraint_row)
    return SetConstraintsResponse()
