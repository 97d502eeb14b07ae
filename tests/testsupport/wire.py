"""Raw TLS conversations with the server: the bytes no well-behaved client would send.

`KmipClient` refuses to write malformed messages and hides how a connection ends;
tests of hostile input need the socket itself: send any bytes, read back one framed
answer, and tell an answer from a close. Every socket operation has a timeout.
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pkcs11_kmip.kmip.messages import (
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    RequestPayload,
    ResponseBatchItem,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.payloads import GetRequest
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import ResultStatus
from testsupport.kmip_builders import aes_create
from testsupport.server import ClientIdentity, RunningServer

IO_TIMEOUT = 10.0
HEADER = struct.Struct(">II")  # tag << 8 | type, length
STRUCTURE = 0x01


def tls_context(ca: Path, identity: ClientIdentity | None) -> ssl.SSLContext:
    """A client context trusting `ca`, presenting `identity`'s certificate if given."""
    context = ssl.create_default_context(cafile=str(ca))
    if identity is not None:
        context.load_cert_chain(str(identity.cert), str(identity.key))
    return context


@contextmanager
def raw_tls(
    server: RunningServer, identity: ClientIdentity | None, timeout: float = IO_TIMEOUT
) -> Iterator[ssl.SSLSocket]:
    """A TLS connection as `identity` (None: no client certificate), handshake done."""
    ca = server.client_identity().ca
    raw = socket.create_connection((server.host, server.port), timeout=timeout)
    try:
        sock = tls_context(ca, identity).wrap_socket(raw, server_hostname=server.host)
    except BaseException:
        raw.close()
        raise
    with sock:
        yield sock


def read_frame(sock: ssl.SSLSocket) -> bytes | None:
    """One whole message; None if the server closed the connection before a first byte."""
    head = _read_exactly(sock, HEADER.size)
    if not head:
        return None
    assert len(head) == HEADER.size, f"the connection closed inside a message header: {head.hex()}"
    _, length = HEADER.unpack(head)
    body = _read_exactly(sock, length)
    assert len(body) == length, f"the connection closed after {len(body)} of {length} bytes"
    return head + body


def _read_exactly(sock: ssl.SSLSocket, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def read_response(sock: ssl.SSLSocket) -> ResponseMessage:
    frame = read_frame(sock)
    assert frame is not None, "the server closed the connection instead of answering"
    return ResponseMessage.decode(frame)


def only_failure(response: ResponseMessage) -> ResponseBatchItem:
    """The single batch item of a refusal, checked to be a failure."""
    (item,) = response.batch_items
    assert item.result_status is ResultStatus.OPERATION_FAILED, item
    return item


def seconds_until_closed(sock: ssl.SSLSocket, within: float) -> float:
    """How long the server took to close the connection; fails if it sends anything or waits longer."""
    started = time.monotonic()
    sock.settimeout(within)
    try:
        data = sock.recv(4096)
    except TimeoutError:
        raise AssertionError(f"the server kept the connection open for {within} s") from None
    except (ConnectionResetError, ssl.SSLEOFError):
        data = b""
    assert data == b"", f"the server sent {data[:40].hex()} instead of closing"
    return time.monotonic() - started


def nested_structures(tag: int, depth: int) -> bytes:
    """`depth` Structures, each holding the next: only headers, so no recursion builds it."""
    return b"".join(HEADER.pack(tag << 8 | STRUCTURE, 8 * (depth - 1 - level)) for level in range(depth))


def request(version: Version, *payloads: RequestPayload, **header: Any) -> RequestMessage:
    """A well-formed request message in `version` (a starting point for corrupting one)."""
    items = [
        RequestBatchItem(
            operation=payload.OPERATION,
            unique_batch_item_id=index.to_bytes(4, "big") if len(payloads) > 1 else None,
            request_payload=payload,
        )
        for index, payload in enumerate(payloads)
    ]
    fields = RequestHeader(
        protocol_version=ProtocolVersion.of(version),
        time_stamp=datetime.now(UTC).replace(microsecond=0),
        batch_count=len(items),
        **header,
    )
    return RequestMessage(header=fields, batch_items=items)


def assert_serves(server: RunningServer, name: str = "still-serving") -> None:
    """The server still creates and returns a key for a well-behaved client, promptly."""
    with server.client(name, version=(1, 4), timeout=IO_TIMEOUT) as kmip:
        uid = kmip.call(aes_create((1, 4), 128)).unique_identifier
        assert kmip.call(GetRequest(unique_identifier=uid)).unique_identifier == uid
