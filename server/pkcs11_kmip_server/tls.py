"""Server-side TLS, sans I/O: OpenSSL memory buffers, ciphertext in and out.

asyncio's own TLS drops the alert OpenSSL writes when it refuses a handshake
(CPython gh-98078), so a client without a certificate, or with one from another CA,
would only see the connection close. Driving the TLS object ourselves lets every
alert reach the client. Doing no I/O here keeps the caller (transport.py, an asyncio
Protocol) free of awaits per record, and lets the tests drive both ends in memory.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

READ_CHUNK = 64 * 1024


class TlsSession:
    """One server-side TLS connection: feed it what the peer sent, send what it has to say.

    After every call, `outgoing()` holds the records to put on the wire (handshake
    messages, alerts, answers to a TLS 1.3 KeyUpdate, close_notify).
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self.established = False
        self.peer_closed = False  # the peer sent close_notify (or its stream ended uncleanly)

    def receive(self, data: bytes | memoryview) -> bytes:
        """Take ciphertext; return the application data it completes (often b"").

        Raises ssl.SSLError on a refused handshake or a broken record; the alert that
        tells the peer why is then in `outgoing()`.
        """
        self._incoming.write(data)
        if not self.established:
            try:
                self._tls.do_handshake()
            except ssl.SSLWantReadError:
                return b""
            self.established = True
        chunks = []
        # Checking the buffers first spares the SSLWantReadError a read would raise.
        while self._incoming.pending or self._tls.pending():
            try:
                chunk = self._tls.read(READ_CHUNK)
            except ssl.SSLWantReadError:
                break  # a partial record, or a record without application data
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                chunk = b""
            if not chunk:
                self.peer_closed = True
                break
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def send(self, data: bytes) -> None:
        """Encrypt application data into `outgoing()`."""
        self._tls.write(data)

    def outgoing(self) -> bytes:
        """The ciphertext to send now (b"" if none), taken out of the buffer."""
        return self._outgoing.read() if self._outgoing.pending else b""

    def close(self) -> None:
        """Queue close_notify, best effort (nothing after a refused handshake)."""
        if self.established:
            with contextlib.suppress(ssl.SSLError):
                self._tls.unwrap()  # SSLWantReadError: it would wait for the peer's close_notify

    def peer_certificate(self) -> dict[str, Any] | None:
        return self._tls.getpeercert()
