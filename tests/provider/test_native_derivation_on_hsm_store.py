"""The native token's HKDF, PBKDF2, SP 800-108, AES encrypt-data and hash key derivations
(test_native_derivation.py) over the HSM key store ([store] keys = "hsm", SoftHSM2): the same
tests against a server whose AES and generic secret keys live in a PKCS#11 token."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider.test_native_derivation import (  # noqa: F401 (the fixture and tests run here again)
    run,
    test_encrypt_data_and_hash_derive_what_pyca_computes,
    test_hkdf_derives_what_pyca_derives,
    test_kmip_sees_and_uses_the_derived_keys,
    test_mechanism_info_is_exact,
    test_pbkdf2_makes_what_pyca_makes,
    test_sp800_108_counter_derives_what_pyca_derives,
    test_sp800_108_feedback_derives_what_the_standard_says,
)

from testsupport.hsm_store import hsm_store_server
from testsupport.server import RunningServer


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The native token over the HSM key store (its own SoftHSM2 token)."""
    yield from hsm_store_server(tmp_path_factory)
