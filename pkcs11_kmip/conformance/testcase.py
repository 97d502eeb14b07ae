"""Reading an OASIS XML test case: request/response pairs with their placeholders marked.

The XML codec hands every placeholder that sits in a non-text item ("$NOW",
"$CORRELATION_VALUE") to a resolver that must return a value of the item's type.
`Placeholders` returns a sentinel value per (type, placeholder) that no real message
carries, and remembers it, so the comparison can later recognise the item as "the
placeholder $X" rather than as a value. Placeholders in Text Strings
("$UNIQUE_IDENTIFIER_0") stay text and are recognised by their form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, xml_codec

# "$NAME", "$NAME_3", "$NOW-3600": what the OASIS files write for run-time values.
PLACEHOLDER = re.compile(r"\$[A-Z][A-Z0-9_]*(?:[+-][0-9]{1,12})?\Z")
# "$NOW", "$NOW+20", "$NOW-3600": the time of sending, plus or minus seconds.
NOW = re.compile(r"\$NOW(?:([+-])([0-9]{1,12}))?\Z")

# Where each type's sentinels start: far outside anything a KMIP message holds in practice
# (dates 292 billion years ago, enumeration values at the top of the extension range).
_SENTINEL_BASE: dict[ItemType, int] = {
    ItemType.INTEGER: -(2**31),
    ItemType.LONG_INTEGER: -(2**63),
    ItemType.BIG_INTEGER: -(2**1024),
    ItemType.ENUMERATION: 0xFFFF0000,
    ItemType.INTERVAL: 0xFFFF0000,
    ItemType.DATE_TIME: -(2**63),
    ItemType.DATE_TIME_EXTENDED: -(2**63),
}
_SENTINEL_BYTES = b"\x00conformance-placeholder\x00"


class TestCaseError(Exception):
    """A test-case file that cannot be replayed (malformed, or not request/response pairs)."""

    __test__ = False  # not a pytest test class, whatever its name


class Placeholders:
    """The XML decoder's placeholder resolver: one recognisable sentinel per (type, name)."""

    def __init__(self) -> None:
        self._sentinels: dict[tuple[ItemType, str], int | bytes] = {}
        self._names: dict[tuple[ItemType, int | bytes], str] = {}

    def __call__(self, item_type: ItemType, text: str) -> int | bool | str | bytes:
        if not PLACEHOLDER.match(text):
            raise CodecError(f"{text!r} is not a placeholder this runner knows")
        key = (item_type, text)
        sentinel = self._sentinels.get(key)
        if sentinel is None:
            count = len(self._sentinels)
            if item_type is ItemType.BYTE_STRING:
                sentinel = _SENTINEL_BYTES + count.to_bytes(4, "big")
            elif item_type in _SENTINEL_BASE:
                sentinel = _SENTINEL_BASE[item_type] + count
            else:  # a Boolean has no value to spare for a sentinel
                raise CodecError(f"placeholder {text!r} in a {item_type.name} cannot be told from a value")
            self._sentinels[key] = sentinel
            self._names[(item_type, sentinel)] = text
        return sentinel

    def name_of(self, item: Item) -> str | None:
        """The placeholder an item stands for, or None if it holds a real value."""
        if item.type is ItemType.TEXT_STRING:
            value = item.value
            return value if isinstance(value, str) and PLACEHOLDER.match(value) else None
        if item.type is ItemType.STRUCTURE or item.type is ItemType.BOOLEAN:
            return None
        value = item.value
        assert isinstance(value, int | bytes)
        return self._names.get((item.type, value))


@dataclass
class Step:
    """One exchange: the request to send and the response the file expects."""

    number: int  # 1-based, as reported ("message 3")
    request: Item
    expected: Item


@dataclass
class TestCase:
    """A file's exchanges, and the placeholders its items stand for."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    steps: list[Step]
    placeholders: Placeholders = field(repr=False)


def parse(document: bytes | str, name: str) -> TestCase:
    """A test case from XML text: RequestMessage and ResponseMessage items alternating."""
    placeholders = Placeholders()
    try:
        items = xml_codec.decode(document, placeholders=placeholders)
    except CodecError as error:
        raise TestCaseError(f"cannot read the XML: {error}") from None
    steps: list[Step] = []
    for index in range(0, len(items), 2):
        pair = items[index : index + 2]
        number = index // 2 + 1
        if pair[0].tag != Tag.REQUEST_MESSAGE:
            found = spec.tag_xml_name(pair[0].tag) or f"0x{pair[0].tag:06X}"
            raise TestCaseError(f"message {number}: expected a RequestMessage, found {found}")
        if len(pair) < 2 or pair[1].tag != Tag.RESPONSE_MESSAGE:
            raise TestCaseError(f"message {number}: the RequestMessage has no ResponseMessage after it")
        steps.append(Step(number, pair[0], pair[1]))
    if not steps:
        raise TestCaseError("the file holds no messages")
    return TestCase(name, steps, placeholders)


def version_of(message: Item, header_tag: int) -> Version | None:
    """The Protocol Version in a message's header (None if it has none)."""
    header = message.find(header_tag)
    version = header.find(Tag.PROTOCOL_VERSION) if header is not None else None
    if version is None:
        return None
    major, minor = version.find(Tag.PROTOCOL_VERSION_MAJOR), version.find(Tag.PROTOCOL_VERSION_MINOR)
    if major is None or minor is None or not isinstance(major.value, int) or not isinstance(minor.value, int):
        return None
    return (major.value, minor.value)


def load(path: str | Path) -> TestCase:
    path = Path(path)
    return parse(path.read_bytes(), path.stem)
