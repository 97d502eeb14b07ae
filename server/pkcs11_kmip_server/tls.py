"""TLS over a plain asyncio stream, through OpenSSL memory buffers.

asyncio's own TLS drops the alert OpenSSL writes when it refuses a handshake
(CPython gh-98078), so a client without a certificate, or with one from another CA,
would only see the connection close. Driving the TLS object ourselves lets every
alert reach the client; the work per byte is what asyncio's TLS does anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any

READ_CHUNK = 64 * 1024


class TlsStream:
    """One server-side TLS connection over `reader`/`writer`."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext):
        self._reader, self._writer = reader, writer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _fill(self) -> bool:
        """Move what the peer sent into OpenSSL; False at end of stream."""
        data = await self._reader.read(READ_CHUNK)
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True

    async def _flush_alert(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self._flush()

    async def handshake(self) -> None:
        """Complete the handshake; on refusal the alert is sent before SSLError is raised."""
        while True:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise ConnectionResetError(
                        "the peer closed the connection during the handshake"
                    ) from None
            except ssl.SSLError:
                await self._flush_alert()
                raise
            else:
                await self._flush()
                return

    def peer_certificate(self) -> dict[str, Any] | None:
        return self._tls.getpeercert()

    async def read(self) -> bytes:
        """The next application data; b"" once the peer has closed."""
        while True:
            try:
                return self._tls.read(READ_CHUNK)
            except ssl.SSLWantReadError:
                await self._flush()  # e.g. a TLS 1.3 KeyUpdate answer
                await self._fill()
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError:
                await self._flush_alert()
                raise

    async def write(self, data: bytes) -> None:
        self._tls.write(data)
        await self._flush()

    async def close(self) -> None:
        """Send close_notify (best effort) and close the socket."""
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            self._tls.unwrap()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self._flush()
        self._writer.close()
