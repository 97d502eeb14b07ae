"""The HSM key store in tests: a data directory whose server keeps keys in a SoftHSM2 token,
and the requests the store contract tests make (tests/hsm_store)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes
from pkcs11_kmip.kmip.messages.payloads import CreateKeyPairRequest, CreateRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask, ObjectType
from testsupport.server import RunningServer, cli
from testsupport.softhsm import SOFTHSM_MODULE, Token, init_token

A = CryptographicAlgorithm
U = CryptographicUsageMask
AttributesT = TypeVar("AttributesT", bound=Attributes)


def hsm_store_section(token: Token, pin_file: str = "hsm.pin") -> str:
    """The [store.hsm] table of server.toml for this token."""
    return (
        "\n[store.hsm]\n"
        f'module = "{SOFTHSM_MODULE}"\n'
        f'token_label = "{token.label}"\n'
        f'pin_file = "{pin_file}"\n'
        f'environment = {{ SOFTHSM2_CONF = "{token.conf}" }}\n'
    )


def init_hsm_data_dir(data_dir: Path, token: Token, keys: bool = True, master_key: bool = False) -> None:
    """A fresh data directory whose server uses `token` for its keys ([store] keys = "hsm")
    and/or its master key (master_key_in_hsm = true)."""
    subprocess.run([*cli(), "init", "--data-dir", str(data_dir)], check=True, capture_output=True, timeout=60)
    pin = data_dir / "hsm.pin"
    pin.write_text(token.pin + "\n")
    os.chmod(pin, 0o600)
    toml = data_dir / "server.toml"
    text = toml.read_text()
    assert 'keys = "database"' in text and "master_key_in_hsm = false" in text
    if keys:
        text = text.replace('keys = "database"', 'keys = "hsm"')
    if master_key:
        text = text.replace("master_key_in_hsm = false", "master_key_in_hsm = true")
    toml.write_text(text + hsm_store_section(token))


BOTH_KEY_STORES = ("database", "hsm")
"""A provider test module's NATIVE_KEY_STORES (tests/provider/conftest.py): the native token over
the database key store, then over the HSM key store ([store] keys = "hsm": key material in a
SoftHSM2 token of the server's own)."""


def hsm_store_server(
    tmp_path_factory: pytest.TempPathFactory, token: Token | None = None
) -> Iterator[RunningServer]:
    """A fixture's body: a running server whose keys live in `token` (else a SoftHSM2 token
    of its own), stopped when the fixture ends."""
    if token is None:
        token = init_token(tmp_path_factory.mktemp("hsm-store-token"), label="kmip-keys")
    data_dir = tmp_path_factory.mktemp("hsm-store-server") / "data"
    init_hsm_data_dir(data_dir, token)
    server = RunningServer(data_dir)
    server.start()
    yield server
    if server.process is not None:
        server.stop()


def attributes_of(*entries: tuple[int, object], kind: type[AttributesT] = Attributes) -> AttributesT:  # type: ignore[assignment]
    """Attributes (or one of its Create Key Pair forms, `kind`) holding these entries."""
    attributes = kind()
    for tag, value in entries:
        attributes.add(tag, value)
    return attributes


def active() -> tuple[int, object]:
    return Tag.ACTIVATION_DATE, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def create_key(kmip: KmipClient, algorithm: A, length: int, usage: U, *extra: tuple[int, object]) -> str:
    uid: str = kmip.call(
        CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=attributes_of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm),
                (Tag.CRYPTOGRAPHIC_LENGTH, length),
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage),
                active(),
                *extra,
            ),
        )
    ).unique_identifier
    return uid


def create_pair(kmip: KmipClient, algorithm: A, length: int, *extra: tuple[int, object]) -> tuple[str, str]:
    response = kmip.call(
        CreateKeyPairRequest(
            common_attributes=attributes_of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, algorithm),
                (Tag.CRYPTOGRAPHIC_LENGTH, length),
                active(),
                *extra,
                kind=CommonAttributes,
            ),
            private_key_attributes=attributes_of(
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.SIGN | U.DECRYPT), kind=PrivateKeyAttributes
            ),
            public_key_attributes=attributes_of(
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, U.VERIFY | U.ENCRYPT), kind=PublicKeyAttributes
            ),
        )
    )
    return response.private_key_unique_identifier, response.public_key_unique_identifier
