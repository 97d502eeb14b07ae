"""RNG Retrieve: bytes from the provider's random generator (KMIP 2.1 §6.1.49).

At most `MAX_RANDOM_BYTES` per request (Response Too Large beyond), at least one
(Invalid Field for zero or a negative Data Length).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import RNGRetrieveRequest, RNGRetrieveResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.by_parts import crypto_services
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles

MAX_RANDOM_BYTES = 1 << 20


@handles(Operation.RNG_RETRIEVE)
def rng_retrieve(context: RequestContext, request: RNGRetrieveRequest) -> RNGRetrieveResponse:
    count = request.data_length
    if count is None or count <= 0:
        raise KmipError(ResultReason.INVALID_FIELD, "Data Length is a positive number of bytes")
    if count > MAX_RANDOM_BYTES:
        raise KmipError(
            ResultReason.RESPONSE_TOO_LARGE, f"at most {MAX_RANDOM_BYTES} random bytes per request"
        )
    return RNGRetrieveResponse(data=crypto_services(context).provider.random_bytes(count))
