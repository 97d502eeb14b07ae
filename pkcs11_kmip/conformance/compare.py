"""Comparing a server's response with the one a test case expects, item by item.

The walk is generic: structures compare child by child in order, leaves by type and
value. What a conformant server may answer differently is data (tolerances.py), looked
up while walking; placeholders bind on first sight and must match afterwards. The
first difference stops the walk and is reported with its path, e.g.
`message 3 / BatchItem / ResponsePayload / Attributes / CryptographicLength: expected 256, got 128`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from pkcs11_kmip.conformance import tolerances as tol
from pkcs11_kmip.conformance.testcase import NOW, Placeholders, version_of
from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import Operation, ResultStatus
from pkcs11_kmip.kmip.ttlv import TYPE_NAMES, Item, ItemType
from pkcs11_kmip.kmip.ttlv.text import (
    StructureScope,
    ValueContext,
    big_integer_hex,
    datetime_extended_text,
    datetime_text,
    enum_text,
    mask_text,
)

Leaf = int | bool | str | bytes
Typed = tuple[ItemType, Leaf]


@dataclass(frozen=True)
class Difference:
    """The first place where the actual response differs from the expected one."""

    path: tuple[str, ...]
    text: str

    def __str__(self) -> str:
        return f"{' / '.join(self.path)}: {self.text}" if self.path else self.text


class Bindings:
    """What each placeholder of one file stands for, and the server-chosen values of a session.

    `chosen` maps (object, tag, expected value) to the value the server chose for it; it
    is shared by every file of a session, so a generated key reads the same in each.
    """

    def __init__(self, chosen: dict[tuple[str, int, Typed], Typed] | None = None) -> None:
        self.values: dict[str, Typed] = {}
        self.owners: dict[Typed, str] = {}
        self.chosen: dict[tuple[str, int, Typed], Typed] = {} if chosen is None else chosen

    def get(self, name: str) -> Typed | None:
        return self.values.get(name)

    def bind(self, name: str, value: Typed) -> str | None:
        """Bind `name`; the placeholder already holding this value if there is one (an error)."""
        owner = self.owners.get(value)
        if owner is not None and owner != name:
            return owner
        self.values[name] = value
        self.owners[value] = name
        return None

    def snapshot(self) -> tuple[dict[str, Typed], dict[Typed, str], dict[tuple[str, int, Typed], Typed]]:
        return dict(self.values), dict(self.owners), dict(self.chosen)

    def restore(
        self, saved: tuple[dict[str, Typed], dict[Typed, str], dict[tuple[str, int, Typed], Typed]]
    ) -> None:
        self.values, self.owners = dict(saved[0]), dict(saved[1])
        self.chosen.clear()  # shared with the session: change it in place
        self.chosen.update(saved[2])


class _Found(Exception):
    def __init__(self, path: tuple[str, ...], text: str) -> None:
        super().__init__(text)
        self.difference = Difference(path, text)


@dataclass(frozen=True)
class _Scope:
    """What the walk knows about where it is."""

    operation: Operation | None = None
    request: Item | None = None  # the request payload of this batch item
    subject: str | None = None  # the object a response payload describes
    listing: str | None = None  # "all" or "named" inside an attribute listing
    generated: bool = False  # inside a value the server generated
    key_format: int | None = None
    parent: int = 0
    value_context: ValueContext = field(default_factory=ValueContext)


# --- naming things in messages ------------------------------------------------------------------


def tag_name(tag: int) -> str:
    return spec.tag_xml_name(tag) or f"0x{tag:06X}"


def value_text(item: Item, context: ValueContext | None = None) -> str:
    """An item's value as the XML encoding writes it (enumeration and mask names, hex, ISO dates)."""
    context = context or ValueContext(spec.enum_table_for_tag(item.tag), spec.mask_table_for_tag(item.tag))
    kind, value = item.type, item.value
    if kind is ItemType.STRUCTURE:
        return "{" + ", ".join(tag_name(child.tag) for child in item.children) + "}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bytes):
        return value.hex() if len(value) <= 48 else f"{value[:24].hex()}... ({len(value)} bytes)"
    if kind is ItemType.BOOLEAN:
        return "true" if value else "false"
    assert isinstance(value, int)
    if kind is ItemType.ENUMERATION:
        return enum_text(value, context.enumeration)
    if kind is ItemType.INTEGER and context.mask is not None:
        return mask_text(value, context.mask, " ")
    if kind is ItemType.BIG_INTEGER:
        return "0x" + big_integer_hex(value)
    if kind is ItemType.DATE_TIME:
        return datetime_text(value)
    if kind is ItemType.DATE_TIME_EXTENDED:
        return datetime_extended_text(value)
    return str(value)


