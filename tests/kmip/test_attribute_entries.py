"""Attributes' entry writers (attributes._entry_writer): made once per attribute, value class
and version, keeping the bytes of enumeration members, masks and booleans. What they write
must be what the generic per-value path writes, whatever order the values come in; dates
and integers keep the last value's bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from pkcs11_kmip.kmip.messages import Attribute, Attributes
from pkcs11_kmip.kmip.messages.attributes import write_attribute_value
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask, NameType, State
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary


def generic(attributes: Attributes, version: tuple[int, int]) -> bytes:
    """The entries written one by one by write_attribute_value (vendor ones by write_to)."""
    out = bytearray()
    mark = binary.begin_structure(out)
    for tag, value in attributes:
        if isinstance(value, Attribute):
            value.write_to(out, version)
        else:
            write_attribute_value(out, tag, tag, value, version, "test")
    binary.end_structure(out, mark, Tag.ATTRIBUTES)
    return bytes(out)


def entries(round_: int) -> Attributes:
    """Memoized kinds (the same values under several tags, in changing order) among others."""
    flags = [True, False] if round_ % 2 else [False, True]
    return Attributes.of(
        (Tag.SENSITIVE, flags[0]),
        (Tag.EXTRACTABLE, flags[1]),
        (Tag.ALWAYS_SENSITIVE, flags[1]),
        (Tag.STATE, list(State)[round_ % len(State)]),
        (Tag.CRYPTOGRAPHIC_ALGORITHM, list(CryptographicAlgorithm)[round_]),
        (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask(1 << round_ | 4)),
        (Tag.CRYPTOGRAPHIC_LENGTH, 128 + round_),
        (Tag.NAME, Name(name_value=f"n{round_}", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
        (Tag.INITIAL_DATE, datetime(2026, 1, 1 + round_, tzinfo=UTC)),
        (
            Tag.ATTRIBUTE,
            Attribute(
                vendor_identification="x",
                attribute_name="n",
                attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.INTEGER, round_),
            ),
        ),
    )


@pytest.mark.parametrize("round_", range(6))
def test_entry_writers_write_what_the_generic_path_writes(round_: int) -> None:
    attributes = entries(round_)
    stored = attributes.encode_any_version()
    assert stored == generic(attributes, (2, 1))
    assert Attributes.decode_any_version(stored) == attributes
    assert attributes.encode((2, 0)) == generic(attributes, (2, 0))


def test_more_mask_values_than_a_writer_keeps_still_encode() -> None:
    for bits in range(200):
        attributes = Attributes.of((Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask(bits)))
        assert Attributes.decode_any_version(attributes.encode_any_version()) == attributes


def test_a_value_out_of_range_is_a_codec_error_naming_the_structure() -> None:
    with pytest.raises(CodecError, match="Attributes"):
        Attributes.of((Tag.CRYPTOGRAPHIC_LENGTH, 2**40)).encode_any_version()
    with pytest.raises(CodecError, match="not a value of attribute"):
        Attributes.of((Tag.CRYPTOGRAPHIC_LENGTH, "long")).encode_any_version()


def test_kept_last_values_write_what_the_generic_path_writes() -> None:
    """Dates and integers keep the last value's bytes: equal values (an aware date in
    another zone, the same instant; a naive one, read as UTC), changes back and forth,
    and a date with microseconds (dropped by Date-Time) all write the generic bytes."""
    moment = datetime(2026, 11, 29, 7, 41, 57, tzinfo=UTC)
    dates = [
        moment,
        moment,
        moment.astimezone(timezone(timedelta(hours=5))),
        moment.replace(tzinfo=None),
        moment + timedelta(seconds=1),
        moment,
        moment.replace(microsecond=999_999),
        moment.replace(tzinfo=None) + timedelta(hours=1),
    ]
    for index, date in enumerate(dates):
        attributes = Attributes.of(
            (Tag.INITIAL_DATE, date), (Tag.CRYPTOGRAPHIC_LENGTH, [256, 256, 128, -1, 256][index % 5])
        )
        assert attributes.encode_any_version() == generic(attributes, (2, 1)), date
