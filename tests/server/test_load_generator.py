"""The load generator's framed Create (bench/kmip_load.py, `--create-check bytes`) against the
real server over TLS: each request is the typed one with its own Name, each answer is read
strictly, and a refusal is the error it was on the typed path. The issue-3 figures rest on it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipResultError
from pkcs11_kmip.kmip.messages import ResponseMessage
from pkcs11_kmip.kmip.messages.message import ResponseBatchItem, ResponseHeader
from pkcs11_kmip.kmip.messages.payloads import CreateResponse
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    ObjectType,
    Operation,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from testsupport.server import RunningServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import kmip_load


def _runner(server: RunningServer, version: Version, check: str, tag: str) -> kmip_load._Runner:
    identity = server.client_identity("load-generator")
    endpoint = kmip_load.Endpoint(
        server.host,
        server.port,
        str(identity.cert),
        str(identity.key),
        str(identity.ca),
        version,
        same_tls=True,
        create_check=check,
    )
    job = kmip_load.WorkerJob(3, endpoint, ("create", "activate"), (), tag)
    return kmip_load._Runner(job, endpoint.client())


@pytest.mark.parametrize("version", [(1, 2), (2, 0)])
@pytest.mark.parametrize("check", ["bytes", "decode"])
def test_each_create_makes_the_key_its_name_says(
    kmip_server: RunningServer, version: Version, check: str
) -> None:
    tag = f"{check}{version[0]}{version[1]}"
    runner = _runner(kmip_server, version, check, tag)
    try:
        for _ in range(3):
            runner.create()
        assert len(set(runner.pending)) == 3
        for number, uid in enumerate(runner.pending, start=1):
            name = f"load-{tag}-w3-{number:09d}"
            found = runner.client.call(kmip_load.locate_request(version, name)).unique_identifiers
            assert list(found) == [uid]
            answer = runner.client.call(kmip_load.get_attributes_request(version, uid))
            algorithm = [entry for entry in _entries(answer) if entry[0] == Tag.CRYPTOGRAPHIC_ALGORITHM]
            assert algorithm and algorithm[0][1] == CryptographicAlgorithm.AES
        runner.activate()  # the uid read from the answer is the key's
    finally:
        runner.client.close()


def test_a_refused_create_raises_its_result_reason(kmip_server: RunningServer) -> None:
    runner = _runner(kmip_server, (1, 2), "bytes", "refused")
    try:
        runner.create()
        runner.created = 0  # the next Create asks for the same Name again
        with pytest.raises(KmipResultError) as refused:
            runner.create()
        assert refused.value.reason is not None
        assert len(runner.pending) == 1
    finally:
        runner.client.close()


def _entries(answer: Any) -> list[tuple[int, Any]]:
    """GetAttributes' answer as (tag, value) pairs, in the 1.x or the 2.x form."""
    if getattr(answer, "attributes", None) is not None:
        return list(answer.attributes.entries)
    return [(entry.attribute_tag, entry.attribute_value) for entry in answer.attribute_list]


def _answer(*items: ResponseBatchItem) -> bytes:
    header = ResponseHeader(
        protocol_version=ProtocolVersion.of((1, 2)),
        time_stamp=datetime.now(UTC).replace(microsecond=0),
        batch_count=len(items),
    )
    return ResponseMessage(header=header, batch_items=list(items)).encode()


def _created(object_type: ObjectType) -> ResponseBatchItem:
    payload = CreateResponse(object_type=object_type, unique_identifier="17")
    return ResponseBatchItem(
        operation=Operation.CREATE, result_status=ResultStatus.SUCCESS, response_payload=payload
    )


def test_only_one_successful_create_of_a_symmetric_key_is_read_untyped() -> None:
    """Anything else goes to the typed decode, where a failure raises its Result Reason."""
    assert kmip_load._created_uid(_answer(_created(ObjectType.SYMMETRIC_KEY)), DEFAULT_LIMITS) == "17"
    failed = ResponseBatchItem(
        operation=Operation.CREATE,
        result_status=ResultStatus.OPERATION_FAILED,
        result_reason=ResultReason.ILLEGAL_OPERATION,
        result_message="no",
    )
    for other in (
        _answer(_created(ObjectType.SYMMETRIC_KEY), _created(ObjectType.SYMMETRIC_KEY)),
        _answer(_created(ObjectType.SECRET_DATA)),
        _answer(failed),
        b"\x42\x00\x7b\x01" + bytes(12),
        b"",
    ):
        assert kmip_load._created_uid(other, DEFAULT_LIMITS) is None
