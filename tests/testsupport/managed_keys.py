"""Keys a test knows, registered on the server; and what a refusal's reason is.

For the tests of operations that use keys (wrapping, derivation): each helper takes
the attributes to add in either KMIP generation's form (`kmip_builders`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import RequestPayload
from pkcs11_kmip.kmip.messages.objects import (
    KeyBlock,
    KeyValue,
    ManagedObject,
    PrivateKey,
    PublicKey,
    SecretData,
    SymmetricKey,
)
from pkcs11_kmip.kmip.messages.payloads import RegisterRequest
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    ResultReason,
    SecretDataType,
)
from pkcs11_kmip_server.engine import reason_for
from testsupport.kmip_builders import AttributeSpec, attribute_fields
from testsupport.server import RunningServer

AnyPrivateKey = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | x25519.X25519PrivateKey
    | x448.X448PrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
)


def an_hour_ago() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def register_object(
    kmip: KmipClient,
    object_type: ObjectType,
    value: ManagedObject,
    usage: CryptographicUsageMask,
    *extra: AttributeSpec,
    active: bool = True,
) -> str:
    """Register `value` with this usage mask, Active (an Activation Date an hour ago) unless asked."""
    dates: tuple[AttributeSpec, ...] = ((Tag.ACTIVATION_DATE, an_hour_ago()),) if active else ()
    fields = attribute_fields(kmip.version, (Tag.CRYPTOGRAPHIC_USAGE_MASK, usage), *dates, *extra)
    uid: str = kmip.call(RegisterRequest(object_type=object_type, object=value, **fields)).unique_identifier
    return uid


def symmetric(algorithm: CryptographicAlgorithm, material: bytes) -> SymmetricKey:
    return SymmetricKey(
        key_block=KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=material),
            cryptographic_algorithm=algorithm,
            cryptographic_length=8 * len(material),
        )
    )


def secret_data(material: bytes, kind: SecretDataType = SecretDataType.PASSWORD) -> SecretData:
    block = KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=KeyValue(key_material=material))
    return SecretData(secret_data_type=kind, key_block=block)


def register_key(
    kmip: KmipClient,
    algorithm: CryptographicAlgorithm,
    material: bytes,
    usage: CryptographicUsageMask,
    *extra: AttributeSpec,
    active: bool = True,
) -> str:
    """A Raw symmetric key the test knows."""
    return register_object(
        kmip, ObjectType.SYMMETRIC_KEY, symmetric(algorithm, material), usage, *extra, active=active
    )


def register_pair(
    kmip: KmipClient,
    key: AnyPrivateKey,
    algorithm: CryptographicAlgorithm,
    usages: tuple[CryptographicUsageMask, CryptographicUsageMask],
    *extra: AttributeSpec,
    active: bool = True,
) -> tuple[str, str]:
    """The pair as two objects, (public key, private key): X.509 and PKCS#8 DER, Active unless asked."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        length = key.key_size
    else:
        length = 448 if isinstance(key, ed448.Ed448PrivateKey | x448.X448PrivateKey) else 256

    def block(key_format: KeyFormatType, der: bytes) -> KeyBlock:
        return KeyBlock(
            key_format_type=key_format,
            key_value=KeyValue(key_material=der),
            cryptographic_algorithm=algorithm,
            cryptographic_length=length,
        )

    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_uid, private_uid = (
        register_object(kmip, kind, value, usage, *extra, active=active)
        for kind, value, usage in (
            (ObjectType.PUBLIC_KEY, PublicKey(key_block=block(KeyFormatType.X_509, public)), usages[0]),
            (ObjectType.PRIVATE_KEY, PrivateKey(key_block=block(KeyFormatType.PKCS_8, private)), usages[1]),
        )
    )
    return public_uid, private_uid


def client_fixture(name: str, *versions: Version) -> Any:
    """A fixture: a client of `name` for each version (a parametrized fixture if several)."""

    @pytest.fixture(params=versions, ids=[f"{major}.{minor}" for major, minor in versions])
    def client(request: pytest.FixtureRequest, kmip_server: RunningServer) -> Iterator[KmipClient]:
        with kmip_server.client(name, version=request.param) as kmip:
            yield kmip

    return client


def refusal(kmip: KmipClient, payload: RequestPayload) -> ResultReason | None:
    """The Result Reason of a request the server must refuse."""
    with pytest.raises(KmipResultError) as failure:
        kmip.call(payload)
    return failure.value.reason


def reason_of_version(kmip: KmipClient, reason: ResultReason) -> ResultReason:
    """The reason a client of this version gets (the engine maps 2.x-only reasons for 1.x)."""
    return reason_for(reason, kmip.version)
