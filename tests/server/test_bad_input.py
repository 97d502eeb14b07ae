"""Hostile and broken input over real TLS: each gets its precise answer, and the server goes on.

A message the framing can still delimit is answered (Invalid Message, Operation Not
Supported, Unsupported Protocol Version) and the connection stays usable; a stream
that cannot be resynchronised (an oversized or impossible frame header) is answered
once and closed; a stream that ends or stalls mid-message is closed without an
answer. After every case a well-behaved client is still served. The refusals of a
missing or foreign client certificate are in test_service.py; here they happen
while another client's connection is open.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import DiscoverVersionsRequest, LocateRequest, QueryRequest
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    Operation,
    QueryFunction,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import Item, binary
from testsupport.kmip_builders import aes_create, name, named_list
from testsupport.server import RunningServer, start_server
from testsupport.server_config import reconfigure
from testsupport.wire import (
    HEADER,
    IO_TIMEOUT,
    STRUCTURE,
    assert_serves,
    nested_structures,
    only_failure,
    raw_tls,
    read_frame,
    read_response,
    request,
    seconds_until_closed,
)

VERSION: Version = (1, 4)
SPOKEN = {(2, 1), (2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)}
NAME_TEXT = "abcdefgh"  # one whole 8-byte value, easy to find in the encoding


def discover_versions() -> bytes:
    return request(VERSION, DiscoverVersionsRequest()).encode()


def assert_answers_normally(sock: ssl.SSLSocket) -> None:
    """The connection still works: a Discover Versions is answered with success."""
    sock.sendall(discover_versions())
    (item,) = read_response(sock).batch_items
    assert item.result_status is ResultStatus.SUCCESS


def base_message() -> bytes:
    """A valid 1.4 Locate by Name, the message every byte-level corruption below starts from."""
    return request(VERSION, LocateRequest(attribute_list=named_list((Tag.NAME, name(NAME_TEXT))))).encode()


def offset_of(data: bytes, tag: int, item_type: int) -> int:
    """Where the first item with this tag and type starts (items are 8-byte aligned)."""
    marker = HEADER.pack(tag << 8 | item_type, 0)[:4]
    for offset in range(0, len(data), 8):
        if data[offset : offset + 4] == marker:
            return offset
    raise AssertionError(f"no item 0x{tag:06X}")


def patched(data: bytes, offset: int, replacement: bytes) -> bytes:
    return data[:offset] + replacement + data[offset + len(replacement) :]


def with_length(data: bytes, tag: int, item_type: int, change: Callable[[int], int]) -> bytes:
    offset = offset_of(data, tag, item_type)
    word, length = HEADER.unpack_from(data, offset)
    return patched(data, offset, HEADER.pack(word, change(length)))


def tree_edit(edit: Callable[[Item], None]) -> bytes:
    item = binary.decode(base_message())
    edit(item)
    return binary.encode(item)


def drop_protocol_version(item: Item) -> None:
    header = item.find(Tag.REQUEST_HEADER)
    assert header is not None
    header.value = [child for child in header.children if child.tag != Tag.PROTOCOL_VERSION]


INTEGER = 0x02
BATCH_COUNT = offset_of(base_message(), Tag.BATCH_COUNT, INTEGER)
# Each corruption of base_message(), and what the server's Result Message must name.
MALFORMED: dict[str, tuple[Callable[[], bytes], str]] = {
    "unknown item type": (lambda: patched(base_message(), 8 + 3, b"\x0f"), "unknown type 0x0F"),
    "padding not zero": (lambda: patched(base_message(), BATCH_COUNT + 15, b"\x01"), "padding"),
    "fixed-size item with a wrong length": (
        lambda: with_length(base_message(), Tag.BATCH_COUNT, INTEGER, lambda _: 8),
        "has length 8, not 4",
    ),
    "child overruns its structure": (
        lambda: with_length(base_message(), Tag.BATCH_ITEM, STRUCTURE, lambda n: n + 8),
        "remain",
    ),
    "text not UTF-8": (lambda: base_message().replace(NAME_TEXT.encode(), b"\xff\xfe" * 4), "UTF-8"),
    "tag outside the KMIP ranges": (
        lambda: patched(base_message(), BATCH_COUNT, b"\x43\x00\x0d"),
        "outside the KMIP",
    ),
    "a Response Message": (
        lambda: patched(base_message(), 0, struct.pack(">I", Tag.RESPONSE_MESSAGE)[1:]),
        "not a Request Message",
    ),
    "Batch Count disagrees": (
        lambda: patched(base_message(), BATCH_COUNT + 8, struct.pack(">i", 2)),
        "Batch Count is 2",
    ),
    "no Protocol Version": (lambda: tree_edit(drop_protocol_version), "no Protocol Version"),
}


@pytest.mark.parametrize(("corrupt", "complaint"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_ttlv_is_invalid_message_and_the_connection_goes_on(
    kmip_server: RunningServer, corrupt: Callable[[], bytes], complaint: str
) -> None:
    data = corrupt()
    assert data != base_message()
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(data)
        response = read_response(sock)
        assert response.version() in SPOKEN and response.version() <= VERSION
        item = only_failure(response)
        assert item.result_reason is ResultReason.INVALID_MESSAGE
        assert complaint in (item.result_message or "")
        assert_answers_normally(sock)  # the frame was whole, so the stream is still in step
    assert_serves(kmip_server)


def test_a_stream_that_ends_mid_message_is_closed_without_an_answer(kmip_server: RunningServer) -> None:
    whole = discover_versions()
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(whole[: len(whole) // 2])
        sock.unwrap()  # TLS close_notify: the client has nothing more to say
        assert read_frame(sock) is None
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(whole[:5])  # not even a whole header
        sock.unwrap()
        assert read_frame(sock) is None
    assert_serves(kmip_server)


def server_rss_kib(server: RunningServer) -> int:
    assert server.process is not None
    for line in Path(f"/proc/{server.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize(
    ("header", "complaint"),
    [
        (HEADER.pack(Tag.REQUEST_MESSAGE << 8 | STRUCTURE, 100_000_000), "exceeds the limit"),
        (HEADER.pack(Tag.REQUEST_MESSAGE << 8 | STRUCTURE, 0xFFFF_FFF8), "exceeds the limit"),
        (HEADER.pack(Tag.REQUEST_MESSAGE << 8 | INTEGER, 4), "must be a Structure"),
        (HEADER.pack(Tag.REQUEST_MESSAGE << 8 | STRUCTURE, 12), "not a multiple of 8"),
    ],
    ids=["100 MB", "4 GB", "not a structure", "unaligned length"],
)
def test_an_impossible_frame_header_is_refused_at_once_and_the_connection_closed(
    kmip_server: RunningServer, header: bytes, complaint: str
) -> None:
    """Refused after its 8 bytes: the server neither waits for nor buffers the claimed body."""
    before = server_rss_kib(kmip_server)
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        assert_answers_normally(sock)
        sock.sendall(header)
        item = only_failure(read_response(sock))
        assert item.result_reason is ResultReason.INVALID_MESSAGE
        assert complaint in (item.result_message or "")
        assert seconds_until_closed(sock, within=IO_TIMEOUT) < IO_TIMEOUT
    assert server_rss_kib(kmip_server) - before < 20_000  # no 100 MB buffer was allocated
    assert_serves(kmip_server)


def with_raw_payload(message: RequestMessage, payload: bytes) -> bytes:
    """`message` (one batch item, an empty payload) with `payload` spliced in as raw bytes."""
    data = message.encode()
    empty = offset_of(data, Tag.REQUEST_PAYLOAD, STRUCTURE)
    assert HEADER.unpack_from(data, empty)[1] == 0 and empty + HEADER.size == len(data)
    grown = data[:empty] + payload
    for tag in (Tag.REQUEST_MESSAGE, Tag.BATCH_ITEM):  # the payload's ancestors grow with it
        grown = with_length(grown, tag, STRUCTURE, lambda n: n + len(payload) - HEADER.size)
    return grown


def test_10000_deep_nesting_is_invalid_message(kmip_server: RunningServer) -> None:
    """A payload of 10,000 nested structures (80 kB) is refused by the depth limit, not by recursion."""
    data = with_raw_payload(
        request(VERSION, DiscoverVersionsRequest()), nested_structures(Tag.REQUEST_PAYLOAD, 10_000)
    )
    assert len(data) > 80_000
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(data)
        item = only_failure(read_response(sock))
        assert item.result_reason is ResultReason.INVALID_MESSAGE
        assert "nested deeper" in (item.result_message or "")
        assert_answers_normally(sock)
    assert_serves(kmip_server)


def with_operation(message: RequestMessage, index: int, value: int) -> bytes:
    tree = message.to_item()
    batch_item = list(tree.find_all(Tag.BATCH_ITEM))[index]
    operation = batch_item.find(Tag.OPERATION)
    assert operation is not None
    operation.value = value
    return binary.encode(tree)


@pytest.mark.parametrize(
    ("version", "value"),
    [((1, 0), 0x0000_7777), ((1, 4), 0x0000_7777), ((2, 1), 0x8000_0001)],
    ids=["1.0 undefined", "1.4 undefined", "2.1 vendor extension"],
)
def test_an_unknown_operation_is_operation_not_supported(
    kmip_server: RunningServer, version: Version, value: int
) -> None:
    """Only that batch item fails (Continue): the items around it still run."""
    message = request(
        version,
        DiscoverVersionsRequest(),
        DiscoverVersionsRequest(),
        QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS]),
        batch_error_continuation_option=BatchErrorContinuationOption.CONTINUE,
    )
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(with_operation(message, 1, value))
        response = read_response(sock)
    assert response.version() == version
    first, unknown, query = response.batch_items
    assert (first.result_status, query.result_status) == (ResultStatus.SUCCESS, ResultStatus.SUCCESS)
    assert unknown.result_status is ResultStatus.OPERATION_FAILED
    assert unknown.result_reason is ResultReason.OPERATION_NOT_SUPPORTED
    assert (unknown.operation, unknown.unique_batch_item_id) == (value, (1).to_bytes(4, "big"))
    assert value not in query.response_payload.operations
    assert_serves(kmip_server)


@pytest.mark.parametrize(
    ("asked", "answered", "reason"),
    [
        ((3, 0), (2, 1), ResultReason.UNSUPPORTED_PROTOCOL_VERSION),
        ((2, 2), (2, 1), ResultReason.UNSUPPORTED_PROTOCOL_VERSION),
        # KMIP 1.x has no Unsupported Protocol Version: Invalid Message is its closest reason.
        ((1, 5), (1, 4), ResultReason.INVALID_MESSAGE),
        ((0, 9), (1, 0), ResultReason.INVALID_MESSAGE),
    ],
    ids=["3.0", "2.2", "1.5", "0.9"],
)
def test_an_unsupported_version_is_refused_in_a_version_the_client_reads(
    kmip_server: RunningServer, asked: Version, answered: Version, reason: ResultReason
) -> None:
    tree = request(VERSION, DiscoverVersionsRequest()).to_item()
    header = tree.find(Tag.REQUEST_HEADER)
    protocol_version = header.find(Tag.PROTOCOL_VERSION) if header is not None else None
    assert protocol_version is not None
    for tag, number in zip((Tag.PROTOCOL_VERSION_MAJOR, Tag.PROTOCOL_VERSION_MINOR), asked, strict=True):
        field = protocol_version.find(tag)
        assert field is not None
        field.value = number
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(binary.encode(tree))
        response = read_response(sock)
        assert response.version() == answered
        item = only_failure(response)
        assert item.result_reason is reason
        assert f"{asked[0]}.{asked[1]}" in (item.result_message or "")
        assert_answers_normally(sock)
    assert_serves(kmip_server)


def test_clients_that_hang_up_before_their_answer_leave_the_server_serving(
    kmip_server: RunningServer,
) -> None:
    """Twenty clients send a Create and reset the connection (RST) without reading the answer."""
    create = request(VERSION, aes_create(VERSION, 128)).encode()
    for _ in range(20):
        with raw_tls(kmip_server, kmip_server.client_identity("bad-input-rude")) as sock:
            sock.sendall(create)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert_serves(kmip_server)


# --- refused handshakes, while another client is connected --------------------------------


def assert_refused(opening: Callable[[], AbstractContextManager[ssl.SSLSocket | socket.socket]]) -> None:
    """The connection is dropped before any KMIP answer, in the handshake or at the first read."""
    try:
        with opening() as sock:
            sock.sendall(discover_versions())
            data = sock.recv(4096)
    except (ssl.SSLError, ConnectionError):
        return
    assert data == b"", f"a refused client got {data[:40].hex()}"


@pytest.fixture(scope="module")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """Another server's data directory: a CA of its own, which ours must not trust."""
    other = start_server(tmp_path_factory.mktemp("stranger"))
    yield other
    other.stop(signal.SIGKILL)


