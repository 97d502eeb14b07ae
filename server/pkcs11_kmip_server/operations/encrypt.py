"""Encrypt: data encrypted with a managed key, in one part or streamed (KMIP 2.1 §6.1.17).

The flow (key checks, parameters, Usage Limits, streams) is shared with Decrypt in
`pkcs11_kmip_server.ciphering`; the mechanisms and their defaults are in
`pkcs11_kmip_server.crypto.mechanisms`.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, EncryptResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server import ciphering
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles


@handles(Operation.ENCRYPT)
def encrypt(context: RequestContext, request: EncryptRequest) -> EncryptResponse:
    result = ciphering.run(context, request, encrypt=True)
    return EncryptResponse(
        unique_identifier=result.uid,
        data=result.data,
        iv_counter_nonce=result.iv,
        correlation_value=result.correlation,
        authenticated_encryption_tag=result.tag,
    )
