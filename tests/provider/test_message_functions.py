"""The PKCS#11 3.0 message-based functions end to end: our library, a real server over TLS,
the native token (KMIP Encrypt/Decrypt, MAC, Sign) or SoftHSM2 behind it.

The host (message_host.py) calls CK_FUNCTION_LIST_3_0 through cffi; what it gets is checked
here against pyca/cryptography and the standard library with the keys' own bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.kmip.messages.payloads import ActivateRequest, GetRequest, LocateRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask as U
from testsupport import tools
from testsupport.kmip_builders import as_attributes, name, symmetric_create
from testsupport.server import RunningServer
from testsupport.softhsm import Token, write_client_config

HOST = Path(__file__).resolve().parent / "message_host.py"
DATA, AAD = b"a message of 27 bytes, here", b"header"
CKF_MESSAGE_ENCRYPT, CKF_MESSAGE_DECRYPT, CKF_MESSAGE_SIGN, CKF_MESSAGE_VERIFY = 0x2, 0x4, 0x8, 0x10
CKF_MULTI_MESSAGE = 0x20
FIRST, SECOND = b"the first part, ", b"and the last one"


Run = dict[str, str]


def rv(run: Run, step: str) -> int:
    return int(run[f"rv.{step}"], 16)


def kmip_key(server: RunningServer, label: str, algorithm: CryptographicAlgorithm, mask: int) -> bytes:
    """A 256-bit key made (and activated) by KMIP for the admin client; its bytes, by KMIP Get."""
    with server.client("admin") as kmip:
        uid = kmip.call(symmetric_create(algorithm, mask, label)).unique_identifier
        kmip.call(ActivateRequest(unique_identifier=uid))
        key = kmip.call(GetRequest(unique_identifier=uid)).object
    value = key.key_block.key_value.key_material  # type: ignore[union-attr]
    assert isinstance(value, bytes)
    return value


def host(server: RunningServer, module: Path, tmp: Path, pin: str, *args: str) -> Run:
    config = write_client_config(tmp / "pkcs11-kmip.toml", server)
    env = {k: v for k, v in os.environ.items() if k != "SOFTHSM2_CONF"} | {"PKCS11_KMIP_CONFIG": str(config)}
    done = tools.run([sys.executable, str(HOST), str(module), pin, *args], env, timeout=120)
    run = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert done.returncode == 0 and run.get("done") == "1", done.stdout + done.stderr
    return run


def scripted(native: RunningServer, module: Path, tmp: Path, mode: str) -> tuple[Run, bytes, bytes]:
    """The host's `mode` script with an AES and an HMAC key of its own (named after the mode),
    and those keys' bytes."""
    aes = kmip_key(native, f"{mode}-aes", CryptographicAlgorithm.AES, U.ENCRYPT | U.DECRYPT)
    mac = kmip_key(native, f"{mode}-hmac", CryptographicAlgorithm.HMAC_SHA256, U.MAC_GENERATE | U.MAC_VERIFY)
    pin = (native.data_dir / "clients" / "admin" / "pin").read_text().strip()
    return host(native, module, tmp, pin, mode, f"{mode}-aes", f"{mode}-hmac"), aes, mac


@pytest.fixture(scope="module")
def native_run(
    native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, bytes, bytes]:
    return scripted(native, module_path, tmp_path_factory.mktemp("msg"), "native")


def test_the_native_token_advertises_exactly_the_message_functions_it_has(
    native_run: tuple[Run, bytes, bytes],
) -> None:
    run, _, _ = native_run
    assert run["interface"] == "3.0"
    assert int(run["flags.gcm"], 16) & 0x1E == CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT
    assert int(run["flags.hmac"], 16) & 0x1E == CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY
    assert int(run["flags.ecdsa"], 16) & 0x1E == CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY


