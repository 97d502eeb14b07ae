"""Sign: a signature with a managed private key, in one part or streamed (KMIP 2.1 §6.1.55).

The key must be an Active Private Key allowed to Sign; Usage Limits are spent before
signing, as §6.1.55 requires. The data is Data, or Digested Data (a digest the client
made, single-part only). Schemes, hashes and defaults are in `crypto.signatures`; the
flow shared with Signature Verify, MAC and Hash is in `by_parts`.
"""

from __future__ import annotations

from collections.abc import Callable

from pkcs11_kmip.kmip.messages.payloads import SignatureVerifyRequest, SignRequest, SignResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, Operation, ResultReason
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.provider import DigestOperation
from pkcs11_kmip_server.crypto.signatures import KeyMismatch, signature_spec
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


class NeverValid:
    """The verification of a scheme the key cannot make: it takes the data and says Invalid."""

    def update(self, data: bytes) -> None:
        pass

    def finish(self) -> bytes:
        raise AssertionError("a verification is not finished into a value")

    def verify(self, expected: bytes) -> bool:
        return False


Begin = Callable[[ObjectRecord, CryptographicParameters], DigestOperation]


def signature_input(
    context: RequestContext, request: SignRequest | SignatureVerifyRequest, verify: bool
) -> tuple[bytes | None, Begin]:
    """The data to feed, and how to begin signing it (or verifying a signature of it) with a key.

    Parameters the key cannot use refuse a signature (Bad Cryptographic Parameters) and
    make a verification answer Invalid (`NeverValid`).
    """
    data, prehashed = signed_data(request)
    provider = by_parts.crypto_services(context).provider

    def begin(record: ObjectRecord, parameters: CryptographicParameters) -> DigestOperation:
        algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
        try:
            spec = signature_spec(
                parameters, algorithm, record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH), prehashed
            )
            return provider.sign(record, spec, verify)
        except KeyMismatch:
            if not verify:
                raise
            return NeverValid()

    return data, begin


SIGNING = by_parts.KeyUse(
    Operation.SIGN, CryptographicUsageMask.SIGN, frozenset({ObjectType.PRIVATE_KEY}), True
)


@handles(Operation.SIGN)
def sign(context: RequestContext, request: SignRequest) -> SignResponse:
    data, begin = signature_input(context, request, verify=False)
    outcome = by_parts.run_with_key(context, request, SIGNING, data, begin, by_parts.value)
    return SignResponse(
        unique_identifier=outcome.uid, signature_data=outcome.result, correlation_value=outcome.correlation
    )
