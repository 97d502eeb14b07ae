"""KMIP Username and Password Credentials, where the data directory lists the user."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pkcs11_kmip.kmip.client import KmipResultError
from pkcs11_kmip.kmip.messages import Attribute, Attributes, TemplateAttribute
from pkcs11_kmip.kmip.messages.payloads import CreateRequest, GetRequest
from pkcs11_kmip.kmip.messages.structures import Authentication, Credential, CredentialValue
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CredentialType, CryptographicAlgorithm, ObjectType, ResultReason
from pkcs11_kmip_server.auth import add_user, password_users
from pkcs11_kmip_server.native.pins import PINS_FILE, Pins
from testsupport.server import RunningServer, cli


def credential(username: str, password: str) -> Authentication:
    value = CredentialValue(username=username, password=password)
    return Authentication(
        credentials=[Credential(credential_type=CredentialType.USERNAME_AND_PASSWORD, credential_value=value)]
    )


def create(version: tuple[int, int] = (2, 1), **header: object) -> tuple[CreateRequest, dict[str, object]]:
    """An AES-128 Create in the attribute form of `version`."""
    if version < (2, 0):
        template = TemplateAttribute(
            attributes=[
                Attribute(
                    attribute_name="Cryptographic Algorithm", attribute_value=CryptographicAlgorithm.AES
                ),
                Attribute(attribute_name="Cryptographic Length", attribute_value=128),
            ]
        )
        return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, template_attribute=template), header
    attributes = Attributes.of(
        (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.CRYPTOGRAPHIC_LENGTH, 128)
    )
    return CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes), header


@pytest.fixture(scope="module")
def appliance_user(kmip_server: RunningServer) -> str:
    subprocess.run(
        [
            *cli(),
            "admin",
            "users",
            "add",
            "appliance",
            "--data-dir",
            str(kmip_server.data_dir),
            "--password-stdin",
        ],
        input="s3cret\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return "appliance"


def test_a_valid_credential_acts_as_its_user_whatever_the_certificate(
    kmip_server: RunningServer, appliance_user: str
) -> None:
    with (
        kmip_server.client("cred-host-1", version=(1, 2)) as first,
        kmip_server.client("cred-host-2") as second,
    ):
        request, header = create((1, 2), authentication=credential(appliance_user, "s3cret"))
        uid = first.call(request, **header).unique_identifier
        # Another host presenting the same credential is the same user...
        assert second.call(
            GetRequest(unique_identifier=uid), authentication=credential(appliance_user, "s3cret")
        )
        # ...while the certificate alone is someone else.
        with pytest.raises(KmipResultError) as refused:
            second.call(GetRequest(unique_identifier=uid))
        assert refused.value.reason is ResultReason.OBJECT_NOT_FOUND


def test_a_wrong_password_fails_the_request(kmip_server: RunningServer, appliance_user: str) -> None:
    with kmip_server.client("cred-host-3") as client:
        request, header = create(authentication=credential(appliance_user, "guess"))
        with pytest.raises(KmipResultError) as refused:
            client.call(request, **header)
        assert refused.value.reason is ResultReason.AUTHENTICATION_NOT_SUCCESSFUL


def test_a_user_the_server_does_not_know_leaves_the_certificate_in_charge(kmip_server: RunningServer) -> None:
    with kmip_server.client("cred-host-4") as client:
        request, header = create(authentication=credential("nobody-here", "x"))
        uid = client.call(request, **header).unique_identifier
        assert client.call(GetRequest(unique_identifier=uid)).unique_identifier == uid


def test_clients_and_users_added_at_once_are_all_kept(tmp_path: Path) -> None:
    """issue-client and admin users rewrite DIR/pins.toml and DIR/users.toml: racing writers lose nothing."""
    data = tmp_path / "data"
    subprocess.run([*cli(), "init", "--data-dir", str(data)], check=True, capture_output=True, timeout=60)
    names = [f"racer-{index}" for index in range(8)]
    issuing = [
        subprocess.Popen(
            [*cli(), "ca", "issue-client", name, "--data-dir", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: add_user(data, f"user-{name}", "secret"), names))
    for process in issuing:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    pins = Pins(data / PINS_FILE)
    for name in names:
        pin = (data / "clients" / name / "pin").read_text().strip()
        assert pins.matches(name, pin), name
    assert password_users(data) == {f"user-{name}" for name in names}
    assert not list(data.glob("*.tmp")) and not list(data.glob(".*.tmp"))
