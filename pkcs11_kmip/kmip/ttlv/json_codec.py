"""The KMIP JSON encoding.

    {"tag": "RequestMessage", "value": [ ...children... ]}          a Structure
    {"tag": "BatchCount", "type": "Integer", "value": 1}            any other item
    {"tag": "0x540001", "type": "TextString", "value": "x"}         a tag without a name

Enumerations are names (or "0x0000000F"), masks "Encrypt|Decrypt", byte strings
hex, big integers "0x..." two's complement, date-times ISO 8601; numbers that a
JSON double cannot hold exactly are written as "0x..." hex strings. A document is
one item or an array of items.
"""

from __future__ import annotations

import json
from typing import Any

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
    parse_decimal,
    resolve_value,
)

_EXACT_IN_DOUBLE = 2**53

# --- reading ----------------------------------------------------------------------------


def _tag(node: dict[str, Any], path: str) -> int:
    name = node.get("tag")
    if not isinstance(name, str):
        raise CodecError(f'{path}: an item needs a string "tag"')
    if name[:2] in ("0x", "0X"):
        try:
            tag = int(name, 16)
        except ValueError:
            tag = -1
        if not is_allocated_tag(tag):
            raise CodecError(f"{path}: {name!r} is not a tag in 0x42xxxx or 0x54xxxx")
        return tag
    tag_value = spec.tag_by_xml_name(name)
    if tag_value is None:
        raise CodecError(f"{path}: {name!r} is not a KMIP tag name")
    return tag_value


def _value(
    item_type: ItemType, raw: object, context: ValueContext, resolver: PlaceholderResolver | None
) -> Any:
    if isinstance(raw, str):
        if item_type is ItemType.BIG_INTEGER and raw[:2] not in ("0x", "0X") and raw[:1] != "$":
            raise CodecError(f'a BigInteger is written "0x...", not {raw[:20]!r}')
        return resolve_value(item_type, raw, context, resolver)
    if isinstance(raw, bool):
        if item_type is ItemType.BOOLEAN:
            return raw
    elif isinstance(raw, int):
        if item_type in (
            ItemType.INTEGER,
            ItemType.LONG_INTEGER,
            ItemType.ENUMERATION,
            ItemType.INTERVAL,
        ):
            return parse_decimal(str(raw), item_type)
        if item_type is ItemType.BIG_INTEGER:
            return raw
    raise CodecError(f"a {TYPE_NAMES[item_type]} cannot have the value {raw!r}")


def _node(
    node: object,
    scope: StructureScope,
    depth: int,
    path: str,
    limits: Limits,
    resolver: PlaceholderResolver | None,
) -> Item:
    if not isinstance(node, dict):
        raise CodecError(f"{path}: an item must be a JSON object, not {type(node).__name__}")
    unknown = set(node) - {"tag", "type", "value"}
    if unknown:
        raise CodecError(f"{path}: unexpected keys {sorted(unknown)}")
    tag = _tag(node, path)
    path = f"{path}/{node['tag']}"
    type_name = node.get("type", "Structure")
    item_type = TYPES_BY_NAME.get(type_name) if isinstance(type_name, str) else None
    if item_type is None:
        raise CodecError(f"{path}: unknown type {type_name!r}")
    if "value" not in node:
        raise CodecError(f'{path}: an item needs a "value"')
    raw = node["value"]
    if item_type is ItemType.STRUCTURE:
        if not isinstance(raw, list):
            raise CodecError(f"{path}: a Structure's value must be an array")
        if depth >= limits.max_depth:
            raise LimitExceeded(f"{path}: structures nested deeper than {limits.max_depth} levels")
        children: list[Item] = []
        inner = StructureScope()
        for index, child_node in enumerate(raw):
            child = _node(child_node, inner, depth + 1, f"{path}[{index}]", limits, resolver)
            children.append(child)
            inner.saw(child)
        return Item(tag, item_type, children)
    try:
        value = _value(item_type, raw, scope.context(tag), resolver)
    except CodecError as error:
        raise CodecError(f"{path}: {error}") from None
    return Item(tag, item_type, value)


def decode(
    document: str | bytes,
    limits: Limits = DEFAULT_LIMITS,
    placeholders: PlaceholderResolver | None = None,
) -> list[Item]:
    """All items in a JSON document (one object, or an array of them)."""
    if byte_size(document) > limits.max_message_size:
        raise LimitExceeded(
            f"JSON document of {len(document)} bytes exceeds the limit of {limits.max_message_size}"
        )
    try:
        parsed = json.loads(document)
    except RecursionError:
        raise LimitExceeded("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise CodecError(f"malformed JSON: {error}") from None
    nodes = parsed if isinstance(parsed, list) else [parsed]
    return [_node(node, StructureScope(), 0, f"[{i}]", limits, placeholders) for i, node in enumerate(nodes)]


# --- writing ----------------------------------------------------------------------------


def _number_or_hex(value: int, bits: int) -> int | str:
    if -_EXACT_IN_DOUBLE < value < _EXACT_IN_DOUBLE:
        return value
    return f"0x{value & ((1 << bits) - 1):0{bits // 4}X}"


def _json_value(item: Item, context: ValueContext) -> Any:
    kind = item.type
    value = item.value
    if kind in (ItemType.TEXT_STRING, ItemType.BOOLEAN):
        return value
    if kind is ItemType.BYTE_STRING:
        assert isinstance(value, bytes)
        return value.hex()
    assert isinstance(value, int)
    if kind is ItemType.ENUMERATION:
        return enum_text(value, context.enumeration)
    if kind is ItemType.INTEGER:
        return mask_text(value, context.mask, "|") if context.mask is not None else value
    if kind is ItemType.BIG_INTEGER:
        return "0x" + big_integer_hex(value)
    if kind is ItemType.DATE_TIME:
        return datetime_text(value)
    if kind is ItemType.DATE_TIME_EXTENDED:
        return datetime_extended_text(value)
    if kind is ItemType.LONG_INTEGER:
        return _number_or_hex(value, 64)
    return value  # Interval


def to_json_object(item: Item, context: ValueContext | None = None) -> dict[str, Any]:
    name = spec.tag_xml_name(item.tag)
    node: dict[str, Any] = {"tag": name if name is not None else f"0x{item.tag:06X}"}
    if item.type is ItemType.STRUCTURE:
        scope = StructureScope()
        children = []
        for child in item.children:
            children.append(to_json_object(child, scope.context(child.tag)))
            scope.saw(child)
        node["value"] = children
        return node
    node["type"] = TYPE_NAMES[item.type]
    node["value"] = _json_value(item, context or StructureScope().context(item.tag))
    return node


def encode(items: Item | list[Item], *, indent: int | None = 2) -> str:
    """JSON text for one item, or an array for a list of them."""
    for item in [items] if isinstance(items, Item) else items:
        item.validate()
    if isinstance(items, Item):
        return json.dumps(to_json_object(items), indent=indent)
    return json.dumps([to_json_object(item) for item in items], indent=indent)
