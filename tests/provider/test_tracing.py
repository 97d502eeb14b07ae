"""Tracing (`trace = ...` in the client configuration, or PKCS11_KMIP_TRACE=FILE): every
call is in the trace with its arguments, CK_RV and duration, and no secret is.

python-pkcs11 (tests/provider/python_pkcs11_host.py: AES-GCM/CBC, RSA-OAEP/PSS, ECDSA,
Ed25519, wrapping, ECDH, digests, reading an extractable key's CKA_VALUE) runs through
the library with a token whose PIN is distinctive; the trace must hold the calls but
neither the PIN nor the host's known plaintext, in any spelling.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

import pytest

from pkcs11_kmip.cryptoki import config, tracing
from pkcs11_kmip.cryptoki.calls import BY_NAME
from pkcs11_kmip.cryptoki.constants import CKA, CKM, CKR
from pkcs11_kmip.cryptoki.wire import Attribute, AttributeQuery, Mechanism, OutData, OutRequest
from testsupport.softhsm import Token, init_token
from testsupport.tools import run

HOST = Path(__file__).with_name("python_pkcs11_host.py")
PIN = "Trace-PIN-5x8q"
PLAINTEXT = b"python-pkcs11 through KMIP " * 7  # the host's DATA
KEY_VALUE = bytes(range(0xA0, 0xC0))
LINE = re.compile(
    r"^pkcs11-kmip\[\d+\] trace \d\d:\d\d:\d\d\.\d{6} tid \d+: (C_\w+)\(.*\) -> (CKR_\w+).* ms$"
)


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Token:
    """The token behind the module's server (conftest's hsm_server): a PIN found nowhere else."""
    return init_token(tmp_path_factory.mktemp("softhsm"), pin=PIN)


def spellings(secret: bytes) -> list[bytes]:
    """The ways a careless log would write `secret`."""
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        repr(secret).encode(),
    ]


def test_a_traced_line_shows_numbers_and_lengths_never_bytes() -> None:
    login = tracing.line(
        BY_NAME["C_Login"].id,
        {"hSession": 3, "userType": 1, "pPin": PIN.encode()},
        None,
        CKR.PIN_INCORRECT,
        0.002,
    )
    assert login.endswith("C_Login(hSession=3, userType=1, pPin=<14 bytes>) -> CKR_PIN_INCORRECT 2.000 ms")
    template = (
        Attribute.of(CKA.CLASS, (4).to_bytes(8, sys.byteorder)),
        Attribute.of(CKA.LABEL, b"my key"),
        Attribute.of(CKA.TOKEN, b"\x01"),
        Attribute.of(CKA.VALUE, KEY_VALUE),
        Attribute.of(0x123, KEY_VALUE),  # CKA_PRIVATE_EXPONENT
    )
    created = tracing.line(
        BY_NAME["C_CreateObject"].id, {"hSession": 3, "pTemplate": template}, None, CKR.OK, 0
    )
    assert (
        "CKA_CLASS=4, CKA_LABEL='my key', CKA_TOKEN=1, CKA_VALUE=<32 bytes>, CKA_0x123=<32 bytes>" in created
    )
    read = tracing.line(
        BY_NAME["C_GetAttributeValue"].id,
        {"hSession": 3, "hObject": 9, "pTemplate": (AttributeQuery(CKA.VALUE, True, 64),)},
        {"pTemplate": (Attribute(CKA.VALUE, KEY_VALUE, 32),)},
        CKR.OK,
        0,
    )
    assert "pTemplate=[CKA_VALUE?<buffer 64>]) -> CKR_OK {pTemplate=[CKA_VALUE=<32 bytes>]}" in read
    sealed = tracing.line(
        BY_NAME["C_Encrypt"].id,
        {"hSession": 3, "pData": PLAINTEXT, "pEncryptedData": OutRequest(True, 300)},
        {"pEncryptedData": OutData(len(PLAINTEXT) + 16, KEY_VALUE)},
        CKR.OK,
        0,
    )
    assert f"pData=<{len(PLAINTEXT)} bytes>, pEncryptedData=<buffer 300>)" in sealed
    assert "{pEncryptedData=<32 bytes>}" in sealed
    init = tracing.line(
        BY_NAME["C_EncryptInit"].id,
        {
            "hSession": 3,
            "pMechanism": Mechanism(CKM.AES_GCM, {"pIv": KEY_VALUE[:12], "ulTagBits": 128}),
            "hKey": 9,
        },
        None,
        CKR.OK,
        0,
    )
    assert "pMechanism=CKM_AES_GCM({pIv=<12 bytes>, ulTagBits=128})" in init
    for text in (login, created, read, sealed, init):
        for secret in (PIN.encode(), KEY_VALUE, PLAINTEXT):
            assert not any(spelled.decode(errors="replace") in text for spelled in spellings(secret))


def test_the_configuration_turns_tracing_on(tmp_path: Path) -> None:
    path = tmp_path / "pkcs11-kmip.toml"
    server = '[server]\naddress = "h:1"\nca = "ca"\ncertificate = "c"\nkey = "k"\n'
    path.write_text(server)
    assert config.load(path).trace is False
    path.write_text("trace = true\n" + server)
    assert config.load(path).trace is True
    path.write_text('trace = "logs/trace.log"\n' + server)
    assert config.load(path).trace == tmp_path / "logs/trace.log"
    for wrong, says in [
        ("trace = 1\n" + server, "trace must be"),
        (server + "trace = true\n", "before \\[server\\]"),
    ]:
        path.write_text(wrong)
        with pytest.raises(config.ConfigError, match=says):
            config.load(path)


@pytest.mark.parametrize("turned_on", ["configuration", "configuration-stderr", "environment"])
def test_a_host_traced_leaves_no_secret_in_the_trace(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path: Path, turned_on: str
) -> None:
    trace = tmp_path / "trace.log"
    env = dict(ours)
    if turned_on.startswith("configuration"):
        config_path = tmp_path / "pkcs11-kmip.toml"
        setting = "true" if turned_on.endswith("stderr") else '"trace.log"'
        config_path.write_text(f"trace = {setting}\n" + Path(ours["PKCS11_KMIP_CONFIG"]).read_text())
        env["PKCS11_KMIP_CONFIG"] = str(config_path)
    else:
        env["PKCS11_KMIP_TRACE"] = str(trace)
    done = run([sys.executable, str(HOST), str(module_path), token.label, token.pin], env)
    assert done.returncode == 0, done.stderr
    if turned_on.endswith("stderr"):
        lines = [line for line in done.stderr.splitlines() if "] trace " in line]
        written = "\n".join(lines).encode()
    else:
        written = trace.read_bytes()
        lines = written.decode().splitlines()
    calls = [LINE.match(line) for line in lines]
    assert all(calls), [line for line, call in zip(lines, calls, strict=True) if not call][:3]
    called = {call.group(1) for call in calls if call}
    assert {
        "C_Initialize",
        "C_Login",
        "C_GenerateKey",
        "C_Encrypt",
        "C_Decrypt",
        "C_Sign",
        "C_Verify",
    } <= called
    assert {"C_WrapKey", "C_DeriveKey", "C_Digest", "C_GenerateRandom", "C_GetAttributeValue"} <= called
    assert f"C_Login(hSession=1, userType=1, pPin=<{len(PIN)} bytes>) -> CKR_OK" in written.decode()
    assert f"pData=<{len(PLAINTEXT)} bytes>" in written.decode()
    assert "{pTemplate=[CKA_VALUE=<32 bytes>]}" in written.decode()  # the AES key, read back
    for secret in (PIN.encode(), PLAINTEXT):
        for spelled in spellings(secret):
            assert spelled not in written
    print(f"{len(lines)} calls traced")
