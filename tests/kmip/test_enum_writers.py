"""The compiled writers keep the bytes of each enumeration member they wrote (core's
`_enum_item`): a kept item must be the one the leaf writer writes for `int(value)`, for
named members, unnamed (extension) values and plain ints alike, past the bound of kept
members too, and a value the leaf writer refuses must get the same CodecError."""

from __future__ import annotations

import pytest

from pkcs11_kmip.kmip.messages import ResponseBatchItem, core
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import NameType, Operation, ResultStatus
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary

VERSIONS = [(1, 0), (1, 4), (2, 1)]


def _name(name_type: object) -> Name:
    return Name(name_value="n", name_type=name_type)  # type: ignore[arg-type]


def _expected(name_type: int) -> bytes:
    children = [
        Item(Tag.NAME_VALUE, ItemType.TEXT_STRING, "n"),
        Item(Tag.NAME_TYPE, ItemType.ENUMERATION, name_type),
    ]
    return binary.encode(Item(Tag.NAME, ItemType.STRUCTURE, children))


@pytest.mark.parametrize("version", VERSIONS)
def test_every_member_writes_its_item_first_and_kept(version: tuple[int, int]) -> None:
    for member in NameType:
        assert _name(member).encode(version) == _expected(int(member))
        assert _name(member).encode(version) == _expected(int(member))  # from what was kept
    for operation in list(Operation)[:30]:
        item = ResponseBatchItem(operation=operation, result_status=ResultStatus.SUCCESS)
        decoded = ResponseBatchItem.from_item(binary.decode(item.encode(version)), version)
        assert decoded.operation is operation and decoded.result_status is ResultStatus.SUCCESS


def test_unnamed_values_past_the_bound_and_plain_ints_write_their_value() -> None:
    values = [NameType(0x80000000 + n) for n in range(core._KEPT_MEMBERS + 10)]
    for value in values * 2:
        assert _name(value).encode() == _expected(int(value))
    # A plain int equal to a member, and a bool, write int(value) as they always did.
    assert _name(int(NameType.URI)).encode() == _name(NameType.URI).encode() == _expected(2)
    assert _name(True).encode() == _expected(1)
    writer = Name._writers[(2, 1)]
    assert all(len(kept) <= core._KEPT_MEMBERS for key, kept in writer.__globals__.items() if key[0] == "K")


@pytest.mark.parametrize("value", ["x", [1], 2**40, -1, None.__class__])
def test_a_refused_value_gets_the_leaf_writers_error(value: object) -> None:
    try:
        binary.LEAF_WRITERS[ItemType.ENUMERATION](bytearray(), 0, int(value))  # type: ignore[call-overload]
    except (*binary.ENCODE_ERRORS, ValueError) as error:
        expected: BaseException = error
    for _ in range(2):
        with pytest.raises(type(expected) if isinstance(expected, ValueError) else CodecError) as raised:
            _name(value).encode()
        wanted = str(expected) if isinstance(expected, ValueError) else f"Name.name_type: {expected}"
        assert str(raised.value) == wanted
