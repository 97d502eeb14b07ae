"""The Cryptoki argument encoding (pkcs11_kmip.cryptoki.wire, docs/wire-format.md).

Golden vectors: the official PKCS11-M-1-21 exchange byte for byte; layouts spelled
out by hand for the functions the first forwarding slice uses; and one frozen vector
per forwarded function (wire_vectors.json, written by running this file as a script
after a reviewed change of the layout).
"""

from __future__ import annotations

import contextlib
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkcs11_kmip.cli.ttlv import bind_placeholder
from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import CALLS
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeQuery,
    Kind,
    Mechanism,
    MessageParameter,
    OutData,
    OutRequest,
    Value,
    WireError,
)
from pkcs11_kmip.kmip.messages import RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Request, PKCS11Response
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.ttlv import xml_codec

HERE = Path(__file__).resolve().parent
VECTORS = HERE / "wire_vectors.json"
TESTCASES = HERE.parents[2] / "shared" / "kmip" / "testcases"

CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_EC_PARAMS = 0x0, 0x1, 0x3, 0x11, 0x180
CKA_ALLOWED_MECHANISMS, CKA_WRAP_TEMPLATE = 0x40000600, 0x40000211
CKO_SECRET_KEY, CKM_EC_KEY_PAIR_GEN, CKM_ECDSA, CKM_AES_GCM = 4, 0x1040, 0x1041, 0x1087
GCM_MESSAGE: wire.StructValue = {
    "pIv": bytes(12),
    "ulIvFixedBits": 0,
    "ivGenerator": 3,  # CKG_GENERATE_RANDOM
    "pTag": bytes(16),
    "ulTagBits": 128,
}


def native(value: int) -> bytes:
    """A CK_ULONG attribute value as the application holds it."""
    return struct.pack("@L", value)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --- the official test case -----------------------------------------------------------------


def official_payloads() -> list[PKCS11Request | PKCS11Response]:
    path = TESTCASES / "kmip-profiles-v2.1" / "mandatory" / "PKCS11-M-1-21.xml"
    payloads: list[PKCS11Request | PKCS11Response] = []
    for item in xml_codec.decode(path.read_bytes(), placeholders=bind_placeholder):
        message = RequestMessage.from_item(item) if item.tag == Tag.REQUEST_MESSAGE else None
        if message is None:
            response = ResponseMessage.from_item(item)
            payloads.append(response.batch_items[0].response_payload)
        else:
            payloads.append(message.batch_items[0].request_payload)
    return payloads


def test_pkcs11_m_1_21_round_trips_byte_for_byte() -> None:
    initialize, initialized, get_info, info, finalize, finalized = official_payloads()
    assert isinstance(initialize, PKCS11Request) and initialize.pkcs_11_input_parameters == b"\x01"
    assert wire.decode_inputs("C_Initialize", b"\x01") == {"pInitArgs": 1}
    assert wire.encode_inputs("C_Initialize", {}) == b"\x01"
    # C_GetInfo and C_Finalize send no Input Parameters at all: our encoding is empty.
    assert isinstance(get_info, PKCS11Request) and get_info.pkcs_11_input_parameters is None
    assert wire.encode_inputs("C_GetInfo", {}) == b""
    assert isinstance(finalize, PKCS11Request) and finalize.pkcs_11_input_parameters is None
    assert wire.encode_inputs("C_Finalize", {}) == b""
    assert isinstance(info, PKCS11Response)
    output = info.pkcs_11_output_parameters
    assert output is not None and len(output) == 76
    decoded = wire.decode_outputs("C_GetInfo", output)
    assert decoded == {
        "pInfo": {
            "cryptokiVersion": (2, 40),
            "manufacturerID": b"TEST      Pty Ltd".ljust(32),
            "flags": 0,
            "libraryDescription": b"TEST".ljust(32),
            "libraryVersion": (1, 0),
        }
    }
    assert wire.encode_outputs("C_GetInfo", decoded) == output
    # C_Initialize and C_Finalize answer no Output Parameters.
    for payload in (initialized, finalized):
        assert isinstance(payload, PKCS11Response) and payload.pkcs_11_output_parameters is None
    assert not wire.plan("C_Initialize").outputs and not wire.plan("C_Finalize").outputs


# --- layouts spelled out --------------------------------------------------------------------

