"""The XML and JSON value forms: every name in the spec tables, and the spellings that
must mean the same item (mask bit order, date-time offsets, hex or named values)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary, json_codec, xml_codec
from pkcs11_kmip.kmip.ttlv.item import TYPES_BY_NAME

ALL_TAGS = sorted(int(tag) for tag in Tag)

Codec = tuple[Callable[[Any], str], Callable[[str], list[Item]]]
CODECS: dict[str, Codec] = {
    "xml": (xml_codec.encode, xml_codec.decode),
    "json": (json_codec.encode, json_codec.decode),
}
each_codec = pytest.mark.parametrize("codec", CODECS.values(), ids=CODECS.keys())


def round_trip(codec: Codec, items: list[Item]) -> list[Item]:
    encode, decode = codec
    return decode(encode(items))


@each_codec
def test_every_tag_name_round_trips(codec: Codec) -> None:
    items = [Item(tag, ItemType.STRUCTURE, []) for tag in ALL_TAGS]
    assert round_trip(codec, items) == items
    assert all(spec.tag_by_xml_name(spec.tag_xml_name(tag) or "") == tag for tag in ALL_TAGS)


@each_codec
def test_every_enumeration_name_round_trips(codec: Codec) -> None:
    """Each named value of each tag's enumeration is written by name and read back."""
    items = []
    for tag in ALL_TAGS:
        table = spec.enum_table_for_tag(tag)
        if table is not None:
            items += [Item(tag, ItemType.ENUMERATION, row.value) for row in table.rows]
    assert len(items) > 1000
    encoded = codec[0](items)
    assert "0x0000" not in encoded  # every value was written by its name
    assert codec[1](encoded) == items


@each_codec
def test_every_mask_bit_round_trips_alone_and_together(codec: Codec) -> None:
    items = []
    for tag in ALL_TAGS:
        table = spec.mask_table_for_tag(tag)
        if table is not None:
            bits = [row.value for row in table.rows]
            items += [Item(tag, ItemType.INTEGER, bit) for bit in bits]
            items.append(Item(tag, ItemType.INTEGER, sum(bits)))
    assert len(items) > 20
    assert round_trip(codec, items) == items


def xml_item(tag: str, item_type: str, value: str) -> list[Item]:
    return xml_codec.decode(f'<{tag} type="{item_type}" value="{value}"/>')


def json_item(tag: str, item_type: str, value: Any) -> list[Item]:
    return json_codec.decode(json.dumps({"tag": tag, "type": item_type, "value": value}))


# (tag, type, [equivalent written forms], the value they all mean)
EQUIVALENT_FORMS: list[tuple[str, str, list[Any], int | bool]] = [
    (
        "CryptographicUsageMask",
        "Integer",
        ["Encrypt Decrypt", "Decrypt Encrypt", "Decrypt|Encrypt", "12"],
        12,
    ),
    (
        "CryptographicUsageMask",
        "Integer",
        ["Sign 0x00100000", "0x00100001", "1048577", "Sign|0x00100000"],
        0x100001,
    ),
    ("CryptographicUsageMask", "Integer", ["ContentCommitment", "0x00000040"], 0x40),  # quirk in 2.0 tests
    (
        "ActivationDate",
        "DateTime",
        ["2024-01-01T00:00:00+00:00", "2024-01-01T01:30:00+01:30", "0x65920080"],
        1704067200,
    ),
    ("ActivationDate", "DateTime", ["2023-12-31T19:00:00-05:00", "2024-01-01T00:00:00Z"], 1704067200),
    ("ObjectType", "Enumeration", ["SymmetricKey", "0x00000002"], 2),
    ("MaskGenerator", "Enumeration", ["MFG1", "MGF1"], 1),  # spec spelling, test-case spelling
    ("PKCS_11ReturnCode", "Enumeration", ["OK", "CKR_OK", "0x00000000"], 0),
    ("BatchCount", "Integer", ["-1", "0xFFFFFFFF"], -1),
    ("Sensitive", "Boolean", ["true", "1", "0x0000000000000001"], True),
]


@pytest.mark.parametrize(("tag", "item_type", "forms", "value"), EQUIVALENT_FORMS, ids=lambda v: str(v)[:30])
def test_equivalent_written_forms_decode_to_one_item(
    tag: str, item_type: str, forms: list[Any], value: int
) -> None:
    expected = [Item(spec.tag_by_xml_name(tag) or -1, TYPES_BY_NAME[item_type], value)]
    for form in forms:
        assert xml_item(tag, item_type, form) == expected, form
        assert json_item(tag, item_type, form) == expected, form


def test_not_authorized_is_the_test_case_spelling_of_not_authorised() -> None:
    assert xml_item("ResultReason", "Enumeration", "NotAuthorized") == xml_item(
        "ResultReason", "Enumeration", "NotAuthorised"
    )


def test_kmip1_attribute_value_is_named_by_its_attribute_name() -> None:
    document = """<Attribute>
      <AttributeName type="TextString" value="Cryptographic Usage Mask"/>
      <AttributeValue type="Integer" value="Encrypt Decrypt"/>
    </Attribute>"""
    (attribute,) = xml_codec.decode(document)
    assert attribute.children[1] == Item(Tag.ATTRIBUTE_VALUE, ItemType.INTEGER, 12)
    assert 'value="Encrypt Decrypt"' in xml_codec.encode(attribute)


def test_placeholders_reach_the_resolver_only_on_non_text_items() -> None:
    seen: list[tuple[ItemType, str]] = []

    def resolver(item_type: ItemType, text: str) -> int:
        seen.append((item_type, text))
        return 7

    document = """<RequestMessage>
      <UniqueIdentifier type="TextString" value="$UNIQUE_IDENTIFIER_0"/>
      <ActivationDate type="DateTime" value="$NOW-3600"/>
    </RequestMessage>"""
    (message,) = xml_codec.decode(document, placeholders=resolver)
    assert message.children == [
        Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, "$UNIQUE_IDENTIFIER_0"),
        Item(Tag.ACTIVATION_DATE, ItemType.DATE_TIME, 7),
    ]
    assert seen == [(ItemType.DATE_TIME, "$NOW-3600")]


# XML 1.0 has no way to write these, not even as character references.
XML_UNWRITABLE = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff"]


@pytest.mark.parametrize("character", XML_UNWRITABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_text_with_any_character_survives_binary_and_json(character: str) -> None:
    item = Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, f"a{character}b")
    assert binary.decode(binary.encode(item)) == item
    assert json_codec.decode(json_codec.encode(item)) == [item]


@pytest.mark.parametrize("character", XML_UNWRITABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_xml_refuses_text_it_cannot_write_rather_than_writing_malformed_xml(character: str) -> None:
    item = Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, f"a{character}b")
    try:
        document = xml_codec.encode(item)
    except CodecError:
        return  # refusing is correct
    assert xml_codec.decode(document) == [item]  # writing it so it reads back is too


@pytest.mark.parametrize("codec", CODECS.values(), ids=CODECS.keys())
def test_what_text_decoders_accept_binary_can_carry(codec: Codec) -> None:
    item = Item(0x000001, ItemType.INTEGER, 1)
    try:
        (decoded,) = codec[1](codec[0](item))
        wire = binary.encode(decoded)
    except CodecError:
        return  # refused on the way in: consistent
    assert binary.decode(wire) == item
