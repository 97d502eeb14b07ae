"""The KMIP-native token through the real library and a real server over TLS: a server
with no HSM module shows its own KMIP store as a token, so a key made through PKCS#11
is a KMIP managed object and a KMIP key is a PKCS#11 object (docs/native-token.md)."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import keywrap, padding, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    DecryptRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, RevocationReason
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    ObjectType,
    PaddingMethod,
    ResultReason,
    RevocationReasonCode,
    State,
)
from testsupport import certificates, tools
from testsupport.admin import admin as admin_cli
from testsupport.kmip_builders import as_attributes, name, symmetric_create
from testsupport.server import RunningServer
from testsupport.softhsm import write_client_config

HOST = Path(__file__).with_name("native_token_host.py")
CTR_HOST = Path(__file__).with_name("native_ctr_host.py")
U = CryptographicUsageMask
DATA = b"one key, two protocols"
NOT_PERMITTED = "error:PKCS11Error:Unmapped error code 0x68"  # CKR_KEY_FUNCTION_NOT_PERMITTED

# What the token advertises (pkcs11-tool -M): exactly what it implements.
HASHES = ("SHA1", "SHA224", "SHA256", "SHA384", "SHA512")
SHA3_BITS = (224, 256, 384, 512)
RSA_SIGN = "keySize={2048,4096}, sign, verify"
EC_FLAGS = "EC F_P, EC OID, EC uncompressed"
# The 3.0 message functions (native/messages.py): CKF_MESSAGE_ENCRYPT|DECRYPT, CKF_MESSAGE_SIGN|VERIFY,
# and CKF_MULTI_MESSAGE (messages in parts) but for CKM_ECDSA (a digest, in one part).
MESSAGE_CIPHER, MESSAGE_SIGN = ", other flags=0x26", ", other flags=0x38"
MESSAGE_SIGN_ONE_PART = ", other flags=0x18"
MECHANISMS = {
    "AES-KEY-GEN": "keySize={16,32}, generate",
    "AES-GCM": f"keySize={{16,32}}, encrypt, decrypt{MESSAGE_CIPHER}",
    "AES-ECB": "keySize={16,32}, encrypt, decrypt",
    "AES-CBC": "keySize={16,32}, encrypt, decrypt",
    "AES-CBC-PAD": "keySize={16,32}, encrypt, decrypt",
    "AES-CTR": "keySize={16,32}, encrypt, decrypt",
    "RSA-PKCS-KEY-PAIR-GEN": "keySize={2048,4096}, generate_key_pair",
    "RSA-PKCS": "keySize={2048,4096}, encrypt, decrypt, sign, verify",
    "RSA-PKCS-PSS": RSA_SIGN,
    **{f"{h}-RSA-PKCS": RSA_SIGN for h in HASHES},
    **{f"{h}-RSA-PKCS-PSS": RSA_SIGN for h in HASHES},
    "ECDSA-KEY-PAIR-GEN": f"keySize={{256,521}}, generate_key_pair, {EC_FLAGS}",
    "ECDSA": f"keySize={{256,521}}, sign, verify, {EC_FLAGS}{MESSAGE_SIGN_ONE_PART}",
    **{f"ECDSA-{h}": f"keySize={{256,521}}, sign, verify, {EC_FLAGS}{MESSAGE_SIGN}" for h in HASHES},
    **{name: "digest" for name in ("SHA-1", "SHA224", "SHA256", "SHA384", "SHA512")},
    "AES-KEY-WRAP": "keySize={16,32}, wrap, unwrap",
    "mechtype-0x210B": "keySize={16,32}, wrap, unwrap",  # CKM_AES_KEY_WRAP_KWP (3.0): unnamed there
    "RSA-PKCS-OAEP": "keySize={2048,4096}, encrypt, decrypt, wrap, unwrap",
    "ECDH1-DERIVE": f"keySize={{255,521}}, derive, {EC_FLAGS}",  # X25519's 255 bits to P-521
    "EC-MONTGOMERY-KEY-PAIR-GEN": "keySize={255,448}, generate_key_pair",
    **{f"{h}-HMAC": f"keySize={{1,512}}, sign, verify{MESSAGE_SIGN}" for h in ("SHA-1", *HASHES[1:])},
    "GENERIC-SECRET-KEY-GEN": "keySize={8,4096}, generate",  # bits
    "AES-CMAC": "keySize={16,32}, sign, verify",
    "mechtype-0x108B": "keySize={16,32}, sign, verify",  # CKM_AES_CMAC_GENERAL: unnamed in OpenSC 0.23
    "EC-EDWARDS-KEY-PAIR-GEN": "keySize={255,448}, generate_key_pair",
    "EDDSA": "keySize={255,448}, sign, verify",
    "DES2-KEY-GEN": "keySize={128,128}, generate",
    "DES3-KEY-GEN": "keySize={192,192}, generate",
    **{f"DES3-{mode}": "keySize={128,192}, encrypt, decrypt" for mode in ("ECB", "CBC", "CBC-PAD")},
    # SHA-3 (tests/native/test_token.py checks each against hashlib and pyca).
    **{f"SHA3-{bits}": "digest" for bits in SHA3_BITS},
    **{f"SHA3-{bits}-HMAC": f"keySize={{1,512}}, sign, verify{MESSAGE_SIGN}" for bits in SHA3_BITS},
    **{f"SHA3-{bits}-RSA-PKCS{pss}": RSA_SIGN for bits in SHA3_BITS for pss in ("", "-PSS")},
    **{
        f"ECDSA-SHA3-{bits}": f"keySize={{256,521}}, sign, verify, {EC_FLAGS}{MESSAGE_SIGN}"
        for bits in SHA3_BITS
    },
    # pkcs11-tool 0.23 has no names for these: CKM_AES_XTS(_KEY_GEN), CKM_CHACHA20_KEY_GEN,
    # CKM_CHACHA20, CKM_CHACHA20_POLY1305 (tests/provider/test_native_ciphers.py).
    "mechtype-0x1071": "keySize={32,64}, encrypt, decrypt",
    "mechtype-0x1072": "keySize={32,64}, generate",
    "mechtype-0x1225": "keySize={32,32}, generate",
    "mechtype-0x1226": "keySize={32,32}, encrypt, decrypt",
    "mechtype-0x4021": "keySize={32,32}, encrypt, decrypt, other flags=0x6",  # messages in one part
    # Derivation (tests/provider/test_native_derivation.py): CKM_HKDF_DERIVE (unnamed in 0.23), the
    # base key's bytes; CKM_PKCS5_PBKD2, the bits of the key it makes.
    "mechtype-0x402A": "keySize={1,512}, derive",
    "mechtype-0x3AC": "keySize={1,512}, derive",  # CKM_SP800_108_COUNTER_KDF (unnamed in 0.23)
    "mechtype-0x3AD": "keySize={1,512}, derive",  # CKM_SP800_108_FEEDBACK_KDF
    "mechtype-0x3AE": "keySize={1,512}, derive",  # CKM_SP800_108_DOUBLE_PIPELINE_KDF
    "PKCS5-PBKD2": "keySize={8,4096}, generate",
    # KMIP Encrypt from an AES key's bytes; KMIP Hash from a secret key of 1-512 bytes: OpenSC 0.23
    # names SHA-1's only (CKM_SHA256/384/512/224 and SHA3-*_KEY_DERIVATION are 0x393-0x39A).
    "AES-ECB-ENCRYPT-DATA": "keySize={16,32}, derive",
    "AES-CBC-ENCRYPT-DATA": "keySize={16,32}, derive",
    "DES3-ECB-ENCRYPT-DATA": "keySize={16,24}, derive",  # from a 3DES key's 16 or 24 bytes
    "DES3-CBC-ENCRYPT-DATA": "keySize={16,24}, derive",
    "SHA1-KEY-DERIVATION": "keySize={1,512}, derive",
    **{f"mechtype-0x{ckm:X}": "keySize={1,512}, derive" for ckm in range(0x393, 0x39B)},
}


class Client:
    """One client identity of the server, through pkcs11-tool, python-pkcs11 and KMIP."""

    def __init__(self, server: RunningServer, module: Path, identity: str, tmp: Path) -> None:
        config = write_client_config(tmp / f"{identity}.toml", server, identity)
        env = {key: value for key, value in os.environ.items() if key != "SOFTHSM2_CONF"}
        self.env = {**env, "PKCS11_KMIP_CONFIG": str(config)}
        self.module = module
        self.pin = (server.data_dir / "clients" / identity / "pin").read_text().strip()
        self.server, self.identity = server, identity

    def tool(self, *args: str, login: bool = True, ok: bool = True) -> str:
        pin = ("--login", "--pin", self.pin) if login else ()
        done = tools.pkcs11_tool(self.module, self.env, *pin, *args)
        assert (done.returncode == 0) is ok, done.stdout + done.stderr
        return done.stdout + done.stderr

    def host(self, *args: str) -> dict[str, str]:
        done = tools.run([sys.executable, str(HOST), str(self.module), self.pin, *args], self.env)
        assert done.returncode == 0, done.stderr
        return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)

    def kmip(self) -> KmipClient:
        return self.server.client(self.identity)


def object_ids(listing: str, label: str) -> set[str]:
    """The CKA_IDs pkcs11-tool -O prints for the objects with this label."""
    blocks = re.split(r"\n(?=\S)", listing)
    return {
        match.group(1)
        for block in blocks
        if re.search(rf"label:\s+{re.escape(label)}\n", block)
        for match in [re.search(r"ID:\s+([0-9a-f]+)", block)]
        if match
    }


def locate_by_name(kmip: KmipClient, text: str) -> list[str]:
    return list(kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(text))))).unique_identifiers)


def attributes_of(kmip: KmipClient, uid: str) -> dict[int, object]:
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes
    return {entry.tag: entry.value for entry in answer}


def kmip_aes_key(
    kmip: KmipClient,
    label: str,
    *extra: tuple[int, object],
    algorithm: CryptographicAlgorithm = CryptographicAlgorithm.AES,
    mask: int = U.ENCRYPT | U.DECRYPT,
) -> str:
    """A 256-bit symmetric key made by KMIP Create (AES unless `algorithm` says, e.g. HMAC-SHA256)."""
    uid = kmip.call(symmetric_create(algorithm, mask, label, *extra)).unique_identifier
    assert isinstance(uid, str)
    return uid


def gcm_decrypt(kmip: KmipClient, uid: str, iv: bytes, sealed: bytes) -> bytes | None:
    """KMIP Decrypt of what Cryptoki's AES-GCM made: the 16-byte tag is after the ciphertext."""
    parameters = CryptographicParameters(block_cipher_mode=BlockCipherMode.GCM, tag_length=16)
    return kmip.call(
        DecryptRequest(
            unique_identifier=uid,
            cryptographic_parameters=parameters,
            data=sealed[:-16],
            iv_counter_nonce=iv,
            authenticated_encryption_tag=sealed[-16:],
        )
    ).data


