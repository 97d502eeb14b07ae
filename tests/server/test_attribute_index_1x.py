"""KMIP 1.x Attribute Indexes stay what they were when other instances go (1.4 §2.1.1).

"The Attribute Index of an attribute SHALL NOT change when other instances are added
or deleted": after Delete Attribute of Name index 1 out of 0-3, Get Attributes answers
indexes 0, 2 and 3, Modify and Delete by index 2 reach the same instance as before, and
index 1 is no instance (Index Out of Bounds in 1.x). A vacancy above the last index in
use is forgotten, so the next Add takes that index again. Our client in 1.0 and 1.4,
PyKMIP's in 1.2 and 1.4, over real TLS; the 2.x view of the same object is unchanged.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kmip.core import enums as pykmip_enums
from kmip.core.factories.attributes import AttributeFactory

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute, ResponseMessage
from pkcs11_kmip.kmip.messages.attributes import (
    CommonTemplateAttribute,
    CurrentAttribute,
    PrivateKeyTemplateAttribute,
    PublicKeyTemplateAttribute,
)
from pkcs11_kmip.kmip.messages.payloads import (
    AddAttributeRequest,
    CreateKeyPairRequest,
    DeleteAttributeRequest,
    GetAttributesRequest,
    ModifyAttributeRequest,
    ReKeyKeyPairRequest,
    ReKeyRequest,
)
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask, ResultReason
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, ItemType
from testsupport.kmip_builders import aes_create, name, named, named_list
from testsupport.pykmip import open_pykmip
from testsupport.server import RunningServer

CLIENT = "attribute-index-1x"


@pytest.fixture(params=[(1, 0), (1, 4)], ids=["1.0", "1.4"])
def v1(request: pytest.FixtureRequest, kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client(CLIENT, version=request.param) as kmip:
        yield kmip


@pytest.fixture
def v2(kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client(CLIENT) as kmip:
        yield kmip


def key_named(kmip: KmipClient, count: int) -> tuple[str, list[str]]:
    """A new key and `count` Names added to it one by one (indexes 0 .. count-1)."""
    uid: str = kmip.call(aes_create(kmip.version)).unique_identifier
    labels = [f"n{i}-{uuid.uuid4().hex[:8]}" for i in range(count)]
    for expected, label in enumerate(labels):
        added = kmip.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.NAME, name(label))))
        assert (added.attribute.attribute_index or 0) == expected
    return uid, labels


def indexed_names(kmip: KmipClient, uid: str) -> list[tuple[int, str]]:
    """Get Attributes of the Names, as (Attribute Index, Name Value)."""
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_names=["Name"]))
    return [(a.attribute_index or 0, a.attribute_value.name_value) for a in answer.attribute_list]


def delete(kmip: KmipClient, uid: str, index: int) -> Any:
    request = DeleteAttributeRequest(unique_identifier=uid, attribute_name="Name", attribute_index=index)
    return kmip.call(request).attribute


def modify(kmip: KmipClient, uid: str, index: int, label: str) -> Any:
    renamed = Attribute(attribute_name="Name", attribute_index=index, attribute_value=name(label))
    return kmip.call(ModifyAttributeRequest(unique_identifier=uid, attribute=renamed)).attribute


def next_name_is_index_0(kmip: KmipClient, uid: str) -> None:
    """An object with no Name left: the next one added is index 0 (no vacancy is kept)."""
    fresh = "f-" + uuid.uuid4().hex[:8]
    added = kmip.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.NAME, name(fresh))))
    assert added.attribute.attribute_index in (None, 0)
    assert indexed_names(kmip, uid) == [(0, fresh)]


def refused(call: Any) -> ResultReason | None:
    with pytest.raises(KmipResultError) as failure:
        call()
    return failure.value.reason


def test_indexes_survive_the_deletion_of_other_instances(v1: KmipClient, v2: KmipClient) -> None:
    uid, (a, b, c, d) = key_named(v1, 4)
    gone = delete(v1, uid, 1)
    assert ((gone.attribute_index or 0), gone.attribute_value.name_value) == (1, b)
    assert indexed_names(v1, uid) == [(0, a), (2, c), (3, d)]

    changed = modify(v1, uid, 2, "c-renamed-" + c)
    assert (changed.attribute_index, changed.attribute_value.name_value) == (2, "c-renamed-" + c)
    assert indexed_names(v1, uid) == [(0, a), (2, "c-renamed-" + c), (3, d)]
    assert refused(lambda: modify(v1, uid, 1, "x-" + b)) is ResultReason.INDEX_OUT_OF_BOUNDS
    assert refused(lambda: delete(v1, uid, 1)) is ResultReason.INDEX_OUT_OF_BOUNDS

    # The 2.x form has no indexes and is untouched by them.
    names = v2.call(GetAttributesRequest(unique_identifier=uid, attribute_references=[Tag.NAME])).attributes
    assert [n.name_value for n in names.get_all(Tag.NAME)] == [a, "c-renamed-" + c, d]

    assert delete(v1, uid, 3).attribute_value.name_value == d  # the last: its index is free again
    e = "e-" + a
    added = v1.call(AddAttributeRequest(unique_identifier=uid, attribute=named(Tag.NAME, name(e))))
    assert added.attribute.attribute_index == 3
    assert indexed_names(v1, uid) == [(0, a), (2, "c-renamed-" + c), (3, e)]

    assert delete(v1, uid, 0).attribute_value.name_value == a
    assert indexed_names(v1, uid) == [(2, "c-renamed-" + c), (3, e)]
    assert refused(lambda: delete(v1, uid, 0)) is ResultReason.INDEX_OUT_OF_BOUNDS


def test_a_2x_deletion_keeps_the_1x_indexes_too(v1: KmipClient, v2: KmipClient) -> None:
    uid, (a, b, c) = key_named(v1, 3)
    v2.call(
        DeleteAttributeRequest(
            unique_identifier=uid, current_attribute=CurrentAttribute.of((Tag.NAME, name(a)))
        )
    )
    assert indexed_names(v1, uid) == [(1, b), (2, c)]
    assert modify(v1, uid, 2, "c2-" + c).attribute_index == 2


def test_once_every_instance_is_gone_indexes_start_at_0_again(v1: KmipClient) -> None:
    uid, _ = key_named(v1, 3)
    for index in (1, 0, 2):
        delete(v1, uid, index)
    assert indexed_names(v1, uid) == []
    next_name_is_index_0(v1, uid)


@pytest.mark.parametrize("version", [(1, 2), (1, 4)], ids=["1.2", "1.4"])
def test_pykmip_sees_the_same_indexes(kmip_server: RunningServer, version: Version) -> None:
    """PyKMIP's ProxyKmipClient deletes, reads and modifies Names by their 1.x indexes."""
    with kmip_server.client(CLIENT, version=version) as ours:
        uid, (a, b, c) = key_named(ours, 3)
    factory = AttributeFactory()
    with open_pykmip(kmip_server, CLIENT, version) as pykmip:
        _, deleted = pykmip.delete_attribute(uid, attribute_name="Name", attribute_index=1)
        assert deleted.attribute_value.name_value.value == b
        _, attributes = pykmip.get_attributes(uid, ["Name"])
        seen = [
            (a_.attribute_index.value if a_.attribute_index else 0, a_.attribute_value.name_value.value)
            for a_ in attributes
        ]
        assert seen == [(0, a), (2, c)]
        renamed = factory.create_attribute(pykmip_enums.AttributeType.NAME, "p-" + c, index=2)
        _, modified = pykmip.modify_attribute(uid, attribute=renamed)
        assert modified.attribute_index.value == 2
        assert modified.attribute_value.name_value.value == "p-" + c


