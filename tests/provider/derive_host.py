"""HKDF, PBKDF2, AES encrypt-data, hash and SP 800-108 counter key derivations on the native
token through the library (cffi, ABI), as a C application calls them: CK_HKDF_PARAMS,
CK_PKCS5_PBKD2_PARAMS2, CK_AES_CBC_ENCRYPT_DATA_PARAMS, CK_KEY_DERIVATION_STRING_DATA and
CK_SP800_108_KDF_PARAMS (its array of CK_PRF_DATA_PARAM) in C memory. No common tool drives
these mechanisms, so this host does.

Usage: python derive_host.py MODULE PIN
Prints key=value lines: CK_RVs in hex (`rv.<step>`), bytes in hex. The keys are made
extractable so that the test can compare their values with pyca's. A process of its own:
the library hosts its own interpreter.
"""

from __future__ import annotations

import sys
from typing import Any

from message_host import Host, attributes, out, ulong

from pkcs11_kmip_server.hsm.module import ffi

CKA_CLASS, CKA_TOKEN, CKA_LABEL, CKA_VALUE, CKA_KEY_TYPE, CKA_VALUE_LEN = 0x0, 0x1, 0x3, 0x11, 0x100, 0x161
CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_DERIVE, CKA_ENCRYPT = 0x103, 0x162, 0x10C, 0x104
CKO_SECRET_KEY, CKK_GENERIC_SECRET, CKK_AES = 4, 0x10, 0x1F
CKM_GENERIC_SECRET_KEY_GEN, CKM_HKDF_DERIVE, CKM_PKCS5_PBKD2 = 0x350, 0x402A, 0x3B0
CKM_SHA256, CKM_SHA384 = 0x250, 0x260
CKM_AES_KEY_GEN, CKM_AES_ECB_ENCRYPT_DATA, CKM_AES_CBC_ENCRYPT_DATA = 0x1080, 0x1104, 0x1105
CKM_SHA256_KEY_DERIVATION = 0x393
CKM_SP800_108_COUNTER_KDF, CKM_SP800_108_FEEDBACK_KDF, CKM_SHA256_HMAC = 0x3AC, 0x3AD, 0x251
CK_SP800_108_ITERATION_VARIABLE, CK_SP800_108_OPTIONAL_COUNTER = 1, 2
CK_SP800_108_DKM_LENGTH, CK_SP800_108_BYTE_ARRAY = 3, 4
CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS = 1
CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY = 1, 2, 4
CKZ_SALT_SPECIFIED, CKP_PKCS5_PBKD2_HMAC_SHA256 = 1, 4
TRUE, FALSE = b"\x01", b"\x00"
READABLE = {CKA_SENSITIVE: FALSE, CKA_EXTRACTABLE: TRUE, CKA_TOKEN: TRUE}


def mechanism(type_: int, parameter: Any, ctype: str) -> Any:
    return ffi.new(
        "CK_MECHANISM *", {"mechanism": type_, "pParameter": parameter, "ulParameterLen": ffi.sizeof(ctype)}
    )


def buffer(data: bytes | None, keep: list[Any]) -> Any:
    if data is None:
        return ffi.NULL
    made = ffi.new("CK_BYTE[]", list(data))
    keep.append(made)
    return made


def hkdf(prf: int, salt_type: int, salt: bytes | None, info: bytes | None, keep: list[Any]) -> Any:
    parameter = ffi.new(
        "CK_HKDF_PARAMS *",
        {
            "bExtract": 1,
            "bExpand": 1,
            "prfHashMechanism": prf,
            "ulSaltType": salt_type,
            "pSalt": buffer(salt, keep),
            "ulSaltLen": len(salt or b""),
            "hSaltKey": 0,
            "pInfo": buffer(info, keep),
            "ulInfoLen": len(info or b""),
        },
    )
    keep.append(parameter)
    return mechanism(CKM_HKDF_DERIVE, parameter, "CK_HKDF_PARAMS")


