"""Golden TTLV bytes from outside this project: KMIP 1.4 §9.1.2 and PyKMIP's unit tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary, json_codec, xml_codec

# What each §9.1.2 example describes in words, as an item (tag 420020 is the spec's stand-in).
SPEC_EXAMPLE_VALUES: dict[str, Item] = {
    "An Integer containing the decimal value 8": Item(0x420020, ItemType.INTEGER, 8),
    "A Long Integer containing the decimal value 123456789000000000": Item(
        0x420020, ItemType.LONG_INTEGER, 123456789000000000
    ),
    "A Big Integer containing the decimal value 1234567890000000000000000000": Item(
        0x420020, ItemType.BIG_INTEGER, 1234567890000000000000000000
    ),
    "An Enumeration with value 255": Item(0x420020, ItemType.ENUMERATION, 255),
    "A Boolean with the value True": Item(0x420020, ItemType.BOOLEAN, True),
    'A Text String with the value "Hello World"': Item(0x420020, ItemType.TEXT_STRING, "Hello World"),
    "A Byte String with the value { 0x01, 0x02, 0x03 }": Item(
        0x420020, ItemType.BYTE_STRING, b"\x01\x02\x03"
    ),
    "A Date-Time, containing the value for Friday, March 14, 2008, 11:56:40 GMT": Item(
        0x420020, ItemType.DATE_TIME, int(datetime(2008, 3, 14, 11, 56, 40, tzinfo=UTC).timestamp())
    ),
    "An Interval, containing the value for 10 days": Item(0x420020, ItemType.INTERVAL, 10 * 86400),
    "A Structure containing an Enumeration, value 254, followed by an Integer, value 255, "
    "having tags 420004 and 420005 respectively": Item(
        0x420020,
        ItemType.STRUCTURE,
        [Item(0x420004, ItemType.ENUMERATION, 254), Item(0x420005, ItemType.INTEGER, 255)],
    ),
}


def test_spec_example(spec_example: dict[str, str]) -> None:
    data = bytes.fromhex(spec_example["hex"])
    item = binary.decode(data)
    assert item == SPEC_EXAMPLE_VALUES[spec_example["description"]]
    assert binary.encode(item) == data


def test_every_spec_example_is_checked(spec_examples: list[dict[str, str]]) -> None:
    assert sorted(example["description"] for example in spec_examples) == sorted(SPEC_EXAMPLE_VALUES)


# Vectors the file flags `valid_ttlv: true` that PyKMIP itself uses as negative tests
# (its reader must fail on them), with why, and what our error must say.
MISLABELLED: dict[tuple[str, str, str], tuple[str, str]] = {
    ("test_boolean.py", "test_read_bad_value", "encoding"): ("a Boolean holding 2", r"holds 2"),
    ("test_byte_string.py", "test_read_on_invalid_padding", "encoding"): ("non-zero padding", r"padding"),
    ("test_enumeration.py", "setUp", "self.encoding_bad_padding"): ("non-zero padding", r"padding"),
    ("test_integer.py", "test_read_on_invalid_padding", "encoding"): ("non-zero padding", r"padding"),
    ("test_interval.py", "setUp", "self.encoding_bad_padding"): ("non-zero padding", r"padding"),
    ("test_text_string.py", "test_read_on_invalid_padding", "encoding"): ("non-zero padding", r"padding"),
    ("test_session.py", "test_send_message", "buffer_full"): (
        "arbitrary bytes standing in for a full socket buffer, not TTLV",
        r"outside the KMIP",
    ),
}


def _key(vector: dict[str, Any]) -> tuple[str, str, str]:
    return Path(vector["file"]).name, vector["function"], vector["name"]


def test_pykmip_vector(pykmip_vector: dict[str, Any]) -> None:
    data = bytes.fromhex(pykmip_vector["hex"])
    mislabelled = MISLABELLED.get(_key(pykmip_vector))
    if mislabelled is not None:
        _reason, error = mislabelled
        with pytest.raises(CodecError, match=error):
            binary.decode_all(data)
        return
    if not pykmip_vector["valid_ttlv"]:
        with pytest.raises(CodecError):
            binary.decode_all(data)
        return
    items = binary.decode_all(data)
    assert [f"{item.tag:06X}" for item in items] == pykmip_vector["top_level_tags"]
    assert b"".join(binary.encode(item) for item in items) == data
    assert xml_codec.decode(xml_codec.encode(items)) == items
    assert json_codec.decode(json_codec.encode(items)) == items


def test_pykmip_vector_classification(pykmip_vectors: list[dict[str, Any]]) -> None:
    """The file is the one described (352 = 338 flagged valid + 14), and every vector
    reclassified above is in it, flagged valid: the table cannot go stale unnoticed."""
    assert len(pykmip_vectors) == 352
    flagged_valid = [vector for vector in pykmip_vectors if vector["valid_ttlv"]]
    assert len(flagged_valid) == 338
    reclassified = [_key(vector) for vector in flagged_valid if _key(vector) in MISLABELLED]
    assert sorted(reclassified) == sorted(MISLABELLED)
    assert all(re.fullmatch(r"[0-9A-Fa-f]*", vector["hex"]) for vector in pykmip_vectors)
