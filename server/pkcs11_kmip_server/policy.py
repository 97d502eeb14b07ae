"""Attribute defaults and constraints: the security policy administrators set for new keys.

Defaults fill what a creating request leaves out, in three layers combined by the
Template rule (`templates.overlay`): server-wide defaults for the object type, then the
named sets the request selects (by an Object Group value or a Name prefix, or by a KMIP
1.x Template name, see `templates.template_layer`), then the request's own attributes,
which always win. For Register the key's value fixes its algorithm and length, so those
are not defaulted.

Constraints are rules (text, so that the CLI, the store and KMIP carry one form):

    algorithms=AES,HMAC_SHA256      the Cryptographic Algorithm is one of these
    min-length=256 | min-length=AES:256    Cryptographic Length at least (for one algorithm)
    max-length=4096 | max-length=RSA:4096  at most
    usage-required=Encrypt|Decrypt  the Cryptographic Usage Mask has all these bits
    usage-forbidden=Sign|Decrypt    ... does not have all of these together
    max-lifetime-days=365           a Deactivation Date, at most N days after activation
    sensitive                       Sensitive is true
    not-extractable                 Extractable is false

A constraint holds one rule or several joined by ";" (all must hold). A KMIP Constraint
may give them as standard attributes (STANDARD_FORMS: Cryptographic Algorithm AES and
Cryptographic Length 256 are "algorithms=AES; min-length=256") or as vendor attributes.

A rule applies to the object types and object groups (direct Object Group values) it
names, all when it names none. It is checked on the attributes an object would be
stored with, before it is stored: on every creating operation and on every attribute
change (only the rules that the changed attribute bears on). A violation is Constraint
Violation with a message naming the rule; the engine gives older clients the closest
reason their version has.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes, Structure
from pkcs11_kmip.kmip.messages.policy import Constraint, Constraints, DefaultsInformation, ObjectDefaults
from pkcs11_kmip.kmip.messages.structures import Name, ObjectGroups, ObjectTypes
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ObjectType,
    Operation,
    ResultReason,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store.policy import ConstraintRule, DefaultSet
from pkcs11_kmip_server.templates import overlay

E = TypeVar("E", bound=enum.Enum)

# Operations whose new objects the constraints govern (Import restores an object as it was).
CREATING = frozenset(
    {
        Operation.CREATE,
        Operation.CREATE_KEY_PAIR,
        Operation.REGISTER,
        Operation.RE_KEY,
        Operation.RE_KEY_KEY_PAIR,
        Operation.DERIVE_KEY,
    }
)

# What a registered key's value already says (Register defaults none of these).
FIXED_BY_VALUE = frozenset(
    {Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.CRYPTOGRAPHIC_LENGTH, Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS}
)


def _key(text: str) -> str:
    return text.replace("_", "").replace(" ", "").replace("-", "").lower()


def enum_named(kind: type[E], text: str) -> E:
    """A member of an enumeration by its name in any spelling (AES, HMAC-SHA256, "Symmetric Key")."""
    for member in kind:
        if _key(member.name) == _key(text):
            return member
    raise ValueError(f"no {kind.__name__} {text!r}")


def usage_named(text: str) -> CryptographicUsageMask:
    """A usage mask from names joined by | or , (Encrypt|Decrypt)."""
    mask = CryptographicUsageMask(0)
    for part in text.replace(",", "|").split("|"):
        if part.strip():
            mask |= enum_named(CryptographicUsageMask, part.strip())
    if not mask:
        raise ValueError(f"no usage bits in {text!r}")
    return mask


def _names(mask: int) -> str:
    return "|".join((bit.name or "").title().replace("_", "") for bit in CryptographicUsageMask if bit & mask)


# --- constraints -----------------------------------------------------------------------------

Check = Callable[[Attributes, datetime], str | None]  # what is wrong, or None


@dataclass(frozen=True)
class RuleKind:
    """One kind of rule: how its value reads, and the attributes it bears on."""

    tags: frozenset[int]
    parse: Callable[[str], Check]
    takes_value: bool = True


def _algorithms(value: str) -> Check:
    allowed = {enum_named(CryptographicAlgorithm, part.strip()) for part in value.split(",") if part.strip()}
    if not allowed:
        raise ValueError("algorithms= names at least one algorithm")

    def check(attributes: Attributes, _now: datetime) -> str | None:
        algorithm = attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
        if algorithm is None or algorithm in allowed:
            return None
        return f"{algorithm.name} is not among {', '.join(sorted(a.name for a in allowed))}"

    return check


def _length(at_least: bool) -> Callable[[str], Check]:
    def parse(value: str) -> Check:
        algorithm_text, _, bits_text = value.rpartition(":")
        algorithm = enum_named(CryptographicAlgorithm, algorithm_text) if algorithm_text else None
        bits = int(bits_text)

        def check(attributes: Attributes, _now: datetime) -> str | None:
            length = attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
            if length is None or (
                algorithm is not None and attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) != algorithm
            ):
                return None
            if (length < bits) if at_least else (length > bits):
                return f"{length}-bit key, {'at least' if at_least else 'at most'} {bits} bits allowed"
            return None

        return check

    return parse


def _usage(required: bool) -> Callable[[str], Check]:
    def parse(value: str) -> Check:
        bits = usage_named(value)

        def check(attributes: Attributes, _now: datetime) -> str | None:
            mask = int(attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) or 0)
            if required and mask & bits != bits:
                return f"the usage mask lacks {_names(bits & ~mask)}"
            if not required and mask & bits == bits:
                return f"usage {_names(bits)} together is forbidden"
            return None

        return check

    return parse


def _lifetime(value: str) -> Check:
    days = int(value)
    if days <= 0:
        raise ValueError("max-lifetime-days= is a positive number of days")

    def check(attributes: Attributes, now: datetime) -> str | None:
        deactivation = attributes.get(Tag.DEACTIVATION_DATE)
        if deactivation is None:
            return f"a Deactivation Date within {days} days of activation is required"
        start = attributes.get(Tag.ACTIVATION_DATE) or now
        if deactivation - start > timedelta(days=days):
            return f"the Deactivation Date is more than {days} days after activation"
        return None

    return check


def _flag(tag: int, wanted: bool, label: str) -> Callable[[str], Check]:
    def parse(_value: str) -> Check:
        def check(attributes: Attributes, _now: datetime) -> str | None:
            return None if attributes.get(tag) is wanted else f"the key must be {label}"

        return check

    return parse


_LENGTH_TAGS = frozenset({Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.CRYPTOGRAPHIC_LENGTH})
RULE_KINDS: dict[str, RuleKind] = {
    "algorithms": RuleKind(frozenset({Tag.CRYPTOGRAPHIC_ALGORITHM}), _algorithms),
    "min-length": RuleKind(_LENGTH_TAGS, _length(at_least=True)),
    "max-length": RuleKind(_LENGTH_TAGS, _length(at_least=False)),
    "usage-required": RuleKind(frozenset({Tag.CRYPTOGRAPHIC_USAGE_MASK}), _usage(required=True)),
    "usage-forbidden": RuleKind(frozenset({Tag.CRYPTOGRAPHIC_USAGE_MASK}), _usage(required=False)),
    "max-lifetime-days": RuleKind(frozenset({Tag.ACTIVATION_DATE, Tag.DEACTIVATION_DATE}), _lifetime),
    "sensitive": RuleKind(frozenset({Tag.SENSITIVE}), _flag(Tag.SENSITIVE, True, "Sensitive"), False),
    "not-extractable": RuleKind(
        frozenset({Tag.EXTRACTABLE}), _flag(Tag.EXTRACTABLE, False, "not Extractable"), False
    ),
}


@functools.lru_cache(maxsize=1024)
def parse_rule(rule: str) -> tuple[RuleKind, Check]:
    """A rule's kind and check; ValueError naming what is wrong with its text.
    Remembered by text: every creating request runs every rule."""
    kind_name, equals, value = rule.partition("=")
    kind = RULE_KINDS.get(kind_name.strip())
    if kind is None:
        raise ValueError(f"no constraint kind {kind_name.strip()!r} (one of {', '.join(RULE_KINDS)})")
    if kind.takes_value != bool(equals):
        raise ValueError(f"{kind_name.strip()} {'takes a value' if kind.takes_value else 'takes no value'}")
    try:
        return kind, kind.parse(value.strip())
    except ValueError as error:
        raise ValueError(f"constraint {rule!r}: {error}") from None


def parse_rules(text: str) -> list[tuple[RuleKind, Check]]:
    """A constraint's rules: one, or several joined by ";" (all must hold)."""
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if not parts:
        raise ValueError("an empty constraint")
    return [parse_rule(part) for part in parts]


