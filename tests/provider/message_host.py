"""The PKCS#11 3.0 message-based functions, called through CK_FUNCTION_LIST_3_0 (cffi, ABI).

No common tool drives the message API, so this host does: it loads the library, takes the
"PKCS 11" 3.0 interface from C_GetInterface, logs in on the first slot and runs one script.

Usage: python message_host.py MODULE PIN native|parts AES_LABEL HMAC_LABEL
       python message_host.py MODULE PIN passthrough
Prints key=value lines: CK_RVs in hex (`rv.<step>`), bytes in hex, lengths in decimal.
A process of its own: the library hosts its own interpreter.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from pkcs11_kmip_server.hsm.module import ffi

CKF_SERIAL_RW = 0x4 | 0x2
CKU_USER = 1
CKA_CLASS, CKA_LABEL, CKA_KEY_TYPE, CKA_VALUE, CKA_EC_PARAMS, CKA_EC_POINT = (
    0x0,
    0x3,
    0x100,
    0x11,
    0x180,
    0x181,
)
CKA_TOKEN, CKA_SIGN, CKA_VERIFY = 0x1, 0x108, 0x10A
CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_SECRET_KEY = 2, 3, 4
CKM_EC_KEY_PAIR_GEN, CKM_ECDSA_SHA256, CKM_AES_GCM, CKM_SHA256_HMAC = 0x1040, 0x1044, 0x1087, 0x251
CKG_NO_GENERATE, CKG_GENERATE_RANDOM, CKG_GENERATE_COUNTER = 0, 3, 2
CKM_ECDSA, CKF_END_OF_MESSAGE = 0x1041, 0x1
P256 = bytes.fromhex("06082a8648ce3d030107")


def out(key: str, value: object) -> None:
    if isinstance(value, bytes):
        value = value.hex()
    print(f"{key}={value}", flush=True)


class Host:
    def __init__(self, module: str) -> None:
        self.lib = ffi.dlopen(module)
        interface = ffi.new("CK_INTERFACE_PTR *")
        version = ffi.new("CK_VERSION *", {"major": 3, "minor": 0})
        name = ffi.new("CK_UTF8CHAR[]", b"PKCS 11")
        rv = self.lib.C_GetInterface(name, version, interface, 0)
        assert rv == 0, hex(rv)
        self.f: Any = ffi.cast("CK_FUNCTION_LIST_3_0 *", interface[0].pFunctionList)
        out("interface", f"{self.f.version.major}.{self.f.version.minor}")

    def open(self, pin: str) -> int:
        assert self.f.C_Initialize(ffi.NULL) == 0
        count = ffi.new("CK_ULONG *", 8)
        slots = ffi.new("CK_SLOT_ID[]", 8)
        assert self.f.C_GetSlotList(1, slots, count) == 0 and count[0] > 0
        self.slot = int(slots[0])
        session = ffi.new("CK_SESSION_HANDLE *")
        assert self.f.C_OpenSession(self.slot, CKF_SERIAL_RW, ffi.NULL, ffi.NULL, session) == 0
        assert self.f.C_Login(session[0], CKU_USER, pin.encode(), len(pin)) == 0
        return int(session[0])

    def close(self, session: int) -> None:
        """Log out, close the session, finalize, and say the script ran to its end."""
        assert self.f.C_Logout(session) == 0
        assert self.f.C_CloseSession(session) == 0
        assert self.f.C_Finalize(ffi.NULL) == 0
        out("done", 1)

    def find(self, session: int, cls: int, label: str) -> int:
        template, keep = attributes({CKA_CLASS: ulong(cls), CKA_LABEL: label.encode()})
        assert self.f.C_FindObjectsInit(session, template, 2) == 0, keep
        found, count = ffi.new("CK_OBJECT_HANDLE[]", 2), ffi.new("CK_ULONG *")
        assert self.f.C_FindObjects(session, found, 2, count) == 0 and count[0] == 1, label
        assert self.f.C_FindObjectsFinal(session) == 0
        return int(found[0])

    def value(self, session: int, handle: int, type_: int) -> bytes:
        entry = ffi.new("CK_ATTRIBUTE[]", 1)
        entry[0].type = type_
        assert self.f.C_GetAttributeValue(session, handle, entry, 1) == 0
        buffer = ffi.new("CK_BYTE[]", entry[0].ulValueLen)
        entry[0].pValue = buffer
        assert self.f.C_GetAttributeValue(session, handle, entry, 1) == 0
        return bytes(ffi.buffer(buffer, entry[0].ulValueLen))

    def init(self, step: str, function: str, session: int, mechanism: int, key: int) -> int:
        m = ffi.new("CK_MECHANISM *", {"mechanism": mechanism})
        rv = int(getattr(self.f, function)(session, m, key))
        out(f"rv.{step}", hex(rv))
        return rv


def ulong(value: int) -> bytes:
    return bytes(ffi.buffer(ffi.new("CK_ULONG *", value)))


def attributes(values: dict[int, bytes]) -> tuple[Any, list[Any]]:
    entries, keep = ffi.new("CK_ATTRIBUTE[]", len(values)), []
    for entry, (type_, value) in zip(entries, values.items(), strict=True):
        buffer = ffi.new("CK_BYTE[]", list(value))
        keep.append(buffer)
        entry.type, entry.pValue, entry.ulValueLen = type_, buffer, len(value)
    return entries, keep


def gcm(iv: bytes, generator: int, tag: bytes = bytes(16), fixed_bits: int = 0) -> tuple[Any, list[Any]]:
    """A CK_GCM_MESSAGE_PARAMS with its own IV and tag buffers (returned with the structure)."""
    iv_buffer, tag_buffer = ffi.new("CK_BYTE[]", list(iv)), ffi.new("CK_BYTE[]", list(tag))
    parameter = ffi.new(
        "CK_GCM_MESSAGE_PARAMS *",
        {
            "pIv": iv_buffer,
            "ulIvLen": len(iv),
            "ulIvFixedBits": fixed_bits,
            "ivGenerator": generator,
            "pTag": tag_buffer,
            "ulTagBits": len(tag) * 8,
        },
    )
    return parameter, [iv_buffer, tag_buffer]


def encrypt(
    host: Host, step: str, session: int, parameter: Any, aad: bytes, data: bytes, capacity: int | None
) -> bytes:
    """C_EncryptMessage with a buffer of `capacity` bytes (None: a length query)."""
    size = ffi.new("CK_ULONG *", capacity or 0)
    buffer = ffi.new("CK_BYTE[]", max(capacity or 0, 1)) if capacity is not None else ffi.NULL
    size_of = ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    rv = host.f.C_EncryptMessage(session, parameter, size_of, aad, len(aad), data, len(data), buffer, size)
    out(f"rv.{step}", hex(rv))
    out(f"len.{step}", int(size[0]))
    return bytes(ffi.buffer(buffer, size[0])) if capacity is not None and rv == 0 else b""


def decrypt(host: Host, step: str, session: int, parameter: Any, aad: bytes, data: bytes) -> bytes:
    size = ffi.new("CK_ULONG *", len(data))
    buffer = ffi.new("CK_BYTE[]", max(len(data), 1))
    size_of = ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
    rv = host.f.C_DecryptMessage(session, parameter, size_of, aad, len(aad), data, len(data), buffer, size)
    out(f"rv.{step}", hex(rv))
    return bytes(ffi.buffer(buffer, size[0])) if rv == 0 else b""


def sign(host: Host, step: str, session: int, data: bytes, capacity: int | None) -> bytes:
    size = ffi.new("CK_ULONG *", capacity or 0)
    buffer = ffi.new("CK_BYTE[]", max(capacity or 0, 1)) if capacity is not None else ffi.NULL
    rv = host.f.C_SignMessage(session, ffi.NULL, 0, data, len(data), buffer, size)
    out(f"rv.{step}", hex(rv))
    out(f"len.{step}", int(size[0]))
    return bytes(ffi.buffer(buffer, size[0])) if capacity is not None and rv == 0 else b""


def verify(host: Host, step: str, session: int, data: bytes, signature: bytes) -> None:
    rv = host.f.C_VerifyMessage(session, ffi.NULL, 0, data, len(data), signature, len(signature))
    out(f"rv.{step}", hex(rv))


def ec_pair(host: Host, session: int) -> tuple[int, int]:
    """A P-256 session key pair (public, private); its point printed as ec_point."""
    public, private = ffi.new("CK_OBJECT_HANDLE *"), ffi.new("CK_OBJECT_HANDLE *")
    pub, _keep_pub = attributes({CKA_EC_PARAMS: P256, CKA_VERIFY: b"\x01", CKA_TOKEN: b"\x00"})
    priv, _keep_priv = attributes({CKA_SIGN: b"\x01", CKA_TOKEN: b"\x00"})
    m = ffi.new("CK_MECHANISM *", {"mechanism": CKM_EC_KEY_PAIR_GEN})
    assert host.f.C_GenerateKeyPair(session, m, pub, 3, priv, 2, public, private) == 0
    out("ec_point", host.value(session, public[0], CKA_EC_POINT))
    return int(public[0]), int(private[0])


def native(host: Host, session: int, aes_label: str, hmac_label: str) -> None:
    info = ffi.new("CK_MECHANISM_INFO *")
    for name, mechanism in (("gcm", CKM_AES_GCM), ("hmac", CKM_SHA256_HMAC), ("ecdsa", CKM_ECDSA_SHA256)):
        assert host.f.C_GetMechanismInfo(host.slot, mechanism, info) == 0
        out(f"flags.{name}", hex(info.flags))
    key = host.find(session, CKO_SECRET_KEY, aes_label)
    aad, data = b"header", b"a message of 27 bytes, here"

    parameter, keep = gcm(bytes(12), CKG_GENERATE_RANDOM)
    encrypt(host, "before_init", session, parameter, aad, data, 64)
    host.init("encrypt_init", "C_MessageEncryptInit", session, CKM_AES_GCM, key)
    host.init("encrypt_init_again", "C_MessageEncryptInit", session, CKM_AES_GCM, key)
    encrypt(host, "query", session, parameter, aad, data, None)
    encrypt(host, "small", session, parameter, aad, data, 3)
    out("iv.after_query", bytes(ffi.buffer(keep[0], 12)))
    out("tag.after_query", bytes(ffi.buffer(keep[1], 16)))
    size = ffi.new("CK_ULONG *", 64)
    rv = host.f.C_EncryptMessage(session, parameter, 7, aad, len(aad), data, len(data), ffi.NULL, size)
    out("rv.wrong_size", hex(rv))
    rv = host.f.C_EncryptMessage(
        session, parameter, ffi.sizeof("CK_GCM_MESSAGE_PARAMS"), aad, 6, data, len(data), ffi.NULL, ffi.NULL
    )
    out("rv.no_length", hex(rv))
    ciphertext = encrypt(host, "encrypt", session, parameter, aad, data, 64)
    iv, tag = bytes(ffi.buffer(keep[0], 12)), bytes(ffi.buffer(keep[1], 16))
    out("ciphertext", ciphertext)
    out("iv", iv)
    out("tag", tag)
    fixed, fixed_keep = gcm(bytes.fromhex("a1b2c3d4") + bytes(8), CKG_GENERATE_RANDOM, fixed_bits=32)
    second = encrypt(host, "encrypt_fixed", session, fixed, b"", data, 64)
    out("ciphertext.fixed", second)
    out("iv.fixed", bytes(ffi.buffer(fixed_keep[0], 12)))
    out("tag.fixed", bytes(ffi.buffer(fixed_keep[1], 16)))
    given, given_keep = gcm(bytes(range(12)), CKG_NO_GENERATE)
    out("ciphertext.given", encrypt(host, "encrypt_given", session, given, aad, data, 64))
    out("iv.given", bytes(ffi.buffer(given_keep[0], 12)))
    out("tag.given", bytes(ffi.buffer(given_keep[1], 16)))
    counter, _ = gcm(bytes(12), CKG_GENERATE_COUNTER)
    encrypt(host, "counter", session, counter, aad, data, 64)
    out("rv.encrypt_final", hex(host.f.C_MessageEncryptFinal(session)))
    out("rv.encrypt_final_again", hex(host.f.C_MessageEncryptFinal(session)))
    encrypt(host, "after_final", session, parameter, aad, data, 64)

    host.init("decrypt_init", "C_MessageDecryptInit", session, CKM_AES_GCM, key)
    opened, _ = gcm(iv, CKG_NO_GENERATE, tag)
    out("plaintext", decrypt(host, "decrypt", session, opened, aad, ciphertext))
    tampered, _ = gcm(iv, CKG_NO_GENERATE, bytes([tag[0] ^ 1]) + tag[1:])
    decrypt(host, "tampered", session, tampered, aad, ciphertext)
    decrypt(host, "other_aad", session, opened, b"other", ciphertext)
    out("rv.decrypt_final", hex(host.f.C_MessageDecryptFinal(session)))

    mac_key = host.find(session, CKO_SECRET_KEY, hmac_label)
    host.init("sign_init", "C_MessageSignInit", session, CKM_SHA256_HMAC, mac_key)
    sign(host, "mac_query", session, data, None)
    sign(host, "mac_small", session, data, 4)
    mac = sign(host, "mac", session, data, 64)
    out("mac", mac)
    out("mac.second", sign(host, "mac_second", session, b"another", 64))
    size = ffi.new("CK_ULONG *", 64)
    buffer = ffi.new("CK_BYTE[]", 64)
    parameter_bytes = ffi.new("CK_BYTE[]", 4)
    rv = host.f.C_SignMessage(session, parameter_bytes, 4, data, len(data), buffer, size)
    out("rv.mac_parameter", hex(rv))
    out("rv.sign_final", hex(host.f.C_MessageSignFinal(session)))
    host.init("verify_init", "C_MessageVerifyInit", session, CKM_SHA256_HMAC, mac_key)
    verify(host, "mac_verify", session, data, mac)
    verify(host, "mac_verify_bad", session, data, bytes(32))
    out("rv.verify_final", hex(host.f.C_MessageVerifyFinal(session)))

    public, private = ec_pair(host, session)
    host.init("ecdsa_init", "C_MessageSignInit", session, CKM_ECDSA_SHA256, private)
    sign(host, "ecdsa_query", session, data, None)
    signature = sign(host, "ecdsa", session, data, 64)
    out("ecdsa", signature)
    assert host.f.C_MessageSignFinal(session) == 0
    host.init("ecdsa_verify_init", "C_MessageVerifyInit", session, CKM_ECDSA_SHA256, public)
    verify(host, "ecdsa_verify", session, data, signature)
    verify(host, "ecdsa_verify_bad", session, data + b"!", signature)
    assert host.f.C_MessageVerifyFinal(session) == 0


def message_next(
    function: str,
    host: Host,
    step: str,
    session: int,
    parameter: Any,
    data: bytes,
    capacity: int | None,
    last: bool,
) -> bytes:
    """C_EncryptMessageNext or C_DecryptMessageNext with a buffer of `capacity` bytes (None:
    a length query); `last`: CKF_END_OF_MESSAGE."""
    size = ffi.new("CK_ULONG *", capacity or 0)
    buffer = ffi.new("CK_BYTE[]", max(capacity or 0, 1)) if capacity is not None else ffi.NULL
    size_of, flags = ffi.sizeof("CK_GCM_MESSAGE_PARAMS"), CKF_END_OF_MESSAGE if last else 0
    rv = getattr(host.f, function)(session, parameter, size_of, data, len(data), buffer, size, flags)
    out(f"rv.{step}", hex(rv))
    out(f"len.{step}", int(size[0]))
    return bytes(ffi.buffer(buffer, size[0])) if capacity is not None and rv == 0 else b""


encrypt_next = functools.partial(message_next, "C_EncryptMessageNext")
decrypt_next = functools.partial(message_next, "C_DecryptMessageNext")


def begin(
    host: Host, step: str, function: str, session: int, parameter: Any = None, aad: bytes = b""
) -> None:
    if function in ("C_EncryptMessageBegin", "C_DecryptMessageBegin"):
        size_of = ffi.sizeof("CK_GCM_MESSAGE_PARAMS")
        rv = getattr(host.f, function)(session, parameter, size_of, aad, len(aad))
    else:
        rv = getattr(host.f, function)(session, ffi.NULL, 0)
    out(f"rv.{step}", hex(rv))


def sign_next(host: Host, step: str, session: int, data: bytes, capacity: int | None, last: bool) -> bytes:
    """C_SignMessageNext: a part (no length pointer) or the last (a buffer, or a length query)."""
    size = ffi.new("CK_ULONG *", capacity or 0) if last else ffi.NULL
    buffer = ffi.new("CK_BYTE[]", max(capacity or 0, 1)) if last and capacity is not None else ffi.NULL
    rv = host.f.C_SignMessageNext(session, ffi.NULL, 0, data, len(data), buffer, size)
    out(f"rv.{step}", hex(rv))
    if last:
        out(f"len.{step}", int(size[0]))
    return bytes(ffi.buffer(buffer, size[0])) if last and capacity is not None and rv == 0 else b""


def verify_next(host: Host, step: str, session: int, data: bytes, signature: bytes | None) -> None:
    given = ffi.NULL if signature is None else signature
    length = 0 if signature is None else len(signature)
    rv = host.f.C_VerifyMessageNext(session, ffi.NULL, 0, data, len(data), given, length)
    out(f"rv.{step}", hex(rv))


def parts(host: Host, session: int, aes_label: str, hmac_label: str) -> None:
    """Messages in parts (C_*MessageBegin/Next): AES-GCM both ways, HMAC, ECDSA."""
    info = ffi.new("CK_MECHANISM_INFO *")
    for name, mechanism in (
        ("gcm", CKM_AES_GCM),
        ("hmac", CKM_SHA256_HMAC),
        ("ecdsa_sha256", CKM_ECDSA_SHA256),
    ):
        assert host.f.C_GetMechanismInfo(host.slot, mechanism, info) == 0
        out(f"flags.{name}", hex(info.flags))
    assert host.f.C_GetMechanismInfo(host.slot, CKM_ECDSA, info) == 0
    out("flags.ecdsa", hex(info.flags))
    key = host.find(session, CKO_SECRET_KEY, aes_label)
    aad, first, second = b"header", b"the first part, ", b"and the last one"
    size = ffi.new("CK_ULONG *")
    out("rv.object_size", hex(host.f.C_GetObjectSize(session, key, size)))
    out("object_size", int(size[0]))

    host.init("encrypt_init", "C_MessageEncryptInit", session, CKM_AES_GCM, key)
    parameter, keep = gcm(bytes(12), CKG_GENERATE_RANDOM)
    encrypt_next(host, "next_before_begin", session, parameter, first, 64, False)
    begin(host, "encrypt_begin", "C_EncryptMessageBegin", session, parameter, aad)
    out("iv", bytes(ffi.buffer(keep[0], 12)))
    begin(host, "encrypt_begin_again", "C_EncryptMessageBegin", session, parameter, aad)
    encrypt(host, "single_meanwhile", session, parameter, aad, first, 64)
    encrypt_next(host, "part_query", session, parameter, first, None, False)
    one = encrypt_next(host, "part", session, parameter, first, 64, False)
    out("tag.before_last", bytes(ffi.buffer(keep[1], 16)))
    encrypt_next(host, "last_small", session, parameter, second, 3, True)
    two = encrypt_next(host, "last", session, parameter, second, 64, True)
    iv, tag, ciphertext = bytes(ffi.buffer(keep[0], 12)), bytes(ffi.buffer(keep[1], 16)), one + two
    out("ciphertext", ciphertext)
    out("tag", tag)
    encrypt_next(host, "after_last", session, parameter, second, 64, True)
    given, given_keep = gcm(bytes(range(12)), CKG_NO_GENERATE)
    begin(host, "encrypt_begin_given", "C_EncryptMessageBegin", session, given, aad)
    out("ciphertext.whole", encrypt_next(host, "whole", session, given, first + second, 64, True))
    out("tag.whole", bytes(ffi.buffer(given_keep[1], 16)))
    begin(host, "encrypt_begin_left", "C_EncryptMessageBegin", session, parameter, aad)
    encrypt_next(host, "part_left", session, parameter, first, 64, False)
    out("rv.encrypt_final", hex(host.f.C_MessageEncryptFinal(session)))

    host.init("decrypt_init", "C_MessageDecryptInit", session, CKM_AES_GCM, key)
    opened, _ = gcm(iv, CKG_NO_GENERATE, tag)
    begin(host, "decrypt_begin", "C_DecryptMessageBegin", session, opened, aad)
    decrypt_next(host, "decrypt_part", session, opened, ciphertext[:10], 64, False)
    decrypt_next(host, "decrypt_last_query", session, opened, ciphertext[10:], None, True)
    out("plaintext", decrypt_next(host, "decrypt_last", session, opened, ciphertext[10:], 64, True))
    tampered, _ = gcm(iv, CKG_NO_GENERATE, bytes([tag[0] ^ 1]) + tag[1:])
    begin(host, "tampered_begin", "C_DecryptMessageBegin", session, tampered, aad)
    decrypt_next(host, "tampered_part", session, tampered, ciphertext[:10], 64, False)
    decrypt_next(host, "tampered_last", session, tampered, ciphertext[10:], 64, True)
    decrypt_next(host, "after_failure", session, tampered, ciphertext[10:], 64, True)
    out("rv.decrypt_final", hex(host.f.C_MessageDecryptFinal(session)))

    mac_key = host.find(session, CKO_SECRET_KEY, hmac_label)
    host.init("sign_init", "C_MessageSignInit", session, CKM_SHA256_HMAC, mac_key)
    begin(host, "sign_begin", "C_SignMessageBegin", session)
    sign_next(host, "mac_part", session, first, None, False)
    sign_next(host, "mac_query", session, second, None, True)
    sign_next(host, "mac_small", session, second, 4, True)
    mac = sign_next(host, "mac_last", session, second, 64, True)
    out("mac", mac)
    sign_next(host, "mac_after_last", session, second, 64, True)
    out("rv.sign_final", hex(host.f.C_MessageSignFinal(session)))
    host.init("verify_init", "C_MessageVerifyInit", session, CKM_SHA256_HMAC, mac_key)
    begin(host, "verify_begin", "C_VerifyMessageBegin", session)
    verify_next(host, "verify_part", session, first, None)
    verify_next(host, "verify_last", session, second, mac)
    begin(host, "verify_bad_begin", "C_VerifyMessageBegin", session)
    verify_next(host, "verify_bad_part", session, second, None)
    verify_next(host, "verify_bad_last", session, first, mac)
    out("rv.verify_final", hex(host.f.C_MessageVerifyFinal(session)))

    _, private = ec_pair(host, session)
    host.init("ecdsa_init", "C_MessageSignInit", session, CKM_ECDSA_SHA256, private)
    begin(host, "ecdsa_begin", "C_SignMessageBegin", session)
    sign_next(host, "ecdsa_part", session, first, None, False)
    out("ecdsa", sign_next(host, "ecdsa_last", session, second, 64, True))
    assert host.f.C_MessageSignFinal(session) == 0
    host.init("ecdsa_raw_init", "C_MessageSignInit", session, CKM_ECDSA, private)
    begin(host, "ecdsa_raw_begin", "C_SignMessageBegin", session)
    assert host.f.C_MessageSignFinal(session) == 0


def passthrough(host: Host, session: int) -> None:
    """A module without the 3.0 interface (SoftHSM2 2.6): every message function is
    CKR_FUNCTION_NOT_SUPPORTED, as the module loaded directly would answer."""
    host.init("encrypt_init", "C_MessageEncryptInit", session, CKM_AES_GCM, 1)
    parameter, _ = gcm(bytes(12), CKG_GENERATE_RANDOM)
    encrypt(host, "encrypt", session, parameter, b"", b"data", 64)
    decrypt(host, "decrypt", session, parameter, b"", b"data")
    out("rv.encrypt_final", hex(host.f.C_MessageEncryptFinal(session)))
    host.init("sign_init", "C_MessageSignInit", session, CKM_SHA256_HMAC, 1)
    sign(host, "sign", session, b"data", 64)
    out("rv.session_cancel", hex(host.f.C_SessionCancel(session, 0x2)))


def main() -> int:
    module, pin, mode = sys.argv[1:4]
    host = Host(module)
    session = host.open(pin)
    if mode == "native":
        native(host, session, *sys.argv[4:6])
    elif mode == "parts":
        parts(host, session, *sys.argv[4:6])
    else:
        passthrough(host, session)
    host.close(session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
