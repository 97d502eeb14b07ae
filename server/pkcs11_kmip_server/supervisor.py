"""Several server processes on one port (`[server] processes = N`): the supervisor.

One Python process runs one thread at a time, so one server process uses at most one
core. With N > 1 the `pkcs11-kmip serve` process becomes a supervisor: it holds the
data directory's lock, reserves the port (a bound, never listening SO_REUSEPORT
socket, which also learns the port when the configuration asks for any free one) and
starts N server processes (`python -m pkcs11_kmip_server.supervisor`). Each opens its
own store connections, engine and listening socket on the port with SO_REUSEPORT, and
the kernel spreads new connections over them; a connection stays with its process.

What each process keeps to itself, and why that is correct:
  - the store's caches (grants, parsed keys, constraint rules) are checked against the
    database (the access and policy revisions, the key bytes, the rule text), not events
    of the process; every write goes through SQLite, which serializes writers;
  - asynchronous operations keep their state in the store (store.jobs), so Poll and
    Cancel work from any process;
  - streams (Correlation Value of Encrypt, Decrypt, Sign, ... in parts) hold live
    cipher state and stay in the process that started them: a part sent on a
    connection that another process serves gets Invalid Correlation Value, as for a
    value never issued (crypto/streams.py); a client continues a stream on the
    connection it started it on, or on any connection to the same process;
  - PKCS#11 contexts are bound to their connection, which never changes process.

SIGTERM or SIGINT stops every server process the same way a single server stops (the
messages in progress are answered) and then the supervisor. A server process that
ends otherwise is started again, after a pause that grows while they keep failing.
The supervisor's end (even SIGKILL) closes each process's stdin, and they stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import DataDirLock

log = logging.getLogger("pkcs11_kmip_server.supervisor")

READY = "pkcs11-kmip server process ready"  # what a server process prints once it listens
START_TIMEOUT = 60.0  # seconds a server process may take to listen
STOP_TIMEOUT = 60.0  # seconds the processes may take to answer what is in progress
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)  # pause before a restart, by recent failures
STEADY = 30.0  # a process that ran this long resets the failure count


class StartError(OSError):
    """A server process did not start (its log says why); an OSError, as a port in use
    is, so that `pkcs11-kmip serve` reports it the same way."""


def reserve_port(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with SO_REUSEPORT that never listens: it keeps the
    port for the server processes while they come and go, and receives no connections."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    try:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((host, port))
    except OSError:
        reserved.close()
        raise
    return reserved


@dataclass
class ServerProcess:
    """One server process: its slot, the process, and when it started."""

    index: int
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    ready: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Supervisor:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.processes: dict[int, ServerProcess] = {}
        self.port = config.port
        self._stopping = asyncio.Event()
        self._failures = 0

    async def run(self, ready: asyncio.Event | None = None) -> None:
        """Start the server processes, keep them running until SIGTERM/SIGINT, stop them."""
        lock = DataDirLock(self.config.data_dir)
        lock.acquire()
        reserved: socket.socket | None = None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        try:
            from pkcs11_kmip_server.serve import sweep_session_objects  # (serve imports this module)

            sweep_session_objects(self.config)  # before any process serves, not at its restarts
            reserved = reserve_port(self.config.host, self.config.port)
            self.port = reserved.getsockname()[1]
            for index in range(self.config.processes):
                await self._start(index)
            await asyncio.gather(*(p.ready for p in self.processes.values()))
            log.info(
                "%d server processes listening on %s:%d", len(self.processes), self.config.host, self.port
            )
            print(
                f"pkcs11-kmip server listening on {self.config.host}:{self.port}"
                f" ({self.config.processes} processes)",
                flush=True,
            )
            if ready is not None:
                ready.set()
            await self._stopping.wait()
            log.info("stopping %d server processes", len(self.processes))
        finally:
            self._stopping.set()
            await self._stop_all()
            if reserved is not None:
                reserved.close()
            lock.release()

    async def _start(self, index: int) -> ServerProcess:
        """Start the server process of slot `index`; it is watched from then on."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pkcs11_kmip_server.supervisor",
            str(self.config.data_dir),
            self.config.host,
            str(self.port),
            str(index),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        server = self.processes[index] = ServerProcess(index, process)
        asyncio.get_running_loop().create_task(self._watch(server))
        return server

    async def _watch(self, server: ServerProcess) -> None:
        """Read the process's readiness line, wait for its end, and start another if it
        ended by itself (a crash, a kill) while the supervisor is not stopping."""
        stdout = server.process.stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(stdout.readline(), START_TIMEOUT)
        except TimeoutError:
            line = b""
        if line.decode(errors="replace").strip() == READY:
            server.ready.set_result(None)
            with contextlib.suppress(Exception):
                await stdout.read()  # nothing more is written; EOF when it ends
        code = await server.process.wait()
        if not server.ready.done():
            server.ready.set_exception(
                StartError(f"server process {server.index} did not start (exit status {code})")
            )
        if self._stopping.is_set():
            return
        if self.processes.get(server.index) is not server:
            return
        lived = time.monotonic() - server.started
        self._failures = 0 if lived > STEADY else self._failures + 1
        delay = RESTART_DELAYS[min(self._failures, len(RESTART_DELAYS)) - 1] if self._failures else 0.0
        log.warning(
            "server process %d (pid %d) ended with status %s after %.1f s; starting another in %.1f s",
            server.index,
            server.process.pid,
            code,
            lived,
            delay,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        if not self._stopping.is_set():
            replacement = await self._start(server.index)
            with contextlib.suppress(StartError):
                await replacement.ready
                log.info("server process %d is back (pid %d)", server.index, replacement.process.pid)

    async def _stop_all(self) -> None:
        """SIGTERM to every server process; SIGKILL to those still there after STOP_TIMEOUT."""
        running = [p.process for p in self.processes.values() if p.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        waits = [asyncio.create_task(process.wait()) for process in running]
        if not waits:
            return
        _done, pending = await asyncio.wait(waits, timeout=STOP_TIMEOUT)
        if pending:
            log.warning(
                "%d server processes did not stop in %.0f s; killing them", len(pending), STOP_TIMEOUT
            )
            for process in running:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
            await asyncio.wait(pending)


async def serve_one(config: ServerConfig, index: int) -> None:
    """A server process: serve until SIGTERM/SIGINT or until the supervisor is gone."""
    from pkcs11_kmip_server.serve import serve_process

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def supervisor_gone() -> None:
        # The supervisor holds the other end of stdin: EOF means it ended.
        with contextlib.suppress(OSError):
            if os.read(sys.stdin.fileno(), 64):
                return
        loop.remove_reader(sys.stdin.fileno())
        log.warning("server process %d: the supervisor is gone; stopping", index)
        stop.set()

    loop.add_reader(sys.stdin.fileno(), supervisor_gone)

    def listening(port: int) -> None:
        print(READY, flush=True)

    await serve_process(config, listening, stop)


def main(argv: list[str]) -> int:
    """`python -m pkcs11_kmip_server.supervisor DATA_DIR HOST PORT INDEX` (the supervisor runs it)."""
    from pkcs11_kmip_server.serve import run_on_event_loop

    data_dir, host, port, index = Path(argv[0]), argv[1], int(argv[2]), int(argv[3])
    config = ServerConfig.load(data_dir)
    config.host, config.port = host, port
    logging.basicConfig(
        level=config.log_level.upper(),
        format=f"%(asctime)s %(levelname)s [{index}] %(name)s: %(message)s",
    )
    run_on_event_loop(serve_one(config, index), config.event_loop)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
