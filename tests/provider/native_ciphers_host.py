"""Runs a script of Cryptoki calls the test gives as JSON, through CK_FUNCTION_LIST_3_0 (cffi,
ABI): key generation and import, C_GetAttributeValue, C_GetMechanismInfo, C_Encrypt/C_Decrypt
with mechanism parameter structures (CK_CHACHA20_PARAMS ...), single or multi-part, and
ChaCha20-Poly1305 messages (C_EncryptMessage/C_DecryptMessage).
python-pkcs11 and PyKCS11 name neither ChaCha20 nor AES-XTS parameters, so this host does.

Usage: python native_ciphers_host.py MODULE PIN SCRIPT_JSON
Each step: {"op": ..., "name": ...}; templates map a CKA_* to ["u", n] (a CK_ULONG), ["b", 0|1]
or ["x", hex]; a mechanism parameter is {"raw": hex} or {"struct": NAME, "fields": {...}}
(byte pointers as hex, None for NULL). Prints `rv.NAME=0x..` and `out.NAME=hex` lines.
A process of its own: the library hosts its own interpreter.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from message_host import Host, attributes, out, ulong

from pkcs11_kmip_server.hsm.module import ffi

Step = dict[str, Any]


def template(values: dict[str, list[Any]]) -> tuple[Any, list[Any], int]:
    encoded = {}
    for type_, (kind, value) in values.items():
        if kind == "u":
            encoded[int(type_)] = ulong(value)
        elif kind == "b":
            encoded[int(type_)] = bytes([value])
        else:
            encoded[int(type_)] = bytes.fromhex(value)
    entries, keep = attributes(encoded)
    return entries, keep, len(encoded)


def mechanism(step: Step, keep: list[Any]) -> Any:
    m = ffi.new("CK_MECHANISM *", {"mechanism": step["mech"]})
    keep.append(m)
    parameter = step.get("param")
    if parameter is None:
        return m
    if "raw" in parameter:
        raw = ffi.new("CK_BYTE[]", bytes.fromhex(parameter["raw"]) or b"\0")
        keep.append(raw)
        m.pParameter, m.ulParameterLen = raw, len(bytes.fromhex(parameter["raw"]))
        return m
    struct = ffi.new(f"{parameter['struct']} *")
    keep.append(struct)
    for field, value in parameter["fields"].items():
        if isinstance(value, str):
            buffer = ffi.new("CK_BYTE[]", bytes.fromhex(value) or b"\0")
            keep.append(buffer)
            setattr(struct, field, buffer)
        elif value is None:
            setattr(struct, field, ffi.NULL)
        else:
            setattr(struct, field, value)
    m.pParameter, m.ulParameterLen = struct, ffi.sizeof(parameter["struct"])
    return m


def crypt(host: Host, session: int, step: Step, handles: dict[str, int]) -> None:
    """C_EncryptInit/C_Encrypt (or Update.../Final with "parts"), or the Decrypt ones."""
    kind = "Encrypt" if step["op"] == "encrypt" else "Decrypt"
    keep: list[Any] = []
    rv = getattr(host.f, f"C_{kind}Init")(session, mechanism(step, keep), handles[step["key"]])
    if rv != 0:
        out(f"rv.{step['name']}", hex(rv))
        return
    size = ffi.new("CK_ULONG *")
    buffer = ffi.new("CK_BYTE[]", 4096)
    if "parts" not in step:
        data = bytes.fromhex(step["data"])
        size[0] = 4096
        rv = getattr(host.f, f"C_{kind}")(session, data, len(data), buffer, size)
        out(f"rv.{step['name']}", hex(rv))
        if rv == 0:
            out(f"out.{step['name']}", bytes(ffi.buffer(buffer, size[0])))
        return
    whole = b""
    for part in step["parts"]:
        data = bytes.fromhex(part)
        size[0] = 4096
        rv = getattr(host.f, f"C_{kind}Update")(session, data, len(data), buffer, size)
        if rv != 0:
            out(f"rv.{step['name']}", hex(rv))
            return
        whole += bytes(ffi.buffer(buffer, size[0]))
    size[0] = 4096
    rv = getattr(host.f, f"C_{kind}Final")(session, buffer, size)
    out(f"rv.{step['name']}", hex(rv))
    if rv == 0:
        out(f"out.{step['name']}", whole + bytes(ffi.buffer(buffer, size[0])))


def message(host: Host, session: int, step: Step, handles: dict[str, int]) -> None:
    """C_Message*Init, one C_EncryptMessage (its output and the tag written into the
    CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS) or C_DecryptMessage (with the step's tag), or
    with "begin" C_*MessageBegin; then C_Message*Final."""
    kind = "Encrypt" if step["op"] == "encrypt_message" else "Decrypt"
    m = ffi.new("CK_MECHANISM *", {"mechanism": step["mech"]})
    assert getattr(host.f, f"C_Message{kind}Init")(session, m, handles[step["key"]]) == 0
    nonce, tag = bytes.fromhex(step["nonce"]), bytes.fromhex(step.get("tag", "00" * 16))
    nonce_buffer, tag_buffer = ffi.new("CK_BYTE[]", nonce), ffi.new("CK_BYTE[]", tag)
    layout = "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS"
    parameter = ffi.new(f"{layout} *", {"pNonce": nonce_buffer, "ulNonceLen": len(nonce), "pTag": tag_buffer})
    aad, data = bytes.fromhex(step["aad"]), bytes.fromhex(step["data"])
    if step.get("begin"):
        rv = getattr(host.f, f"C_{kind}MessageBegin")(session, parameter, ffi.sizeof(layout), aad, len(aad))
    else:
        size, buffer = ffi.new("CK_ULONG *", 4096), ffi.new("CK_BYTE[]", 4096)
        function = getattr(host.f, f"C_{kind}Message")
        rv = function(session, parameter, ffi.sizeof(layout), aad, len(aad), data, len(data), buffer, size)
        written = bytes(ffi.buffer(buffer, size[0])) + (
            bytes(ffi.buffer(tag_buffer, 16)) if kind == "Encrypt" else b""
        )
        if rv == 0:
            out(f"out.{step['name']}", written)
    out(f"rv.{step['name']}", hex(rv))
    assert getattr(host.f, f"C_Message{kind}Final")(session) == 0


def run(host: Host, session: int, steps: list[Step]) -> None:
    handles: dict[str, int] = {}
    for step in steps:
        op, name = step["op"], step["name"]
        if op in ("generate", "create"):
            entries, keep, count = template(step["template"])
            handle = ffi.new("CK_OBJECT_HANDLE *")
            if op == "generate":
                rv = host.f.C_GenerateKey(session, mechanism(step, keep), entries, count, handle)
            else:
                rv = host.f.C_CreateObject(session, entries, count, handle)
            out(f"rv.{name}", hex(rv))
            handles[name] = int(handle[0])
        elif op == "find":
            handles[name] = host.find(session, step["class"], step["label"])
        elif op == "attribute":
            out(f"out.{name}", host.value(session, handles[step["key"]], step["type"]))
        elif op == "info":
            info = ffi.new("CK_MECHANISM_INFO *")
            rv = host.f.C_GetMechanismInfo(host.slot, step["mech"], info)
            out(f"rv.{name}", hex(rv))
            out(f"out.{name}", f"{info.ulMinKeySize},{info.ulMaxKeySize},{info.flags:x}")
        elif op.endswith("_message"):
            message(host, session, step, handles)
        else:
            crypt(host, session, step, handles)


def main() -> int:
    module, pin, script = sys.argv[1:4]
    host = Host(module)
    session = host.open(pin)
    run(host, session, json.loads(script))
    host.close(session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
