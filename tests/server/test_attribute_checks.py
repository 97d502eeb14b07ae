"""The checks every creating request's attributes pass (attributes.check_client_settable,
check_single_valued) and a Template-Attribute without Template names: their quick paths
against the rule tables and the general code they stand in for."""

from __future__ import annotations

from typing import Any

import pytest

from pkcs11_kmip.kmip.messages import Attribute, AttributeEntry, Attributes
from pkcs11_kmip.kmip.messages.attributes import TemplateAttribute
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, NameType, ResultReason
from pkcs11_kmip_server import attributes as rules
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.templates import overlay, template_attributes


def test_the_refused_tags_are_those_the_rule_tables_make_server_only() -> None:
    expected = {int(tag) for tag in Tag if rules._read_only(tag)} | {rules.VACATED_INDEXES}
    assert expected == rules._NOT_CLIENT_SETTABLE
    for tag in (Tag.STATE, Tag.UNIQUE_IDENTIFIER, Tag.INITIAL_DATE, Tag.DIGEST):
        assert tag in rules._NOT_CLIENT_SETTABLE
    for tag in (Tag.NAME, Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.CRYPTOGRAPHIC_LENGTH, Tag.ATTRIBUTE):
        assert tag not in rules._NOT_CLIENT_SETTABLE


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([(Tag.NAME, "a"), (Tag.STATE, 1), (rules.VACATED_INDEXES, "{}")], ResultReason.ATTRIBUTE_READ_ONLY),
        ([(Tag.NAME, "a"), (rules.VACATED_INDEXES, "{}"), (Tag.STATE, 1)], ResultReason.INVALID_ATTRIBUTE),
        ([(Tag.NAME, "a"), (Tag.CRYPTOGRAPHIC_LENGTH, 128)], None),
    ],
)
def test_client_settable_refuses_the_first_server_only_entry(
    entries: list[tuple[int, Any]], reason: ResultReason | None
) -> None:
    attributes = Attributes.of(*entries)
    if reason is None:
        rules.check_client_settable(attributes)
        return
    with pytest.raises(KmipError) as refused:
        rules.check_client_settable(attributes)
    assert refused.value.reason is reason


def _vendor(name: str, value: Any) -> AttributeEntry:
    return AttributeEntry(
        Tag.ATTRIBUTE, Attribute(vendor_identification="x", attribute_name=name, attribute_value=value)
    )


@pytest.mark.parametrize(
    ("entries", "refused"),
    [
        ([AttributeEntry(Tag.CRYPTOGRAPHIC_LENGTH, 128), AttributeEntry(Tag.NAME, "a")], False),
        ([AttributeEntry(Tag.NAME, "a"), AttributeEntry(Tag.NAME, "b")], False),  # Name is multi-valued
        ([_vendor("a", 1), _vendor("b", 2)], False),
        ([_vendor("a", 1), _vendor("a", 2)], False),  # vendor attributes may repeat
        (
            [AttributeEntry(Tag.CRYPTOGRAPHIC_LENGTH, 128), AttributeEntry(Tag.CRYPTOGRAPHIC_LENGTH, 256)],
            True,
        ),
        (
            [
                AttributeEntry(Tag.NAME, "a"),
                _vendor("a", 1),
                AttributeEntry(Tag.STATE, 1),
                AttributeEntry(Tag.STATE, 2),
            ],
            True,
        ),
    ],
)
def test_single_valued(entries: list[AttributeEntry], refused: bool) -> None:
    if not refused:
        rules.check_single_valued(Attributes(entries=entries))
        return
    with pytest.raises(KmipError) as error:
        rules.check_single_valued(Attributes(entries=entries))
    assert error.value.reason is ResultReason.MULTI_VALUED_ATTRIBUTE


def test_a_template_attribute_without_names_is_its_own_attributes_as_overlay_makes_them() -> None:
    given = TemplateAttribute(
        attributes=[
            Attribute(attribute_name="Cryptographic Algorithm", attribute_value=CryptographicAlgorithm.AES),
            Attribute(
                attribute_name="Name",
                attribute_value=Name(name_value="k", name_type=NameType.UNINTERPRETED_TEXT_STRING),
            ),
            Attribute(attribute_name="x-colour", attribute_value="blue"),
            Attribute(attribute_name="Cryptographic Length", attribute_value=128),
            Attribute(attribute_name="Cryptographic Length", attribute_value=256),
        ]
    )
    combined = template_attributes(None, given)  # type: ignore[arg-type]  # no Template to look up
    assert combined.entries == overlay(Attributes(), rules.from_named_list(given.attributes)).entries
    assert [type(entry) for entry in combined.entries] == [AttributeEntry] * 5
    assert combined.entries[0] == AttributeEntry(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)
