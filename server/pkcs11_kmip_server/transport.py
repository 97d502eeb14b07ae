"""The network edge: asyncio TLS connections that move bytes to the engine and back.

TLS 1.2/1.3 only, a client certificate from the data directory's CA required. Each
connection is an asyncio BufferedProtocol driving a sans-I/O TLS session (tls.py) and
the sans-I/O framer, with no coroutine, task or per-read timer in the path of a
message: the socket is read into one buffer the server shares, whole messages go to a
worker thread (a separate few for long operations such as key pair generation, so
they hold up nobody; quick writes such as Create to the one writer thread, which
commits those queued together in one transaction: group_commit.py, handed the messages
of one loop turn at once), and the answers come back to the loop in batches. The event
loop itself does no cryptography and runs no store transaction, so no connection waits
for another's work; it recognises two kinds of message by their exact bytes: the plain
PKCS#11 call the library writes, which the fast lane (fast_lane.py) hands straight to
the context's HSM worker pipe and answers when the pipe is readable, and a plain Get
from the object's owner, which the Get lane (get_lane.py) answers at once from one
indexed read that never waits for a lock and an answer kept while the object's row is
unchanged, and likewise a plain Encrypt, Decrypt or MAC of at most 4 KB (crypto_lane.py, with
the key and the checks' verdict kept per row); all write the general path's audit
line. One message per connection is in flight at a time, so pipelined requests are
answered in order. A peer that goes quiet in the middle of a message, or stays idle too
long, is disconnected. Each connection has an id, carried in its Peer; when it ends,
however it ends, the engine is told (PKCS#11 contexts are bound to the connection that
opened them, and end with it).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import logging
import ssl
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from pkcs11_kmip.kmip.framing import MessageReader
from pkcs11_kmip.kmip.ttlv import CodecError
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.crypto_lane import CryptoLane
from pkcs11_kmip_server.engine import Engine, Peer, is_grouped, is_long
from pkcs11_kmip_server.get_lane import GetLane
from pkcs11_kmip_server.group_commit import GroupCommit
from pkcs11_kmip_server.tls import READ_CHUNK, TlsSession

log = logging.getLogger("pkcs11_kmip_server.transport")

# How long a closing connection may take to flush its last bytes before it is aborted.
CLOSE_GRACE = 5.0
AT_ONCE = 16  # messages a connection may have answered on the loop in one turn (the Get lane)
_connection_ids = itertools.count(1)  # next() is atomic in CPython; the loop calls it anyway


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
        # Quick writes, queued ones in one transaction; those one loop turn read go together.
        self.writer: GroupCommit[KmipConnection] = GroupCommit(engine, self._answered_group)
        self._for_writer: list[tuple[bytes, Peer, KmipConnection]] = []
        self.tls_context = server_tls_context(config)
        self.get_lane = GetLane(engine)  # plain Gets answered on the loop
        self.crypto_lane = CryptoLane(engine)  # plain Encrypts, Decrypts and MACs of small data, too
        self.connections: set[KmipConnection] = set()
        self.stopping = False
        # What every connection's socket reads into (asyncio would allocate 256 kB per read,
        # an mmap and munmap each time). One is enough: the loop fills it, and the
        # connection has copied the bytes into OpenSSL before the next read.
        self.read_buffer = memoryview(bytearray(READ_CHUNK))
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Answers the workers finished, for the loop to send. One wake-up of the loop
        # (a byte through its self-pipe) serves every answer that arrives before it
        # runs: under load that is one syscall per loop turn, not one per message.
        self._answers: deque[tuple[KmipConnection, bytes | BaseException]] = deque()
        self._wake_pending = False

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        # Several server processes (supervisor.py) each listen on the port; the kernel
        # spreads the new connections over them.
        self._server = await loop.create_server(
            lambda: KmipConnection(self),
            self.config.host,
            self.config.port,
            reuse_port=self.config.processes > 1,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop accepting, let the messages in progress finish and be answered, close connections."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        connections = list(self.connections)
        for connection in connections:
            connection.shut_down()
        if connections:
            await asyncio.gather(*(connection.closed for connection in connections))
        self.workers.shutdown(wait=True)
        self.long_workers.shutdown(wait=True)
        self.writer.close()

    def lane_answer(self, message: bytes, peer: Peer) -> bytes | None:
        """On the loop: the answer to a plain Get (get_lane.py) or a plain small Encrypt,
        Decrypt or MAC (crypto_lane.py) from the object's owner, or None for the engine's
        threads. A failure of a lane leaves the message to them."""
        try:
            return self.get_lane.answer(message, peer) or self.crypto_lane.answer(message, peer)
        except Exception:
            log.exception("a lane failed; the general path answers")
            return None

    def to_writer(self, connection: KmipConnection, message: bytes, peer: Peer) -> None:
        """On the loop: a quick write for the writer thread. The messages one turn of the
        loop reads go to it together at the turn's end: one hand-over (and at most one
        wake-up of the writer) for all of them, and a larger group."""
        if not self._for_writer:
            assert self._loop is not None
            self._loop.call_soon(self._hand_to_writer)
        self._for_writer.append((message, peer, connection))

    def _hand_to_writer(self) -> None:
        messages, self._for_writer = self._for_writer, []
        self.writer.submit(messages)

    def answered(self, connection: KmipConnection, work: concurrent.futures.Future[bytes]) -> None:
        """In a worker thread, the future done: queue its answer for the loop."""
        outcome: bytes | BaseException
        if work.cancelled():
            outcome = concurrent.futures.CancelledError()
        else:
            outcome = work.exception() or work.result()
        self._answers.append((connection, outcome))
        self._wake()

    def _answered_group(self, answers: list[tuple[KmipConnection, bytes | Exception]]) -> None:
        """In the writer thread, its group committed: queue the group's answers for the loop."""
        self._answers.extend(answers)
        self._wake()

    def _wake(self) -> None:
        """Wake the loop to send the queued answers, unless a wake-up is pending.

        The order matters: answers are queued before the flag is read, and the loop
        clears the flag before it empties the queue, so no answer waits unseen.
        """
        if not self._wake_pending:
            self._wake_pending = True
            assert self._loop is not None
            with contextlib.suppress(RuntimeError):  # the loop is gone: the server stopped
                self._loop.call_soon_threadsafe(self._send_answers)

    def _send_answers(self) -> None:
        self._wake_pending = False
        answers = self._answers
        while answers:
            connection, outcome = answers.popleft()
            try:
                connection.answer(outcome)
            except Exception:  # one connection's failure must not strand the others' answers
                log.exception("sending an answer failed")
                connection.shut_down()


