"""The native token's ChaCha20, ChaCha20-Poly1305 and AES-XTS end to end: our library, a real
server over TLS, a cffi host calling CK_FUNCTION_LIST_3_0 (native_ciphers_host.py). What
PKCS#11 encrypts is checked with pyca/cryptography; what KMIP encrypts decrypts through
PKCS#11; keys made through PKCS#11 are what a KMIP client expects (docs/native-token.md).

The mechanism and key type numbers are written out here from the PKCS#11 3.0 pkcs11t.h, not
taken from the token's own tables, so a wrong constant there fails these tests.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from pkcs11_kmip.cryptoki.constants import CKA, CKR
from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import BlockCipherMode, CryptographicAlgorithm
from pkcs11_kmip.kmip.spec.enums import CryptographicUsageMask as U
from testsupport import tools
from testsupport.hosts import NativeTool
from testsupport.hsm_store import BOTH_KEY_STORES
from testsupport.kmip_builders import as_attributes, name, symmetric_create
from testsupport.server import RunningServer

# Every test runs on the native token over the database key store, then over the HSM key store
# (key material in SoftHSM2). AES-XTS keys stay sealed in the database there (SoftHSM2 has no XTS).
NATIVE_KEY_STORES = BOTH_KEY_STORES

HOST = Path(__file__).with_name("native_ciphers_host.py")
KEY_ATTRIBUTES = {"type": CKA.KEY_TYPE, "len": CKA.VALUE_LEN}
# pkcs11t.h (PKCS#11 3.0)
CKO_SECRET_KEY, CKK_AES, CKK_CHACHA20, CKK_AES_XTS = 4, 0x1F, 0x33, 0x35
CKM_CHACHA20_KEY_GEN, CKM_CHACHA20, CKM_CHACHA20_POLY1305 = 0x1225, 0x1226, 0x4021
CKM_AES_XTS, CKM_AES_XTS_KEY_GEN, CKM_AES_KEY_GEN, CKM_AES_CBC = 0x1071, 0x1072, 0x1080, 0x1082
CKF_ENCRYPT_DECRYPT, CKF_GENERATE, CKF_MESSAGE_ENCRYPT_DECRYPT = 0x100 | 0x200, 0x8000, 0x2 | 0x4

DATA = b"thirty-seven bytes of data, unaligned"  # XTS steals ciphertext for the last 5
AAD = b"header"
CHACHA_KEY, XTS_KEY = os.urandom(32), os.urandom(64)
NONCE12, NONCE8, TWEAK = os.urandom(12), os.urandom(8), os.urandom(16)


def chacha20(
    nonce: bytes, counter: bytes | None = b"\x01\0\0\0", bits: tuple[int, int] | None = None
) -> dict[str, Any]:
    """A CK_CHACHA20_PARAMS parameter: counter and nonce, their lengths in bits."""
    counter_bits, nonce_bits = bits or (8 * len(counter or b""), 8 * len(nonce))
    fields = {
        "pBlockCounter": counter.hex() if counter is not None else None,
        "blockCounterBits": counter_bits,
    }
    return {
        "struct": "CK_CHACHA20_PARAMS",
        "fields": fields | {"pNonce": nonce.hex(), "ulNonceBits": nonce_bits},
    }


def poly1305(nonce: bytes, aad: bytes = AAD) -> dict[str, Any]:
    fields = {"pNonce": nonce.hex(), "ulNonceLen": len(nonce), "pAAD": aad.hex(), "ulAADLen": len(aad)}
    return {"struct": "CK_SALSA20_CHACHA20_POLY1305_PARAMS", "fields": fields}


def secret(key_type: int | None, label: str, **more: list[Any]) -> dict[str, list[Any]]:
    """A secret key template: a token object, readable (so the test can check with its bytes)."""
    template: dict[int, list[Any]] = {
        CKA.CLASS: ["u", CKO_SECRET_KEY],
        CKA.TOKEN: ["b", 1],
        CKA.LABEL: ["x", label.encode().hex()],
        CKA.SENSITIVE: ["b", 0],
        CKA.EXTRACTABLE: ["b", 1],
    }
    if key_type is not None:
        template[CKA.KEY_TYPE] = ["u", key_type]
    for attribute, value in more.items():
        template[getattr(CKA, attribute)] = value
    return {str(int(k)): v for k, v in template.items()}


def kmip_key(
    kmip: KmipClient, algorithm: CryptographicAlgorithm, label: str, *extra: Any
) -> tuple[str, bytes]:
    """A key made (and activated) through KMIP, and its bytes (KMIP Get)."""
    uid = kmip.call(symmetric_create(algorithm, U.ENCRYPT | U.DECRYPT, label, *extra)).unique_identifier
    kmip.call(ActivateRequest(unique_identifier=uid))
    material = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    assert isinstance(uid, str) and isinstance(material, bytes)
    return uid, material


def seen_by_kmip(kmip: KmipClient, label: str) -> tuple[Attributes, bytes]:
    """The attributes and bytes KMIP gives for the object of this Name."""
    (uid,) = kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(label))))).unique_identifiers
    attributes = kmip.call(GetAttributesRequest(unique_identifier=uid)).attributes
    material = kmip.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    return attributes, material


@pytest.fixture(scope="module")
def kmip_made(native: RunningServer) -> dict[str, bytes]:
    """Keys made through KMIP (ChaCha20; AES-XTS as KMIP's AX profile makes it: AES 256 bits
    named for XTS) and what KMIP Encrypt makes with them."""
    xts_parameters = CryptographicParameters(block_cipher_mode=BlockCipherMode.XTS)
    with native.client("admin") as kmip:
        chacha_uid, chacha = kmip_key(kmip, CryptographicAlgorithm.CHACHA20, "kmip-chacha")
        xts_uid, xts = kmip_key(
            kmip, CryptographicAlgorithm.AES, "kmip-xts", (Tag.CRYPTOGRAPHIC_PARAMETERS, xts_parameters)
        )
        stream = kmip.call(
            EncryptRequest(
                unique_identifier=chacha_uid,
                data=DATA,
                cryptographic_parameters=CryptographicParameters(initial_counter_value=1),
                iv_counter_nonce=NONCE12,
            )
        )
        aead = kmip.call(
            EncryptRequest(
                unique_identifier=chacha_uid,
                data=DATA,
                cryptographic_parameters=CryptographicParameters(
                    cryptographic_algorithm=CryptographicAlgorithm.CHACHA20_POLY1305
                ),
                iv_counter_nonce=NONCE12,
                authenticated_encryption_additional_data=AAD,
            )
        )
        sealed = kmip.call(EncryptRequest(unique_identifier=xts_uid, data=DATA, iv_counter_nonce=TWEAK))
    return {
        "chacha": chacha,
        "xts": xts,
        "stream": stream.data,
        "aead": aead.data + aead.authenticated_encryption_tag,
        "sealed": sealed.data,
    }


def step(op: str, name: str, key: str = "", mech: int = 0, **more: Any) -> dict[str, Any]:
    """One step of the host's script (native_ciphers_host.py); `name` is what its result is printed under."""
    return {"op": op, "name": name, "key": key, "mech": mech, **more}