HANDSHAKES = ["no certificate", "another CA", "another CA, a victim's name", "plain TCP"]


@pytest.mark.parametrize("handshake", HANDSHAKES)
def test_a_refused_client_does_not_disturb_a_connected_one(
    kmip_server: RunningServer, stranger_ca: RunningServer, handshake: str
) -> None:
    address = (kmip_server.host, kmip_server.port)
    with kmip_server.client("bad-input-victim", version=VERSION) as victim:
        uid = victim.call(aes_create(VERSION, 128)).unique_identifier
        if handshake == "no certificate":
            assert_refused(lambda: raw_tls(kmip_server, None))
        elif handshake == "plain TCP":
            assert_refused(lambda: socket.create_connection(address, timeout=IO_TIMEOUT))
        else:
            # The stranger's CA issues a certificate, possibly in our victim's name.
            stranger = stranger_ca.client_identity("bad-input-victim" if "name" in handshake else "stranger")
            assert_refused(lambda: raw_tls(kmip_server, stranger))
        assert uid in victim.call(LocateRequest(attribute_list=[])).unique_identifiers
    assert_serves(kmip_server)


@pytest.mark.parametrize(
    ("tls", "handshake", "alert"),
    [
        (ssl.TLSVersion.TLSv1_2, "no certificate", "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        (ssl.TLSVersion.TLSv1_2, "another CA", "TLSV1_ALERT_UNKNOWN_CA"),
        (ssl.TLSVersion.TLSv1_3, "no certificate", "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
        (ssl.TLSVersion.TLSv1_3, "another CA", "TLSV1_ALERT_UNKNOWN_CA"),
    ],
    ids=["1.2 no certificate", "1.2 another CA", "1.3 no certificate", "1.3 another CA"],
)
def test_a_refused_client_is_told_why_by_a_tls_alert(
    kmip_server: RunningServer, stranger_ca: RunningServer, tls: ssl.TLSVersion, handshake: str, alert: str
) -> None:
    """The alert RFC 8446 §6.2 asks for: in the handshake (TLS 1.2), or at the first read (TLS 1.3)."""
    context = ssl.create_default_context(cafile=str(kmip_server.client_identity().ca))
    context.minimum_version = context.maximum_version = tls
    if handshake == "another CA":
        stranger = stranger_ca.client_identity("stranger")
        context.load_cert_chain(str(stranger.cert), str(stranger.key))
    address = (kmip_server.host, kmip_server.port)
    with (
        socket.create_connection(address, timeout=IO_TIMEOUT) as raw,
        pytest.raises(ssl.SSLError) as failure,
        context.wrap_socket(raw, server_hostname=kmip_server.host) as sock,
    ):
        sock.sendall(discover_versions())
        sock.recv(4096)
    assert failure.value.reason == alert


# --- slow and silent peers ------------------------------------------------------------------

READ_TIMEOUT, IDLE_TIMEOUT = 1.0, 6.0  # far apart, so a loaded machine cannot mix them up


@pytest.fixture(scope="module")
def impatient_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A private server with a 1 s read timeout and a 6 s idle timeout."""
    server = start_server(tmp_path_factory.mktemp("impatient"))
    reconfigure(server, "server", read_timeout=READ_TIMEOUT, idle_timeout=IDLE_TIMEOUT)
    yield server
    server.stop(signal.SIGKILL)


def test_half_a_message_then_silence_is_cut_off_after_the_read_timeout(
    impatient_server: RunningServer,
) -> None:
    whole = discover_versions()
    with raw_tls(impatient_server, impatient_server.client_identity("slow")) as sock:
        sock.sendall(whole[: len(whole) // 2])
        waited = seconds_until_closed(sock, within=IDLE_TIMEOUT + 5)
    assert READ_TIMEOUT * 0.5 < waited < IDLE_TIMEOUT  # the read timeout, not the idle one


def test_trickling_bytes_does_not_extend_the_read_timeout(impatient_server: RunningServer) -> None:
    """The read timeout runs from a message's first byte: a byte every 0.25 s cannot hold the line."""
    whole = discover_versions()
    with raw_tls(impatient_server, impatient_server.client_identity("slow")) as sock:
        started = time.monotonic()
        for index in range(len(whole) - 1):
            try:
                sock.sendall(whole[index : index + 1])
            except (ssl.SSLError, ConnectionError):
                break
            time.sleep(0.25)
            if time.monotonic() - started > IDLE_TIMEOUT + 5:
                raise AssertionError("the server let a trickling client keep its connection")
        closed_after = time.monotonic() - started + seconds_until_closed(sock, within=IDLE_TIMEOUT)
    assert closed_after < IDLE_TIMEOUT


def test_an_idle_connection_is_closed_after_the_idle_timeout(impatient_server: RunningServer) -> None:
    with raw_tls(impatient_server, impatient_server.client_identity("slow")) as sock:
        assert_answers_normally(sock)
        waited = seconds_until_closed(sock, within=IDLE_TIMEOUT + 5)
    assert IDLE_TIMEOUT * 0.75 < waited < IDLE_TIMEOUT + 3


def test_a_silent_tls_handshake_is_cut_off_after_the_read_timeout(impatient_server: RunningServer) -> None:
    with socket.create_connection((impatient_server.host, impatient_server.port), timeout=IO_TIMEOUT) as raw:
        started = time.monotonic()
        raw.settimeout(IDLE_TIMEOUT + 5)
        assert raw.recv(4096) == b""
    assert time.monotonic() - started < IDLE_TIMEOUT


STALLED = 20  # more connections stuck mid-message than the server has worker threads


def test_stalled_clients_do_not_hold_up_others(kmip_server: RunningServer) -> None:
    """Twenty connections stop inside a message; others are served, and the stalled ones may still finish."""
    whole = discover_versions()
    with contextlib.ExitStack() as stack:
        stalled = [
            stack.enter_context(raw_tls(kmip_server, kmip_server.client_identity("bad-input-slow")))
            for _ in range(STALLED)
        ]
        for sock in stalled:
            sock.sendall(whole[: HEADER.size + 8])
        assert_serves(kmip_server)  # within the client's own timeout, long before the read timeout
        for sock in stalled:
            sock.sendall(whole[HEADER.size + 8 :])
            (item,) = read_response(sock).batch_items
            assert item.result_status is ResultStatus.SUCCESS


def test_answers_are_in_order_when_requests_are_pipelined(kmip_server: RunningServer) -> None:
    """Three messages in one write: three answers, in order (the framing keeps the stream in step)."""
    versions = [(1, 0), (2, 1), (1, 4)]
    data = b"".join(request(v, DiscoverVersionsRequest()).encode() for v in versions)
    with raw_tls(kmip_server, kmip_server.client_identity("bad-input")) as sock:
        sock.sendall(data)
        answers: list[ResponseMessage] = [read_response(sock) for _ in versions]
    assert [answer.version() for answer in answers] == versions
    assert all(answer.batch_items[0].operation is Operation.DISCOVER_VERSIONS for answer in answers)
