"""The runner's replay, binding and comparison, without a server.

Responses are written as XML (concrete values) and fed to `Replay` as TTLV, as a
server would send them; every tolerance is tested from both sides: what it lets
through, and the neighbouring difference it must still report.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pkcs11_kmip.conformance import (
    CaseResult,
    Replay,
    Session,
    TestCase,
    TestCaseError,
    load,
    parse,
    prerequisites,
    run_case,
    run_files,
    summary,
)
from pkcs11_kmip.conformance.testcase import NOW as NOW_PLACEHOLDER
from pkcs11_kmip.kmip.client import KmipConnectionError
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import Item, ItemType, binary, xml_codec
from pkcs11_kmip.kmip.ttlv.text import datetime_text

NOW = 1_800_000_000  # the runner's clock in these tests
NOW_TEXT = datetime_text(NOW)


# --- building messages ----------------------------------------------------------------------------


def _version(version: str) -> str:
    major, minor = version.split(".")
    return (
        f'<ProtocolVersion><ProtocolVersionMajor type="Integer" value="{major}"/>'
        f'<ProtocolVersionMinor type="Integer" value="{minor}"/></ProtocolVersion>'
    )


def request(*items: str, version: str = "2.1") -> str:
    return (
        f"<RequestMessage><RequestHeader>{_version(version)}"
        f'<BatchCount type="Integer" value="{len(items)}"/></RequestHeader>{"".join(items)}</RequestMessage>'
    )


def response(*items: str, version: str = "2.1", stamp: str = "$NOW", header: str = "") -> str:
    return (
        f'<ResponseMessage><ResponseHeader>{_version(version)}<TimeStamp type="DateTime" value="{stamp}"/>'
        f'{header}<BatchCount type="Integer" value="{len(items)}"/></ResponseHeader>{"".join(items)}'
        "</ResponseMessage>"
    )


def item(operation: str, payload: str | None = "", status: str = "Success", extra: str = "") -> str:
    body = f'<Operation type="Enumeration" value="{operation}"/>'
    if status:
        body += f'<ResultStatus type="Enumeration" value="{status}"/>{extra}'
    if payload is not None:
        kind = "ResponsePayload" if status else "RequestPayload"
        body += f"<{kind}>{payload}</{kind}>"
    return f"<BatchItem>{body}</BatchItem>"


def ask(operation: str, payload: str = "") -> str:
    return item(operation, payload, status="")


def uid(value: str) -> str:
    return f'<UniqueIdentifier type="TextString" value="{value}"/>'


def replay(case_xml: str, *responses: str, session: Session | None = None, now: int = NOW) -> CaseResult:
    """Replay a test case, answering its requests in turn with `responses` (XML, concrete values)."""
    runner = Replay(parse(f"<KMIP>{case_xml}</KMIP>", "unit"), session or Session())
    for answer in responses:
        sent = runner.next_request(now)
        if sent is None:
            break
        runner.receive(actual(answer))
    return runner.result()


def actual(answer: str) -> bytes:
    """A server's response as TTLV, from XML whose only placeholder is the time stamp's $NOW."""
    return binary.encode(xml_codec.decode(answer, placeholders=lambda _type, _text: NOW)[0])


def difference(case_xml: str, *responses: str, session: Session | None = None) -> str | None:
    return replay(case_xml, *responses, session=session).difference


CREATE = request(ask("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/>'))
CREATED = response(
    item("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/>' + uid("$UNIQUE_IDENTIFIER_0"))
)


def created(value: str) -> str:
    return response(item("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/>' + uid(value)))


def get_attributes(*references: str, version: str = "2.1") -> str:
    refs = "".join(f'<AttributeReference type="Enumeration" value="{r}"/>' for r in references)
    return request(ask("GetAttributes", uid("$UNIQUE_IDENTIFIER_0") + refs), version=version)


def attributes(subject: str, body: str) -> str:
    return response(item("GetAttributes", uid(subject) + f"<Attributes>{body}</Attributes>"))


LENGTH_256 = '<CryptographicLength type="Integer" value="256"/>'
ALGORITHM_AES = '<CryptographicAlgorithm type="Enumeration" value="AES"/>'
STATE_PREACTIVE = '<State type="Enumeration" value="PreActive"/>'
RNG = '<RandomNumberGenerator><RNGAlgorithm type="Enumeration" value="ANSIX9_31"/></RandomNumberGenerator>'


def digest(value: str) -> str:
    return (
        '<Digest><HashingAlgorithm type="Enumeration" value="SHA_256"/>'
        f'<DigestValue type="ByteString" value="{value}"/>'
        '<KeyFormatType type="Enumeration" value="Raw"/></Digest>'
    )


# --- values and paths -----------------------------------------------------------------------------


def test_matching_responses_pass_and_bind_the_identifier() -> None:
    result = replay(
        CREATE
        + CREATED
        + get_attributes("CryptographicLength")
        + attributes("$UNIQUE_IDENTIFIER_0", LENGTH_256),
        created("key-1"),
        attributes("key-1", LENGTH_256).replace("$NOW", NOW_TEXT),
    )
    assert result.passed, result.difference
    assert result.messages == 2
    assert result.line() == "PASS unit"


def test_a_wrong_value_fails_with_its_path() -> None:
    found = difference(
        CREATE
        + CREATED
        + get_attributes("CryptographicLength")
        + attributes("$UNIQUE_IDENTIFIER_0", LENGTH_256),
        created("key-1"),
        attributes("key-1", LENGTH_256.replace("256", "128")),
    )
    assert found == (
        "message 2 / BatchItem / ResponsePayload / Attributes / CryptographicLength: expected 256, got 128"
    )


def test_values_are_written_as_the_xml_encoding_writes_them() -> None:
    case = CREATE + CREATED + get_attributes("State", "CryptographicUsageMask")
    case += attributes(
        "$UNIQUE_IDENTIFIER_0", STATE_PREACTIVE + '<CryptographicUsageMask type="Integer" value="Encrypt"/>'
    )
    mask = '<CryptographicUsageMask type="Integer" value="Encrypt"/>'
    assert difference(
        case, created("k"), attributes("k", STATE_PREACTIVE.replace("PreActive", "Active") + mask)
    ) == ("message 2 / BatchItem / ResponsePayload / Attributes / State: expected PreActive, got Active")
    assert difference(
        case, created("k"), attributes("k", STATE_PREACTIVE + mask.replace("Encrypt", "Decrypt Sign"))
    ) == (
        "message 2 / BatchItem / ResponsePayload / Attributes / CryptographicUsageMask: "
        "expected Encrypt, got Sign Decrypt"
    )


def test_kmip_1_attribute_paths_name_the_attribute() -> None:
    case = (
        request(ask("Create", '<ObjectType type="Enumeration" value="SymmetricKey"/>'), version="1.4")
        + response(item("Create", uid("$UNIQUE_IDENTIFIER_0")), version="1.4")
        + request(ask("GetAttributes", uid("$UNIQUE_IDENTIFIER_0")), version="1.4")
        + response(
            item(
                "GetAttributes",
                uid("$UNIQUE_IDENTIFIER_0")
                + '<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/>'
                '<AttributeValue type="Integer" value="Encrypt Decrypt"/></Attribute>',
            ),
            version="1.4",
        )
    )

    def answer(mask: str) -> str:
        return response(
            item(
                "GetAttributes",
                uid("k") + '<Attribute><AttributeName type="TextString" value="Cryptographic Usage Mask"/>'
                f'<AttributeValue type="Integer" value="{mask}"/></Attribute>',
            ),
            version="1.4",
            stamp=NOW_TEXT,
        )

    first = response(item("Create", uid("k")), version="1.4", stamp=NOW_TEXT)
    assert difference(case, first, answer("Decrypt Encrypt")) is None  # a mask is a number: bit order is moot
    assert difference(case, first, answer("Encrypt")) == (
        "message 2 / BatchItem / ResponsePayload / Attribute[Cryptographic Usage Mask] / AttributeValue: "
        "expected Encrypt Decrypt, got Encrypt"
    )


def test_result_status_differences_name_the_servers_reason() -> None:
    found = difference(
        CREATE + CREATED,
        response(
            item(
                "Create",
                None,
                status="OperationFailed",
                extra='<ResultReason type="Enumeration" value="OperationNotSupported"/>'
                '<ResultMessage type="TextString" value="no such thing"/>',
            )
        ),
    )
    assert found == (
        "message 1 / BatchItem / ResultStatus: expected Success, got OperationFailed "
        "(OperationNotSupported: no such thing)"
    )


def test_a_shorter_batch_reports_the_item_that_stopped_it() -> None:
    get = ask("Get", uid("x"))
    case = request(get, get) + response(item("Get", uid("x")), item("Get", uid("x")))
    failed = item(
        "Get", None, status="OperationFailed", extra='<ResultReason type="Enumeration" value="ItemNotFound"/>'
    )
    assert difference(case, response(failed)) == (
        "message 1 / BatchItem[1] / ResultStatus: expected Success, got OperationFailed (ItemNotFound)"
    )
    assert difference(case, response(item("Get", uid("x")))) == (
        "message 1 / ResponseHeader / BatchCount: expected 2, got 1"
    )
    assert difference(
        case, response(item("Get", uid("x")), item("Get", uid("x")), item("Get", uid("x")))
    ) == ("message 1 / ResponseHeader / BatchCount: expected 2, got 3")


def test_an_undone_item_names_the_item_that_failed() -> None:
    get = ask("Get", uid("x"))
    case = request(get, get) + response(item("Get", uid("x")), item("Get", uid("x")))
    undone = item("Get", uid("x"), status="OperationUndone")
    failed = item(
        "Get",
        None,
        status="OperationFailed",
        extra='<ResultReason type="Enumeration" value="FeatureNotSupported"/>'
        '<ResultMessage type="TextString" value="no wrapping"/>',
    )
    assert difference(case, response(undone, failed)) == (
        "message 1 / BatchItem[1] / ResultStatus: expected Success, got OperationUndone "
        "(BatchItem[2] failed: FeatureNotSupported: no wrapping)"
    )


def test_a_missing_response_payload_is_a_difference() -> None:
    case = request(ask("Log", '<LogMessage type="TextString" value="x"/>')) + response(item("Log", ""))
    assert difference(case, response(item("Log", None))) == "message 1 / BatchItem: missing ResponsePayload"
    assert difference(case, response(item("Log", ""))) is None


# --- placeholders ---------------------------------------------------------------------------------


def test_a_bound_placeholder_must_keep_its_value() -> None:
    case = CREATE + CREATED + request(ask("Destroy", uid("$UNIQUE_IDENTIFIER_0")))
    case += response(item("Destroy", uid("$UNIQUE_IDENTIFIER_0")))
    assert difference(case, created("key-1"), response(item("Destroy", uid("key-1")))) is None
    assert difference(case, created("key-1"), response(item("Destroy", uid("key-2")))) == (
        "message 2 / BatchItem / ResponsePayload / UniqueIdentifier: "
        "expected $UNIQUE_IDENTIFIER_0 = 'key-1', got 'key-2'"
    )


def test_two_placeholders_cannot_bind_the_same_value() -> None:
    case = CREATE + CREATED + CREATE + CREATED.replace("_0", "_1")
    assert difference(case, created("key-1"), created("key-2")) is None
    assert difference(case, created("key-1"), created("key-1")) == (
        "message 2 / BatchItem / ResponsePayload / UniqueIdentifier: "
        "expected $UNIQUE_IDENTIFIER_1, got 'key-1', which is $UNIQUE_IDENTIFIER_0"
    )


def test_requests_carry_bound_values_and_the_time_of_sending() -> None:
    case = parse(
        "<KMIP>"
        + CREATE
        + CREATED
        + request(
            ask(
                "Activate",
                uid("$UNIQUE_IDENTIFIER_0")
                + '<Attributes><ActivationDate type="DateTime" value="$NOW-3600"/></Attributes>',
            )
        )
        + response(item("Activate", uid("$UNIQUE_IDENTIFIER_0")))
        + "</KMIP>",
        "unit",
    )
    runner = Replay(case, Session())
    assert runner.next_request(NOW) is not None
    runner.receive(actual(created("key-9")))
    sent = binary.decode(runner.next_request(NOW + 5) or b"")
    payload = next(sent.find_all(Tag.BATCH_ITEM)).find(Tag.REQUEST_PAYLOAD)
    assert payload is not None
    assert payload.find(Tag.UNIQUE_IDENTIFIER) == Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, "key-9")
    dates = payload.find(Tag.ATTRIBUTES)
    assert dates is not None
    assert dates.find(Tag.ACTIVATION_DATE) == Item(Tag.ACTIVATION_DATE, ItemType.DATE_TIME, NOW + 5 - 3600)


def test_an_unbound_placeholder_in_a_request_gets_a_fresh_value_the_response_must_echo() -> None:
    case = request(ask("Get", uid("$UNIQUE_IDENTIFIER_RANDOM_0"))) + response(
        item(
            "Get",
            None,
            status="OperationFailed",
            extra='<ResultReason type="Enumeration" value="ItemNotFound"/>',
        )
    )
    runner = Replay(parse(f"<KMIP>{case}</KMIP>", "unit"), Session())
    sent = binary.decode(runner.next_request(NOW) or b"")
    text = xml_codec.encode(sent)
    assert "$UNIQUE" not in text and "conformance-" in text


@pytest.mark.parametrize(
    ("placeholder", "offset", "passes"),
    [
        ("$NOW", 0, True),
        ("$NOW", 240, True),  # within the default 300 s
        ("$NOW", -3600, False),
        ("$NOW-3600", -3600, True),
        ("$NOW-3600", 0, False),
        ("$NOW+20", 20, True),
    ],
)
def test_now_is_the_time_of_sending_within_the_tolerance(placeholder: str, offset: int, passes: bool) -> None:
    case = CREATE + CREATED + get_attributes("InitialDate")
    case += attributes("$UNIQUE_IDENTIFIER_0", f'<InitialDate type="DateTime" value="{placeholder}"/>')
    actual = attributes("k", f'<InitialDate type="DateTime" value="{datetime_text(NOW + offset)}"/>')
    found = difference(case, created("k"), actual.replace("$NOW", NOW_TEXT))
    assert (found is None) == passes, found
    if not passes:
        assert found is not None and found.startswith(
            "message 2 / BatchItem / ResponsePayload / Attributes / InitialDate: "
            f"expected {placeholder} (about "
        )


def test_placeholders_are_recognised_only_where_the_file_wrote_them() -> None:
    case = parse(f"<KMIP>{CREATE}{CREATED}</KMIP>", "unit")
    stamp = case.steps[0].expected.find(Tag.RESPONSE_HEADER)
    assert stamp is not None
    time_stamp = stamp.find(Tag.TIME_STAMP)
    assert time_stamp is not None and case.placeholders.name_of(time_stamp) == "$NOW"
    assert NOW_PLACEHOLDER.match("$NOW-3600") and not NOW_PLACEHOLDER.match("$NOWHERE")
    assert case.placeholders.name_of(Item(Tag.TIME_STAMP, ItemType.DATE_TIME, NOW)) is None
    assert case.placeholders.name_of(Item(Tag.UNIQUE_IDENTIFIER, ItemType.TEXT_STRING, "$ not one")) is None


# --- what a conformant server may do differently ----------------------------------------------------


def test_header_values_the_server_chooses_are_tolerated() -> None:
    expected = CREATE + response(
        item("Create", uid("$UNIQUE_IDENTIFIER_0")),
        stamp="2001-01-01T00:00:00+00:00",
        header='<ServerCorrelationValue type="TextString" value="A5E83842-4"/>',
    )
    actual = response(
        item("Create", uid("k"), extra='<ResultMessage type="TextString" value="created"/>'),
        stamp=NOW_TEXT,
        header='<ClientCorrelationValue type="TextString" value="echo"/>',
    )
    assert difference(expected, actual) is None


def test_the_protocol_version_is_not_tolerated() -> None:
    expected = CREATE + CREATED
    assert difference(
        expected, created("k").replace('value="1"/></ProtocolVersion>', 'value="0"/></ProtocolVersion>')
    ) == ("message 1 / ResponseHeader / ProtocolVersion / ProtocolVersionMinor: expected 1, got 0")


LOCATE = request(
    ask("Locate", '<Attributes><ObjectType type="Enumeration" value="SymmetricKey"/></Attributes>')
)


def test_located_items_may_be_added_but_must_match_when_expected() -> None:
    found = response(item("Locate", '<LocatedItems type="Integer" value="1"/>' + uid("k")))
    assert difference(LOCATE + response(item("Locate", uid("$UNIQUE_IDENTIFIER_0"))), found) is None
    expected = LOCATE + response(
        item("Locate", '<LocatedItems type="Integer" value="2"/>' + uid("$UNIQUE_IDENTIFIER_0"))
    )
    assert (
        difference(expected, found)
        == "message 1 / BatchItem / ResponsePayload / LocatedItems: expected 2, got 1"
    )


def test_locate_results_keep_their_order_and_count() -> None:
    expected = LOCATE + response(item("Locate", uid("$UNIQUE_IDENTIFIER_0")))
    assert difference(expected, response(item("Locate", ""))) == (
        "message 1 / BatchItem / ResponsePayload: missing UniqueIdentifier"
    )
    assert difference(expected, response(item("Locate", uid("a") + uid("b")))) == (
        "message 1 / BatchItem / ResponsePayload: unexpected UniqueIdentifier 'b'"
    )


def test_all_attributes_tolerates_extras_and_optional_server_attributes_only() -> None:
    case = CREATE + CREATED + get_attributes()  # no reference: all attributes
    case += attributes("$UNIQUE_IDENTIFIER_0", STATE_PREACTIVE + LENGTH_256 + RNG + digest("00" * 32))
    extra = '<Fresh type="Boolean" value="true"/>'
    # Any order, more attributes, no Random Number Generator: a server may.
    assert (
        difference(
            case, created("k"), attributes("k", extra + LENGTH_256 + digest("11" * 32) + STATE_PREACTIVE)
        )
        is None
    )
    # Without the Digest it may not: the spec requires it of keys.
    assert difference(case, created("k"), attributes("k", LENGTH_256 + STATE_PREACTIVE)) == (
        "message 2 / BatchItem / ResponsePayload / Attributes: missing Digest"
    )


def test_named_attributes_tolerate_no_extras() -> None:
    case = CREATE + CREATED + get_attributes("State", "ActivationDate")
    case += attributes("$UNIQUE_IDENTIFIER_0", STATE_PREACTIVE)
    activation = f'<ActivationDate type="DateTime" value="{NOW_TEXT}"/>'
    assert difference(case, created("k"), attributes("k", STATE_PREACTIVE + RNG)) is None  # server-chosen
    assert difference(case, created("k"), attributes("k", STATE_PREACTIVE + activation)) == (
        f"message 2 / BatchItem / ResponsePayload / Attributes: unexpected ActivationDate {NOW_TEXT}"
    )


def test_repeated_attributes_match_in_any_order() -> None:
    def name(text: str) -> str:
        return (
            f'<Name><NameValue type="TextString" value="{text}"/>'
            '<NameType type="Enumeration" value="UninterpretedTextString"/></Name>'
        )

    case = (
        CREATE + CREATED + get_attributes("Name") + attributes("$UNIQUE_IDENTIFIER_0", name("a") + name("b"))
    )
    assert difference(case, created("k"), attributes("k", name("b") + name("a"))) is None
    assert difference(case, created("k"), attributes("k", name("b") + name("c"))) == (
        "message 2 / BatchItem / ResponsePayload / Attributes / Name[1] / NameValue: expected 'a', got 'b'"
    )


def test_generated_key_material_and_digest_are_the_servers_but_stay_the_same() -> None:
    def key(material: str) -> str:
        return response(
            item(
                "Get",
                '<ObjectType type="Enumeration" value="SymmetricKey"/>'
                + uid("k")
                + '<SymmetricKey><KeyBlock><KeyFormatType type="Enumeration" value="Raw"/>'
                f'<KeyValue><KeyMaterial type="ByteString" value="{material}"/></KeyValue>'
                f"{ALGORITHM_AES}{LENGTH_256}</KeyBlock></SymmetricKey>",
            )
        )

    get = request(ask("Get", uid("$UNIQUE_IDENTIFIER_0")))
    expected_get = key("2a" * 32).replace(uid("k"), uid("$UNIQUE_IDENTIFIER_0"))
    case = CREATE + CREATED + get + expected_get + get + expected_get
    assert difference(case, created("k"), key("11" * 32), key("11" * 32)) is None
    assert difference(case, created("k"), key("11" * 32), key("22" * 32)) == (
        "message 3 / BatchItem / ResponsePayload / SymmetricKey / KeyBlock / KeyValue / KeyMaterial: "
        f"the server-generated value changed: it was {'11' * 32}, got {'22' * 32}"
    )
    assert difference(case, created("k"), key("11" * 16)) == (
        "message 2 / BatchItem / ResponsePayload / SymmetricKey / KeyBlock / KeyValue / KeyMaterial: "
        "expected 32 bytes (a server-generated value), got 16"
    )
    # A registered key is the client's: its material must come back exactly.
    registered = request(ask("Register", '<ObjectType type="Enumeration" value="SymmetricKey"/>'))
    registered += response(item("Register", uid("$UNIQUE_IDENTIFIER_0")))
    assert difference(
        registered + get + expected_get, response(item("Register", uid("k"))), key("11" * 32)
    ) == (
        "message 2 / BatchItem / ResponsePayload / SymmetricKey / KeyBlock / KeyValue / KeyMaterial: "
        f"expected {'2a' * 32}, got {'11' * 32}"
    )


def test_a_generated_digest_binds_per_object_across_files_of_a_session() -> None:
    case = CREATE + CREATED + get_attributes("Digest") + attributes("$UNIQUE_IDENTIFIER_0", digest("ab" * 32))
    session = Session()
    assert difference(case, created("k"), attributes("k", digest("01" * 32)), session=session) is None
    reread = get_attributes("Digest").replace("$UNIQUE_IDENTIFIER_0", "k") + attributes(
        "k", digest("ab" * 32)
    )
    assert difference(reread, attributes("k", digest("01" * 32)), session=session) is None
    assert difference(reread, attributes("k", digest("02" * 32)), session=session) == (
        "message 1 / BatchItem / ResponsePayload / Attributes / Digest / DigestValue: "
        f"the server-generated value changed: it was {'01' * 32}, got {'02' * 32}"
    )


def test_query_answers_describe_the_server() -> None:
    case = request(ask("Query", '<QueryFunction type="Enumeration" value="QueryOperations"/>'))
    case += response(
        item(
            "Query",
            '<Operation type="Enumeration" value="Query"/><Operation type="Enumeration" value="Check"/>'
            '<VendorIdentification type="TextString" value="server-vendor.com"/>',
        )
    )
    ours = (
        '<Operation type="Enumeration" value="Create"/><VendorIdentification type="TextString" value="us"/>'
    )
    assert difference(case, response(item("Query", ours))) is None
    assert difference(
        case, response(item("Query", '<VendorIdentification type="TextString" value="us"/>'))
    ) == (
        "message 1 / BatchItem / ResponsePayload: missing Operation "
        "(Query Operations: the server lists the operations it supports)"
    )


def test_operation_undone_items_may_add_a_reason_but_keep_their_payload() -> None:
    case = request(ask("Activate", uid("x"))) + response(item("Activate", uid("x"), status="OperationUndone"))
    reason = '<ResultReason type="Enumeration" value="GeneralFailure"/>'
    assert (
        difference(case, response(item("Activate", uid("x"), status="OperationUndone", extra=reason))) is None
    )
    assert difference(case, response(item("Activate", None, status="OperationUndone", extra=reason))) == (
        "message 1 / BatchItem: missing ResponsePayload"
    )


# --- files, sessions and the transport ------------------------------------------------------------


def _perfect_server(case: TestCase) -> Callable[[bytes], bytes]:
    """A server that answers each request with the file's expected response, placeholders filled in."""

    def fill(item: Item) -> Item:
        if item.type is ItemType.STRUCTURE:
            return Item(item.tag, item.type, [fill(child) for child in item.children])
        name = case.placeholders.name_of(item)
        if name is None:
            return item
        now = NOW_PLACEHOLDER.match(name)
        if now is not None:
            sign, amount = now.groups()
            return Item(item.tag, item.type, NOW + int(amount or 0) * (-1 if sign == "-" else 1))
        if item.type is ItemType.TEXT_STRING:
            return Item(item.tag, item.type, f"id{name}")
        if item.type is ItemType.BYTE_STRING:
            return Item(item.tag, item.type, name.encode())
        return Item(item.tag, item.type, zlib.crc32(name.encode()) & 0x7FFFFFFF)

    answers: Iterator[Item] = (fill(step.expected) for step in case.steps)
    return lambda _request: binary.encode(next(answers))


