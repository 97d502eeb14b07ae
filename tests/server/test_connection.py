"""The network edge in-process: the sans-I/O TLS session, and the Protocol with a stand-in engine.

The end-to-end behaviour (timeouts, alerts, hostile frames) is tested against the real
server in test_bad_input.py; here are the pieces those tests cannot see: both TLS ends
in memory, one message at a time per connection, and a shutdown that still answers
the message in progress.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import initialize
from pkcs11_kmip_server.engine import Peer
from pkcs11_kmip_server.tls import TlsSession
from pkcs11_kmip_server.transport import KmipServer, server_tls_context

REQUEST_MESSAGE = 0x420078 << 8 | 0x01  # tag and type of a frame header


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerConfig]:
    data_dir = tmp_path_factory.mktemp("edge")
    initialize(data_dir, "127.0.0.1", 0)
    loaded = ServerConfig.load(data_dir)
    loaded.port = 0
    yield loaded


def client_context(config: ServerConfig, certificate: bool = True) -> ssl.SSLContext:
    admin = config.data_dir / "clients" / "admin"
    context = ssl.create_default_context(cafile=str(admin / "ca.crt"))
    if certificate:
        context.load_cert_chain(str(admin / "client.crt"), str(admin / "client.key"))
    return context


class MemoryClient:
    """The client end of a TLS connection held in memory, talking to a TlsSession."""

    def __init__(self, context: ssl.SSLContext, server: TlsSession) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="127.0.0.1")
        self.server = server

    def exchange(self) -> bytes:
        """Client records to the server, the server's back; what the server's app received."""
        received = self.server.receive(self.outgoing.read())
        self.incoming.write(self.server.outgoing())
        return received

    def handshake(self) -> None:
        for _ in range(10):
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                self.exchange()
        raise AssertionError("no handshake after 10 flights")


def test_tls_session_handshake_data_and_close_notify(config: ServerConfig) -> None:
    session = TlsSession(server_tls_context(config))
    client = MemoryClient(client_context(config), session)
    client.handshake()
    client.exchange()  # the client's Finished
    assert session.established
    assert session.peer_certificate() is not None
    client.tls.write(b"request")
    assert client.exchange() == b"request"
    session.send(b"answer")
    client.incoming.write(session.outgoing())
    assert client.tls.read(100) == b"answer"
    assert session.outgoing() == b""
    with pytest.raises(ssl.SSLWantReadError):
        client.tls.unwrap()
    assert client.exchange() == b""
    assert session.peer_closed
    session.close()
    client.incoming.write(session.outgoing())
    client.tls.unwrap()  # the server's close_notify arrived


@pytest.mark.parametrize(
    ("version", "alert"),
    [
        (ssl.TLSVersion.TLSv1_2, "SSLV3_ALERT_HANDSHAKE_FAILURE"),
        (ssl.TLSVersion.TLSv1_3, "TLSV13_ALERT_CERTIFICATE_REQUIRED"),
    ],
)
def test_a_refused_handshake_leaves_the_alert_to_send(
    config: ServerConfig, version: ssl.TLSVersion, alert: str
) -> None:
    session = TlsSession(server_tls_context(config))
    context = client_context(config, certificate=False)
    context.minimum_version = context.maximum_version = version
    client = MemoryClient(context, session)
    with pytest.raises(ssl.SSLError):  # raised by the server's end
        client.handshake()
        client.tls.write(b"request")  # TLS 1.3: the server decides after the client's Finished
        client.exchange()
    assert not session.established
    client.incoming.write(session.outgoing())
    with pytest.raises(ssl.SSLError) as told:
        client.tls.read(100)
    assert told.value.reason == alert


def frame(index: int) -> bytes:
    return struct.pack(">IIQ", REQUEST_MESSAGE, 8, index)


class StandInEngine:
    """Echoes each message; counts how many run at once; can hold them at a gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()
        self.peers: list[Peer] = []
        self._lock = threading.Lock()
        self._running = 0
        self.most_at_once = 0

    def handle(self, data: bytes, peer: Peer) -> bytes:
        with self._lock:
            self._running += 1
            self.most_at_once = max(self.most_at_once, self._running)
            self.peers.append(peer)
        self.started.set()
        self.gate.wait(10)
        with self._lock:
            self._running -= 1
        return data

    def refuse(self, message: str) -> bytes:
        return f"refused: {message}".encode()

    def answer_from_loop(self, data: bytes, peer: Peer, done: Callable[[bytes], None]) -> bool:
        return False  # every message goes to a worker thread

    def idle_timeout(self, peer: Peer, default: float) -> float:
        return default

    def connection_closed(self, peer: Peer) -> None:
        pass


async def serve(config: ServerConfig, engine: StandInEngine) -> KmipServer:
    engine_for_server: Any = engine  # the Engine's methods the edge calls
    server = KmipServer(config, engine_for_server)
    await server.start()
    return server


async def connect(
    config: ServerConfig, server: KmipServer
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(
        "127.0.0.1", server.port, ssl=client_context(config), server_hostname="127.0.0.1"
    )


def test_pipelined_messages_are_answered_in_order_one_at_a_time(config: ServerConfig) -> None:
    async def scenario() -> None:
        engine = StandInEngine()
        server = await serve(config, engine)
        try:
            reader, writer = await connect(config, server)
            writer.write(b"".join(frame(index) for index in range(5)))
            for index in range(5):
                assert await asyncio.wait_for(reader.readexactly(16), 10) == frame(index)
            writer.close()
        finally:
            await server.stop()
        assert engine.most_at_once == 1
        assert {peer.principal for peer in engine.peers} == {"admin"}

    asyncio.run(scenario())


def test_a_bad_frame_header_is_refused_once_after_the_messages_before_it(config: ServerConfig) -> None:
    async def scenario() -> None:
        server = await serve(config, StandInEngine())
        try:
            reader, writer = await connect(config, server)
            writer.write(frame(1) + struct.pack(">II", REQUEST_MESSAGE, 12))
            assert await asyncio.wait_for(reader.readexactly(16), 10) == frame(1)
            refusal = await asyncio.wait_for(reader.read(), 10)  # then the end of the stream
            assert refusal.startswith(b"refused: ") and b"multiple of 8" in refusal
            writer.close()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_stop_answers_the_message_in_progress_then_closes(config: ServerConfig) -> None:
    async def scenario() -> None:
        engine = StandInEngine()
        engine.gate.clear()
        server = await serve(config, engine)
        reader, writer = await connect(config, server)
        idle_reader, idle_writer = await connect(config, server)
        writer.write(frame(7) + frame(8))  # the second one is never started
        await asyncio.get_running_loop().run_in_executor(None, engine.started.wait, 10)
        stopping = asyncio.create_task(server.stop())
        await asyncio.sleep(0.2)
        assert not stopping.done()  # waiting for the message in progress
        assert await asyncio.wait_for(idle_reader.read(), 10) == b""  # idle connections close at once
        engine.gate.set()
        assert await asyncio.wait_for(reader.read(), 10) == frame(7)
        await asyncio.wait_for(stopping, 10)
        assert len(engine.peers) == 1
        assert not server.connections
        for closing in (writer, idle_writer):
            closing.close()

    asyncio.run(scenario())
