"""Property tests: random item trees round-trip through all three encodings, and no input,
random or a mutation of a valid message, makes a decoder raise anything but CodecError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, Limits, binary, json_codec, xml_codec
from pkcs11_kmip.kmip.ttlv.limits import MAX_SUPPORTED_DEPTH

# Random trees may nest deeper than a real message; the limits are tested elsewhere.
DEEP = Limits(max_depth=MAX_SUPPORTED_DEPTH)
PROPERTY = settings(deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(deadline=None, max_examples=200, suppress_health_check=[HealthCheck.too_slow])

T = TypeVar("T")

# --- item trees -------------------------------------------------------------------------

ALL_TAGS = sorted(int(tag) for tag in Tag)
ENUM_TAGS = [tag for tag in ALL_TAGS if spec.enum_table_for_tag(tag) is not None]
MASK_TAGS = [tag for tag in ALL_TAGS if spec.mask_table_for_tag(tag) is not None]

tags = st.one_of(
    st.sampled_from(ALL_TAGS),
    st.integers(0x540000, 0x54FFFF),  # extension tags
    st.integers(0x420000, 0x42FFFF),  # KMIP range, named or not
)
int32 = st.integers(-(2**31), 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
# Seconds of years 1-9999 (written as ISO 8601), and anything else (written as hex).
iso_seconds = st.integers(-62_135_596_800, 253_402_300_799)
date_times = st.one_of(iso_seconds, int64)
date_times_extended = st.one_of(
    st.builds(lambda s, us: s * 1_000_000 + us, iso_seconds, st.integers(0, 999_999)), int64
)
big_integers = st.one_of(
    st.integers(-(2**130), 2**130),
    st.integers(-(2**4096), 2**4096),
    st.sampled_from([0, -1, 127, 128, -128, -129, 2**63, -(2**63) - 1, 2**64, -(2**64)]),
)
# XML 1.0 cannot carry most control characters, even escaped (see test_text_encodings).
xml_text = st.text(st.characters(blacklist_categories=["Cs", "Cc"]) | st.sampled_from("\t\n\r"))


def enum_values(tag: int) -> st.SearchStrategy[int]:
    """Named values of the tag's enumeration, any 32-bit value, and vendor values 0x8xxxxxxx."""
    table = spec.enum_table_for_tag(tag)
    named = [row.value for row in table.rows] if table else []
    return st.one_of(st.sampled_from(named or [0]), uint32, st.integers(0x8000_0000, 0xFFFF_FFFF))


@st.composite
def leaves(draw: st.DrawFn, text: st.SearchStrategy[str]) -> Item:
    kind = draw(st.sampled_from([kind for kind in ItemType if kind is not ItemType.STRUCTURE]))
    if kind is ItemType.ENUMERATION:
        tag = draw(st.sampled_from(ENUM_TAGS) | tags)
        return Item(tag, kind, draw(enum_values(tag)))
    if kind is ItemType.INTEGER:  # masks are Integers: named bits, unnamed bits, both signs
        return Item(draw(st.sampled_from(MASK_TAGS) | tags), kind, draw(int32))
    values: dict[ItemType, st.SearchStrategy[Any]] = {
        ItemType.LONG_INTEGER: int64,
        ItemType.BIG_INTEGER: big_integers,
        ItemType.BOOLEAN: st.booleans(),
        ItemType.TEXT_STRING: text,
        ItemType.BYTE_STRING: st.binary(max_size=40),
        ItemType.DATE_TIME: date_times,
        ItemType.INTERVAL: uint32,
        ItemType.DATE_TIME_EXTENDED: date_times_extended,
    }
    return Item(draw(tags), kind, draw(values[kind]))


@st.composite
def kmip1_attributes(draw: st.DrawFn) -> Item:
    """A KMIP 1.x Attribute, whose value is named by the attribute its name gives."""
    tag = draw(st.sampled_from(ENUM_TAGS + MASK_TAGS))
    info = spec.tag_info(tag)
    assert info is not None
    if tag in ENUM_TAGS:
        value = Item(Tag.ATTRIBUTE_VALUE, ItemType.ENUMERATION, draw(enum_values(tag)))
    else:
        value = Item(Tag.ATTRIBUTE_VALUE, ItemType.INTEGER, draw(int32))
    return Item(
        Tag.ATTRIBUTE, ItemType.STRUCTURE, [Item(Tag.ATTRIBUTE_NAME, ItemType.TEXT_STRING, info.name), value]
    )


def trees(text: st.SearchStrategy[str]) -> st.SearchStrategy[Item]:
    return st.recursive(
        leaves(text) | kmip1_attributes(),
        lambda children: st.builds(
            lambda tag, items: Item(tag, ItemType.STRUCTURE, items), tags, st.lists(children, max_size=5)
        ),
        max_leaves=15,
    )


def streams(text: st.SearchStrategy[str]) -> st.SearchStrategy[list[Item]]:
    return st.lists(trees(text), min_size=1, max_size=3)


def encode_all(items: list[Item]) -> bytes:
    return b"".join(binary.encode(item) for item in items)


# --- round trips ------------------------------------------------------------------------


@PROPERTY
@given(streams(st.text()))
def test_binary_round_trip_is_exact(items: list[Item]) -> None:
    wire = encode_all(items)
    decoded = binary.decode_all(wire, DEEP)
    assert decoded == items
    assert encode_all(decoded) == wire


@PROPERTY
@given(streams(xml_text))
def test_xml_round_trip(items: list[Item]) -> None:
    assert xml_codec.decode(xml_codec.encode(items), DEEP) == items
    assert xml_codec.decode(xml_codec.encode(items[0]), DEEP) == items[:1]


