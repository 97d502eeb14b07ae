"""[[pkcs11.slot]] on a real server: pkcs11-tool through our library, two client identities.

Slot 0 is SoftHSM2 token "a" for every client; slot 1 is token "b" for alice and the
user group "signers" only (carol, through a nested group), with
pin = "server": alice logs in with her native PIN (DIR/clients/alice/pin), the server
with b's own PIN, which no client is given. Slot 5 is the native token, for alice only:
her context holds the native token and a SoftHSM2 worker at once.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hsm.test_slots import B_PIN, add_token

from testsupport import tools
from testsupport.server import RunningServer, cli
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token, write_client_config


def slot_table(token: Token, label: str, *extra: str) -> str:
    return "\n".join(
        [
            "[[pkcs11.slot]]",
            'kind = "hsm"',
            f'module = "{SOFTHSM_MODULE}"',
            f'token_label = "{label}"',
            f'environment = {{ SOFTHSM2_CONF = "{token.conf}" }}',
            *extra,
            "",
        ]
    )


def init_data_dir(tmp: Path) -> Path:
    data_dir = tmp / "data"
    subprocess.run(
        [*cli(), "init", "--data-dir", str(data_dir), "--listen", "127.0.0.1:0"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return data_dir


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    token = init_token(tmp_path_factory.mktemp("softhsm-slots"), label="a")
    add_token(token, "b", B_PIN)
    return token


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, token: Token) -> Iterator[RunningServer]:
    data_dir = init_data_dir(tmp_path_factory.mktemp("slots-server"))
    (data_dir / "b.pin").write_text(f"{B_PIN}\n")
    with (data_dir / "server.toml").open("a") as handle:
        handle.write("\n" + slot_table(token, "a"))
        handle.write(
            slot_table(token, "b", 'clients = ["alice", "signers"]', 'pin = "server"', 'pin_file = "b.pin"')
        )
        handle.write('[[pkcs11.slot]]\nid = 5\nkind = "native"\nclients = ["alice"]\n')
    # carol is in "team", which is in "signers": she sees slot 1 through nested groups.
    admin(data_dir, "users", "add", "carol", "--no-password")
    admin(data_dir, "groups", "add", "team", "--user", "carol")
    admin(data_dir, "groups", "add", "signers", "--group", "team")
    running = RunningServer(data_dir)
    running.start()
    yield running
    running.stop()


def admin(data_dir: Path, *command: str) -> None:
    subprocess.run(
        [*cli(), "admin", *command, "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=60
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed libpkcs11_kmip.so (`pkcs11-kmip provider-path`, run away from the
    checkout, whose package has no library)."""
    done = subprocess.run(
        [*cli(), "provider-path"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path_factory.getbasetemp(),
    )
    return Path(done.stdout.strip())


class Tool:
    """pkcs11-tool through our library as one client identity."""

    def __init__(self, server: RunningServer, name: str, tmp: Path, library: Path) -> None:
        self.module = library
        config = write_client_config(tmp / f"{name}.toml", server, name)
        kept = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
        self.env = {**kept, "PKCS11_KMIP_CONFIG": str(config)}
        self.native_pin = (server.data_dir / "clients" / name / "pin").read_text().strip()

    def __call__(self, *args: str, ok: bool = True) -> str:
        done = tools.pkcs11_tool(self.module, self.env, *args)
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done.stdout + done.stderr


def slots_and_labels(listing: str) -> list[tuple[int, str]]:
    """(slot ID, token label) pairs of `pkcs11-tool -L`."""
    ids = [int(found) for found in re.findall(r"^Slot \d+ \(0x([0-9a-f]+)\)", listing, re.M)]
    labels = re.findall(r"token label\s*:\s*(\S+)", listing)
    return list(zip(ids, labels, strict=True))


def test_pkcs11_tool_lists_the_slots_each_client_may_use(
    server: RunningServer, tmp_path: Path, library: Path
) -> None:
    alice, bob = Tool(server, "alice", tmp_path, library), Tool(server, "bob", tmp_path, library)
    assert slots_and_labels(alice("-L")) == [(0, "a"), (1, "b"), (5, "pkcs11-kmip")]
    assert slots_and_labels(bob("-L")) == [(0, "a")]
    assert slots_and_labels(Tool(server, "carol", tmp_path, library)("-L")) == [(0, "a"), (1, "b")]
    refused = bob("--slot", "1", "--login", "--pin", B_PIN, "-O", ok=False)
    assert "C_OpenSession failed: rv = CKR_SLOT_ID_INVALID" in refused


def test_keys_made_on_one_slot_are_not_on_the_other(
    server: RunningServer, tmp_path: Path, library: Path
) -> None:
    alice = Tool(server, "alice", tmp_path, library)
    alice(
        "--slot", "0", "--login", "--pin", "1234", "--keygen", "--key-type", "AES:32", "--label", "made-on-a"
    )
    assert "made-on-a" in alice("--slot", "0", "--login", "--pin", "1234", "-O")
    assert "made-on-a" not in alice("--slot", "1", "--login", "--pin", alice.native_pin, "-O")
    assert "made-on-a" not in alice("--slot", "5", "--login", "--pin", alice.native_pin, "-O")
    # The native token beside the HSM in one context: its keys are KMIP objects, not a's.
    alice(
        "--slot",
        "5",
        "--login",
        "--pin",
        alice.native_pin,
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "nat",
    )
    assert "nat" in alice("--slot", "5", "--login", "--pin", alice.native_pin, "-O")
    assert "nat" not in alice("--slot", "0", "--login", "--pin", "1234", "-O")


def test_pin_server_takes_the_clients_native_pin_and_refuses_the_tokens(
    server: RunningServer, tmp_path: Path, library: Path
) -> None:
    alice = Tool(server, "alice", tmp_path, library)
    assert alice.native_pin != B_PIN
    alice(
        "--slot",
        "1",
        "--login",
        "--pin",
        alice.native_pin,
        "--keygen",
        "--key-type",
        "AES:16",
        "--label",
        "on-b",
    )
    assert "on-b" in alice("--slot", "1", "--login", "--pin", alice.native_pin, "-O")
    assert "CKR_PIN_INCORRECT" in alice("--slot", "1", "--login", "--pin", B_PIN, "-O", ok=False)
    assert "CKR_PIN_INCORRECT" in alice("--slot", "0", "--login", "--pin", alice.native_pin, "-O", ok=False)


@pytest.mark.parametrize(
    ("table", "named"),
    [
        ('[[pkcs11.slot]]\nkind = "tpm"\n', "[[pkcs11.slot]] 1: kind"),
        ('[[pkcs11.slot]]\nkind = "hsm"\ntoken_label = "a"\n', "[[pkcs11.slot]] 1: module is required"),
        (None, "token_label 'a' is already [[pkcs11.slot]] id 0's"),
    ],
)
def test_a_bad_slot_configuration_refuses_to_start(
    token: Token, tmp_path: Path, table: str | None, named: str
) -> None:
    data_dir = init_data_dir(tmp_path)
    with (data_dir / "server.toml").open("a") as handle:
        handle.write("\n" + (table or slot_table(token, "a") + slot_table(token, "a")))
    done = subprocess.run(
        [*cli(), "serve", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and named in done.stderr, done.stderr
