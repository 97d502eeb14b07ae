"""Add, Set, Modify, Delete and Adjust Attribute, and 1.x Templates, over real TLS.

The rules come from the spec's attribute table and the OASIS test cases (BL-M-5,
BL-M-7, BL-M-8, BL-M-10, SKLC-M-3, TC-SETATTR-1..3, TL-M-3): read-only attributes,
single-valued ones, unique names, attributes that change only in some states, and
the one-way Sensitive/Extractable flags. KMIP 1.x clients name attributes and
instances (Attribute Index) and get the attribute back; 2.x clients use New/Current
Attribute and Attribute Reference.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute, Attributes, TemplateAttribute
from pkcs11_kmip.kmip.messages.attributes import CurrentAttribute, NewAttribute
from pkcs11_kmip.kmip.messages.objects import Template
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    AddAttributeRequest,
    AdjustAttributeRequest,
    CreateRequest,
    DeleteAttributeRequest,
    GetAttributesRequest,
    LocateRequest,
    ModifyAttributeRequest,
    RegisterRequest,
    RequestPayload,
    SetAttributeRequest,
)
from pkcs11_kmip.kmip.messages.structures import AttributeReference, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AdjustmentType,
    CryptographicAlgorithm,
    ObjectType,
    ResultReason,
    ResultStatus,
    State,
    UsageLimitsUnit,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from pkcs11_kmip_server.engine import reason_for
from testsupport.kmip_builders import aes_create, attribute_fields, custom_text, name, named, text_value
from testsupport.managed_keys import client_fixture, reason_of_version, symmetric
from testsupport.server import RunningServer

V1, V2 = (1, 2), (2, 1)
CLIENT = "attribute-operations"


v2 = client_fixture(CLIENT, V2)
v1 = client_fixture(CLIENT, V1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_key(kmip: KmipClient, *extra: Any) -> str:
    uid: str = kmip.call(aes_create(kmip.version, 256, *extra)).unique_identifier
    return uid


def new(*entries: tuple[int, Any]) -> NewAttribute:
    return NewAttribute.of(*entries)


def current(*entries: tuple[int, Any]) -> CurrentAttribute:
    return CurrentAttribute.of(*entries)


def vendor(attribute_name: str, value: Item, vendor_id: str = "x") -> tuple[int, Attribute]:
    return (
        Tag.ATTRIBUTE,
        Attribute(vendor_identification=vendor_id, attribute_name=attribute_name, attribute_value=value),
    )


def values(kmip: KmipClient, uid: str, *references: Tag | AttributeReference) -> Attributes:
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_references=list(references)))
    assert isinstance(answer.attributes, Attributes)
    return answer.attributes


def refused(kmip: KmipClient, payload: RequestPayload) -> ResultReason | None:
    with pytest.raises(KmipResultError) as failure:
        kmip.call(payload)
    return failure.value.reason


def in_1x(reason: ResultReason) -> ResultReason:
    """What a KMIP 1.x client is told for a 2.x reason (the engine's mapping)."""
    return reason_for(reason, V1)


# --- the rule table: read-only, single-valued, state-dependent ------------------------------


def test_a_second_value_of_a_single_valued_attribute_is_refused(v2: KmipClient) -> None:
    """BL-M-5-21: Description has one value; a second Add fails, the first stays."""
    uid = new_key(v2)
    v2.call(AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.DESCRIPTION, "first"))))
    reason = refused(
        v2, AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.DESCRIPTION, "second")))
    )
    assert reason is ResultReason.ATTRIBUTE_SINGLE_VALUED
    assert values(v2, uid, Tag.DESCRIPTION).get_all(Tag.DESCRIPTION) == ["first"]


