"""MAC Verify: is this the MAC of the data under a managed key? (KMIP 2.1 §6.1.33)

Answers Valid or Invalid (a wrong MAC is an answer, not an error); streamed parts
answer no Validity Indicator until the final one. Like Decrypt and Signature Verify,
verifying is allowed while the key is Deactivated or Compromised and spends no Usage
Limits. MAC Data may come with the first part of a stream (TC-STREAM-MAC-1) or later.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import MACVerifyRequest, MACVerifyResponse
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, Operation
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.mac import MAC_KEYS, begin_mac
from pkcs11_kmip_server.operations.signature_verify import validity

MAC_VERIFYING = by_parts.KeyUse(Operation.MAC_VERIFY, CryptographicUsageMask.MAC_VERIFY, MAC_KEYS, False)


@handles(Operation.MAC_VERIFY)
def mac_verify(context: RequestContext, request: MACVerifyRequest) -> MACVerifyResponse:
    outcome = by_parts.run_with_key(
        context, request, MAC_VERIFYING, request.data, begin_mac(context), validity, expected=request.mac_data
    )
    return MACVerifyResponse(
        unique_identifier=outcome.uid,
        validity_indicator=outcome.result,
        correlation_value=outcome.correlation,
    )
