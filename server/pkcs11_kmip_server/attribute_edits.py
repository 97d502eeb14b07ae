"""Changing an existing object's attributes: the rules Add, Set, Modify, Delete and Adjust Attribute share.

A request names one attribute (or one instance of it) in its version's form: KMIP
1.x an Attribute by name with an Attribute Index, KMIP 2.x a New Attribute, a
Current Attribute or an Attribute Reference. Each becomes a canonical entry, and
then one set of rules decides, from the spec's rule table (`attributes.rule`):
not client-modifiable -> Attribute Read Only (Permission Denied for 1.x clients,
as the engine maps it), modifiable only in some states -> Wrong Key Lifecycle
State, a second value of a single-valued attribute -> Attribute Single Valued.
A few attributes carry rules of their own, kept here as data: a Name is unique
among the caller's objects, Sensitive only goes false -> true and Extractable
only true -> false (their "always"/"never" companions stay true to history),
Process Start and Protect Stop Dates are fixed once reached, and Usage Limits
keep their count with the server.

KMIP 1.x Attribute Indexes never change once given (1.4 §2.1.1): the server keeps
attributes in the 2.x form, which has no indexes, so an instance's index is its
position among the attribute's instances, skipping the indexes that deletions
vacated (attributes.vacated_indexes, kept with the object). A vacancy above the last
index in use is forgotten: the next instance added takes that index again.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.attributes import attribute_converters
from pkcs11_kmip.kmip.messages.structures import AttributeReference, Name, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import AdjustmentType, LinkType, ResultReason, State, UniqueIdentifier
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server import policy
from pkcs11_kmip_server.attributes import Modifiable
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.store import ObjectRecord
from pkcs11_kmip_server.templates import same_attribute, same_instance

# Dates a client may move only until they are reached (KMIP 2.1 §4.41, §4.44).
FIXED_ONCE_REACHED = frozenset({Tag.PROCESS_START_DATE, Tag.PROTECT_STOP_DATE})

# Where a request names the attribute it acts on.
Target = Tag | AttributeReference


# --- the object and the attribute a request names ----------------------------------------


def load(context: RequestContext, uid: str | UniqueIdentifier | int | None) -> ObjectRecord:
    """The caller's on-line object, its state brought up to date."""
    record = context.load(uid)
    require_online(record)
    refresh_state(record.attributes, context.now)
    return record


def canonical(entry: AttributeEntry) -> AttributeEntry:
    """An entry as the server keeps it: a vendor attribute without an index, a 1.x-style
    named attribute (some 2.x clients send one) under its own tag."""
    value = entry.value
    if not isinstance(value, Attribute):
        return entry
    if value.vendor_identification is None:
        return rules.from_named(value)
    return AttributeEntry(
        Tag.ATTRIBUTE,
        Attribute(
            vendor_identification=value.vendor_identification,
            attribute_name=value.attribute_name,
            attribute_value=value.attribute_value,
        ),
    )


def the_one(attributes: Attributes | None, field: str) -> AttributeEntry:
    """The single attribute a New Attribute or Current Attribute must hold."""
    if attributes is None or len(attributes) != 1:
        count = 0 if attributes is None else len(attributes)
        raise KmipError(ResultReason.INVALID_FIELD, f"{field} must hold one attribute, not {count}")
    return canonical(attributes.entries[0])


def named(attribute: Attribute | None) -> tuple[AttributeEntry, int]:
    """A 1.x Attribute as an entry and the Attribute Index it names (0 when omitted)."""
    if attribute is None:
        raise KmipError(ResultReason.INVALID_FIELD, "the request names no Attribute")
    without_index = Attribute(
        attribute_name=attribute.attribute_name, attribute_value=attribute.attribute_value
    )
    return canonical(rules.from_named(without_index)), attribute.attribute_index or 0


def target_of(entry: AttributeEntry) -> Target:
    return rules.reference_of(entry)


def tag_of(target: Target) -> int:
    return Tag.ATTRIBUTE if isinstance(target, AttributeReference) else int(target)


def describe(target: Target) -> str:
    if isinstance(target, AttributeReference):
        vendor = target.vendor_identification or ""
        return rules.custom_name_of_vendor(vendor, target.attribute_name or "")
    return rules.name_of(AttributeEntry(target, None))


