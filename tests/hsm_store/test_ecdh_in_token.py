"""ECDH with an EC private key that never leaves the token, over real TLS.

Derive Key (Asymmetric Key) with a private key the HSM store holds runs in the token
(C_DeriveKey, CKM_ECDH1_DERIVE): a Sensitive, non-Extractable key derives the secret pyca
computes, where it used to be Feature Not Supported (it may not be read out to the server).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, ObjectClass
from server.test_derive_key import derive_request, derived_bytes, exchange, point_of

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.payloads import SetAttributeRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, CryptographicUsageMask, DerivationMethod
from testsupport.managed_keys import register_pair
from testsupport.server import RunningServer

U = CryptographicUsageMask


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("ecdh-in-token") as client:
        yield client


@pytest.mark.parametrize("curve", [ec.SECP256R1(), ec.SECP521R1()], ids=["P-256", "P-521"])
def test_a_sensitive_private_key_agrees_in_the_token(
    kmip: KmipClient, hsm_session: Any, curve: ec.EllipticCurve
) -> None:
    ours, theirs = ec.generate_private_key(curve), ec.generate_private_key(curve)
    _, private = register_pair(kmip, ours, CryptographicAlgorithm.EC, (U.DERIVE_KEY, U.DERIVE_KEY))
    for entry in ((Tag.SENSITIVE, True), (Tag.EXTRACTABLE, False)):
        kmip.call(SetAttributeRequest(unique_identifier=private, new_attribute=NewAttribute.of(entry)))
    (held,) = hsm_session.get_objects(
        {Attribute.ID: private.encode(), Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    )
    assert held[Attribute.SENSITIVE] and not held[Attribute.EXTRACTABLE]

    expected = exchange(ours, theirs)
    request = derive_request(
        kmip, [private], DerivationMethod.ASYMMETRIC_KEY, 8 * len(expected), derivation_data=point_of(theirs)
    )
    assert derived_bytes(kmip, request) == expected
