"""The native token's generic secrets (HMAC with every hash), EdDSA, CMAC and 3DES
(test_native_mechanisms.py) over the HSM key store ([store] keys = "hsm", SoftHSM2): the
same tests against a server whose AES and generic secret keys live in a PKCS#11 token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider.test_native_mechanisms import (  # noqa: F401 (the fixture and tests run here again)
    results,
    test_3des_ciphertexts_decrypt_with_pyca,
    test_a_generic_secret_is_an_hmac_key_kmip_uses,
    test_a_two_key_3des_key_is_a_kmip_3des_key,
    test_cmac_matches_pyca,
    test_eddsa_signatures_verify_with_pyca,
    test_pkcs11_tool_makes_and_uses_the_new_keys,
    test_python_pkcs11s_default_template_makes_a_key,
    test_sha3_through_python_pkcs11,
)

from testsupport.hsm_store import hsm_store_server
from testsupport.server import RunningServer


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The native token over the HSM key store (its own SoftHSM2 token)."""
    yield from hsm_store_server(tmp_path_factory)
