"""The network edge: asyncio TLS connections that move bytes to the engine and back.

TLS 1.2/1.3 only, a client certificate from the data directory's CA required. Each
connection reads whole messages through the sans-I/O framer and hands each one to a
worker thread (a separate few for long operations such as key pair generation, so
they hold up nobody); the event loop itself never decodes, queries the store or does
cryptography, so no connection waits for another's work. A peer that goes quiet in
the middle of a message, or stays idle too long, is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pkcs11_kmip.kmip.framing import MessageReader
from pkcs11_kmip.kmip.ttlv import CodecError
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.engine import Engine, Peer, is_long
from pkcs11_kmip_server.tls import READ_CHUNK, TlsStream

log = logging.getLogger("pkcs11_kmip_server.transport")


def server_tls_context(config: ServerConfig) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_cert_chain(str(config.path(config.certificate)), str(config.path(config.key)))
    context.load_verify_locations(cafile=str(config.path(config.ca)))
    context.set_ciphers(config.ciphers)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    return context


def principal_of(certificate: dict[str, Any] | None) -> str | None:
    """The subject CN of a verified peer certificate (as ssl reports it)."""
    if not certificate:
        return None
    for rdn in certificate.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


class KmipServer:
    def __init__(self, config: ServerConfig, engine: Engine) -> None:
        self.config = config
        self.engine = engine
        self.workers = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="kmip-worker")
        self.long_workers = ThreadPoolExecutor(
            max_workers=config.long_workers, thread_name_prefix="kmip-long"
        )
        self._tls_context = server_tls_context(config)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection,
            self.config.host,
            self.config.port,
            limit=READ_CHUNK,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop accepting, let the messages in progress finish, close connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        self.workers.shutdown(wait=True)
        self.long_workers.shutdown(wait=True)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        address = str(writer.get_extra_info("peername"))
        stream = TlsStream(reader, writer, self._tls_context)
        try:
            await asyncio.wait_for(stream.handshake(), timeout=self.config.read_timeout)
            peer = Peer(principal_of(stream.peer_certificate()), address)
            await self._exchange(stream, peer)
        except TimeoutError:
            log.info("closing %s: no TLS handshake in time", address)
        except (ConnectionError, ssl.SSLError) as error:
            log.debug("connection from %s ended: %s", address, error)
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(stream.close(), timeout=5)
                await asyncio.wait_for(writer.wait_closed(), timeout=5)

    async def _exchange(self, stream: TlsStream, peer: Peer) -> None:
        loop = asyncio.get_running_loop()
        framer = MessageReader(self.config.limits)
        started = 0.0  # when the message being read began arriving
        while True:
            if framer.mid_message:
                timeout = max(self.config.read_timeout - (time.monotonic() - started), 0.01)
            else:
                timeout = self.config.idle_timeout
            try:
                chunk = await asyncio.wait_for(stream.read(), timeout=timeout)
            except TimeoutError:
                log.info(
                    "closing %s: %s", peer.address, "message incomplete" if framer.mid_message else "idle"
                )
                return
            if not chunk:
                return
            if not framer.mid_message:
                started = time.monotonic()
            framer.feed(chunk)
            while True:
                try:
                    message = framer.next_message()
                except CodecError as error:
                    # The stream cannot be resynchronised: answer once, then hang up.
                    log.info("refusing %s: %s", peer.address, error)
                    await stream.write(self.engine.refuse(str(error)))
                    return
                if message is None:
                    break
                pool = self.long_workers if is_long(message) else self.workers
                response = await loop.run_in_executor(pool, self.engine.handle, message, peer)
                await stream.write(response)
                if framer.mid_message:
                    started = time.monotonic()
