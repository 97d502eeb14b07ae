"""The KMIP messages of a forwarded call, written and read without the typed codec.

Every forwarded Cryptoki call is one KMIP request with one PKCS#11 batch item, and
nearly every answer is one successful item with a PKCS#11 payload. Building those
through the generic message classes (dataclasses, an item tree, per-field dispatch)
cost more CPU per call than the rest of the library's hot path together, so the
request is assembled from precomputed TTLV bytes and the plain answer is read by a
direct walk over its few fields.

The generic codec (`pkcs11_kmip.kmip.messages`) stays the reference:
`request` writes exactly the bytes `KmipClient.request_message(...).encode()` writes
(tests/provider/test_frames.py checks it for many calls), and `read_response` answers
None for anything but the plain shape (a failed item, a batch, a field it does not
expect), which the caller then decodes generically.

The server's fast lane (pkcs11_kmip_server/fast_lane.py) uses the mirror image:
`read_request` recognises exactly the messages `request` writes, and `response` writes
the plain answer as the server's typed encoder would (tests/server/test_fast_lane.py).
"""

from __future__ import annotations

import functools
import struct
import time
from dataclasses import dataclass

from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.spec.enums import Operation, ResultStatus, Tag

_STRUCTURE, _INTEGER, _ENUMERATION, _BYTE_STRING, _DATE_TIME = 0x01, 0x02, 0x05, 0x08, 0x09
_HEADER = struct.Struct(">II")  # tag << 8 | type, length
_SMALL = struct.Struct(">IIi4x")  # an Integer or Enumeration item (value padded to 8)
_DATE_TIME_ITEM = struct.Struct(">IIq")


def _word(tag: int, type_: int) -> int:
    return int(tag) << 8 | type_


# Plain ints: an IntEnum member costs an attribute lookup through its class on every use.
_RESPONSE_MESSAGE, _RESPONSE_HEADER, _BATCH_ITEM = (
    int(Tag.RESPONSE_MESSAGE),
    int(Tag.RESPONSE_HEADER),
    int(Tag.BATCH_ITEM),
)
_OPERATION_TAG, _RESULT_STATUS, _RESPONSE_PAYLOAD = (
    int(Tag.OPERATION),
    int(Tag.RESULT_STATUS),
    int(Tag.RESPONSE_PAYLOAD),
)
_FUNCTION_TAG, _CORRELATION_VALUE = int(Tag.PKCS_11_FUNCTION), int(Tag.CORRELATION_VALUE)
_OUTPUT_TAG, _RETURN_CODE_TAG = int(Tag.PKCS_11_OUTPUT_PARAMETERS), int(Tag.PKCS_11_RETURN_CODE)
_PKCS_11, _SUCCESS = int(Operation.PKCS_11), int(ResultStatus.SUCCESS)


def _head(tag: int, type_: int, length: int) -> bytes:
    return _HEADER.pack(_word(tag, type_), length)


def _small(tag: int, type_: int, value: int) -> bytes:
    return _SMALL.pack(_word(tag, type_), 4, value)


def _padded(length: int) -> int:
    return (length + 7) & ~7


_PAYLOAD_FUNCTION = [_small(Tag.PKCS_11_FUNCTION, _ENUMERATION, i) for i in range(256)]
_OPERATION = _small(Tag.OPERATION, _ENUMERATION, Operation.PKCS_11)
_BATCH_COUNT = _small(Tag.BATCH_COUNT, _INTEGER, 1)
_FUNCTION_ITEM = 16
_OPERATION_ITEM = 16
_HEADER_LENGTH = 0x48  # Protocol Version (40), Time Stamp (16), Batch Count (16)


@functools.cache
def _protocol_version(version: Version) -> bytes:
    return (
        _head(Tag.PROTOCOL_VERSION, _STRUCTURE, 0x20)
        + _small(Tag.PROTOCOL_VERSION_MAJOR, _INTEGER, version[0])
        + _small(Tag.PROTOCOL_VERSION_MINOR, _INTEGER, version[1])
    )


_CV_WORD = _word(Tag.CORRELATION_VALUE, _BYTE_STRING)
_INPUT_WORD = _word(Tag.PKCS_11_INPUT_PARAMETERS, _BYTE_STRING)
_MESSAGE_WORD = _word(Tag.REQUEST_MESSAGE, _STRUCTURE)
_ITEM_WORD = _word(Tag.BATCH_ITEM, _STRUCTURE)
_PAYLOAD_WORD = _word(Tag.REQUEST_PAYLOAD, _STRUCTURE)
_ZEROS = bytes(8)
_header_cache: tuple[Version, int, bytes] = ((0, 0), -1, b"")


