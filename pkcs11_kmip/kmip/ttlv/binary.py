"""Binary TTLV (KMIP 2.1 §9.1): the wire encoding.

Every item is a 3-byte tag, a 1-byte type, a 4-byte big-endian length and the value,
padded with zeros to a multiple of 8 bytes. The decoder checks every length against
the bytes actually present and against `Limits` before it looks further, so a bogus
length can neither make it read out of bounds nor allocate what the peer claims.
"""

from __future__ import annotations

import struct

from pkcs11_kmip.kmip.ttlv.errors import CodecError, LimitExceeded
from pkcs11_kmip.kmip.ttlv.item import Item, ItemType
from pkcs11_kmip.kmip.ttlv.limits import DEFAULT_LIMITS, Limits

HEADER_SIZE = 8

_HEADER = struct.Struct(">II")
_INT = struct.Struct(">i")
_UINT = struct.Struct(">I")
_LONG = struct.Struct(">q")
_ULONG = struct.Struct(">Q")
_ENC_INT = struct.Struct(">IIi4x")
_ENC_UINT = struct.Struct(">III4x")
_ENC_LONG = struct.Struct(">IIq")

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


def _check_tag(tag: int, offset: int) -> None:
    # 0x42xxxx are KMIP's own tags, 0x54xxxx the extension range; nothing else is allocated.
    if not (0x420000 <= tag <= 0x42FFFF or 0x540000 <= tag <= 0x54FFFF):
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


