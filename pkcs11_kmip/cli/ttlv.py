"""`pkcs11-kmip ttlv convert`: KMIP messages from binary TTLV, XML or JSON into any of the three.

It goes through the same codec as the provider and the server, so it is how a capture
is read, a test case written, and a peer's encoding checked from outside. Everything
but reading the input and writing the output is in `convert()`, which works on bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import zlib
from collections import Counter
from collections.abc import Iterator
from typing import Any, Literal
from xml.sax.saxutils import quoteattr

from pkcs11_kmip.kmip.ttlv import (
    DEFAULT_LIMITS,
    TYPE_NAMES,
    CodecError,
    Item,
    ItemType,
    LimitExceeded,
    Limits,
    binary,
    json_codec,
    xml_codec,
)
from pkcs11_kmip.kmip.ttlv.limits import MAX_SUPPORTED_DEPTH
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver

Format = Literal["ttlv", "xml", "json"]
FORMATS: tuple[Format, ...] = ("ttlv", "xml", "json")

# The stand-in for $NOW: 2024-01-01T00:00:00Z, easy to recognise in converted output.
BOUND_NOW = 1_704_067_200

_BOM = b"\xef\xbb\xbf"
_HEX_TEXT = re.compile(rb"[0-9A-Fa-f\s]+")
_NOW_PLACEHOLDER = re.compile(r"\$NOW(?:([+-])([0-9]{1,12}))?")
_SIZE = re.compile(r"([0-9]+)([KMG]?)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_DEFAULT_SIZE_TEXT = f"{DEFAULT_LIMITS.max_message_size >> 20}M"

DESCRIPTION = """\
Convert KMIP messages between binary TTLV, XML and JSON.

The input encoding is detected: XML if the text starts with "<", JSON if it starts
with "{" or "[" (after whitespace and a UTF-8 byte order mark), otherwise binary TTLV,
either raw bytes or hex text (whitespace and line breaks between digits are ignored).
A stream of several messages converts message by message: TTLV items back to back, a
<KMIP> element holding several messages (as in the OASIS test-case files), or a JSON
array. Several messages are written as a <KMIP> element, a JSON array, or TTLV back to
back (with --hex, one message per line); a single message is written on its own.
"""

EPILOG = f"""\
placeholders:
  The OASIS test cases write values that a server chooses at run time as placeholders.
  In text strings ("$UNIQUE_IDENTIFIER_0") they are ordinary text, kept by every
  conversion. In date-times and byte strings ("$NOW", "$NOW-3600", "$CORRELATION_VALUE")
  they have no binary form:
    --to xml, --to json  keep them as written, without any option (a placeholder in an
                         integer, enumeration, interval or boolean needs
                         --bind-placeholders, since XML/JSON output cannot keep it)
    --to ttlv            fails, naming the placeholder, unless --bind-placeholders
  --bind-placeholders substitutes deterministic stand-in values, the same for the same
  placeholder text on every run, so that a test case can become bytes:
    $NOW, $NOW+N, $NOW-N  2024-01-01T00:00:00Z ({BOUND_NOW}) plus or minus N seconds
    other date-times      that instant plus a fixed offset (under a day) from the name
    byte strings          the placeholder's own UTF-8 bytes ($DATA_0 -> 24444154415f30)
    numbers, enumerations the CRC-32 of the placeholder text (booleans: its lowest bit)
  These are stand-ins, not what a server would send.

limits:
  --max-size counts the input as read (hex text by its characters; a whole XML or JSON
  document or TTLV stream, not each message); --max-depth counts nested Structures.
  Both refuse the input before converting anything.

examples:
  pkcs11-kmip ttlv convert --to xml capture.ttlv
  pkcs11-kmip ttlv convert --to json -o PKCS11-M-1-21.json PKCS11-M-1-21.xml
  pkcs11-kmip ttlv convert --to ttlv --hex --bind-placeholders PKCS11-M-1-21.xml
  echo 42002002000000040000000800000000 | pkcs11-kmip ttlv convert --to xml -

exit status:
  0 converted; 1 unreadable, invalid or oversized input (one line on standard error,
  starting with "pkcs11-kmip: "); 2 usage error.