@pytest.mark.parametrize(
    ("tag", "value"),
    [(Tag.STATE, State.COMPROMISED), (Tag.CRYPTOGRAPHIC_LENGTH, 128), (Tag.UNIQUE_IDENTIFIER, "mine")],
)
def test_read_only_attributes_are_refused(v2: KmipClient, v1: KmipClient, tag: Tag, value: Any) -> None:
    """BL-M-7-21 and BL-M-10-21: Attribute Read Only; KMIP 1.x clients get Permission Denied."""
    uid = new_key(v2)
    assert (
        refused(v2, ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((tag, value))))
        is ResultReason.ATTRIBUTE_READ_ONLY
    )
    assert refused(v2, SetAttributeRequest(unique_identifier=uid, new_attribute=new((tag, value)))) is (
        ResultReason.ATTRIBUTE_READ_ONLY
    )
    assert (
        refused(v1, ModifyAttributeRequest(unique_identifier=uid, attribute=named(tag, value)))
        is ResultReason.PERMISSION_DENIED
    )
    assert refused(v2, DeleteAttributeRequest(unique_identifier=uid, attribute_reference=tag)) is (
        ResultReason.ATTRIBUTE_READ_ONLY
    )
    assert values(v2, uid, Tag.STATE).get(Tag.STATE) is State.PRE_ACTIVE


def test_activation_date_changes_only_while_pre_active(v2: KmipClient, v1: KmipClient) -> None:
    """SKLC-M-3: Wrong Key Lifecycle State once Active (Permission Denied for 1.x, as in SKLC-M-3-14)."""
    uid = new_key(v2)
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    v2.call(AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.ACTIVATION_DATE, soon))))
    later = soon + timedelta(days=30)
    v2.call(ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.ACTIVATION_DATE, later))))
    assert values(v2, uid, Tag.ACTIVATION_DATE).get(Tag.ACTIVATION_DATE) == later
    v2.call(ActivateRequest(unique_identifier=uid))
    now = datetime.now(UTC).replace(microsecond=0)
    modify = ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.ACTIVATION_DATE, now)))
    assert refused(v2, modify) is ResultReason.WRONG_KEY_LIFECYCLE_STATE
    one_x = ModifyAttributeRequest(unique_identifier=uid, attribute=named(Tag.ACTIVATION_DATE, now))
    assert refused(v1, one_x) is ResultReason.PERMISSION_DENIED


def test_an_activation_date_in_the_past_makes_the_object_active(v2: KmipClient) -> None:
    uid = new_key(v2)
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    v2.call(SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.ACTIVATION_DATE, past))))
    assert values(v2, uid, Tag.STATE).get(Tag.STATE) is State.ACTIVE


def test_a_protect_stop_date_may_be_future_and_is_fixed_once_reached(v2: KmipClient, v1: KmipClient) -> None:
    """DataStax expires keys with Add Attribute(Protect Stop Date); once reached it stays."""
    uid = new_key(v1)
    v1.call(ActivateRequest(unique_identifier=uid))
    future = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
    v1.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.PROTECT_STOP_DATE, future)))
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
    v1.call(ModifyAttributeRequest(unique_identifier=uid, attribute=named(Tag.PROTECT_STOP_DATE, past)))
    assert values(v2, uid, Tag.PROTECT_STOP_DATE).get(Tag.PROTECT_STOP_DATE) == past
    again = ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.PROTECT_STOP_DATE, future)))
    assert refused(v2, again) is ResultReason.WRONG_KEY_LIFECYCLE_STATE


# --- names -----------------------------------------------------------------------------------


def test_a_name_is_unique_among_the_callers_objects(v2: KmipClient, kmip_server: RunningServer) -> None:
    """BL-M-8-21: the object's own name again is Non Unique Name Attribute; so is another object's."""
    first, second = unique("first"), unique("second")
    uid = new_key(v2, (Tag.NAME, name(first)))
    other = new_key(v2, (Tag.NAME, name(second)))
    for target, taken in ((uid, first), (other, first), (uid, second)):
        add = AddAttributeRequest(unique_identifier=target, new_attribute=new((Tag.NAME, name(taken))))
        assert refused(v2, add) is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    modify = ModifyAttributeRequest(unique_identifier=other, new_attribute=new((Tag.NAME, name(first))))
    assert refused(v2, modify) is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    # Another client's namespace is its own: the same name is free there.
    with kmip_server.client("attribute-operations-other") as stranger:
        elsewhere = new_key(stranger)
        stranger.call(
            AddAttributeRequest(unique_identifier=elsewhere, new_attribute=new((Tag.NAME, name(first))))
        )