SP800_108_PARAMS: wire.StructValue = {
    "prfType": 0x251,  # CKM_SHA256_HMAC
    "pDataParams": (
        {"type": 1, "pValue": {"bLittleEndian": 0, "ulWidthInBits": 32}},  # ITERATION_VARIABLE
        {"type": 4, "pValue": b"label"},  # BYTE_ARRAY
        {"type": 3, "pValue": {"dkmLengthMethod": 1, "bLittleEndian": 0, "ulWidthInBits": 32}},  # DKM_LENGTH
    ),
    "ulAdditionalDerivedKeys": 0,
}

FEEDBACK_DATA_PARAMS: tuple[wire.StructValue, ...] = (
    {"type": 1, "pValue": None},  # ITERATION_VARIABLE: K(i-1), no format
    {"type": 2, "pValue": {"bLittleEndian": 0, "ulWidthInBits": 32}},  # OPTIONAL_COUNTER
)
SP800_108_FEEDBACK_PARAMS: wire.StructValue = {
    "prfType": 0x251,
    "pDataParams": FEEDBACK_DATA_PARAMS,
    "pIV": b"\x01\x02\x03\x04",
    "ulAdditionalDerivedKeys": 0,
}

SPELLED_OUT: list[tuple[str, dict[str, Value], bytes]] = [
    (
        "C_GetSlotList",  # tokenPresent · list request: NULL buffer, *pulCount = 0
        {"tokenPresent": 1, "pSlotList": OutRequest(False, 0)},
        h("01 00 00000000"),
    ),
    (
        "C_GetMechanismInfo",  # slotID · type: two CK_ULONGs, 8 bytes big-endian each
        {"slotID": 0x7870195D, "type": CKM_ECDSA},
        h("000000007870195d 0000000000001041"),
    ),
    (
        "C_OpenSession",  # slotID · flags (pApplication and Notify stay local)
        {"slotID": 1, "flags": 6},
        h("0000000000000001 0000000000000006"),
    ),
    (
        "C_Login",  # hSession · userType · PIN: present, length 4, "1234"
        {"hSession": 1, "userType": 1, "pPin": b"1234"},
        h("0000000000000001 0000000000000001 01 00000004 31323334"),
    ),
    (
        "C_Login",  # a NULL PIN (protected authentication path): absent
        {"hSession": 1, "userType": 1, "pPin": None},
        h("0000000000000001 0000000000000001 00"),
    ),
    (
        "C_FindObjectsInit",  # template: count, then type · value flag · length flag · length · value
        {"hSession": 2, "pTemplate": (Attribute.of(CKA_CLASS, native(CKO_SECRET_KEY)),)},
        h("0000000000000002 00000001 0000000000000000 01 01 00000008 0000000000000004"),
    ),
    (
        "C_FindObjects",  # hSession · handle list request: buffer present, room for 16
        {"hSession": 2, "phObject": OutRequest(True, 16)},
        h("0000000000000002 01 00000010"),
    ),
    (
        "C_GetAttributeValue",  # query template: type · buffer given · length flag · capacity
        {
            "hSession": 2,
            "hObject": 5,
            "pTemplate": (AttributeQuery(CKA_LABEL, False, 0), AttributeQuery(CKA_VALUE, True, 32)),
        },
        h(
            "0000000000000002 0000000000000005 00000002"
            "0000000000000003 00 01 00000000"
            "0000000000000011 01 01 00000020"
        ),
    ),
    (
        "C_GenerateKeyPair",  # mechanism without parameter · two templates (CK_BBOOL: one byte)
        {
            "hSession": 1,
            "pMechanism": Mechanism(CKM_EC_KEY_PAIR_GEN),
            "pPublicKeyTemplate": (Attribute.of(CKA_EC_PARAMS, h("06082a8648ce3d030107")),),
            "pPrivateKeyTemplate": (Attribute.of(CKA_TOKEN, b"\x01"),),
        },
        h(
            "0000000000000001 0000000000001040 00"
            "00000001 0000000000000180 01 01 0000000a 06082a8648ce3d030107"
            "00000001 0000000000000001 01 01 00000001 01"
        ),
    ),
    (
        "C_EncryptInit",  # CK_GCM_PARAMS inline, each pointer + length as flag · length · bytes
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                CKM_AES_GCM,
                {"pIv": h("000102030405060708090a0b"), "ulIvBits": 96, "pAAD": None, "ulTagBits": 128},
            ),
            "hKey": 7,
        },
        h(
            "0000000000000001 0000000000001087 01 00000022"
            "01 0000000c 000102030405060708090a0b 0000000000000060 00 0000000000000080"
            "0000000000000007"
        ),
    ),
    (
        "C_EncryptInit",  # CK_CHACHA20_PARAMS: counter and nonce as data (their bit lengths / 8)
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x1226,  # CKM_CHACHA20
                {"pBlockCounter": h("01000000"), "pNonce": h("000000000000004a00000000")},
            ),
            "hKey": 7,
        },
        h(
            "0000000000000001 0000000000001226 01 0000001a"
            "01 00000004 01000000 01 0000000c 000000000000004a00000000"
            "0000000000000007"
        ),
    ),
    (
        "C_DecryptInit",  # CK_SALSA20_CHACHA20_POLY1305_PARAMS: nonce and AAD as data
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x4021,  # CKM_CHACHA20_POLY1305
                {"pNonce": h("070000004041424344454647"), "pAAD": h("50515253c0c1c2c3c4c5c6c7")},
            ),
            "hKey": 7,
        },
        h(
            "0000000000000001 0000000000004021 01 00000022"
            "01 0000000c 070000004041424344454647 01 0000000c 50515253c0c1c2c3c4c5c6c7"
            "0000000000000007"
        ),
    ),
    (
        "C_EncryptInit",  # CKM_AES_XTS: the 16-byte tweak as plain bytes
        {"hSession": 1, "pMechanism": Mechanism(0x1071, bytes(range(16))), "hKey": 7},
        h("0000000000000001 0000000000001071 01 00000010 000102030405060708090a0b0c0d0e0f 0000000000000007"),
    ),
    (
        "C_DeriveKey",  # CK_HKDF_PARAMS inline: two CK_BBOOLs (1 byte each), salt and info as data
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x402A,  # CKM_HKDF_DERIVE
                {
                    "bExtract": 1,
                    "bExpand": 1,
                    "prfHashMechanism": 0x250,  # CKM_SHA256
                    "ulSaltType": 2,  # CKF_HKDF_SALT_DATA
                    "pSalt": b"salt",
                    "hSaltKey": 0,
                    "pInfo": b"info",
                },
            ),
            "hBaseKey": 7,
            "pTemplate": (Attribute.of(CKA_TOKEN, b"\x01"),),
        },
        h(
            "0000000000000001 000000000000402a 01 0000002c"
            "01 01 0000000000000250 0000000000000002 01 00000004 73616c74 0000000000000000"
            "01 00000004 696e666f"
            "0000000000000007 00000001 0000000000000001 01 01 00000001 01"
        ),
    ),
    (
        "C_GenerateKey",  # CK_PKCS5_PBKD2_PARAMS2: salt, no PRF data (NULL), the password as data
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x3B0,  # CKM_PKCS5_PBKD2
                {
                    "saltSource": 1,  # CKZ_SALT_SPECIFIED
                    "pSaltSourceData": b"salt",
                    "iterations": 1000,
                    "prf": 4,  # CKP_PKCS5_PBKD2_HMAC_SHA256
                    "pPrfData": None,
                    "pPassword": b"pw",
                },
            ),
            "pTemplate": (),
        },
        h(
            "0000000000000001 00000000000003b0 01 00000029"
            "0000000000000001 01 00000004 73616c74 00000000000003e8 0000000000000004 00"
            "01 00000002 7077"
            "00000000"
        ),
    ),
    (
        "C_DeriveKey",  # CK_AES_CBC_ENCRYPT_DATA_PARAMS: the 16-byte IV inline, then the data
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x1105,  # CKM_AES_CBC_ENCRYPT_DATA
                {"iv": bytes(range(16)), "pData": bytes(range(16, 32))},
            ),
            "hBaseKey": 7,
            "pTemplate": (),
        },
        h(
            "0000000000000001 0000000000001105 01 00000025"
            "000102030405060708090a0b0c0d0e0f 01 00000010 101112131415161718191a1b1c1d1e1f"
            "0000000000000007 00000000"
        ),
    ),
    (
        "C_DeriveKey",  # CK_DES_CBC_ENCRYPT_DATA_PARAMS: the 8-byte IV inline, then the data
        {
            "hSession": 1,
            "pMechanism": Mechanism(
                0x1103,  # CKM_DES3_CBC_ENCRYPT_DATA
                {"iv": bytes(range(8)), "pData": bytes(range(8, 16))},
            ),
            "hBaseKey": 7,
            "pTemplate": (),
        },
        h(
            "0000000000000001 0000000000001103 01 00000015"
            "0001020304050607 01 00000008 08090a0b0c0d0e0f"
            "0000000000000007 00000000"
        ),
    ),
    (
        "C_DeriveKey",  # CK_KEY_DERIVATION_STRING_DATA: the data (pData, ulLen)
        {
            "hSession": 1,
            "pMechanism": Mechanism(0x1104, {"pData": bytes(range(16))}),  # CKM_AES_ECB_ENCRYPT_DATA
            "hBaseKey": 7,
            "pTemplate": (),
        },
        h(
            "0000000000000001 0000000000001104 01 00000015"
            "01 00000010 000102030405060708090a0b0c0d0e0f"
            "0000000000000007 00000000"
        ),
    ),
    (
        "C_DeriveKey",  # CK_SP800_108_KDF_PARAMS: an array of CK_PRF_DATA_PARAM, each pValue by type
        {
            "hSession": 1,
            "pMechanism": Mechanism(0x3AC, SP800_108_PARAMS),  # CKM_SP800_108_COUNTER_KDF
            "hBaseKey": 7,
            "pTemplate": (),
        },
        h(
            "0000000000000001 00000000000003ac 01 0000005b"
            "0000000000000251 01 00000003"  # prfType CKM_SHA256_HMAC, 3 data params
            "0000000000000001 01 00000009 00 0000000000000020"  # iteration variable: 32-bit BE
            "0000000000000004 01 00000005 6c6162656c"  # byte array "label"
            "0000000000000003 01 00000011 0000000000000001 00 0000000000000020"  # DKM length
            "0000000000000000"  # ulAdditionalDerivedKeys
            "0000000000000007 00000000"
        ),
    ),
    (
        "C_DeriveKey",  # CK_SP800_108_FEEDBACK_KDF_PARAMS: the counter mode's, with pIV (K(0))
        {
            "hSession": 1,
            "pMechanism": Mechanism(0x3AD, SP800_108_FEEDBACK_PARAMS),  # CKM_SP800_108_FEEDBACK_KDF
            "hBaseKey": 7,
            "pTemplate": (),
        },
        h(
            "0000000000000001 00000000000003ad 01 0000003d"
            "0000000000000251 01 00000002"  # prfType CKM_SHA256_HMAC, 2 data params
            "0000000000000001 00"  # iteration variable: pValue NULL
            "0000000000000002 01 00000009 00 0000000000000020"  # counter: 32-bit BE
            "01 00000004 01020304"  # pIV
            "0000000000000000"  # ulAdditionalDerivedKeys
            "0000000000000007 00000000"
        ),
    ),
    (
        "C_Sign",  # hSession · data · output request (a length query: NULL buffer)
        {"hSession": 1, "pData": b"hello", "pSignature": OutRequest(False, 0)},
        h("0000000000000001 01 00000005 68656c6c6f 00 00000000"),
    ),
    (
        "C_GenerateRandom",  # the length is the capacity of the output
        {"hSession": 1, "RandomData": OutRequest(True, 32)},
        h("0000000000000001 01 00000020"),
    ),
    (
        "C_InitToken",  # slotID · SO PIN · label, 32 bytes as they are
        {"slotID": 1, "pPin": b"5678", "pLabel": b"t".ljust(32)},
        h("0000000000000001 01 00000004 35363738") + b"t".ljust(32),
    ),
]