def attribute_key(item: Item) -> str:
    """The name an attribute (or an attribute's name or reference) goes by, in any KMIP version."""
    if item.tag in (Tag.ATTRIBUTE, Tag.ATTRIBUTE_REFERENCE) and item.type is ItemType.STRUCTURE:
        name = item.find(Tag.ATTRIBUTE_NAME)
        vendor = item.find(Tag.VENDOR_IDENTIFICATION)
        text = name.value if name is not None and isinstance(name.value, str) else "?"
        owner = vendor.value if vendor is not None and isinstance(vendor.value, str) else None
        return f"{owner}:{text}" if owner is not None else text
    if item.tag == Tag.ATTRIBUTE_NAME and isinstance(item.value, str):
        return item.value
    if item.tag == Tag.ATTRIBUTE_REFERENCE and isinstance(item.value, int):
        row = spec.tag_info(item.value)
        return row.name if row else f"0x{item.value:06X}"
    row = spec.tag_info(item.tag)
    return row.name if row else f"0x{item.tag:06X}"


def _server_chosen(key: str) -> tuple[bool, str] | None:
    tag = spec.tag_by_name(key)
    return tol.SERVER_CHOSEN_ATTRIBUTES.get(tag) if tag is not None else None


def _member_label(item: Item, key: str) -> str:
    if item.tag in (Tag.ATTRIBUTE, Tag.ATTRIBUTE_NAME, Tag.ATTRIBUTE_REFERENCE):
        return f"{tag_name(item.tag)}[{key}]"
    return tag_name(item.tag)


def _labels(labels: list[str]) -> list[str]:
    """Labels for sibling items; repeated ones get their 1-based position: Name[1], Name[2]."""
    counts = Counter(labels)
    seen: Counter[str] = Counter()
    out = []
    for text in labels:
        seen[text] += 1
        out.append(f"{text}[{seen[text]}]" if counts[text] > 1 else text)
    return out


# --- the comparison -----------------------------------------------------------------------------


