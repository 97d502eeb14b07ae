"""Every message of every OASIS XML test case survives every conversion unchanged.

"Unchanged" means an equal item tree (tag, type and value of every item): exact, and
blind to what the text encodings may legitimately vary (mask bit order, date-time
offsets, hex or named values). Placeholders are bound deterministically first.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pkcs11_kmip.cli.ttlv import bind_placeholder, convert
from pkcs11_kmip.kmip.ttlv import Item, binary, json_codec, xml_codec
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver


@cache
def messages_of(path: Path) -> list[Item]:
    """The file's messages with placeholders bound (decoded once, shared by the tests)."""
    messages = xml_codec.decode(path.read_bytes(), placeholders=bind_placeholder)
    assert messages, f"{path.name} holds no message"
    return messages


def test_testcase_corpus_is_complete(testcase_paths: list[Path]) -> None:
    """All 312 OASIS files are there, so the per-file tests cover what they claim to."""
    assert len(testcase_paths) == 312
    assert sum(len(messages_of(path)) for path in testcase_paths) > 4000


def test_xml_to_ttlv_to_xml_and_xml_to_json_to_xml(testcase_path: Path) -> None:
    messages = messages_of(testcase_path)

    wire = [binary.encode(message) for message in messages]
    from_wire = binary.decode_all(b"".join(wire))
    assert from_wire == messages
    assert [binary.encode(message) for message in from_wire] == wire
    xml_from_wire = xml_codec.encode(from_wire)
    assert xml_codec.decode(xml_from_wire) == messages

    from_json = json_codec.decode(json_codec.encode(messages, indent=None))
    assert from_json == messages
    # Equal trees write equal XML, so this is the XML -> JSON -> XML document.
    assert xml_codec.encode(from_json) == xml_from_wire


def test_xml_to_json_keeps_placeholders(testcase_path: Path, bind: PlaceholderResolver) -> None:
    """What `pkcs11-kmip ttlv convert --to json` writes for a test case, without binding."""
    as_json = convert(testcase_path.read_bytes(), "json", json_indent=None)
    assert json_codec.decode(as_json, placeholders=bind) == messages_of(testcase_path)