def test_create_and_register_refuse_a_name_in_use(
    v1: KmipClient, v2: KmipClient, kmip_server: RunningServer
) -> None:
    """KMIP 2.1 §4.35: Names SHALL be unique; Create and Register check them as Add Attribute does."""
    taken = unique("taken")
    new_key(v2, (Tag.NAME, name(taken)))
    for kmip in (v1, v2):
        non_unique = reason_of_version(kmip, ResultReason.NON_UNIQUE_NAME_ATTRIBUTE)  # 1.x: older reason
        assert refused(kmip, aes_create(kmip.version, 128, (Tag.NAME, name(taken)))) is non_unique
        key = symmetric(CryptographicAlgorithm.AES, bytes(16))
        fields = attribute_fields(kmip.version, (Tag.NAME, name(taken)))
        again = RegisterRequest(object_type=ObjectType.SYMMETRIC_KEY, object=key, **fields)
        assert refused(kmip, again) is non_unique
    twice = aes_create(v2.version, 128, (Tag.NAME, name(unique("twice"))), (Tag.NAME, name(unique("twice"))))
    assert v2.call(twice).unique_identifier  # two different Names: fine
    same = unique("same")
    doubled = aes_create(v2.version, 128, (Tag.NAME, name(same)), (Tag.NAME, name(same)))
    assert refused(v2, doubled) is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE
    # Nothing was made by the refusals: the name still finds only the first key.
    located = v2.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name(taken)))))
    assert len(located.unique_identifiers) == 1
    with kmip_server.client("attribute-operations-other") as stranger:
        new_key(stranger, (Tag.NAME, name(taken)))  # another client's namespace


def test_names_are_multi_valued_and_instances_are_chosen_by_current_value(v2: KmipClient) -> None:
    a, b, c = unique("a"), unique("b"), unique("c")
    uid = new_key(v2, (Tag.NAME, name(a)))
    v2.call(AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.NAME, name(b)))))
    # Two instances: Modify must say which (KMIP 2.1 §6.1.34).
    ambiguous = ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.NAME, name(c))))
    assert refused(v2, ambiguous) is ResultReason.MULTI_VALUED_ATTRIBUTE
    wrong = ModifyAttributeRequest(
        unique_identifier=uid,
        current_attribute=current((Tag.NAME, name(c))),
        new_attribute=new((Tag.NAME, name(c))),
    )
    assert refused(v2, wrong) is ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND
    v2.call(
        ModifyAttributeRequest(
            unique_identifier=uid,
            current_attribute=current((Tag.NAME, name(b))),
            new_attribute=new((Tag.NAME, name(c))),
        )
    )
    assert values(v2, uid, Tag.NAME).get_all(Tag.NAME) == [name(a), name(c)]
    v2.call(DeleteAttributeRequest(unique_identifier=uid, current_attribute=current((Tag.NAME, name(a)))))
    assert values(v2, uid, Tag.NAME).get_all(Tag.NAME) == [name(c)]
    # The deleted name is free again.
    other = new_key(v2)
    v2.call(AddAttributeRequest(unique_identifier=other, new_attribute=new((Tag.NAME, name(a)))))


# --- KMIP 1.x: names and Attribute Indexes ------------------------------------------------


def test_1x_add_modify_delete_by_name_and_index(v1: KmipClient, v2: KmipClient) -> None:
    a, b, c = unique("a"), unique("b"), unique("c")
    uid = new_key(v1)
    added = v1.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.NAME, name(a))))
    assert (added.attribute.attribute_name, added.attribute.attribute_index) == ("Name", None)
    added = v1.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.NAME, name(b))))
    assert (added.attribute.attribute_index, added.attribute.attribute_value) == (1, name(b))

    renamed = Attribute(attribute_name="Name", attribute_index=1, attribute_value=name(c))
    modified = v1.call(ModifyAttributeRequest(unique_identifier=uid, attribute=renamed))
    assert (modified.attribute.attribute_index, modified.attribute.attribute_value) == (1, name(c))
    beyond = Attribute(attribute_name="Name", attribute_index=2, attribute_value=name(b))
    assert refused(v1, ModifyAttributeRequest(unique_identifier=uid, attribute=beyond)) is in_1x(
        ResultReason.ATTRIBUTE_INSTANCE_NOT_FOUND
    )

    deleted = v1.call(DeleteAttributeRequest(unique_identifier=uid, attribute_name="Name", attribute_index=0))
    assert deleted.attribute.attribute_value == name(a)
    assert values(v2, uid, Tag.NAME).get_all(Tag.NAME) == [name(c)]
    missing = DeleteAttributeRequest(unique_identifier=uid, attribute_name="Contact Information")
    assert refused(v1, missing) is in_1x(ResultReason.ATTRIBUTE_NOT_FOUND)


