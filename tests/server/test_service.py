"""The server as a service: TLS, identities, lifecycle of the process, a first round trip."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CreateRequest,
    DestroyRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
)
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    NameType,
    ObjectType,
    ResultReason,
    State,
)
from testsupport.server import RunningServer, cli


def aes_key(name: str) -> CreateRequest:
    return CreateRequest(
        object_type=ObjectType.SYMMETRIC_KEY,
        attributes=Attributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
            (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT),
            (Tag.NAME, Name(name_value=name, name_type=NameType.UNINTERPRETED_TEXT_STRING)),
        ),
    )


def test_create_get_locate_activate_over_tls(kmip_server: RunningServer) -> None:
    with kmip_server.client("service-roundtrip") as kmip:
        uid = kmip.call(aes_key("roundtrip")).unique_identifier
        key = kmip.call(GetRequest(unique_identifier=uid)).object.key_block
        assert key.cryptographic_algorithm is CryptographicAlgorithm.AES
        assert len(key.key_value.key_material) == 32
        name = Name(name_value="roundtrip", name_type=NameType.UNINTERPRETED_TEXT_STRING)
        assert kmip.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name)))).unique_identifiers == [
            uid
        ]
        kmip.call(ActivateRequest(unique_identifier=uid))
        state = kmip.call(GetAttributesRequest(unique_identifier=uid, attribute_references=[Tag.STATE]))
        assert state.attributes.get(Tag.STATE) is State.ACTIVE
        with pytest.raises(KmipResultError) as refused:
            kmip.call(DestroyRequest(unique_identifier=uid))
        assert refused.value.reason is ResultReason.WRONG_KEY_LIFECYCLE_STATE


def test_one_client_never_sees_anothers_objects(kmip_server: RunningServer) -> None:
    with kmip_server.client("service-alice") as alice, kmip_server.client("service-bob") as bob:
        uid = alice.call(aes_key("alice-only")).unique_identifier
        with pytest.raises(KmipResultError) as refused:
            bob.call(GetRequest(unique_identifier=uid))
        assert refused.value.reason is ResultReason.OBJECT_NOT_FOUND
        assert bob.call(LocateRequest(attributes=Attributes.of())).unique_identifiers == []


def test_a_client_without_a_certificate_is_refused(kmip_server: RunningServer) -> None:
    identity = kmip_server.client_identity()
    context = ssl.create_default_context(cafile=str(identity.ca))
    with (
        socket.create_connection((kmip_server.host, kmip_server.port), timeout=10) as raw,
        pytest.raises((ssl.SSLError, ConnectionError, OSError)),
        context.wrap_socket(raw, server_hostname=kmip_server.host) as tls,
    ):
        tls.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
        if not tls.recv(8):
            raise ConnectionError("closed")


def test_a_certificate_from_another_ca_is_refused(
    kmip_server: RunningServer, fresh_kmip_server: RunningServer
) -> None:
    stranger = fresh_kmip_server.client_identity()
    ours = kmip_server.client_identity()
    client = KmipClient(kmip_server.host, kmip_server.port, cert=stranger.cert, key=stranger.key, ca=ours.ca)
    with pytest.raises(OSError), client:
        client.call(aes_key("stranger"))


def test_a_second_server_on_the_same_data_dir_is_refused(kmip_server: RunningServer) -> None:
    done = subprocess.run(
        [*cli(), "serve", "--data-dir", str(kmip_server.data_dir), "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "another server is already running" in done.stderr


def test_sigterm_stops_cleanly_and_the_data_survives(fresh_kmip_server: RunningServer) -> None:
    with fresh_kmip_server.client() as kmip:
        uid = kmip.call(aes_key("survivor")).unique_identifier
    assert fresh_kmip_server.stop(signal.SIGTERM) == 0
    fresh_kmip_server.start()
    with fresh_kmip_server.client() as kmip:
        assert kmip.call(GetRequest(unique_identifier=uid)).unique_identifier == uid


def test_a_client_outlives_a_server_restart(fresh_kmip_server: RunningServer) -> None:
    """A connection the server closed while idle is replaced before the next request."""
    with fresh_kmip_server.client() as kmip:
        uid = kmip.call(aes_key("restarted")).unique_identifier
        assert fresh_kmip_server.stop(signal.SIGTERM) == 0
        fresh_kmip_server.start()
        assert kmip.call(GetRequest(unique_identifier=uid)).unique_identifier == uid