class KmipConnection(asyncio.BufferedProtocol):
    """One client connection: TLS, framing, one message at a time to the workers.

    Deadlines rather than timers per read: `_deadline` is when the current wait ends
    (the handshake, the rest of a message from its first byte, or the next message).
    It is set when a wait begins, never by the bytes that follow, so trickling bytes
    cannot extend it; one timer handle chases it, re-armed only when it fires early
    or the deadline comes closer, so a message usually costs no timer churn at all.
    """

    def __init__(self, server: KmipServer) -> None:
        self._server = server
        self._config = server.config
        self._loop = asyncio.get_running_loop()
        self._tls = TlsSession(server.tls_context)
        self._framer = MessageReader(server.config.limits)
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._id = next(_connection_ids)
        self._peer = Peer(None, connection=self._id)
        self._started = 0.0  # when the message being read began arriving
        self._deadline: float | None = None  # None while a message is with the engine
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False  # a message is with the engine
        self._reading_paused = False
        self._writing_paused = False
        self._peer_done = False  # no more requests will come (close_notify or end of stream)
        self._stopping = False
        self._closing = False
        self._abort_timer: asyncio.TimerHandle | None = None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # --- asyncio.BufferedProtocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but are one.
        self._transport = cast(asyncio.Transport, transport)
        self._address = _host_port(transport.get_extra_info("peername"))
        self._server.connections.add(self)
        self._set_deadline(self._loop.time() + self._config.read_timeout)  # for the handshake
        if self._server.stopping:  # accepted just before the server stopped listening
            self.shut_down()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._server.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self._closing:
            return
        data = self._server.read_buffer[:nbytes]
        was_established = self._tls.established
        try:
            plaintext = self._tls.receive(data)
        except ssl.SSLError as error:
            log.debug("connection from %s ended: %s", self._address, error)
            self._flush()  # the alert that tells the client why
            self._close(notify=False)
            return
        self._flush()
        if not was_established and self._tls.established:
            self._peer = Peer(principal_of(self._tls.peer_certificate()), self._address, self._id)
            self._set_deadline(self._loop.time() + self._config.idle_timeout)
        if plaintext:
            if not self._busy and not self._framer.mid_message:
                self._started = self._loop.time()
            self._framer.feed(plaintext)
        if self._tls.peer_closed:
            self._peer_done = True
        if self._busy or self._writing_paused:
            # Keep what arrived, but take no more until the answer is out (and read).
            if not self._reading_paused and not self._peer_done:
                self._reading_paused = True
                assert self._transport is not None
                self._transport.pause_reading()
        elif plaintext or self._peer_done:
            self._next()

    def eof_received(self) -> bool:
        """Keep the socket open for the answers still owed; close once they are out."""
        if not self._tls.established:
            return False  # the transport closes
        self._peer_done = True
        if not self._busy:
            self._next()
        return True

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if not self._busy:
            self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("connection from %s ended: %s", self._address, exc)
        self._closing = True
        self._deadline = None
        for timer in (self._timer, self._abort_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._abort_timer = None
        self._server.connections.discard(self)
        try:
            self._server.engine.connection_closed(self._peer)
        except Exception:  # the other connections must not lose their loop over it
            log.exception("ending the state of %s failed", self._address)
        if not self.closed.done():
            self.closed.set_result(None)

    # --- messages -------------------------------------------------------------------------

    def _next(self) -> None:
        """Hand the next whole message to a worker, or wait for one (with its deadline).

        A plain Get, or a plain small Encrypt, Decrypt or MAC, from the object's owner is answered
        here at once (get_lane.py, crypto_lane.py), and the message after it taken in the
        same turn.
        """
        for _ in range(AT_ONCE):
            if self._busy or self._closing or not self._tls.established:
                return
            if self._stopping:
                self._close()
                return
            if self._writing_paused:
                return  # resume_writing comes back here
            try:
                message = self._framer.next_message()
            except CodecError as error:
                # The stream cannot be resynchronised: answer once, then hang up.
                log.info("refusing %s: %s", self._address, error)
                self._send(self._server.engine.refuse(str(error)))
                self._close()
                return
            if message is None:
                if self._peer_done:
                    self._close()
                    return
                if self._framer.mid_message:
                    self._set_deadline(self._started + self._config.read_timeout)
                if self._reading_paused:
                    self._reading_paused = False
                    assert self._transport is not None
                    self._transport.resume_reading()
                return
            server = self._server
            if is_grouped(message):  # a quick write (never a lane's): to the writer thread
                self._busy = True
                self._deadline = None
                server.to_writer(self, message, self._peer)
                return
            response = server.lane_answer(message, self._peer)
            if response is not None:
                self._send(response)
                self._answered()
                continue
            self._busy = True
            self._deadline = None
            if server.engine.answer_from_loop(message, self._peer, self._answer_now):
                return  # a forwarded Cryptoki call: answered from this loop when its HSM worker replies
            # Straight to a thread and back with one call_soon_threadsafe: run_in_executor's
            # extra asyncio Future costs more than the rest of this edge (bench/kmip_load.py).
            pool = server.long_workers if is_long(message) else server.workers
            work = pool.submit(server.engine.handle, message, self._peer)
            work.add_done_callback(functools.partial(server.answered, self))
            return
        self._loop.call_soon(self._next)  # a client that pipelines Gets yields the loop to others

    def answer(self, outcome: bytes | BaseException) -> None:
        """In the loop: send a thread's answer (or close, if it failed), then take the next message."""
        self._busy = False
        if self._closing:
            return
        if isinstance(outcome, BaseException):
            log.error("no answer for %s", self._address, exc_info=outcome)
            self._close()
            return
        self._send(outcome)
        self._answered()
        self._next()

    def _answered(self) -> None:
        """An answer is out: the next wait begins (the rest of a message, or the next one)."""
        now = self._loop.time()
        if self._framer.mid_message:
            self._started = now
            self._set_deadline(now + self._config.read_timeout)
        else:
            self._set_deadline(now + self._server.engine.idle_timeout(self._peer, self._config.idle_timeout))

    def _answer_now(self, response: bytes) -> None:
        """In the loop: an answer made without a worker thread (the PKCS#11 fast lane)."""
        self.answer(response)

    def shut_down(self) -> None:
        """Take no more messages; close now, or once the one in progress is answered."""
        self._stopping = True
        if not self._busy:
            self._close()

    # --- deadlines ------------------------------------------------------------------------

    def _set_deadline(self, deadline: float) -> None:
        self._deadline = deadline
        if self._timer is None or deadline < self._timer.when():
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._expire)
        # else the timer fires earlier, finds the deadline moved on, and follows it

    def _expire(self) -> None:
        fired, self._timer = self._timer, None
        if self._deadline is None or self._closing or fired is None:
            return
        if self._deadline > fired.when():
            self._timer = self._loop.call_at(self._deadline, self._expire)
            return
        if not self._tls.established:
            reason = "no TLS handshake in time"
        else:
            reason = "message incomplete" if self._framer.mid_message else "idle"
        log.info("closing %s: %s", self._address, reason)
        self._close()

    # --- output ---------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        try:
            self._tls.send(data)
        except ssl.SSLError as error:
            log.debug("connection from %s ended: %s", self._address, error)
            self._close(notify=False)
            return
        self._flush()

    def _flush(self) -> None:
        data = self._tls.outgoing()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _close(self, notify: bool = True) -> None:
        """close_notify (best effort), then close once the last bytes are out, or abort."""
        if self._closing:
            return
        self._closing = True
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if notify:
            self._tls.close()
            self._flush()
        assert self._transport is not None
        self._transport.close()
        self._abort_timer = self._loop.call_later(CLOSE_GRACE, self._transport.abort)


def _host_port(peername: object) -> str:
    """HOST:PORT of a peer (IPv6 in brackets), for logs and the audit log."""
    if isinstance(peername, tuple) and len(peername) >= 2:
        host, port = peername[0], peername[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peername or "")