def cipher(
    op: str, name: str, key: str, mech: int, param: dict[str, Any] | None, data: bytes = DATA
) -> dict[str, Any]:
    return step(op, name, key, mech, param=param, data=data.hex())


def in_parts(
    op: str, name: str, key: str, mech: int, param: dict[str, Any], data: bytes, cut: int
) -> dict[str, Any]:
    return step(op, name, key, mech, param=param, parts=[data[:cut].hex(), data[cut:].hex()])


def message(op: str, name: str, data: bytes, **more: Any) -> dict[str, Any]:
    """A ChaCha20-Poly1305 message with the imported key: NONCE12 and AAD."""
    return step(
        op, name, "chacha", CKM_CHACHA20_POLY1305, nonce=NONCE12.hex(), aad=AAD.hex(), data=data.hex(), **more
    )


def script(made: dict[str, bytes]) -> list[dict[str, Any]]:
    """The host's steps: generation and import, attributes, ciphers, refusals, KMIP's ciphertexts."""
    tweak = {"raw": TWEAK.hex()}
    sealed = ChaCha20Poly1305(CHACHA_KEY).encrypt(NONCE12, DATA, AAD)
    forged = sealed[:-1] + bytes([sealed[-1] ^ 1])
    stream = Cipher(algorithms.ChaCha20(CHACHA_KEY, b"\x01\0\0\0" + NONCE12), None).encryptor().update(DATA)
    xts = Cipher(algorithms.AES(XTS_KEY), modes.XTS(TWEAK)).encryptor().update(DATA)
    steps = [
        step("info", f"info.{m:x}", mech=m)
        for m in (CKM_CHACHA20_KEY_GEN, CKM_CHACHA20, CKM_CHACHA20_POLY1305, CKM_AES_XTS_KEY_GEN, CKM_AES_XTS)
    ]
    steps += [
        step("generate", "gen_chacha", mech=CKM_CHACHA20_KEY_GEN, template=secret(None, "p11-chacha")),
        *(
            step("generate", name, mech=mech, template=secret(None, f"p11-{name}", VALUE_LEN=["u", size]))
            for name, mech, size in [
                ("gen_xts", CKM_AES_XTS_KEY_GEN, 64),
                ("gen_xts32", CKM_AES_XTS_KEY_GEN, 32),
                ("gen_xts48", CKM_AES_XTS_KEY_GEN, 48),
                ("gen_chacha16", CKM_CHACHA20_KEY_GEN, 16),
                ("aes", CKM_AES_KEY_GEN, 32),
            ]
        ),
        *(
            step("create", name, template=secret(ckk, f"p11-{name}-in", VALUE=["x", value.hex()]))
            for name, ckk, value in [
                ("chacha", CKK_CHACHA20, CHACHA_KEY),
                ("xts", CKK_AES_XTS, XTS_KEY),
                ("chacha_short", CKK_CHACHA20, bytes(16)),
                ("xts_odd", CKK_AES_XTS, bytes(48)),
            ]
        ),
        step("find", "kmip_chacha", **{"class": CKO_SECRET_KEY, "label": "kmip-chacha"}),
        step("find", "kmip_xts", **{"class": CKO_SECRET_KEY, "label": "kmip-xts"}),
    ]
    for key in ("gen_chacha", "gen_xts", "gen_xts32", "chacha", "xts", "kmip_chacha", "kmip_xts"):
        steps += [step("attribute", f"{key}.{what}", key, type=cka) for what, cka in KEY_ATTRIBUTES.items()]
    steps += [step("attribute", f"{key}.value", key, type=CKA.VALUE) for key in ("gen_chacha", "gen_xts")]
    for key in ("chacha", "gen_chacha"):
        steps.append(cipher("encrypt", f"{key}.c20", key, CKM_CHACHA20, chacha20(NONCE12)))
        steps.append(cipher("encrypt", f"{key}.poly", key, CKM_CHACHA20_POLY1305, poly1305(NONCE12)))
    for key in ("xts", "gen_xts"):
        steps.append(cipher("encrypt", f"{key}.seal", key, CKM_AES_XTS, tweak))
    steps += [
        cipher("encrypt", "c20_64", "chacha", CKM_CHACHA20, chacha20(NONCE8, (7).to_bytes(8, "little"))),
        in_parts("encrypt", "c20_parts", "chacha", CKM_CHACHA20, chacha20(NONCE12), DATA, 10),
        cipher("decrypt", "c20_open", "chacha", CKM_CHACHA20, chacha20(NONCE12), stream),
        cipher("encrypt", "c20_no_counter", "chacha", CKM_CHACHA20, chacha20(NONCE12, None, (0, 96))),
        in_parts("encrypt", "poly_parts", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12), DATA, 10),
        cipher("decrypt", "poly_open", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12), sealed),
        in_parts(
            "decrypt", "poly_open_parts", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12), sealed, 20
        ),
        cipher("decrypt", "poly_forged", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12), forged),
        cipher(
            "decrypt", "poly_other_aad", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12, b"other"), sealed
        ),
        cipher("encrypt", "poly_nonce8", "chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE8)),
        cipher("encrypt", "c20_mixed", "chacha", CKM_CHACHA20, chacha20(NONCE8)),
        cipher("encrypt", "c20_95_bits", "chacha", CKM_CHACHA20, chacha20(NONCE12, bits=(32, 95))),
        cipher("encrypt", "c20_raw", "chacha", CKM_CHACHA20, {"raw": NONCE12.hex()}),
        cipher("encrypt", "c20_aes_key", "aes", CKM_CHACHA20, chacha20(NONCE12)),
        in_parts("encrypt", "xts_parts", "xts", CKM_AES_XTS, tweak, DATA, 10),
        cipher("decrypt", "xts_open", "xts", CKM_AES_XTS, tweak, xts),
        cipher("encrypt", "xts_tweak15", "xts", CKM_AES_XTS, {"raw": TWEAK[:15].hex()}),
        cipher("encrypt", "xts_no_tweak", "xts", CKM_AES_XTS, None),
        cipher("encrypt", "xts_short", "xts", CKM_AES_XTS, tweak, DATA[:15]),
        cipher("encrypt", "cbc_with_xts", "xts", CKM_AES_CBC, tweak, DATA[:16]),
        cipher("encrypt", "xts_with_aes", "aes", CKM_AES_XTS, tweak),
        # ChaCha20-Poly1305 messages (PKCS#11 3.0), one part each.
        message("encrypt_message", "msg_seal", DATA),
        message("decrypt_message", "msg_open", sealed[:-16], tag=sealed[-16:].hex()),
        message("decrypt_message", "msg_forged", sealed[:-16], tag=forged[-16:].hex()),
        message("encrypt_message", "msg_begin", DATA, begin=True),
        # What KMIP encrypted, through PKCS#11.
        cipher("decrypt", "kmip.stream", "kmip_chacha", CKM_CHACHA20, chacha20(NONCE12), made["stream"]),
        cipher("decrypt", "kmip.aead", "kmip_chacha", CKM_CHACHA20_POLY1305, poly1305(NONCE12), made["aead"]),
        cipher("decrypt", "kmip.sealed", "kmip_xts", CKM_AES_XTS, tweak, made["sealed"]),
    ]
    return steps