def test_every_profile_file_passes_against_a_server_that_answers_as_expected(
    profile_paths: list[Path],
) -> None:
    """The whole replay (reading, filling in requests, binding, comparing) on every profile file."""
    for path in profile_paths:
        case = load(path)
        result = run_files([path], _perfect_server(case), clock=lambda: NOW)[0]
        assert result.passed, result.line()
        assert result.messages == len(case.steps)


def test_a_changed_answer_in_a_real_file_is_reported_with_its_path(testcase_files: dict[str, Path]) -> None:
    path = testcase_files["SKLC-M-1-21"]
    case = load(path)
    perfect = _perfect_server(case)
    count = 0

    def server(data: bytes) -> bytes:
        nonlocal count
        count += 1
        answer = perfect(data)
        if count == 2:  # the Get Attributes answer: a 128-bit key instead of 256
            answer = answer.replace(
                bytes.fromhex("42002a020000000400000100"), bytes.fromhex("42002a020000000400000080")
            )
        return answer

    result = run_case(path, server, Session(), clock=lambda: NOW)
    assert result.line() == (
        "FAIL SKLC-M-1-21: message 2 / BatchItem / ResponsePayload / Attributes / CryptographicLength: "
        "expected 256, got 128"
    )


def test_unreadable_files_and_broken_connections_fail_that_file_only(
    tmp_path: Path, testcase_files: dict[str, Path]
) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<KMIP><RequestMessage></KMIP>")
    lonely = tmp_path / "lonely.xml"
    lonely.write_text(f"<KMIP>{CREATE}</KMIP>")

    def refuse(_request: bytes) -> bytes:
        raise KmipConnectionError("the server closed the connection")

    path = testcase_files["OMOS-M-1-21"]
    results = run_files([broken, lonely, tmp_path / "absent.xml", path], refuse)
    assert [r.passed for r in results] == [False] * 4
    assert results[0].difference is not None and results[0].difference.startswith(f"cannot read {broken}")
    assert results[1].difference is not None and "has no ResponseMessage after it" in results[1].difference
    assert results[2].difference is not None and "absent.xml" in results[2].difference
    assert results[3].difference == "message 1: no response: the server closed the connection"
    assert summary(results) == "0 passed, 4 failed"
    with pytest.raises(TestCaseError):
        parse("<KMIP></KMIP>", "empty")


