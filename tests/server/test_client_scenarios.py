"""What real KMIP clients do, message by message, over real TLS (see design/LANDSCAPE.md).

Each scenario speaks the KMIP version its client speaks and builds the messages
that client sends: KMIP 1.x named attributes inside Template-Attributes, custom
"x-" text attributes, Locate paging, batches, a Credential in the header. Each
client has its own certificate, so its objects are its own.
"""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    AddAttributeRequest,
    DestroyRequest,
    GetAttributeListRequest,
    GetAttributesRequest,
    GetAttributesResponse,
    GetRequest,
    GetResponse,
    LocateRequest,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import (
    Authentication,
    Credential,
    CredentialValue,
    CryptographicParameters,
    RevocationReason,
)
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CredentialType,
    CryptographicAlgorithm,
    ObjectType,
    PaddingMethod,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
    State,
)
from pkcs11_kmip.kmip.ttlv import Item
from testsupport.kmip_builders import (
    ENCRYPT_DECRYPT,
    AttributeSpec,
    aes_create,
    aes_register,
    custom_text,
    name,
    named_list,
)
from testsupport.server import RunningServer, cli


def attribute_values(kmip: KmipClient, uid: str, *names: str, **header: Any) -> dict[str, Any]:
    """Get Attributes by name (the KMIP 1.x form): each name's value, raw text for custom ones."""
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_names=list(names)), **header)
    return values_of(answer, uid)


def values_of(answer: GetAttributesResponse, uid: str) -> dict[str, Any]:
    assert answer.unique_identifier == uid
    values: dict[str, Any] = {}
    for attribute in answer.attribute_list:
        value = attribute.attribute_value
        values[attribute.attribute_name] = value.value if isinstance(value, Item) else value
    return values


def locate(kmip: KmipClient, *criteria: AttributeSpec, **header: Any) -> list[str]:
    uids: list[str] = kmip.call(
        LocateRequest(attribute_list=named_list(*criteria)), **header
    ).unique_identifiers
    return uids


def retire(kmip: KmipClient, uid: str, code: RevocationReasonCode, message: str, **header: Any) -> None:
    """Revoke, then Destroy: how every one of these clients gets rid of a key."""
    reason = RevocationReason(revocation_reason_code=code, revocation_message=message)
    kmip.call(RevokeRequest(unique_identifier=uid, revocation_reason=reason), **header)
    kmip.call(DestroyRequest(unique_identifier=uid), **header)


def key_material(kmip: KmipClient, uid: str, **header: Any) -> bytes:
    answer: GetResponse = kmip.call(GetRequest(unique_identifier=uid), **header)
    assert answer.object_type is ObjectType.SYMMETRIC_KEY
    material: bytes = answer.object.key_block.key_value.key_material
    return material


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# --- MongoDB: encryption at rest ---------------------------------------------------------


@pytest.mark.parametrize("version", [(1, 0), (1, 2)], ids=["1.0-legacy", "1.2"])
def test_mongodb_master_key_is_created_activated_and_polled(
    kmip_server: RunningServer, version: Version
) -> None:
    """Create AES-256, Get, Activate, then GetAttributes(State) on every poll, each on a new connection."""
    identity = f"mongodb-{version[0]}{version[1]}"
    with kmip_server.client(identity, version=version) as kmip:
        created = kmip.call(aes_create(version, 256))
        uid = created.unique_identifier
        assert created.object_type is ObjectType.SYMMETRIC_KEY
        material = key_material(kmip, uid)
        assert len(material) == 32
        kmip.call(ActivateRequest(unique_identifier=uid))

    for _poll in range(3):
        with kmip_server.client(identity, version=version) as kmip:
            assert attribute_values(kmip, uid, "State") == {"State": State.ACTIVE}
            assert key_material(kmip, uid) == material  # a restart of mongod reads the key again

    # An operator retires the key; the next poll must see it to stop using it.
    with kmip_server.client(identity, version=version) as kmip:
        reason = RevocationReason(revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION)
        kmip.call(RevokeRequest(unique_identifier=uid, revocation_reason=reason))
    with kmip_server.client(identity, version=version) as kmip:
        assert attribute_values(kmip, uid, "State") == {"State": State.DEACTIVATED}


# --- Percona Server for MySQL: keyring_kmip ----------------------------------------------

