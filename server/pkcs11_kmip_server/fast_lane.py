"""The fast lane: forwarded Cryptoki calls answered without the general KMIP path.

Nearly every message a PKCS#11 client library sends is one PKCS#11 item in the exact
shape `pkcs11_kmip.cryptoki.frames.request` writes. The general path decodes it into
typed objects, opens a store transaction (which only the native token needs), formats
an audit line from the batch and encodes the answer through the typed codec: several
hundred microseconds of Python per call, more than the module's own work. Here such a
message is recognised by its bytes (`frames.read_request`), its payload handed to the
context's backend and the answer written directly (`frames.response`, byte for byte the
typed encoder's).

Security is the general path's: the peer's certificate identity (no Authentication in
the header, so no password user), the same rules (`operations.pkcs11.checked`:
protocol version, function, the [pkcs11] clients list) and the same context lookup in
the service, which binds a Correlation Value to its principal and connection. Whatever
does not pass, and every codec error, goes to the general path, which answers it with
its precise Result Reason: nothing has run on the module then (the inputs are decoded
before any call), so the call is made there exactly once. The audit log gets the same
line as from the general path (a PKCS#11 item names no object, so nothing of the
batch needs formatting). The native token works inside the store's transaction: with it the lane is
closed and every message takes the general path.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pkcs11_kmip.cryptoki import frames
from pkcs11_kmip.cryptoki.wire import WireError
from pkcs11_kmip.kmip.spec.enums import Operation, ResultStatus
from pkcs11_kmip_server.access import display_name
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.operations.pkcs11 import checked, return_code
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.hsm")

_ITEMS = [
    {"operation": display_name(Operation.PKCS_11), "ids": [], "status": ResultStatus.SUCCESS.name.title()}
]


class FastLane:
    """The engine's lane for plain PKCS#11 messages (`answer` is None for every other)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # read at each call: its audit log and service may be set late
        self._time: tuple[int, str] = (-1, "")

    def answer(self, data: bytes, peer: Peer) -> bytes | None:
        """The response to a plain PKCS#11 request message, or None: the general path's."""
        engine = self._engine
        service = engine.pkcs11
        principal = peer.principal
        if principal is None or service.settings.native:
            return None
        request = frames.read_request(data)
        if request is None or request.version not in SUPPORTED_VERSIONS:
            return None
        try:
            call = checked(service, request.version, None, request.function, principal)
            reply = service.handle(
                principal, request.function, request.data, request.correlation_value, None, peer
            )
        except (KmipError, WireError):
            return None
        log.debug("%s for %s: 0x%X", call.name, principal, reply.rv)
        now = engine.clock()
        seconds = int(now.timestamp())
        answer = frames.Answer(request.function, return_code(reply.rv), reply.correlation_value, reply.output)
        response = frames.response(request.version, seconds, engine.server_correlation_value(), answer)
        if engine.audit is not None:
            engine.audit.write(self._audit_entry(now, seconds, principal, peer.address, request.version))
        return response

    def _audit_entry(
        self, now: datetime, seconds: int, principal: str, address: str, version: tuple[int, int]
    ) -> dict[str, Any]:
        """The general path's audit line for one successful PKCS#11 item (it names no object)."""
        cached_seconds, time_text = self._time
        if cached_seconds != seconds:
            time_text = now.replace(microsecond=0).isoformat()
            self._time = (seconds, time_text)
        return {
            "kind": "request",
            "time": time_text,
            "principal": principal,
            "address": address,
            "version": f"{version[0]}.{version[1]}",
            "items": _ITEMS,
        }
