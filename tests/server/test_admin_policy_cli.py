"""`pkcs11-kmip admin defaults|constraints list|add|remove` on a data directory."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from testsupport.admin import admin, admin_json, initialized


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return initialized(tmp_path_factory.mktemp("admin-policy") / "data")


def run(data_dir: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    return admin(data_dir, *args, ok=ok)


def listing(data_dir: Path, area: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = admin_json(data_dir, area, "list")
    return rows


def test_default_sets_round_trip_with_audit(data_dir: Path) -> None:
    added = json.loads(
        run(
            data_dir,
            "defaults",
            "add",
            "SecretAgent",
            "--object-type",
            "SymmetricKey",
            "--algorithm",
            "aes",
            "--length",
            "192",
            "--mode",
            "CBC",
            "--padding",
            "PKCS5",
            "--usage",
            "Encrypt|Decrypt",
            "--json",
        ).stdout
    )
    assert added["by"] == "group" and added["object_type"] == "SYMMETRIC_KEY"
    assert added["attributes"] == [
        "Cryptographic Algorithm=AES",
        "Cryptographic Length=192",
        "Cryptographic Parameters=(block_cipher_mode=CBC, padding_method=PKCS5)",
        "Cryptographic Usage Mask=Encrypt|Decrypt",
    ]
    run(
        data_dir,
        "defaults",
        "add",
        "all-keys",
        "--by",
        "server",
        "--object-type",
        "SymmetricKey",
        "--length",
        "256",
    )
    assert [row["name"] for row in listing(data_dir, "defaults")] == ["SecretAgent", "all-keys"]
    table = run(data_dir, "defaults", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["NAME", "BY", "OBJECT_TYPE"] and table[1].startswith("SecretAgent  group")
    # Refused: a duplicate, no attribute, an unknown algorithm or type, an unknown name to remove.
    for refused in (
        ("SecretAgent", "--object-type", "SymmetricKey", "--length", "128"),
        ("empty", "--object-type", "SymmetricKey"),
        ("odd", "--object-type", "SymmetricKey", "--algorithm", "ROT13"),
        ("odd", "--object-type", "Teapot", "--length", "1"),
    ):
        assert run(data_dir, "defaults", "add", *refused, ok=False).stderr.startswith("pkcs11-kmip: ")
    assert "no default set" in run(data_dir, "defaults", "remove", "nothing", ok=False).stderr
    run(data_dir, "defaults", "remove", "all-keys")
    assert [row["name"] for row in listing(data_dir, "defaults")] == ["SecretAgent"]
    audit = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    actions = [(line["action"], line.get("defaults")) for line in audit if line["kind"] == "admin"]
    assert ("defaults removed", "all-keys") in actions
    assert any(action == "defaults added" and details["name"] == "SecretAgent" for action, details in actions)


def test_constraints_round_trip_with_audit(data_dir: Path) -> None:
    run(
        data_dir,
        "constraints",
        "add",
        "payments-aes-256",
        "min-length=AES:256",
        "--object-group",
        "payments",
        "--object-type",
        "SymmetricKey",
    )
    run(data_dir, "constraints", "add", "no-sign-decrypt", "usage-forbidden=Sign|Decrypt")
    rows = listing(data_dir, "constraints")
    assert [(row["name"], row["rule"], row["object_types"], row["object_groups"]) for row in rows] == [
        ("no-sign-decrypt", "usage-forbidden=Sign|Decrypt", [], []),
        ("payments-aes-256", "min-length=AES:256", ["SYMMETRIC_KEY"], ["payments"]),
    ]
    for rule, complaint in (
        ("min-length=lots", "invalid literal"),
        ("colour=blue", "no constraint kind 'colour'"),
        ("sensitive=yes", "takes no value"),
        ("usage-required=Juggle", "no CryptographicUsageMask"),
    ):
        assert complaint in run(data_dir, "constraints", "add", "bad", rule, ok=False).stderr
    assert "exists" in run(data_dir, "constraints", "add", "no-sign-decrypt", "sensitive", ok=False).stderr
    run(data_dir, "constraints", "remove", "no-sign-decrypt")
    assert [row["name"] for row in listing(data_dir, "constraints")] == ["payments-aes-256"]
    assert "no constraint" in run(data_dir, "constraints", "remove", "no-sign-decrypt", ok=False).stderr
    audit = [json.loads(line) for line in (data_dir / "audit.log").read_text().splitlines()]
    assert {"constraint added", "constraint removed"} <= {
        line["action"] for line in audit if line["kind"] == "admin"
    }
