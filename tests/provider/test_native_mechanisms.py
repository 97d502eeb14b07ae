"""The native token's generic secrets, EdDSA, CMAC and 3DES through the real library, a real
server over TLS and real applications (python-pkcs11, pkcs11-tool), each result checked
against pyca/cryptography or KMIP (docs/native-token.md, "Mechanisms")."""

from __future__ import annotations

import hashlib
import hmac
import re
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac, padding
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import (
    DecryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    MACRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    PaddingMethod,
    RecommendedCurve,
)
from testsupport import tools
from testsupport.hosts import NativeTool
from testsupport.hsm_store import BOTH_KEY_STORES
from testsupport.kmip_builders import as_attributes, name
from testsupport.server import RunningServer

# Every test runs on the native token over the database key store, then over the HSM key store
# (key material in SoftHSM2).
NATIVE_KEY_STORES = BOTH_KEY_STORES
HOST = Path(__file__).with_name("native_mechanisms_host.py")
DATA = b"one key, two protocols " * 5
CKK_GENERIC_SECRET = 0x10
ED25519_OID, ED448_OID = bytes.fromhex("06032b6570"), bytes.fromhex("06032b6571")


@pytest.fixture(scope="module")
def results(
    native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """One python-pkcs11 run on the native token: its key=value lines."""
    tool = NativeTool(native, module_path, tmp_path_factory.mktemp("native-mechanisms"))
    done = tools.run([sys.executable, str(HOST), str(module_path), tool.pin], tool.env)
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def value(results: dict[str, str], key: str) -> bytes:
    return bytes.fromhex(results[key])


def located(kmip: KmipClient, label: str) -> tuple[str, Attributes]:
    """The one object KMIP finds by this Name, and its attributes."""
    (uid,) = kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(label))))).unique_identifiers
    return uid, kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes


def test_a_generic_secret_is_an_hmac_key_kmip_uses(results: dict[str, str], native: RunningServer) -> None:
    key = value(results, "hmac_value")
    expected = hmac.new(key, DATA, hashlib.sha256).digest()
    assert int(results["hmac_key_type"]) == CKK_GENERIC_SECRET and len(key) == 32
    assert value(results, "hmac") == value(results, "hmac_parts") == expected
    assert results["hmac_verified"] == "True"
    assert value(results, "hmac_sha512") == hmac.new(key, DATA, hashlib.sha512).digest()  # every hash
    # The same key through KMIP: found by its label, an HMAC-SHA256 key, and its MAC is the same.
    with native.client() as kmip:
        uid, attributes = located(kmip, "p11-hmac")
        assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.HMAC_SHA256
        assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
        mask = CryptographicUsageMask(attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK))
        assert mask & CryptographicUsageMask.MAC_GENERATE and mask & CryptographicUsageMask.MAC_VERIFY
        assert kmip.call(MACRequest(unique_identifier=uid, data=DATA)).mac_data == expected


@pytest.mark.parametrize(
    ("curve", "params", "public_type", "size"),
    [("ed25519", ED25519_OID, ed25519.Ed25519PublicKey, 32), ("ed448", ED448_OID, ed448.Ed448PublicKey, 57)],
)
def test_eddsa_signatures_verify_with_pyca(
    results: dict[str, str], curve: str, params: bytes, public_type: type, size: int
) -> None:
    point = value(results, f"{curve}_point")
    assert point[:2] == bytes([0x04, size]) and len(point) == 2 + size  # the key in a DER OCTET STRING
    assert value(results, f"{curve}_params") == params
    public_type.from_public_bytes(point[2:]).verify(value(results, f"{curve}_signature"), DATA)
    assert (results[f"{curve}_verified"], results[f"{curve}_tampered"]) == ("True", "False")


def test_cmac_matches_pyca(results: dict[str, str]) -> None:
    reference = cmac.CMAC(algorithms.AES(value(results, "cmac_key")))
    reference.update(DATA)
    expected = reference.finalize()
    assert value(results, "cmac") == value(results, "cmac_parts") == expected
    assert value(results, "cmac_12") == expected[:12]
    assert results["cmac_verified"] == "True"
    assert results["cmac_4"] == "MechanismParamInvalid"  # shorter than the server's 8-byte least


@pytest.mark.parametrize(("prefix", "ckk", "size"), [("des3", 0x15, 24), ("des2", 0x14, 16)])
def test_3des_ciphertexts_decrypt_with_pyca(
    results: dict[str, str], prefix: str, ckk: int, size: int
) -> None:
    """Three-key (CKK_DES3) and two-key (CKK_DES2: K1 K2 K1) 3DES keys encrypt as pyca does."""
    key, iv = value(results, f"{prefix}_key"), value(results, "des3_iv")
    assert (len(key), results[f"{prefix}_key_type"]) == (size, str(ckk))
    for mode, cipher_mode, data in (
        ("ecb", modes.ECB(), DATA[:48]),
        ("cbc", modes.CBC(iv), DATA[:48]),
        ("cbc_pad", modes.CBC(iv), DATA),
    ):
        decryptor = Cipher(TripleDES(key + key[:8] if size == 16 else key), cipher_mode).decryptor()
        opened = decryptor.update(value(results, f"{prefix}_{mode}")) + decryptor.finalize()
        if mode == "cbc_pad":
            unpadder = padding.PKCS7(64).unpadder()
            opened = unpadder.update(opened) + unpadder.finalize()
        assert opened == data
        assert results[f"{prefix}_{mode}_opened"] == "True"