@pytest.mark.parametrize(("name", "values", "expected"), SPELLED_OUT, ids=[s[0] for s in SPELLED_OUT])
def test_input_layouts_spelled_out(name: str, values: dict[str, Value], expected: bytes) -> None:
    assert wire.encode_inputs(name, values) == expected
    assert wire.decode_inputs(name, expected) == values


SPELLED_OUT_ANSWERS: list[tuple[str, dict[str, Value], bytes]] = [
    ("C_GetSlotList", {"pSlotList": OutData(2)}, h("00 00000002")),  # the count only
    (
        "C_GetSlotList",
        {"pSlotList": OutData(2, (0x7870195D, 1))},
        h("01 00000002 000000007870195d 0000000000000001"),
    ),
    ("C_OpenSession", {"phSession": 1}, h("0000000000000001")),
    ("C_Sign", {"pSignature": OutData(64)}, h("00 00000040")),  # needed length
    ("C_Sign", {"pSignature": OutData(2, b"\xab\xcd")}, h("01 00000002 abcd")),
    (
        "C_GetAttributeValue",  # a value; a length only; CK_UNAVAILABLE_INFORMATION (no length)
        {
            "pTemplate": (
                Attribute.of(CKA_CLASS, native(CKO_SECRET_KEY)),
                Attribute(CKA_LABEL, None, 1),
                Attribute(CKA_VALUE, None, None),
            )
        },
        h(
            "00000003"
            "0000000000000000 01 01 00000008 0000000000000004"
            "0000000000000003 00 01 00000001"
            "0000000000000011 00 00"
        ),
    ),
    (
        "C_GetMechanismInfo",
        {"pInfo": {"ulMinKeySize": 256, "ulMaxKeySize": 521, "flags": 0x1800}},
        h("0000000000000100 0000000000000209 0000000000001800"),
    ),
    (
        "C_GetSessionInfo",
        {"pInfo": {"slotID": 1, "state": 3, "flags": 6, "ulDeviceError": 0}},
        h("0000000000000001 0000000000000003 0000000000000006 0000000000000000"),
    ),
]