PERCONA_KEYS = 40
PERCONA_PAGE = 16


def test_percona_keyring_registers_a_group_and_reads_it_back_16_at_a_time(kmip_server: RunningServer) -> None:
    version: Version = (1, 4)
    group = unique("percona-keyring")
    with kmip_server.client("percona-keyring", version=version) as kmip:
        # A key of another keyring (another Object Group) the paging must never return.
        stranger = aes_register(version, os.urandom(32), (Tag.OBJECT_GROUP, unique("other-keyring")))
        kmip.call(stranger)

        keys: dict[str, tuple[str, bytes]] = {}
        for index in range(PERCONA_KEYS):
            material, key_name = os.urandom(32), f"{group}-key-{index}"
            request = aes_register(version, material, (Tag.NAME, name(key_name)), (Tag.OBJECT_GROUP, group))
            uid = kmip.call(request).unique_identifier
            kmip.call(ActivateRequest(unique_identifier=uid))
            keys[uid] = (key_name, material)

        pages: list[list[str]] = []
        offset = 0
        while True:
            answer = kmip.call(
                LocateRequest(
                    maximum_items=PERCONA_PAGE,
                    offset_items=offset,
                    attribute_list=named_list((Tag.OBJECT_GROUP, group)),
                )
            )
            assert answer.located_items == PERCONA_KEYS  # every page says how many there are in all
            pages.append(answer.unique_identifiers)
            if len(answer.unique_identifiers) < PERCONA_PAGE:
                break
            offset += PERCONA_PAGE
        assert [len(page) for page in pages] == [16, 16, 8]
        found = [uid for page in pages for uid in page]
        assert sorted(found) == sorted(keys)  # each key exactly once

        for uid in found:
            key_name, material = keys[uid]
            assert key_material(kmip, uid) == material
            assert attribute_values(kmip, uid, "Name")["Name"].name_value == key_name

        for uid in found:
            retire(kmip, uid, RevocationReasonCode.CESSATION_OF_OPERATION, "keyring key removed")
        emptied = kmip.call(
            LocateRequest(
                maximum_items=PERCONA_PAGE,
                offset_items=0,
                attribute_list=named_list((Tag.OBJECT_GROUP, group)),
            )
        )
        assert (emptied.located_items, emptied.unique_identifiers) == (0, [])


# --- DataStax Enterprise: transparent data encryption -------------------------------------

DSE_VERSION: Version = (1, 2)
DSE_PARAMETERS = CryptographicParameters(
    block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5
)


def dse_search(namespace: str, length: int = 128) -> list[AttributeSpec]:
    """What DSE's Locate asks for: cipher, strength, use, Active, its parameters and its namespace."""
    return [
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
        (Tag.CRYPTOGRAPHIC_LENGTH, length),
        (Tag.CRYPTOGRAPHIC_USAGE_MASK, ENCRYPT_DECRYPT),
        (Tag.STATE, State.ACTIVE),
        (Tag.CRYPTOGRAPHIC_PARAMETERS, DSE_PARAMETERS),
        custom_text("x-key-namespace", namespace),
    ]


def dse_create(kmip: KmipClient, namespace: str, length: int = 128) -> str:
    request = aes_create(
        DSE_VERSION,
        length,
        (Tag.CRYPTOGRAPHIC_PARAMETERS, DSE_PARAMETERS),
        (Tag.NAME, name(unique(namespace))),
        custom_text("x-key-namespace", namespace),
        custom_text("x-dse-cipher", "AES/CBC/PKCS5Padding"),
    )
    uid: str = kmip.call(request).unique_identifier
    return uid