def test_no_client_writes_the_servers_record_of_vacated_indexes(v2: KmipClient) -> None:
    """The vacated indexes live under a tag no KMIP version defines (our client will not even
    write it: the bytes are patched); a client sending it is refused."""
    text = '{"Name": [0, 1]}'
    request = v2.request_message(aes_create(v2.version, 256, (Tag.CONTACT_INFORMATION, text))).encode()
    contact = struct.pack(">I", Tag.CONTACT_INFORMATION << 8 | ItemType.TEXT_STRING)
    assert request.count(contact) == 1
    forged = request.replace(contact, struct.pack(">I", 0x42FFFE << 8 | ItemType.TEXT_STRING))
    (item,) = ResponseMessage.decode(v2.exchange(forged), DEFAULT_LIMITS).batch_items
    assert item.result_reason is ResultReason.INVALID_ATTRIBUTE, item.result_message


def test_re_key_moves_names_without_the_vacated_indexes(v1: KmipClient) -> None:
    """Re-key moves the Names to the replacement: a new object, whose indexes start at 0,
    and the existing key, with no Name left, keeps no vacancy: its next Name is index 0."""
    old, (_, b, c) = key_named(v1, 3)
    delete(v1, old, 0)
    assert indexed_names(v1, old) == [(1, b), (2, c)]
    new = v1.call(ReKeyRequest(unique_identifier=old)).unique_identifier
    assert indexed_names(v1, new) == [(0, b), (1, c)]
    assert modify(v1, new, 1, "c2-" + c).attribute_index == 1
    assert indexed_names(v1, old) == []
    next_name_is_index_0(v1, old)


@pytest.mark.parametrize("version", [(1, 2), (1, 4)], ids=["1.2", "1.4"])
def test_re_key_key_pair_moves_names_without_the_vacated_indexes(
    kmip_server: RunningServer, version: Version
) -> None:
    """The same for both keys of a pair (Re-key Key Pair, KMIP 1.1 and later)."""
    with kmip_server.client(CLIENT, version=version) as v1:
        tag = uuid.uuid4().hex[:8]
        labels = {half: [f"{half}-{i}-{tag}" for i in range(3)] for half in ("private", "public")}
        pair = v1.call(
            CreateKeyPairRequest(
                common_template_attribute=CommonTemplateAttribute(
                    attributes=named_list(
                        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.EC),
                        (Tag.CRYPTOGRAPHIC_LENGTH, 256),
                    )
                ),
                private_key_template_attribute=PrivateKeyTemplateAttribute(
                    attributes=named_list(
                        (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.SIGN),
                        *((Tag.NAME, name(label)) for label in labels["private"]),
                    )
                ),
                public_key_template_attribute=PublicKeyTemplateAttribute(
                    attributes=named_list(
                        (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.VERIFY),
                        *((Tag.NAME, name(label)) for label in labels["public"]),
                    )
                ),
            )
        )
        olds = {"private": pair.private_key_unique_identifier, "public": pair.public_key_unique_identifier}
        for uid in olds.values():
            delete(v1, uid, 0)
        again = v1.call(ReKeyKeyPairRequest(private_key_unique_identifier=olds["private"]))
        news = {"private": again.private_key_unique_identifier, "public": again.public_key_unique_identifier}
        for half, (_, second, third) in labels.items():
            assert indexed_names(v1, news[half]) == [(0, second), (1, third)]
            assert indexed_names(v1, olds[half]) == []
            next_name_is_index_0(v1, olds[half])