@pytest.fixture(scope="module")
def admin(native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Client:
    return Client(native, module_path, "admin", tmp_path_factory.mktemp("admin"))


def test_pkcs11_tool_shows_the_token_and_exactly_its_mechanisms(admin: Client) -> None:
    slots = admin.tool("-L", login=False)
    assert "pkcs11-kmip native token (KMIP store)" in slots and "token label        : pkcs11-kmip" in slots
    assert "login required" in slots and "PIN initialized" in slots
    listed = admin.tool("-M", login=False)
    shown = dict(line.strip().split(", ", 1) for line in listed.splitlines() if line.startswith("  "))
    assert shown == MECHANISMS
    assert "No objects" in admin.tool("-O", login=False) or "Object" not in admin.tool("-O", login=False)


def test_keys_made_with_pkcs11_tool_are_kmip_objects(admin: Client, tmp_path: Path) -> None:
    admin.tool("--keygen", "--key-type", "AES:32", "--label", "p11-aes")
    admin.tool("--keypairgen", "--key-type", "EC:prime256v1", "--label", "p11-ec", "--id", "0e01")
    listing = admin.tool("-O")
    (aes_id,) = object_ids(listing, "p11-aes")  # the token's: 8 bytes from the Unique Identifier
    (ec_id,) = object_ids(listing, "p11-ec")  # the application's, on both halves of the pair
    assert (len(aes_id), ec_id) == (16, "0e01")
    assert "Secret Key Object; AES length 32" in listing

    # ECDSA through pkcs11-tool, verified by openssl with the public key read from the token.
    data = tmp_path / "data"
    data.write_bytes(DATA)
    signature = tmp_path / "sig"
    admin.tool("--sign", "-m", "ECDSA-SHA256", "--id", ec_id, "-i", str(data), "-o", str(signature),
               "--signature-format", "openssl")  # fmt: skip
    pem = tools.export_public_key(admin.module, admin.env, ec_id, tmp_path / "ec.pem")
    verified = tools.run(
        ["openssl", "dgst", "-sha256", "-verify", str(pem), "-signature", str(signature), str(data)]
    )
    assert verified.returncode == 0 and "Verified OK" in verified.stdout

    with admin.kmip() as kmip:
        (aes_uid,) = locate_by_name(kmip, "p11-aes")
        (ec_uid,) = locate_by_name(kmip, "p11-ec")  # the private key: the public half has no Name
        aes = attributes_of(kmip, aes_uid)
        assert aes[Tag.CRYPTOGRAPHIC_ALGORITHM] == CryptographicAlgorithm.AES
        assert aes[Tag.CRYPTOGRAPHIC_LENGTH] == 256
        assert aes[Tag.CRYPTOGRAPHIC_USAGE_MASK] == U.ENCRYPT | U.DECRYPT | U.WRAP_KEY | U.UNWRAP_KEY
        assert aes[Tag.STATE] == State.ACTIVE
        # pkcs11-tool asks for CKA_SENSITIVE=FALSE and leaves CKA_EXTRACTABLE to the token (FALSE).
        assert (aes[Tag.SENSITIVE], aes[Tag.EXTRACTABLE], aes[Tag.NEVER_EXTRACTABLE]) == (False, False, True)
        ec = attributes_of(kmip, ec_uid)
        assert ec[Tag.OBJECT_TYPE] == ObjectType.PRIVATE_KEY
        assert (ec[Tag.CRYPTOGRAPHIC_ALGORITHM], ec[Tag.CRYPTOGRAPHIC_LENGTH]) == (
            CryptographicAlgorithm.EC,
            256,
        )
        assert int(ec[Tag.CRYPTOGRAPHIC_USAGE_MASK]) & U.SIGN and ec[Tag.SENSITIVE] is True
        chosen = ec[Tag.ATTRIBUTE]
        assert (chosen.vendor_identification, chosen.attribute_name) == ("x", "pkcs11-id")
        assert chosen.attribute_value.value == bytes.fromhex("0e01")

        # What KMIP Encrypt makes with the key, pkcs11-tool --decrypt opens.
        iv = os.urandom(16)
        sealed = kmip.call(
            EncryptRequest(
                unique_identifier=aes_uid,
                cryptographic_parameters=CryptographicParameters(
                    block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5
                ),
                data=DATA,
                iv_counter_nonce=iv,
            )
        ).data
        (tmp_path / "sealed").write_bytes(sealed)
        admin.tool("--decrypt", "-m", "AES-CBC-PAD", "--iv", iv.hex(), "--id", aes_id,
                   "-i", str(tmp_path / "sealed"), "-o", str(tmp_path / "opened"))  # fmt: skip
        assert (tmp_path / "opened").read_bytes() == DATA

        # Not extractable: neither C_GetAttributeValue(CKA_VALUE) nor KMIP Get gives the key.
        read = admin.tool(
            "--read-object", "--type", "secrkey", "--id", aes_id, "-o", str(tmp_path / "k"), ok=False
        )
        assert "CKR_ATTRIBUTE_SENSITIVE" in read
        with pytest.raises(KmipResultError) as refused:
            kmip.call(GetRequest(unique_identifier=aes_uid))
        assert refused.value.reason is ResultReason.NOT_EXTRACTABLE


def test_rsa_signatures_verify_with_openssl_until_kmip_revokes_the_key(admin: Client, tmp_path: Path) -> None:
    admin.tool("--keypairgen", "--key-type", "rsa:2048", "--label", "p11-rsa")
    (rsa_id,) = object_ids(admin.tool("-O"), "p11-rsa")
    data = tmp_path / "data"
    data.write_bytes(DATA)
    pem = tools.export_public_key(admin.module, admin.env, rsa_id, tmp_path / "rsa.pem")
    for mechanism, options in (
        ("SHA256-RSA-PKCS", []),
        ("SHA256-RSA-PKCS-PSS", ["-sigopt", "rsa_padding_mode:pss"]),
    ):
        signature = tmp_path / f"{mechanism}.sig"
        admin.tool("--sign", "-m", mechanism, "--id", rsa_id, "-i", str(data), "-o", str(signature))
        verify = ["openssl", "dgst", "-sha256", *options, "-verify", str(pem), "-signature", str(signature)]
        verified = tools.run([*verify, str(data)])
        assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stderr
    with admin.kmip() as kmip:
        (uid,) = locate_by_name(kmip, "p11-rsa")
        reason = RevocationReason(revocation_reason_code=RevocationReasonCode.KEY_COMPROMISE)
        kmip.call(
            RevokeRequest(
                unique_identifier=uid, revocation_reason=reason, compromise_occurrence_date=datetime.now(UTC)
            )
        )
    refused = admin.tool("--sign", "-m", "SHA256-RSA-PKCS", "--id", rsa_id, "-i", str(data),
                         "-o", str(tmp_path / "late.sig"), ok=False)  # fmt: skip
    assert "C_SignInit failed: rv = CKR_KEY_FUNCTION_NOT_PERMITTED" in refused


def test_a_kmip_key_is_a_pkcs11_object_and_its_ciphertext_decrypts_through_kmip(admin: Client) -> None:
    with admin.kmip() as kmip:
        uid = kmip_aes_key(kmip, "kmip-aes", (Tag.SENSITIVE, True))
        kmip.call(ActivateRequest(unique_identifier=uid))
    listing = admin.tool("-O")
    assert object_ids(listing, "kmip-aes") and "sensitive" in listing.split("kmip-aes")[1].split("Object")[0]
    iv = os.urandom(12)
    used = admin.host("kmip-aes", iv.hex(), DATA.hex())
    assert (used["value"], used["sensitive"], used["extractable"]) == (
        "error:AttributeSensitive",
        "True",
        "True",
    )
    sealed = bytes.fromhex(used["ciphertext"])
    assert len(sealed) == len(DATA) + 16
    with admin.kmip() as kmip:
        assert gcm_decrypt(kmip, uid, iv, sealed) == DATA


def test_lifecycle_is_honoured(admin: Client) -> None:
    """Deactivated: decrypts but does not encrypt; revoked: not used at all."""
    WINDOW = 6  # seconds the key is Active: time for one host run on a busy machine
    now = datetime.now(UTC).replace(microsecond=0)
    iv = os.urandom(12)
    with admin.kmip() as kmip:
        uid = kmip_aes_key(
            kmip,
            "expiring",
            (Tag.ACTIVATION_DATE, now - timedelta(minutes=1)),
            (Tag.DEACTIVATION_DATE, now + timedelta(seconds=WINDOW)),
        )
    sealed = admin.host("expiring", iv.hex(), DATA.hex())["ciphertext"]
    time.sleep(max(0.0, (now + timedelta(seconds=WINDOW + 1) - datetime.now(UTC)).total_seconds()))
    expired = admin.host("expiring", iv.hex(), DATA.hex(), sealed)
    assert expired["ciphertext"] == NOT_PERMITTED
    assert bytes.fromhex(expired["plaintext"]) == DATA
    with admin.kmip() as kmip:
        assert attributes_of(kmip, uid)[Tag.STATE] == State.DEACTIVATED
        revoked = kmip_aes_key(kmip, "revoked")
        kmip.call(ActivateRequest(unique_identifier=revoked))
        sealed = admin.host("revoked", iv.hex(), DATA.hex())["ciphertext"]
        reason = RevocationReason(revocation_reason_code=RevocationReasonCode.CESSATION_OF_OPERATION)
        kmip.call(RevokeRequest(unique_identifier=revoked, revocation_reason=reason))
    after = admin.host("revoked", iv.hex(), DATA.hex(), sealed)
    assert (after["ciphertext"], after["plaintext"]) == (NOT_PERMITTED, NOT_PERMITTED)


def test_another_client_sees_none_of_the_first_clients_objects(
    admin: Client, native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    admin.tool("--keygen", "--key-type", "AES:16", "--label", "admins-only")
    assert object_ids(admin.tool("-O"), "admins-only")
    native.client_identity("other")  # pkcs11-kmip ca issue-client other: a certificate and a PIN
    other = Client(native, module_path, "other", tmp_path)
    assert other.pin != admin.pin
    assert "ID:" not in other.tool("-O")
    assert "serial num         : other" in other.tool("-L", login=False)
    wrong = Client(native, module_path, "other", tmp_path)
    wrong.pin = admin.pin
    assert "CKR_PIN_INCORRECT" in wrong.tool("-O", ok=False)
    with other.kmip() as kmip:
        assert locate_by_name(kmip, "admins-only") == []


def test_a_key_another_client_was_granted_is_its_pkcs11_object_too(
    admin: Client, native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    with admin.kmip() as kmip:
        uid = kmip_aes_key(kmip, "shared-aes")
        kmip.call(ActivateRequest(unique_identifier=uid))
    native.client_identity("third")
    admin_cli(native.data_dir, "users", "add", "third", "--no-password")
    admin_cli(native.data_dir, "grants", "add", "--user", "third", "--object", uid, "--role", "user")
    third = Client(native, module_path, "third", tmp_path)
    assert object_ids(third.tool("-O"), "shared-aes")
    iv = os.urandom(12)
    used = third.host("shared-aes", iv.hex(), DATA.hex())
    with admin.kmip() as kmip:
        assert gcm_decrypt(kmip, uid, iv, bytes.fromhex(used["ciphertext"])) == DATA
    # The grant does not include Destroy: C_DestroyObject is refused, the key stays.
    # (Its Destroy right is checked before the token revokes an Active key.)
    (key_id,) = object_ids(third.tool("-O"), "shared-aes")
    refused = third.tool("--delete-object", "--type", "secrkey", "--id", key_id, ok=False)
    assert "C_DestroyObject() failed: rv = unknown PKCS11 error (0x1b)" in refused  # CKR_ACTION_PROHIBITED
    with admin.kmip() as kmip:
        assert attributes_of(kmip, uid)[Tag.STATE] == State.ACTIVE


def test_destroying_through_pkcs11_destroys_the_managed_object(admin: Client) -> None:
    admin.tool("--keygen", "--key-type", "AES:16", "--label", "short-lived")
    (key_id,) = object_ids(admin.tool("-O"), "short-lived")
    with admin.kmip() as kmip:
        (uid,) = locate_by_name(kmip, "short-lived")
    admin.tool("--delete-object", "--type", "secrkey", "--id", key_id)
    assert not object_ids(admin.tool("-O"), "short-lived")
    with admin.kmip() as kmip:
        assert attributes_of(kmip, uid)[Tag.STATE] == State.DESTROYED
        assert locate_by_name(kmip, "short-lived") == []


def test_pkcs11_tool_test_passes_on_a_token_with_ec_and_aes_keys(
    native: RunningServer, module_path: Path, tmp_path: Path
) -> None:
    native.client_identity("tester")
    tester = Client(native, module_path, "tester", tmp_path)
    tester.tool("--keygen", "--key-type", "AES:32", "--label", "t-aes")
    tester.tool("--keypairgen", "--key-type", "EC:prime256v1", "--label", "t-ec")
    tested = tester.tool("--test")
    assert "No errors" in tested and "all 4 digest functions seem to work" in tested
    assert "SHA256: OK" in tested and "seems to be OK" in tested  # C_Digest* and C_GenerateRandom


def test_objects_pkcs11_tool_imports_wraps_and_edits_are_kmip_objects(admin: Client, tmp_path: Path) -> None:
    # A certificate (C_CreateObject): a KMIP Certificate, read back byte for byte.
    der = tmp_path / "cert.der"
    der.write_bytes(certificates.self_signed("native token").public_bytes(serialization.Encoding.DER))
    admin.tool("--write-object", str(der), "--type", "cert", "--label", "p11-cert", "--id", "0c01")
    admin.tool("--read-object", "--type", "cert", "--id", "0c01", "-o", str(tmp_path / "read.der"))
    assert (tmp_path / "read.der").read_bytes() == der.read_bytes()
    # A secret key from its bytes: KMIP encrypts with it as the bytes say.
    value = os.urandom(32)
    (tmp_path / "aes.bin").write_bytes(value)
    admin.tool("--write-object", str(tmp_path / "aes.bin"), "--type", "secrkey", "--key-type", "AES:32",
               "--label", "p11-imported", "--id", "0c02")  # fmt: skip
    iv = os.urandom(16)
    with admin.kmip() as kmip:
        (cert_uid,) = locate_by_name(kmip, "p11-cert")
        assert attributes_of(kmip, cert_uid)[Tag.OBJECT_TYPE] == ObjectType.CERTIFICATE
        (aes_uid,) = locate_by_name(kmip, "p11-imported")
        assert kmip_cbc_pad(kmip, aes_uid, iv) == cbc_pad(value, iv, DATA)

    # C_Digest and a multi-part C_Encrypt of 100 kB (pkcs11-tool streams it in parts).
    big = tmp_path / "big"
    big.write_bytes(os.urandom(100_000))
    admin.tool("--hash", "-m", "SHA256", "-i", str(big), "-o", str(tmp_path / "digest"), login=False)
    assert (tmp_path / "digest").read_bytes() == hashlib.sha256(big.read_bytes()).digest()
    admin.tool("--encrypt", "-m", "AES-CBC-PAD", "--id", "0c02", "--iv", iv.hex(), "-i", str(big),
               "-o", str(tmp_path / "big.enc"))  # fmt: skip
    assert (tmp_path / "big.enc").read_bytes() == cbc_pad(value, iv, big.read_bytes())
    admin.tool("--decrypt", "-m", "AES-CBC-PAD", "--id", "0c02", "--iv", iv.hex(),
               "-i", str(tmp_path / "big.enc"), "-o", str(tmp_path / "big.dec"))  # fmt: skip
    assert (tmp_path / "big.dec").read_bytes() == big.read_bytes()

    # C_WrapKey with AES-KWP (the imported key wraps an extractable one), C_UnwrapKey back in.
    admin.tool("--keygen", "--key-type", "AES:16", "--label", "p11-wrapped", "--id", "0c03", "--extractable")
    wrapped = tmp_path / "wrapped"
    admin.tool("--wrap", "-m", "0x210B", "--id", "0c02", "--application-id", "0c03", "-o", str(wrapped))
    inner = keywrap.aes_key_unwrap_with_padding(value, wrapped.read_bytes())
    admin.tool("--unwrap", "-m", "0x210B", "--id", "0c02", "-i", str(wrapped), "--key-type", "AES:",
               "--application-label", "p11-unwrapped", "--application-id", "0c04")  # fmt: skip
    with admin.kmip() as kmip:
        for label in ("p11-wrapped", "p11-unwrapped"):
            (uid,) = locate_by_name(kmip, label)
            assert attributes_of(kmip, uid)[Tag.STATE] == State.ACTIVE
            assert kmip_cbc_pad(kmip, uid, iv) == cbc_pad(inner, iv, DATA)

    # C_SetAttributeValue: a new CKA_ID is the vendor attribute KMIP shows.
    admin.tool("--set-id", "0c05", "--id", "0c02", "--type", "secrkey")
    with admin.kmip() as kmip:
        chosen = attributes_of(kmip, aes_uid)[Tag.ATTRIBUTE]
    assert chosen.attribute_value.value == bytes.fromhex("0c05")  # type: ignore[attr-defined]


def kmip_cbc_pad(kmip: KmipClient, uid: str, iv: bytes) -> bytes | None:
    """DATA encrypted by KMIP Encrypt, AES-CBC with PKCS#5 padding."""
    parameters = CryptographicParameters(
        block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5
    )
    request = EncryptRequest(
        unique_identifier=uid, cryptographic_parameters=parameters, data=DATA, iv_counter_nonce=iv
    )
    return kmip.call(request).data


def cbc_pad(key: bytes, iv: bytes, data: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padder.update(data) + padder.finalize()) + encryptor.finalize()


def test_pkcs11_tool_hmac_is_kmip_mac(admin: Client, tmp_path: Path) -> None:
    """SHA256-HMAC through pkcs11-tool with a key made by KMIP: the MAC Python computes with
    the key's bytes (read through KMIP Get), verified by the token; a changed MAC is refused."""
    with admin.kmip() as kmip:
        macs = U.MAC_GENERATE | U.MAC_VERIFY
        uid = kmip_aes_key(kmip, "kmip-hmac", algorithm=CryptographicAlgorithm.HMAC_SHA256, mask=macs)
        kmip.call(ActivateRequest(unique_identifier=uid))
        key = kmip.call(GetRequest(unique_identifier=uid)).object
    value = key.key_block.key_value.key_material  # type: ignore[union-attr]
    assert isinstance(value, bytes)
    data, signature = tmp_path / "data", tmp_path / "mac"
    data.write_bytes(DATA)
    admin.tool("--sign", "-m", "SHA256-HMAC", "--label", "kmip-hmac", "-i", str(data), "-o", str(signature))
    assert signature.read_bytes() == hmac.new(value, DATA, hashlib.sha256).digest()
    verified = admin.tool(
        "--verify",
        "-m",
        "SHA256-HMAC",
        "--label",
        "kmip-hmac",
        "-i",
        str(data),
        "--signature-file",
        str(signature),
    )
    assert "Signature is valid" in verified
    signature.write_bytes(bytes(32))
    refused = admin.tool("--verify", "-m", "SHA256-HMAC", "--label", "kmip-hmac", "-i", str(data),
                         "--signature-file", str(signature))  # fmt: skip
    assert "Invalid signature" in refused  # pkcs11-tool's word for CKR_SIGNATURE_INVALID (exit 0)
    wrong = admin.tool("--sign", "-m", "SHA-1-HMAC", "--label", "kmip-hmac", "-i", str(data),
                       "-o", str(tmp_path / "x"), ok=False)  # fmt: skip
    assert "CKR_KEY_TYPE_INCONSISTENT" in wrong


def test_openssl_rsa_ciphertexts_decrypt_with_pkcs11_tool(admin: Client, tmp_path: Path) -> None:
    """RSA-OAEP (SHA-256 and SHA-1) and PKCS#1 v1.5: openssl encrypts with the token's public
    key, pkcs11-tool decrypts with the private key (KMIP Decrypt). (This pkcs11-tool encrypts
    with secret keys only: the token's RSA encryption is tested at the engine level.)"""
    admin.tool("--keypairgen", "--key-type", "rsa:2048", "--label", "p11-rsa-enc", "--id", "0e02")
    pem = tools.export_public_key(admin.module, admin.env, "0e02", tmp_path / "rsa.pem")
    data = tmp_path / "data"
    data.write_bytes(DATA)
    for mechanism, tool_options, openssl_options in (
        ("RSA-PKCS-OAEP", ["--hash-algorithm", "SHA256", "--mgf", "MGF1-SHA256"],
         ["rsa_padding_mode:oaep", "rsa_oaep_md:sha256", "rsa_mgf1_md:sha256"]),
        ("RSA-PKCS-OAEP", ["--hash-algorithm", "SHA-1", "--mgf", "MGF1-SHA1"],
         ["rsa_padding_mode:oaep", "rsa_oaep_md:sha1", "rsa_mgf1_md:sha1"]),
        ("RSA-PKCS", [], ["rsa_padding_mode:pkcs1"]),
    ):  # fmt: skip
        sealed, opened = tmp_path / "sealed", tmp_path / "opened"
        pkeyopts = [part for option in openssl_options for part in ("-pkeyopt", option)]
        encrypt = ["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pem), *pkeyopts]
        done = tools.run([*encrypt, "-in", str(data), "-out", str(sealed)])
        assert done.returncode == 0, done.stderr
        admin.tool("--decrypt", "-m", mechanism, *tool_options, "--id", "0e02",
                   "-i", str(sealed), "-o", str(opened))  # fmt: skip
        assert opened.read_bytes() == DATA


def test_aes_ctr_through_pykcs11_is_kmip_ctr(admin: Client) -> None:
    """AES-CTR through the library (PyKCS11: this pkcs11-tool lacks AES-CTR) with a key made
    by KMIP: the bytes pyca makes with the key (read through KMIP Get) and the same counter
    block, and back."""
    with admin.kmip() as kmip:
        uid = kmip_aes_key(kmip, "kmip-ctr")
        kmip.call(ActivateRequest(unique_identifier=uid))
        key = kmip.call(GetRequest(unique_identifier=uid)).object
    value = key.key_block.key_value.key_material  # type: ignore[union-attr]
    assert isinstance(value, bytes)
    counter, data = os.urandom(16), DATA * 3
    host = [
        sys.executable,
        str(CTR_HOST),
        str(admin.module),
        admin.pin,
        "kmip-ctr",
        counter.hex(),
        data.hex(),
    ]
    done = tools.run(host, admin.env)
    assert done.returncode == 0, done.stderr
    got = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    expected = Cipher(algorithms.AES(value), modes.CTR(counter)).encryptor().update(data)
    assert (bytes.fromhex(got["sealed"]), bytes.fromhex(got["opened"])) == (expected, data)
