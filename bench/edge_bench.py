"""The event loop's share of a Create, in process: the edge's Python and TLS without sockets.

    .venv/bin/python bench/edge_bench.py                        # 3 rounds of 20,000 Creates
    .venv/bin/python bench/edge_bench.py --loop asyncio --rounds 5 --messages 40000

Drives the server's real KmipServer, KmipConnection and TlsSession (TLS 1.2, the cipher
suite kmip_load.py uses) on a real event loop (uvloop or asyncio), with a transport that
keeps what is written and a writer that answers every group at once with canned bytes: per
message, the ciphertext of kmip_load.py's Create goes in through `buffer_updated`, the
message to the writer at the loop turn's end, its answer back through `_send_answers`,
TLS and `transport.write`. What is timed is the loop thread's CPU for that, with the
client's TLS outside the timers. Sockets, epoll and the kernel are not in it (see
kmip_load.py's `threads ms/op` for the whole loop thread over TLS): this is what the
edge's own code costs, steady enough on a shared machine to compare two trees
(PYTHONPATH=<tree>/server:<tree>, alternated) where the whole load's figures are not.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from create_group_bench import create_message
from kmip_load import SAME_TLS_CIPHER

from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import initialize
from pkcs11_kmip_server.engine import Peer
from pkcs11_kmip_server.transport import KmipConnection, KmipServer

ANSWER = bytes(200)  # about a Create response's size; the edge never reads it


class KeptTransport(asyncio.Transport):
    """What the connection writes, kept for the client to read."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()

    def write(self, data: Any) -> None:
        self.written += data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class AnsweringWriter:
    """Stands in for group_commit.GroupCommit: answers each group as it is submitted."""

    def __init__(self, server: KmipServer) -> None:
        self.server = server

    def submit(self, messages: Sequence[tuple[bytes, Peer, KmipConnection]]) -> None:
        self.server._answered_group([(to, ANSWER) for _, _, to in messages])

    def close(self) -> None:
        pass


class Client:
    """The client's end of one connection, in memory."""

    def __init__(self, data_dir: Path, connection: KmipConnection, transport: KeptTransport) -> None:
        admin = data_dir / "clients" / "admin"
        context = ssl.create_default_context(cafile=str(admin / "ca.crt"))
        context.load_cert_chain(str(admin / "client.crt"), str(admin / "client.key"))
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(SAME_TLS_CIPHER)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="127.0.0.1")
        self.connection, self.transport = connection, transport

    def to_server(self, data: bytes) -> None:
        """What a socket read would do: the bytes into the server's buffer, then the protocol."""
        buffer = self.connection.get_buffer(len(data))
        buffer[: len(data)] = data
        self.connection.buffer_updated(len(data))

    def from_server(self) -> bytes:
        self.incoming.write(bytes(self.transport.written))
        self.transport.written.clear()
        received = bytearray()
        while True:
            try:
                received += self.tls.read(65536)
            except ssl.SSLWantReadError:
                return bytes(received)

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.to_server(self.outgoing.read())
                self.from_server()
        self.to_server(self.outgoing.read())  # the client's Finished
        self.from_server()


async def measure(data_dir: Path, messages: int) -> float:
    """CPU microseconds of the loop's thread per Create, the client's TLS excluded."""
    config = ServerConfig.load(data_dir)
    engine: Any = StandInEngine()
    server = KmipServer(config, engine)
    server.writer.close()
    writer: Any = AnsweringWriter(server)
    server.writer = writer
    server._loop = asyncio.get_running_loop()
    connection = KmipConnection(server)
    transport = KeptTransport()
    connection.connection_made(transport)
    client = Client(data_dir, connection, transport)
    await client.handshake()
    message = create_message("edge")
    spent = 0.0
    for index in range(messages + 200):
        client.tls.write(message)
        record = client.outgoing.read()
        start = time.thread_time()
        client.to_server(record)
        await asyncio.sleep(0)  # the turn's end: the message to the writer, which answers
        await asyncio.sleep(0)  # the next turn: the answers sent
        end = time.thread_time()
        if client.from_server() != ANSWER:
            raise RuntimeError("no answer")
        if index >= 200:
            spent += end - start
    connection.connection_lost(None)
    server.workers.shutdown()
    server.long_workers.shutdown()
    return spent / messages * 1e6


class StandInEngine:
    """The Engine's methods the edge calls for a Create (it never reaches handle)."""

    def idle_timeout(self, peer: Peer, default: float) -> float:
        return default

    def connection_closed(self, peer: Peer) -> None:
        pass


def loop_of(kind: str) -> Any:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        initialize(data_dir, "127.0.0.1", 0)
        figures = []
        for round_index in range(1, args.rounds + 1):
            with asyncio.Runner(loop_factory=loop_of(args.loop)) as runner:
                figure = runner.run(measure(data_dir, args.messages))
            figures.append(figure)
            print(f"round {round_index} {args.loop}: {figure:.1f} us CPU per Create on the loop", flush=True)
    print(f"{args.loop}: min {min(figures):.1f} median {statistics.median(figures):.1f} us per Create")
    return 0


if __name__ == "__main__":
    sys.exit(main())
