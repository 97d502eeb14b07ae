"""Decrypt: data decrypted with a managed key, in one part or streamed (KMIP 2.1 §6.1.11).

Decrypting processes what a key protected, so NIST SP 800-57 allows it also while the
key is Deactivated or Compromised (from its Process Start Date on); Decrypt spends no
Usage Limits. The flow is shared with Encrypt in `pkcs11_kmip_server.ciphering`.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import DecryptRequest, DecryptResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import ciphering
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.DECRYPT)
def decrypt(context: RequestContext, request: DecryptRequest) -> DecryptResponse:
    result = ciphering.run(context, request, encrypt=False)
    return DecryptResponse(
        unique_identifier=result.uid, data=result.data, correlation_value=result.correlation
    )
