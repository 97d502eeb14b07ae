"""`pkcs11-kmip admin ... --server`: users, groups and grants changed over KMIP on a running server.

One private server. Its first administrator is made on the data directory (as at
installation); everything after goes over real TLS in the extension operations, as the
administrator's client: a change applies to the grantee's next request, anyone else is
refused with Permission Denied and no hint, and each change is in the server's audit
log with no password or hash.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipResultError
from pkcs11_kmip.kmip.messages.access_admin import (
    AccessGrant,
    AddGrantRequest,
    AddUserRequest,
    GetAccessRequest,
    RemoveGrantRequest,
)
from pkcs11_kmip.kmip.messages.payloads import LocateRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import BatchErrorContinuationOption, ResultReason, ResultStatus
from testsupport.admin import admin as on_data_dir
from testsupport.admin import admin_at
from testsupport.kmip_builders import aes_create, as_attributes, name
from testsupport.server import RunningServer, cli, start_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("admin-remote"))
    on_data_dir(running.data_dir, "users", "add", "admin", "--admin", "--no-password")
    yield running
    if running.process is not None:
        running.stop()


def remote(
    server: RunningServer, *args: str, client: str = "admin", stdin: str = "", ok: bool = True
) -> subprocess.CompletedProcess[str]:
    """`pkcs11-kmip admin ...` against the running server, as `client` (its certificate)."""
    identity = server.client_identity(client)
    where = ["--server", f"{server.host}:{server.port}", "--cert", str(identity.cert)]
    return admin_at([*where, "--key", str(identity.key), "--ca", str(identity.ca)], *args, stdin=stdin, ok=ok)


def remote_json(server: RunningServer, *args: str) -> Any:
    return json.loads(remote(server, *args, "--json").stdout)


def admin_lines(server: RunningServer) -> list[dict[str, Any]]:
    lines = (server.data_dir / "audit.log").read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry["kind"] == "admin"]


def located(server: RunningServer, client: str, key_name: str) -> list[str]:
    with server.client(client) as kmip:
        found = kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(key_name)))))
    return list(found.unique_identifiers)


def test_admin_adds_a_user_a_group_and_a_grant_that_apply_at_once(server: RunningServer) -> None:
    with server.client("owner-a") as kmip:
        created = aes_create((2, 1), 256, (Tag.NAME, name("remote-granted")), (Tag.OBJECT_GROUP, "remote-og"))
        uid = kmip.call(created).unique_identifier
    server.client_identity("grantee-a")
    assert located(server, "grantee-a", "remote-granted") == []

    remote(server, "users", "add", "grantee-a", "--password-stdin", stdin=PASSWORD + "\n")
    remote(server, "groups", "add", "remote-team", "--user", "grantee-a")
    grant = remote_json(
        server, "grants", "add", "--group", "remote-team", "--object-group", "remote-og", "--role", "reader"
    )
    assert (grant["to"], grant["on"], grant["role"]) == ("group:remote-team", "group:remote-og", "reader")
    assert grant["created_by"] == "admin" and "Locate" in grant["operations"]

    assert located(server, "grantee-a", "remote-granted") == [uid]

    users = {row["name"]: row for row in remote_json(server, "users", "list")}
    assert users["grantee-a"]["password"] is True and users["grantee-a"]["groups"] == ["remote-team"]
    assert users["admin"]["admin"] is True
    groups = remote_json(server, "groups", "list")
    assert {"kind": "user", "name": "remote-team", "users": ["grantee-a"], "groups": []} in groups
    listed = remote_json(server, "grants", "list", "--to", "remote-team")
    assert [row["id"] for row in listed] == [grant["id"]]
    # Table output, as on the data directory.
    table = remote(server, "grants", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "TO", "ON"]

    remote(server, "grants", "remove", str(grant["id"]))
    assert located(server, "grantee-a", "remote-granted") == []

    # The same tables are seen on the data directory.
    on_disk = json.loads(on_data_dir(server.data_dir, "groups", "list", "--json").stdout)
    assert {"kind": "user", "name": "remote-team", "users": ["grantee-a"], "groups": []} in on_disk


def test_a_non_administrator_is_refused_without_a_hint(server: RunningServer) -> None:
    server.client_identity("not-admin")
    on_data_dir(server.data_dir, "users", "add", "not-admin", "--no-password")
    refused = remote(
        server, "users", "add", "not-admin", "--admin", "--no-password", client="not-admin", ok=False
    )
    assert "Permission Denied" in refused.stderr
    before = len(admin_lines(server))
    with server.client("not-admin") as kmip:
        for payload in (
            GetAccessRequest(),
            AddUserRequest(name="not-admin", admin=True),
            RemoveGrantRequest(identifier=999999),
            AddGrantRequest(
                grant=AccessGrant(grantee_kind="user", grantee="not-admin", object_group="x", role="admin")
            ),
        ):
            with pytest.raises(KmipResultError) as refusal:
                kmip.call(payload)
            assert refusal.value.reason is ResultReason.PERMISSION_DENIED
            assert refusal.value.message == "permission denied"
    assert len(admin_lines(server)) == before
    users = {row["name"]: row for row in remote_json(server, "users", "list")}
    assert users["not-admin"]["admin"] is False


def test_bad_requests_get_precise_reasons(server: RunningServer) -> None:
    with server.client("admin") as kmip:
        with pytest.raises(KmipResultError) as missing:
            kmip.call(RemoveGrantRequest(identifier=999999))
        assert missing.value.reason is ResultReason.ITEM_NOT_FOUND
        with pytest.raises(KmipResultError) as two_targets:
            kmip.call(
                AddGrantRequest(
                    grant=AccessGrant(
                        grantee_kind="user",
                        grantee="admin",
                        object_group="a",
                        unique_identifier="b",
                        role="reader",
                    )
                )
            )
        assert two_targets.value.reason is ResultReason.INVALID_FIELD
    cycle = remote(server, "groups", "add", "outer", "--group", "inner")
    assert cycle.returncode == 0
    refused = remote(server, "groups", "add", "inner", "--group", "outer", ok=False)
    assert "Invalid Field" in refused.stderr and "cycle" in refused.stderr


def test_each_change_is_audited_without_secrets(server: RunningServer) -> None:
    before = len(admin_lines(server))
    remote(server, "users", "add", "audited", "--password-stdin", stdin=PASSWORD + "\n")
    remote(server, "groups", "add", "audited-team", "--user", "audited")
    grant = remote_json(
        server,
        "grants",
        "add",
        "--user",
        "audited",
        "--object-type",
        "SymmetricKey",
        "--operations",
        "Get,Locate",
    )
    remote(server, "grants", "remove", str(grant["id"]))
    remote(server, "groups", "remove", "audited-team")
    remote(server, "users", "remove", "audited")
    changes = admin_lines(server)[before:]
    assert [entry["action"] for entry in changes] == [
        "user added",
        "group added",
        "grant added",
        "grant removed",
        "group removed",
        "user removed",
    ]
    assert all(entry["who"] == "admin" and entry["time"] for entry in changes)
    assert changes[0]["user"] == "audited" and changes[0]["password_set"] is True
    assert changes[2]["grant"]["on"] == "type:SYMMETRIC_KEY"
    assert sorted(changes[2]["grant"]["operations"]) == ["Get", "Locate"]
    log = (server.data_dir / "audit.log").read_text()
    assert PASSWORD not in log and "scrypt$" not in log
    # The request lines name the extension operations.
    assert '"operation":"Add User"' in log


def test_a_password_set_over_kmip_authenticates(server: RunningServer) -> None:
    remote(server, "users", "add", "by-password", "--password-stdin", stdin=PASSWORD + "\n")
    stored = (server.data_dir / "users.toml").read_text()
    assert "by-password" in stored and "scrypt$" in stored and PASSWORD not in stored
    remote(server, "users", "remove", "by-password")
    assert "by-password" not in (server.data_dir / "users.toml").read_text()


def test_the_client_configuration_is_enough(server: RunningServer, tmp_path: Path) -> None:
    identity = server.client_identity("admin")
    config = tmp_path / "pkcs11-kmip.toml"
    config.write_text(
        f'[server]\naddress = "{server.host}:{server.port}"\n'
        f'ca = "{identity.ca}"\ncertificate = "{identity.cert}"\nkey = "{identity.key}"\n'
    )
    done = subprocess.run(
        [*cli(), "admin", "users", "list", "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "admin" in {row["name"] for row in json.loads(done.stdout)}


def test_defaults_and_constraints_go_over_the_standard_operations(server: RunningServer) -> None:
    """Set Defaults / Query, Set / Get Constraints: an addition keeps the others as they
    were (names, creation, author), the server audits what changed, and the rule works."""
    on_data_dir(server.data_dir, "constraints", "add", "aes-only", "algorithms=AES", "--object-group", "std")
    before = len(admin_lines(server))
    added = remote_json(
        server, "constraints", "add", "pay-256", "min-length=AES:256", "--object-group", "remote-pay"
    )
    assert (added["name"], added["rule"], added["object_groups"]) == (
        "pay-256",
        "min-length=AES:256",
        ["remote-pay"],
    )
    listed = {row["name"]: row["rule"] for row in remote_json(server, "constraints", "list")}
    assert listed == {"aes-only": "algorithms=AES", "pay-256": "min-length=AES:256"}
    # KMIP carries no creation time or author: the data directory shows the standard-form
    # rule made there kept its own, and the new one is the administrator's.
    on_disk = json.loads(on_data_dir(server.data_dir, "constraints", "list", "--json").stdout)
    authors = {row["name"]: row["created_by"] for row in on_disk}
    assert authors["pay-256"] == "admin" and authors["aes-only"] not in ("admin", "")
    with server.client("owner-a") as kmip:
        with pytest.raises(KmipResultError) as violation:
            kmip.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, "remote-pay")))
        assert violation.value.reason is ResultReason.CONSTRAINT_VIOLATION
        assert "pay-256" in (violation.value.message or "")

    secret_agent = ("defaults", "add", "SecretAgent", "--object-type", "SymmetricKey", "--algorithm", "AES")
    remote(server, *secret_agent, "--length", "192", "--mode", "CBC")
    defaults = {row["name"]: row for row in remote_json(server, "defaults", "list")}
    assert "Cryptographic Length=192" in defaults["SecretAgent"]["attributes"]
    refused = remote(
        server,
        "defaults",
        "add",
        "pre-",
        "--object-type",
        "SymmetricKey",
        "--length",
        "128",
        "--by",
        "prefix",
        ok=False,
    )
    assert "--data-dir" in refused.stderr
    assert "already exists" in remote(server, *secret_agent, ok=False).stderr

    remote(server, "constraints", "remove", "pay-256")
    remote(server, "defaults", "remove", "SecretAgent")
    assert [row["name"] for row in remote_json(server, "constraints", "list")] == ["aes-only"]
    assert "SecretAgent" not in {row["name"] for row in remote_json(server, "defaults", "list")}
    changes = [(entry["who"], entry["action"]) for entry in admin_lines(server)[before:]]
    assert changes == [
        ("admin", "constraint added"),
        ("admin", "defaults added"),
        ("admin", "constraint removed"),
        ("admin", "defaults removed"),
    ]
    assert "no constraint 'pay-256'" in remote(server, "constraints", "remove", "pay-256", ok=False).stderr
    on_data_dir(server.data_dir, "constraints", "remove", "aes-only")


def test_a_change_undone_with_its_batch_leaves_no_trace(server: RunningServer) -> None:
    """An administrative change in a batch that is undone: no user, no password, no audit line."""
    before = len(admin_lines(server))
    with server.client("admin") as kmip:
        answers = kmip.batch(
            AddUserRequest(name="undone", password=PASSWORD),
            RemoveGrantRequest(identifier=999999),
            batch_error_continuation_option=BatchErrorContinuationOption.UNDO,
        )
    assert [item.result_status for item in answers] == [
        ResultStatus.OPERATION_UNDONE,
        ResultStatus.OPERATION_FAILED,
    ]
    assert "undone" not in {row["name"] for row in remote_json(server, "users", "list")}
    assert "undone" not in (server.data_dir / "users.toml").read_text()
    assert len(admin_lines(server)) == before
