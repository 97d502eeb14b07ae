"""`[store] master_key_in_hsm = true`: the key that seals the database's material, wrapped by the HSM.

The other HSM configuration (docs/hsm-store.md): key material stays sealed in the
database, but the 32-byte data key that seals it (store/sealing.py) is kept on disk only
wrapped, as DIR/master.key.wrapped, under an AES-256 key inside the token that never
leaves it (CKA_TOKEN, CKA_SENSITIVE, CKA_EXTRACTABLE=FALSE; CKA_ID `WRAPPING_KEY_ID`).
At every start the server asks the token to unwrap it (C_UnwrapKey, AES key wrap): the
database is unreadable without the token and its PIN.

The first start with the setting wraps the data key of DIR/master.key (making the
wrapping key in the token if it has none) and then removes DIR/master.key.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings
from pkcs11_kmip_server.hsm_store.token import READABLE_SESSION_SECRET, HsmToken

log = logging.getLogger(__name__)

WRAPPED_FILE = "master.key.wrapped"
WRAPPING_KEY_ID = b"pkcs11-kmip master key wrapping key"
DATA_KEY_BYTES = 32


class EnvelopeError(Exception):
    """The data key cannot be had: no wrapped file and no plain key, or the token cannot unwrap it."""


def _wrapping_key(session: Any, create: bool) -> Any:
    found = next(
        iter(session.get_objects({Attribute.ID: WRAPPING_KEY_ID, Attribute.CLASS: ObjectClass.SECRET_KEY})),
        None,
    )
    if found is not None or not create:
        if found is None:
            raise EnvelopeError(f"the token has no master key wrapping key (CKA_ID {WRAPPING_KEY_ID!r})")
        return found
    return session.generate_key(
        KeyType.AES,
        256,
        id=WRAPPING_KEY_ID,
        label="pkcs11-kmip master key wrapping key",
        store=True,
        capabilities=0,
        template={
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.WRAP: True,
            Attribute.UNWRAP: True,
        },
    )


def _session_secret(session: Any, value: bytes) -> Any:
    return session.create_object(
        {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
            Attribute.VALUE: value,
            **READABLE_SESSION_SECRET,
        }
    )


def data_key(settings: HsmStoreSettings, master_key: Path, token: HsmToken | None = None) -> bytes:
    """The data key that seals the database, unwrapped by the token (wrapped first if need be)."""
    wrapped_path = master_key.with_name(WRAPPED_FILE)
    own = token is None
    token = token if token is not None else HsmToken(settings)
    try:
        with token.session() as session, _first_start_lock(wrapped_path):
            if not wrapped_path.exists():  # server processes starting together wrap it once
                _wrap_plain_key(session, master_key, wrapped_path)
            wrapping = _wrapping_key(session, create=False)
            try:
                secret = wrapping.unwrap_key(
                    ObjectClass.SECRET_KEY,
                    KeyType.GENERIC_SECRET,
                    wrapped_path.read_bytes(),
                    mechanism=Mechanism.AES_KEY_WRAP,
                    template=READABLE_SESSION_SECRET,
                )
            except pkcs11.exceptions.PKCS11Error as error:
                failure = type(error).__name__
                raise EnvelopeError(f"the token does not unwrap {wrapped_path}: {failure}") from None
            try:
                value = bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()
    finally:
        if own:
            token.close()
    if len(value) != DATA_KEY_BYTES:
        raise EnvelopeError(f"{wrapped_path} does not hold a {DATA_KEY_BYTES}-byte key")
    return value


@contextlib.contextmanager
def _first_start_lock(wrapped_path: Path) -> Iterator[None]:
    descriptor = os.open(wrapped_path.with_name(wrapped_path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _wrap_plain_key(session: Any, master_key: Path, wrapped_path: Path) -> None:
    """First start: wrap DIR/master.key under the token's key, write the wrapped file, remove it."""
    if not master_key.exists():
        raise EnvelopeError(f"neither {wrapped_path} nor {master_key} exists")
    plain = master_key.read_bytes()
    wrapping = _wrapping_key(session, create=True)
    secret = _session_secret(session, plain)
    try:
        wrapped = bytes(wrapping.wrap_key(secret, mechanism=Mechanism.AES_KEY_WRAP))
    finally:
        secret.destroy()
    partial = wrapped_path.with_name(wrapped_path.name + ".tmp")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(wrapped)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, wrapped_path)
    with master_key.open("r+b") as handle:  # overwrite before unlinking: no plain copy left on disk
        handle.write(bytes(len(plain)))
        handle.flush()
        os.fsync(handle.fileno())
    master_key.unlink()
    log.info("the master key is now kept wrapped by the HSM in %s", wrapped_path)
