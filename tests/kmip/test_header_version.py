"""`header_version` reads the Protocol Version before a message is decoded: every request
passes through it, so it walks the item tree itself. These pin what it answers (the
first instance of each item wins) and the CodecError each malformed header gets."""

from __future__ import annotations

import pytest

from pkcs11_kmip.kmip.messages.message import header_version
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary

S, INT, B, T = ItemType.STRUCTURE, ItemType.INTEGER, ItemType.BOOLEAN, ItemType.TEXT_STRING


def _version(*numbers: Item) -> Item:
    return Item(Tag.PROTOCOL_VERSION, S, list(numbers))


def _major(value: int | bool, kind: ItemType = INT) -> Item:
    return Item(Tag.PROTOCOL_VERSION_MAJOR, kind, value)


def _minor(value: int | bool, kind: ItemType = INT) -> Item:
    return Item(Tag.PROTOCOL_VERSION_MINOR, kind, value)


def _message(*header_children: Item, header_type: ItemType = S) -> Item:
    header = Item(Tag.REQUEST_HEADER, header_type, list(header_children) if header_type is S else 7)
    batch_count = Item(Tag.BATCH_COUNT, INT, 1)
    return Item(Tag.REQUEST_MESSAGE, S, [batch_count, header])


def _through_bytes(message: Item) -> Item:
    """The message as the server sees it: decoded from its bytes."""
    return binary.decode(binary.encode(message))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (_message(_version(_major(1), _minor(2))), (1, 2)),
        (_message(_version(_minor(4), _major(1))), (1, 4)),
        # The first of each: the header, its Protocol Version, the numbers in it.
        (_message(_version(_major(2), _minor(1), _major(1), _minor(0))), (2, 1)),
        (
            _message(
                Item(Tag.BATCH_COUNT, INT, 1), _version(_major(1), _minor(0)), _version(_major(2), _minor(0))
            ),
            (1, 0),
        ),
    ],
)
def test_reads_the_first_protocol_version(message: Item, expected: tuple[int, int]) -> None:
    assert header_version(_through_bytes(message), Tag.REQUEST_HEADER) == expected


def test_the_first_header_wins() -> None:
    first = Item(Tag.REQUEST_HEADER, S, [_version(_major(1), _minor(1))])
    second = Item(Tag.REQUEST_HEADER, S, [_version(_major(2), _minor(0))])
    message = Item(Tag.REQUEST_MESSAGE, S, [first, second])
    assert header_version(_through_bytes(message), Tag.REQUEST_HEADER) == (1, 1)
    # A first header without a Protocol Version is not made good by a second one.
    message = Item(Tag.REQUEST_MESSAGE, S, [Item(Tag.REQUEST_HEADER, S, []), second])
    with pytest.raises(CodecError, match=r"^the message header has no Protocol Version$"):
        header_version(_through_bytes(message), Tag.REQUEST_HEADER)


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (Item(Tag.REQUEST_MESSAGE, S, []), "the message header has no Protocol Version"),
        (_message(), "the message header has no Protocol Version"),
        (_message(header_type=INT), "the message header has no Protocol Version"),
        (_message(Item(Tag.PROTOCOL_VERSION, INT, 1)), "the message header has no Protocol Version"),
        (_message(_version()), "the Protocol Version lacks its major or minor number"),
        (_message(_version(_major(1))), "the Protocol Version lacks its major or minor number"),
        (_message(_version(_minor(1))), "the Protocol Version lacks its major or minor number"),
        (
            _message(_version(Item(Tag.PROTOCOL_VERSION_MAJOR, T, "1"), _minor(1))),
            "the Protocol Version lacks its major or minor number",
        ),
        (_message(_version(_major(True, B), _minor(1))), "the Protocol Version numbers must be Integers"),
        (_message(_version(_major(1), _minor(False, B))), "the Protocol Version numbers must be Integers"),
    ],
)
def test_malformed_headers(message: Item, error: str) -> None:
    with pytest.raises(CodecError, match=rf"^{error}$"):
        header_version(_through_bytes(message), Tag.REQUEST_HEADER)


def test_a_message_that_is_not_a_structure() -> None:
    with pytest.raises(CodecError, match="not a Structure"):
        header_version(Item(Tag.REQUEST_MESSAGE, INT, 1), Tag.REQUEST_HEADER)
