"""AES-KW and AES-KWP on the HSM key store give exactly RFC 3394 and RFC 5649, over real TLS.

SoftHSM2 2.6 has no CKM_AES_KEY_WRAP_KWP; its CKM_AES_KEY_WRAP_PAD zero-pads the value to
whole 8-byte blocks before wrapping, so it is RFC 5649 for 16/24/32-byte keys and not for
RFC 5649 §6's 20-byte one. The server probes the token once (`HsmToken.padded_wrap`) and
wraps there only what comes out right; the rest runs in the server with a key that may
leave the token (Extractable, not Sensitive), else is Feature Not Supported: never other
bytes under the name KWP (docs/hsm-store.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import keywrap
from server.test_key_wrapping import (
    KNOWN_ANSWERS,
    kek,
    plain,
    register_block,
    wrapped_block,
    wrapped_get,
    wrapping,
)

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages.payloads import GetRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ResultReason,
)
from testsupport.managed_keys import refusal, register_key
from testsupport.server import RunningServer

A = CryptographicAlgorithm
M = BlockCipherMode
U = CryptographicUsageMask
SENSITIVE = (Tag.SENSITIVE, True)
RFC_5649 = [(k, v, w) for mode, k, v, w in KNOWN_ANSWERS if mode is M.AES_KEY_WRAP_PADDING]


@pytest.fixture
def kmip(hsm_server: RunningServer) -> Iterator[KmipClient]:
    with hsm_server.client("rfc-key-wrap") as client:
        yield client


@pytest.mark.parametrize(("kek_hex", "key_hex", "wrapped_hex"), RFC_5649)
def test_rfc_5649_known_answers_with_a_kek_that_may_leave(
    kmip: KmipClient, kek_hex: str, key_hex: str, wrapped_hex: str
) -> None:
    """Values of 20 and 7 bytes: the token's PAD would give other bytes, so the server wraps."""
    wrapping_key = kek(kmip, bytes.fromhex(kek_hex), M.AES_KEY_WRAP_PADDING)
    key = register_key(kmip, A.HMAC_SHA256, bytes.fromhex(key_hex), U.MAC_GENERATE)
    wrapped, _ = wrapped_get(kmip, key, wrapping(wrapping_key))
    assert wrapped == bytes.fromhex(wrapped_hex)


@pytest.mark.parametrize(("kek_hex", "key_hex", "wrapped_hex"), RFC_5649)
def test_a_kek_that_never_leaves_refuses_what_the_token_gets_wrong_and_unwraps_it(
    kmip: KmipClient, kek_hex: str, key_hex: str, wrapped_hex: str
) -> None:
    wrapping_key = kek(
        kmip, bytes.fromhex(kek_hex), M.AES_KEY_WRAP_PADDING, U.WRAP_KEY | U.UNWRAP_KEY, SENSITIVE
    )
    key = register_key(kmip, A.HMAC_SHA256, bytes.fromhex(key_hex), U.MAC_GENERATE)
    request = GetRequest(unique_identifier=key, key_wrapping_specification=wrapping(wrapping_key))
    assert refusal(kmip, request) is ResultReason.FEATURE_NOT_SUPPORTED
    # The token unwraps RFC 5649 of any length right: the known answer registers as its key.
    block = wrapped_block(bytes.fromhex(wrapped_hex), wrapping_key, A.HMAC_SHA256, 4 * len(key_hex))
    assert plain(kmip, register_block(kmip, block, U.MAC_GENERATE)) == bytes.fromhex(key_hex)


@pytest.mark.parametrize("size", [16, 24, 32])
@pytest.mark.parametrize("sensitive", [False, True])
def test_what_the_token_wraps_with_kwp_unwraps_with_pyca(
    kmip: KmipClient, size: int, sensitive: bool
) -> None:
    """AES keys (whole 8-byte blocks) wrapped in the token, both keys there, Sensitive or not."""
    kek_bytes, key_bytes = os.urandom(32), os.urandom(size)
    extra = (SENSITIVE,) if sensitive else ()
    wrapping_key = kek(kmip, kek_bytes, M.AES_KEY_WRAP_PADDING, U.WRAP_KEY | U.UNWRAP_KEY, *extra)
    key = register_key(kmip, A.AES, key_bytes, U.ENCRYPT, *extra)
    wrapped, _ = wrapped_get(kmip, key, wrapping(wrapping_key))
    assert keywrap.aes_key_unwrap_with_padding(kek_bytes, wrapped) == key_bytes
