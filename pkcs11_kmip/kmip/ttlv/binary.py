"""Binary TTLV (KMIP 2.1 §9.1): the wire encoding.

Every item is a 3-byte tag, a 1-byte type, a 4-byte big-endian length and the value,
padded with zeros to a multiple of 8 bytes. The decoder checks every length against
the bytes actually present and against `Limits` before it looks further, so a bogus
length can neither make it read out of bounds nor allocate what the peer claims.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pkcs11_kmip.kmip.ttlv.errors import CodecError, LimitExceeded
from pkcs11_kmip.kmip.ttlv.item import Item, ItemType, is_allocated_tag
from pkcs11_kmip.kmip.ttlv.limits import DEFAULT_LIMITS, Limits

HEADER_SIZE = 8

HEADER = _HEADER = struct.Struct(">II")  # tag << 8 | type, length
_LEAF = struct.Struct(">IIII")
SMALL = _ENC_INT = struct.Struct(">IIi4x")  # a whole Integer or Enumeration item
_ENC_UINT = struct.Struct(">III4x")
LONG = _ENC_LONG = struct.Struct(">IIq")  # a whole Long Integer or Date-Time item


def word(tag: int, type_: int) -> int:
    """An item's tag and type as the first word of its header (`HEADER`), for code that
    recognises a message by its bytes (the server's lanes)."""
    return int(tag) << 8 | int(type_)


_STRUCTURE = ItemType.STRUCTURE
_INTEGER = ItemType.INTEGER
_LONG_INTEGER = ItemType.LONG_INTEGER
_BIG_INTEGER = ItemType.BIG_INTEGER
_ENUMERATION = ItemType.ENUMERATION
_BOOLEAN = ItemType.BOOLEAN
_TEXT_STRING = ItemType.TEXT_STRING
_BYTE_STRING = ItemType.BYTE_STRING
_DATE_TIME = ItemType.DATE_TIME
_INTERVAL = ItemType.INTERVAL
_DATE_TIME_EXTENDED = ItemType.DATE_TIME_EXTENDED
_TYPES = {int(t): t for t in ItemType}
_new_object = object.__new__


def _check_tag(tag: int, offset: int) -> None:
    if not is_allocated_tag(tag):
        raise CodecError(
            f"tag 0x{tag:06X} is outside the KMIP (0x42xxxx) and extension (0x54xxxx) ranges", offset=offset
        )


def frame_length(header: bytes, limits: Limits = DEFAULT_LIMITS) -> int:
    """Total size of the message whose first 8 bytes are `header`, checked against the limit.

    A stream reader calls this before reading the body, so a 100 MB length claim is
    refused before a single byte of it is buffered.
    """
    if len(header) < HEADER_SIZE:
        raise CodecError("truncated item header", offset=0)
    word: int
    length: int
    word, length = _HEADER.unpack_from(header)
    _check_tag(word >> 8, 0)
    if word & 0xFF != 0x01:
        raise CodecError("a KMIP message must be a Structure", offset=3)
    total = HEADER_SIZE + length
    if total > limits.max_message_size:
        raise LimitExceeded(f"message of {total} bytes exceeds the limit of {limits.max_message_size} bytes")
    if length % 8:
        raise CodecError(f"structure length {length} is not a multiple of 8", offset=4)
    return total


def decode(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> Item:
    """Decode exactly one item (normally a whole message) from `data`."""
    items = decode_all(data, limits)
    if len(items) != 1:
        raise CodecError(f"expected one item, found {len(items)}")
    return items[0]


def decode_all(data: bytes | bytearray | memoryview, limits: Limits = DEFAULT_LIMITS) -> list[Item]:
    """Decode items stored back to back (e.g. a capture of several messages)."""
    if len(data) > limits.max_message_size:
        raise LimitExceeded(
            f"input of {len(data)} bytes exceeds the limit of {limits.max_message_size} bytes"
        )
    buffer = bytes(data)
    out: list[Item] = []
    _decode_items(buffer, 0, len(buffer), 0, limits.max_depth, out)
    return out


# What the decoder builds of each item: (tag, type, value) -> the item.
ItemMaker = Callable[[int, ItemType, Any], Any]


def decode_children(
    data: bytes | bytearray | memoryview, make: ItemMaker, limits: Limits = DEFAULT_LIMITS
) -> list[Any]:
    """The children of the one Structure `data` holds, each built by `make(tag, type, value)`.

    For readers that want typed values, not an item tree they would walk again:
    `make` gets what an Item would hold (a nested Structure's value: its child Items).
    """
    buffer = bytes(data)
    total = frame_length(buffer, limits)  # a Structure whose length fits the limit
    if total != len(buffer):
        raise CodecError(f"expected one item of {total} bytes, found {len(buffer)} bytes")
    if limits.max_depth < 1:
        raise LimitExceeded(f"structures nested deeper than {limits.max_depth} levels", offset=0)
    out: list[Any] = []
    _decode_items(buffer, HEADER_SIZE, total, 1, limits.max_depth, out, make)
    return out


def _decode_items(
    buf: bytes, pos: int, end: int, depth: int, max_depth: int, out: list[Any], make: ItemMaker | None = None
) -> None:
    # Hot loop: one unpack reads a header and the 8 value bytes every fixed-size item has.
    # `make` builds the items of this level only (None: Items); nested structures hold Items.
    # Each branch leaves the item's type in `kind` and its value in `value`; an Item is
    # built by assigning its slots, which skips type.__call__'s dispatch to Item.__init__.
    append = out.append
    new = _new_object
    while pos < end:
        remaining = end - pos
        if remaining >= 16:
            word, length, high, low = _LEAF.unpack_from(buf, pos)
        elif remaining >= HEADER_SIZE:
            word, length = _HEADER.unpack_from(buf, pos)
            high = low = -1  # no room for a fixed-size value
        else:
            raise CodecError(f"truncated item header ({remaining} bytes left)", offset=pos)
        tag = word >> 8
        code = word & 0xFF
        if not (0x420000 <= tag <= 0x42FFFF or 0x540000 <= tag <= 0x54FFFF):
            _check_tag(tag, pos)
        start = pos + HEADER_SIZE
        value: Any
        if code == 0x01:
            stop = start + length
            if stop > end:
                raise CodecError(
                    f"structure 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            if depth >= max_depth:
                raise LimitExceeded(f"structures nested deeper than {max_depth} levels", offset=pos)
            value = []
            _decode_items(buf, start, stop, depth + 1, max_depth, value)
            kind = _STRUCTURE
            pos = stop
        elif code == 0x05 or code == 0x02 or code == 0x0A:
            if length != 4:
                raise CodecError(f"{_TYPES[code].name} 0x{tag:06X} has length {length}, not 4", offset=pos)
            if high < 0:
                raise CodecError(f"value of 0x{tag:06X} is truncated", offset=pos)
            if low:
                raise CodecError(f"padding of 0x{tag:06X} is not zero", offset=pos)
            if code == 0x02:
                kind, value = _INTEGER, high - 0x100000000 if high & 0x80000000 else high
            else:
                kind, value = _ENUMERATION if code == 0x05 else _INTERVAL, high
            pos += 16
        elif code == 0x07 or code == 0x08:
            stop = start + ((length + 7) & ~7)
            if stop > end:
                raise CodecError(
                    f"value of 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            value = buf[start : start + length]
            if stop - start != length and buf[start + length : stop].strip(b"\x00"):
                raise CodecError(f"padding of 0x{tag:06X} is not zero", offset=pos)
            if code == 0x08:
                kind = _BYTE_STRING
            else:
                kind = _TEXT_STRING
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise CodecError(
                        f"text string 0x{tag:06X} is not valid UTF-8 ({error.reason})", offset=pos
                    ) from None
            pos = stop
        elif code == 0x09 or code == 0x06 or code == 0x03 or code == 0x0B:
            if length != 8:
                raise CodecError(f"{_TYPES[code].name} 0x{tag:06X} has length {length}, not 8", offset=pos)
            if high < 0:
                raise CodecError(f"value of 0x{tag:06X} is truncated", offset=pos)
            if code == 0x06:
                if high or low > 1:
                    raise CodecError(
                        f"boolean 0x{tag:06X} holds {(high << 32) | low}, not 0 or 1", offset=pos
                    )
                kind, value = _BOOLEAN, low == 1
            else:
                value = (high << 32) | low
                kind, value = _TYPES[code], value - (1 << 64) if high & 0x80000000 else value
            pos += 16
        elif code == 0x04:
            if length == 0 or length % 8:
                raise CodecError(
                    f"big integer 0x{tag:06X} has length {length}, not a multiple of 8", offset=pos
                )
            stop = start + length
            if stop > end:
                raise CodecError(
                    f"value of 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            kind, value = _BIG_INTEGER, int.from_bytes(buf[start:stop], "big", signed=True)
            pos = stop
        else:
            raise CodecError(f"item 0x{tag:06X} has unknown type 0x{code:02X}", offset=pos)
        if make is None:
            item = new(Item)
            item.tag = tag
            item.type = kind
            item.value = value
            append(item)
        else:
            append(make(tag, kind, value))


def encode(item: Item) -> bytes:
    """Encode one item (normally a whole message) to TTLV bytes."""
    out = bytearray()
    try:
        encode_into(out, item)
    except ENCODE_ERRORS as error:
        item.validate()  # names the offending item if it can
        raise CodecError(f"cannot encode {item!r}: {error}") from None
    return bytes(out)


# What a leaf writer raises for a value of the wrong Python type or range; callers
# turn it into a CodecError once, at the top of an encode.
ENCODE_ERRORS = (struct.error, TypeError, AttributeError, OverflowError, UnicodeEncodeError, KeyError)

_PADDING = [b"\x00" * (-n % 8) for n in range(8)]


def big_integer_bytes(value: int) -> bytes:
    """Two's-complement big-endian bytes of `value`, sign-extended to a multiple of 8."""
    size = (value.bit_length() + 8) // 8  # one spare bit for the sign
    return value.to_bytes((size + 7) & ~7, "big", signed=True)


# One writer per leaf type: (output, tag << 8 | type, value). The typed message layer
# writes through these too, so there is exactly one binary encoding of each type.
LeafWriter = Callable[[bytearray, int, Any], None]


def _write_integer(out: bytearray, head: int, value: Any) -> None:
    if type(value) is not int:
        raise TypeError("an Integer needs an int")
    out += _ENC_INT.pack(head, 4, value)


def _write_unsigned(out: bytearray, head: int, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):  # enum members are ints too
        raise TypeError("an Enumeration or Interval needs an int")
    out += _ENC_UINT.pack(head, 4, value)


def _write_long(out: bytearray, head: int, value: Any) -> None:
    if type(value) is not int:
        raise TypeError("a Long Integer or Date-Time needs an int")
    out += _ENC_LONG.pack(head, 8, value)


def _write_boolean(out: bytearray, head: int, value: Any) -> None:
    if type(value) is not bool:
        raise TypeError("a Boolean needs a bool")
    out += _ENC_LONG.pack(head, 8, value)


def _write_text(out: bytearray, head: int, value: Any) -> None:
    raw = value.encode("utf-8")
    out += _HEADER.pack(head, len(raw))
    out += raw
    out += _PADDING[len(raw) & 7]


def _write_bytes(out: bytearray, head: int, value: Any) -> None:
    if not isinstance(value, bytes | bytearray):
        raise TypeError("a Byte String needs bytes")
    out += _HEADER.pack(head, len(value))
    out += value
    out += _PADDING[len(value) & 7]


def _write_big_integer(out: bytearray, head: int, value: Any) -> None:
    if type(value) is not int:
        raise TypeError("a Big Integer needs an int")
    raw = big_integer_bytes(value)
    out += _HEADER.pack(head, len(raw))
    out += raw


LEAF_WRITERS: dict[ItemType, LeafWriter] = {
    _INTEGER: _write_integer,
    _LONG_INTEGER: _write_long,
    _BIG_INTEGER: _write_big_integer,
    _ENUMERATION: _write_unsigned,
    _BOOLEAN: _write_boolean,
    _TEXT_STRING: _write_text,
    _BYTE_STRING: _write_bytes,
    _DATE_TIME: _write_long,
    _INTERVAL: _write_unsigned,
    _DATE_TIME_EXTENDED: _write_long,
}


def begin_structure(out: bytearray) -> int:
    """Reserve a Structure header; `end_structure` fills it in once the children are written."""
    mark = len(out)
    out += b"\x00" * HEADER_SIZE
    return mark


def end_structure(out: bytearray, mark: int, tag: int) -> None:
    _HEADER.pack_into(out, mark, (tag << 8) | 0x01, len(out) - mark - HEADER_SIZE)


def encode_into(out: bytearray, item: Item) -> None:
    """Append the TTLV of `item` to `out` (raises ENCODE_ERRORS for unencodable values)."""
    kind = item.type
    if kind is _STRUCTURE:
        mark = begin_structure(out)
        for child in item.value:  # type: ignore[union-attr]
            encode_into(out, child)  # type: ignore[arg-type]
        end_structure(out, mark, item.tag)
    else:
        LEAF_WRITERS[kind](out, (item.tag << 8) | kind, item.value)