def positions(record: ObjectRecord, target: Target) -> list[int]:
    """Where the instances of an attribute are among the object's attributes, in order."""
    return [i for i, entry in enumerate(record.attributes) if rules.matches_reference(entry, target)]


def positions_named(record: ObjectRecord, name: str) -> list[int]:
    """Where the instances of the attribute a 1.x Attribute Name names are ("Name", "x-foo", ...)."""
    return [i for i, entry in enumerate(record.attributes) if rules.matches_name(entry, name)]


def _indexes_of(record: ObjectRecord, found: list[int]) -> list[int]:
    """The 1.x Attribute Indexes of the instances at these positions (one attribute's, in order)."""
    if not found:
        return []
    name = rules.name_of(record.attributes.entries[found[0]])
    return rules.indexes(len(found), rules.vacated_indexes(record.attributes).get(name))


def nth(record: ObjectRecord, found: list[int], what: str, index: int) -> int:
    """The position of the instance a 1.x Attribute Index names, among an attribute's instances."""
    if not found:
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {what}")
    numbers = _indexes_of(record, found)
    if index not in numbers:
        raise KmipError(
            ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND,
            f"{what} has instances of index {', '.join(map(str, numbers))}; there is no index {index}",
        )
    return found[numbers.index(index)]


def matching(record: ObjectRecord, current: AttributeEntry) -> int:
    """The position of the instance equal to a 2.x Current Attribute."""
    found = positions(record, target_of(current))
    if not found:
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {rules.name_of(current)}")
    for position in found:
        if same_instance(record.attributes.entries[position], current):
            return position
    raise KmipError(
        ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND, f"no {rules.name_of(current)} has the value given"
    )


def only(record: ObjectRecord, target: Target) -> int | None:
    """The position of the attribute's one instance (None if it has none); several are an error."""
    found = positions(record, target)
    if len(found) > 1:
        raise KmipError(
            ResultReason.MULTI_VALUED_ATTRIBUTE,
            f"{describe(target)} has {len(found)} instances: name the one to change",
        )
    return found[0] if found else None


def index_among(record: ObjectRecord, position: int) -> int:
    """The 1.x Attribute Index of the instance at this position."""
    found = positions(record, target_of(record.attributes.entries[position]))
    return _indexes_of(record, found)[found.index(position)]


# --- the rules ---------------------------------------------------------------------------


def check_changeable(record: ObjectRecord, tag: int, now: datetime) -> None:
    """Whether a client may give this attribute a value now (Add, Set, Modify, Adjust)."""
    rule = _rule_of_attribute(tag)
    name = rules.name_of(AttributeEntry(tag, None))
    if rule.client_modifies is Modifiable.NEVER:
        raise KmipError(ResultReason.ATTRIBUTE_READ_ONLY, f"{name} is read-only for clients")
    state = refresh_state(record.attributes, now)
    if not rule.client_may_modify(state):
        raise KmipError(
            ResultReason.WRONG_KEY_LIFECYCLE_STATE,
            f"{name} can change only {rule.client_modifies.value}; the object is {_state_name(state)}",
        )
    if tag in FIXED_ONCE_REACHED:
        reached = record.attributes.get(tag)
        if reached is not None and reached <= now:
            raise KmipError(ResultReason.WRONG_KEY_LIFECYCLE_STATE, f"{name} has been reached: it is fixed")
    if tag == Tag.USAGE_LIMITS:
        _check_no_allocation(record)


def check_deletable(record: ObjectRecord, tag: int) -> None:
    rule = _rule_of_attribute(tag)
    if not rule.client_deletes:
        name = rules.name_of(AttributeEntry(tag, None))
        raise KmipError(ResultReason.ATTRIBUTE_READ_ONLY, f"clients cannot delete {name}")
    if tag == Tag.USAGE_LIMITS:
        _check_no_allocation(record)


def _rule_of_attribute(tag: int) -> rules.AttributeRule:
    if not rules.is_attribute(tag):
        raise KmipError(ResultReason.INVALID_ATTRIBUTE, f"0x{tag:06X} is not an attribute this server knows")
    return rules.rule(tag)


