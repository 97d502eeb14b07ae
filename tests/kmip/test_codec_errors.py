"""Malformed input of every kind is refused with CodecError, saying what is wrong, and
so is an item tree whose values do not fit their types.

"""

from __future__ import annotations

from typing import Any

import pytest

from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary, json_codec, xml_codec


def case(name: str, data: str | bytes, message: str | None) -> Any:
    """One input, and a fragment of the CodecError message it must raise."""
    return pytest.param(data, message, id=name)


def header(tag: int, item_type: int, length: int) -> str:
    return f"{tag:06X}{item_type:02X}{length:08X}"


BINARY = [
    case("truncated header", "420078010000", "truncated item header"),
    case("tag outside 0x42/0x54", header(0x430000, 2, 4) + "00000001" + "00000000", "outside the KMIP"),
    case("unknown type", header(0x420020, 0x0C, 4) + "00000001" + "00000000", "unknown type 0x0C"),
    case("Integer of length 8", header(0x420020, 2, 8) + "0000000000000001", "not 4"),
    case("Long Integer of length 4", header(0x420020, 3, 4) + "0000000100000000", "not 8"),
    case("Boolean holding 2", header(0x420020, 6, 8) + "0000000000000002", "holds 2"),
    case("Integer padding not zero", header(0x420020, 2, 4) + "00000001" + "00000001", "padding"),
    case("Text padding not zero", header(0x420020, 7, 1) + "41" + "00000000000001", "padding"),
    case("Text not UTF-8", header(0x420020, 7, 2) + "C328" + "000000000000", "UTF-8"),
    case("Byte String beyond the input", header(0x420020, 8, 16) + "0102030400000000", "claims 16 bytes"),
    case(
        "Structure beyond the input", header(0x420078, 1, 64) + header(0x42000D, 2, 4) + "0" * 16, "claims 64"
    ),
    case("Structure length not multiple of 8", header(0x420078, 1, 4) + "00000000", "truncated item header"),
    case("Big Integer of length 0", header(0x420020, 4, 0), "not a multiple of 8"),
    case("Big Integer of length 12", header(0x420020, 4, 12) + "00" * 16, "not a multiple of 8"),
    case("Date-Time truncated", header(0x420020, 9, 8) + "00000000", "truncated"),
    case(
        "child overruns its Structure",
        header(0x420078, 1, 8) + header(0x42000D, 2, 4) + "0" * 16,
        "truncated",
    ),
]


@pytest.mark.parametrize(("data", "message"), BINARY)
def test_binary_refuses(data: str, message: str) -> None:
    assert isinstance(data, str)
    with pytest.raises(CodecError, match=message):
        binary.decode_all(bytes.fromhex(data))


def test_binary_decode_wants_exactly_one_item() -> None:
    item = header(0x42000D, 2, 4) + "00000001" + "00000000"
    with pytest.raises(CodecError, match="expected one item, found 2"):
        binary.decode(bytes.fromhex(item * 2))


XML = [
    case("not XML", "RequestMessage", "malformed XML"),
    case("unclosed", "<RequestMessage>", "malformed XML"),
    case("DTD", '<!DOCTYPE x [<!ENTITY a "b">]><RequestMessage/>', "DTD"),
    case("unknown tag name", "<NoSuchTag/>", "not a KMIP tag name"),
    case("unknown type", '<BatchCount type="Number" value="1"/>', "unknown type"),
    case("Structure with a value", '<RequestMessage value="1"/>', "cannot have a value"),
    case("leaf without a value", '<BatchCount type="Integer"/>', "no value attribute"),
    case(
        "element inside a leaf", '<BatchCount type="Integer" value="1"><BatchCount/></BatchCount>', "inside"
    ),
    case("text inside a Structure", "<RequestMessage>x</RequestMessage>", "unexpected text"),
    case("two roots without <KMIP>", "<RequestMessage/><RequestMessage/>", "junk after document element"),
    case("<TTLV> without a tag", '<TTLV type="Integer" value="1"/>', "needs a tag"),
    case("<TTLV> tag beyond 3 bytes", '<TTLV tag="0x1000000" type="Integer" value="1"/>', "needs a tag"),
    case("unknown enumeration name", '<ObjectType type="Enumeration" value="Banana"/>', "not a value of"),
    case("enumeration hex beyond 32 bits", '<ObjectType type="Enumeration" value="0x100000000"/>', "32-bit"),
    case("unknown mask bit", '<CryptographicUsageMask type="Integer" value="Encrypt Fly"/>', "not a bit"),
    case("Integer out of range", '<BatchCount type="Integer" value="2147483648"/>', "out of range"),
    case("Integer not a number", '<BatchCount type="Integer" value="one"/>', "not a decimal"),
    case("Interval negative", '<Offset type="Interval" value="-1"/>', "out of range"),
    case("Boolean not a boolean", '<Sensitive type="Boolean" value="yes"/>', "not a boolean"),
    case("Byte String not hex", '<Nonce type="ByteString" value="0g"/>', "not a hex byte string"),
    case(
        "Big Integer not hex", '<TTLV tag="0x540001" type="BigInteger" value="12z"/>', "not a hex big integer"
    ),
    case("Date-Time not ISO 8601", '<ActivationDate type="DateTime" value="yesterday"/>', "ISO 8601"),
    case("placeholder without resolver", '<ActivationDate type="DateTime" value="$NOW"/>', "placeholder"),
    case(
        "decimal of 5000 digits",
        f'<BatchCount type="Integer" value="{"1" * 5000}"/>',
        "at most 20 digits",
    ),
    case(
        "mask bit written as a superscript digit",
        '<CryptographicUsageMask type="Integer" value="²"/>',
        "is not a bit of mask",
    ),
    case(
        "mask of 5000 digits",
        f'<CryptographicUsageMask type="Integer" value="{"1" * 5000}"/>',
        "is not a bit of mask",
    ),
    case(
        "bytes declaring an unknown encoding",
        b'<?xml version="1.0" encoding="x-no-such"?><RequestMessage/>',
        "malformed XML",
    ),
    case(
        "text holding a lone surrogate",
        "<RequestMessage/>\ud800",
        "not valid Unicode",
    ),
]


