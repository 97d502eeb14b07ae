"""The compiled writers write a field of several converters (KeyBlock.key_value,
KeyValue.key_material, a Unique Identifier) through a writer per class of value, not
through `Structure._write_value`: both paths must write the same bytes, and refuse a
value no converter takes with the same CodecError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.messages import RequestMessage, ResponseMessage, core
from pkcs11_kmip.kmip.messages.core import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SymmetricKey
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType
from pkcs11_kmip.kmip.ttlv import CodecError, xml_codec
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver


def _classes(base: type[Structure] = Structure) -> Iterator[type[Structure]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _classes(cls)


def _forget_writers() -> None:
    for cls in _classes():
        cls._writers.clear()


@pytest.fixture
def generic_writers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Writers compiled to write every union field through `_write_value`, as before."""
    _forget_writers()
    monkeypatch.setattr(core, "_GENERIC_WRITE", object())
    yield
    _forget_writers()


def _encoded(paths: list[Path], bind: PlaceholderResolver) -> list[bytes]:
    out = []
    for path in paths:
        for item in xml_codec.decode(path.read_bytes(), placeholders=bind):
            message_class = RequestMessage if item.tag == Tag.REQUEST_MESSAGE else ResponseMessage
            out.append(message_class.from_item(item).encode())
    return out


def test_every_testcase_message_writes_the_same_bytes_on_both_paths(
    testcase_paths: list[Path], bind: PlaceholderResolver, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = _encoded(testcase_paths, bind)
    assert len(compiled) > 1000
    _forget_writers()
    with monkeypatch.context() as patch:
        patch.setattr(core, "_GENERIC_WRITE", object())
        generic = _encoded(testcase_paths, bind)
        _forget_writers()
    assert compiled == generic


def _refusal() -> str:
    block = KeyBlock(key_format_type=KeyFormatType.RAW, key_value=KeyValue(key_material=42))  # type: ignore[arg-type]
    with pytest.raises(CodecError) as error:
        SymmetricKey(key_block=block).encode((1, 4))
    return str(error.value)


def test_a_value_no_converter_takes_gets_the_same_error(generic_writers: None) -> None:
    generic = _refusal()
    _forget_writers()
    core._GENERIC_WRITE = Structure._write_value  # undone by the fixture's monkeypatch
    assert _refusal() == generic == "KeyValue.key_material cannot hold 42"