def _state_name(state: State) -> str:
    return state.name.replace("_", "-").title()


def _check_no_allocation(record: ObjectRecord) -> None:
    limits = record.attributes.get(Tag.USAGE_LIMITS)
    if isinstance(limits, UsageLimits) and limits.usage_limits_count not in (None, limits.usage_limits_total):
        raise KmipError(
            ResultReason.PERMISSION_DENIED, "Usage Limits are fixed once Get Usage Allocation has allocated"
        )


def check_unique_name(context: RequestContext, value: str | None, *, besides: str | None) -> None:
    """Refuse a Name another of the caller's objects (on-line or archived) has; `besides` may have it."""
    if any(uid != besides for uid in context.session.named(context.principal, value)):
        raise KmipError(ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, f"the name {value!r} is already in use")


_NAME = Tag.NAME  # read once: each Create checks its Names (Enum lookups are slow on 3.11)


def check_unique_names(context: RequestContext, requested: Attributes, *, besides: str | None = None) -> None:
    """Refuse a new object's Names that another of the caller's objects has (KMIP 2.1 §4.35:
    Names SHALL be unique within a server), or that the request gives twice."""
    values = [name.name_value for name in requested.get_all(_NAME) if isinstance(name, Name)]
    for value in values:
        if values.count(value) > 1:
            raise KmipError(ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, f"the name {value!r} is given twice")
        check_unique_name(context, value, besides=besides)


def _check_name(context: RequestContext, record: ObjectRecord, name: Name, replacing: int | None) -> None:
    for position, entry in enumerate(record.attributes):
        if position != replacing and entry.tag == Tag.NAME and entry.value.name_value == name.name_value:
            raise KmipError(
                ResultReason.NON_UNIQUE_NAME_ATTRIBUTE, f"the object is already named {name.name_value!r}"
            )
    check_unique_name(context, name.name_value, besides=record.uid)


# Flags that may leave their default but never return to it (Sensitive false -> true,
# Extractable true -> false), each with the attribute that records its history.
ONE_WAY_FLAGS: dict[int, tuple[bool, int]] = {
    Tag.SENSITIVE: (False, Tag.ALWAYS_SENSITIVE),
    Tag.EXTRACTABLE: (True, Tag.NEVER_EXTRACTABLE),
}


def _check_one_way(record: ObjectRecord, tag: int, value: object) -> None:
    default, _history = ONE_WAY_FLAGS[tag]
    old = record.attributes.get(tag)
    if (default if old is None else old) is not default and value is default:
        name = rules.name_of(AttributeEntry(tag, None))
        raise KmipError(
            ResultReason.ATTRIBUTE_READ_ONLY,
            f"{name} can change only from {str(default).lower()} to {str(not default).lower()}",
        )


def check_value(
    context: RequestContext, record: ObjectRecord, entry: AttributeEntry, replacing: int | None
) -> AttributeEntry:
    """The entry to store, if the attribute may take this value (`replacing`: the instance it replaces)."""
    if entry.tag == Tag.NAME and isinstance(entry.value, Name):
        _check_name(context, record, entry.value, replacing)
    if entry.tag in ONE_WAY_FLAGS:
        _check_one_way(record, entry.tag, entry.value)
    if entry.tag == Tag.USAGE_LIMITS and isinstance(entry.value, UsageLimits):
        # The count is the server's: a client sets the total (and unit), the count starts there.
        return AttributeEntry(entry.tag, full_allowance(entry.value))
    return entry


def full_allowance(limits: UsageLimits) -> UsageLimits:
    """Usage Limits with nothing allocated yet: the count is the total."""
    return UsageLimits(
        usage_limits_total=limits.usage_limits_total,
        usage_limits_count=limits.usage_limits_total,
        usage_limits_unit=limits.usage_limits_unit,
    )


# --- changes -----------------------------------------------------------------------------


# The changes below expect the caller to have checked, with `check_changeable` or
# `check_deletable`, that the attribute may change at all.


