"""Running a server: data directory, store, engine and transport, until SIGTERM/SIGINT.

With `[server] processes = 1` this process serves. With more, it is the supervisor
(supervisor.py): it holds the data directory's lock and starts that many server
processes (`serve_process`), each with its own store connections, engine and
listening socket on the one port.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from pkcs11_kmip_server.audit import AUDIT_FILE, AuditLog
from pkcs11_kmip_server.auth import USERS_FILE, PasswordUsers
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import DataDirError, DataDirLock, initialize, is_initialized
from pkcs11_kmip_server.engine import Engine
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm_store import envelope
from pkcs11_kmip_server.hsm_store.store import HsmBackedStore
from pkcs11_kmip_server.hsm_store.token import open_token
from pkcs11_kmip_server.native import ending
from pkcs11_kmip_server.store import Store
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from pkcs11_kmip_server.transport import KmipServer

log = logging.getLogger("pkcs11_kmip_server")


def open_store(config: ServerConfig) -> Store:
    """The database store; with [store] keys = "hsm" its keys go to the token, with
    master_key_in_hsm = true its master key is unwrapped by the token (docs/hsm-store.md)."""
    hsm = config.key_store
    token = open_token(hsm) if hsm is not None and hsm.keys_in_token else None
    master = config.path(config.master_key)
    if hsm is not None and hsm.master_key_in_token:
        sealer = Sealer(envelope.data_key(hsm, master, token))
    else:
        sealer = Sealer.from_file(master)
    store = SqliteStore(config.path(config.store_path), sealer, config.synchronous)
    return store if token is None else HsmBackedStore(store, token)


def prepare(data_dir: Path, host: str | None = None, port: int | None = None) -> ServerConfig:
    """The configuration to run with: the data directory's, created on first use."""
    if not is_initialized(data_dir):
        initialize(data_dir, host or "127.0.0.1", port or 5696)
        log.info("initialized %s (client identity in %s)", data_dir, data_dir / "clients" / "admin")
    config = ServerConfig.load(data_dir)
    if host is not None:
        config.host = host
    if port is not None:
        config.port = port
    return config


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop `[server] event_loop` names (None: asyncio's own).

    uvloop runs the sockets, transports and wake-ups in C: per Create over TLS the loop's
    thread spent about a third less CPU on it (bench/README.md). TLS stays ours (tls.py)
    either way. "auto" falls back to asyncio's loop where uvloop is not installed.
    """
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise DataDirError('[server] event_loop = "uvloop", but uvloop is not installed') from None
        return None
    return uvloop.new_event_loop


def run_on_event_loop(main: Coroutine[Any, Any, None], choice: str) -> None:
    """Run `main` to its end on a new loop of the kind `loop_factory(choice)` gives."""
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        runner.run(main)


def serve_until_stopped(config: ServerConfig) -> None:
    """`pkcs11-kmip serve`: `run` on the configured event loop, until SIGTERM or SIGINT."""
    run_on_event_loop(run(config), config.event_loop)


async def run(config: ServerConfig, ready: asyncio.Event | None = None) -> None:
    """Serve until SIGTERM or SIGINT; then finish the messages in progress and stop."""
    if config.processes > 1:
        from pkcs11_kmip_server.supervisor import Supervisor

        await Supervisor(config).run(ready)
        return
    lock = DataDirLock(config.data_dir)
    lock.acquire()
    try:

        def listening(port: int) -> None:
            print(f"pkcs11-kmip server listening on {config.host}:{port}", flush=True)
            if ready is not None:
                ready.set()

        sweep_session_objects(config)
        await serve_process(config, listening)
    finally:
        lock.release()


def sweep_session_objects(config: ServerConfig) -> None:
    """Destroy the native token's session objects a previous run left (it crashed or was
    killed), before serving: called once per start, under the data directory's lock."""
    store = open_store(config)
    try:
        ending.sweep(store)
    finally:
        store.close()


async def serve_process(
    config: ServerConfig, listening: Callable[[int], None], stop: asyncio.Event | None = None
) -> None:
    """One server process: serve until SIGTERM, SIGINT or `stop`, then finish and close.

    `listening` is told the port once connections are accepted. The caller holds the
    data directory's lock (this process, or the supervisor that started it).
    """
    store = open_store(config)
    users = PasswordUsers(config.data_dir / USERS_FILE)
    audit = AuditLog(config.data_dir / AUDIT_FILE, config.audit_max_bytes, config.audit_keep)
    engine = Engine(
        store,
        config.limits,
        users,
        pkcs11=Pkcs11Service(config.pkcs11),
        audit=audit,
        max_ticket_lease=config.max_ticket_lease,
    )
    server = KmipServer(config, engine)
    stopping = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await server.start()
        kind = type(loop).__module__.partition(".")[0]  # uvloop or asyncio
        log.info("listening on %s:%d (KMIP over TLS, %s event loop)", config.host, server.port, kind)
        listening(server.port)
        await stopping.wait()
        log.info("stopping")
    finally:
        await server.stop()
        engine.close()
        engine.pkcs11.close()  # finalize the PKCS#11 contexts (and destroy their session objects)
        store.close()
        audit.close()
