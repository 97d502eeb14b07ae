"""[store] keys and [store.hsm] of server.toml: where the key material of managed objects lives.

`keys = "database"` (the default) seals it in the SQLite store under DIR/master.key;
`keys = "hsm"` keeps symmetric and private keys as token objects of a PKCS#11 module
(see docs/hsm-store.md), with the database holding their attributes and a reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

KEY_KINDS = ("database", "hsm")


@dataclass(frozen=True)
class HsmStoreSettings:
    """The token that holds the keys: module, token label, and the file with the user PIN."""

    module: Path
    token_label: str
    pin_file: Path
    # Variables the module reads (SOFTHSM2_CONF, an HSM client's configuration, ...):
    # set in the server's own environment before the module is loaded.
    environment: Mapping[str, str] = field(default_factory=dict)
    # [store] keys = "hsm": symmetric and private keys are token objects.
    keys_in_token: bool = True
    # [store] master_key_in_hsm = true: the data key sealing the database is kept wrapped
    # by a key in the token (hsm_store.envelope).
    master_key_in_token: bool = False

    @classmethod
    def from_store_table(cls, store: Mapping[str, object], data_dir: Path) -> HsmStoreSettings | None:
        """Parse `keys`, `master_key_in_hsm` and [store.hsm] of [store]; None: no token is used."""
        keys = store.get("keys", "database")
        if keys not in KEY_KINDS:
            raise ValueError(f'[store] keys must be "database" or "hsm", not {keys!r}')
        master = store.get("master_key_in_hsm", False)
        if not isinstance(master, bool):
            raise ValueError("[store] master_key_in_hsm must be true or false")
        table = store.get("hsm", {})
        if not isinstance(table, Mapping):
            raise ValueError("[store.hsm] must be a table")
        if keys == "database" and not master:
            if table:
                raise ValueError('[store.hsm] is set but neither keys = "hsm" nor master_key_in_hsm = true')
            return None
        unknown = set(table) - {"module", "token_label", "pin_file", "environment"}
        if unknown:
            raise ValueError(f"[store.hsm] has unknown settings: {', '.join(sorted(unknown))}")
        module, label, pin_file = table.get("module"), table.get("token_label"), table.get("pin_file")
        if not (isinstance(module, str) and module and isinstance(label, str) and label):
            raise ValueError("[store.hsm] needs module (a path) and token_label")
        if not (isinstance(pin_file, str) and pin_file):
            raise ValueError("[store.hsm] needs pin_file: a file holding the token's user PIN")
        environment = table.get("environment", {})
        if not (
            isinstance(environment, Mapping)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in environment.items())
        ):
            raise ValueError("[store.hsm] environment must map names to strings")
        return cls(
            module=_resolved(module, data_dir),
            token_label=label,
            pin_file=_resolved(pin_file, data_dir),
            environment=dict(environment),
            keys_in_token=keys == "hsm",
            master_key_in_token=master,
        )

    def read_pin(self) -> str:
        """The user PIN: the first line of pin_file (kept out of server.toml and the logs)."""
        lines = self.pin_file.read_text(encoding="utf-8").splitlines()
        if not lines or not lines[0].strip():
            raise ValueError(f"{self.pin_file} holds no PIN")
        return lines[0].strip()


def _resolved(path: str, data_dir: Path) -> Path:
    return Path(path) if Path(path).is_absolute() else data_dir / path
