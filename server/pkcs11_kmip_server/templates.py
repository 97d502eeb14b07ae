"""KMIP 1.x Templates, and how attributes given in layers combine.

A Template (KMIP 1.0-1.4, deprecated since 1.3) is a managed object that holds
attributes for new objects; a Template-Attribute names Templates by their Name
beside its individual attributes. KMIP 1.4 §4 says how the layers combine: a
later template overrides an earlier one, the request's own attributes override
the templates, a single-valued attribute takes the last value and a multi-valued
one the union of all. Re-key combines the old key's attributes with the request's
by the same rule, so `overlay` serves both.
"""

from __future__ import annotations

from collections.abc import Iterable

from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.attributes import TemplateAttribute
from pkcs11_kmip.kmip.messages.objects import Template
from pkcs11_kmip.kmip.messages.payloads import LocateRequest
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType, ResultReason
from pkcs11_kmip.kmip.ttlv import CodecError
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, Storage


def same_attribute(entry: AttributeEntry, other: AttributeEntry) -> bool:
    """Whether two entries are instances of one attribute (one tag, or one vendor attribute)."""
    return rules.matches_reference(entry, rules.reference_of(other))


def same_instance(entry: AttributeEntry, other: AttributeEntry) -> bool:
    """Whether two entries are the same attribute with the same value."""
    if not same_attribute(entry, other):
        return False
    if isinstance(entry.value, Attribute) and isinstance(other.value, Attribute):
        return bool(entry.value.attribute_value == other.value.attribute_value)
    return bool(entry.value == other.value)


def overlay(base: Iterable[AttributeEntry], given: Iterable[AttributeEntry]) -> Attributes:
    """`base` with `given` on top: single-valued attributes take the given value, multi-valued the union.

    Entries of `given` never replace each other: two values of a single-valued
    attribute in one request stay, for the caller's check to refuse.
    """
    layer = list(given)

    def overridden(entry: AttributeEntry) -> bool:
        return not rules.rule(entry.tag).multiple and any(same_attribute(entry, top) for top in layer)

    kept = [entry for entry in base if not overridden(entry)]
    if not kept:  # nothing underneath (a request's own attributes, no template): all of `given`
        return Attributes(entries=layer)
    added = [
        entry
        for entry in layer
        if not (rules.rule(entry.tag).multiple and any(same_instance(entry, present) for present in kept))
    ]
    return Attributes(entries=kept + added)


def find_template(context: RequestContext, name: Name) -> Template:
    """The caller's on-line Template object with this Name, or Object Not Found."""
    query = LocateQuery(
        owner=context.principal,
        now=context.now,
        filters=[
            AttributeFilter(Tag.OBJECT_TYPE, ObjectType.TEMPLATE),
            AttributeFilter(Tag.NAME, Name(name_value=name.name_value)),
        ],
        maximum=1,
        storage=Storage.ONLINE,
    )
    uids, _total = context.session.locate(query)
    record = context.session.load(uids[0], context.principal) if uids else None
    if record is None or not isinstance(record.material, Template):
        raise KmipError(ResultReason.OBJECT_NOT_FOUND, f"no Template named {name.name_value!r}")
    return record.material


def template_layer(context: RequestContext, name: Name) -> Attributes:
    """The attributes a Template name brings: the caller's Template object of that name, or
    else the administrators' default set of that name (store.policy), as DataStax-style
    clients name a policy by a Template they never registered."""
    try:
        return rules.from_named_list(find_template(context, name).attributes)
    except KmipError:
        found = context.session.policy().named_set(name.name_value or "")
        if found is None:
            raise
        return found.attributes


def template_attributes(context: RequestContext, template_attribute: TemplateAttribute) -> Attributes:
    """What a 1.x Template-Attribute asks for: its named Templates, then its own attributes, combined."""
    if not template_attribute.names:  # no layer underneath: `overlay` would return its own, as they are
        return rules.from_named_list(template_attribute.attributes)
    combined = Attributes()
    for name in template_attribute.names:
        combined = overlay(combined, template_layer(context, name))
    return overlay(combined, rules.from_named_list(template_attribute.attributes))


def locate_criteria(context: RequestContext, request: LocateRequest) -> Attributes:
    """A Locate's criteria, with those of a Template-Attribute some 1.x clients wrap them in.

    The codec keeps such a Template-Attribute in `other`. Criteria are all kept (two
    dates of one attribute make a range), so they add up rather than overlay.
    """
    if request.attributes is not None:
        return request.attributes
    criteria = rules.from_named_list(request.attribute_list)
    for item in request.other:
        if item.tag == Tag.TEMPLATE_ATTRIBUTE:
            try:
                wrapped = TemplateAttribute.from_item(item, context.version)
            except CodecError as error:
                raise KmipError(ResultReason.INVALID_FIELD, f"Template-Attribute: {error}") from None
            criteria.entries.extend(template_attributes(context, wrapped))
    return criteria
