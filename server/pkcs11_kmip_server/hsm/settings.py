"""The [pkcs11] table of server.toml: the module behind the PKCS#11 operation, and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip_server.native.pins import PINS_FILE


@dataclass(frozen=True)
class Pkcs11Settings:
    """Which token the PKCS#11 operation shows: an HSM module's (passthrough) or the
    native token over the KMIP store (`token = "native"`, the default without a module)."""

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

    @classmethod
    def from_table(cls, table: Mapping[str, object], data_dir: Path) -> Pkcs11Settings:
        """Parse [pkcs11]; a relative module path is relative to the data directory."""
        known = {
            "module",
            "token",
            "clients",
            "environment",
            "idle_timeout",
            "max_contexts",
            "max_contexts_per_client",
        }
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"[pkcs11] has unknown settings: {', '.join(sorted(unknown))}")
        module = table.get("module")
        clients = table.get("clients")
        environment = table.get("environment", {})
        if module is not None and not isinstance(module, str):
            raise ValueError("[pkcs11] module must be a path")
        token = table.get("token", "")
        if token not in ("", "native", "hsm") or (token == "hsm" and not module):
            raise ValueError('[pkcs11] token must be "native", or "hsm" with a module')
        if clients is not None and not (
            isinstance(clients, list) and all(isinstance(c, str) for c in clients)
        ):
            raise ValueError("[pkcs11] clients must be a list of client names")
        if not (isinstance(environment, dict) and all(isinstance(v, str) for v in environment.values())):
            raise ValueError("[pkcs11] environment must map names to strings")
        settings = cls(
            module=None
            if not module
            else (Path(module) if Path(module).is_absolute() else data_dir / module),
            token=str(token),
            pins=data_dir / PINS_FILE,
            clients=None if clients is None else frozenset(clients),
            environment=dict(environment),
            idle_timeout=float(_number(table, "idle_timeout", cls.idle_timeout)),
            max_contexts=int(_number(table, "max_contexts", cls.max_contexts)),
            max_contexts_per_client=int(
                _number(table, "max_contexts_per_client", cls.max_contexts_per_client)
            ),
        )
        if settings.idle_timeout <= 0 or settings.max_contexts < 1 or settings.max_contexts_per_client < 1:
            raise ValueError("[pkcs11] idle_timeout and the context limits must be positive")
        return settings

    @property
    def native(self) -> bool:
        """Whether contexts get the native token rather than the module's."""
        return self.token == "native" or (not self.token and self.module is None)


def _number(table: Mapping[str, object], key: str, default: float) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"[pkcs11] {key} must be a number")
    return value
