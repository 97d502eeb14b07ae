"""MAC: a message authentication code with a managed key, in one part or streamed (KMIP 2.1 §6.1.32).

HMAC (SHA-1 to SHA-512, SHA-3) or CMAC-AES, as `crypto.signatures.mac_spec` chooses
from the parameters and the key. The key is a Symmetric Key or Secret Data, Active
and allowed to MAC Generate; Usage Limits are spent as for Sign. The flow is
`by_parts`; MAC Verify shares `begin_mac`. A Tag Length truncates the MAC here, over
whatever the provider computes (`Truncated`), so every provider truncates alike.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from pkcs11_kmip.kmip.messages.payloads import MACRequest, MACResponse
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask, ObjectType, Operation, ResultReason
from pkcs11_kmip_server import by_parts
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.crypto.provider import DigestOperation
from pkcs11_kmip_server.crypto.signatures import MacSpec, applicable, mac_spec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.generic_secret import mac_key_algorithm
from pkcs11_kmip_server.key_use import plain_use
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord

MAC_KEYS = frozenset({ObjectType.SYMMETRIC_KEY, ObjectType.SECRET_DATA})


def begin_mac(context: RequestContext) -> Callable[[ObjectRecord, CryptographicParameters], DigestOperation]:
    """Begins the MAC the parameters and the key name, with the context's provider."""
    provider = by_parts.crypto_services(context).provider

    def begin(record: ObjectRecord, parameters: CryptographicParameters) -> DigestOperation:
        spec = _spec(record, parameters)
        operation = provider.mac(record, spec)
        return operation if spec.truncated_to is None else Truncated(operation, spec.truncated_to)

    return begin


def _spec(record: ObjectRecord, parameters: CryptographicParameters) -> MacSpec:
    return mac_spec(parameters, mac_key_algorithm(record, parameters.hashing_algorithm))


def plain_mac(
    record: ObjectRecord, requested: CryptographicParameters | None, now: datetime
) -> MacSpec | None:
    """The MAC a single-part MAC request with the caller's own key `record` computes at `now`,
    when the general path would write nothing for it (no Usage Limits) and refuse nothing;
    None when it must run. The crypto lane (crypto_lane.py) keeps this verdict as
    `ciphering.plain_cipher`'s."""
    if not plain_use(record, MAC_GENERATING.usage, now, MAC_GENERATING.object_types):
        return None
    try:
        return _spec(record, applicable(requested, record.attributes.get(Tag.CRYPTOGRAPHIC_PARAMETERS)))
    except KmipError:
        return None


class Truncated:
    """A provider's MAC cut to its leftmost `length` bytes; verified against a MAC of that length only."""

    def __init__(self, whole: DigestOperation, length: int) -> None:
        self._whole = whole
        self._length = length

    def update(self, data: bytes) -> None:
        self._whole.update(data)

    def finish(self) -> bytes:
        return self._whole.finish()[: self._length]

    def verify(self, expected: bytes) -> bool:
        if len(expected) != self._length:
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"the MAC Data is {len(expected)} bytes, Tag Length {self._length}",
            )
        return hmac.compare_digest(self.finish(), expected)


MAC_GENERATING = by_parts.KeyUse(Operation.MAC, CryptographicUsageMask.MAC_GENERATE, MAC_KEYS, True)


@handles(Operation.MAC)
def mac(context: RequestContext, request: MACRequest) -> MACResponse:
    outcome = by_parts.run_with_key(
        context, request, MAC_GENERATING, request.data, begin_mac(context), by_parts.value
    )
    return MACResponse(
        unique_identifier=outcome.uid, mac_data=outcome.result, correlation_value=outcome.correlation
    )