def add(context: RequestContext, record: ObjectRecord, entry: AttributeEntry) -> int:
    """Add Attribute: a new instance; its 1.x Attribute Index."""
    present = positions(record, target_of(entry))
    if present and not rules.rule(entry.tag).multiple:
        raise KmipError(
            ResultReason.ATTRIBUTE_SINGLE_VALUED, f"{rules.name_of(entry)} already has its one value"
        )
    record.attributes.entries.append(check_value(context, record, entry, None))
    _finish(context, record, entry.tag)
    return index_among(record, len(record.attributes.entries) - 1)


def replace(context: RequestContext, record: ObjectRecord, position: int, entry: AttributeEntry) -> int:
    """Modify Attribute: the instance at `position` takes a new value; its 1.x Attribute Index."""
    if not same_attribute(record.attributes.entries[position], entry):
        raise KmipError(
            ResultReason.INVALID_FIELD, "the new value is of another attribute than the current one"
        )
    record.attributes.entries[position] = check_value(context, record, entry, position)
    _finish(context, record, entry.tag)
    return index_among(record, position)


def put(context: RequestContext, record: ObjectRecord, entry: AttributeEntry) -> None:
    """Set Attribute (and Adjust Attribute): create the attribute, or replace its one value."""
    position = only(record, target_of(entry))
    if position is None:
        record.attributes.entries.append(check_value(context, record, entry, None))
        _finish(context, record, entry.tag)
    else:
        replace(context, record, position, entry)


def remove(context: RequestContext, record: ObjectRecord, chosen: list[int]) -> list[AttributeEntry]:
    """Delete Attribute: the instances at these positions go; the removed entries."""
    removed = discard(record, chosen)
    _finish(context, record, removed[0].tag)
    return removed


def discard(record: ObjectRecord, chosen: list[int]) -> list[AttributeEntry]:
    """The instances at these positions (of one attribute) go, those left keeping their 1.x
    Attribute Indexes, without the checks and the save of `remove`: what the server itself
    takes away (Re-key moving the Names). The removed entries."""
    if not chosen:
        return []
    gone = set(chosen)
    removed = [record.attributes.entries[position] for position in chosen]
    found = positions(record, target_of(removed[0]))
    numbers = _indexes_of(record, found)
    record.attributes.entries = [e for i, e in enumerate(record.attributes) if i not in gone]
    _vacate(record, rules.name_of(removed[0]), numbers, [numbers[found.index(p)] for p in chosen])
    return removed


def discard_links(record: ObjectRecord, link_type: LinkType, to: str | None = None) -> list[AttributeEntry]:
    """`discard` the object's Links of this type (only those to `to`, if given): what the server
    does when it points a Link elsewhere (Re-key's Replacement Object Link, Re-certify's
    Certificate Link), the other Links keeping their 1.x Attribute Indexes."""
    return discard(
        record,
        [
            position
            for position in positions(record, Tag.LINK)
            if (link := record.attributes.entries[position].value).link_type is link_type
            and (to is None or link.linked_object_identifier == to)
        ],
    )


def _vacate(record: ObjectRecord, name: str, numbers: list[int], deleted: list[int]) -> None:
    """Remember the indexes these deletions vacate, so that the instances left keep theirs
    (those above the last one left are forgotten)."""
    vacated = rules.vacated_indexes(record.attributes)
    left = [n for n in numbers if n not in deleted]
    below = max(left) if left else -1
    vacant = sorted(n for n in {*vacated.get(name, ()), *deleted} if n < below)
    if vacant:
        vacated[name] = vacant
    else:
        vacated.pop(name, None)
    record.attributes.remove(rules.VACATED_INDEXES)
    if vacated:
        text = json.dumps(vacated, sort_keys=True)
        record.attributes.add(rules.VACATED_INDEXES, Item(rules.VACATED_INDEXES, ItemType.TEXT_STRING, text))


def _finish(context: RequestContext, record: ObjectRecord, tag: int) -> None:
    if tag in ONE_WAY_FLAGS:
        # A flag set after the fact: its history ("always sensitive") was not what it is now.
        _default, history = ONE_WAY_FLAGS[tag]
        if record.attributes.get(history) is None:
            record.attributes.add(history, False)
    refresh_state(record.attributes, context.now)  # new dates may move the state
    policy.check_changed(context, record.object_type, record.attributes, tag)
    touch(record, context.now)
    context.session.save(record)


