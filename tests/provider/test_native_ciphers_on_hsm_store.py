"""The native token's ChaCha20, ChaCha20-Poly1305 and AES-XTS (test_native_ciphers.py) over
the HSM key store ([store] keys = "hsm", SoftHSM2): the same tests against a server whose
keys live in a PKCS#11 token. AES-XTS keys (KMIP's AX profile's AES-256 named for XTS, the
native token's CKK_AES_XTS of 32 bytes) stay sealed in the database, as the token has no XTS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider.test_native_ciphers import (  # noqa: F401 (fixtures and tests run here again)
    kmip_made,
    run,
    test_aes_xts_through_pkcs11_is_ieee_1619_xts,
    test_bad_parameters_and_keys_have_their_ck_rv,
    test_chacha20_poly1305_messages_are_the_aead_one_part_each,
    test_chacha20_poly1305_through_pkcs11_is_the_aead_with_the_tag_last,
    test_chacha20_through_pkcs11_is_rfc_8439_chacha20,
    test_generated_and_imported_keys_read_back_and_are_what_kmip_expects,
    test_mechanism_info_is_exact,
    test_what_kmip_encrypts_decrypts_through_pkcs11,
)

from testsupport.hsm_store import hsm_store_server
from testsupport.server import RunningServer


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The native token over the HSM key store (its own SoftHSM2 token)."""
    yield from hsm_store_server(tmp_path_factory)
