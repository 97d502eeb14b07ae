"""Hash: a digest of the client's data, in one part or streamed (KMIP 2.1 §6.1.24).

No key is involved: the Hashing Algorithm of the Cryptographic Parameters (required)
names the digest (SHA-1, SHA-2 including SHA-512/224 and /256, SHA-3). A stream is
the client's own, as for the keyed operations; later parts may repeat the parameters
(TC-STREAM-HASH-1..3 do).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import HashRequest, HashResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.signatures import digest_of
from pkcs11_kmip_server.operations import handles


@handles(Operation.HASH)
def hash_data(context: RequestContext, request: HashRequest) -> HashResponse:
    provider = by_parts.crypto_services(context).provider
    requested = request.cryptographic_parameters

    def start(expected: bytes | None) -> by_parts.Started:
        return by_parts.Started("", provider.digest(digest_of(requested)), (requested,))

    outcome = by_parts.run(
        context,
        request,
        Operation.HASH,
        request.data,
        start,
        lambda uid: uid,
        by_parts.value,
    )
    return HashResponse(data=outcome.result, correlation_value=outcome.correlation)