@pytest.mark.parametrize(("document", "message"), XML)
def test_xml_refuses(document: str | bytes, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        xml_codec.decode(document)


JSON = [
    case("not JSON", "{tag", "malformed JSON"),
    case("not an object", "[1]", "must be a JSON object"),
    case("unknown key", '{"tag": "BatchCount", "type": "Integer", "value": 1, "x": 0}', "unexpected keys"),
    case("no tag", '{"type": "Integer", "value": 1}', 'needs a string "tag"'),
    case("tag not a string", '{"tag": 13, "type": "Integer", "value": 1}', 'needs a string "tag"'),
    case("unknown tag name", '{"tag": "NoSuchTag", "type": "Integer", "value": 1}', "not a KMIP tag name"),
    case(
        "hex tag beyond 3 bytes",
        '{"tag": "0x1000000", "type": "Integer", "value": 1}',
        "0x42xxxx or 0x54xxxx",
    ),
    case("unknown type", '{"tag": "BatchCount", "type": "Number", "value": 1}', "unknown type"),
    case("no value", '{"tag": "BatchCount", "type": "Integer"}', 'needs a "value"'),
    case("Structure value not a list", '{"tag": "RequestMessage", "value": 1}', "must be an array"),
    case(
        "Integer as a float",
        '{"tag": "BatchCount", "type": "Integer", "value": 1.5}',
        "cannot have the value",
    ),
    case(
        "Integer as infinity",
        '{"tag": "BatchCount", "type": "Integer", "value": 1e999}',
        "cannot have the value",
    ),
    case(
        "Integer as a boolean",
        '{"tag": "BatchCount", "type": "Integer", "value": true}',
        "cannot have the value",
    ),
    case(
        "Integer out of range",
        '{"tag": "BatchCount", "type": "Integer", "value": 2147483648}',
        "out of range",
    ),
    case(
        "Boolean as a number", '{"tag": "Sensitive", "type": "Boolean", "value": 1}', "cannot have the value"
    ),
    case("Big Integer without 0x", '{"tag": "0x540001", "type": "BigInteger", "value": "12"}', '"0x..."'),
    case(
        "placeholder without resolver",
        '{"tag": "Nonce", "type": "ByteString", "value": "$DATA"}',
        "placeholder",
    ),
    case(
        "decimal string of 5000 digits",
        f'{{"tag": "BatchCount", "type": "Integer", "value": "{"1" * 5000}"}}',
        "at most 20 digits",
    ),
]


@pytest.mark.parametrize(("document", "message"), JSON)
def test_json_refuses(document: str, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        json_codec.decode(document)


# Items a caller could build by mistake (the message layer, a test): every encoder must
# refuse them rather than write what no decoder reads back.
INVALID_ITEMS = [
    pytest.param(Item(0x42000D, ItemType.INTEGER, 2**31), id="Integer beyond 32 bits"),
    pytest.param(Item(0x420057, ItemType.ENUMERATION, -1), id="negative Enumeration"),
    pytest.param(Item(0x420094, ItemType.INTERVAL, 2**32), id="Interval beyond 32 bits"),
    pytest.param(Item(0x420001, ItemType.DATE_TIME, 2**63), id="Date-Time beyond 64 bits"),
    pytest.param(Item(0x420006, ItemType.BOOLEAN, 1), id="Boolean holding an int"),
    pytest.param(Item(0x420094, ItemType.TEXT_STRING, b"x"), id="Text String holding bytes"),
    pytest.param(Item(0x4200C8, ItemType.BYTE_STRING, "x"), id="Byte String holding text"),
    pytest.param(Item(0x1000000, ItemType.INTEGER, 1), id="tag beyond 3 bytes"),
]


@pytest.mark.parametrize("item", INVALID_ITEMS)
def test_binary_encoder_refuses(item: Item) -> None:
    with pytest.raises(CodecError):
        binary.encode(item)


@pytest.mark.parametrize("encode", [xml_codec.encode, json_codec.encode], ids=["xml", "json"])
@pytest.mark.parametrize("item", INVALID_ITEMS)
def test_text_encoders_refuse(item: Item, encode: Any) -> None:
    with pytest.raises(CodecError):
        encode(item)