def test_aes_gcm_messages_decrypt_with_pyca_and_back(native_run: tuple[Run, bytes, bytes]) -> None:
    run, key, _ = native_run
    assert rv(run, "before_init") == CKR.OPERATION_NOT_INITIALIZED
    assert rv(run, "encrypt_init") == CKR.OK
    assert rv(run, "encrypt_init_again") == CKR.OPERATION_ACTIVE
    # Length query and a buffer too small: the length, nothing encrypted, nothing written back.
    assert (rv(run, "query"), run["len.query"]) == (CKR.OK, str(len(DATA)))
    assert (rv(run, "small"), run["len.small"]) == (CKR.BUFFER_TOO_SMALL, str(len(DATA)))
    assert run["iv.after_query"] == "00" * 12 and run["tag.after_query"] == "00" * 16
    assert rv(run, "wrong_size") == CKR.MECHANISM_PARAM_INVALID
    assert rv(run, "no_length") == CKR.ARGUMENTS_BAD
    # CKG_GENERATE_RANDOM: a fresh IV written back with the tag; pyca opens it with both.
    assert rv(run, "encrypt") == CKR.OK
    iv, tag, ciphertext = (bytes.fromhex(run[k]) for k in ("iv", "tag", "ciphertext"))
    assert iv != bytes(12) and len(ciphertext) == len(DATA)
    assert AESGCM(key).decrypt(iv, ciphertext + tag, AAD) == DATA
    # The caller's 32 fixed bits stay in front of the random ones.
    fixed_iv = bytes.fromhex(run["iv.fixed"])
    assert fixed_iv[:4] == bytes.fromhex("a1b2c3d4") and fixed_iv[4:] != bytes(8)
    fixed = bytes.fromhex(run["ciphertext.fixed"]) + bytes.fromhex(run["tag.fixed"])
    assert AESGCM(key).decrypt(fixed_iv, fixed, None) == DATA
    # CKG_NO_GENERATE: the caller's IV, untouched, exactly what pyca computes.
    assert run["iv.given"] == bytes(range(12)).hex()
    assert (
        run["ciphertext.given"] + run["tag.given"] == AESGCM(key).encrypt(bytes(range(12)), DATA, AAD).hex()
    )
    assert rv(run, "counter") == CKR.MECHANISM_PARAM_INVALID  # no per-key counter on this token
    assert rv(run, "encrypt_final") == CKR.OK
    assert rv(run, "encrypt_final_again") == CKR.OPERATION_NOT_INITIALIZED
    assert rv(run, "after_final") == CKR.OPERATION_NOT_INITIALIZED


def test_aes_gcm_message_decryption_checks_the_tag(native_run: tuple[Run, bytes, bytes]) -> None:
    run, key, _ = native_run
    assert rv(run, "decrypt_init") == CKR.OK
    assert (rv(run, "decrypt"), run["plaintext"]) == (CKR.OK, DATA.hex())
    assert rv(run, "tampered") == CKR.AEAD_DECRYPT_FAILED
    assert rv(run, "other_aad") == CKR.AEAD_DECRYPT_FAILED
    with pytest.raises(InvalidTag):  # (pyca agrees that AAD is authenticated)
        AESGCM(key).decrypt(bytes.fromhex(run["iv"]), bytes.fromhex(run["ciphertext"] + run["tag"]), b"other")
    assert rv(run, "decrypt_final") == CKR.OK


def test_hmac_messages_are_kmip_macs(native_run: tuple[Run, bytes, bytes]) -> None:
    run, _, key = native_run
    assert rv(run, "sign_init") == CKR.OK
    assert (rv(run, "mac_query"), run["len.mac_query"]) == (CKR.OK, "32")
    assert (rv(run, "mac_small"), run["len.mac_small"]) == (CKR.BUFFER_TOO_SMALL, "32")
    assert run["mac"] == hmac.new(key, DATA, hashlib.sha256).hexdigest()
    assert run["mac.second"] == hmac.new(key, b"another", hashlib.sha256).hexdigest()
    assert rv(run, "mac_parameter") == CKR.MECHANISM_PARAM_INVALID
    assert rv(run, "sign_final") == CKR.OK
    assert rv(run, "mac_verify") == CKR.OK
    assert rv(run, "mac_verify_bad") == CKR.SIGNATURE_INVALID
    assert rv(run, "verify_final") == CKR.OK


