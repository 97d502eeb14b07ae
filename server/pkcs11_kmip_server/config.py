"""server.toml: the editable configuration of one server data directory.

Relative paths in it are relative to the data directory, so a data directory can
be moved or copied whole.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip.kmip.ttlv import Limits
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings
from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings

# TLS 1.2 suites Java and Go appliances negotiate (ECDHE with AES-GCM first, then
# ChaCha20, then the CBC suites older appliances still need); TLS 1.3 suites are
# always enabled by OpenSSL.
DEFAULT_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-SHA384",
        "ECDHE-RSA-AES256-SHA384",
        "ECDHE-ECDSA-AES128-SHA256",
        "ECDHE-RSA-AES128-SHA256",
        "AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
    ]
)

DEFAULT_PORT = 5696
EVENT_LOOPS = ("auto", "asyncio", "uvloop")  # [server] event_loop


@dataclass
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # Server processes on the one port (supervisor.py): Python runs one thread at a time per
    # process, so one process uses at most one core. 1: no supervisor, the process serves.
    processes: int = 1
    # The event loop the edge runs on: "uvloop" (sockets and transports in C, less CPU per
    # message on the loop's thread: bench/README.md) when installed, for "auto".
    event_loop: str = "auto"
    # Few request threads: Python runs one at a time, and more of them only contend for
    # the interpreter (bench/kmip_load.py: 1.4k Get/s with 16 threads, 2.1k with 1-2).
    workers: int = 2
    # Operations that compute for long (key pair generation) run on their own threads,
    # so they never hold up the others; the cryptography library releases the interpreter.
    long_workers: int = 4
    max_message_size: int = 16 * 1024 * 1024
    max_depth: int = 32
    idle_timeout: float = 300.0
    read_timeout: float = 30.0
    ca: Path = field(default_factory=lambda: Path("pki/ca.crt"))
    certificate: Path = field(default_factory=lambda: Path("pki/server.crt"))
    key: Path = field(default_factory=lambda: Path("pki/server.key"))
    ciphers: str = DEFAULT_CIPHERS
    store_path: Path = field(default_factory=lambda: Path("kmip.sqlite3"))
    master_key: Path = field(default_factory=lambda: Path("master.key"))
    synchronous: str = "NORMAL"
    # [store] keys = "hsm" / master_key_in_hsm and [store.hsm]: the token used (None: no token).
    key_store: HsmStoreSettings | None = None
    log_level: str = "info"
    audit_max_bytes: int = 0  # rotate DIR/audit.log past this size (0: never)
    audit_keep: int = 0  # rotated audit files kept (0: all)
    # [auth]: the longest a Login or Delegated Login ticket may last, in seconds (0: no limit).
    max_ticket_lease: int = 86400
    pkcs11: Pkcs11Settings = field(default_factory=Pkcs11Settings)  # [pkcs11]: the HSM passthrough

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.data_dir / relative

    @property
    def limits(self) -> Limits:
        return Limits(max_message_size=self.max_message_size, max_depth=self.max_depth)

    @classmethod
    def load(cls, data_dir: Path) -> ServerConfig:
        path = data_dir / "server.toml"
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        server = document.get("server", {})
        tls = document.get("tls", {})
        store = document.get("store", {})
        log = document.get("log", {})
        auth = document.get("auth", {})
        host, _, port = str(server.get("listen", f"127.0.0.1:{DEFAULT_PORT}")).rpartition(":")
        config = cls(
            data_dir=data_dir,
            host=host.strip("[]") or "127.0.0.1",
            port=int(port),
            processes=processes_setting(server.get("processes", 1), path),
            event_loop=str(server.get("event_loop", cls.event_loop)),
            workers=int(server.get("workers", cls.workers)),
            long_workers=int(server.get("long_workers", cls.long_workers)),
            max_message_size=int(server.get("max_message_size", 16 * 1024 * 1024)),
            max_depth=int(server.get("max_depth", 32)),
            idle_timeout=float(server.get("idle_timeout", 300)),
            read_timeout=float(server.get("read_timeout", 30)),
            ca=Path(tls.get("ca", "pki/ca.crt")),
            certificate=Path(tls.get("certificate", "pki/server.crt")),
            key=Path(tls.get("key", "pki/server.key")),
            ciphers=str(tls.get("ciphers", DEFAULT_CIPHERS)),
            store_path=Path(store.get("path", "kmip.sqlite3")),
            master_key=Path(store.get("master_key", "master.key")),
            synchronous=str(store.get("synchronous", "NORMAL")).upper(),
            key_store=HsmStoreSettings.from_store_table(store, data_dir),
            log_level=str(log.get("level", "info")),
            audit_max_bytes=int(log.get("audit_max_bytes", 0)),
            audit_keep=int(log.get("audit_keep", 0)),
            max_ticket_lease=int(auth.get("max_ticket_lease", cls.max_ticket_lease)),
            pkcs11=Pkcs11Settings.from_table(document.get("pkcs11", {}), data_dir),
        )
        config.limits  # noqa: B018 - validates the limits now, not at the first request
        if config.event_loop not in EVENT_LOOPS:
            raise ValueError(f'{path}: [server] event_loop must be "auto", "asyncio" or "uvloop"')
        if config.synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"{path}: [store] synchronous must be NORMAL or FULL")
        if config.audit_max_bytes < 0 or config.audit_keep < 0:
            raise ValueError(f"{path}: [log] audit_max_bytes and audit_keep must be 0 or more")
        if config.max_ticket_lease < 0:
            raise ValueError(f"{path}: [auth] max_ticket_lease must be 0 or more")
        return config

    def render(self) -> str:
        """The text of a fresh server.toml (defaults, with comments)."""
        hsm = self.key_store
        keys = "hsm" if hsm is not None and hsm.keys_in_token else "database"
        master_in_hsm = "true" if hsm is not None and hsm.master_key_in_token else "false"
        return f'''# pkcs11-kmip server configuration. Paths are relative to this directory.

[server]
listen = "{self.host}:{self.port}"
processes = {self.processes}                 # server processes on the port; "auto": one per core
event_loop = "{self.event_loop}"            # "auto" (uvloop if installed), "asyncio" or "uvloop"
workers = {self.workers}                   # threads that execute requests
long_workers = {self.long_workers}              # threads for long operations (key pair generation)
max_message_size = {self.max_message_size}  # bytes; larger messages are refused before reading them
max_depth = {self.max_depth}                # structure nesting a message may have
idle_timeout = {self.idle_timeout:g}            # seconds a connection may stay silent between messages
read_timeout = {self.read_timeout:g}             # seconds to finish a message once it has started

[tls]
ca = "{self.ca}"              # clients must present a certificate issued by this CA
certificate = "{self.certificate}"
key = "{self.key}"
ciphers = "{self.ciphers}"

[store]
path = "{self.store_path}"
master_key = "{self.master_key}"        # encrypts key material at rest; keep it safe, mode 0600
synchronous = "{self.synchronous}"      # NORMAL survives a crash of the process, FULL also a power cut
keys = "{keys}"            # key material: "database" (sealed) or "hsm"
master_key_in_hsm = {master_in_hsm}     # true: master.key is kept wrapped by a key in the token
# With keys = "hsm", a PKCS#11 token holds the symmetric and private keys; the database
# keeps their attributes and a reference. With master_key_in_hsm = true, the database keeps
# the material, sealed by a key the token unwraps at start (docs/hsm-store.md). Either needs:
# [store.hsm]
# module = "/usr/lib/softhsm/libsofthsm2.so"
# token_label = "kmip"
# pin_file = "hsm.pin"           # the token's user PIN on its first line; mode 0600
# environment = {{ SOFTHSM2_CONF = "/etc/softhsm/softhsm2.conf" }}

# The PKCS#11 operation (docs/pkcs11-forwarding.md). Without [pkcs11], clients see the
# native token over this store. One module passed through whole (all its slots):
# [pkcs11]
# module = "/usr/lib/softhsm/libsofthsm2.so"
# environment = {{ SOFTHSM2_CONF = "/etc/softhsm/softhsm2.conf" }}
# clients = ["app1"]             # who may use PKCS#11 (default: every client)
# Or slot by slot, each with the ID clients see it under (default: its place, from 0):
# [[pkcs11.slot]]
# kind = "native"                # the KMIP store as a token; PINs from DIR/pins.toml
# clients = ["app1"]
# [[pkcs11.slot]]
# kind = "hsm"
# module = "/usr/lib/softhsm/libsofthsm2.so"
# token_label = "payments"       # or token_serial = "..."
# environment = {{ SOFTHSM2_CONF = "/etc/softhsm/softhsm2.conf" }}
# clients = ["app2", "signers"]  # principals or user groups; others do not see the slot
# pin = "server"                 # "client": the application's C_Login PIN goes to the token;
# pin_file = "payments.pin"      # "server": its native PIN is checked, the token gets this one

[log]
level = "{self.log_level}"
audit_max_bytes = {self.audit_max_bytes}        # past this size audit.log becomes audit-<time>.log; 0: never
audit_keep = {self.audit_keep}             # rotated audit files kept, oldest removed first; 0: all

[auth]
max_ticket_lease = {self.max_ticket_lease}   # seconds a (Delegated) Login ticket may last at most; 0: none
'''


def processes_setting(value: object, path: Path) -> int:
    """[server] processes: a count of at least 1, or "auto" for the cores this process may use."""
    if value == "auto":
        return len(os.sched_getaffinity(0)) or 1
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f'{path}: [server] processes must be a number of at least 1 or "auto"')
