"""HKDF, PBKDF2, AES encrypt-data, hash and SP 800-108 counter key derivations on the native
token end to end: a C application's parameter structures (derive_host.py, cffi) through our library and a real
server over TLS, as KMIP Derive Key; the derived bytes checked against pyca/cryptography, and the keys
seen and used through KMIP (docs/native-token.md, "Mechanisms")."""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.kmip.messages.payloads import EncryptRequest, GetAttributesRequest, LocateRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import BlockCipherMode, CryptographicAlgorithm, LinkType
from testsupport import tools
from testsupport.hosts import NativeTool
from testsupport.hsm_store import BOTH_KEY_STORES
from testsupport.kmip_builders import as_attributes, name
from testsupport.server import RunningServer

# Every test runs on the native token over the database key store, then over the HSM key store
# (key material in SoftHSM2).
NATIVE_KEY_STORES = BOTH_KEY_STORES

HOST = Path(__file__).with_name("derive_host.py")
Run = dict[str, str]


@pytest.fixture(scope="module")
def run(native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    tool = NativeTool(native, module_path, tmp_path_factory.mktemp("native-derivation"))
    done = tools.run([sys.executable, str(HOST), str(module_path), tool.pin], tool.env, timeout=120)
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert done.returncode == 0 and lines.get("done") == "1", done.stdout + done.stderr
    return lines


def value(run: Run, key: str) -> bytes:
    return bytes.fromhex(run[key])


def test_mechanism_info_is_exact(run: Run) -> None:
    assert run["info.hkdf"] == "1,512,80000"  # the base key's bytes; CKF_DERIVE
    assert run["info.pbkdf2"] == "8,4096,8000"  # bits, as generic secrets; CKF_GENERATE
    assert run["info.aes_ecb_encrypt_data"] == run["info.aes_cbc_encrypt_data"] == "16,32,80000"  # AES bytes
    assert run["info.sha256_key"] == run["info.sp800_108_counter"] == "1,512,80000"


def test_encrypt_data_and_hash_derive_what_pyca_computes(run: Run) -> None:
    """CKM_AES_CBC_ENCRYPT_DATA: the leading 16 bytes of AES-CBC of the data (KMIP Encrypt);
    CKM_SHA256_KEY_DERIVATION: SHA-256 of the base key's value (KMIP Hash)."""
    assert run["rv.aes_cbc_encrypt_data"] == run["rv.sha256_key"] == "0x0"
    context = Cipher(algorithms.AES(value(run, "aes_base")), modes.CBC(bytes(range(0xA0, 0xB0)))).encryptor()
    assert value(run, "aes_cbc_encrypt_data") == (context.update(bytes(range(32))) + context.finalize())[:16]
    assert value(run, "sha256_key") == hashlib.sha256(value(run, "ikm")).digest()
    assert int(run["rv.aes_ecb_ragged"], 16) == CKR.MECHANISM_PARAM_INVALID  # 20 bytes: not whole blocks


def test_hkdf_derives_what_pyca_derives(run: Run) -> None:
    ikm = value(run, "ikm")
    assert run["rv.hkdf_generic"] == run["rv.hkdf_aes"] == "0x0"
    assert value(run, "hkdf_generic") == HKDF(hashes.SHA256(), 42, b"salt", b"info").derive(ikm)
    assert int(run["hkdf_generic_type"]) == 0x10  # CKK_GENERIC_SECRET
    assert value(run, "hkdf_aes") == HKDF(hashes.SHA384(), 32, None, b"aes key").derive(ikm)
    assert int(run["rv.hkdf_salt_key"], 16) == CKR.MECHANISM_PARAM_INVALID


def test_sp800_108_counter_derives_what_pyca_derives(run: Run) -> None:
    """CK_SP800_108_KDF_PARAMS from C memory (counter, label || 00 || context, [L]32) as KMIP
    NIST800-108-C: pyca's KBKDF with that label, context and a 4-byte length."""
    assert run["rv.sp800_108_counter"] == "0x0"
    kbkdf = KBKDFHMAC(
        hashes.SHA256(), Mode.CounterMode, 32, 4, 4, CounterLocation.BeforeFixed, b"label", b"context", None
    )
    assert value(run, "sp800_108_counter") == kbkdf.derive(value(run, "ikm"))
    assert int(run["rv.sp800_108_additional"], 16) == CKR.MECHANISM_PARAM_INVALID


def test_sp800_108_feedback_derives_what_the_standard_says(run: Run) -> None:
    """CK_SP800_108_FEEDBACK_KDF_PARAMS from C memory (pValue NULL iteration variable, optional
    counter, pIV) as KMIP NIST800-108-F: K(i) = HMAC(K(i-1) || [i]32 || "fixed"), K(0) = pIV."""
    assert run["rv.sp800_108_feedback"] == "0x0"
    assert run["info.sp800_108_feedback"] == "1,512,80000"
    ikm, blocks = value(run, "ikm"), [b"\x01" * 32]
    for i in (1, 2):
        blocks.append(hmac.new(ikm, blocks[-1] + i.to_bytes(4, "big") + b"fixed", "sha256").digest())
    assert value(run, "sp800_108_feedback") == b"".join(blocks[1:])[:48]


def test_pbkdf2_makes_what_pyca_makes(run: Run) -> None:
    assert run["rv.pbkdf2"] == "0x0"
    expected = PBKDF2HMAC(hashes.SHA256(), 32, b"pepper and salt", 2000).derive(b"correct horse")
    assert value(run, "pbkdf2") == expected
    assert int(run["rv.pbkdf2_no_iterations"], 16) == CKR.MECHANISM_PARAM_INVALID


def test_kmip_sees_and_uses_the_derived_keys(run: Run, native: RunningServer) -> None:
    """The derived AES keys are KMIP AES-256 keys of the client: they encrypt through KMIP
    (pyca decrypts with the bytes PKCS#11 read), linked to what they were derived from."""
    with native.client() as kmip:
        for label in ("hkdf-aes", "from-password", "kbkdf-aes"):
            (uid,) = kmip.call(
                LocateRequest(attributes=as_attributes((Tag.NAME, name(label))))
            ).unique_identifiers
            attributes = kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes
            assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.AES
            assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
            links = {link.link_type for link in attributes.get_all(Tag.LINK)}
            assert LinkType.DERIVATION_BASE_OBJECT_LINK in links
            iv = bytes(12)
            gcm = CryptographicParameters(block_cipher_mode=BlockCipherMode.GCM, tag_length=16)
            sealed = kmip.call(
                EncryptRequest(
                    unique_identifier=uid, cryptographic_parameters=gcm, data=b"derived", iv_counter_nonce=iv
                )
            )
            key = value(
                run, {"hkdf-aes": "hkdf_aes", "from-password": "pbkdf2"}.get(label, "sp800_108_counter")
            )
            opened = AESGCM(key).decrypt(iv, sealed.data + sealed.authenticated_encryption_tag, None)
            assert opened == b"derived"