@pytest.mark.parametrize(
    ("name", "values", "expected"), SPELLED_OUT_ANSWERS, ids=[s[0] for s in SPELLED_OUT_ANSWERS]
)
def test_output_layouts_spelled_out(name: str, values: dict[str, Value], expected: bytes) -> None:
    assert wire.encode_outputs(name, values) == expected
    assert wire.decode_outputs(name, expected) == values


def test_structure_sizes() -> None:
    sizes = {name: wire.struct_size(name) for name in wire.OUTPUT_STRUCTS}
    assert sizes == {
        "CK_INFO": 76,
        "CK_SLOT_INFO": 108,
        "CK_TOKEN_INFO": 204,
        "CK_SESSION_INFO": 32,
        "CK_MECHANISM_INFO": 24,
    }


# --- one frozen vector per forwarded function -----------------------------------------------


def sample_inputs(name: str) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for index, field in enumerate(wire.plan(name).inputs, start=1):
        kind = field.kind
        if kind is Kind.ENCODING_VERSION:
            continue
        if kind is Kind.ULONG:
            values[field.name] = 0x0102030405060700 + index
        elif kind is Kind.BBOOL:
            values[field.name] = 1
        elif kind is Kind.DATA:
            values[field.name] = f"{field.name}".encode()
        elif kind is Kind.LABEL:
            values[field.name] = b"label".ljust(32)
        elif kind is Kind.TEMPLATE:
            values[field.name] = (
                Attribute.of(CKA_CLASS, native(CKO_SECRET_KEY)),
                Attribute.of(CKA_TOKEN, b"\x01"),
                Attribute.of(CKA_LABEL, b"k"),
            )
        elif kind is Kind.QUERY:
            values[field.name] = (AttributeQuery(CKA_CLASS, True, 8), AttributeQuery(CKA_VALUE, False, 0))
        elif kind is Kind.MECHANISM:
            values[field.name] = Mechanism(
                CKM_AES_GCM, {"pIv": b"\0" * 12, "ulIvBits": 96, "pAAD": b"aad", "ulTagBits": 128}
            )
        elif kind in wire.MESSAGE_KINDS:
            values[field.name] = MessageParameter(CKM_AES_GCM, GCM_MESSAGE)
        elif kind is Kind.OUT_DATA_OPTIONAL:
            values[field.name] = OutRequest(True, 16)
        else:
            values[field.name] = OutRequest(True, 4 if kind is Kind.OUT_HANDLES else 16)
    return values


