"""KMIP 2.1 Delegated Login over real TLS: a ticket limited to Rights, handed to another
client, that never does more than its delegator may (checked at issue and at each use),
runs out by Request Count and Lease Time, ends on Logout and on the delegator losing a
grant, and is recorded in the audit log by a reference, never by its value. Also the
server's maximum ticket lease ([auth] max_ticket_lease) for Login and Delegated Login.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import (
    DelegatedLoginRequest,
    DestroyRequest,
    GetAttributesRequest,
    GetRequest,
    ImportRequest,
    LocateRequest,
    LoginRequest,
    LogoutRequest,
    QueryRequest,
    RequestPayload,
)
from pkcs11_kmip.kmip.messages.structures import ObjectGroups, Objects, Operations, Right, Rights, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ObjectType,
    Operation,
    QueryFunction,
    ResultReason,
    TicketType,
)
from testsupport.admin import admin, admin_json
from testsupport.kmip_builders import aes_create, name
from testsupport.managed_keys import symmetric
from testsupport.server import RunningServer, start_server
from testsupport.server_config import reconfigure
from testsupport.tickets import ticket, with_ticket


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("delegated-login"))
    yield running
    running.stop()


def right(*operations: Operation, objects: list[str] | None = None) -> Right:
    return Right(
        operations=Operations(operations=list(operations)) if operations else None,
        objects=Objects(unique_identifiers=list(objects)) if objects is not None else None,
    )


def delegate(client: KmipClient, *rights: Right, **limits: Any) -> bytes:
    """A Delegated Login by `client`: the ticket's value."""
    issued = client.call(DelegatedLoginRequest(rights=Rights(rights=list(rights)), **limits)).ticket
    assert issued.ticket_type is TicketType.LOGIN
    return bytes(issued.ticket_value)


def with_(client: KmipClient, value: bytes, payload: RequestPayload) -> Any:
    """`payload` run by `client` with the ticket in the request header."""
    return client.call(payload, authentication=with_ticket(value))


def refused(client: KmipClient, payload: RequestPayload, value: bytes | None = None) -> ResultReason | None:
    with pytest.raises(KmipResultError) as failure:
        if value is None:
            client.call(payload)
        else:
            with_(client, value, payload)
    return failure.value.reason


def key(client: KmipClient) -> str:
    made = client.call(aes_create((2, 1), 256, (Tag.NAME, name(f"delegated-{uuid.uuid4().hex}"))))
    return str(made.unique_identifier)


def user(server: RunningServer, prefix: str) -> str:
    """A user known to the administrators, with a client certificate of its own."""
    unique = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin(server.data_dir, "users", "add", unique, "--no-password")
    server.client_identity(unique)
    return unique


def query_operations(client: KmipClient, value: bytes) -> list[Operation]:
    answer = with_(client, value, QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS]))
    return list(answer.operations)


def test_another_client_acts_as_the_delegator_within_the_rights(server: RunningServer) -> None:
    with server.client("dl-alice") as alice, server.client("dl-carol") as carol:
        mine, other = key(alice), key(alice)
        value = delegate(
            alice,
            right(Operation.GET, Operation.GET_ATTRIBUTES, Operation.LOCATE, objects=[mine]),
            right(Operation.QUERY),
        )
        # carol's own certificate reaches nothing of alice's; the ticket reaches `mine`.
        assert refused(carol, GetRequest(unique_identifier=mine)) is ResultReason.OBJECT_NOT_FOUND
        assert with_(carol, value, GetRequest(unique_identifier=mine)).unique_identifier == mine
        assert with_(carol, value, GetAttributesRequest(unique_identifier=mine)).unique_identifier == mine
        # Locate answers only what the ticket covers, though alice has both keys.
        assert [str(uid) for uid in with_(carol, value, LocateRequest()).unique_identifiers] == [mine]
        assert query_operations(carol, value) == sorted(
            [Operation.QUERY, Operation.LOCATE, Operation.GET, Operation.GET_ATTRIBUTES]
        )
        # Beyond the Rights: another object (existing or not), another operation.
        for payload in (
            GetRequest(unique_identifier=other),
            GetRequest(unique_identifier=str(uuid.uuid4())),
            DestroyRequest(unique_identifier=mine),
            aes_create((2, 1)),
        ):
            assert refused(carol, payload, value) is ResultReason.NOT_AUTHORISED
        assert alice.call(GetRequest(unique_identifier=mine)).unique_identifier == mine  # still there


def test_a_right_by_object_group_covers_the_objects_in_that_group(server: RunningServer) -> None:
    group = f"dl-group-{uuid.uuid4().hex[:8]}"
    with server.client("dl-groups") as alice, server.client("dl-groups-holder") as holder:
        grouped = str(alice.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, group))).unique_identifier)
        ungrouped = key(alice)
        scoped = Right(
            operations=Operations(operations=[Operation.GET, Operation.LOCATE]),
            object_groups=ObjectGroups(object_groups=[group]),
        )
        value = delegate(alice, scoped)
        assert with_(holder, value, GetRequest(unique_identifier=grouped)).unique_identifier == grouped
        get_other = GetRequest(unique_identifier=ungrouped)
        assert refused(holder, get_other, value) is ResultReason.NOT_AUTHORISED
        assert [str(uid) for uid in with_(holder, value, LocateRequest()).unique_identifiers] == [grouped]


