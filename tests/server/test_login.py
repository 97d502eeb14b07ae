"""KMIP 2.x Login / Logout over real TLS: tickets, their Request Count and Lease Time,
Logout, and tickets presented by the wrong connection or made up.

The server runs two processes, so a ticket one process issued is spent and refused by
the other as well (the tickets live in the store, not in a process).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages.payloads import (
    GetRequest,
    LoginRequest,
    LogoutRequest,
    QueryRequest,
)
from pkcs11_kmip.kmip.messages.structures import UsageLimits
from pkcs11_kmip.kmip.spec.enums import QueryFunction, ResultReason, TicketType
from testsupport.kmip_builders import aes_create
from testsupport.server import RunningServer, start_server
from testsupport.tickets import ticket, with_ticket


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("login"), processes=2)
    yield running
    running.stop()


def login(client: KmipClient, lease_time: int | None = None, request_count: int | None = None) -> bytes:
    ticket = client.call(LoginRequest(lease_time=lease_time, request_count=request_count)).ticket
    assert ticket.ticket_type is TicketType.LOGIN
    assert len(ticket.ticket_value) == 32
    return bytes(ticket.ticket_value)


def query(client: KmipClient, value: bytes) -> object:
    return client.call(
        QueryRequest(query_functions=[QueryFunction.QUERY_OPERATIONS]), authentication=with_ticket(value)
    )


def refused(client: KmipClient, value: bytes) -> ResultReason:
    with pytest.raises(KmipResultError) as failure:
        query(client, value)
    reason = failure.value.reason
    assert reason is not None
    return reason


def test_a_ticket_acts_as_who_logged_in_until_its_count_is_used_up(server: RunningServer) -> None:
    with server.client("login-user") as client:
        value = login(client, request_count=3, lease_time=3600)
        uid = client.call(aes_create((2, 1)), authentication=with_ticket(value)).unique_identifier
        # The object is the logged-in principal's: the certificate alone reaches it too.
        assert client.call(GetRequest(unique_identifier=uid)).unique_identifier == uid
        assert query(client, value)
    with server.client("login-user") as again:  # another connection, maybe another process
        assert query(again, value)
        assert refused(again, value) is ResultReason.USAGE_LIMIT_EXCEEDED
        assert refused(again, value) is ResultReason.USAGE_LIMIT_EXCEEDED  # stays spent


def test_a_ticket_without_limits_lasts_until_logout(server: RunningServer) -> None:
    with server.client("login-logout") as client:
        value = login(client)
        for _ in range(5):
            assert query(client, value)
        client.call(LogoutRequest(ticket=ticket(value)))
        assert refused(client, value) is ResultReason.INVALID_TICKET
        with pytest.raises(KmipResultError) as twice:
            client.call(LogoutRequest(ticket=ticket(value)))
        assert twice.value.reason is ResultReason.INVALID_TICKET


def test_a_ticket_expires_with_its_lease(server: RunningServer) -> None:
    with server.client("login-lease") as client:
        value = login(client, lease_time=1)
        assert query(client, value)
        time.sleep(2.2)
        assert refused(client, value) is ResultReason.INVALID_TICKET


def test_another_clients_connection_cannot_use_or_log_out_a_ticket(server: RunningServer) -> None:
    with server.client("login-owner") as owner, server.client("login-thief") as thief:
        value = login(owner, request_count=2)
        assert refused(thief, value) is ResultReason.INVALID_TICKET
        with pytest.raises(KmipResultError) as logout:
            thief.call(LogoutRequest(ticket=ticket(value)))
        assert logout.value.reason is ResultReason.INVALID_TICKET
        # The foreign attempts spent nothing: the owner still has both requests.
        assert query(owner, value)
        assert query(owner, value)
        assert refused(owner, value) is ResultReason.USAGE_LIMIT_EXCEEDED


def test_a_made_up_ticket_is_invalid(server: RunningServer) -> None:
    with server.client("login-guess") as client:
        assert refused(client, b"\x00" * 32) is ResultReason.INVALID_TICKET
        assert refused(client, b"") is ResultReason.INVALID_TICKET


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"request_count": -1}, ResultReason.INVALID_FIELD),
        ({"usage_limits": UsageLimits(usage_limits_total=10)}, ResultReason.FEATURE_NOT_SUPPORTED),
    ],
)
def test_a_login_with_bad_limits_is_refused(
    server: RunningServer, fields: dict[str, Any], reason: ResultReason
) -> None:
    with server.client("login-bad") as client, pytest.raises(KmipResultError) as failure:
        client.call(LoginRequest(**fields))
    assert failure.value.reason is reason


def test_ticket_values_are_neither_stored_nor_logged(server: RunningServer) -> None:
    with server.client("login-secret") as client:
        value = login(client, request_count=5)
        assert query(client, value)
        assert refused(client, b"\x01" * 32) is ResultReason.INVALID_TICKET
    with sqlite3.connect(server.data_dir / "kmip.sqlite3") as database:
        rows = database.execute("SELECT digest, principal, peer FROM login_ticket").fetchall()
    assert ("login-secret", "login-secret") in [(principal, peer) for _, principal, peer in rows]
    assert all(value not in bytes(digest) for digest, _, _ in rows)
    logs = b"".join(path.read_bytes() for path in server.data_dir.rglob("*.log"))
    assert b"login-secret" in logs  # the audit log names the principal...
    for form in (value, value.hex().encode(), value.hex().upper().encode()):
        assert form not in logs  # ...never the ticket
