"""The crypto lane: a plain single-part Encrypt, Decrypt or MAC from the key's owner, on the loop.

After Get, what KMIP clients send most is one Encrypt, Decrypt or MAC of a few
kilobytes at most with a key they own. Through the general path that costs a hop to a
worker thread and back, the typed decoder, a store transaction, decoding the stored
attributes and unsealing the key, the checks, the typed encoder and the batch audit
formatting, for cryptography that takes microseconds. Here a message in exactly that
shape (the Get lane's header, `get_lane.read_single`; one Encrypt item with a Text
String Unique Identifier, Cryptographic Parameters, Data, an IV and optional
additional data, one Decrypt item with these and the Authenticated Encryption Tag, or
one MAC item with a Unique Identifier, Cryptographic Parameters and Data) is answered
from the loop with one indexed SELECT (`SqliteStore.peek`) and what is kept for that row.

What is kept, per object (at most `get_lane.KEPT`), as the Get lane keeps it: the row
`peek` read, the record made from it (the unsealed key) and, per operation, protocol
version and the exact bytes of the Cryptographic Parameters, the general path's verdict
on the key for them (`ciphering.plain_cipher`, `operations.mac.plain_mac`: owner,
state, usage mask, object type, mechanism, no Usage Limits, not in the HSM key store's
token; a Deactivated key decrypts but does not encrypt). A verdict is used only while
`peek` reads the very same row (any write to the object, by any process, rewrites it)
and until the first of the key's dates ahead (`key_use.settled_until`), so nothing
needs invalidating. Per request the lane checks the IV, additional data and tag as the
general path does (`crypto.mechanisms.cipher_spec`) and runs pyca/cryptography on at
most `LARGEST` bytes, so the loop never stalls.

Left to the general path (which answers with its precise Result Reason, or writes):
anyone but the owner, an unknown identifier, a key any check refuses, Usage Limits,
keys in the token, a server without the software provider, an Encrypt without an IV
(the server would generate one), a Decrypt whose tag is not 16 bytes (pyca's AESGCM
takes whole tags) or does not authenticate the data (the general path's Cryptographic
Failure, its message and audit line), any mechanism but AES-GCM, a MAC but HMAC, more
data than `LARGEST`, and any message of another shape (streaming, Correlation Value,
Authentication, batch options, several items...). The audit log gets the general
path's line (`audit.LaneLines`).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import Operation, ResultStatus
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, ItemType, binary
from pkcs11_kmip.kmip.ttlv.binary import HEADER as _HEAD
from pkcs11_kmip.kmip.ttlv.binary import SMALL as _SMALL
from pkcs11_kmip.kmip.ttlv.binary import word as _word
from pkcs11_kmip_server.audit import LaneLines
from pkcs11_kmip_server.ciphering import plain_cipher
from pkcs11_kmip_server.crypto.derivation import HASH_NAMES
from pkcs11_kmip_server.crypto.hsm_provider import DispatchingProvider
from pkcs11_kmip_server.crypto.mechanisms import CipherMechanism, CipherSpec, cipher_spec
from pkcs11_kmip_server.crypto.pyca import secret_bytes
from pkcs11_kmip_server.crypto.signatures import HMAC
from pkcs11_kmip_server.get_lane import owned_row, read_single, remember, respond
from pkcs11_kmip_server.key_use import settled_until
from pkcs11_kmip_server.operations.mac import plain_mac
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.store.sqlite import SqliteStore, record_of

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.crypto_lane")

LARGEST = 4096
"""The most Data the lane encrypts, decrypts or MACs on the loop: more goes to a worker thread."""

_TEXT, _BYTES, _STRUCT = ItemType.TEXT_STRING, ItemType.BYTE_STRING, ItemType.STRUCTURE
_FIELDS = {  # what a request's payload may hold, and nothing else
    Operation.ENCRYPT: {
        _word(Tag.UNIQUE_IDENTIFIER, _TEXT): "uid",
        _word(Tag.CRYPTOGRAPHIC_PARAMETERS, _STRUCT): "parameters",
        _word(Tag.DATA, _BYTES): "data",
        _word(Tag.IV_COUNTER_NONCE, _BYTES): "iv",
        _word(Tag.AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, _BYTES): "aad",
    },
    Operation.DECRYPT: {
        _word(Tag.UNIQUE_IDENTIFIER, _TEXT): "uid",
        _word(Tag.CRYPTOGRAPHIC_PARAMETERS, _STRUCT): "parameters",
        _word(Tag.DATA, _BYTES): "data",
        _word(Tag.IV_COUNTER_NONCE, _BYTES): "iv",
        _word(Tag.AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA, _BYTES): "aad",
        _word(Tag.AUTHENTICATED_ENCRYPTION_TAG, _BYTES): "tag",
    },
    Operation.MAC: {
        _word(Tag.UNIQUE_IDENTIFIER, _TEXT): "uid",
        _word(Tag.CRYPTOGRAPHIC_PARAMETERS, _STRUCT): "parameters",
        _word(Tag.DATA, _BYTES): "data",
    },
}
_NAMES = {
    Operation.ENCRYPT: "Encrypt",
    Operation.DECRYPT: "Decrypt",
    Operation.MAC: "MAC",
}  # as the audit log
_STATUS = _SMALL.pack(_word(Tag.RESULT_STATUS, ItemType.ENUMERATION), 4, ResultStatus.SUCCESS)
_OPERATION_ITEMS = {
    operation: _SMALL.pack(_word(Tag.OPERATION, ItemType.ENUMERATION), 4, operation) + _STATUS
    for operation in _FIELDS
}
_PAYLOAD = _word(Tag.RESPONSE_PAYLOAD, ItemType.STRUCTURE)
_UID = _word(Tag.UNIQUE_IDENTIFIER, _TEXT)
_DATA = _word(Tag.DATA, _BYTES)
_TAG = _word(Tag.AUTHENTICATED_ENCRYPTION_TAG, _BYTES)
_MAC_DATA = _word(Tag.MAC_DATA, _BYTES)


def read_request(data: bytes) -> tuple[Version, Operation, dict[str, bytes]] | None:
    """(version, Encrypt, Decrypt or MAC, the payload's fields by name, each its value's bytes; the
    parameters' whole item) of a message in exactly the lane's shape; None for any other."""
    single = read_single(data)
    if single is None or single[1] not in _FIELDS:
        return None
    version, operation, at = single
    if version < (1, 2):  # Encrypt, Decrypt and MAC came with KMIP 1.2
        return None
    names = _FIELDS[Operation(operation)]
    size = len(data)
    fields: dict[str, bytes] = {}
    while at < size:
        if size - at < 8:
            return None
        word, length = _HEAD.unpack_from(data, at)
        name = names.get(word)
        end = at + 8 + length
        padded = end + (-length % 8)
        if name is None or name in fields or padded > size or any(data[end:padded]):
            return None
        fields[name] = data[at:end] if name == "parameters" else data[at + 8 : end]
        at = padded
    if "uid" not in fields or "data" not in fields:
        return None
    return version, Operation(operation), fields


def _field(word: int, value: bytes) -> bytes:
    return _HEAD.pack(word, len(value)) + value + bytes(-len(value) % 8)


@dataclass
class _Kept:
    """An object's row as last read, its record (None: the general path answers for it), the
    first of its dates ahead, and the verdicts made for it (None: the general path's)."""

    row: tuple[Any, ...]
    record: ObjectRecord | None
    until: datetime | None
    verdicts: dict[tuple[Operation, Version, bytes], Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Gcm:
    """AES-GCM with this key, for these parameters, one way (`encrypt`) or the other."""

    encrypt: bool
    parameters: CryptographicParameters
    mechanism: CipherMechanism
    cipher: AESGCM


@dataclass(frozen=True)
class _Mac:
    key: bytes
    hash_name: str
    truncated_to: int | None


def _checked(verdict: _Gcm, iv: bytes, aad: bytes | None, tag: bytes | None) -> CipherSpec:
    """The request's IV, additional data and tag checked as the general path checks them
    (`crypto.mechanisms.cipher_spec`; its error, the general path's reason, propagates)."""
    spec, _ = cipher_spec(
        verdict.mechanism,
        verdict.parameters,
        encrypt=verdict.encrypt,
        iv=iv,
        aad=aad,
        tag=tag,
        random_bytes=bytes,
    )
    return spec


class CryptoLane:
    """The event loop's lane for plain Encrypts, Decrypts and MACs (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # read at each call: its store, provider and audit log
        self._kept: dict[str, _Kept] = {}
        self._lines = LaneLines()

    def answer(self, data: bytes, peer: Peer) -> bytes | None:
        """The response to a plain Encrypt, Decrypt or MAC from the key's owner, or None: the
        general path's."""
        engine = self._engine
        store = engine.store
        principal = peer.principal
        if (
            principal is None
            or not isinstance(store, SqliteStore)
            or type(engine.crypto.provider) is not DispatchingProvider
        ):
            return None
        asked = read_request(data)
        if asked is None:
            return None
        version, operation, fields = asked
        if len(fields["data"]) > LARGEST:
            return None
        try:
            uid = fields["uid"].decode()
        except UnicodeDecodeError:
            return None
        row = owned_row(store, uid, principal)
        if row is None:
            return None
        now = engine.clock().replace(microsecond=0)  # the general path's "now"
        kept = self._kept.get(uid)
        if kept is None or kept.row != row or (kept.until is not None and now >= kept.until):
            kept = self._keep(store, uid, row, now)
        if kept.record is None:
            return None
        key = (operation, version, fields.get("parameters", b""))
        verdict = kept.verdicts.get(key, False)
        if verdict is False:
            verdict = kept.verdicts[key] = self._judge(kept.record, key, now)
        if verdict is None:
            return None
        if isinstance(verdict, _Gcm):
            payload = self._encrypt(verdict, fields) if verdict.encrypt else self._decrypt(verdict, fields)
        else:
            payload = self._mac(verdict, fields["data"])
        if payload is None:
            return None
        payload = _field(_UID, fields["uid"]) + payload
        item = _OPERATION_ITEMS[operation] + _HEAD.pack(_PAYLOAD, len(payload)) + payload
        return respond(engine, self._lines, now, principal, peer, version, (_NAMES[operation], uid, item))

    @staticmethod
    def _encrypt(verdict: _Gcm, fields: dict[str, bytes]) -> bytes | None:
        """Data and tag of the encryption, or None when the general path must judge the request."""
        iv = fields.get("iv")
        if iv is None:
            return None  # the server generates the IV: the general path's
        try:
            spec = _checked(verdict, iv, fields.get("aad"), None)
            sealed = verdict.cipher.encrypt(iv, fields["data"], spec.aad or None)
        except Exception:  # a bad IV or additional data: the general path's reason
            return None
        size = len(sealed) - 16
        answer = _field(_DATA, sealed[:size])
        if spec.tag_length is not None:
            answer += _field(_TAG, sealed[size : size + spec.tag_length])
        return answer

    @staticmethod
    def _decrypt(verdict: _Gcm, fields: dict[str, bytes]) -> bytes | None:
        """Data of the decryption, or None when the general path must answer (a tag that does
        not authenticate: its Cryptographic Failure, with its message and audit line)."""
        iv, tag = fields.get("iv"), fields.get("tag")
        if iv is None or tag is None or len(tag) != 16:
            return None
        try:
            spec = _checked(verdict, iv, fields.get("aad"), tag)
            plain = verdict.cipher.decrypt(iv, fields["data"] + tag, spec.aad or None)
        except Exception:  # a bad IV, additional data or tag: the general path's reason
            return None
        return _field(_DATA, plain)

    @staticmethod
    def _mac(verdict: _Mac, data: bytes) -> bytes:
        mac = hmac.digest(verdict.key, data, verdict.hash_name)
        return _field(_MAC_DATA, mac if verdict.truncated_to is None else mac[: verdict.truncated_to])

    @staticmethod
    def _judge(
        record: ObjectRecord, key: tuple[Operation, Version, bytes], now: datetime
    ) -> _Gcm | _Mac | None:
        """What the lane does for this key, operation, version and parameters (None: nothing)."""
        operation, version, parameters_item = key
        requested = None
        try:
            if parameters_item:
                item = binary.decode(parameters_item, DEFAULT_LIMITS)
                requested = CryptographicParameters.from_item(item, version)
                if requested.other:
                    return None
            return CryptoLane._plan(record, operation, version, requested, now)
        except Exception:  # parameters or a key the general path must judge (and report)
            log.debug("the crypto lane leaves %s to the general path", record.uid, exc_info=True)
            return None

    @staticmethod
    def _plan(
        record: ObjectRecord,
        operation: Operation,
        version: Version,
        requested: CryptographicParameters | None,
        now: datetime,
    ) -> _Gcm | _Mac | None:
        if operation in (Operation.ENCRYPT, Operation.DECRYPT):
            encrypt = operation is Operation.ENCRYPT
            planned = plain_cipher(record, requested, version, now, encrypt)
            if planned is None or planned[1].name != "AES-GCM":
                return None
            return _Gcm(encrypt, planned[0], planned[1], AESGCM(secret_bytes(record)))
        spec = plain_mac(record, requested, now)
        if spec is None or spec.name != HMAC or spec.hashing is None:
            return None
        return _Mac(secret_bytes(record), HASH_NAMES[spec.hashing], spec.truncated_to)

    def _keep(self, store: SqliteStore, uid: str, row: tuple[Any, ...], now: datetime) -> _Kept:
        """The object's row read afresh: its record and the moment its verdicts may change."""
        record = None
        until = None
        try:
            record = record_of(uid, row, store.sealer)
            until = settled_until(record.attributes, now)
        except Exception:  # a row the general path must judge (and report)
            log.debug("the crypto lane leaves %s to the general path", uid, exc_info=True)
        return remember(self._kept, uid, _Kept(row, record, until))
