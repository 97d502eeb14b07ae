"""The [pkcs11] table of server.toml: the tokens behind the PKCS#11 operation, and its limits.

Two forms. The single-slot form (`module`, `token` at the top of [pkcs11]) passes one
module through whole, or shows the native token. The slot form lists `[[pkcs11.slot]]`
tables: each is one slot with a server-chosen ID, the native token or one token of a
module, the clients that see it, and how its C_Login PIN is handled (hsm.slots routes
the calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip_server.native.pins import PINS_FILE

SLOT_KINDS = ("native", "hsm")
PIN_MODES = ("client", "server")
_SLOT_KEYS = frozenset(
    {"id", "kind", "module", "token_label", "token_serial", "environment", "clients", "pin", "pin_file"}
)


@dataclass(frozen=True)
class SlotSettings:
    """One `[[pkcs11.slot]]`: what a client that may see it gets as slot `id`."""

    id: int
    kind: str  # "native" or "hsm"
    module: Path | None = None
    token_label: str | None = None  # the hsm token, by CK_TOKEN_INFO label ...
    token_serial: str | None = None  # ... or by serial number
    environment: Mapping[str, str] = field(default_factory=dict)
    clients: frozenset[str] | None = None  # principals or user groups; None: every client
    pin: str = "client"  # "client": the application's PIN goes to the token; "server": pin_file's
    pin_file: Path | None = None

    @property
    def name(self) -> str:
        """How messages name this slot: its table and its ID."""
        return f"[[pkcs11.slot]] id {self.id}"

    def visible_to(self, principal: str, groups: frozenset[str] = frozenset()) -> bool:
        """Whether a client (in these user groups) sees this slot."""
        return self.clients is None or principal in self.clients or bool(self.clients & groups)

    @property
    def group(self) -> tuple[Path | None, tuple[tuple[str, str], ...]]:
        """Slots of one group share one worker (one instance of their module) per context."""
        return self.module, tuple(sorted(self.environment.items()))

    def server_pin(self) -> bytes:
        """The token's user PIN for pin = "server": pin_file's first line, read at each
        login (a changed file takes effect without a restart)."""
        assert self.pin_file is not None
        lines = self.pin_file.read_bytes().splitlines()
        return lines[0].strip() if lines else b""


@dataclass(frozen=True)
class Pkcs11Settings:
    """Which tokens the PKCS#11 operation shows: an HSM module's (passthrough), the native
    token over the KMIP store (`token = "native"`, the default without a module), or the
    `slots` listed one by one."""

    module: Path | None = None
    # "native", "hsm", or "" (native unless a module is configured).
    token: str = ""
    # DIR/pins.toml: the native token's user PINs (None: nobody can C_Login).
    pins: Path | None = None
    # Client principals allowed to use the PKCS#11 operation; None: every authenticated client.
    clients: frozenset[str] | None = None
    # Variables the module needs (SOFTHSM2_CONF, an HSM client's configuration path, ...).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Seconds a client context may stay unused before its sessions are closed on the module.
    idle_timeout: float = 3600.0
    max_contexts: int = 256
    max_contexts_per_client: int = 32
    # [[pkcs11.slot]]: when set, module and token are unused.
    slots: tuple[SlotSettings, ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, object], data_dir: Path) -> Pkcs11Settings:
        """Parse [pkcs11]; a relative path is relative to the data directory."""
        known = {
            "module",
            "token",
            "clients",
            "environment",
            "idle_timeout",
            "max_contexts",
            "max_contexts_per_client",
            "slot",
        }
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[pkcs11] has unknown settings: {', '.join(sorted(unknown))}")
        module = table.get("module")
        if module is not None and not isinstance(module, str):
            raise ValueError("[pkcs11] module must be a path")
        token = table.get("token", "")
        if token not in ("", "native", "hsm") or (token == "hsm" and not module):
            raise ValueError('[pkcs11] token must be "native", or "hsm" with a module')
        slots = _slots(table.get("slot"), data_dir)
        if slots and (module is not None or token or "environment" in table):
            raise ValueError(
                "[pkcs11] module, token and environment belong to the single-slot form: "
                "with [[pkcs11.slot]] each slot names its own"
            )
        settings = cls(
            module=None if not module else _path(module, data_dir),
            token=str(token),
            pins=data_dir / PINS_FILE,
            clients=_clients(table, "[pkcs11]"),
            environment=_environment(table, "[pkcs11]"),
            idle_timeout=float(_number(table, "idle_timeout", cls.idle_timeout)),
            max_contexts=int(_number(table, "max_contexts", cls.max_contexts)),
            max_contexts_per_client=int(
                _number(table, "max_contexts_per_client", cls.max_contexts_per_client)
            ),
            slots=slots,
        )
        if settings.idle_timeout <= 0 or settings.max_contexts < 1 or settings.max_contexts_per_client < 1:
            raise ValueError("[pkcs11] idle_timeout and the context limits must be positive")
        return settings

    @property
    def native(self) -> bool:
        """Whether contexts may get the native token (which works in the store's transaction,
        so the fast lane stays closed)."""
        if self.slots:
            return any(slot.kind == "native" for slot in self.slots)
        return self.token == "native" or (not self.token and self.module is None)

    def slots_of(self, principal: str, groups: frozenset[str] = frozenset()) -> tuple[SlotSettings, ...]:
        """The slots a client (in these user groups) sees, in the order of server.toml."""
        return tuple(slot for slot in self.slots if slot.visible_to(principal, groups))


def _slots(value: object, data_dir: Path) -> tuple[SlotSettings, ...]:
    """The [[pkcs11.slot]] list, checked as a whole: IDs and tokens unique."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ValueError("[pkcs11] slot must be a list of tables ([[pkcs11.slot]])")
    slots = tuple(_slot(table, index, data_dir) for index, table in enumerate(value))
    seen_ids: dict[int, int] = {}
    seen_tokens: dict[object, SlotSettings] = {}
    for index, slot in enumerate(slots):
        if slot.id in seen_ids:
            raise ValueError(
                f"[[pkcs11.slot]] {index + 1}: id {slot.id} is also slot {seen_ids[slot.id] + 1}'s"
            )
        seen_ids[slot.id] = index
        token = (
            ("native",)
            if slot.kind == "native"
            else (slot.group, "label", slot.token_label)
            if slot.token_label is not None
            else (slot.group, "serial", slot.token_serial)
        )
        if token in seen_tokens:
            what = "kind native" if slot.kind == "native" else _token_setting(slot)
            raise ValueError(f"{slot.name}: {what} is already {seen_tokens[token].name}'s (duplicate token)")
        seen_tokens[token] = slot
    return slots


