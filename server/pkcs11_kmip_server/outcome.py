"""The result of one batch item, before it is written in the response's version."""

from __future__ import annotations

from dataclasses import dataclass

from pkcs11_kmip.kmip.messages import ResponsePayload
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason, ResultStatus


@dataclass
class Outcome:
    """What the engine answers for one batch item.

    Handlers normally return a payload; Poll returns an Outcome, because it answers
    with the polled operation's own status and payload.
    """

    operation: Operation | None
    batch_item_id: bytes | None
    status: ResultStatus
    reason: ResultReason | None = None
    message: str | None = None
    payload: ResponsePayload | None = None
    asynchronous_correlation_value: bytes | None = None
