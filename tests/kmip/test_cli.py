"""`pkcs11-kmip ttlv convert` as a user runs it: the installed command, in a subprocess."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pkcs11_kmip.cli.ttlv import BOUND_NOW, bind_placeholder
from pkcs11_kmip.kmip.ttlv import Item, ItemType, binary, json_codec, xml_codec
from pkcs11_kmip.kmip.ttlv.text import PlaceholderResolver

# Spec §9.1.2 examples: an Integer 8, and a Structure holding an Enumeration and an Integer.
INTEGER_8 = "42002002000000040000000800000000"
STRUCTURE = "42002001000000204200040500000004000000FE000000004200050200000004000000FF00000000"


def command() -> list[str]:
    """The installed console script beside this Python, else the same entry point via -c."""
    script = Path(sys.executable).with_name("pkcs11-kmip")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from pkcs11_kmip.cli import main; sys.exit(main())"]


@dataclass
class Result:
    returncode: int
    stdout: bytes
    stderr: str


def run(*args: str | Path, stdin: bytes = b"") -> Result:
    done = subprocess.run([*command(), *map(str, args)], input=stdin, capture_output=True, timeout=60)
    return Result(done.returncode, done.stdout, done.stderr.decode())


def convert(*args: str | Path, stdin: bytes = b"") -> bytes:
    """Run `ttlv convert` and insist that it succeeded."""
    result = run("ttlv", "convert", *args, stdin=stdin)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return result.stdout


def assert_clean_failure(result: Result, status: int, *fragments: str) -> None:
    """The promised failure: the exit status, one line on stderr, no traceback, no output."""
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == b""
    if status == 1:
        assert result.stderr.startswith("pkcs11-kmip: ")
        assert result.stderr.count("\n") == 1
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.fixture(scope="module")
def pkcs11_case(testcases_dir: Path) -> Path:
    """The official PKCS#11 profile test case."""
    return testcases_dir / "kmip-profiles-v2.1" / "mandatory" / "PKCS11-M-1-21.xml"


@pytest.fixture(scope="module")
def kmip14_case(testcases_dir: Path) -> Path:
    """A KMIP 1.4 case with named mask bits, $NOW-3600 and KMIP 1.x Attribute Values."""
    return testcases_dir / "kmip-profiles-v1.4" / "mandatory" / "SKLC-M-1-14.xml"


@pytest.fixture(scope="module")
def pkcs11_messages(pkcs11_case: Path) -> list[Item]:
    """PKCS11-M-1-21 decoded with the placeholders bound as --bind-placeholders binds them."""
    return xml_codec.decode(pkcs11_case.read_bytes(), placeholders=bind_placeholder)


def test_golden_pkcs11_test_case_converts_to_ttlv_and_back(
    pkcs11_case: Path, pkcs11_messages: list[Item]
) -> None:
    wire = convert("--to", "ttlv", "--bind-placeholders", pkcs11_case)
    assert binary.decode_all(wire) == pkcs11_messages
    assert len(pkcs11_messages) == 6  # three requests, three responses
    back = convert("--to", "xml", "-", stdin=wire)
    assert xml_codec.decode(back) == pkcs11_messages
    assert back.startswith(b"<KMIP>")


def test_binding_is_deterministic_and_follows_now(kmip14_case: Path, bind: PlaceholderResolver) -> None:
    first = convert("--to", "ttlv", "--bind-placeholders", kmip14_case)
    assert convert("--to", "ttlv", "--bind-placeholders", kmip14_case) == first
    assert bind(ItemType.DATE_TIME, "$NOW") == BOUND_NOW
    assert bind(ItemType.DATE_TIME, "$NOW-3600") == BOUND_NOW - 3600
    assert bind(ItemType.DATE_TIME_EXTENDED, "$NOW+20") == (BOUND_NOW + 20) * 1_000_000
    assert bind(ItemType.BYTE_STRING, "$DATA_0") == b"$DATA_0"


def test_placeholders_are_kept_in_xml_and_json(pkcs11_case: Path, pkcs11_messages: list[Item]) -> None:
    as_json = convert("--to", "json", pkcs11_case)
    assert b'"value": "$NOW"' in as_json and b'"value": "$CORRELATION_VALUE"' in as_json
    assert json_codec.decode(as_json, placeholders=bind_placeholder) == pkcs11_messages
    as_xml = convert("--to", "xml", "-", stdin=as_json)
    assert b'<TimeStamp type="DateTime" value="$NOW"/>' in as_xml
    assert xml_codec.decode(as_xml, placeholders=bind_placeholder) == pkcs11_messages


def test_placeholders_refused_for_ttlv_without_binding(pkcs11_case: Path) -> None:
    result = run("ttlv", "convert", "--to", "ttlv", pkcs11_case)
    assert_clean_failure(result, 1, "PKCS11-M-1-21.xml", "line 37", "'$NOW'", "--bind-placeholders")


def test_placeholder_in_an_integer_needs_binding_for_json() -> None:
    document = b'<BatchCount type="Integer" value="$COUNT"/>'
    assert_clean_failure(run("ttlv", "convert", "--to", "json", "-", stdin=document), 1, "$COUNT", "Integer")
    bound = json_codec.decode(convert("--to", "json", "--bind-placeholders", "-", stdin=document))
    assert bound[0].type is ItemType.INTEGER


def test_a_value_reserved_for_placeholders_is_not_mistaken_for_one() -> None:
    document = b'<ActivationDate type="DateTime" value="0x8000000000000000"/>'
    assert xml_codec.decode(convert("--to", "xml", "-", stdin=document)) == xml_codec.decode(document)
    mixed = b"<KMIP>" + document + b'<ActivationDate type="DateTime" value="$NOW"/></KMIP>'
    assert_clean_failure(run("ttlv", "convert", "--to", "json", "-", stdin=mixed), 1, "--bind-placeholders")