def _byte_string(word: int, data: bytes) -> bytes:
    return _HEADER.pack(word, len(data)) + data + _ZEROS[: -len(data) % 8]


def _request_header(version: Version, now: int) -> bytes:
    """The Request Header, kept while the Time Stamp (whole seconds) stays the same."""
    global _header_cache
    cached_version, cached_now, header = _header_cache
    if cached_version != version or cached_now != now:
        header = (
            _head(Tag.REQUEST_HEADER, _STRUCTURE, _HEADER_LENGTH)
            + _protocol_version(version)
            + _DATE_TIME_ITEM.pack(_word(Tag.TIME_STAMP, _DATE_TIME), 8, now)
            + _BATCH_COUNT
        )
        _header_cache = (version, now, header)
    return header


def request(function: int, correlation_value: bytes | None, data: bytes, version: Version, now: int) -> bytes:
    """One KMIP request message with one PKCS#11 item, as the typed codec encodes it.

    `now`: the Time Stamp, whole seconds since the epoch; an empty `data` leaves the
    Input Parameters out, as the typed request does for None.
    """
    payload = (
        _PAYLOAD_FUNCTION[function]
        if function < 256
        else _small(Tag.PKCS_11_FUNCTION, _ENUMERATION, function)
    )
    if correlation_value is not None:
        payload += _byte_string(_CV_WORD, correlation_value)
    if data:
        payload += _byte_string(_INPUT_WORD, data)
    item_length = _OPERATION_ITEM + 8 + len(payload)
    return b"".join(
        (
            _HEADER.pack(_MESSAGE_WORD, 8 + _HEADER_LENGTH + 8 + item_length),
            _request_header(version, now),
            _HEADER.pack(_ITEM_WORD, item_length),
            _OPERATION,
            _HEADER.pack(_PAYLOAD_WORD, len(payload)),
            payload,
        )
    )


def now() -> int:
    """The Time Stamp of a request made now (the typed client drops the microseconds too)."""
    return int(time.time())


@dataclass(frozen=True)
class Answer:
    """A PKCS#11 response payload's fields (a successful item)."""

    function: int
    return_code: int
    correlation_value: bytes | None
    output: bytes | None


class _NotPlain(Exception):
    """Not the plain shape: the caller decodes the message generically."""


def _item(data: bytes, at: int, end: int) -> tuple[int, int, int, int]:
    """The item at `at`: its tag, type, value offset and the offset after it (padding included)."""
    if at + 8 > end:
        raise _NotPlain
    word, length = _HEADER.unpack_from(data, at)
    type_ = word & 0xFF
    size = length if type_ == _STRUCTURE else _padded(length)
    if type_ == _STRUCTURE and length % 8:
        raise _NotPlain
    if at + 8 + size > end:
        raise _NotPlain
    return word >> 8, type_, at + 8, at + 8 + size


def _small_value(data: bytes, at: int, type_: int, expected: int) -> int:
    _, length = _HEADER.unpack_from(data, at - 8)
    if type_ != expected or length != 4 or data[at + 4 : at + 8] != b"\0\0\0\0":
        raise _NotPlain
    value: int = struct.unpack_from(">I" if type_ == _ENUMERATION else ">i", data, at)[0]
    return value


def _bytes_value(data: bytes, at: int, type_: int) -> bytes:
    _, length = _HEADER.unpack_from(data, at - 8)
    if type_ != _BYTE_STRING or any(data[at + length : at + _padded(length)]):
        raise _NotPlain
    return data[at : at + length]


def read_response(data: bytes) -> Answer | None:
    """The payload of a one-item successful PKCS#11 response; None for any other message."""
    try:
        return _read(data)
    except (_NotPlain, struct.error):
        return None