def _token_setting(slot: SlotSettings) -> str:
    if slot.token_label is not None:
        return f"token_label {slot.token_label!r}"
    return f"token_serial {slot.token_serial!r}"


def _slot(table: dict[str, object], index: int, data_dir: Path) -> SlotSettings:
    where = f"[[pkcs11.slot]] {index + 1}"
    unknown = set(table) - _SLOT_KEYS
    if unknown:
        raise ValueError(f"{where} has unknown settings: {', '.join(sorted(unknown))}")
    kind = table.get("kind")
    if kind not in SLOT_KINDS:
        raise ValueError(f'{where}: kind must be "native" or "hsm", not {kind!r}')
    slot_id = table.get("id", index)
    if not isinstance(slot_id, int) or isinstance(slot_id, bool) or not 0 <= slot_id < 2**32:
        raise ValueError(f"{where}: id must be a whole number from 0 to 2^32-1")
    pin = table.get("pin", "client")
    if pin not in PIN_MODES:
        raise ValueError(f'{where}: pin must be "client" or "server", not {pin!r}')
    clients = _clients(table, where)
    if kind == "native":
        extra = sorted(set(table) & {"module", "token_label", "token_serial", "environment", "pin_file"})
        if extra or pin != "client":
            raise ValueError(
                f"{where}: a native slot takes no {', '.join(extra) or 'pin'} (its PINs are DIR/pins.toml)"
            )
        return SlotSettings(id=slot_id, kind="native", clients=clients)
    module = table.get("module")
    if not isinstance(module, str) or not module:
        raise ValueError(f"{where}: module is required for kind hsm (the PKCS#11 library's path)")
    module_path = _path(module, data_dir)
    if not module_path.is_file():
        raise ValueError(f"{where}: module {module_path} does not exist")
    label, serial = table.get("token_label"), table.get("token_serial")
    if (label is None) == (serial is None):
        raise ValueError(f"{where}: give one of token_label and token_serial (which token of the module)")
    for key, value, size in (("token_label", label, 32), ("token_serial", serial, 16)):
        if value is not None and not (isinstance(value, str) and value and len(value.encode()) <= size):
            raise ValueError(f"{where}: {key} must be a string of 1 to {size} bytes")
    pin_file = table.get("pin_file")
    if (pin == "server") != (pin_file is not None):
        raise ValueError(f'{where}: pin_file goes with pin = "server", and pin = "server" needs it')
    pin_path = None
    if pin_file is not None:
        if not isinstance(pin_file, str):
            raise ValueError(f"{where}: pin_file must be a path")
        pin_path = _path(pin_file, data_dir)
        if not pin_path.is_file():
            raise ValueError(f"{where}: pin_file {pin_path} does not exist")
    return SlotSettings(
        id=slot_id,
        kind="hsm",
        module=module_path,
        token_label=label if isinstance(label, str) else None,
        token_serial=serial if isinstance(serial, str) else None,
        environment=_environment(table, where),
        clients=clients,
        pin=str(pin),
        pin_file=pin_path,
    )


def _path(value: str, data_dir: Path) -> Path:
    return Path(value) if Path(value).is_absolute() else data_dir / value


def _clients(table: Mapping[str, object], where: str) -> frozenset[str] | None:
    clients = table.get("clients")
    if clients is None:
        return None
    if not (isinstance(clients, list) and all(isinstance(c, str) for c in clients)):
        raise ValueError(f"{where}: clients must be a list of client names")
    return frozenset(clients)


def _environment(table: Mapping[str, object], where: str) -> dict[str, str]:
    environment = table.get("environment", {})
    if not (isinstance(environment, dict) and all(isinstance(v, str) for v in environment.values())):
        raise ValueError(f"{where}: environment must map names to strings")
    return dict(environment)


def _number(table: Mapping[str, object], key: str, default: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"[pkcs11] {key} must be a number")
    return value