def test_import_replaces_only_objects_the_rights_cover(server: RunningServer) -> None:
    with server.client("dl-import") as alice, server.client("dl-import-holder") as holder:
        mine, other = key(alice), key(alice)
        value = delegate(alice, right(Operation.IMPORT, objects=[mine]))

        def replacement(uid: str) -> ImportRequest:
            attributes = Attributes()
            attributes.add(Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT)
            return ImportRequest(
                unique_identifier=uid,
                object_type=ObjectType.SYMMETRIC_KEY,
                replace_existing=True,
                attributes=attributes,
                object=symmetric(CryptographicAlgorithm.AES, os.urandom(32)),
            )

        assert refused(holder, replacement(other), value) is ResultReason.NOT_AUTHORISED
        assert with_(holder, value, replacement(mine)).unique_identifier == mine


def test_a_ticket_cannot_do_more_than_its_delegator(server: RunningServer) -> None:
    owner_name, bob_name = user(server, "dl-owner"), user(server, "dl-bob")
    with server.client(owner_name) as owner, server.client(bob_name) as bob:
        shared, private = key(owner), key(owner)
        admin(server.data_dir, "grants", "add", "--user", bob_name, "--object", shared, "--role", "reader")
        # At issue: objects the delegator may not act on, or that do not exist.
        for rights in (
            right(Operation.GET, objects=[private]),
            right(Operation.GET, objects=[str(uuid.uuid4())]),
            right(Operation.DESTROY, objects=[shared]),  # a reader may not Destroy
            right(objects=[shared]),  # every operation: only an owner or administrator has them
        ):
            with pytest.raises(KmipResultError) as failure:
                delegate(bob, rights)
            assert failure.value.reason is ResultReason.PERMISSION_DENIED
        # At use: a Right by operation alone is bounded by what the delegator may do now.
        value = delegate(bob, right(Operation.GET, Operation.DESTROY))
        assert with_(bob, value, GetRequest(unique_identifier=shared)).unique_identifier == shared
        assert refused(bob, DestroyRequest(unique_identifier=shared), value) is ResultReason.PERMISSION_DENIED
        assert refused(bob, GetRequest(unique_identifier=private), value) is ResultReason.OBJECT_NOT_FOUND
        # A ticket never issues tickets: not named in Rights, and not by an unrestricted Right.
        with pytest.raises(KmipResultError) as issuing:
            delegate(bob, right(Operation.LOGIN))
        assert issuing.value.reason is ResultReason.PERMISSION_DENIED
        anything = delegate(bob, right())
        assert refused(bob, LoginRequest(), anything) is ResultReason.NOT_AUTHORISED
        escalation = DelegatedLoginRequest(rights=Rights(rights=[right(Operation.GET)]))
        assert refused(bob, escalation, anything) is ResultReason.NOT_AUTHORISED


@pytest.mark.parametrize(
    ("request_fields", "reason"),
    [
        ({"rights": Rights(rights=[])}, ResultReason.INVALID_FIELD),
        (
            {"rights": Rights(rights=[Right(operations=Operations(operations=[]))])},
            ResultReason.INVALID_FIELD,
        ),
        (
            {"rights": Rights(rights=[Right(usage_limits=UsageLimits(usage_limits_total=5))])},
            ResultReason.FEATURE_NOT_SUPPORTED,
        ),
        (
            {"rights": Rights(rights=[right(Operation.QUERY)]), "request_count": -1},
            ResultReason.INVALID_FIELD,
        ),
    ],
)
def test_malformed_delegations_are_refused(
    server: RunningServer, request_fields: dict[str, Any], reason: ResultReason
) -> None:
    with server.client("dl-malformed") as client:
        assert refused(client, DelegatedLoginRequest(**request_fields)) is reason


def test_a_ticket_runs_out_by_count_and_by_lease(server: RunningServer) -> None:
    with server.client("dl-limits") as alice, server.client("dl-limits-holder") as holder:
        counted = delegate(alice, right(Operation.QUERY), request_count=2)
        assert query_operations(holder, counted) == [Operation.QUERY]
        assert query_operations(holder, counted) == [Operation.QUERY]
        query = QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS])
        assert refused(holder, query, counted) is ResultReason.USAGE_LIMIT_EXCEEDED
        leased = delegate(alice, right(Operation.QUERY), lease_time=1)
        assert query_operations(holder, leased)
        time.sleep(2.2)
        assert refused(holder, query, leased) is ResultReason.INVALID_TICKET