def test_ecdsa_messages_verify_with_pyca(native_run: tuple[Run, bytes, bytes]) -> None:
    run, _, _ = native_run
    point = bytes.fromhex(run["ec_point"])
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), point[2:] if point[0] == 4 and len(point) == 67 else point
    )
    assert (rv(run, "ecdsa_query"), run["len.ecdsa_query"]) == (CKR.OK, "64")
    signature = bytes.fromhex(run["ecdsa"])
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), DATA, ec.ECDSA(hashes.SHA256()))
    assert rv(run, "ecdsa_verify") == CKR.OK
    assert rv(run, "ecdsa_verify_bad") == CKR.SIGNATURE_INVALID


@pytest.fixture(scope="module")
def parts_run(
    native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Run, bytes, bytes]:
    return scripted(native, module_path, tmp_path_factory.mktemp("parts"), "parts")


def test_multi_message_is_advertised_where_messages_come_in_parts(
    parts_run: tuple[Run, bytes, bytes],
) -> None:
    run, _, _ = parts_run
    for mechanism, kinds in (
        ("gcm", CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT),
        ("hmac", CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY),
        ("ecdsa_sha256", CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY),
    ):
        assert int(run[f"flags.{mechanism}"], 16) & 0x3E == kinds | CKF_MULTI_MESSAGE, mechanism
    # CKM_ECDSA signs a digest the caller made: in one part only, as C_SignUpdate has it.
    assert int(run["flags.ecdsa"], 16) & 0x3E == CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY
    assert rv(run, "ecdsa_raw_init") == CKR.OK
    assert rv(run, "ecdsa_raw_begin") == CKR.FUNCTION_NOT_SUPPORTED


def test_object_size_through_the_library_is_the_kmip_objects_length(
    native: RunningServer, parts_run: tuple[Run, bytes, bytes]
) -> None:
    """C_GetObjectSize of the AES key the KMIP client made: the TTLV length of what KMIP Get gives."""
    run, _, _ = parts_run
    with native.client("admin") as kmip:
        (uid,) = kmip.call(
            LocateRequest(attributes=as_attributes((Tag.NAME, name("parts-aes"))))
        ).unique_identifiers
        key = kmip.call(GetRequest(unique_identifier=uid)).object
    assert rv(run, "object_size") == CKR.OK and int(run["object_size"]) == len(key.encode())


def test_aes_gcm_encryption_in_parts_is_a_kmip_stream_pyca_opens(parts_run: tuple[Run, bytes, bytes]) -> None:
    run, key, _ = parts_run
    assert rv(run, "next_before_begin") == CKR.OPERATION_NOT_INITIALIZED
    assert rv(run, "encrypt_begin") == CKR.OK
    iv = bytes.fromhex(run["iv"])
    assert iv != bytes(12)  # CKG_GENERATE_RANDOM: written back at Begin
    assert rv(run, "encrypt_begin_again") == CKR.OPERATION_ACTIVE
    assert rv(run, "single_meanwhile") == CKR.OPERATION_ACTIVE
    assert (rv(run, "part_query"), run["len.part_query"]) == (CKR.OK, str(len(FIRST)))
    assert (rv(run, "part"), run["len.part"]) == (CKR.OK, str(len(FIRST)))
    assert run["tag.before_last"] == "00" * 16  # the tag comes with the last part only
    assert (rv(run, "last_small"), run["len.last_small"]) == (CKR.BUFFER_TOO_SMALL, str(len(SECOND)))
    assert rv(run, "last") == CKR.OK
    ciphertext, tag = bytes.fromhex(run["ciphertext"]), bytes.fromhex(run["tag"])
    assert AESGCM(key).decrypt(iv, ciphertext + tag, AAD) == FIRST + SECOND
    assert rv(run, "after_last") == CKR.OPERATION_NOT_INITIALIZED  # the message ended
    # A message that is one last part, with the caller's IV: exactly pyca's.
    assert rv(run, "whole") == CKR.OK
    whole = bytes.fromhex(run["ciphertext.whole"] + run["tag.whole"])
    assert whole == AESGCM(key).encrypt(bytes(range(12)), FIRST + SECOND, AAD)
    # A message left open: the Final ends it (and its stream).
    assert (rv(run, "encrypt_begin_left"), rv(run, "part_left")) == (CKR.OK, CKR.OK)
    assert rv(run, "encrypt_final") == CKR.OK