def test_1x_custom_attributes_are_2x_vendor_attributes(v1: KmipClient, v2: KmipClient) -> None:
    """TL-M-3-14: a 1.x client modifies its x- attributes; a 2.x client sees vendor "x"."""
    uid = new_key(v1, custom_text("x-Barcode", "XXA012A1"))
    v1.call(AddAttributeRequest(unique_identifier=uid, attribute=custom_text("x-VendorAttribute2", "0")))
    changed = v1.call(
        ModifyAttributeRequest(unique_identifier=uid, attribute=custom_text("x-VendorAttribute2", "1"))
    )
    assert (changed.attribute.attribute_name, changed.attribute.attribute_value) == (
        "x-VendorAttribute2",
        text_value("1"),
    )
    reference = AttributeReference(vendor_identification="x", attribute_name="VendorAttribute2")
    seen = values(v2, uid, reference).get(Tag.ATTRIBUTE)
    assert (seen.vendor_identification, seen.attribute_value) == ("x", text_value("1"))
    v2.call(DeleteAttributeRequest(unique_identifier=uid, attribute_reference=reference))
    assert values(v2, uid, reference).get(Tag.ATTRIBUTE) is None
    gone = DeleteAttributeRequest(unique_identifier=uid, attribute_name="x-VendorAttribute2")
    assert refused(v1, gone) is in_1x(ResultReason.ATTRIBUTE_NOT_FOUND)


# --- Set Attribute -------------------------------------------------------------------------


def test_set_attribute_creates_then_replaces_and_refuses_several_instances(v2: KmipClient) -> None:
    """TC-SETATTR-2-20 and TC-SETATTR-3-20."""
    uid = new_key(v2)
    reference = AttributeReference(vendor_identification="tc", attribute_name="Set")
    v2.call(
        SetAttributeRequest(unique_identifier=uid, new_attribute=new(vendor("Set", text_value("one"), "tc")))
    )
    v2.call(
        SetAttributeRequest(unique_identifier=uid, new_attribute=new(vendor("Set", text_value("two"), "tc")))
    )
    assert [a.attribute_value for a in values(v2, uid, reference).get_all(Tag.ATTRIBUTE)] == [
        text_value("two")
    ]
    v2.call(
        AddAttributeRequest(
            unique_identifier=uid, new_attribute=new(vendor("Set", text_value("three"), "tc"))
        )
    )
    again = SetAttributeRequest(
        unique_identifier=uid, new_attribute=new(vendor("Set", text_value("four"), "tc"))
    )
    assert refused(v2, again) is ResultReason.MULTI_VALUED_ATTRIBUTE


def test_sensitive_only_becomes_true_and_always_sensitive_keeps_the_history(v2: KmipClient) -> None:
    """TC-SETATTR-1-20, and the PKCS#11 rule KMIP 2.1 adopts (§4.49-4.52)."""
    uid = new_key(v2)
    v2.call(SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.SENSITIVE, True))))
    flags = values(v2, uid, Tag.SENSITIVE, Tag.ALWAYS_SENSITIVE)
    assert (flags.get(Tag.SENSITIVE), flags.get(Tag.ALWAYS_SENSITIVE)) == (True, False)
    back = SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.SENSITIVE, False)))
    assert refused(v2, back) is ResultReason.ATTRIBUTE_READ_ONLY


def test_extractable_only_becomes_false_and_never_extractable_keeps_the_history(v2: KmipClient) -> None:
    uid = new_key(v2)
    v2.call(ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.EXTRACTABLE, False))))
    flags = values(v2, uid, Tag.EXTRACTABLE, Tag.NEVER_EXTRACTABLE)
    assert (flags.get(Tag.EXTRACTABLE), flags.get(Tag.NEVER_EXTRACTABLE)) == (False, False)
    back = ModifyAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.EXTRACTABLE, True)))
    assert refused(v2, back) is ResultReason.ATTRIBUTE_READ_ONLY