@pytest.mark.parametrize(
    "text",
    [INTEGER_8, INTEGER_8.lower() + "\n", " 4200 2002\n0000 0004\r\n0000 0008 0000 0000 \n"],
    ids=["upper", "lower", "spaced"],
)
def test_hex_input_on_stdin(text: str) -> None:
    assert xml_codec.decode(convert("--to", "xml", "-", stdin=text.encode())) == [
        Item(0x420020, ItemType.INTEGER, 8)
    ]


def test_raw_binary_file_to_json(tmp_path: Path) -> None:
    path = tmp_path / "message.ttlv"
    path.write_bytes(bytes.fromhex(STRUCTURE))
    (item,) = json_codec.decode(convert("--to", "json", path))
    assert item == binary.decode(bytes.fromhex(STRUCTURE))


def test_multi_message_stream_converts_message_by_message() -> None:
    stream = bytes.fromhex(INTEGER_8 + STRUCTURE + INTEGER_8)
    expected = binary.decode_all(stream)
    as_xml = convert("--to", "xml", "-", stdin=stream)
    assert as_xml.startswith(b"<KMIP>") and xml_codec.decode(as_xml) == expected
    as_json = convert("--to", "json", "-", stdin=stream)
    assert as_json.lstrip().startswith(b"[") and json_codec.decode(as_json) == expected
    assert convert("--to", "ttlv", "-", stdin=as_json) == stream
    lines = convert("--to", "ttlv", "--hex", "-", stdin=as_xml).decode().splitlines()
    assert lines == [INTEGER_8.lower(), STRUCTURE.lower(), INTEGER_8.lower()]


def test_single_message_is_written_on_its_own() -> None:
    assert convert("--to", "xml", "-", stdin=INTEGER_8.encode()).startswith(b"<CompromiseDate ")
    assert convert("--to", "json", "-", stdin=INTEGER_8.encode()).startswith(b"{")


def test_from_forces_the_input_encoding() -> None:
    assert_clean_failure(
        run("ttlv", "convert", "--from", "json", "--to", "xml", "-", stdin=b"<X/>"), 1, "JSON"
    )


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "out.ttlv"
    assert convert("--to", "ttlv", "-o", target, "-", stdin=INTEGER_8.encode()) == b""
    assert target.read_bytes() == bytes.fromhex(INTEGER_8)


def test_failed_conversion_leaves_the_output_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "out.xml"
    target.write_text("precious")
    assert_clean_failure(run("ttlv", "convert", "--to", "xml", "-o", target, "-", stdin=b"42"), 1)
    assert target.read_text() == "precious"


@pytest.mark.parametrize(
    ("stdin", "fragments"),
    [
        (bytes.fromhex(STRUCTURE)[:-3], ("<stdin>", "at byte")),
        (b"4200200", ("odd number of digits",)),
        (b"<RequestMessage><BatchCount/>", ("malformed XML",)),
        (b'{"tag": "NoSuchTag", "value": []}', ("not a KMIP tag name",)),
        (b"  \n", ("empty",)),
        (b"<KMIP></KMIP>", ("no KMIP message",)),
        (b"\xff\xfe<\x00\x00\x00\x00\x00", ("tag 0xFFFE3C",)),
        (b'<BatchCount type="Integer" value="1"/>\xff', ("UTF-8",)),
    ],
    ids=["truncated", "odd hex", "bad XML", "bad JSON", "empty", "empty KMIP", "garbage", "not UTF-8"],
)
def test_bad_input_fails_cleanly(stdin: bytes, fragments: tuple[str, ...]) -> None:
    assert_clean_failure(run("ttlv", "convert", "--to", "xml", "-", stdin=stdin), 1, *fragments)


def test_missing_file_fails_cleanly(tmp_path: Path) -> None:
    missing = tmp_path / "missing.ttlv"
    assert_clean_failure(run("ttlv", "convert", "--to", "xml", missing), 1, str(missing), "No such file")


def test_limits_apply(pkcs11_case: Path) -> None:
    too_large = run("ttlv", "convert", "--to", "json", "--max-size", "1K", pkcs11_case)
    assert_clean_failure(too_large, 1, "1024 bytes")
    deep = b"<RequestMessage>" * 5 + b"</RequestMessage>" * 5
    assert_clean_failure(
        run("ttlv", "convert", "--to", "json", "--max-depth", "4", "-", stdin=deep), 1, "deeper"
    )
    assert json_codec.decode(convert("--to", "json", "--max-depth", "5", "-", stdin=deep))


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "xml", "--hex", "-"],
        ["--to", "yaml", "-"],
        ["-"],
        ["--to", "xml", "--max-depth", "0", "-"],
        ["--to", "xml", "--max-size", "lots", "-"],
    ],
    ids=["hex without ttlv", "unknown format", "no --to", "depth 0", "bad size"],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert_clean_failure(run("ttlv", "convert", *args, stdin=INTEGER_8.encode()), 2)


def test_help_explains_detection_placeholders_and_exit_status() -> None:
    result = run("ttlv", "convert", "--help")
    assert result.returncode == 0
    text = result.stdout.decode()
    for promise in (
        "hex text",
        "<KMIP>",
        "--bind-placeholders",
        "$NOW",
        "2024-01-01T00:00:00Z",
        "exit status",
    ):
        assert promise in text
    assert "convert" in run("ttlv", "--help").stdout.decode()


def test_raw_ttlv_is_not_written_to_a_terminal() -> None:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [*command(), "ttlv", "convert", "--to", "ttlv", "-"],
            input=INTEGER_8.encode(),
            stdout=terminal,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode == 2
    assert b"--hex" in done.stderr