def sample_outputs(name: str) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for field in wire.plan(name).outputs:
        kind = field.kind
        if kind in (Kind.OUT_LIST, Kind.OUT_HANDLES):
            values[field.name] = OutData(2, (2, 3))
        elif kind in (Kind.OUT_DATA, Kind.OUT_FIXED, Kind.OUT_DATA_OPTIONAL):
            values[field.name] = OutData(16, bytes(range(16)))
        elif kind is Kind.OUT_ULONG:
            values[field.name] = 0x2A
        elif kind is Kind.QUERY:
            values[field.name] = (
                Attribute.of(CKA_CLASS, native(CKO_SECRET_KEY)),
                Attribute(CKA_VALUE, None, None),
            )
        elif kind is Kind.MESSAGE_OUT:
            values[field.name] = MessageParameter(CKM_AES_GCM, {"pIv": bytes(range(12)), "pTag": bytes(16)})
        else:
            values[field.name] = sample_struct(field.struct)
    return values


def sample_struct(name: str) -> wire.StructValue:
    value: wire.StructValue = {}
    for number, member in enumerate(wire.STRUCTS[name], start=1):
        if member.kind is wire.FieldKind.CHARS:
            value[member.name] = member.name.encode()[: member.size].ljust(member.size)
        elif member.kind is wire.FieldKind.VERSION:
            value[member.name] = (number, 0)
        else:
            value[member.name] = number
    return value


FORWARDED = [call.name for call in CALLS if wire.plan(call).supported]


