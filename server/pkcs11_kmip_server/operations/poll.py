"""Poll: the result of an asynchronous operation, once, or Operation Pending while it runs."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import PollRequest
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, ResultStatus
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.outcome import Outcome


@handles(Operation.POLL)
def poll(context: RequestContext, request: PollRequest) -> Outcome:
    """Answer as the polled operation would have answered had it run at once (KMIP 1.4 §4.29)."""
    if context.jobs is None or request.asynchronous_correlation_value is None:
        raise KmipError(ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE, "nothing to poll")
    found = context.jobs.result(context.session, context.principal, request.asynchronous_correlation_value)
    if found is None:
        return Outcome(Operation.POLL, None, ResultStatus.OPERATION_PENDING)
    return found