def test_datastax_locates_or_creates_its_key_and_reads_it_in_one_batch(kmip_server: RunningServer) -> None:
    namespace = unique("dse-ns")
    with kmip_server.client("datastax", version=DSE_VERSION) as kmip:
        assert locate(kmip, *dse_search(namespace)) == []  # nothing yet: DSE creates the key
        uid = dse_create(kmip, namespace)
        assert locate(kmip, *dse_search(namespace)) == []  # Pre-Active is not what DSE asks for
        kmip.call(ActivateRequest(unique_identifier=uid))

        # Keys that differ in one criterion each must not be found.
        stronger = dse_create(kmip, namespace, 256)
        elsewhere = dse_create(kmip, unique("dse-other-ns"))
        for other in (stronger, elsewhere):
            kmip.call(ActivateRequest(unique_identifier=other))
        assert locate(kmip, *dse_search(namespace)) == [uid]
        assert locate(kmip, *dse_search(namespace, 256)) == [stronger]

        attributes, key = kmip.batch(
            GetAttributesRequest(
                unique_identifier=uid,
                attribute_names=["Cryptographic Parameters", "State", "x-key-namespace", "x-dse-cipher"],
            ),
            GetRequest(unique_identifier=uid),
        )
        assert (attributes.result_status, key.result_status) == (ResultStatus.SUCCESS, ResultStatus.SUCCESS)
        assert values_of(attributes.response_payload, uid) == {
            "Cryptographic Parameters": DSE_PARAMETERS,
            "State": State.ACTIVE,
            "x-key-namespace": namespace,
            "x-dse-cipher": "AES/CBC/PKCS5Padding",
        }
        assert len(key.response_payload.object.key_block.key_value.key_material) == 16

        retire(kmip, uid, RevocationReasonCode.CESSATION_OF_OPERATION, "key rotated by DSE")
        search_any_state = [spec for spec in dse_search(namespace) if spec != (Tag.STATE, State.ACTIVE)]
        assert locate(kmip, *search_any_state) == []  # a destroyed key is no longer found
        with pytest.raises(KmipResultError) as gone:
            kmip.call(GetRequest(unique_identifier=uid))
        # KMIP 1.x has no Object Destroyed: a server that keeps the metadata says Permission Denied.
        assert gone.value.reason in (ResultReason.ITEM_NOT_FOUND, ResultReason.PERMISSION_DENIED)


def test_datastax_sets_a_future_protect_stop_date_and_the_key_stays_usable(
    kmip_server: RunningServer,
) -> None:
    """DSE expires a key by giving it a Protect Stop Date: until then it is Active and found."""
    namespace = unique("dse-expiring")
    stop = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    with kmip_server.client("datastax", version=DSE_VERSION) as kmip:
        uid = dse_create(kmip, namespace)
        kmip.call(ActivateRequest(unique_identifier=uid))
        added = kmip.call(
            AddAttributeRequest(unique_identifier=uid, attribute=named_list((Tag.PROTECT_STOP_DATE, stop))[0])
        )
        assert added.unique_identifier == uid
        assert (added.attribute.attribute_name, added.attribute.attribute_value) == (
            "Protect Stop Date",
            stop,
        )
        assert attribute_values(kmip, uid, "Protect Stop Date", "State") == {
            "Protect Stop Date": stop,
            "State": State.ACTIVE,
        }
        assert locate(kmip, *dse_search(namespace)) == [uid]
        assert len(key_material(kmip, uid)) == 16

        reason = RevocationReason(
            revocation_reason_code=RevocationReasonCode.SUPERSEDED, revocation_message="expired by DSE"
        )
        kmip.call(RevokeRequest(unique_identifier=uid, revocation_reason=reason))
        assert attribute_values(kmip, uid, "State", "Revocation Reason") == {
            "State": State.DEACTIVATED,
            "Revocation Reason": reason,
        }
        kmip.call(DestroyRequest(unique_identifier=uid))


# --- NetApp ONTAP: external key manager -----------------------------------------------------

NETAPP_VERSION: Version = (1, 2)
NETAPP_ATTRIBUTES = [
    "ClusterId",
    "ClusterName",
    "NodeId",
    "NodeName",
    "Vserver",
    "VserverId",
    "KeyId",
    "KeyTag",
    "KeyType",
    "KeyUsage",
    "Product",
    "ProductVersion",
    "SerialNumber",
    "Aggregate",
    "Volume",
    "Policy",
]


def credential(username: str, password: str) -> Authentication:
    value = CredentialValue(username=username, password=password)
    return Authentication(
        credentials=[Credential(credential_type=CredentialType.USERNAME_AND_PASSWORD, credential_value=value)]
    )


