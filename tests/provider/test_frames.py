"""The library's direct KMIP message path against the typed codec, which is the reference.

`frames.request` must write exactly what `KmipClient.request_message(...).encode()`
writes, and `frames.read_response` must read what the typed decoder reads, or leave
the message to it (None): for many calls, correlation values, data lengths, versions.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from pkcs11_kmip.cryptoki import frames
from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import ResponseBatchItem, ResponseHeader, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import (
    Operation,
    PKCS11Function,
    PKCS11ReturnCode,
    ResultReason,
    ResultStatus,
)

NOW = 1_795_000_000
CORRELATION_VALUES = [None, bytes(range(16)), b"x"]
DATA = [b"", b"\x01", bytes(range(7)), bytes(range(8)), bytes(range(9)), bytes(200)]
VERSIONS = [(2, 0), (2, 1)]


def typed_request(version: tuple[int, int], function: int, cv: bytes | None, data: bytes) -> bytes:
    client = KmipClient.__new__(KmipClient)  # request_message needs only the version
    client.version = version
    payload = PKCS11Request(
        pkcs_11_function=PKCS11Function(function), correlation_value=cv, pkcs_11_input_parameters=data or None
    )
    return client.request_message(payload, time_stamp=datetime.fromtimestamp(NOW, UTC)).encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_requests_are_the_typed_encoders_bytes(version: tuple[int, int]) -> None:
    functions = [1, 2, 3, 5, 25, 44, 65, 92]
    for function, cv, data in itertools.product(functions, CORRELATION_VALUES, DATA):
        expected = typed_request(version, function, cv, data)
        assert frames.request(function, cv, data, version, NOW) == expected, (function, cv, data)


def response(
    version: tuple[int, int],
    payload: PKCS11Response | None,
    status: ResultStatus = ResultStatus.SUCCESS,
    reason: ResultReason | None = None,
    items: int = 1,
) -> bytes:
    header = ResponseHeader(
        protocol_version=ProtocolVersion.of(version),
        time_stamp=datetime.fromtimestamp(NOW, UTC),
        batch_count=items,
    )
    if version >= (1, 4):
        header.server_correlation_value = "srv-17"
    item = ResponseBatchItem(
        operation=Operation.PKCS_11, result_status=status, result_reason=reason, response_payload=payload
    )
    return ResponseMessage(header=header, batch_items=[item] * items).encode()


@pytest.mark.parametrize("version", VERSIONS)
def test_plain_answers_read_as_the_typed_decoder_reads_them(version: tuple[int, int]) -> None:
    codes = [PKCS11ReturnCode(0), PKCS11ReturnCode(0x150), PKCS11ReturnCode(0x190)]
    for cv, output, code in itertools.product(CORRELATION_VALUES, [None, *DATA], codes):
        payload = PKCS11Response(
            pkcs_11_function=PKCS11Function(44),
            correlation_value=cv,
            pkcs_11_output_parameters=output,
            pkcs_11_return_code=code,
        )
        data = response(version, payload)
        typed = ResponseMessage.decode(data).batch_items[0].response_payload
        assert isinstance(typed, PKCS11Response)
        answer = frames.read_response(data)
        assert answer == frames.Answer(
            44, int(code), typed.correlation_value, typed.pkcs_11_output_parameters
        ), (cv, output, code)


def test_anything_else_is_left_to_the_typed_decoder() -> None:
    ok = PKCS11Response(pkcs_11_function=PKCS11Function(3), pkcs_11_return_code=PKCS11ReturnCode(0))
    failed = response((2, 1), None, ResultStatus.OPERATION_FAILED, ResultReason.PKCS_11_CODEC_ERROR)
    assert frames.read_response(failed) is None
    assert frames.read_response(response((2, 1), ok, items=2)) is None
    plain = response((2, 1), ok)
    assert frames.read_response(plain) is not None
    for cut in range(len(plain)):  # never raises, never misreads a truncated message
        assert frames.read_response(plain[:cut]) is None
    assert frames.read_response(plain + bytes(8)) is None
    tampered = bytearray(plain)
    tampered[-2] = 1  # padding of the return code's value is not zero
    assert frames.read_response(bytes(tampered)) is None
