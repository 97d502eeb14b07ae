"""The typed message layer: complete for the OASIS test cases, lenient in, strict out.

Complete means every message decodes into typed payloads with no standard tag left
unmapped, and encodes back to the very same bytes. Strict out means a field the
message's protocol version does not define is refused, never silently sent.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip import spec
from pkcs11_kmip.kmip.messages import (
    Attribute,
    Attributes,
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
    Structure,
    TemplateAttribute,
)
from pkcs11_kmip.kmip.messages.payloads import (
    CreateRequest,
    GetAttributesRequest,
    GetRequest,
    LocateResponse,
    PKCS11Request,
    PKCS11Response,
)
from pkcs11_kmip.kmip.messages.structures import (
    CertificateIdentifier,
    CryptographicParameters,
    Name,
    ProtocolVersion,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    NameType,
    ObjectType,
    Operation,
    PKCS11Function,
    PKCS11ReturnCode,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary, xml_codec
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver

TESTCASES = Path(__file__).resolve().parents[2].parent / "shared" / "kmip" / "testcases"


def unmapped_standard_items(value: Any, where: str = "") -> list[str]:
    """Children a typed structure kept verbatim although the spec defines their tag."""
    found = []
    if isinstance(value, Structure):
        where = f"{where}/{type(value).__name__}"
        found += [
            f"{where}: {spec.tag_xml_name(i.tag)}" for i in value.other if not spec.is_extension_tag(i.tag)
        ]
        for field in dataclasses.fields(value):
            found += unmapped_standard_items(getattr(value, field.name), where)
    elif isinstance(value, list | tuple):
        for element in value:
            found += unmapped_standard_items(element, where)
    return found


def decode_message(item: Item) -> RequestMessage | ResponseMessage:
    if item.tag == Tag.REQUEST_MESSAGE:
        return RequestMessage.from_item(item)
    return ResponseMessage.from_item(item)


def test_every_testcase_message_is_typed_completely_and_reencodes_identically(
    testcase_path: Path, bind: PlaceholderResolver
) -> None:
    for item in xml_codec.decode(testcase_path.read_bytes(), placeholders=bind):
        message = decode_message(item)
        for batch_item in message.batch_items:
            payload = getattr(batch_item, "request_payload", None) or getattr(
                batch_item, "response_payload", None
            )
            assert not isinstance(payload, Item), f"{batch_item.operation!r} payload stayed untyped"
        assert unmapped_standard_items(message) == []
        assert binary.encode(message.to_item()) == binary.encode(item)


def test_official_pkcs11_testcase_decodes_to_the_cryptoki_calls(bind: PlaceholderResolver) -> None:
    path = TESTCASES / "kmip-profiles-v2.1" / "mandatory" / "PKCS11-M-1-21.xml"
    messages = [decode_message(item) for item in xml_codec.decode(path.read_bytes(), placeholders=bind)]
    requests = [m for m in messages if isinstance(m, RequestMessage)]
    responses = [m for m in messages if isinstance(m, ResponseMessage)]
    calls = [m.batch_items[0].request_payload for m in requests]
    assert all(isinstance(call, PKCS11Request) for call in calls)
    assert [call.pkcs_11_function for call in calls if isinstance(call, PKCS11Request)] == [
        PKCS11Function.C_INITIALIZE,
        PKCS11Function.C_GET_INFO,
        PKCS11Function.C_FINALIZE,
    ]
    info = responses[1].batch_items[0].response_payload
    assert isinstance(info, PKCS11Response)
    assert info.pkcs_11_return_code == PKCS11ReturnCode.OK
    assert info.pkcs_11_output_parameters is not None and len(info.pkcs_11_output_parameters) == 76
    for message in messages:
        assert message.version() == (2, 1)
        assert type(message).decode(message.encode()) == message


# --- a message built in code ---------------------------------------------------------------


def create_request(version: tuple[int, int], payload: CreateRequest) -> RequestMessage:
    return RequestMessage(
        header=RequestHeader(protocol_version=ProtocolVersion.of(version), batch_count=1),
        batch_items=[RequestBatchItem(operation=Operation.CREATE, request_payload=payload)],
    )


def aes_attributes_1x() -> TemplateAttribute:
    return TemplateAttribute(
        attributes=[
            Attribute(attribute_name="Cryptographic Algorithm", attribute_value=CryptographicAlgorithm.AES),
            Attribute(attribute_name="Cryptographic Length", attribute_value=256),
            Attribute(
                attribute_name="Cryptographic Usage Mask",
                attribute_value=CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT,
            ),
            Attribute(
                attribute_name="Name",
                attribute_value=Name(name_value="k", name_type=NameType.UNINTERPRETED_TEXT_STRING),
            ),
        ]
    )


def test_a_1x_create_round_trips_with_typed_attribute_values() -> None:
    message = create_request(
        (1, 2), CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, template_attribute=aes_attributes_1x())
    )
    decoded = RequestMessage.decode(message.encode())
    assert decoded == message
    payload = decoded.batch_items[0].request_payload
    assert isinstance(payload, CreateRequest) and payload.template_attribute is not None
    values = {a.attribute_name: a.attribute_value for a in payload.template_attribute.attributes}
    assert values["Cryptographic Algorithm"] is CryptographicAlgorithm.AES
    assert (
        values["Cryptographic Usage Mask"] == CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
    )


def test_2x_attributes_keep_their_order_and_types() -> None:
    attributes = Attributes.of(
        (Tag.CRYPTOGRAPHIC_LENGTH, 128),
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.ACTIVATION_DATE, datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (Tag.NAME, Name(name_value="a", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
        (Tag.NAME, Name(name_value="b", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
    )
    message = create_request(
        (2, 1), CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
    )
    payload = RequestMessage.decode(message.encode()).batch_items[0].request_payload
    assert isinstance(payload, CreateRequest) and payload.attributes is not None
    assert [entry.tag for entry in payload.attributes] == [entry.tag for entry in attributes]
    assert [n.name_value for n in payload.attributes.get_all(Tag.NAME)] == ["a", "b"]
    assert payload.attributes.get(Tag.ACTIVATION_DATE) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


# --- strict per version on the way out --------------------------------------------------------


def test_a_field_the_version_does_not_define_is_refused() -> None:
    with_2x_attributes = CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes.of())
    with pytest.raises(CodecError, match=r"attributes is not defined in KMIP 1\.4"):
        create_request((1, 4), with_2x_attributes).encode()
    with_1x_template = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY, template_attribute=aes_attributes_1x()
    )
    with pytest.raises(CodecError, match=r"template_attribute is not defined in KMIP 2\.0"):
        create_request((2, 0), with_1x_template).encode()


def test_server_correlation_value_needs_kmip_1_4() -> None:
    def response(version: tuple[int, int]) -> ResponseMessage:
        return ResponseMessage(
            header=ResponseHeader(
                protocol_version=ProtocolVersion.of(version),
                time_stamp=datetime(2026, 1, 1, tzinfo=UTC),
                server_correlation_value="s-1",
                batch_count=1,
            ),
            batch_items=[
                ResponseBatchItem(
                    operation=Operation.LOCATE,
                    result_status=ResultStatus.SUCCESS,
                    response_payload=LocateResponse(),
                )
            ],
        )

    assert ResponseMessage.decode(response((1, 4)).encode()).header == response((1, 4)).header
    with pytest.raises(CodecError, match=r"server_correlation_value is not defined in KMIP 1\.3"):
        response((1, 3)).encode()


def test_an_attribute_newer_than_the_version_is_refused() -> None:
    attributes = Attributes.of((Tag.ROTATE_AUTOMATIC, True))  # a KMIP 2.1 attribute
    create_request(
        (2, 1), CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
    ).encode()
    with pytest.raises(CodecError, match=r"RotateAutomatic is not defined in KMIP 2\.0"):
        create_request(
            (2, 0), CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
        ).encode()


def test_a_missing_required_field_is_refused_both_ways() -> None:
    with pytest.raises(CodecError, match="object_type is required"):
        create_request((2, 1), CreateRequest(attributes=Attributes.of())).encode()
    item = create_request(
        (2, 1), CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes.of())
    ).to_item()
    payload_item = item.children[1].children[1]
    payload_item.value = [c for c in payload_item.children if c.tag != Tag.OBJECT_TYPE]
    with pytest.raises(CodecError, match="CreateRequest lacks its required object_type"):
        RequestMessage.from_item(item)


# --- lenient on the way in --------------------------------------------------------------------


def get_request_item(children: list[Item]) -> Item:
    header = RequestHeader(protocol_version=ProtocolVersion.of((1, 4)), batch_count=1).to_item((1, 4))
    batch = Item(
        Tag.BATCH_ITEM,
        ItemType.STRUCTURE,
        [
            Item(Tag.OPERATION, ItemType.ENUMERATION, Operation.GET),
            Item(Tag.REQUEST_PAYLOAD, ItemType.STRUCTURE, children),
        ],
    )
    return Item(Tag.REQUEST_MESSAGE, ItemType.STRUCTURE, [header, batch])


def test_children_in_any_order_and_vendor_items_are_accepted_and_kept() -> None:
    vendor = Item(0x540123, ItemType.TEXT_STRING, "vendor data")
    item = get_request_item(
        [
            Item(Tag.KEY_FORMAT_TYPE, ItemType.ENUMERATION, 0x80000007),  # a vendor Key Format Type
            vendor,
            Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, "42"),
        ]
    )
    message = RequestMessage.from_item(item)
    payload = message.batch_items[0].request_payload
    assert isinstance(payload, GetRequest)
    assert payload.unique_identifier == "42"
    assert int(payload.key_format_type or 0) == 0x80000007
    assert payload.other == [vendor]
    # Re-encoded canonically: declared fields in spec order, vendor items last.
    children = message.to_item().children[1].children[1].children
    assert [child.tag for child in children] == [Tag.UNIQUE_IDENTIFIER, Tag.KEY_FORMAT_TYPE, 0x540123]


def test_custom_1x_attributes_of_any_type_round_trip() -> None:
    custom = [
        Attribute(
            attribute_name="x-text", attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, "t")
        ),
        Attribute(attribute_name="x-number", attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.INTEGER, -5)),
        Attribute(
            attribute_name="x-when", attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.DATE_TIME, 1700000000)
        ),
        Attribute(
            attribute_name="x-nested",
            attribute_value=Item(
                Tag.ATTRIBUTE_VALUE, ItemType.STRUCTURE, [Item(0x540001, ItemType.BOOLEAN, True)]
            ),
        ),
    ]
    payload = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY, template_attribute=TemplateAttribute(attributes=custom)
    )
    message = create_request((1, 0), payload)
    assert RequestMessage.decode(message.encode()) == message


def test_a_vendor_attribute_in_2x_attributes_round_trips() -> None:
    vendor = Attribute(
        vendor_identification="acme",
        attribute_name="rotation-policy",
        attribute_value=Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, "yearly"),
    )
    payload = CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes.of((Tag.ATTRIBUTE, vendor))
    )
    message = create_request((2, 0), payload)
    decoded = RequestMessage.decode(message.encode())
    assert decoded == message
    decoded_payload = decoded.batch_items[0].request_payload
    assert isinstance(decoded_payload, CreateRequest) and decoded_payload.attributes is not None
    assert decoded_payload.attributes.get(Tag.ATTRIBUTE).vendor_identification == "acme"


def test_an_unregistered_operation_keeps_its_payload_raw() -> None:
    raw_payload = Item(Tag.REQUEST_PAYLOAD, ItemType.STRUCTURE, [Item(0x540002, ItemType.INTEGER, 7)])
    item = get_request_item([])
    batch = item.children[1]
    batch.value = [Item(Tag.OPERATION, ItemType.ENUMERATION, 0x80000001), raw_payload]
    message = RequestMessage.from_item(item)
    assert message.batch_items[0].request_payload == raw_payload
    assert binary.encode(message.to_item()) == binary.encode(item)


@pytest.mark.parametrize(
    ("children", "message"),
    [
        (
            [Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, "a")] * 2,
            "unique_identifier appears more than once",
        ),
        ([Item(Tag.KEY_FORMAT_TYPE, ItemType.TEXT_STRING, "Raw")], "key_format_type cannot be a TEXT_STRING"),
    ],
)
def test_malformed_payloads_name_the_field(children: list[Item], message: str) -> None:
    with pytest.raises(CodecError, match=message):
        RequestMessage.from_item(get_request_item(children))


def test_a_message_without_protocol_version_is_refused() -> None:
    item = get_request_item([])
    item.children[0].value = [Item(Tag.BATCH_COUNT, ItemType.INTEGER, 1)]
    with pytest.raises(CodecError, match="no Protocol Version"):
        RequestMessage.from_item(item)


def test_get_attributes_references_are_tags_or_vendor_structures() -> None:
    payload = GetAttributesRequest(unique_identifier="1", attribute_references=[Tag.STATE, Tag.NAME])
    item = payload.to_item((2, 0))
    assert GetAttributesRequest.from_item(item, (2, 0)).attribute_references == [Tag.STATE, Tag.NAME]
    xml = xml_codec.encode(item)
    assert '<AttributeReference type="Enumeration" value="State"/>' in xml


def test_cryptographic_parameters_nest_inside_attributes() -> None:
    params = CryptographicParameters(block_cipher_mode=BlockCipherMode.GCM, tag_length=16)
    attributes = Attributes.of((Tag.CRYPTOGRAPHIC_PARAMETERS, params))
    assert Attributes.from_item(attributes.to_item()).get(Tag.CRYPTOGRAPHIC_PARAMETERS) == params


def test_stored_attributes_keep_1x_only_structures() -> None:
    """Storage encodes each attribute in a version that defines it (Certificate Identifier is 1.x)."""
    attributes = Attributes.of(
        (Tag.CERTIFICATE_IDENTIFIER, CertificateIdentifier(issuer="CN=ca", serial_number="01")),
        (Tag.OBJECT_GROUP, "g"),
    )
    stored = binary.decode(attributes.encode_any_version())
    assert Attributes.from_item(stored) == attributes
    with pytest.raises(CodecError, match=r"not defined in KMIP 2\.1"):
        attributes.encode()
