"""The KMIP XML encoding, as the OASIS test cases write it.

    <RequestMessage>                                  a Structure: no type attribute
      <BatchCount type="Integer" value="1"/>           any other item: type and value
      <TTLV tag="0x540001" type="TextString" .../>      a tag without a name (extensions)

A document is one item, or a `<KMIP>` element holding several (a test-case file).
The parser is expat driven directly: no DTDs or entities, depth and size limits
enforced while reading, and every error names the line and element.
"""

from __future__ import annotations

import re
from xml.parsers import expat
from xml.sax.saxutils import quoteattr

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.ttlv.errors import CodecError, LimitExceeded
from pkcs11_kmip.kmip.ttlv.item import TYPE_NAMES, TYPES_BY_NAME, Item, ItemType, is_allocated_tag
from pkcs11_kmip.kmip.ttlv.limits import DEFAULT_LIMITS, Limits
from pkcs11_kmip.kmip.ttlv.text import (
    PlaceholderResolver,
    StructureScope,
    ValueContext,
    big_integer_hex,
    byte_size,
    datetime_extended_text,
    datetime_text,
    enum_text,
    mask_text,
    resolve_value,
)

CONTAINER = "KMIP"
UNNAMED = "TTLV"


# --- reading ----------------------------------------------------------------------------


class _Reader:
    def __init__(self, limits: Limits, resolver: PlaceholderResolver | None) -> None:
        self.limits = limits
        self.resolver = resolver
        self.roots: list[Item] = []
        self.container = False
        # One frame per open Structure: (item, scope for its children).
        self.stack: list[tuple[Item, StructureScope]] = []
        self.open_leaf = False
        self.parser = expat.ParserCreate()
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.parser.StartDoctypeDeclHandler = self.refuse_dtd
        self.parser.EntityDeclHandler = self.refuse_dtd

    def fail(self, message: str, error: type[CodecError] = CodecError) -> CodecError:
        where = f"line {self.parser.CurrentLineNumber}, column {self.parser.CurrentColumnNumber}"
        return error(f"{where}: {message}")

    def refuse_dtd(self, *_args: object) -> None:
        raise self.fail("DTDs and entity declarations are not allowed")

    def text(self, data: str) -> None:
        # Some OASIS files keep "# ..." notes as bare text between messages: allowed
        # directly inside <KMIP>, nowhere else.
        if data.strip() and (self.stack or self.open_leaf or not self.container):
            raise self.fail(f"unexpected text {data.strip()[:30]!r}")

    def start(self, name: str, attributes: dict[str, str]) -> None:
        if self.open_leaf:
            raise self.fail(f"<{name}> inside an element that has a value")
        if name == CONTAINER and not self.stack and not self.container and not self.roots:
            self.container = True
            return
        tag = self.tag_of(name, attributes)
        type_name = attributes.get("type", "Structure")
        item_type = TYPES_BY_NAME.get(type_name)
        if item_type is None:
            raise self.fail(f"<{name}> has unknown type {type_name!r}")
        if item_type is ItemType.STRUCTURE:
            if "value" in attributes:
                raise self.fail(f"structure <{name}> cannot have a value attribute")
            if len(self.stack) >= self.limits.max_depth:
                raise self.fail(
                    f"structures nested deeper than {self.limits.max_depth} levels", LimitExceeded
                )
            self.stack.append((Item(tag, item_type, []), StructureScope()))
            return
        text = attributes.get("value")
        if text is None:
            raise self.fail(f"<{name}> of type {type_name} has no value attribute")
        scope = self.stack[-1][1] if self.stack else StructureScope()
        context = scope.context(tag)
        try:
            value = resolve_value(item_type, text, context, self.resolver)
        except CodecError as error:
            raise self.fail(f"<{name}>: {error}") from None
        item = Item(tag, item_type, value)
        self.attach(item)
        self.open_leaf = True

    def tag_of(self, name: str, attributes: dict[str, str]) -> int:
        if name == UNNAMED:
            text = attributes.get("tag", "")
            try:
                tag = int(text, 16) if text[:2] in ("0x", "0X") else -1
            except ValueError:
                tag = -1
            if not is_allocated_tag(tag):
                raise self.fail(
                    f'<{UNNAMED}> needs a tag in 0x42xxxx or 0x54xxxx, such as "0x540001", not {text!r}'
                )
            return tag
        tag_value = spec.tag_by_xml_name(name)
        if tag_value is None:
            raise self.fail(f"<{name}> is not a KMIP tag name")
        return tag_value

    def attach(self, item: Item) -> None:
        if self.stack:
            parent, scope = self.stack[-1]
            parent.children.append(item)
            scope.saw(item)
        else:
            self.roots.append(item)

    def end(self, name: str) -> None:
        if self.open_leaf:
            self.open_leaf = False
            return
        if not self.stack:  # the </KMIP> container
            return
        item, _scope = self.stack.pop()
        self.attach(item)