def applies(rule: ConstraintRule, object_type: int, groups: list[str]) -> bool:
    """Whether the rule governs an object of this type in these object groups."""
    if rule.object_types and int(object_type) not in rule.object_types:
        return False
    return not rule.object_groups or any(group in rule.object_groups for group in groups)


def violations(
    constraints: Iterable[ConstraintRule],
    object_type: int,
    attributes: Attributes,
    now: datetime,
    changed: int | None,
    groups: list[str] | None = None,
) -> list[str]:
    """What each applicable rule finds wrong (`changed`: only rules bearing on that attribute;
    `groups`: the object groups the object is in, nesting resolved; default its own values)."""
    found = []
    if groups is None:
        groups = attributes.get_all(Tag.OBJECT_GROUP)
    for rule in constraints:
        if not applies(rule, object_type, groups):
            continue
        for kind, check in parse_rules(rule.rule):
            if changed is not None and changed not in kind.tags | {Tag.OBJECT_GROUP}:
                continue
            wrong = check(attributes, now)
            if wrong is not None:
                found.append(f"constraint {rule.name!r} ({rule.rule}): {wrong}")
    return found


def _enforce(context: RequestContext, object_type: int, attributes: Attributes, changed: int | None) -> None:
    tables = context.session.policy()
    constraints = tables.constraints()
    if not constraints:  # most servers have none: nothing to look up in the attributes
        return
    groups = None  # the object's own groups: enough unless a rule is scoped to groups
    if any(rule.object_groups for rule in constraints):
        groups = tables.enclosing_groups(attributes.get_all(Tag.OBJECT_GROUP))
    found = violations(constraints, object_type, attributes, context.now, changed, groups)
    if found:
        raise KmipError(ResultReason.CONSTRAINT_VIOLATION, "; ".join(found))