def test_a_two_key_3des_key_is_a_kmip_3des_key(results: dict[str, str], native: RunningServer) -> None:
    """CKM_DES2_KEY_GEN's key through KMIP: 3DES of 128 bits (16 bytes with parity), its bytes,
    and KMIP Decrypt opens what PKCS#11 sealed."""
    with native.client() as kmip:
        uid, attributes = located(kmip, "p11-des2")
        assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.DES3
        assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 128
        got = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
        assert got == value(results, "des2_key")
        parameters = CryptographicParameters(
            block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5
        )
        opened = kmip.call(
            DecryptRequest(
                unique_identifier=uid,
                cryptographic_parameters=parameters,
                data=value(results, "des2_cbc_pad"),
                iv_counter_nonce=value(results, "des3_iv"),
            )
        )
        assert opened.data == DATA


def test_python_pkcs11s_default_template_makes_a_key(results: dict[str, str]) -> None:
    """generate_key(KeyType.AES, 256) without id=: the empty CKA_ID is kept (SoftHSM2 too)."""
    assert results["plain_id"] == "[]"
    encryptor = Cipher(algorithms.AES(value(results, "plain_key")), modes.CBC(bytes(16))).encryptor()
    assert value(results, "plain_cbc") == encryptor.update(DATA[:32]) + encryptor.finalize()


def test_sha3_through_python_pkcs11(results: dict[str, str]) -> None:
    """A SHA3-256 digest and HMAC (a CKK_SHA3_256_HMAC key), as hashlib makes them."""
    assert value(results, "sha3_digest") == hashlib.sha3_256(DATA).digest()
    expected = hmac.new(value(results, "sha3_hmac_key"), DATA, hashlib.sha3_256).digest()
    assert value(results, "sha3_hmac") == expected


def test_pkcs11_tool_makes_and_uses_the_new_keys(
    native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    """pkcs11-tool (OpenSC 0.23): a GENERIC key that HMACs, an Ed25519 pair (its OID form) that
    signs what pyca verifies, a DES3 key."""
    tool = NativeTool(native, module_path, tmp_path)
    data = tmp_path / "data"
    data.write_bytes(DATA)
    tool("--keygen", "--key-type", "GENERIC:32", "--label", "tool-hmac", "--usage-sign")
    mac = tmp_path / "mac"
    tool("--sign", "-m", "SHA256-HMAC", "--label", "tool-hmac", "-i", str(data), "-o", str(mac))
    with native.client() as kmip:
        uid, _ = located(kmip, "tool-hmac")
        assert kmip.call(MACRequest(unique_identifier=uid, data=DATA)).mac_data == mac.read_bytes()
    made = tool("--keypairgen", "--key-type", "EC:edwards25519", "--label", "tool-ed", "--id", "ed01")
    assert "EC_PARAMS:  06032b6570" in made  # shown as the RFC 8410 OID, whatever form came in
    point = re.search(r"EC_POINT:\s+([0-9a-f]+)", made)
    assert point is not None and point.group(1).startswith("0420")
    signature = tmp_path / "signature"
    tool("--sign", "-m", "EDDSA", "--id", "ed01", "-i", str(data), "-o", str(signature))
    key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(point.group(1))[2:])
    key.verify(signature.read_bytes(), DATA)
    tool("--verify", "-m", "EDDSA", "--id", "ed01", "-i", str(data), "--signature-file", str(signature))
    # pkcs11-tool 0.23 encrypts with AES and RSA only ("DES3-ECB illegal or not supported"):
    # python-pkcs11 above encrypts with the 3DES key; here the key is made and listed.
    made = tool("--keygen", "--key-type", "DES3:24", "--label", "tool-des3")
    assert "Secret Key Object; DES3 length 24" in made, made
    # X25519 (the curve name as OpenSC 0.23 encodes it), a KMIP ECDH key on Curve25519; its
    # derivations are tested in tests/native/test_token.py (python-pkcs11 has no Montgomery names).
    made = tool("--keypairgen", "--key-type", "EC:curve25519", "--label", "tool-x25519")
    assert "Public Key Object; EC_MONTGOMERY  EC_POINT 255 bits" in made and "EC_PARAMS:  06032b656e" in made
    with native.client() as kmip:
        _, attributes = located(kmip, "tool-x25519")
        assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.ECDH
        assert (
            attributes.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS).recommended_curve
            is RecommendedCurve.CURVE25519
        )
