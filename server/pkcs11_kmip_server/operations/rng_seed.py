"""RNG Seed: seed material offered to the provider's random generator (KMIP 2.1 §6.1.50).

The answer is how many bytes the generator used. §6.1.50 lets a server ignore the
material and say so with a Data Length of zero; the software provider does (its
generator is the operating system's, which takes no seed from a client), as
CS-RNG-O-3 shows. A provider whose generator takes seeds says how much it used.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import RNGSeedRequest, RNGSeedResponse
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.by_parts import crypto_services
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles


@handles(Operation.RNG_SEED)
def rng_seed(context: RequestContext, request: RNGSeedRequest) -> RNGSeedResponse:
    if not request.data:
        raise KmipError(ResultReason.INVALID_FIELD, "RNG Seed needs seed Data")
    return RNGSeedResponse(data_length=crypto_services(context).provider.seed_random(request.data))