@PROPERTY
@given(streams(st.text()))
def test_json_round_trip(items: list[Item]) -> None:
    assert json_codec.decode(json_codec.encode(items), DEEP) == items
    assert json_codec.decode(json_codec.encode(items[0], indent=None), DEEP) == items[:1]


# --- hostile input ----------------------------------------------------------------------


def decodes_or_codec_error(decode: Callable[[T], list[Item]], data: T) -> list[Item] | None:
    """The decoded items, or None for a CodecError; any other exception fails the test."""
    try:
        items = decode(data)
    except CodecError:
        event("refused")
        return None
    event("accepted")
    return items


# (operation, position, byte or snippet): positions wrap around the input's length.
Mutation = tuple[str, int, Any]
OPERATIONS = ["flip", "replace", "insert", "delete", "truncate"]


def mutate(
    units: list[T], changes: list[Mutation], piece: Callable[[Any], list[T]], flip: Callable[[T, Any], T]
) -> list[T]:
    for operation, position, new in changes:
        at = position % (len(units) + 1)
        if operation == "truncate":
            del units[at:]
        elif operation == "delete":
            del units[at : at + 1]
        elif operation == "insert":
            units[at:at] = piece(new)
        elif operation == "replace":
            units[at : at + 1] = piece(new)
        elif at < len(units):
            units[at] = flip(units[at], new)
    return units


def mutate_bytes(data: bytes, changes: list[Mutation]) -> bytes:
    return bytes(mutate(list(data), changes, lambda byte: [byte], lambda old, byte: old ^ (1 << byte % 8)))


def mutate_text(document: str, changes: list[Mutation]) -> str:
    return "".join(mutate(list(document), changes, list, lambda _old, new: str(new)[:1]))


def mutations(new: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Mutation]]:
    return st.lists(
        st.tuples(st.sampled_from(OPERATIONS), st.integers(0, 2**16), new), min_size=1, max_size=4
    )


def accepted_input_is_stable(
    items: list[Item] | None, encode: Callable[[list[Item]], Any], decode: Any
) -> None:
    """Whatever a decoder accepts, it accepts again once re-encoded, as the same tree."""
    if items:
        assert decode(encode(items)) == items


def decode_binary(data: bytes) -> list[Item]:
    return binary.decode_all(data, DEEP)


def decode_xml(document: str) -> list[Item]:
    return xml_codec.decode(document, DEEP)


def decode_json(document: str) -> list[Item]:
    return json_codec.decode(document, DEEP)


@FUZZ
@given(st.binary(max_size=300))
def test_binary_decoder_on_random_bytes(data: bytes) -> None:
    decodes_or_codec_error(decode_binary, data)


@FUZZ
@given(streams(st.text()), mutations(st.integers(0, 255)))
def test_binary_decoder_on_mutated_messages(items: list[Item], changes: list[Mutation]) -> None:
    data = mutate_bytes(encode_all(items), changes)
    accepted_input_is_stable(decodes_or_codec_error(decode_binary, data), encode_all, decode_binary)


XML_PIECES = st.one_of(
    st.characters(),
    st.sampled_from(
        ['<', '>', '/>', '"', "&", "&#1;", "&amp;", " type=", '"Integer"', '"Structure"', ' value="', "$NOW",
         "<KMIP>", "</KMIP>", "<TTLV tag=", '"0x540001"', "<!DOCTYPE x>", "<!-- -->", "0x", "-", "|", "\x00"]
    ),
)  # fmt: skip
JSON_PIECES = st.one_of(
    st.characters(),
    st.sampled_from(
        ["{", "}", "[", "]", ",", ":", '"', '"tag"', '"type"', '"value"', '"0x54FFFF"', "null", "true",
         "1e999", "-0", '"$NOW"', '"Integer"', '"BigInteger"', '"0x"', "\\u0000", "\\ud800", "NaN"]
    ),
)  # fmt: skip


@FUZZ
@given(st.text(max_size=300))
def test_xml_decoder_on_random_text(document: str) -> None:
    decodes_or_codec_error(decode_xml, document)


@FUZZ
@given(streams(xml_text), mutations(XML_PIECES))
def test_xml_decoder_on_mutated_documents(items: list[Item], changes: list[Mutation]) -> None:
    document = mutate_text(xml_codec.encode(items), changes)
    accepted_input_is_stable(decodes_or_codec_error(decode_xml, document), xml_codec.encode, decode_xml)


@FUZZ
@given(st.text(max_size=300))
def test_json_decoder_on_random_text(document: str) -> None:
    decodes_or_codec_error(decode_json, document)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
json_items = st.recursive(
    st.fixed_dictionaries(
        {"tag": st.sampled_from(["RequestMessage", "BatchCount", "0x540001", "0x", "Nope"]) | json_values},
        optional={
            "type": st.sampled_from([*("Integer", "BigInteger", "Enumeration", "Boolean", "DateTime")])
            | json_values,
            "value": json_values,
        },
    ),
    lambda inner: st.fixed_dictionaries(
        {"tag": st.just("RequestMessage"), "value": st.lists(inner, max_size=3)}
    ),
    max_leaves=8,
)


@FUZZ
@given(json_items | st.lists(json_items, max_size=3))
def test_json_decoder_on_random_item_shapes(document: Any) -> None:
    import json

    decodes_or_codec_error(decode_json, json.dumps(document))


@FUZZ
@given(streams(st.text()), mutations(JSON_PIECES))
def test_json_decoder_on_mutated_documents(items: list[Item], changes: list[Mutation]) -> None:
    document = mutate_text(json_codec.encode(items), changes)
    accepted_input_is_stable(decodes_or_codec_error(decode_json, document), json_codec.encode, decode_json)
