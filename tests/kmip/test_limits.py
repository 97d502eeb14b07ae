"""Size and depth limits: refused early, exactly at the configured bound, in all three codecs."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import pytest

from pkcs11_kmip.kmip.ttlv import Item, ItemType, LimitExceeded, Limits, binary, json_codec, xml_codec

REQUEST_MESSAGE = 0x420078


def nested_binary(depth: int) -> bytes:
    """`depth` Structures, each the only child of the one outside it."""
    return b"".join(
        struct.pack(">II", REQUEST_MESSAGE << 8 | ItemType.STRUCTURE, 8 * (depth - 1 - level))
        for level in range(depth)
    )


def nested_xml(depth: int) -> str:
    return "<RequestMessage>" * depth + "</RequestMessage>" * depth


def nested_json(depth: int) -> str:
    return '{"tag": "RequestMessage", "value": [' * depth + "]}" * depth


def decode_binary(data: bytes | str, limits: Limits) -> list[Item]:
    assert isinstance(data, bytes)
    return binary.decode_all(data, limits)


def decode_xml(data: bytes | str, limits: Limits) -> list[Item]:
    return xml_codec.decode(data, limits)


def decode_json(data: bytes | str, limits: Limits) -> list[Item]:
    return json_codec.decode(data, limits)


Decoder = Callable[[bytes | str, Limits], list[Item]]
NESTED: list[tuple[str, Callable[[int], bytes | str], Decoder]] = [
    ("binary", nested_binary, decode_binary),
    ("xml", nested_xml, decode_xml),
    ("json", nested_json, decode_json),
]
codecs = pytest.mark.parametrize(("make", "decode"), [n[1:] for n in NESTED], ids=[n[0] for n in NESTED])


def depth_of(item: Item) -> int:
    depth = 0
    while item.type is ItemType.STRUCTURE:
        depth += 1
        if not item.children:
            break
        item = item.children[0]
    return depth


@codecs
@pytest.mark.parametrize("max_depth", [1, 32, 200])
def test_nesting_up_to_max_depth_is_accepted_one_more_is_not(
    make: Callable[[int], bytes | str], decode: Decoder, max_depth: int
) -> None:
    limits = Limits(max_depth=max_depth)
    (item,) = decode(make(max_depth), limits)
    assert depth_of(item) == max_depth
    with pytest.raises(LimitExceeded):
        decode(make(max_depth + 1), limits)


@codecs
def test_nesting_bomb_is_refused_quickly(make: Callable[[int], bytes | str], decode: Decoder) -> None:
    bomb = make(10_000)
    start = time.perf_counter()
    with pytest.raises(LimitExceeded):
        decode(bomb, Limits())
    assert time.perf_counter() - start < 1.0


def padded_message(size: int, as_text: Callable[[Item], str] | None) -> bytes | str:
    """A valid one-message document of exactly `size` bytes: a Byte String sized to fit,
    and for XML and JSON trailing whitespace (allowed after the root) for the last bytes."""

    def build(filler: int) -> bytes | str:
        item = Item(
            REQUEST_MESSAGE, ItemType.STRUCTURE, [Item(0x4200C8, ItemType.BYTE_STRING, bytes(filler))]
        )
        return binary.encode(item) if as_text is None else as_text(item)

    filler = 0
    while len(build(filler + 1)) <= size:
        filler += 1
    document = build(filler)
    if isinstance(document, str):
        document = document.ljust(size)
    assert len(document) == size
    return document


def one_byte_more(document: bytes | str) -> bytes | str:
    if isinstance(document, bytes):
        return document + b"\x00"
    return document + " "


SIZED: list[tuple[str, Callable[[Item], str] | None, Decoder]] = [
    ("binary", None, decode_binary),
    ("xml", xml_codec.encode, decode_xml),
    ("json", json_codec.encode, decode_json),
]


@pytest.mark.parametrize(("as_text", "decode"), [s[1:] for s in SIZED], ids=[s[0] for s in SIZED])
def test_input_of_max_size_is_accepted_one_byte_more_is_not(
    as_text: Callable[[Item], str] | None, decode: Decoder
) -> None:
    limits = Limits(max_message_size=1024)
    document = padded_message(1024, as_text)
    assert len(decode(document, limits)) == 1
    with pytest.raises(LimitExceeded):
        decode(one_byte_more(document), limits)


def test_frame_length_refuses_a_100_mb_claim_from_the_header_alone() -> None:
    header = struct.pack(">II", REQUEST_MESSAGE << 8 | ItemType.STRUCTURE, 100 * 1024 * 1024)
    with pytest.raises(LimitExceeded):
        binary.frame_length(header, Limits())


def test_frame_length_reads_the_total_size_from_the_header() -> None:
    message = binary.encode(Item(REQUEST_MESSAGE, ItemType.STRUCTURE, [Item(0x42000D, ItemType.INTEGER, 1)]))
    assert binary.frame_length(message[:8], Limits()) == len(message) == 24
    with pytest.raises(LimitExceeded):
        binary.frame_length(message[:8], Limits(max_message_size=16))