@pytest.fixture(scope="module")
def run(
    native: RunningServer,
    module_path: Path,
    kmip_made: dict[str, bytes],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, str]:
    tool = NativeTool(native, module_path, tmp_path_factory.mktemp("native-ciphers"))
    steps = json.dumps(script(kmip_made))
    done = tools.run([sys.executable, str(HOST), str(module_path), tool.pin, steps], tool.env, timeout=180)
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert done.returncode == 0 and lines.get("done") == "1", done.stdout + done.stderr
    return lines


def rv(run: dict[str, str], step: str) -> int:
    return int(run[f"rv.{step}"], 16)


def out(run: dict[str, str], step: str) -> bytes:
    assert rv(run, step) == CKR.OK, step
    return bytes.fromhex(run[f"out.{step}"])


def ulong(run: dict[str, str], step: str) -> int:
    return int.from_bytes(bytes.fromhex(run[f"out.{step}"]), sys.byteorder)


def chacha_stream(key: bytes, nonce: bytes, counter: bytes = b"\x01\0\0\0") -> bytes:
    return Cipher(algorithms.ChaCha20(key, counter + nonce), None).encryptor().update(DATA)


def test_mechanism_info_is_exact(run: dict[str, str]) -> None:
    """Sizes in bytes (32 for ChaCha20, 32-64 for AES-XTS), the flags of what each does."""
    expected = {
        CKM_CHACHA20_KEY_GEN: (32, 32, CKF_GENERATE),
        CKM_CHACHA20: (32, 32, CKF_ENCRYPT_DECRYPT),
        CKM_CHACHA20_POLY1305: (32, 32, CKF_ENCRYPT_DECRYPT | CKF_MESSAGE_ENCRYPT_DECRYPT),
        CKM_AES_XTS_KEY_GEN: (32, 64, CKF_GENERATE),
        CKM_AES_XTS: (32, 64, CKF_ENCRYPT_DECRYPT),
    }
    for mechanism, (low, high, flags) in expected.items():
        assert run[f"out.info.{mechanism:x}"] == f"{low},{high},{flags:x}"