def vectors() -> dict[str, dict[str, str]]:
    return {
        name: {
            "inputs": wire.encode_inputs(name, sample_inputs(name)).hex(),
            "outputs": wire.encode_outputs(name, sample_outputs(name)).hex(),
        }
        for name in FORWARDED
    }


def test_the_forwarded_functions() -> None:
    """Everything but the 4 local calls (the message-based 3.0 functions included)."""
    assert len(FORWARDED) == 88
    unsupported = {call.name for call in CALLS} - set(FORWARDED)
    assert unsupported == {"C_GetFunctionList", "C_GetInterfaceList", "C_GetInterface", "C_WaitForSlotEvent"}


@pytest.mark.parametrize("name", FORWARDED)
def test_frozen_vector(name: str) -> None:
    frozen = json.loads(VECTORS.read_text())[name]
    assert wire.encode_inputs(name, sample_inputs(name)).hex() == frozen["inputs"]
    assert wire.encode_outputs(name, sample_outputs(name)).hex() == frozen["outputs"]
    expected_inputs = {k: v for k, v in sample_inputs(name).items()}
    if wire.plan(name).inputs and wire.plan(name).inputs[0].kind is Kind.ENCODING_VERSION:
        expected_inputs["pInitArgs"] = 1
    assert wire.decode_inputs(name, bytes.fromhex(frozen["inputs"])) == expected_inputs
    assert wire.decode_outputs(name, bytes.fromhex(frozen["outputs"])) == sample_outputs(name)


def test_the_frozen_vectors_cover_exactly_the_forwarded_functions() -> None:
    assert set(json.loads(VECTORS.read_text())) == set(FORWARDED)


# --- rules ----------------------------------------------------------------------------------


def test_which_answers_carry_outputs() -> None:
    assert wire.carries_outputs("C_Sign", CKR.OK)
    assert wire.carries_outputs("C_Sign", CKR.BUFFER_TOO_SMALL)
    assert not wire.carries_outputs("C_Sign", CKR.KEY_HANDLE_INVALID)
    assert not wire.carries_outputs("C_OpenSession", CKR.BUFFER_TOO_SMALL)
    assert wire.carries_outputs("C_GetAttributeValue", CKR.ATTRIBUTE_SENSITIVE)
    assert wire.carries_outputs("C_GetAttributeValue", CKR.ATTRIBUTE_TYPE_INVALID)
    assert not wire.carries_outputs("C_Sign", CKR.ATTRIBUTE_SENSITIVE)
    assert not wire.carries_outputs("C_Login", CKR.OK)  # no outputs at all


def test_ulong_attributes_travel_big_endian_and_arrive_native() -> None:
    template = (
        Attribute.of(CKA_CLASS, native(3)),
        Attribute.of(CKA_ALLOWED_MECHANISMS, native(CKM_ECDSA) + native(CKM_AES_GCM)),
        Attribute.of(CKA_CLASS, b"\x03\x00\x00\x00"),  # a wrong length: sent as it is
    )
    encoded = wire.encode_inputs("C_CreateObject", {"hSession": 1, "pTemplate": template, "phObject": None})
    assert h("0000000000000003") in encoded
    assert h("00000010 0000000000001041 0000000000001087") in encoded
    assert h("00000004 03000000") in encoded
    decoded = wire.decode_inputs("C_CreateObject", encoded)
    assert decoded["pTemplate"] == template


def test_nested_templates_are_counted_like_any_array() -> None:
    nested = (Attribute.of(CKA_TOKEN, b"\x00"),)
    template = (Attribute(CKA_WRAP_TEMPLATE, nested, 1),)
    encoded = wire.encode_inputs(
        "C_GenerateKey", {"hSession": 1, "pMechanism": Mechanism(0x1080), "pTemplate": template}
    )
    assert encoded.endswith(h("00000001 0000000040000211 01 01 00000001 0000000000000001 01 01 00000001 00"))
    assert wire.decode_inputs("C_GenerateKey", encoded)["pTemplate"] == template
    with pytest.raises(WireError, match="nested template"):
        wire.encode_inputs(
            "C_GenerateKey",
            {
                "hSession": 1,
                "pMechanism": Mechanism(0x1080),
                "pTemplate": (Attribute.of(CKA_WRAP_TEMPLATE, b"x"),),
            },
        )