class Comparison:
    """Compares the responses of one test case; holds what it has learned on the way."""

    def __init__(
        self,
        placeholders: Placeholders,
        bindings: Bindings,
        generated: set[str],
        time_tolerance: int = tol.DEFAULT_TIME_TOLERANCE,
    ) -> None:
        self.placeholders = placeholders
        self.bindings = bindings
        self.generated = generated  # objects whose key material the server generated
        self.time_tolerance = time_tolerance
        self.sent_at = 0
        self.version: Version = (2, 1)  # of the message being compared
        self.notes: list[str] = []  # each tolerance applied, where and why

    def _note(self, path: tuple[str, ...], text: str) -> None:
        self.notes.append(f"{' / '.join(path)}: {text}")

    def message(
        self, number: int, expected: Item, actual: Item, request: Item, sent_at: int
    ) -> Difference | None:
        """The first difference between a response and the expected one (None: they match)."""
        self.sent_at = sent_at
        self.version = version_of(expected, Tag.RESPONSE_HEADER) or self.version
        path = (f"message {number}",)
        try:
            if actual.tag != expected.tag or actual.type is not ItemType.STRUCTURE:
                raise _Found(path, f"expected a {tag_name(expected.tag)}, got a {tag_name(actual.tag)}")
            requests = [item.find(Tag.REQUEST_PAYLOAD) for item in request.find_all(Tag.BATCH_ITEM)]
            self._message(expected, actual, path, requests)
        except _Found as found:
            return found.difference
        return None

    def _message(
        self, expected: Item, actual: Item, path: tuple[str, ...], requests: list[Item | None]
    ) -> None:
        exp_items = [c for c in expected.children if c.tag == Tag.BATCH_ITEM]
        act_items = [c for c in actual.children if c.tag == Tag.BATCH_ITEM]
        exp_rest = [c for c in expected.children if c.tag != Tag.BATCH_ITEM]
        act_rest = [c for c in actual.children if c.tag != Tag.BATCH_ITEM]
        labels = _labels(["BatchItem"] * len(exp_items))
        # When the counts differ, the first item that differs says more than the count does
        # (e.g. the failure that stopped a batch), so the items the two share go first.
        shared = min(len(exp_items), len(act_items))
        if len(exp_items) != len(act_items):
            self._batch_items(exp_items[:shared], act_items, labels, path, requests)
        self._ordered(exp_rest, act_rest, path, _Scope(parent=expected.tag))
        if len(act_items) < len(exp_items):
            raise _Found(path, f"missing {labels[shared]} (the response has {len(act_items)} batch items)")
        if len(act_items) > len(exp_items):
            raise _Found(
                path, f"unexpected BatchItem (the response has {len(act_items)}, expected {len(exp_items)})"
            )
        self._batch_items(exp_items, act_items, labels, path, requests)

    def _batch_items(
        self,
        expected: list[Item],
        actual: list[Item],
        labels: list[str],
        path: tuple[str, ...],
        requests: list[Item | None],
    ) -> None:
        # An item undone or left pending is explained by the one that failed in its batch.
        failed = next((i for i, a in enumerate(actual) if _status(a) == ResultStatus.OPERATION_FAILED), None)
        cause = None if failed is None else f"BatchItem[{failed + 1}] failed: {_outcome(actual[failed])}"
        for index, (exp, act) in enumerate(zip(expected, actual, strict=False)):
            operation_item = exp.find(Tag.OPERATION)
            code = operation_item.value if operation_item is not None else None
            operation = Operation(code) if isinstance(code, int) else None
            request = requests[index] if index < len(requests) else None
            self._batch_item(exp, act, (*path, labels[index]), _Scope(operation, request), cause)

    def _batch_item(
        self, expected: Item, actual: Item, path: tuple[str, ...], scope: _Scope, cause: str | None = None
    ) -> None:
        exp_status, act_status = expected.find(Tag.RESULT_STATUS), actual.find(Tag.RESULT_STATUS)
        if exp_status is not None and act_status is not None and exp_status.value != act_status.value:
            details = _outcome(actual)
            if act_status.value != ResultStatus.OPERATION_FAILED and cause is not None:
                details = cause if not details else f"{details}; {cause}"
            raise _Found(
                (*path, "ResultStatus"),
                f"expected {value_text(exp_status)}, got {value_text(act_status)}"
                + (f" ({details})" if details else ""),
            )
        # What the server generated is known from its answer alone, whatever else differs.
        payload = actual.find(Tag.RESPONSE_PAYLOAD)
        succeeded = act_status is not None and act_status.value == ResultStatus.SUCCESS
        if scope.operation in tol.GENERATING_OPERATIONS and succeeded and payload is not None:
            for tag in (
                Tag.UNIQUE_IDENTIFIER,
                Tag.PRIVATE_KEY_UNIQUE_IDENTIFIER,
                Tag.PUBLIC_KEY_UNIQUE_IDENTIFIER,
            ):
                self.generated.update(str(item.value) for item in payload.find_all(tag))
        self._structure(expected, actual, path, scope)

    # --- structures ---------------------------------------------------------------------------

    def _item(self, expected: Item, actual: Item, path: tuple[str, ...], scope: _Scope) -> None:
        if expected.type is not actual.type:
            raise _Found(
                path,
                f"expected a {TYPE_NAMES[expected.type]}, "
                f"got a {TYPE_NAMES[actual.type]} {value_text(actual)}",
            )
        if (scope.parent, expected.tag) in tol.SERVER_VALUES:
            return
        if expected.tag in tol.GENERATED_VALUES and scope.subject in self.generated:
            scope = replace(scope, generated=True)
        if expected.type is ItemType.STRUCTURE:
            self._structure(expected, actual, path, scope)
        else:
            self._leaf(expected, actual, path, scope)

    def _structure(self, expected: Item, actual: Item, path: tuple[str, ...], scope: _Scope) -> None:
        tag = expected.tag
        if tag == Tag.RESPONSE_PAYLOAD:
            scope = self._payload_scope(actual, scope)
            if scope.operation is Operation.QUERY:
                self._capabilities(expected, actual, path)
                return
        if tag == Tag.KEY_BLOCK:
            key_format = actual.find(Tag.KEY_FORMAT_TYPE)
            fmt = key_format.value if key_format is not None else None
            scope = replace(scope, key_format=fmt if isinstance(fmt, int) else None)
        child_scope = replace(scope, parent=tag)
        if tag == Tag.ATTRIBUTES:
            self._attribute_set(expected.children, actual.children, path, child_scope)
            return
        members = {Tag.ATTRIBUTE} | (
            {Tag.ATTRIBUTE_NAME, Tag.ATTRIBUTE_REFERENCE} if tag == Tag.RESPONSE_PAYLOAD else set()
        )
        exp_set = [c for c in expected.children if c.tag in members]
        act_set = [c for c in actual.children if c.tag in members]
        self._ordered(
            [c for c in expected.children if c.tag not in members],
            [c for c in actual.children if c.tag not in members],
            path,
            child_scope,
        )
        if exp_set or act_set:
            self._attribute_set(exp_set, act_set, path, child_scope)

    def _payload_scope(self, actual: Item, scope: _Scope) -> _Scope:
        subject = actual.find(Tag.UNIQUE_IDENTIFIER)
        listing = None
        if scope.operation is Operation.GET_ATTRIBUTE_LIST:
            listing = "all"
        elif scope.operation is Operation.GET_ATTRIBUTES:
            named = scope.request is not None and any(
                c.tag in tol.ATTRIBUTE_SELECTORS for c in scope.request.children
            )
            listing = "named" if named else "all"
        return replace(scope, subject=str(subject.value) if subject is not None else None, listing=listing)

    def _ordered(
        self, expected: list[Item], actual: list[Item], path: tuple[str, ...], scope: _Scope
    ) -> None:
        expected = _significant(expected)
        exp_tags = {item.tag for item in expected}
        added = [a for a in _significant(actual) if a.tag not in exp_tags and a.tag in tol.SERVER_MAY_ADD]
        for item in added:
            self._note(path, f"the server added {tag_name(item.tag)} {value_text(item)}")
        actual = [a for a in _significant(actual) if a not in added]
        labels = _labels([tag_name(item.tag) for item in expected])
        names = StructureScope()
        for index, (exp, label) in enumerate(zip(expected, labels, strict=True)):
            context = names.context(exp.tag)
            names.saw(exp)
            if index >= len(actual):
                raise _Found(path, f"missing {label}")
            act = actual[index]
            if act.tag != exp.tag:
                later = any(a.tag == exp.tag for a in actual[index + 1 :])
                what = f"unexpected {tag_name(act.tag)} {value_text(act)}" if later else f"missing {label}"
                raise _Found(path, f"{what} (found {tag_name(act.tag)} where {label} was expected)")
            self._item(exp, act, (*path, label), replace(scope, value_context=context))
        if len(actual) > len(expected):
            extra = actual[len(expected)]
            raise _Found(path, f"unexpected {tag_name(extra.tag)} {value_text(extra)}")

    def _attribute_set(
        self, expected: list[Item], actual: list[Item], path: tuple[str, ...], scope: _Scope
    ) -> None:
        """Attributes in any order; what may be missing or extra depends on the listing."""
        exp_keys = [attribute_key(item) for item in expected]
        labels = _labels([_member_label(item, key) for item, key in zip(expected, exp_keys, strict=True)])
        unused = list(actual)
        for exp, key, label in zip(expected, exp_keys, labels, strict=True):
            candidates = [act for act in unused if attribute_key(act) == key]
            first_failure: _Found | None = None
            for act in candidates:
                saved, noted = self.bindings.snapshot(), len(self.notes)
                try:
                    self._member(exp, act, (*path, label), key, scope)
                except _Found as found:
                    self.bindings.restore(saved)
                    del self.notes[noted:]
                    first_failure = first_failure or found
                    continue
                unused.remove(act)
                break
            else:
                if first_failure is not None:
                    raise first_failure
                chosen = _server_chosen(key)
                if chosen is None:
                    raise _Found(path, f"missing {label}")
                self._note(path, f"the server has no {label} ({chosen[1]})")
        extras = []
        for act in unused:
            key = attribute_key(act)
            label = _member_label(act, key)
            if scope.listing != "all" and _server_chosen(key) is None:
                raise _Found(path, f"unexpected {label} {value_text(act)}")
            foreign = self._foreign_attribute(act, key)
            if foreign is not None:
                raise _Found(path, f"unexpected {label}: {foreign}")
            extras.append(label)
        if extras:
            self._note(path, f"the server also returned {', '.join(extras)}")

    def _foreign_attribute(self, item: Item, key: str) -> str | None:
        """Why an extra attribute cannot be one of the client's version (None: it can)."""
        if item.tag == Tag.ATTRIBUTE and item.find(Tag.VENDOR_IDENTIFICATION) is not None:
            return None  # a KMIP 2.x vendor attribute
        if item.tag in (Tag.ATTRIBUTE, Tag.ATTRIBUTE_NAME):
            if key.startswith(tol.CUSTOM_ATTRIBUTE_PREFIXES):
                return None
            tag = spec.tag_by_name(key)
        elif item.tag == Tag.ATTRIBUTE_REFERENCE:
            tag = item.value if isinstance(item.value, int) else None
        else:
            tag = item.tag
        shown = f"KMIP {self.version[0]}.{self.version[1]}"
        if tag is None or not spec.tag_defined_in(tag, self.version):
            return f"not an attribute of {shown}"
        if self.version < (2, 0) and tag in tol.ATTRIBUTES_SINCE_2_0:
            return f"not an attribute of {shown} ({tol.ATTRIBUTES_SINCE_2_0[tag]})"
        return None

    def _member(self, expected: Item, actual: Item, path: tuple[str, ...], key: str, scope: _Scope) -> None:
        chosen = _server_chosen(key)
        if chosen is not None and chosen[0]:
            # The server's own value: only its shape is checked.
            exp_value = expected.find(Tag.ATTRIBUTE_VALUE) if expected.tag == Tag.ATTRIBUTE else expected
            act_value = actual.find(Tag.ATTRIBUTE_VALUE) if actual.tag == Tag.ATTRIBUTE else actual
            if exp_value is not None and (act_value is None or act_value.type is not exp_value.type):
                got = "nothing" if act_value is None else f"a {TYPE_NAMES[act_value.type]}"
                raise _Found(path, f"expected a {TYPE_NAMES[exp_value.type]} value, got {got}")
            self._note(path, f"the value is the server's ({chosen[1]})")
            return
        self._item(
            expected, actual, path, replace(scope, value_context=StructureScope().context(expected.tag))
        )

    def _capabilities(self, expected: Item, actual: Item, path: tuple[str, ...]) -> None:
        """Query: the server describes itself; the kinds of answer the file expects must be there."""
        found = {child.tag for child in actual.children}
        for child in expected.children:
            if child.tag in tol.QUERY_REQUIRED and child.tag not in found:
                raise _Found(path, f"missing {tag_name(child.tag)} ({tol.QUERY_REQUIRED[child.tag]})")
        self._note(path, "the server describes itself: only the kinds of answer are compared")

    # --- leaves -------------------------------------------------------------------------------

    def _leaf(self, expected: Item, actual: Item, path: tuple[str, ...], scope: _Scope) -> None:
        context = scope.value_context
        name = self.placeholders.name_of(expected)
        if name is not None:
            self._placeholder(name, expected, actual, path, context)
            return
        if scope.generated and expected.type in (ItemType.BYTE_STRING, ItemType.BIG_INTEGER):
            self._generated(expected, actual, path, scope)
            return
        if expected.value != actual.value:
            raise _Found(path, f"expected {value_text(expected, context)}, got {value_text(actual, context)}")

    def _placeholder(
        self, name: str, expected: Item, actual: Item, path: tuple[str, ...], context: ValueContext
    ) -> None:
        now = NOW.match(name)
        if now is not None:
            sign, amount = now.groups()
            offset = int(amount or 0) * (-1 if sign == "-" else 1)
            value = actual.value
            assert isinstance(value, int)
            seconds = value // 1_000_000 if actual.type is ItemType.DATE_TIME_EXTENDED else value
            off = seconds - (self.sent_at + offset)
            if abs(off) > self.time_tolerance:
                raise _Found(
                    path,
                    f"expected {name} (about {datetime_text(self.sent_at + offset)}), "
                    f"got {value_text(actual, context)} ({off:+d} s)",
                )
            return
        got: Typed = (actual.type, _leaf_value(actual))
        bound = self.bindings.get(name)
        if bound is None:
            owner = self.bindings.bind(name, got)
            if owner is not None:
                raise _Found(path, f"expected {name}, got {value_text(actual, context)}, which is {owner}")
        elif bound != got:
            shown = Item(expected.tag, bound[0], bound[1])
            raise _Found(
                path, f"expected {name} = {value_text(shown, context)}, got {value_text(actual, context)}"
            )

    def _generated(self, expected: Item, actual: Item, path: tuple[str, ...], scope: _Scope) -> None:
        """A value the server generated: binds per object and expected value, keeps its size if fixed."""
        exp_value, act_value = expected.value, actual.value
        fixed = expected.tag == Tag.DIGEST_VALUE or scope.key_format in tol.FIXED_LENGTH_FORMATS
        if (
            fixed
            and isinstance(exp_value, bytes)
            and isinstance(act_value, bytes)
            and len(exp_value) != len(act_value)
        ):
            raise _Found(
                path, f"expected {len(exp_value)} bytes (a server-generated value), got {len(act_value)}"
            )
        assert scope.subject is not None
        key = (scope.subject, expected.tag, (expected.type, _leaf_value(expected)))
        got: Typed = (actual.type, _leaf_value(actual))
        first = self.bindings.chosen.get(key)
        if first is None:
            self.bindings.chosen[key] = got
            self._note(path, "a value the server generated (later sightings must match it)")
        elif first != got:
            shown = Item(expected.tag, first[0], first[1])
            raise _Found(
                path,
                f"the server-generated value changed: it was {value_text(shown)}, got {value_text(actual)}",
            )


def _leaf_value(item: Item) -> Leaf:
    value = item.value
    assert not isinstance(value, list)
    return value


def _status(batch_item: Item) -> int | None:
    status = batch_item.find(Tag.RESULT_STATUS)
    return status.value if status is not None and isinstance(status.value, int) else None


def _outcome(batch_item: Item) -> str:
    """A batch item's Result Reason and Result Message, as a report shows them."""
    parts = [value_text(i) for i in (batch_item.find(Tag.RESULT_REASON),) if i is not None]
    parts += [str(i.value) for i in (batch_item.find(Tag.RESULT_MESSAGE),) if i is not None]
    return ": ".join(parts)


def _significant(items: list[Item]) -> list[Item]:
    """Items the comparison looks at: not the optional ones, not defaults left implicit."""
    out = []
    for item in items:
        if item.tag in tol.EITHER_SIDE_OPTIONAL:
            continue
        default = tol.DEFAULT_VALUES.get(item.tag)
        if default is not None and item.value == default[0]:
            continue
        out.append(item)
    return out


__all__ = ["Bindings", "Comparison", "Difference", "attribute_key", "value_text"]