def test_generated_and_imported_keys_read_back_and_are_what_kmip_expects(
    run: dict[str, str], native: RunningServer
) -> None:
    for key, key_type, length in [
        ("gen_chacha", CKK_CHACHA20, 32),
        ("chacha", CKK_CHACHA20, 32),
        ("kmip_chacha", CKK_CHACHA20, 32),
        ("gen_xts", CKK_AES_XTS, 64),
        ("gen_xts32", CKK_AES_XTS, 32),
        ("xts", CKK_AES_XTS, 64),
        ("kmip_xts", CKK_AES_XTS, 32),  # AES 256 bits named for XTS (the AX profile's key)
    ]:
        assert (ulong(run, f"{key}.type"), ulong(run, f"{key}.len")) == (key_type, length), key
    assert rv(run, "gen_xts48") == CKR.KEY_SIZE_RANGE
    assert rv(run, "gen_chacha16") == CKR.TEMPLATE_INCONSISTENT
    assert rv(run, "chacha_short") == rv(run, "xts_odd") == CKR.ATTRIBUTE_VALUE_INVALID
    with native.client("admin") as kmip:
        attributes, material = seen_by_kmip(kmip, "p11-chacha")
        assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.CHACHA20
        assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
        assert material == bytes.fromhex(run["out.gen_chacha.value"])
        for label, bits in (("p11-gen_xts", 512), ("p11-gen_xts32", 256), ("p11-xts-in", 512)):
            attributes, material = seen_by_kmip(kmip, label)
            assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is CryptographicAlgorithm.AES
            assert (attributes.get(Tag.CRYPTOGRAPHIC_LENGTH), len(material)) == (bits, bits // 8)
            modes_named = [p.block_cipher_mode for p in attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS)]
            assert modes_named == [BlockCipherMode.XTS], label
        mask = U(attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK))
        assert mask & U.ENCRYPT and mask & U.DECRYPT
        _, material = seen_by_kmip(kmip, "p11-gen_xts")
        assert material == bytes.fromhex(run["out.gen_xts.value"])