def made(host: Host, step: str, function: str, session: int, m: Any, *args: Any) -> int:
    """C_GenerateKey or C_DeriveKey: the new handle (0 if it failed), its CK_RV printed."""
    handle = ffi.new("CK_OBJECT_HANDLE *")
    *between, values = args
    template, keep = attributes(values)
    rv = int(getattr(host.f, function)(session, m, *between, template, len(values), handle))
    out(f"rv.{step}", hex(rv))
    del keep
    return int(handle[0]) if rv == 0 else 0


def mechanism_info(host: Host, type_: int) -> str:
    info = ffi.new("CK_MECHANISM_INFO *")
    assert host.f.C_GetMechanismInfo(host.slot, type_, info) == 0
    return f"{info.ulMinKeySize},{info.ulMaxKeySize},{info.flags:x}"


def base_key(host: Host, session: int, step: str, generation: int, template: dict[int, bytes]) -> int:
    """A readable 32-byte key that may derive, made by `generation`; its value printed as `step`."""
    generate = ffi.new("CK_MECHANISM *", {"mechanism": generation})
    base = made(
        host,
        step,
        "C_GenerateKey",
        session,
        generate,
        {CKA_VALUE_LEN: ulong(32), CKA_DERIVE: TRUE, **template, **READABLE},
    )
    out(step, host.value(session, base, CKA_VALUE))
    return base


def encrypt_data(host: Host, session: int, keep: list[Any]) -> None:
    """An AES-256 base key; CKM_AES_CBC_ENCRYPT_DATA into an AES-128 key, and
    CKM_AES_ECB_ENCRYPT_DATA of data that is not whole blocks."""
    out("info.aes_ecb_encrypt_data", mechanism_info(host, CKM_AES_ECB_ENCRYPT_DATA))
    out("info.aes_cbc_encrypt_data", mechanism_info(host, CKM_AES_CBC_ENCRYPT_DATA))
    out("info.sha256_key", mechanism_info(host, CKM_SHA256_KEY_DERIVATION))
    base = base_key(host, session, "aes_base", CKM_AES_KEY_GEN, {})
    data = bytes(range(32))
    cbc = ffi.new(
        "CK_AES_CBC_ENCRYPT_DATA_PARAMS *",
        {"iv": list(range(0xA0, 0xB0)), "pData": buffer(data, keep), "length": len(data)},
    )
    keep.append(cbc)
    derived = made(
        host,
        "aes_cbc_encrypt_data",
        "C_DeriveKey",
        session,
        mechanism(CKM_AES_CBC_ENCRYPT_DATA, cbc, "CK_AES_CBC_ENCRYPT_DATA_PARAMS"),
        base,
        {CKA_KEY_TYPE: ulong(CKK_AES), CKA_VALUE_LEN: ulong(16), CKA_LABEL: b"from-cbc", **READABLE},
    )
    out("aes_cbc_encrypt_data", host.value(session, derived, CKA_VALUE))
    ragged = ffi.new("CK_KEY_DERIVATION_STRING_DATA *", {"pData": buffer(data[:20], keep), "ulLen": 20})
    keep.append(ragged)
    made(
        host,
        "aes_ecb_ragged",
        "C_DeriveKey",
        session,
        mechanism(CKM_AES_ECB_ENCRYPT_DATA, ragged, "CK_KEY_DERIVATION_STRING_DATA"),
        base,
        {CKA_VALUE_LEN: ulong(16), **READABLE},
    )


def prf_data(type_: int, ctype: str | None, value: Any, keep: list[Any]) -> dict[str, Any]:
    """One CK_PRF_DATA_PARAM: a structure of `ctype` (made from `value`) or bytes."""
    if ctype is None:
        return {"type": type_, "pValue": buffer(value, keep), "ulValueLen": len(value)}
    pointed = ffi.new(f"{ctype} *", value)
    keep.append(pointed)
    return {"type": type_, "pValue": pointed, "ulValueLen": ffi.sizeof(ctype)}


