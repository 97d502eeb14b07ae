"""Encrypt: data encrypted with a managed key, in one part or streamed (KMIP 2.1 §6.1.17).

The flow (key checks, parameters, Usage Limits, streams) is shared with Decrypt in
`pkcs11_kmip_server.ciphering`; the mechanisms and their defaults are in
`pkcs11_kmip_server.crypto.mechanisms`.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, EncryptResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, Operation
from pkcs11_kmip_server import ciphering
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.mechanisms import CipherMechanism
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.key_use import plain_use
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord


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


def plain_encryption(
    record: ObjectRecord, requested: CryptographicParameters | None, version: Version, now: datetime
) -> tuple[CryptographicParameters, CipherMechanism] | None:
    """The parameters and mechanism of a single-part Encrypt with the caller's own key `record`
    at `now`, when the general path would write nothing for it and check nothing more than
    the request's IV, additional data and Data: None when it must run (a refusal, Usage
    Limits to spend, a key in the HSM key store's token). The crypto lane (crypto_lane.py)
    keeps this verdict while the record's row is unchanged, until `key_use.settled_until`."""
    if not plain_use(record, CryptographicUsageMask.ENCRYPT, now):
        return None
    try:
        return ciphering.mechanism_for(record, requested, version, encrypt=True)
    except KmipError:
        return None
