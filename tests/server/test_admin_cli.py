"""`pkcs11-kmip admin users|groups|grants list|add|remove` on a data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testsupport.admin import admin as run
from testsupport.admin import admin_json, initialized


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return initialized(tmp_path_factory.mktemp("admin-cli") / "data")


def listing(data_dir: Path, area: str, *args: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = admin_json(data_dir, area, "list", *args)
    return rows


def test_users_groups_and_grants_round_trip(data_dir: Path) -> None:
    run(data_dir, "users", "add", "alice", "--no-password")
    run(data_dir, "users", "add", "ops", "--admin", "--password-stdin", stdin="s3cret\n")
    run(data_dir, "groups", "add", "team", "--user", "alice")
    run(data_dir, "groups", "add", "everyone", "--group", "team")
    run(data_dir, "groups", "add", "payments", "--objects", "--group", "payments-eu")
    added = json.loads(
        run(
            data_dir,
            "grants",
            "add",
            "--group",
            "everyone",
            "--object-group",
            "payments",
            "--role",
            "user",
            "--json",
        ).stdout
    )
    assert added["to"] == "group:everyone" and added["on"] == "group:payments" and added["role"] == "user"
    assert {"Encrypt", "Get", "Locate"} <= set(added["operations"]) and "Destroy" not in added["operations"]
    ops = json.loads(
        run(
            data_dir,
            "grants",
            "add",
            "--user",
            "alice",
            "--object-type",
            "secret data",
            "--operations",
            "get,GetAttributes, Get_Attribute_List",
            "--json",
        ).stdout
    )
    assert (ops["on"], ops["role"], ops["operations"]) == (
        "type:SECRET_DATA",
        None,
        ["Get", "Get Attributes", "Get Attribute List"],
    )

    users = {row["name"]: row for row in listing(data_dir, "users")}
    assert users["alice"] == {**users["alice"], "admin": False, "password": False, "groups": ["team"]}
    assert users["ops"] == {**users["ops"], "admin": True, "password": True}
    # A new password keeps the administrator flag; --no-admin clears it and keeps the password.
    run(data_dir, "users", "add", "ops", "--password-stdin", stdin="n3w\n")
    assert {row["name"]: row["admin"] for row in listing(data_dir, "users")}["ops"] is True
    run(data_dir, "users", "add", "ops", "--no-admin", "--no-password")
    ops_row = {row["name"]: row for row in listing(data_dir, "users")}["ops"]
    assert (ops_row["admin"], ops_row["password"]) == (False, True)
    groups = {(row["kind"], row["name"]): row for row in listing(data_dir, "groups")}
    assert groups[("user", "everyone")]["groups"] == ["team"]
    assert groups[("object", "payments")]["groups"] == ["payments-eu"]
    assert [row["id"] for row in listing(data_dir, "grants", "--to", "alice")] == [ops["id"]]

    table = run(data_dir, "grants", "list").stdout.splitlines()
    assert table[0].split() == ["ID", "TO", "ON", "ROLE", "OPERATIONS", "CREATED", "CREATED_BY"]
    assert any(
        line.split()[:4] == [str(added["id"]), "group:everyone", "group:payments", "user"] for line in table
    )
    assert run(data_dir, "users", "list").stdout.splitlines()[0].split() == [
        "NAME",
        "ADMIN",
        "PASSWORD",
        "GROUPS",
        "CREATED",
    ]

    # Removing a user takes its memberships, grants and password with it.
    run(data_dir, "users", "remove", "alice")
    assert "alice" not in {row["name"] for row in listing(data_dir, "users")}
    assert listing(data_dir, "grants", "--to", "alice") == []
    assert {(row["kind"], row["name"]): row for row in listing(data_dir, "groups")}[("user", "team")][
        "users"
    ] == []
    run(data_dir, "groups", "remove", "everyone")
    assert listing(data_dir, "grants", "--to", "everyone") == []
    run(data_dir, "users", "remove", "ops")
    assert "ops" not in (data_dir / "users.toml").read_text()


def test_mistakes_are_refused_with_a_reason(data_dir: Path) -> None:
    cases = [
        (("grants", "add", "--user", "nobody", "--object", "x", "--role", "reader"), "no user 'nobody'"),
        (("grants", "add", "--group", "nogroup", "--object", "x", "--role", "reader"), "no user group"),
        (("grants", "add", "--user", "x", "--object-type", "Banana", "--role", "reader"), "no object type"),
        (("grants", "add", "--user", "x", "--object", "x", "--operations", "Fly"), "no KMIP operation"),
        (("grants", "remove", "99999"), "no grant 99999"),
        (("groups", "add", "g", "--user", "nobody"), "no user 'nobody'"),
        (("groups", "add", "og", "--objects", "--user", "x"), "object groups"),
        (("groups", "remove", "missing"), "no user group 'missing'"),
        (("users", "remove", "nobody"), "no user 'nobody'"),
        (("users", "add", " padded", "--no-password"), "padded"),
        (("groups", "add", ""), "empty"),
    ]
    run(data_dir, "users", "add", "x", "--no-password")
    for args, message in cases:
        refused = run(data_dir, *args, ok=False)
        assert message in refused.stderr, (args, refused.stderr)
    assert (
        "empty password"
        in run(data_dir, "users", "add", "y", "--password-stdin", stdin="\n", ok=False).stderr
    )
    # Without a terminal and without either flag: a refusal naming them, not a traceback.
    no_terminal = run(data_dir, "users", "add", "z", ok=False).stderr
    assert "--password-stdin or --no-password" in no_terminal and "Traceback" not in no_terminal
    # A password user whose name TOML would have to escape stays one user.
    odd = 'say "hi" \\ there'
    run(data_dir, "users", "add", odd, "--password-stdin", stdin="pw\n")
    assert {row["name"]: row["password"] for row in listing(data_dir, "users")}[odd] is True
    missing = run(data_dir.parent / "nowhere", "users", "list", ok=False)
    assert "not a server data directory" in missing.stderr


def test_every_change_is_in_the_audit_log(data_dir: Path) -> None:
    run(data_dir, "users", "add", "audited", "--password-stdin", stdin="pw-not-logged\n")
    grant = json.loads(
        run(
            data_dir, "grants", "add", "--user", "audited", "--object", "uid-1", "--role", "reader", "--json"
        ).stdout
    )
    run(data_dir, "grants", "remove", str(grant["id"]))
    text = (data_dir / "audit.log").read_text()
    assert "pw-not-logged" not in text
    changes = [json.loads(line) for line in text.splitlines()]
    assert all(change["kind"] == "admin" and change["who"] and change["time"] for change in changes)
    actions = [
        (change["action"], change.get("user") or change.get("grant", {}).get("id")) for change in changes
    ]
    assert ("user added", "audited") in actions
    assert ("grant added", grant["id"]) in actions and ("grant removed", grant["id"]) in actions