def test_mechanism_parameters_by_layout() -> None:
    for mechanism, parameter, inner in [
        (0x1082, b"\x01" * 16, "01" * 16),  # CKM_AES_CBC: the IV as it is
        (0x0252, 16, "0000000000000010"),  # CKM_SHA256_HMAC_GENERAL: CK_MAC_GENERAL_PARAMS
        (
            0x0043,
            {"hashAlg": 0x250, "mgf": 2, "sLen": 32},
            "000000000000025000000000000000020000000000000020",
        ),
        (0x80001234, b"\x09", "09"),  # a vendor mechanism: raw bytes (the server decides)
    ]:
        encoded = wire.encode_inputs(
            "C_SignInit", {"hSession": 1, "pMechanism": Mechanism(mechanism, parameter), "hKey": 2}
        )
        assert encoded[8:] == mechanism.to_bytes(8, "big") + h(f"01 {len(h(inner)):08x} {inner}") + h(
            "0000000000000002"
        )
        assert wire.decode_inputs("C_SignInit", encoded)["pMechanism"] == Mechanism(mechanism, parameter)
    with pytest.raises(WireError, match="takes a"):
        wire.encode_inputs("C_SignInit", {"hSession": 1, "pMechanism": Mechanism(0x0043, b"raw"), "hKey": 2})


BAD_INPUTS = [
    ("C_Initialize", "02", "encoding version 2"),
    ("C_Initialize", "", "truncated"),
    ("C_GetInfo", "00", "after the last field"),
    ("C_Login", "0000000000000001 0000000000000001 02", "neither 0 nor 1"),
    ("C_Login", "0000000000000001 0000000000000001 01 00000010 31", "truncated"),
    ("C_FindObjectsInit", "0000000000000001 ffffffff", "exceeds"),
    ("C_FindObjectsInit", "0000000000000001 00000001 0000000000000000 01 00 00000000", "no length"),
    ("C_SignInit", "0000000000000001 0000000000000043 01 00000002 0000 0000000000000002", "truncated"),
]