def test_aes_gcm_decryption_in_parts_releases_nothing_before_the_tag(
    parts_run: tuple[Run, bytes, bytes],
) -> None:
    run, _, _ = parts_run
    assert rv(run, "decrypt_begin") == CKR.OK
    assert (rv(run, "decrypt_part"), run["len.decrypt_part"]) == (CKR.OK, "0")
    total = str(len(FIRST + SECOND))
    assert (rv(run, "decrypt_last_query"), run["len.decrypt_last_query"]) == (CKR.OK, total)
    assert (rv(run, "decrypt_last"), run["plaintext"]) == (CKR.OK, (FIRST + SECOND).hex())
    assert (rv(run, "tampered_begin"), rv(run, "tampered_part")) == (CKR.OK, CKR.OK)
    assert rv(run, "tampered_last") == CKR.AEAD_DECRYPT_FAILED
    assert rv(run, "after_failure") == CKR.OPERATION_NOT_INITIALIZED  # an error ends the message
    assert rv(run, "decrypt_final") == CKR.OK


def test_hmac_and_ecdsa_in_parts_sign_the_whole_message(parts_run: tuple[Run, bytes, bytes]) -> None:
    run, _, key = parts_run
    assert (rv(run, "sign_begin"), rv(run, "mac_part")) == (CKR.OK, CKR.OK)
    assert (rv(run, "mac_query"), run["len.mac_query"]) == (CKR.OK, "32")
    assert (rv(run, "mac_small"), run["len.mac_small"]) == (CKR.BUFFER_TOO_SMALL, "32")
    assert rv(run, "mac_last") == CKR.OK
    assert run["mac"] == hmac.new(key, FIRST + SECOND, hashlib.sha256).hexdigest()
    assert rv(run, "mac_after_last") == CKR.OPERATION_NOT_INITIALIZED
    assert rv(run, "sign_final") == CKR.OK
    assert (rv(run, "verify_part"), rv(run, "verify_last")) == (CKR.OK, CKR.OK)
    assert rv(run, "verify_bad_last") == CKR.SIGNATURE_INVALID  # the parts in the other order
    assert rv(run, "verify_final") == CKR.OK
    point = bytes.fromhex(run["ec_point"])
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point[2:])
    signature = bytes.fromhex(run["ecdsa"])
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), FIRST + SECOND, ec.ECDSA(hashes.SHA256()))


def test_softhsm2_without_a_30_interface_answers_function_not_supported(
    hsm_server: RunningServer, token: Token, module_path: Path, tmp_path: Path
) -> None:
    """SoftHSM2 2.6 has no C_GetInterface: its CKR_FUNCTION_NOT_SUPPORTED reaches the
    application unchanged, for the Init, each message function and the Final alike."""
    run = host(hsm_server, module_path, tmp_path, token.pin, "passthrough")
    assert run["interface"] == "3.0"  # the library's own interface, whatever the module's
    steps = ("encrypt_init", "encrypt", "decrypt", "encrypt_final", "sign_init", "sign")
    assert {step: rv(run, step) for step in steps} == dict.fromkeys(steps, CKR.FUNCTION_NOT_SUPPORTED)