@pytest.fixture(scope="module")
def netapp_user(kmip_server: RunningServer) -> tuple[str, str]:
    """An appliance account in the server's users.toml, as an administrator would add it."""
    user, password = "netapp-cluster-1", "ontap-s3cret"
    subprocess.run(
        [*cli(), "admin", "users", "add", user, "--data-dir", str(kmip_server.data_dir), "--password-stdin"],
        input=f"{password}\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return user, password


def test_netapp_registers_with_16_custom_attributes_under_its_credential(
    kmip_server: RunningServer, netapp_user: tuple[str, str]
) -> None:
    """Every node of the cluster authenticates as the cluster's user, so each sees the others' keys."""
    authentication = credential(*netapp_user)
    key_id = unique("netapp-key")
    custom = {f"x-NETAPP-{short}": f"{short.lower()}-{key_id}" for short in NETAPP_ATTRIBUTES}
    custom["x-NETAPP-KeyId"] = key_id
    material = os.urandom(32)
    with kmip_server.client("netapp-node-a", version=NETAPP_VERSION) as node_a:
        request = aes_register(
            NETAPP_VERSION, material, *(custom_text(attribute, text) for attribute, text in custom.items())
        )
        uid = node_a.call(request, authentication=authentication).unique_identifier

    with kmip_server.client("netapp-node-b", version=NETAPP_VERSION) as node_b:
        found = locate(node_b, custom_text("x-NETAPP-KeyId", key_id), authentication=authentication)
        assert found == [uid]
        listed = node_b.call(GetAttributeListRequest(unique_identifier=uid), authentication=authentication)
        assert set(custom) <= set(listed.attribute_names)
        assert attribute_values(node_b, uid, *custom, authentication=authentication) == custom
        assert key_material(node_b, uid, authentication=authentication) == material

        # Without the credential the node is only its certificate, which owns nothing.
        assert locate(node_b, custom_text("x-NETAPP-KeyId", key_id)) == []
        with pytest.raises(KmipResultError) as wrong:
            node_b.call(GetRequest(unique_identifier=uid), authentication=credential(netapp_user[0], "guess"))
        assert wrong.value.reason is ResultReason.AUTHENTICATION_NOT_SUCCESSFUL

        retire(
            node_b, uid, RevocationReasonCode.CESSATION_OF_OPERATION, "deleted", authentication=authentication
        )
        assert locate(node_b, custom_text("x-NETAPP-KeyId", key_id), authentication=authentication) == []


# --- all of them at once ----------------------------------------------------------------------

ROUNDS_AT_ONCE = 40


def test_the_clients_at_once_are_all_served(kmip_server: RunningServer) -> None:
    """Appliances share a server: one's Get or Activate never fails because another is writing.

    Get (of a Fresh object) and Activate read, then write. In a deferred SQLite transaction
    that write meets SQLITE_BUSY_SNAPSHOT whenever another client committed in between.
    """
    failures: list[str] = []

    def each_round(identity: str, version: Version, steps: Callable[[KmipClient], None]) -> None:
        # Failures are recorded, not raised: a thread's exception would not fail the test.
        try:
            with kmip_server.client(identity, version=version) as kmip:
                for _ in range(ROUNDS_AT_ONCE):
                    try:
                        steps(kmip)
                    except (KmipResultError, AssertionError) as error:
                        failures.append(f"{identity}: {error!r}")
        except Exception as error:
            failures.append(f"{identity} stopped: {error!r}")

    def mongodb(kmip: KmipClient) -> None:
        uid = kmip.call(aes_create((1, 2), 256)).unique_identifier
        key_material(kmip, uid)
        kmip.call(ActivateRequest(unique_identifier=uid))
        assert attribute_values(kmip, uid, "State") == {"State": State.ACTIVE}

    group = unique("at-once-percona")

    def percona(kmip: KmipClient) -> None:
        uid = kmip.call(aes_register((1, 4), os.urandom(32), (Tag.OBJECT_GROUP, group))).unique_identifier
        kmip.call(ActivateRequest(unique_identifier=uid))

    def provisioning(kmip: KmipClient) -> None:
        """A bulk provisioning tool: four Creates in a batch."""
        for item in kmip.batch(*(aes_create((2, 1), 256) for _ in range(4))):
            assert item.result_status is ResultStatus.SUCCESS, item

    clients = [
        ("at-once-mongodb-1", (1, 2), mongodb),
        ("at-once-mongodb-2", (1, 2), mongodb),
        ("at-once-percona", (1, 4), percona),
        ("at-once-provisioning", (2, 1), provisioning),
    ]
    threads = [threading.Thread(target=each_round, args=client) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert failures == []
