"""Access control over real TLS: owners, grants, nested groups, batches, the audit log.

One private server for the module; its users, groups and grants are changed with the
`pkcs11-kmip admin` command on its data directory while it runs, as an administrator
would, and every change must apply to the clients' next request without a restart.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    AddAttributeRequest,
    DestroyRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    RequestPayload,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import RevocationReason
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BatchErrorContinuationOption,
    ResultReason,
    ResultStatus,
    RevocationReasonCode,
)
from testsupport.kmip_builders import aes_create, aes_register, as_attributes, name
from testsupport.server import RunningServer, cli, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("access-control"))
    yield running
    if running.process is not None:
        running.stop()


def admin(server: RunningServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`pkcs11-kmip admin ...` on the server's data directory (while it runs)."""
    done = subprocess.run(
        [*cli(), "admin", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert not check or done.returncode == 0, done.stderr
    return done


def user(server: RunningServer, prefix: str) -> str:
    """A new user, known to the administrators, with its own client certificate."""
    unique = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin(server, "users", "add", unique, "--no-password")
    server.client_identity(unique)
    return unique


def grant(server: RunningServer, *args: str) -> int:
    """Add a grant; its id."""
    added = json.loads(admin(server, "grants", "add", *args, "--json").stdout)
    return int(added["id"])


def refusal(client: KmipClient, payload: RequestPayload) -> ResultReason | None:
    with pytest.raises(KmipResultError) as refused:
        client.call(payload)
    return refused.value.reason


def located(client: KmipClient, *attributes: Any) -> list[str]:
    found = client.call(LocateRequest(attributes=as_attributes(*attributes)))
    return [str(uid) for uid in found.unique_identifiers]


def key_named(client: KmipClient, text: str, *extra: Any) -> str:
    return str(client.call(aes_create((2, 1), 256, (Tag.NAME, name(text)), *extra)).unique_identifier)


def test_without_a_grant_another_client_cannot_tell_the_key_exists(server: RunningServer) -> None:
    alice, bob = user(server, "alice"), user(server, "bob")
    label = f"secret-{uuid.uuid4().hex}"
    with server.client(alice) as owner, server.client(bob) as other:
        uid = key_named(owner, label)
        absent = refusal(other, GetRequest(unique_identifier=str(uuid.uuid4())))
        assert absent is ResultReason.OBJECT_NOT_FOUND
        # The same answer as for an identifier nobody uses, whatever the operation.
        for payload in (
            GetRequest(unique_identifier=uid),
            GetAttributesRequest(unique_identifier=uid),
            DestroyRequest(unique_identifier=uid),
        ):
            assert refusal(other, payload) is absent
        assert located(other, (Tag.NAME, name(label))) == []
        assert uid not in located(other)
        # The owner keeps every right.
        assert located(owner, (Tag.NAME, name(label))) == [uid]
        owner.call(DestroyRequest(unique_identifier=uid))


def test_a_reader_grant_allows_get_and_locate_not_destroy_until_removed(server: RunningServer) -> None:
    alice, bob = user(server, "alice"), user(server, "bob")
    label = f"shared-{uuid.uuid4().hex}"
    material = os.urandom(32)
    with server.client(alice) as owner, server.client(bob, version=(1, 4)) as other:
        uid = str(owner.call(aes_register((2, 1), material, (Tag.NAME, name(label)))).unique_identifier)
        grant_id = grant(server, "--user", bob, "--object", uid, "--role", "reader")
        # The next request sees the grant: no restart, same connection.
        got = other.call(GetRequest(unique_identifier=uid))
        assert got.object.key_block.key_value.key_material == material
        assert other.call(LocateRequest(attribute_list=[_name_attribute(label)])).unique_identifiers == [uid]
        # A reader sees the key, so Permission Denied tells it nothing new.
        assert refusal(other, DestroyRequest(unique_identifier=uid)) is ResultReason.PERMISSION_DENIED
        assert refusal(other, ActivateRequest(unique_identifier=uid)) is ResultReason.PERMISSION_DENIED
        admin(server, "grants", "remove", str(grant_id))
        assert refusal(other, GetRequest(unique_identifier=uid)) is ResultReason.ITEM_NOT_FOUND
        assert other.call(LocateRequest(attribute_list=[_name_attribute(label)])).unique_identifiers == []
        assert owner.call(GetRequest(unique_identifier=uid)).unique_identifier == uid  # still there


def _name_attribute(label: str) -> Attribute:
    return Attribute(attribute_name="Name", attribute_value=name(label))


def test_a_grant_on_an_object_group_reaches_nested_groups_and_members_of_nested_user_groups(
    server: RunningServer,
) -> None:
    alice, carol = user(server, "alice"), user(server, "carol")
    tag = uuid.uuid4().hex[:8]
    payments, europe = f"payments-{tag}", f"payments-eu-{tag}"
    auditors, eu_auditors = f"auditors-{tag}", f"eu-auditors-{tag}"
    admin(server, "groups", "add", payments, "--objects", "--group", europe)
    admin(server, "groups", "add", eu_auditors, "--user", carol)
    admin(server, "groups", "add", auditors, "--group", eu_auditors)
    with server.client(alice) as owner, server.client(carol) as reader:
        in_group = key_named(owner, f"eu-{tag}", (Tag.OBJECT_GROUP, europe))
        outside = key_named(owner, f"other-{tag}", (Tag.OBJECT_GROUP, f"elsewhere-{tag}"))
        assert located(reader, (Tag.OBJECT_GROUP, europe)) == []
        grant(server, "--group", auditors, "--object-group", payments, "--role", "reader")
        assert located(reader, (Tag.OBJECT_GROUP, europe)) == [in_group]
        everything = located(reader)
        assert in_group in everything and outside not in everything
        # Located Items counts only what the caller may see.
        paged = reader.call(
            LocateRequest(maximum_items=1, attributes=as_attributes((Tag.OBJECT_GROUP, europe)))
        )
        assert (paged.located_items, paged.unique_identifiers) == (1, [in_group])
        assert reader.call(GetRequest(unique_identifier=in_group)).unique_identifier == in_group
        assert refusal(reader, GetRequest(unique_identifier=outside)) is ResultReason.OBJECT_NOT_FOUND
        assert refusal(reader, DestroyRequest(unique_identifier=in_group)) is ResultReason.PERMISSION_DENIED
        # Out of the inner user group: out of the grant, at the next request.
        admin(server, "groups", "remove", eu_auditors, "--user", carol)
        assert refusal(reader, GetRequest(unique_identifier=in_group)) is ResultReason.OBJECT_NOT_FOUND
        assert located(reader, (Tag.OBJECT_GROUP, europe)) == []


def test_three_clients_get_what_their_roles_say_operation_by_operation(server: RunningServer) -> None:
    """reader < user < manager < admin, on one key; each refusal is Permission Denied."""
    alice = user(server, "alice")
    holders = {role: user(server, role) for role in ("reader", "user", "manager")}
    with server.client(alice) as owner:
        uid = key_named(owner, f"roles-{uuid.uuid4().hex}")
        for role, holder in holders.items():
            grant(server, "--user", holder, "--object", uid, "--role", role)
    revoke = RevokeRequest(
        unique_identifier=uid,
        revocation_reason=RevocationReason(
            revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION
        ),
    )
    # In lifecycle order: Activate before Encrypt, Revoke before Destroy.
    steps: list[tuple[RequestPayload, str]] = [
        (GetAttributesRequest(unique_identifier=uid), "reader"),
        (GetRequest(unique_identifier=uid), "reader"),
        (ActivateRequest(unique_identifier=uid), "manager"),
        (EncryptRequest(unique_identifier=uid, data=bytes(16)), "user"),
        (
            AddAttributeRequest(
                unique_identifier=uid, new_attribute=NewAttribute.of((Tag.DESCRIPTION, "by a manager"))
            ),
            "manager",
        ),
        (revoke, "manager"),
    ]
    ranks = ["reader", "user", "manager"]
    clients = {role: server.client(holder) for role, holder in holders.items()}
    try:
        for payload, least in steps:
            allowed = ranks[ranks.index(least) :]
            for role in ranks:
                if role in allowed:
                    continue  # the refusals first: a success may change the key's state
                assert refusal(clients[role], payload) is ResultReason.PERMISSION_DENIED, (role, payload)
            clients[least].call(payload)  # the least role that may, may
        for role in ranks:
            assert (
                refusal(clients[role], DestroyRequest(unique_identifier=uid))
                is ResultReason.PERMISSION_DENIED
            )
    finally:
        for client in clients.values():
            client.close()
    with server.client(alice) as owner:
        owner.call(DestroyRequest(unique_identifier=uid))


def test_operations_grants_and_type_grants(server: RunningServer) -> None:
    alice, erin = user(server, "alice"), user(server, "erin")
    with server.client(alice) as owner, server.client(erin) as other:
        uid = key_named(owner, f"typed-{uuid.uuid4().hex}")
        grant(server, "--user", erin, "--object-type", "SymmetricKey", "--operations", "Get,Get Attributes")
        assert other.call(GetAttributesRequest(unique_identifier=uid)).unique_identifier == uid
        # Get but not Locate: the key is usable by its identifier, and not listed.
        assert uid not in located(other)
        assert refusal(other, DestroyRequest(unique_identifier=uid)) is ResultReason.PERMISSION_DENIED


def test_an_administrator_may_do_everything(server: RunningServer) -> None:
    alice = user(server, "alice")
    root = f"root-{uuid.uuid4().hex[:8]}"
    admin(server, "users", "add", root, "--admin", "--no-password")
    with server.client(alice) as owner, server.client(root) as administrator:
        uid = key_named(owner, f"any-{uuid.uuid4().hex}")
        assert uid in located(administrator)
        administrator.call(DestroyRequest(unique_identifier=uid))


def test_a_batch_is_checked_item_by_item(server: RunningServer) -> None:
    alice, bob = user(server, "alice"), user(server, "bob")
    with server.client(alice) as owner, server.client(bob) as other:
        shared = key_named(owner, f"batch-shared-{uuid.uuid4().hex}")
        private = key_named(owner, f"batch-private-{uuid.uuid4().hex}")
        grant(server, "--user", bob, "--object", shared, "--role", "reader")
        items = other.batch(
            GetRequest(unique_identifier=shared),
            DestroyRequest(unique_identifier=shared),
            GetRequest(unique_identifier=private),
            GetAttributesRequest(unique_identifier=shared),
            batch_error_continuation_option=BatchErrorContinuationOption.CONTINUE,
        )
        assert [(item.result_status, item.result_reason) for item in items] == [
            (ResultStatus.SUCCESS, None),
            (ResultStatus.OPERATION_FAILED, ResultReason.PERMISSION_DENIED),
            (ResultStatus.OPERATION_FAILED, ResultReason.OBJECT_NOT_FOUND),
            (ResultStatus.SUCCESS, None),
        ]
        # Nothing the batch was refused happened.
        assert owner.call(GetRequest(unique_identifier=shared)).unique_identifier == shared


def test_group_cycles_are_refused(server: RunningServer) -> None:
    tag = uuid.uuid4().hex[:8]
    for kind in ([], ["--objects"]):
        admin(server, "groups", "add", f"a-{tag}", *kind, "--group", f"b-{tag}")
        admin(server, "groups", "add", f"b-{tag}", *kind, "--group", f"c-{tag}")
        for name_, member in ((f"c-{tag}", f"a-{tag}"), (f"a-{tag}", f"a-{tag}")):
            refused = admin(server, "groups", "add", name_, *kind, "--group", member, check=False)
            assert refused.returncode == 1 and "cycle" in refused.stderr, refused.stderr


def test_the_audit_log_records_requests_and_changes_without_key_material(server: RunningServer) -> None:
    alice, bob = user(server, "alice"), user(server, "bob")
    material = os.urandom(32)
    with server.client(alice) as owner, server.client(bob) as other:
        uid = str(owner.call(aes_register((2, 1), material)).unique_identifier)
        owner.call(GetRequest(unique_identifier=uid))
        grant_id = grant(server, "--user", bob, "--object", uid, "--role", "reader")
        refusal(other, DestroyRequest(unique_identifier=uid))
    text = (server.data_dir / "audit.log").read_text()
    assert material.hex() not in text.lower()
    assert all(secret not in text for secret in (_b64(material), repr(material)))
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["kind"] == "request"]
    item = {"operation": "Get", "ids": [uid], "status": "Success"}
    assert any(r["principal"] == alice and item in r["items"] for r in requests)
    assert all(r["address"].startswith("127.0.0.1:") for r in requests)
    denied = {
        "operation": "Destroy",
        "ids": [uid],
        "status": "Operation Failed",
        "reason": "Permission Denied",
    }
    assert any(r["principal"] == bob and denied in r["items"] and r["version"] == "2.1" for r in requests)
    changes = [line for line in lines if line["kind"] == "admin"]
    added = [c for c in changes if c["action"] == "grant added" and c["grant"]["id"] == grant_id]
    assert added and added[0]["grant"]["to"] == f"user:{bob}" and added[0]["who"]
    assert any(c["action"] == "user added" and c["user"] == bob for c in changes)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
