"""Certify with a CA key that never leaves the token, over real TLS.

The server builds the TBSCertificate with pyca and a stand-in key of the same kind, the
token signs its bytes, and the certificate is assembled from them (`HsmProvider.sign_certificate`):
what comes out verifies with the CA certificate, with the signature algorithm the CA key's
parameters name, while the CA key stays Sensitive and not Extractable.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from server.test_certify import (
    SUBJECT,
    certify_csr,
    check_issued,
    csr,
    der,
    fetched,
    issuer_link,
    register_ca,
)

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.payloads import GetRequest, SetAttributeRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, PaddingMethod, ResultReason
from testsupport.managed_keys import refusal
from testsupport.server import RunningServer

PSS = CryptographicParameters(
    padding_method=PaddingMethod.PSS,
    hashing_algorithm=HashingAlgorithm.SHA_384,
    mask_generator_hashing_algorithm=HashingAlgorithm.SHA_384,
)


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("certify-in-token") as client:
        yield client


def _seal(kmip: KmipClient, uid: str, *more: tuple[int, Any]) -> None:
    """Sensitive and not Extractable (one-way changes the token object follows)."""
    for entry in ((Tag.SENSITIVE, True), (Tag.EXTRACTABLE, False), *more):
        kmip.call(SetAttributeRequest(unique_identifier=uid, new_attribute=NewAttribute.of(entry)))


@pytest.mark.parametrize("kind", ["rsa-pkcs1", "rsa-pss", "ec-p384"])
def test_a_ca_key_in_the_token_signs_the_certificate(kmip: KmipClient, kind: str) -> None:
    ca_key: Any = (
        ec.generate_private_key(ec.SECP384R1())
        if kind == "ec-p384"
        else rsa.generate_private_key(65537, 2048)
    )
    ca = register_ca(kmip, ca_key)
    _seal(kmip, ca.private_uid, *([(Tag.CRYPTOGRAPHIC_PARAMETERS, PSS)] if kind == "rsa-pss" else []))
    assert refusal(kmip, GetRequest(unique_identifier=ca.private_uid)) is ResultReason.NOT_EXTRACTABLE
    subject_key = ec.generate_private_key(ec.SECP256R1())
    uid = kmip.call(certify_csr(kmip, der(csr(subject_key)), issuer_link(ca))).unique_identifier
    issued = fetched(kmip, uid)
    check_issued(issued, ca, SUBJECT, subject_key)
    issued.verify_directly_issued_by(ca.certificate)
    if kind == "rsa-pss":  # the salt and hashes the AlgorithmIdentifier names are what was signed
        assert isinstance(issued.signature_algorithm_parameters, padding.PSS)
        assert isinstance(issued.signature_hash_algorithm, hashes.SHA384)
    if kind == "ec-p384":
        assert isinstance(issued.signature_hash_algorithm, hashes.SHA384)