def test_revoking_the_delegators_grant_ends_the_delegation(server: RunningServer) -> None:
    owner_name, bob_name = user(server, "dl-grantor"), user(server, "dl-delegator")
    with (
        server.client(owner_name) as owner,
        server.client(bob_name) as bob,
        server.client("dl-revoked-holder") as holder,
    ):
        shared = key(owner)
        added = admin_json(
            server.data_dir, "grants", "add", "--user", bob_name, "--object", shared, "--role", "reader"
        )
        value = delegate(bob, right(Operation.GET, objects=[shared]))
        assert with_(holder, value, GetRequest(unique_identifier=shared)).unique_identifier == shared
        admin(server.data_dir, "grants", "remove", str(added["id"]))
        # The next request: bob sees nothing of the key any more, and neither does his ticket.
        get = GetRequest(unique_identifier=shared)
        assert refused(holder, get, value) is ResultReason.OBJECT_NOT_FOUND


def test_logout_ends_a_ticket_and_a_holder_ends_only_its_own(server: RunningServer) -> None:
    with server.client("dl-logout") as alice, server.client("dl-logout-holder") as holder:
        login_ticket = bytes(alice.call(LoginRequest()).ticket.ticket_value)
        value = delegate(alice, right(Operation.QUERY, Operation.LOGOUT))
        # The holder's Logout acts as alice, yet may not end alice's other tickets.
        assert (
            refused(holder, LogoutRequest(ticket=ticket(login_ticket)), value) is ResultReason.INVALID_TICKET
        )
        query = QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS])
        assert with_(alice, login_ticket, query).operations  # alice's Login ticket still works
        # alice ends the delegation: the holder's next request is refused.
        alice.call(LogoutRequest(ticket=ticket(value)))
        assert refused(holder, query, value) is ResultReason.INVALID_TICKET
        own = delegate(alice, right(Operation.LOGOUT))
        with_(holder, own, LogoutRequest(ticket=ticket(own)))
        assert refused(holder, query, own) is ResultReason.INVALID_TICKET


def test_forged_tickets_are_invalid(server: RunningServer) -> None:
    with server.client("dl-forger") as alice, server.client("dl-forged-holder") as holder:
        value = delegate(alice, right(Operation.QUERY))
        query = QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS])
        for forged in (bytes([value[0] ^ 1]) + value[1:], value[:-1], b"\x00" * 32, b""):
            assert refused(holder, query, forged) is ResultReason.INVALID_TICKET
        assert query_operations(holder, value) == [Operation.QUERY]  # the real one still works


def test_the_audit_log_records_the_delegation_and_its_uses_never_the_ticket(server: RunningServer) -> None:
    with server.client("dl-audited") as alice, server.client("dl-audited-holder") as holder:
        uid = key(alice)
        value = delegate(alice, right(Operation.GET, objects=[uid]), request_count=3)
        with_(holder, value, GetRequest(unique_identifier=uid))
    lines = [json.loads(line) for line in (server.data_dir / "audit.log").read_text().splitlines()]
    (issued,) = [line for line in lines if line["kind"] == "delegation" and line["principal"] == "dl-audited"]
    assert issued["rights"] == [{"operations": ["Get"], "objects": [uid], "object_groups": None}]
    assert issued["request_count"] == 3
    uses = [line for line in lines if line.get("delegation", {}).get("ticket") == issued["ticket"]]
    assert [(use["principal"], use["delegation"]["holder"]) for use in uses] == [
        ("dl-audited", "dl-audited-holder")
    ]
    assert uses[0]["items"][0]["operation"] == "Get" and uses[0]["items"][0]["ids"] == [uid]
    logs = b"".join(path.read_bytes() for path in server.data_dir.rglob("*.log"))
    with sqlite3.connect(server.data_dir / "kmip.sqlite3") as database:
        stored = b"".join(
            bytes(row[0]) + row[1].encode() for row in database.execute("SELECT * FROM ticket_rights")
        )
    for form in (value, value.hex().encode(), value.hex().upper().encode()):
        assert form not in logs
        assert form not in stored


def test_the_server_bounds_every_tickets_lease(tmp_path_factory: pytest.TempPathFactory) -> None:
    running = start_server(tmp_path_factory.mktemp("ticket-lease"))
    try:
        reconfigure(running, "auth", max_ticket_lease=2)
        with running.client("lease-user") as client:
            for payload in (
                LoginRequest(lease_time=3),
                DelegatedLoginRequest(lease_time=60, rights=Rights(rights=[right(Operation.QUERY)])),
            ):
                assert refused(client, payload) is ResultReason.INVALID_FIELD
            unlimited = bytes(client.call(LoginRequest(lease_time=0)).ticket.ticket_value)  # gets the maximum
            delegated = delegate(client, right(Operation.QUERY), lease_time=2)
            query = QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS])
            assert with_(client, unlimited, query) and with_(client, delegated, query)
            time.sleep(3.2)
            assert refused(client, query, unlimited) is ResultReason.INVALID_TICKET
            assert refused(client, query, delegated) is ResultReason.INVALID_TICKET
    finally:
        running.stop()
