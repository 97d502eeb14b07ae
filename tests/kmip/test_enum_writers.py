"""The compiled writers keep the bytes of each enumeration member, int and bool they wrote
(core's `_kept_item`): a kept item must be the one the leaf writer writes for the value
(`int(value)` of a member), for named members, unnamed (extension) values, plain ints and
bools alike, past the bound of kept values too, and a value the leaf writer refuses must get
the same error."""

from __future__ import annotations

import pytest

from pkcs11_kmip.kmip.messages import ResponseBatchItem, core
from pkcs11_kmip.kmip.messages.objects import TransparentKeyMaterial
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, Name, ProtocolVersion
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
    assert all(
        len(kept) <= core._KEPT_MEMBERS
        for key, kept in writer.__globals__.items()
        if key[0] == "K" and key[1:].isdigit()
    )


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


def _leaf(tag: int, item_type: ItemType, value: object) -> Item:
    return Item(tag, item_type, value)  # type: ignore[arg-type]


def test_ints_and_bools_write_their_items_first_and_kept() -> None:
    for minor in [*range(core._KEPT_MEMBERS + 10), -(2**31), 2**31 - 1] * 2:
        children = [
            _leaf(Tag.PROTOCOL_VERSION_MAJOR, ItemType.INTEGER, 1),
            _leaf(Tag.PROTOCOL_VERSION_MINOR, ItemType.INTEGER, minor),
        ]
        expected = binary.encode(Item(Tag.PROTOCOL_VERSION, ItemType.STRUCTURE, children))
        assert ProtocolVersion.of((1, minor)).encode() == expected
    for flag in (True, False, True, False):
        children = [_leaf(Tag.RANDOM_IV, ItemType.BOOLEAN, flag)]
        expected = binary.encode(Item(Tag.CRYPTOGRAPHIC_PARAMETERS, ItemType.STRUCTURE, children))
        assert CryptographicParameters(random_iv=flag).encode() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "an Integer needs an int"),  # a bool is no Integer, kept or not
        ("1", "an Integer needs an int"),
        (2**31, "'i' format requires -2147483648 <= number <= 2147483647"),
        (1.0, "an Integer needs an int"),
    ],
)
def test_a_refused_int_gets_the_leaf_writers_error(value: object, message: str) -> None:
    ProtocolVersion.of((1, 1)).encode()  # 1 kept: True == 1 must not find it
    for _ in range(2):
        with pytest.raises(CodecError) as raised:
            ProtocolVersion(protocol_version_major=1, protocol_version_minor=value).encode()  # type: ignore[arg-type]
        assert str(raised.value) == f"ProtocolVersion.protocol_version_minor: {message}"
    with pytest.raises(CodecError, match="random_iv: a Boolean needs a bool"):
        CryptographicParameters(random_iv=1).encode()  # type: ignore[arg-type]


def test_big_integers_are_written_and_never_kept() -> None:
    """A Big Integer field carries key material (a transparent key's private exponent): its
    writer writes each value afresh and holds no item of it."""
    exponent = 2**2047 + 12345
    material = TransparentKeyMaterial(modulus=2**2048 - 1, private_exponent=exponent)
    for _ in range(2):
        decoded = TransparentKeyMaterial.from_item(binary.decode(material.encode()), (2, 1))
        assert decoded.private_exponent == exponent
    writer = TransparentKeyMaterial._writers[(2, 1)]
    kept = [value for key, value in writer.__globals__.items() if key[0] == "K" and key[1:].isdigit()]
    assert all(exponent not in values for values in kept)