def test_usage_limits_count_is_the_servers(v2: KmipClient) -> None:
    uid = new_key(v2)
    limits = UsageLimits(
        usage_limits_total=100, usage_limits_count=3, usage_limits_unit=UsageLimitsUnit.OBJECT
    )
    v2.call(SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.USAGE_LIMITS, limits))))
    stored = values(v2, uid, Tag.USAGE_LIMITS).get(Tag.USAGE_LIMITS)
    assert (stored.usage_limits_total, stored.usage_limits_count) == (100, 100)


# --- Delete Attribute ----------------------------------------------------------------------


def test_delete_by_reference_removes_every_instance(v2: KmipClient) -> None:
    uid = new_key(v2)
    for group in ("g1", "g2"):
        v2.call(AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.OBJECT_GROUP, group))))
    assert values(v2, uid, Tag.OBJECT_GROUP).get_all(Tag.OBJECT_GROUP) == ["g1", "g2"]
    v2.call(DeleteAttributeRequest(unique_identifier=uid, attribute_reference=Tag.OBJECT_GROUP))
    assert values(v2, uid, Tag.OBJECT_GROUP).get_all(Tag.OBJECT_GROUP) == []
    again = DeleteAttributeRequest(unique_identifier=uid, attribute_reference=Tag.OBJECT_GROUP)
    assert refused(v2, again) is ResultReason.ATTRIBUTE_NOT_FOUND


# --- Adjust Attribute ----------------------------------------------------------------------


def test_adjust_numbers_flags_and_dates(v2: KmipClient) -> None:
    uid = new_key(v2)
    counter = AttributeReference(vendor_identification="x", attribute_name="counter")
    step = Item(Tag.ADJUSTMENT_VALUE, ItemType.INTEGER, 5)
    # No value yet: it counts from 0 (KMIP 2.1 §6.1.3), in the type of the adjustment.
    for _ in range(2):
        v2.call(
            AdjustAttributeRequest(
                unique_identifier=uid,
                attribute_reference=counter,
                adjustment_type=AdjustmentType.INCREMENT,
                adjustment_value=step,
            )
        )
    assert values(v2, uid, counter).get(Tag.ATTRIBUTE).attribute_value.value == 10

    flip = AdjustAttributeRequest(
        unique_identifier=uid, attribute_reference=Tag.QUANTUM_SAFE, adjustment_type=AdjustmentType.NEGATE
    )
    v2.call(flip)
    assert values(v2, uid, Tag.QUANTUM_SAFE).get(Tag.QUANTUM_SAFE) is True

    deactivation = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    v2.call(
        SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.DEACTIVATION_DATE, deactivation)))
    )
    hour = Item(Tag.ADJUSTMENT_VALUE, ItemType.INTERVAL, 3600)
    v2.call(
        AdjustAttributeRequest(
            unique_identifier=uid,
            attribute_reference=Tag.DEACTIVATION_DATE,
            adjustment_type=AdjustmentType.DECREMENT,
            adjustment_value=hour,
        )
    )
    moved = values(v2, uid, Tag.DEACTIVATION_DATE).get(Tag.DEACTIVATION_DATE)
    assert moved == deactivation - timedelta(hours=1)


@pytest.mark.parametrize(
    ("reference", "how", "reason"),
    [
        (Tag.CRYPTOGRAPHIC_LENGTH, AdjustmentType.INCREMENT, ResultReason.ATTRIBUTE_READ_ONLY),
        (Tag.NAME, AdjustmentType.INCREMENT, ResultReason.INVALID_DATA_TYPE),
        (Tag.QUANTUM_SAFE, AdjustmentType.INCREMENT, ResultReason.INVALID_DATA_TYPE),
        (Tag.PROTECTION_PERIOD, AdjustmentType.DECREMENT, ResultReason.NUMERIC_RANGE),  # an Interval below 0
        (
            Tag.DEACTIVATION_DATE,
            AdjustmentType.INCREMENT,
            ResultReason.ATTRIBUTE_NOT_FOUND,
        ),  # no date to move
    ],
)
def test_adjust_refusals(v2: KmipClient, reference: Tag, how: AdjustmentType, reason: ResultReason) -> None:
    uid = new_key(v2, (Tag.NAME, name(unique("adjust"))))
    request = AdjustAttributeRequest(
        unique_identifier=uid, attribute_reference=reference, adjustment_type=how
    )
    assert refused(v2, request) is reason