def _read(data: bytes) -> Answer:
    tag, type_, at, end = _item(data, 0, len(data))
    if tag != _RESPONSE_MESSAGE or type_ != _STRUCTURE or end != len(data):
        raise _NotPlain
    tag, type_, _, at = _item(data, at, end)  # the header: nothing in it changes the answer
    if tag != _RESPONSE_HEADER or type_ != _STRUCTURE:
        raise _NotPlain
    tag, type_, at, item_end = _item(data, at, end)
    if tag != _BATCH_ITEM or type_ != _STRUCTURE or item_end != end:
        raise _NotPlain  # a batch of several items, or something after the item
    tag, type_, value, at = _item(data, at, item_end)
    if tag != _OPERATION_TAG or _small_value(data, value, type_, _ENUMERATION) != _PKCS_11:
        raise _NotPlain
    tag, type_, value, at = _item(data, at, item_end)
    if tag != _RESULT_STATUS or _small_value(data, value, type_, _ENUMERATION) != _SUCCESS:
        raise _NotPlain
    tag, type_, at, payload_end = _item(data, at, item_end)
    if tag != _RESPONSE_PAYLOAD or type_ != _STRUCTURE or payload_end != item_end:
        raise _NotPlain
    tag, type_, value, at = _item(data, at, payload_end)
    if tag != _FUNCTION_TAG:
        raise _NotPlain
    function = _small_value(data, value, type_, _ENUMERATION)
    correlation_value = output = None
    return_code: int | None = None
    while at < payload_end:
        tag, type_, value, at = _item(data, at, payload_end)
        if tag == _CORRELATION_VALUE and correlation_value is None and output is None and return_code is None:
            correlation_value = _bytes_value(data, value, type_)
        elif tag == _OUTPUT_TAG and output is None and return_code is None:
            output = _bytes_value(data, value, type_)
        elif tag == _RETURN_CODE_TAG and return_code is None:
            return_code = _small_value(data, value, type_, _ENUMERATION)
        else:
            raise _NotPlain
    if return_code is None:
        raise _NotPlain
    return Answer(function, return_code, correlation_value, output)


# --- the server's side: the same messages read and answered (the fast lane) ----------------

_ENUMERATION_ITEM = struct.Struct(">III4x")  # unsigned: a CK_RV may have its top bit set
_REQUEST_HEADER_HEAD = _head(Tag.REQUEST_HEADER, _STRUCTURE, _HEADER_LENGTH) + _head(
    Tag.PROTOCOL_VERSION, _STRUCTURE, 0x20
)
_MAJOR_HEAD = _HEADER.pack(_word(Tag.PROTOCOL_VERSION_MAJOR, _INTEGER), 4)
_MINOR_HEAD = _HEADER.pack(_word(Tag.PROTOCOL_VERSION_MINOR, _INTEGER), 4)
_TIME_STAMP_HEAD = _HEADER.pack(_word(Tag.TIME_STAMP, _DATE_TIME), 8)
_COUNT_AND_ITEM = _BATCH_COUNT + _ITEM_WORD.to_bytes(4, "big")
_OPERATION_AND_PAYLOAD = _OPERATION + _PAYLOAD_WORD.to_bytes(4, "big")
_FUNCTION_HEAD = _HEADER.pack(_word(Tag.PKCS_11_FUNCTION, _ENUMERATION), 4)
_PAYLOAD_AT = 120  # message, header (0x48 + 8), item and Operation, payload headers
_LATEST_TIME_STAMP = 253_402_300_800  # 10000-01-01: later ones the typed decoder refuses
_SIGNED = struct.Struct(">i")
_UNSIGNED = struct.Struct(">I")
_LONG = struct.Struct(">q")


@dataclass(frozen=True)
class Request:
    """A PKCS#11 request message's fields, as `request` writes them."""

    version: Version
    time_stamp: int
    function: int
    correlation_value: bytes | None
    data: bytes


def read_request(data: bytes) -> Request | None:
    """The fields of a message shaped exactly as `request` writes it; None for any other.

    That shape has no Authentication, no batch options, one item: anything more goes to
    the server's general path, which reads (and refuses) every message there is.
    """
    size = len(data)
    if (
        size < _PAYLOAD_AT + 16
        or _HEADER.unpack_from(data, 0) != (_MESSAGE_WORD, size - 8)
        or data[8:24] != _REQUEST_HEADER_HEAD
        or data[24:32] != _MAJOR_HEAD
        or data[40:48] != _MINOR_HEAD
        or data[56:64] != _TIME_STAMP_HEAD
        or data[72:92] != _COUNT_AND_ITEM
        or _UNSIGNED.unpack_from(data, 92)[0] != size - 96
        or data[96:116] != _OPERATION_AND_PAYLOAD
        or _UNSIGNED.unpack_from(data, 116)[0] != size - _PAYLOAD_AT
        or data[120:128] != _FUNCTION_HEAD
        or data[36:40] != b"\0\0\0\0"
        or data[52:56] != b"\0\0\0\0"
        or data[132:136] != b"\0\0\0\0"
    ):
        return None
    time_stamp = _LONG.unpack_from(data, 64)[0]
    if not 0 <= time_stamp < _LATEST_TIME_STAMP:
        return None
    version = (_SIGNED.unpack_from(data, 32)[0], _SIGNED.unpack_from(data, 48)[0])
    at = _PAYLOAD_AT + 16
    correlation_value, at = _optional_bytes(data, at, _CV_WORD)
    inputs, at = _optional_bytes(data, at, _INPUT_WORD)
    if at != size:
        return None
    return Request(version, time_stamp, _UNSIGNED.unpack_from(data, 128)[0], correlation_value, inputs or b"")