"""


# --- placeholders -----------------------------------------------------------------------


def bind_placeholder(item_type: ItemType, text: str) -> int | bool | str | bytes:
    """A deterministic stand-in for a test-case placeholder: same text, same value, every run."""
    digest = zlib.crc32(text.encode("utf-8"))
    if item_type in (ItemType.DATE_TIME, ItemType.DATE_TIME_EXTENDED):
        now = _NOW_PLACEHOLDER.fullmatch(text)
        if now is None:
            seconds = BOUND_NOW + digest % 86_400
        else:
            sign, amount = now.groups()
            seconds = BOUND_NOW + (0 if amount is None else int(sign + amount))
        return seconds * 1_000_000 if item_type is ItemType.DATE_TIME_EXTENDED else seconds
    if item_type is ItemType.BYTE_STRING:
        return text.encode("utf-8")
    if item_type is ItemType.BOOLEAN:
        return bool(digest & 1)
    if item_type is ItemType.INTEGER:
        return digest & 0x7FFFFFFF
    if item_type is ItemType.TEXT_STRING:
        return text
    return digest  # Long Integer, Big Integer, Enumeration, Interval: 32 bits fit them all


def refuse_placeholder(item_type: ItemType, text: str) -> int | bool | str | bytes:
    """The resolver for binary output without --bind-placeholders: say what to do instead."""
    raise CodecError(
        f"placeholder {text!r} in a {TYPE_NAMES[item_type]} has no binary TTLV form; "
        "--bind-placeholders substitutes a stand-in value"
    )


class PlaceholderKeeper:
    """Carries placeholders of non-text items through XML or JSON output.

    An item's value must fit its type, so each placeholder is decoded as a reserved value
    (out of the ISO 8601 range for date-times, a marker for byte strings and big integers),
    and the text written for that value is replaced by the placeholder afterwards. Every
    replacement is counted against the items that hold a reserved value, so a literal
    value that happens to equal one is reported rather than silently turned into a
    placeholder.
    """

    KEEPABLE = (ItemType.DATE_TIME, ItemType.DATE_TIME_EXTENDED, ItemType.BYTE_STRING, ItemType.BIG_INTEGER)
    _MARKER = b"\x7fpkcs11-kmip placeholder "

    def __init__(self) -> None:
        self._values: dict[tuple[ItemType, str], int | bytes] = {}
        self._names: dict[tuple[ItemType, int | bytes], str] = {}
        self._uses = 0
        self._held: Counter[tuple[ItemType, int | bytes]] = Counter()

    def __call__(self, item_type: ItemType, text: str) -> int | bool | str | bytes:
        if item_type not in self.KEEPABLE:
            raise CodecError(
                f"placeholder {text!r} in a {TYPE_NAMES[item_type]} cannot be kept in XML or JSON "
                "output; --bind-placeholders substitutes a stand-in value"
            )
        key = (item_type, text)
        value = self._values.get(key)
        if value is None:
            value = self._reserved(item_type, len(self._values))
            self._values[key] = value
            self._names[(item_type, value)] = text
        self._uses += 1
        return value

    def _reserved(self, item_type: ItemType, index: int) -> int | bytes:
        if item_type is ItemType.BYTE_STRING:
            return self._MARKER + index.to_bytes(4, "big")
        if item_type is ItemType.BIG_INTEGER:
            return int.from_bytes(self._MARKER + index.to_bytes(4, "big"), "big")
        return -(2**63) + index  # a date-time no ISO 8601 year can show: written as hex

    def check(self, items: list[Item]) -> None:
        """Fail if the input itself holds a reserved value (so the output would be ambiguous)."""
        self._held = Counter(self._key(item) for item in _leaves(items) if self.name_of(item) is not None)
        if sum(self._held.values()) != self._uses:
            raise CodecError(
                "the input holds a value this tool reserves for keeping placeholders; "
                "convert it with --bind-placeholders"
            )

    @staticmethod
    def _key(item: Item) -> tuple[ItemType, int | bytes]:
        value = item.value
        assert isinstance(value, int | bytes)
        return item.type, value

    def name_of(self, item: Item) -> str | None:
        if item.type not in self.KEEPABLE:
            return None
        return self._names.get(self._key(item))

    def restore_xml(self, document: str) -> str:
        """Put each placeholder back where the XML writer wrote its reserved value."""
        for (item_type, value), name in self._names.items():
            # The writer's text for the reserved value, with its type attribute and both
            # quotes, so that it cannot match inside a longer or a different value.
            lone = xml_codec.encode(Item(0x540000, item_type, value))
            reserved = lone[lone.index(" type=") : lone.rindex("/>")]
            if document.count(reserved) != self._held[item_type, value]:
                raise CodecError(f"could not keep placeholder {name!r} in XML; use --bind-placeholders")
            document = document.replace(reserved, f' type="{TYPE_NAMES[item_type]}" value={quoteattr(name)}')
        return document

    def restore_json(self, item: Item, node: dict[str, Any]) -> None:
        """Put each placeholder back into the JSON object tree written for `item`."""
        if item.type is ItemType.STRUCTURE:
            for child, child_node in zip(item.children, node["value"], strict=True):
                self.restore_json(child, child_node)
            return
        name = self.name_of(item)
        if name is not None:
            node["value"] = name


def _leaves(items: list[Item]) -> Iterator[Item]:
    stack = list(items)
    while stack:
        item = stack.pop()
        if item.type is ItemType.STRUCTURE:
            stack.extend(item.children)
        else:
            yield item


# --- conversion (no I/O) -----------------------------------------------------------------


def detect_format(data: bytes) -> Format:
    """XML, JSON or (raw or hex) TTLV, from the first significant character."""
    first = data.removeprefix(_BOM).lstrip()[:1]
    if first == b"<":
        return "xml"
    if first in (b"{", b"["):
        return "json"
    return "ttlv"


def ttlv_bytes(data: bytes) -> bytes:
    """The TTLV bytes of the input: raw as given, or from hex text.

    Raw TTLV can never be taken for hex: its type bytes (0x01-0x0B) are not hex digits.
    (`decode_input` has refused input that is only whitespace.)
    """
    text = data.removeprefix(_BOM)
    if not _HEX_TEXT.fullmatch(text):
        return data
    digits = bytes(text.translate(None, b" \t\r\n\v\f"))
    if len(digits) % 2:
        raise CodecError(f"hex input has an odd number of digits ({len(digits)})")
    return bytes.fromhex(digits.decode("ascii"))


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CodecError(f"XML and JSON input must be UTF-8 (byte {error.start} is not)") from None


def decode_input(
    data: bytes, source: Format | None, limits: Limits, placeholders: PlaceholderResolver | None
) -> list[Item]:
    """Every message in `data`, in whichever encoding it is (None: detect it)."""
    if not data.strip():
        raise CodecError("the input is empty")
    source = source or detect_format(data)
    if source == "xml":
        # Decoded here rather than by expat, so that an XML declaration naming another
        # encoding cannot change how the bytes are read: KMIP XML is UTF-8.
        items = xml_codec.decode(_text(data), limits, placeholders=placeholders)
    elif source == "json":
        items = json_codec.decode(_text(data), limits, placeholders=placeholders)
    else:
        items = binary.decode_all(ttlv_bytes(data), limits)
    if not items:
        raise CodecError("the input holds no KMIP message")
    return items


def convert(
    data: bytes,
    target: Format,
    *,
    source: Format | None = None,
    hex_output: bool = False,
    bind_placeholders: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    json_indent: int | None = 2,
) -> bytes:
    """The input messages in the `target` encoding; raises CodecError for any bad input.

    `json_indent=None` writes compact JSON, several times faster to produce.
    """
    if len(data) > limits.max_message_size:
        raise LimitExceeded(f"the input is larger than {limits.max_message_size} bytes (see --max-size)")
    keeper: PlaceholderKeeper | None = None
    resolver: PlaceholderResolver
    if bind_placeholders:
        resolver = bind_placeholder
    elif target == "ttlv":
        resolver = refuse_placeholder
    else:
        resolver = keeper = PlaceholderKeeper()
    items = decode_input(data, source, limits, resolver)
    if keeper is not None:
        keeper.check(items)
    if target == "ttlv":
        frames = [binary.encode(item) for item in items]
        if hex_output:
            return "".join(frame.hex() + "\n" for frame in frames).encode("ascii")
        return b"".join(frames)
    if target == "xml":
        document = xml_codec.encode(items[0] if len(items) == 1 else items)
        if keeper is not None:
            document = keeper.restore_xml(document)
        return document.encode("utf-8")
    nodes = [json_codec.to_json_object(item) for item in items]
    if keeper is not None:
        for item, node in zip(items, nodes, strict=True):
            keeper.restore_json(item, node)
    text = json.dumps(nodes[0] if len(nodes) == 1 else nodes, indent=json_indent, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


# --- command line ------------------------------------------------------------------------


def _size(text: str) -> int:
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size in bytes (such as 65536, 64K or 16M)")
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2).upper()]
    if size < 8:
        raise argparse.ArgumentTypeError("the size must allow at least one 8-byte item header")
    return size


def _depth(text: str) -> int:
    try:
        depth = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= depth <= MAX_SUPPORTED_DEPTH:
        raise argparse.ArgumentTypeError(f"the depth must be between 1 and {MAX_SUPPORTED_DEPTH}")
    return depth


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    convert_parser = actions.add_parser(
        "convert",
        help="convert messages between binary TTLV, XML and JSON",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = convert_parser.add_argument
    add("file", metavar="FILE", help="the input: a file, or - for standard input")
    add("--to", required=True, choices=FORMATS, help="the output encoding")
    add(
        "--from",
        dest="source",
        choices=FORMATS,
        help="the input encoding, if detecting it is not wanted (ttlv: raw or hex)",
    )
    add("--hex", action="store_true", help="with --to ttlv: hex text, one message per line, not raw bytes")
    add("-o", "--output", metavar="FILE", default="-", help="write to FILE instead of standard output")
    add(
        "--bind-placeholders",
        action="store_true",
        help="replace test-case placeholders ($NOW, $CORRELATION_VALUE, ...) by deterministic "
        "stand-in values, so that a test case can be written as TTLV (see 'placeholders' below)",
    )
    add(
        "--max-size",
        type=_size,
        default=DEFAULT_LIMITS.max_message_size,
        metavar="BYTES",
        help=f"refuse a larger input; K, M, G suffixes allowed (default: {_DEFAULT_SIZE_TEXT})",
    )
    add(
        "--max-depth",
        type=_depth,
        default=DEFAULT_LIMITS.max_depth,
        metavar="N",
        help=f"refuse Structures nested deeper than N (1-{MAX_SUPPORTED_DEPTH}; default: %(default)s)",
    )
    convert_parser.set_defaults(run=run_convert, usage_error=convert_parser.error)


def _fail(message: str) -> int:
    print("pkcs11-kmip: " + " ".join(message.split()), file=sys.stderr)
    return 1


def _read(path: str, limit: int) -> bytes:
    """At most `limit` + 1 bytes: enough to know the input is too large, never more."""
    if path == "-":
        return sys.stdin.buffer.read(limit + 1)
    with open(path, "rb") as stream:
        return stream.read(limit + 1)


def _write(path: str, data: bytes) -> None:
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    with open(path, "wb") as stream:
        stream.write(data)


def run_convert(options: argparse.Namespace) -> int:
    if options.hex and options.to != "ttlv":
        options.usage_error("--hex applies only to --to ttlv")
    if options.to == "ttlv" and not options.hex and options.output == "-" and sys.stdout.isatty():
        options.usage_error("refusing to write binary TTLV to a terminal: add --hex or -o FILE")
    source = "<stdin>" if options.file == "-" else options.file
    limits = Limits(max_message_size=options.max_size, max_depth=options.max_depth)
    try:
        data = _read(options.file, limits.max_message_size)
        output = convert(
            data,
            options.to,
            source=options.source,
            hex_output=options.hex,
            bind_placeholders=options.bind_placeholders,
            limits=limits,
        )
        _write(options.output, output)
    except CodecError as error:
        return _fail(f"{source}: {error}")
    except BrokenPipeError:
        # The reader went away (`| head`): not worth a message, and Python must not
        # complain about the unflushable stdout at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        return _fail(f"{error.filename or source}: {error.strerror or error}")
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the codec promises CodecError only: anything else is our bug
        return _fail(f"{source}: internal error, please report it: {type(error).__name__}: {error}")
    return 0