@pytest.mark.parametrize(("name", "data", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_malformed_inputs_are_wire_errors(name: str, data: str, message: str) -> None:
    with pytest.raises(WireError, match=message):
        wire.decode_inputs(name, h(data))


def test_malformed_outputs_are_wire_errors() -> None:
    with pytest.raises(WireError, match="announced"):
        wire.decode_outputs("C_GetSlotList", h("01 00000003 0000000000000001"))
    with pytest.raises(WireError, match="announced"):
        wire.encode_outputs("C_Sign", {"pSignature": OutData(3, b"\x01")})
    with pytest.raises(WireError, match="no wire layout"):
        wire.encode_inputs("C_GetInterface", {})


def test_capacities_beyond_four_bytes_are_clamped() -> None:
    encoded = wire.encode_inputs(
        "C_Sign", {"hSession": 1, "pData": b"", "pSignature": OutRequest(True, 2**40)}
    )
    assert encoded.endswith(h("01 ffffffff"))


@given(st.binary(max_size=200), st.sampled_from(FORWARDED))
def test_any_bytes_decode_or_raise_wire_error(data: bytes, name: str) -> None:
    for decode in (wire.decode_inputs, wire.decode_outputs):
        with contextlib.suppress(WireError):
            decode(name, data)


attributes = st.builds(
    Attribute.of,
    st.sampled_from([CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_ALLOWED_MECHANISMS]),
    st.binary(max_size=40),
)


@given(st.lists(attributes, max_size=6).map(tuple))
def test_templates_round_trip(template: tuple[Attribute, ...]) -> None:
    values: dict[str, Any] = {"hSession": 9, "pTemplate": template}
    assert wire.decode_inputs("C_FindObjectsInit", wire.encode_inputs("C_FindObjectsInit", values)) == values


def test_every_layout_is_described_for_the_doc() -> None:
    assert wire.describe("C_Sign") == (
        "hSession (8) · pData (data) · pSignature (out-request)",
        "pSignature (out-bytes)",
    )
    assert wire.describe("C_GetInfo") == ("(none)", "pInfo (CK_INFO, 76)")
    for name in FORWARDED:
        wire.describe(name)


def _regenerate() -> None:
    VECTORS.write_text(json.dumps(vectors(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {VECTORS}")


if __name__ == "__main__":
    sys.exit(_regenerate())


def test_bit_lengths_of_chacha20_params_in_c_memory() -> None:
    """CK_CHACHA20_PARAMS counts its buffers in bits: read from C memory as bytes, written
    back in bits, and a length that is not whole bytes is CKR_MECHANISM_PARAM_INVALID."""
    from pkcs11_kmip.cryptoki import cmem
    from pkcs11_kmip.cryptoki.errors import CKRError
    from pkcs11_kmip_server.hsm.module import ffi

    keep: list[object] = []
    value: wire.StructValue = {"pBlockCounter": h("01000000"), "pNonce": bytes(12)}
    built = cmem.build_mechanism(ffi, Mechanism(0x1226, value), keep)
    params = ffi.cast("CK_CHACHA20_PARAMS *", built.pParameter)
    assert (params.blockCounterBits, params.ulNonceBits) == (32, 96)
    assert built.ulParameterLen == ffi.sizeof("CK_CHACHA20_PARAMS")
    assert cmem.read_mechanism(ffi, int(ffi.cast("uintptr_t", built))) == Mechanism(0x1226, value)
    params.ulNonceBits = 95
    with pytest.raises(CKRError) as refused:
        cmem.read_mechanism(ffi, int(ffi.cast("uintptr_t", built)))
    assert refused.value.rv == CKR.MECHANISM_PARAM_INVALID


def test_arrays_of_variant_structures_in_c_memory() -> None:
    """CK_SP800_108_KDF_PARAMS in C memory: the array of CK_PRF_DATA_PARAM, each pValue as
    its type says, round-trips; an unknown type, a structure of the wrong ulValueLen or a
    NULL array with a count is CKR_MECHANISM_PARAM_INVALID."""
    from pkcs11_kmip.cryptoki import cmem
    from pkcs11_kmip.cryptoki.errors import CKRError
    from pkcs11_kmip_server.hsm.module import ffi

    keep: list[object] = []
    built = cmem.build_mechanism(ffi, Mechanism(0x3AC, SP800_108_PARAMS), keep)
    params = ffi.cast("CK_SP800_108_KDF_PARAMS *", built.pParameter)
    assert params.ulNumberOfDataParams == 3
    assert params.pDataParams[2].ulValueLen == ffi.sizeof("CK_SP800_108_DKM_LENGTH_FORMAT")
    address = int(ffi.cast("uintptr_t", built))
    assert cmem.read_mechanism(ffi, address) == Mechanism(0x3AC, SP800_108_PARAMS)
    for target, member, spoiled in (
        (params.pDataParams[1], "type", 9),
        (params.pDataParams[0], "ulValueLen", 4),
        (params, "pDataParams", ffi.NULL),
    ):
        setattr(target, member, spoiled)
        with pytest.raises(CKRError) as refused:
            cmem.read_mechanism(ffi, address)
        assert refused.value.rv == CKR.MECHANISM_PARAM_INVALID
    with pytest.raises(WireError, match="has no pValue layout"):
        wire.encode_struct("CK_PRF_DATA_PARAM", {"type": 9, "pValue": b"x"})
    # CK_SP800_108_FEEDBACK_KDF_PARAMS: a NULL pValue and pIV (ulIVLen before it) round-trip.
    feedback = cmem.build_mechanism(ffi, Mechanism(0x3AD, SP800_108_FEEDBACK_PARAMS), keep)
    assert ffi.cast("CK_SP800_108_FEEDBACK_KDF_PARAMS *", feedback.pParameter).ulIVLen == 4
    read_back = cmem.read_mechanism(ffi, int(ffi.cast("uintptr_t", feedback)))
    assert read_back == Mechanism(0x3AD, SP800_108_FEEDBACK_PARAMS)


def test_des_cbc_encrypt_data_params_in_c_memory() -> None:
    """CK_DES_CBC_ENCRYPT_DATA_PARAMS as pkcs11t.h lays it out (iv[8] inline, then pData and
    length): built in C memory by the table, read back the same."""
    from pkcs11_kmip.cryptoki import cmem
    from pkcs11_kmip_server.hsm.module import ffi

    keep: list[object] = []
    value: wire.StructValue = {"iv": bytes(range(8)), "pData": bytes(range(8, 24))}
    built = cmem.build_mechanism(ffi, Mechanism(0x1103, value), keep)  # CKM_DES3_CBC_ENCRYPT_DATA
    params = ffi.cast("CK_DES_CBC_ENCRYPT_DATA_PARAMS *", built.pParameter)
    assert built.ulParameterLen == ffi.sizeof("CK_DES_CBC_ENCRYPT_DATA_PARAMS") == 8 + 2 * wire.NATIVE_ULONG
    assert (bytes(params.iv), params.length, bytes(ffi.buffer(params.pData, 16))) == (
        bytes(range(8)),
        16,
        bytes(range(8, 24)),
    )
    assert cmem.read_mechanism(ffi, int(ffi.cast("uintptr_t", built))) == Mechanism(0x1103, value)