def sp800_108_counter(host: Host, session: int, base: int, keep: list[Any]) -> None:
    """CKM_SP800_108_COUNTER_KDF with HMAC-SHA-256: the 32-bit big-endian counter, then
    label || 00 || context and the key's length in 32 bits (SUM_OF_KEYS), into an AES-256
    key; then the same asking for an additional derived key (refused)."""
    out("info.sp800_108_counter", mechanism_info(host, CKM_SP800_108_COUNTER_KDF))
    params = ffi.new(
        "CK_PRF_DATA_PARAM[]",
        [
            prf_data(
                CK_SP800_108_ITERATION_VARIABLE,
                "CK_SP800_108_COUNTER_FORMAT",
                {"bLittleEndian": 0, "ulWidthInBits": 32},
                keep,
            ),
            prf_data(CK_SP800_108_BYTE_ARRAY, None, b"label\x00context", keep),
            prf_data(
                CK_SP800_108_DKM_LENGTH,
                "CK_SP800_108_DKM_LENGTH_FORMAT",
                {
                    "dkmLengthMethod": CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                    "bLittleEndian": 0,
                    "ulWidthInBits": 32,
                },
                keep,
            ),
        ],
    )
    parameter = ffi.new(
        "CK_SP800_108_KDF_PARAMS *",
        {"prfType": CKM_SHA256_HMAC, "ulNumberOfDataParams": 3, "pDataParams": params},
    )
    keep += [params, parameter]
    kdf = mechanism(CKM_SP800_108_COUNTER_KDF, parameter, "CK_SP800_108_KDF_PARAMS")
    template = {CKA_KEY_TYPE: ulong(CKK_AES), CKA_VALUE_LEN: ulong(32), CKA_LABEL: b"kbkdf-aes", **READABLE}
    derived = made(host, "sp800_108_counter", "C_DeriveKey", session, kdf, base, template)
    out("sp800_108_counter", host.value(session, derived, CKA_VALUE))
    extra = ffi.new("CK_DERIVED_KEY[]", 1)
    keep.append(extra)
    parameter.ulAdditionalDerivedKeys, parameter.pAdditionalDerivedKeys = 1, extra
    made(
        host,
        "sp800_108_additional",
        "C_DeriveKey",
        session,
        kdf,
        base,
        {CKA_VALUE_LEN: ulong(16), **READABLE},
    )


def sp800_108_feedback(host: Host, session: int, base: int, keep: list[Any]) -> None:
    """CKM_SP800_108_FEEDBACK_KDF with HMAC-SHA-256 from C memory: the iteration variable
    (K(i-1), pValue NULL), the 32-bit big-endian counter, then "fixed"; pIV 32 bytes of 0x01
    as K(0); into a 48-byte generic secret (two PRF blocks, so the feedback shows)."""
    out("info.sp800_108_feedback", mechanism_info(host, CKM_SP800_108_FEEDBACK_KDF))
    params = ffi.new(
        "CK_PRF_DATA_PARAM[]",
        [
            {"type": CK_SP800_108_ITERATION_VARIABLE, "pValue": ffi.NULL, "ulValueLen": 0},
            prf_data(
                CK_SP800_108_OPTIONAL_COUNTER,
                "CK_SP800_108_COUNTER_FORMAT",
                {"bLittleEndian": 0, "ulWidthInBits": 32},
                keep,
            ),
            prf_data(CK_SP800_108_BYTE_ARRAY, None, b"fixed", keep),
        ],
    )
    parameter = ffi.new(
        "CK_SP800_108_FEEDBACK_KDF_PARAMS *",
        {
            "prfType": CKM_SHA256_HMAC,
            "ulNumberOfDataParams": 3,
            "pDataParams": params,
            "ulIVLen": 32,
            "pIV": buffer(b"\x01" * 32, keep),
        },
    )
    keep += [params, parameter]
    kdf = mechanism(CKM_SP800_108_FEEDBACK_KDF, parameter, "CK_SP800_108_FEEDBACK_KDF_PARAMS")
    derived = made(
        host, "sp800_108_feedback", "C_DeriveKey", session, kdf, base, {CKA_VALUE_LEN: ulong(48), **READABLE}
    )
    out("sp800_108_feedback", host.value(session, derived, CKA_VALUE))