def _optional_bytes(data: bytes, at: int, word: int) -> tuple[bytes | None, int]:
    """The Byte String with header `word` at `at` (and the offset after it), if it is there
    and well formed; (None, at) otherwise, which leaves the rest to the caller's end check."""
    if at + 8 > len(data):
        return None, at
    found, length = _HEADER.unpack_from(data, at)
    end = at + 8 + _padded(length)
    if found != word or end > len(data) or any(data[at + 8 + length : end]):
        return None, at
    return data[at + 8 : at + 8 + length], end


def _text(tag: int, text: str) -> bytes:
    raw = text.encode()
    return _HEADER.pack(_word(tag, 0x07), len(raw)) + raw + _ZEROS[: -len(raw) % 8]


_SUCCESSFUL_PKCS_11 = _OPERATION + _small(Tag.RESULT_STATUS, _ENUMERATION, ResultStatus.SUCCESS)
_RESPONSE_MESSAGE_WORD = _word(Tag.RESPONSE_MESSAGE, _STRUCTURE)
_RESPONSE_HEADER_WORD = _word(Tag.RESPONSE_HEADER, _STRUCTURE)
_RESPONSE_PAYLOAD_WORD = _word(Tag.RESPONSE_PAYLOAD, _STRUCTURE)
_OUTPUT_WORD = _word(Tag.PKCS_11_OUTPUT_PARAMETERS, _BYTE_STRING)
_RETURN_CODE_WORD = _word(Tag.PKCS_11_RETURN_CODE, _ENUMERATION)


def response(
    version: Version,
    now: int,
    server_correlation_value: str | None,
    answer: Answer,
) -> bytes:
    """A one-item successful PKCS#11 response message, as the server's typed encoder writes it.

    `server_correlation_value`: the header's (KMIP 1.4 and later carry one).
    """
    function = answer.function
    payload = (
        _PAYLOAD_FUNCTION[function]
        if function < 256
        else _ENUMERATION_ITEM.pack(_word(Tag.PKCS_11_FUNCTION, _ENUMERATION), 4, function)
    )
    if answer.correlation_value is not None:
        payload += _byte_string(_CV_WORD, answer.correlation_value)
    if answer.output is not None:
        payload += _byte_string(_OUTPUT_WORD, answer.output)
    payload += _ENUMERATION_ITEM.pack(_RETURN_CODE_WORD, 4, answer.return_code)
    item = _SUCCESSFUL_PKCS_11 + _HEADER.pack(_RESPONSE_PAYLOAD_WORD, len(payload)) + payload
    return response_message(version, now, server_correlation_value, item)


def response_message(version: Version, now: int, server_correlation_value: str | None, item: bytes) -> bytes:
    """A one-item response message around `item` (the Batch Item's fields, encoded), as the
    server's typed encoder writes it: Protocol Version, Time Stamp `now` (whole seconds),
    the Server Correlation Value if given (KMIP 1.4 and later carry one), Batch Count 1.
    The server's Get lane (pkcs11_kmip_server/get_lane.py) writes its answers with it too.
    """
    header = _protocol_version(version) + _DATE_TIME_ITEM.pack(_word(Tag.TIME_STAMP, _DATE_TIME), 8, now)
    if server_correlation_value is not None:
        header += _text(Tag.SERVER_CORRELATION_VALUE, server_correlation_value)
    header += _BATCH_COUNT
    return b"".join(
        (
            _HEADER.pack(_RESPONSE_MESSAGE_WORD, 8 + len(header) + 8 + len(item)),
            _HEADER.pack(_RESPONSE_HEADER_WORD, len(header)),
            header,
            _HEADER.pack(_ITEM_WORD, len(item)),
            item,
        )
    )
