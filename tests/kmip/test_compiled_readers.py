"""A compiled reader keeps the child item itself in a field that holds raw items (a custom
attribute's value, an unregistered operation's payload), as RAW_ITEM's decode did."""

from __future__ import annotations

import pytest

from pkcs11_kmip.kmip.messages import RequestBatchItem
from pkcs11_kmip.kmip.messages.attributes import Attribute
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType


@pytest.mark.parametrize("version", [(1, 2), (2, 1)])
def test_a_raw_field_holds_the_child_item(version: tuple[int, int]) -> None:
    for value in (
        Item(Tag.ATTRIBUTE_VALUE, ItemType.INTEGER, -5),
        Item(Tag.ATTRIBUTE_VALUE, ItemType.STRUCTURE, [Item(Tag.NAME_VALUE, ItemType.TEXT_STRING, "n")]),
    ):
        name = Item(Tag.ATTRIBUTE_NAME, ItemType.TEXT_STRING, "x-custom")
        decoded = Attribute.from_item(Item(Tag.ATTRIBUTE, ItemType.STRUCTURE, [name, value]), version)
        assert decoded.attribute_value is value
    payload = Item(Tag.REQUEST_PAYLOAD, ItemType.STRUCTURE, [])
    operation = Item(Tag.OPERATION, ItemType.ENUMERATION, 0x80000001)  # nobody registered it
    item = RequestBatchItem.from_item(Item(Tag.BATCH_ITEM, ItemType.STRUCTURE, [operation, payload]), version)
    assert item.request_payload is payload and item.operation == Operation(0x80000001)
    twice = Item(Tag.ATTRIBUTE, ItemType.STRUCTURE, [name, value, value])
    with pytest.raises(CodecError, match=r"Attribute\.attribute_value appears more than once"):
        Attribute.from_item(twice, version)