def check_new(context: RequestContext, object_type: ObjectType, attributes: Attributes) -> None:
    """Refuse a new object of a creating operation that breaks a constraint (before it is stored)."""
    if context.operation in CREATING:
        _enforce(context, object_type, attributes, None)


def check_changed(context: RequestContext, object_type: ObjectType, attributes: Attributes, tag: int) -> None:
    """Refuse an attribute change whose result breaks a constraint on that attribute."""
    _enforce(context, object_type, attributes, tag)


# --- defaults --------------------------------------------------------------------------------


def _selected(entry: DefaultSet, object_type: int, requested: Attributes) -> bool:
    if entry.object_type != object_type:
        return False
    if entry.selector == "group":
        return entry.name in requested.get_all(Tag.OBJECT_GROUP)
    if entry.selector == "prefix":
        return any(
            isinstance(name, Name) and (name.name_value or "").startswith(entry.name)
            for name in requested.get_all(Tag.NAME)
        )
    return False


def _layer(sets: Iterable[DefaultSet], registered: bool) -> Attributes:
    combined = Attributes()
    for entry in sets:
        given = [e for e in entry.attributes if not (registered and e.tag in FIXED_BY_VALUE)]
        combined = overlay(combined, given)
    return combined


def with_defaults(
    context: RequestContext, object_type: ObjectType, requested: Attributes, *, registered: bool = False
) -> Attributes:
    """`requested` on top of the named sets it selects, on top of the server-wide defaults."""
    sets = context.session.policy().default_sets()
    if not sets:
        return requested
    server = [s for s in sets if s.selector == "server" and s.object_type == object_type]
    named = [s for s in sets if s.selector != "server" and _selected(s, object_type, requested)]
    base = overlay(_layer(server, registered), _layer(named, registered))
    return overlay(base, requested)


def pair_with_defaults(
    context: RequestContext, private: Attributes, public: Attributes
) -> tuple[Attributes, Attributes]:
    """Create Key Pair: each half's defaults, by its own object type."""
    return (
        with_defaults(context, ObjectType.PRIVATE_KEY, private),
        with_defaults(context, ObjectType.PUBLIC_KEY, public),
    )