# --- every change -------------------------------------------------------------------------


def test_changes_move_the_last_change_date(v2: KmipClient) -> None:
    uid = new_key(v2)
    before = values(v2, uid, Tag.LAST_CHANGE_DATE).get(Tag.LAST_CHANGE_DATE)
    time.sleep(1.1)  # the server's clock has whole seconds
    v2.call(AddAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.COMMENT, "changed"))))
    assert values(v2, uid, Tag.LAST_CHANGE_DATE).get(Tag.LAST_CHANGE_DATE) > before


def test_edits_use_the_id_placeholder_and_only_the_callers_objects(
    v2: KmipClient, kmip_server: RunningServer
) -> None:
    created, added = v2.batch(
        aes_create(V2, 128), AddAttributeRequest(new_attribute=new((Tag.CONTACT_INFORMATION, "ops")))
    )
    assert added.result_status is ResultStatus.SUCCESS
    uid = created.response_payload.unique_identifier
    assert added.response_payload.unique_identifier == uid
    with kmip_server.client("attribute-operations-other") as stranger:
        steal = SetAttributeRequest(unique_identifier=uid, new_attribute=new((Tag.CONTACT_INFORMATION, "me")))
        assert refused(stranger, steal) is ResultReason.OBJECT_NOT_FOUND
    assert values(v2, uid, Tag.CONTACT_INFORMATION).get(Tag.CONTACT_INFORMATION) == "ops"


# --- KMIP 1.x Templates -------------------------------------------------------------------


def register_template(kmip: KmipClient, template_name: str, *attributes: Attribute) -> None:
    kmip.call(
        RegisterRequest(
            object_type=ObjectType.TEMPLATE,
            object=Template(attributes=list(attributes)),
            template_attribute=TemplateAttribute(attributes=[named(Tag.NAME, name(template_name))]),
        )
    )


def test_templates_named_in_a_template_attribute_give_their_attributes(
    v1: KmipClient, v2: KmipClient
) -> None:
    """KMIP 1.4 §4: later templates override earlier ones, the request's attributes override both."""
    base, strong = unique("base-template"), unique("strong-template")
    register_template(
        v1,
        base,
        named(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        named(Tag.CRYPTOGRAPHIC_LENGTH, 128),
        named(Tag.OBJECT_GROUP, "from-base"),
        named(Tag.CONTACT_INFORMATION, "base"),
    )
    register_template(
        v1, strong, named(Tag.CRYPTOGRAPHIC_LENGTH, 256), named(Tag.OBJECT_GROUP, "from-strong")
    )
    request = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        template_attribute=TemplateAttribute(
            names=[name(base), name(strong)],
            attributes=[named(Tag.CONTACT_INFORMATION, "request")],
        ),
    )
    uid = v1.call(request).unique_identifier
    got = values(
        v2,
        uid,
        Tag.CRYPTOGRAPHIC_ALGORITHM,
        Tag.CRYPTOGRAPHIC_LENGTH,
        Tag.OBJECT_GROUP,
        Tag.CONTACT_INFORMATION,
    )
    assert got.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.AES
    assert got.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
    assert got.get_all(Tag.OBJECT_GROUP) == ["from-base", "from-strong"]
    assert got.get(Tag.CONTACT_INFORMATION) == "request"
    assert values(v2, uid, Tag.NAME).get_all(Tag.NAME) == []  # the template's own name stays its own


def test_an_unknown_template_name_is_item_not_found(v1: KmipClient) -> None:
    request = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        template_attribute=TemplateAttribute(names=[name(unique("no-such-template"))]),
    )
    assert refused(v1, request) is in_1x(ResultReason.OBJECT_NOT_FOUND)