def main() -> int:
    module, pin = sys.argv[1:3]
    host = Host(module)
    session = host.open(pin)
    out("info.hkdf", mechanism_info(host, CKM_HKDF_DERIVE))
    out("info.pbkdf2", mechanism_info(host, CKM_PKCS5_PBKD2))
    base = base_key(host, session, "ikm", CKM_GENERIC_SECRET_KEY_GEN, {CKA_LABEL: b"hkdf-ikm"})
    keep: list[Any] = []
    # HKDF-SHA-256 with salt and info into a generic secret of 42 bytes.
    generic = made(
        host,
        "hkdf_generic",
        "C_DeriveKey",
        session,
        hkdf(CKM_SHA256, CKF_HKDF_SALT_DATA, b"salt", b"info", keep),
        base,
        {CKA_CLASS: ulong(CKO_SECRET_KEY), CKA_VALUE_LEN: ulong(42), **READABLE},
    )
    out("hkdf_generic", host.value(session, generic, CKA_VALUE))
    out("hkdf_generic_type", int.from_bytes(host.value(session, generic, CKA_KEY_TYPE), sys.byteorder))
    # HKDF-SHA-384 without salt into an AES-256 key KMIP then finds by its label.
    aes = made(
        host,
        "hkdf_aes",
        "C_DeriveKey",
        session,
        hkdf(CKM_SHA384, CKF_HKDF_SALT_NULL, None, b"aes key", keep),
        base,
        {
            CKA_KEY_TYPE: ulong(CKK_AES),
            CKA_VALUE_LEN: ulong(32),
            CKA_ENCRYPT: TRUE,
            CKA_LABEL: b"hkdf-aes",
            **READABLE,
        },
    )
    out("hkdf_aes", host.value(session, aes, CKA_VALUE))
    # A salt key: KMIP takes the salt as bytes.
    made(
        host,
        "hkdf_salt_key",
        "C_DeriveKey",
        session,
        hkdf(CKM_SHA256, CKF_HKDF_SALT_KEY, None, None, keep),
        base,
        {CKA_VALUE_LEN: ulong(16), **READABLE},
    )
    # PBKDF2-HMAC-SHA-256 from a password into an AES-256 key.
    salt, password = buffer(b"pepper and salt", keep), buffer(b"correct horse", keep)
    parameter = ffi.new(
        "CK_PKCS5_PBKD2_PARAMS2 *",
        {
            "saltSource": CKZ_SALT_SPECIFIED,
            "pSaltSourceData": salt,
            "ulSaltSourceDataLen": len(b"pepper and salt"),
            "iterations": 2000,
            "prf": CKP_PKCS5_PBKD2_HMAC_SHA256,
            "pPrfData": ffi.NULL,
            "ulPrfDataLen": 0,
            "pPassword": ffi.cast("CK_UTF8CHAR *", password),
            "ulPasswordLen": len(b"correct horse"),
        },
    )
    from_password = made(
        host,
        "pbkdf2",
        "C_GenerateKey",
        session,
        mechanism(CKM_PKCS5_PBKD2, parameter, "CK_PKCS5_PBKD2_PARAMS2"),
        {CKA_KEY_TYPE: ulong(CKK_AES), CKA_VALUE_LEN: ulong(32), CKA_LABEL: b"from-password", **READABLE},
    )
    out("pbkdf2", host.value(session, from_password, CKA_VALUE))
    parameter.iterations = 0
    made(
        host,
        "pbkdf2_no_iterations",
        "C_GenerateKey",
        session,
        mechanism(CKM_PKCS5_PBKD2, parameter, "CK_PKCS5_PBKD2_PARAMS2"),
        {CKA_VALUE_LEN: ulong(16), **READABLE},
    )
    encrypt_data(host, session, keep)
    sp800_108_counter(host, session, base, keep)
    sp800_108_feedback(host, session, base, keep)
    # SHA-256 of the generic secret, no template length: a generic secret of 32 bytes.
    hashed = made(
        host,
        "sha256_key",
        "C_DeriveKey",
        session,
        ffi.new("CK_MECHANISM *", {"mechanism": CKM_SHA256_KEY_DERIVATION}),
        base,
        READABLE,
    )
    out("sha256_key", host.value(session, hashed, CKA_VALUE))
    assert host.f.C_Logout(session) == 0
    assert host.f.C_CloseSession(session) == 0
    assert host.f.C_Finalize(ffi.NULL) == 0
    out("done", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