def _decode_items(buf: bytes, pos: int, end: int, depth: int, max_depth: int, out: list[Item]) -> None:
    unpack_header = _HEADER.unpack_from
    while pos < end:
        if end - pos < HEADER_SIZE:
            raise CodecError(f"truncated item header ({end - pos} bytes left)", offset=pos)
        word, length = unpack_header(buf, pos)
        tag = word >> 8
        type_code = word & 0xFF
        if not (0x420000 <= tag <= 0x42FFFF or 0x540000 <= tag <= 0x54FFFF):
            _check_tag(tag, pos)
        start = pos + HEADER_SIZE
        if type_code == 0x01:
            stop = start + length
            if stop > end:
                raise CodecError(
                    f"structure 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            if depth >= max_depth:
                raise LimitExceeded(f"structures nested deeper than {max_depth} levels", offset=pos)
            children: list[Item] = []
            _decode_items(buf, start, stop, depth + 1, max_depth, children)
            out.append(Item(tag, _STRUCTURE, children))
            pos = stop
            continue
        if type_code in (0x07, 0x08):
            stop = start + ((length + 7) & ~7)
            if stop > end:
                raise CodecError(
                    f"value of 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            raw = buf[start : start + length]
            if stop - start != length and buf[start + length : stop].strip(b"\x00"):
                raise CodecError(f"padding of 0x{tag:06X} is not zero", offset=pos)
            if type_code == 0x08:
                out.append(Item(tag, _BYTE_STRING, raw))
            else:
                try:
                    out.append(Item(tag, _TEXT_STRING, raw.decode("utf-8")))
                except UnicodeDecodeError as error:
                    raise CodecError(
                        f"text string 0x{tag:06X} is not valid UTF-8 ({error.reason})", offset=pos
                    ) from None
            pos = stop
            continue
        if type_code in (0x02, 0x05, 0x0A):
            if length != 4:
                raise CodecError(
                    f"{_TYPES[type_code].name} 0x{tag:06X} has length {length}, not 4", offset=pos
                )
            if start + 8 > end:
                raise CodecError(f"value of 0x{tag:06X} is truncated", offset=pos)
            if buf[start + 4 : start + 8] != b"\x00\x00\x00\x00":
                raise CodecError(f"padding of 0x{tag:06X} is not zero", offset=pos)
            if type_code == 0x02:
                out.append(Item(tag, _INTEGER, _INT.unpack_from(buf, start)[0]))
            else:
                out.append(Item(tag, _TYPES[type_code], _UINT.unpack_from(buf, start)[0]))
            pos = start + 8
            continue
        if type_code in (0x03, 0x06, 0x09, 0x0B):
            if length != 8:
                raise CodecError(
                    f"{_TYPES[type_code].name} 0x{tag:06X} has length {length}, not 8", offset=pos
                )
            if start + 8 > end:
                raise CodecError(f"value of 0x{tag:06X} is truncated", offset=pos)
            if type_code == 0x06:
                flag = _ULONG.unpack_from(buf, start)[0]
                if flag > 1:
                    raise CodecError(f"boolean 0x{tag:06X} holds {flag}, not 0 or 1", offset=pos)
                out.append(Item(tag, _BOOLEAN, flag == 1))
            else:
                out.append(Item(tag, _TYPES[type_code], _LONG.unpack_from(buf, start)[0]))
            pos = start + 8
            continue
        if type_code == 0x04:
            if length == 0 or length % 8:
                raise CodecError(
                    f"big integer 0x{tag:06X} has length {length}, not a multiple of 8", offset=pos
                )
            stop = start + length
            if stop > end:
                raise CodecError(
                    f"value of 0x{tag:06X} claims {length} bytes, {end - start} remain", offset=pos
                )
            out.append(Item(tag, _BIG_INTEGER, int.from_bytes(buf[start:stop], "big", signed=True)))
            pos = stop
            continue
        raise CodecError(f"item 0x{tag:06X} has unknown type 0x{type_code:02X}", offset=pos)


def encode(item: Item) -> bytes:
    """Encode one item (normally a whole message) to TTLV bytes."""
    out = bytearray()
    try:
        _encode_into(out, item)
    except (struct.error, TypeError, AttributeError, OverflowError, UnicodeEncodeError) as error:
        item.validate()  # names the offending item if it can
        raise CodecError(f"cannot encode {item!r}: {error}") from None
    return bytes(out)


def _pad(length: int) -> bytes:
    return b"\x00" * (-length % 8)


def big_integer_bytes(value: int) -> bytes:
    """Two's-complement big-endian bytes of `value`, sign-extended to a multiple of 8."""
    size = (value.bit_length() + 8) // 8  # one spare bit for the sign
    return value.to_bytes((size + 7) & ~7, "big", signed=True)


def _encode_into(out: bytearray, item: Item) -> None:
    kind = item.type
    head = (item.tag << 8) | kind
    value = item.value
    if kind is _STRUCTURE:
        mark = len(out)
        out += b"\x00" * HEADER_SIZE
        for child in value:  # type: ignore[union-attr]
            _encode_into(out, child)  # type: ignore[arg-type]
        _HEADER.pack_into(out, mark, head, len(out) - mark - HEADER_SIZE)
    elif kind is _INTEGER:
        out += _ENC_INT.pack(head, 4, value)
    elif kind is _ENUMERATION or kind is _INTERVAL:
        out += _ENC_UINT.pack(head, 4, value)
    elif kind is _TEXT_STRING:
        raw = value.encode("utf-8")  # type: ignore[union-attr]
        out += _HEADER.pack(head, len(raw))
        out += raw
        out += _pad(len(raw))
    elif kind is _BYTE_STRING:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("a Byte String needs bytes")
        out += _HEADER.pack(head, len(value))
        out += value
        out += _pad(len(value))
    elif kind is _BOOLEAN:
        if not isinstance(value, bool):
            raise TypeError("a Boolean needs a bool")
        out += _ENC_LONG.pack(head, 8, int(value))
    elif kind is _LONG_INTEGER or kind is _DATE_TIME or kind is _DATE_TIME_EXTENDED:
        out += _ENC_LONG.pack(head, 8, value)
    elif kind is _BIG_INTEGER:
        if type(value) is not int:
            raise TypeError("a Big Integer needs an int")
        raw = big_integer_bytes(value)
        out += _HEADER.pack(head, len(raw))
        out += raw
    else:
        raise TypeError(f"unknown item type {kind!r}")
