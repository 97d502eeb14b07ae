"""A synchronous KMIP client over mutually authenticated TLS.

    with KmipClient("127.0.0.1", cert="client.crt", key="client.key", ca="ca.crt") as kmip:
        created = kmip.call(CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=...))

`call` sends one operation and returns its typed response payload, raising
`KmipResultError` when the server answers with a failure; `send` exchanges whole
messages (batches) and leaves the results to the caller.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from pkcs11_kmip.kmip.framing import MessageReader
from pkcs11_kmip.kmip.messages import (
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    RequestPayload,
    ResponseBatchItem,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import ResultReason, ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, Item, Limits


class KmipConnectionError(OSError):
    """The server could not be reached, or the connection broke mid-exchange."""


class KmipUnreachableError(KmipConnectionError):
    """No connection could be made (TCP or TLS): nothing was sent, so another server may be tried."""


@dataclass
class KmipResultError(Exception):
    """The server answered a batch item with a failure."""

    status: ResultStatus
    reason: ResultReason | None
    message: str | None

    def __str__(self) -> str:
        reason = self.reason.name if self.reason is not None else "no reason"
        return f"{self.status.name}: {reason}" + (f": {self.message}" if self.message else "")


def client_tls_context(cert: str | Path, key: str | Path, ca: str | Path) -> ssl.SSLContext:
    """TLS 1.2+ with the server verified against `ca` and our certificate offered."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert), str(key))
    return context


class KmipClient:
    """One TLS connection to a KMIP server, reused for every request (thread-safe)."""

    def __init__(
        self,
        host: str,
        port: int = 5696,
        *,
        cert: str | Path,
        key: str | Path,
        ca: str | Path,
        version: Version = (2, 1),
        timeout: float = 30.0,
        server_hostname: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
        connect_timeout: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.version = version
        self.timeout = timeout
        self.connect_timeout = timeout if connect_timeout is None else connect_timeout
        self.limits = limits
        self._server_hostname = server_hostname or host
        self._context = client_tls_context(cert, key, ca)
        self._socket: ssl.SSLSocket | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect, or keep the connection, unless the server has closed it meanwhile.

        Servers close idle connections (and restart): a connection that has been
        waiting is checked before a request goes out, and replaced if the server
        closed it. Nothing was sent on it, so nothing runs twice. A connection that
        breaks once a request is sent is that request's error: the server may have run it.
        """
        if self._socket is not None and not _still_open(self._socket):
            self.close()
        if self._socket is not None:
            return
        try:
            raw = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as error:
            raise KmipUnreachableError(f"cannot reach {self.host}:{self.port}: {error}") from error
        try:
            self._socket = self._context.wrap_socket(raw, server_hostname=self._server_hostname)
        except (OSError, ssl.SSLError) as error:
            raw.close()
            raise KmipUnreachableError(f"TLS with {self.host}:{self.port} failed: {error}") from error
        self._socket.settimeout(self.timeout)

    def close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None

    def exchange(self, request: bytes) -> bytes:
        """Send one encoded message and return the encoded response."""
        with self._lock:
            self.connect()
            assert self._socket is not None
            try:
                self._socket.sendall(request)
                return self._read_message(self._socket)
            except (OSError, ssl.SSLError) as error:
                self.close()
                raise KmipConnectionError(f"connection to {self.host}:{self.port} failed: {error}") from error

    def _read_message(self, sock: ssl.SSLSocket) -> bytes:
        reader = MessageReader(self.limits)
        while True:
            message = reader.next_message()
            if message is not None:
                return message
            chunk = sock.recv(max(reader.bytes_wanted(), 4096))
            if not chunk:
                raise KmipConnectionError("the server closed the connection")
            reader.feed(chunk)

    def send(self, request: RequestMessage) -> ResponseMessage:
        return ResponseMessage.decode(self.exchange(request.encode()), self.limits)

    def request_message(self, *payloads: RequestPayload, **header: Any) -> RequestMessage:
        """A request in this client's version; several payloads make a batch."""
        items = [
            RequestBatchItem(
                operation=payload.OPERATION,
                unique_batch_item_id=index.to_bytes(4, "big") if len(payloads) > 1 else None,
                request_payload=payload,
            )
            for index, payload in enumerate(payloads)
        ]
        return RequestMessage(
            header=RequestHeader(
                protocol_version=ProtocolVersion.of(self.version),
                time_stamp=header.pop("time_stamp", None) or datetime.now(UTC).replace(microsecond=0),
                batch_count=len(items),
                **header,
            ),
            batch_items=items,
        )

    def batch(self, *payloads: RequestPayload, **header: Any) -> list[ResponseBatchItem]:
        return self.send(self.request_message(*payloads, **header)).batch_items

    def call(self, payload: RequestPayload, **header: Any) -> Any:
        """One operation; its response payload, or KmipResultError."""
        return payload_of(self.batch(payload, **header))


def payload_of(items: list[ResponseBatchItem]) -> Any:
    """The typed payload of a one-item response, or KmipResultError."""
    (item,) = items
    if item.result_status is not ResultStatus.SUCCESS:
        raise KmipResultError(
            item.result_status or ResultStatus.OPERATION_FAILED, item.result_reason, item.result_message
        )
    result = item.response_payload
    if isinstance(result, Item):
        raise KmipResultError(ResultStatus.OPERATION_FAILED, None, "the response payload could not be typed")
    return result


def _still_open(sock: ssl.SSLSocket) -> bool:
    """Between answers the server owes us nothing: anything to read but TLS's own records
    (session tickets) means it closed the connection, or that we are out of step."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable and not sock.pending():
        return True
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        sock.recv(1)
    except ssl.SSLWantReadError:
        return True  # only TLS records were waiting
    except (OSError, ssl.SSLError):
        return False
    finally:
        sock.settimeout(timeout)
    return False