def require_admin(context: RequestContext) -> None:
    """Policy operations are for the server's administrators (`pkcs11-kmip admin users add --admin`)."""
    if not context.session.policy().is_admin(context.principal):
        raise KmipError(ResultReason.PERMISSION_DENIED, "only an administrator may read or change the policy")


def describe(value: Any) -> str:
    """An attribute value as text for tables (enumerations and masks by name)."""
    if isinstance(value, CryptographicUsageMask):
        return _names(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, Structure):
        parts = [
            f"{spec.name}={describe(getattr(value, spec.name))}"
            for spec in value.fields()
            if getattr(value, spec.name) not in (None, [])
        ]
        return "(" + ", ".join(parts) + ")"
    return str(value)


# --- the KMIP 2.1 forms (Set Defaults, Query Defaults Information, Set/Get Constraints) -------

VENDOR = "pkcs11-kmip"  # the Vendor Identification of the constraint attributes


def defaults_information(sets: Iterable[DefaultSet]) -> DefaultsInformation:
    """Server-wide sets as Object Defaults for their type; group sets with their Object Group.
    Name-prefix sets have no KMIP form and are left out."""
    found = []
    for entry in sets:
        if entry.selector == "prefix":
            continue
        groups = ObjectGroups(object_groups=[entry.name]) if entry.selector == "group" else None
        found.append(
            ObjectDefaults(
                object_type=ObjectType(entry.object_type), attributes=entry.attributes, object_groups=groups
            )
        )
    return DefaultsInformation(object_defaults=found)


def sets_from(information: DefaultsInformation | None) -> list[DefaultSet]:
    """The sets a Set Defaults asks for: per object type, server-wide or per object group."""
    sets: dict[str, DefaultSet] = {}
    for given in information.object_defaults if information is not None else []:
        types = list(given.object_types.object_types) if given.object_types is not None else []
        if given.object_type is not None:
            types.append(given.object_type)
        if not types:
            raise KmipError(ResultReason.INVALID_FIELD, "Object Defaults without an Object Type")
        attributes = given.attributes or Attributes()
        rules.check_client_settable(attributes)
        rules.check_single_valued(attributes)
        groups = given.object_groups.object_groups if given.object_groups is not None else []
        for object_type in types:
            if not groups:
                name = f"server:{object_type.name}"
                sets[name] = DefaultSet(name, "server", int(object_type), attributes)
            for group in groups:
                if group in sets:
                    raise KmipError(
                        ResultReason.INVALID_FIELD, f"object group {group!r}: one set of defaults, one type"
                    )
                sets[group] = DefaultSet(group, "group", int(object_type), attributes)
    return list(sets.values())


def _text(name: str, value: str) -> Attribute:
    return Attribute(
        vendor_identification=VENDOR,
        attribute_name=name,
        attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, value),
    )


# The standard attributes a Constraint may hold (as TC-MD-24-21 sends them), and the rule
# each one means: the algorithm given, at least the length given (the issue's "AES keys
# >= 256 bits"), every usage bit given, Sensitive, not Extractable.
STANDARD_FORMS: dict[int, Callable[[Any], str | None]] = {
    Tag.CRYPTOGRAPHIC_ALGORITHM: lambda value: f"algorithms={value.name}",
    Tag.CRYPTOGRAPHIC_LENGTH: lambda value: f"min-length={value}",
    Tag.CRYPTOGRAPHIC_USAGE_MASK: lambda value: f"usage-required={_names(value)}" if value else None,
    Tag.SENSITIVE: lambda value: "sensitive" if value is True else None,
    Tag.EXTRACTABLE: lambda value: "not-extractable" if value is False else None,
}


def _standard_entry(part: str) -> tuple[int, Any] | None:
    """The standard attribute a rule is the meaning of (STANDARD_FORMS), if it is one."""
    kind, _, value = part.partition("=")
    try:
        if kind == "algorithms" and "," not in value:
            entry: tuple[int, Any] = (Tag.CRYPTOGRAPHIC_ALGORITHM, enum_named(CryptographicAlgorithm, value))
        elif kind == "min-length" and ":" not in value:
            entry = (Tag.CRYPTOGRAPHIC_LENGTH, int(value))
        elif kind == "usage-required":
            entry = (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage_named(value))
        elif part in ("sensitive", "not-extractable"):
            entry = (Tag.SENSITIVE, True) if part == "sensitive" else (Tag.EXTRACTABLE, False)
        else:
            return None
    except ValueError:
        return None
    return entry if STANDARD_FORMS[entry[0]](entry[1]) == part else None


