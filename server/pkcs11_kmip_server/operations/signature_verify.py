"""Signature Verify: is this a valid signature by a managed public key? (KMIP 2.1 §6.1.56)

The answer is the Validity Indicator, Valid or Invalid: a wrong signature, or one of
a scheme the key cannot make (RSA-PSS parameters with an EC key, as
TC-ECDSA-SIGN-DIGESTEDDATA-1 expects), is Invalid, not an error. Refusals are for
the request itself: the key, its state and usage mask, unsupported parameters,
malformed input. Verifying processes what a key protected, so it is allowed while the
key is Deactivated or Compromised too (NIST SP 800-57), and spends no Usage Limits.
Streamed parts answer no Validity Indicator until the final one (§6.1.56).
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import SignatureVerifyRequest, SignatureVerifyResponse
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicUsageMask,
    ObjectType,
    Operation,
    ResultReason,
    ValidityIndicator,
)
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.sign import signature_input


def validity(started: by_parts.Started) -> ValidityIndicator:
    """Valid or Invalid, once the operation has all its data and the value to check."""
    if started.expected is None:
        raise KmipError(ResultReason.MISSING_DATA, "a verification needs the value to verify")
    valid = started.operation.verify(started.expected)
    return ValidityIndicator.VALID if valid else ValidityIndicator.INVALID


VERIFYING = by_parts.KeyUse(
    Operation.SIGNATURE_VERIFY, CryptographicUsageMask.VERIFY, frozenset({ObjectType.PUBLIC_KEY}), False
)


@handles(Operation.SIGNATURE_VERIFY)
def signature_verify(context: RequestContext, request: SignatureVerifyRequest) -> SignatureVerifyResponse:
    data, begin = signature_input(context, request, verify=True)
    outcome = by_parts.run_with_key(
        context, request, VERIFYING, data, begin, validity, expected=request.signature_data
    )
    return SignatureVerifyResponse(
        unique_identifier=outcome.uid,
        validity_indicator=outcome.result,
        correlation_value=outcome.correlation,
    )
