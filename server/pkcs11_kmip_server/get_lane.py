"""The Get lane: a Get by Unique Identifier from the object's owner, answered on the event loop.

The commonest KMIP request by far (MongoDB, Percona, vSphere fetch their keys this way)
is one Get naming only a Unique Identifier. Through the general path it costs a hop to
a worker thread and back, the typed decoder, a store transaction, decoding the stored
attributes, unsealing and decoding the key, the typed encoder and the batch audit
formatting. Here a message in exactly that shape (`read_get`: Protocol Version, an
optional Time Stamp, Batch Count 1; one Get item with nothing but a Text String Unique
Identifier) is answered from the loop with one indexed SELECT (`SqliteStore.peek`) and
a kept answer.

What is kept, per object: the row `peek` read (type, storage, attributes, sealed
material, owner) and the Batch Item the general path encodes for it, per protocol
version. A kept item is used only while `peek` reads the very same row: any write to
the object, by any server process, rewrites its attributes and reseals its material
under a fresh nonce, so the row differs and the item is made again. Nothing needs
invalidating, across threads or processes. Only the header (Time Stamp, Server
Correlation Value) is written per request (`frames.response_message`), byte for byte
the typed encoder's (tests/server/test_get_lane.py compares both paths).

What the lane leaves to the general path (which answers it with its precise Result
Reason, or writes): anyone but the owner (grants, administrators), an unknown
identifier, an object Get refuses (destroyed, archived, Not Extractable, Sensitive) or
must write (Fresh), a key in the HSM key store's token, another store, a busy database,
and any message of another shape (Authentication, batch options, several items, a Key
Format Type, wrapping...). The audit log gets the general path's line.

Kept answers hold key material in this process's memory, as the general path holds it
while it answers; at most `KEPT` objects are kept, the oldest dropped first.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pkcs11_kmip.cryptoki.frames import response_message
from pkcs11_kmip.kmip.messages import ResponseBatchItem
from pkcs11_kmip.kmip.messages.payloads import GetResponse
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import Operation, ResultStatus
from pkcs11_kmip.kmip.ttlv import ItemType
from pkcs11_kmip.kmip.ttlv.binary import HEADER as _HEAD
from pkcs11_kmip.kmip.ttlv.binary import LONG as _STAMP
from pkcs11_kmip.kmip.ttlv.binary import SMALL as _SMALL
from pkcs11_kmip.kmip.ttlv.binary import word as _word
from pkcs11_kmip_server.audit import LaneLines
from pkcs11_kmip_server.operations.get import plain_answer
from pkcs11_kmip_server.store import Conflict
from pkcs11_kmip_server.store.sqlite import SqliteStore, record_of
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS

if TYPE_CHECKING:
    from pkcs11_kmip_server.engine import Engine, Peer

log = logging.getLogger("pkcs11_kmip_server.get_lane")
K = TypeVar("K")

KEPT = 8192
"""Objects whose answers are kept (about a kilobyte each for an AES key)."""

_MESSAGE = _word(Tag.REQUEST_MESSAGE, ItemType.STRUCTURE)
_HEADER = _word(Tag.REQUEST_HEADER, ItemType.STRUCTURE)
_VERSION = _HEAD.pack(_word(Tag.PROTOCOL_VERSION, ItemType.STRUCTURE), 0x20)
_MAJOR = _HEAD.pack(_word(Tag.PROTOCOL_VERSION_MAJOR, ItemType.INTEGER), 4)
_MINOR = _HEAD.pack(_word(Tag.PROTOCOL_VERSION_MINOR, ItemType.INTEGER), 4)
_TIME_STAMP = _HEAD.pack(_word(Tag.TIME_STAMP, ItemType.DATE_TIME), 8)
_COUNT = _SMALL.pack(_word(Tag.BATCH_COUNT, ItemType.INTEGER), 4, 1)
_ITEM = _word(Tag.BATCH_ITEM, ItemType.STRUCTURE)
_OPERATION = _HEAD.pack(_word(Tag.OPERATION, ItemType.ENUMERATION), 4)
_PAYLOAD = _word(Tag.REQUEST_PAYLOAD, ItemType.STRUCTURE)
_UID = _word(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING)
_LATEST_TIME_STAMP = 253_402_300_800  # 10000-01-01: the typed decoder refuses later ones
_VERSIONS = frozenset(SUPPORTED_VERSIONS)


def read_single(data: bytes) -> tuple[Version, int, int] | None:
    """(version, Operation, where the Request Payload's fields begin) of a message of one
    batch item and nothing around it but Protocol Version and an optional Time Stamp
    (no Authentication, no batch options); None for any other. The payload's fields are
    the caller's to read, up to the message's end."""
    size = len(data)
    if size < 104 or _HEAD.unpack_from(data, 0) != (_MESSAGE, size - 8):  # 104: an empty payload
        return None
    word, header_length = _HEAD.unpack_from(data, 8)
    if (
        word != _HEADER
        or header_length not in (0x38, 0x48)
        or data[16:24] != _VERSION
        or data[24:32] != _MAJOR
        or data[40:48] != _MINOR
        or data[36:40] != b"\0\0\0\0"
        or data[52:56] != b"\0\0\0\0"
    ):
        return None
    at = 56
    if header_length == 0x48:
        if data[56:64] != _TIME_STAMP or not 0 <= _STAMP.unpack_from(data, 56)[2] < _LATEST_TIME_STAMP:
            return None
        at = 72
    if data[at : at + 16] != _COUNT:
        return None
    at += 16  # the Batch Item
    if (
        _HEAD.unpack_from(data, at) != (_ITEM, size - at - 8)
        or data[at + 8 : at + 16] != _OPERATION
        or data[at + 20 : at + 24] != b"\0\0\0\0"
    ):
        return None
    operation = _SMALL.unpack_from(data, at + 8)[2]
    at += 24  # the Request Payload
    if _HEAD.unpack_from(data, at) != (_PAYLOAD, size - at - 8):
        return None
    version = (struct.unpack_from(">i", data, 32)[0], struct.unpack_from(">i", data, 48)[0])
    if version not in _VERSIONS:
        return None
    return version, operation, at + 8


def read_get(data: bytes) -> tuple[Version, str] | None:
    """(version, Unique Identifier) of a message in exactly the lane's shape; None for any other."""
    single = read_single(data)
    if single is None or single[1] != Operation.GET:
        return None
    version, _, at = single  # the Unique Identifier, the payload's only field
    size = len(data)
    if size < at + 8:
        return None
    word, length = _HEAD.unpack_from(data, at)
    end = at + 8 + length
    if word != _UID or end + (-length % 8) != size or any(data[end:size]):
        return None
    try:
        return version, data[at + 8 : end].decode()
    except UnicodeDecodeError:
        return None


def owned_row(store: SqliteStore, uid: str, principal: str) -> tuple[Any, ...] | None:
    """The object's row (`SqliteStore.peek`) if `principal` owns it; else None, for the general
    path: an unknown object (Object Not Found), another's (the grants decide), a busy database."""
    try:
        row = store.peek(uid)
    except Conflict:
        return None
    return row if row is not None and row[4] == principal else None


def respond(
    engine: Engine,
    lines: LaneLines,
    now: datetime,
    principal: str,
    peer: Peer,
    version: Version,
    answered: tuple[str, str, bytes],
) -> bytes:
    """The response message around a lane's successful item (`answered`: the operation's name
    as the audit log writes it, the object's Unique Identifier, the Batch Item's fields
    encoded), and the general path's audit line for it."""
    operation, uid, item = answered
    seconds = int(now.timestamp())
    correlation = engine.server_correlation_value() if version >= (1, 4) else None
    response = response_message(version, seconds, correlation, item)
    if engine.audit is not None:
        items = [{"operation": operation, "ids": [uid], "status": "Success"}]
        engine.audit.write(lines.entry(now, seconds, principal, peer.address, version, items))
    return response


def remember(everything: dict[str, K], uid: str, kept: K) -> K:
    """Keep `kept` for `uid` in a lane's `everything`, the newest last, at most `KEPT` of them."""
    everything.pop(uid, None)
    if len(everything) >= KEPT:
        everything.pop(next(iter(everything)))  # the oldest
    everything[uid] = kept
    return kept


@dataclass
class _Kept:
    """An object's row as last read, its Get answer (None: the general path answers this
    object) and that answer's Batch Item per protocol version, encoded as they are asked for."""

    row: tuple[Any, ...]
    answer: GetResponse | None
    items: dict[Version, bytes] = field(default_factory=dict)


class GetLane:
    """The event loop's lane for plain Gets (see the module)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # read at each call: its store and audit log
        self._kept: dict[str, _Kept] = {}
        self._lines = LaneLines()  # the general path's audit lines

    def answer(self, data: bytes, peer: Peer) -> bytes | None:
        """The response to a plain Get from the object's owner, or None: the general path's."""
        engine = self._engine
        store = engine.store
        principal = peer.principal
        if principal is None or not isinstance(store, SqliteStore):
            return None
        asked = read_get(data)
        if asked is None:
            return None
        version, uid = asked
        row = owned_row(store, uid, principal)
        if row is None:
            return None
        now = engine.clock().replace(microsecond=0)
        kept = self._kept.get(uid)
        if kept is None or kept.row != row:
            kept = self._keep(store, uid, row, now)
        if kept.answer is None:
            return None
        item = kept.items.get(version)
        if item is None:
            batch_item = ResponseBatchItem(
                operation=Operation.GET, result_status=ResultStatus.SUCCESS, response_payload=kept.answer
            )
            item = kept.items[version] = batch_item.encode(version)[8:]  # without its own tag and length
        return respond(engine, self._lines, now, principal, peer, version, ("Get", uid, item))

    def _keep(self, store: SqliteStore, uid: str, row: tuple[Any, ...], now: datetime) -> _Kept:
        """The object's row read afresh: whether, and what, the lane answers for it."""
        answer = None
        try:
            answer = plain_answer(record_of(uid, row, store.sealer), now)
        except Exception:  # a row the general path must judge (and report)
            log.debug("the Get lane leaves %s to the general path", uid, exc_info=True)
        return remember(self._kept, uid, _Kept(row, answer))