def _positional_name(position: int) -> str:
    """The name `rules_from` gives the unnamed Constraint at `position`."""
    return f"constraint-{position + 1:03d}"


def _constraint_attributes(rule: ConstraintRule, position: int) -> Attributes:
    """Standard attributes when every part of the rule has one, with the vendor
    constraint-name unless `rules_from` would give that name back by position anyway
    (so a client that sends back what it read keeps every name); else the vendor form."""
    parts = [part.strip() for part in rule.rule.split(";") if part.strip()]
    standard = [_standard_entry(part) for part in parts]
    if all(entry is not None for entry in standard):
        found = Attributes(entries=[AttributeEntry(*entry) for entry in standard if entry is not None])
        if rule.name != _positional_name(position):
            found.add(Tag.ATTRIBUTE, _text("constraint-name", rule.name))
        return found
    return Attributes.of(
        (Tag.ATTRIBUTE, _text("constraint-name", rule.name)),
        (Tag.ATTRIBUTE, _text("constraint-rule", rule.rule)),
    )


def constraints_structure(found: Iterable[ConstraintRule]) -> Constraints:
    """Each rule as a Constraint: its scope, and its rule (_constraint_attributes)."""
    return Constraints(
        constraints=[
            Constraint(
                object_types=ObjectTypes(object_types=[ObjectType(t) for t in rule.object_types])
                if rule.object_types
                else None,
                object_groups=ObjectGroups(object_groups=list(rule.object_groups))
                if rule.object_groups
                else None,
                attributes=_constraint_attributes(rule, position),
            )
            for position, rule in enumerate(found)
        ]
    )


def _rule_parts(number: int, attributes: Attributes) -> tuple[str | None, list[str]]:
    """A Constraint's name (vendor form only) and rules, from either form."""
    texts: dict[str, str] = {}
    parts: list[str] = []
    for entry in attributes:
        value = entry.value
        if entry.tag in STANDARD_FORMS:
            part = STANDARD_FORMS[entry.tag](value)
            if part is None:
                raise KmipError(
                    ResultReason.INVALID_FIELD,
                    f"constraint {number}: no rule for {rules.name_of(entry)} {value}",
                )
            parts.append(part)
            continue
        raw = (
            value.attribute_value
            if isinstance(value, Attribute) and value.vendor_identification == VENDOR
            else None
        )
        if not isinstance(raw, Item) or not isinstance(raw.value, str):
            raise KmipError(
                ResultReason.INVALID_FIELD,
                f"constraint {number}: {rules.name_of(entry)} is no constraint "
                f"(standard: {', '.join(rules.name_of(AttributeEntry(t, None)) for t in STANDARD_FORMS)}; "
                f"or {VENDOR} constraint-name and constraint-rule)",
            )
        texts[value.attribute_name or ""] = raw.value
    if "constraint-rule" in texts:
        parts.append(texts["constraint-rule"])
    return texts.get("constraint-name"), parts


def rules_from(constraints: Constraints | None) -> list[ConstraintRule]:
    """The rules a Set Constraints asks for (in either form Get Constraints writes), checked.
    A Constraint without a name is named by its position (constraint-001, ...)."""
    found = []
    for number, given in enumerate(constraints.constraints if constraints is not None else []):
        name, parts = _rule_parts(number, given.attributes or Attributes())
        if not parts:
            raise KmipError(ResultReason.INVALID_FIELD, f"constraint {number} has no rule")
        rule = "; ".join(parts)
        try:
            parse_rules(rule)
        except ValueError as error:
            raise KmipError(ResultReason.INVALID_FIELD, str(error)) from None
        found.append(
            ConstraintRule(
                name or _positional_name(number),
                rule,
                [int(t) for t in given.object_types.object_types] if given.object_types is not None else [],
                list(given.object_groups.object_groups) if given.object_groups is not None else [],
            )
        )
    return found