def test_a_file_that_needs_another_says_so_when_it_fails(testcase_files: dict[str, Path]) -> None:
    assert prerequisites("TL-M-3-21") == ["TL-M-2-21"]
    assert prerequisites("SASED-M-3-14") == ["SASED-M-2-14"]
    assert prerequisites("SKLC-M-1-21") == [] and prerequisites("anything") == []
    path = testcase_files["TL-M-3-21"]
    case = load(path)
    empty_locate = _perfect_server(parse(f"<KMIP>{LOCATE}{response(item('Locate', ''))}</KMIP>", "x"))
    result = run_case(path, empty_locate, Session(), clock=lambda: NOW)
    assert not result.passed and case.steps
    assert result.difference is not None and result.difference.endswith(
        "(this file needs what TL-M-2-21 leaves: run it first, in the same session)"
    )


def test_extra_attributes_must_be_attributes_of_the_clients_version() -> None:
    def attribute(name: str, value: str) -> str:
        return f'<Attribute><AttributeName type="TextString" value="{name}"/>{value}</Attribute>'

    state = attribute("State", '<AttributeValue type="Enumeration" value="PreActive"/>')
    case = request(ask("GetAttributes", uid("x")), version="1.4")
    case += response(item("GetAttributes", uid("x") + state), version="1.4")

    def answer(extra: str) -> str:
        return response(item("GetAttributes", uid("x") + state + extra), version="1.4")

    for fine in (
        attribute("Sensitive", '<AttributeValue type="Boolean" value="false"/>'),
        attribute("x-Barcode", '<AttributeValue type="TextString" value="XXA012A1"/>'),
    ):
        assert difference(case, answer(fine)) is None
    assert difference(
        case, answer(attribute("Key Format Type", '<AttributeValue type="Enumeration" value="Raw"/>'))
    ) == (
        "message 1 / BatchItem / ResponsePayload: unexpected Attribute[Key Format Type]: not an attribute of "
        "KMIP 1.4 (a Key Block field in KMIP 1.x; an attribute only since 2.0)"
    )
    assert difference(
        case, answer(attribute("Rotate Date", f'<AttributeValue type="DateTime" value="{NOW_TEXT}"/>'))
    ) == (
        "message 1 / BatchItem / ResponsePayload: unexpected Attribute[Rotate Date]: "
        "not an attribute of KMIP 1.4"
    )


def test_results_list_the_tolerances_they_applied() -> None:
    case = CREATE + CREATED + get_attributes()
    case += attributes("$UNIQUE_IDENTIFIER_0", STATE_PREACTIVE + RNG + digest("00" * 32))
    result = replay(case, created("k"), attributes("k", STATE_PREACTIVE + digest("11" * 32) + LENGTH_256))
    assert result.passed, result.difference
    assert result.notes == (
        "message 2 / BatchItem / ResponsePayload / Attributes: the server has no RandomNumberGenerator "
        "(which generator a server uses is its own; not required (§4.46))",
        "message 2 / BatchItem / ResponsePayload / Attributes / Digest / DigestValue: "
        "a value the server generated (later sightings must match it)",
        "message 2 / BatchItem / ResponsePayload / Attributes: the server also returned CryptographicLength",
    )
