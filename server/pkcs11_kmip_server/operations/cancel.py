"""Cancel: stop an asynchronous operation that has not started."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import CancelRequest, CancelResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(Operation.CANCEL)
def cancel(context: RequestContext, request: CancelRequest) -> CancelResponse:
    """Canceled if it was still queued, Completed if done, Unable To Cancel while it runs."""
    value = request.asynchronous_correlation_value
    if context.jobs is None or value is None:
        raise KmipError(ResultReason.INVALID_ASYNCHRONOUS_CORRELATION_VALUE, "nothing to cancel")
    result = context.jobs.cancel(context.session, context.principal, value)
    return CancelResponse(asynchronous_correlation_value=value, cancellation_result=result)