# --- Adjust Attribute --------------------------------------------------------------------

# The range of each numeric item type (None: unbounded).
NUMERIC_RANGES: dict[ItemType, tuple[int, int] | None] = {
    ItemType.INTEGER: (-(2**31), 2**31 - 1),
    ItemType.LONG_INTEGER: (-(2**63), 2**63 - 1),
    ItemType.INTERVAL: (0, 2**32 - 1),
    ItemType.BIG_INTEGER: None,
}

# What an attribute without a value counts as before an adjustment (KMIP 2.1 §6.1.3).
ZERO: dict[ItemType, Any] = {**{kind: 0 for kind in NUMERIC_RANGES}, ItemType.BOOLEAN: False}


def adjusted(
    record: ObjectRecord, target: Target, how: AdjustmentType, amount: Item | None
) -> AttributeEntry:
    """The attribute's new value after an Adjust Attribute request."""
    position = only(record, target)
    current = record.attributes.entries[position] if position is not None else None
    if isinstance(target, AttributeReference):
        raw = current.value.attribute_value if current is not None else None
        if raw is not None and not isinstance(raw, Item):
            raise KmipError(ResultReason.INVALID_DATA_TYPE, f"{describe(target)} cannot be adjusted")
        kind = raw.type if raw is not None else (amount.type if amount is not None else None)
        if kind is None:
            raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {describe(target)}")
        old = raw.value if raw is not None else _zero(kind, target)
        new = _adjust(kind, old, how, amount, describe(target))
        return AttributeEntry(
            Tag.ATTRIBUTE,
            Attribute(
                vendor_identification=target.vendor_identification or "",
                attribute_name=target.attribute_name,
                attribute_value=Item(Tag.ATTRIBUTE_VALUE, kind, new),
            ),
        )
    tag = int(target)
    kind = attribute_converters(tag)[0].item_type
    old = current.value if current is not None else _zero(kind, target)
    return AttributeEntry(tag, _adjust(kind, old, how, amount, describe(target)))


def _zero(kind: ItemType, target: Target) -> Any:
    if kind not in ZERO:
        raise KmipError(ResultReason.ATTRIBUTE_NOT_FOUND, f"the object has no {describe(target)} to adjust")
    return ZERO[kind]


def _adjust(kind: ItemType, old: Any, how: AdjustmentType, amount: Item | None, name: str) -> Any:
    if kind is ItemType.BOOLEAN and how is AdjustmentType.NEGATE:
        return not old
    if kind not in NUMERIC_RANGES and kind is not ItemType.DATE_TIME:
        raise KmipError(ResultReason.INVALID_DATA_TYPE, f"{name} cannot be adjusted by {how.name}")
    if how is AdjustmentType.NEGATE:
        if kind is ItemType.DATE_TIME:
            raise KmipError(ResultReason.INVALID_DATA_TYPE, f"a date ({name}) cannot be negated")
        new = -old
    else:
        step = _amount(amount)
        step = step if how is AdjustmentType.INCREMENT else -step
        if kind is ItemType.DATE_TIME:
            try:
                return old + timedelta(seconds=step)
            except OverflowError:
                raise KmipError(ResultReason.NUMERIC_RANGE, f"{name} would leave the calendar") from None
        new = old + step
    bounds = NUMERIC_RANGES[kind]
    if bounds is not None and not bounds[0] <= new <= bounds[1]:
        raise KmipError(ResultReason.NUMERIC_RANGE, f"{name} would be {new}, outside its type's range")
    return new


def _amount(amount: Item | None) -> int:
    """The Adjustment Value as a number (1 when omitted)."""
    if amount is None:
        return 1
    if amount.type not in NUMERIC_RANGES or not isinstance(amount.value, int):
        raise KmipError(ResultReason.INVALID_DATA_TYPE, f"an Adjustment Value cannot be a {amount.type.name}")
    return amount.value


# --- responses ---------------------------------------------------------------------------


def named_response(context: RequestContext, entry: AttributeEntry, index: int) -> Attribute | None:
    """The Attribute a 1.x response carries (none for 2.x clients)."""
    return rules.to_named(entry, index) if context.is_1x else None