def decode(
    document: str | bytes,
    limits: Limits = DEFAULT_LIMITS,
    placeholders: PlaceholderResolver | None = None,
) -> list[Item]:
    """All items in an XML document: one, or each child of a `<KMIP>` container."""
    if byte_size(document) > limits.max_message_size:
        raise LimitExceeded(
            f"XML document of {len(document)} bytes exceeds the limit of {limits.max_message_size}"
        )
    reader = _Reader(limits, placeholders)
    try:
        reader.parser.Parse(document, True)
    except expat.ExpatError as error:
        if error.code == expat.errors.codes[expat.errors.XML_ERROR_JUNK_AFTER_DOC_ELEMENT]:
            raise CodecError(f"{error}: several messages must be wrapped in <{CONTAINER}>") from None
        raise CodecError(f"malformed XML: {error}") from None
    except LookupError as error:  # an encoding declaration expat does not know
        raise CodecError(f"malformed XML: {error}") from None
    except UnicodeEncodeError:  # str input holding a lone surrogate
        raise CodecError("malformed XML: text that is not valid Unicode") from None
    except RecursionError:
        raise LimitExceeded("XML nested too deeply") from None
    return reader.roots


# --- writing ----------------------------------------------------------------------------


# Characters XML 1.0 cannot hold at all (§2.2): most C0 controls, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _value_text(item: Item, context: ValueContext) -> str:
    kind = item.type
    value = item.value
    if kind is ItemType.TEXT_STRING:
        assert isinstance(value, str)
        if _NOT_XML.search(value):
            raise CodecError(f"text of 0x{item.tag:06X} holds a character XML cannot represent")
        return value
    if kind is ItemType.BYTE_STRING:
        assert isinstance(value, bytes)
        return value.hex()
    if kind is ItemType.BOOLEAN:
        return "true" if value else "false"
    assert isinstance(value, int)
    if kind is ItemType.ENUMERATION:
        return enum_text(value, context.enumeration)
    if kind is ItemType.INTEGER and context.mask is not None:
        return mask_text(value, context.mask, " ")
    if kind is ItemType.BIG_INTEGER:
        return big_integer_hex(value)
    if kind is ItemType.DATE_TIME:
        return datetime_text(value)
    if kind is ItemType.DATE_TIME_EXTENDED:
        return datetime_extended_text(value)
    return str(value)


def _write(item: Item, context: ValueContext, indent: str, out: list[str]) -> None:
    name = spec.tag_xml_name(item.tag)
    opening = name if name is not None else f'{UNNAMED} tag="0x{item.tag:06X}"'
    closing = name if name is not None else UNNAMED
    if item.type is ItemType.STRUCTURE:
        if not item.children:
            out.append(f"{indent}<{opening}/>\n")
            return
        out.append(f"{indent}<{opening}>\n")
        scope = StructureScope()
        for child in item.children:
            _write(child, scope.context(child.tag), indent + "  ", out)
            scope.saw(child)
        out.append(f"{indent}</{closing}>\n")
        return
    value = quoteattr(_value_text(item, context))
    out.append(f'{indent}<{opening} type="{TYPE_NAMES[item.type]}" value={value}/>\n')


def encode(items: Item | list[Item]) -> str:
    """XML text for one item, or a `<KMIP>` container for a list of them."""
    for item in [items] if isinstance(items, Item) else items:
        item.validate()
    out: list[str] = []
    if isinstance(items, Item):
        item = items
        _write(item, StructureScope().context(item.tag), "", out)
        return "".join(out)
    out.append(f"<{CONTAINER}>\n")
    for item in items:
        out.append("\n")
        _write(item, StructureScope().context(item.tag), "  ", out)
    out.append(f"\n</{CONTAINER}>\n")
    return "".join(out)
