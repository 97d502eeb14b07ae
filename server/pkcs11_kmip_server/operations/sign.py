"""Sign: a signature with a managed private key, in one part or streamed (KMIP 2.1 §6.1.55).

The key must be an Active Private Key allowed to Sign; Usage Limits are spent before
signing, as §6.1.55 requires. The data is Data, or Digested Data (a digest the client
made, single-part only). Schemes, hashes and defaults are in `crypto.signatures`; the
flow shared with Signature Verify, MAC and Hash is in `by_parts`.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SignatureVerifyRequest, SignRequest, SignResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, Operation, ResultReason
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.provider import DigestOperation
from pkcs11_kmip_server.crypto.signatures import SignatureSpec, signature_spec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord


def signed_data(request: SignRequest | SignatureVerifyRequest) -> tuple[bytes | None, bool]:
    """The data to sign or verify, and whether it is Digested Data (a whole digest, one part)."""
    if request.digested_data is None:
        return request.data, False
    if request.data is not None:
        raise KmipError(ResultReason.INVALID_FIELD, "give Data or Digested Data, not both")
    if request.correlation_value is not None or (request.init_indicator and not request.final_indicator):
        raise KmipError(
            ResultReason.INVALID_FIELD, "Digested Data is one whole digest: it cannot be streamed"
        )
    return request.digested_data, True


def spec_for(record: ObjectRecord, parameters: CryptographicParameters, prehashed: bool) -> SignatureSpec:
    """The signature scheme for this key, as the parameters name it."""
    return signature_spec(
        parameters,
        record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM),
        record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH),
        prehashed,
    )


SIGNING = by_parts.KeyUse(
    Operation.SIGN, CryptographicUsageMask.SIGN, frozenset({ObjectType.PRIVATE_KEY}), True
)


@handles(Operation.SIGN)
def sign(context: RequestContext, request: SignRequest) -> SignResponse:
    data, prehashed = signed_data(request)
    provider = by_parts.crypto_services(context).provider

    def begin(record: ObjectRecord, parameters: CryptographicParameters) -> DigestOperation:
        return provider.sign(record, spec_for(record, parameters, prehashed), verify=False)

    outcome = by_parts.run_with_key(context, request, SIGNING, data, begin, by_parts.value)
    return SignResponse(
        unique_identifier=outcome.uid, signature_data=outcome.result, correlation_value=outcome.correlation
    )