def test_chacha20_through_pkcs11_is_rfc_8439_chacha20(run: dict[str, str]) -> None:
    generated = bytes.fromhex(run["out.gen_chacha.value"])
    assert out(run, "chacha.c20") == out(run, "c20_parts") == chacha_stream(CHACHA_KEY, NONCE12)
    assert out(run, "gen_chacha.c20") == chacha_stream(generated, NONCE12)
    assert out(run, "c20_no_counter") == chacha_stream(CHACHA_KEY, NONCE12, bytes(4))  # NULL: block 0
    # The original ChaCha20: a 64-bit counter (little-endian, as the cipher's state) and nonce.
    assert out(run, "c20_64") == chacha_stream(CHACHA_KEY, NONCE8, (7).to_bytes(8, "little"))
    assert out(run, "c20_open") == DATA


def test_chacha20_poly1305_through_pkcs11_is_the_aead_with_the_tag_last(run: dict[str, str]) -> None:
    generated = bytes.fromhex(run["out.gen_chacha.value"])
    sealed = ChaCha20Poly1305(CHACHA_KEY).encrypt(NONCE12, DATA, AAD)
    assert out(run, "chacha.poly") == out(run, "poly_parts") == sealed
    assert out(run, "gen_chacha.poly") == ChaCha20Poly1305(generated).encrypt(NONCE12, DATA, AAD)
    assert out(run, "poly_open") == out(run, "poly_open_parts") == DATA
    assert rv(run, "poly_forged") == rv(run, "poly_other_aad") == CKR.ENCRYPTED_DATA_INVALID


def test_aes_xts_through_pkcs11_is_ieee_1619_xts(run: dict[str, str]) -> None:
    generated = bytes.fromhex(run["out.gen_xts.value"])

    def xts(key: bytes) -> bytes:
        return Cipher(algorithms.AES(key), modes.XTS(TWEAK)).encryptor().update(DATA)

    assert out(run, "xts.seal") == out(run, "xts_parts") == xts(XTS_KEY)
    assert out(run, "gen_xts.seal") == xts(generated)
    assert out(run, "xts_open") == DATA
    assert rv(run, "xts_short") == CKR.DATA_LEN_RANGE  # XTS needs a whole block at least


def test_what_kmip_encrypts_decrypts_through_pkcs11(run: dict[str, str], kmip_made: dict[str, bytes]) -> None:
    assert kmip_made["stream"] == chacha_stream(kmip_made["chacha"], NONCE12)
    assert out(run, "kmip.stream") == out(run, "kmip.aead") == out(run, "kmip.sealed") == DATA


def test_bad_parameters_and_keys_have_their_ck_rv(run: dict[str, str]) -> None:
    for step in ("poly_nonce8", "c20_mixed", "c20_95_bits", "c20_raw", "xts_tweak15", "xts_no_tweak"):
        assert rv(run, step) == CKR.MECHANISM_PARAM_INVALID, step
    for step in ("c20_aes_key", "cbc_with_xts", "xts_with_aes"):
        assert rv(run, step) == CKR.KEY_TYPE_INCONSISTENT, step


def test_chacha20_poly1305_messages_are_the_aead_one_part_each(run: dict[str, str]) -> None:
    """C_EncryptMessage writes the tag into the message parameter; a forged tag is
    CKR_AEAD_DECRYPT_FAILED; a message in parts (C_EncryptMessageBegin) is not offered."""
    sealed = ChaCha20Poly1305(CHACHA_KEY).encrypt(NONCE12, DATA, AAD)
    assert out(run, "msg_seal") == sealed
    assert out(run, "msg_open") == DATA
    assert rv(run, "msg_forged") == CKR.AEAD_DECRYPT_FAILED
    assert rv(run, "msg_begin") == CKR.FUNCTION_NOT_SUPPORTED
