"""The whole path: pkcs11-tool loads our library, which forwards every call over KMIP
(TLS) to our server, which runs it on a SoftHSM2 token; compared with pkcs11-tool on
the same token directly.

The only expected difference is the library's own description (-I): the rest of what
pkcs11-tool prints must be the same, byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.softhsm import SOFTHSM_MODULE, Token, start_pkcs11_server, write_client_config
from testsupport.tools import pkcs11_tool as tool
from testsupport.tools import sorted_blocks

TIMEOUT = 90


def both(module_path: Path, ours: dict[str, str], token: Token, *args: str) -> tuple[str, str]:
    """pkcs11-tool's standard output through our library, and on SoftHSM2 directly."""
    forwarded = tool(module_path, ours, *args)
    direct = tool(SOFTHSM_MODULE, token.env, *args)
    assert forwarded.returncode == direct.returncode, forwarded.stderr
    # The same notes and Cryptoki failures (pkcs11-tool -O warns of each sensitive CKA_VALUE).
    assert sorted(forwarded.stderr.splitlines()) == sorted(direct.stderr.splitlines())
    return forwarded.stdout, direct.stdout


def objects(listing: str) -> list[str]:
    """pkcs11-tool -O's objects, sorted."""
    return sorted_blocks(listing, lambda line: "Object;" in line and not line.startswith(" "))


def test_slots_tokens_and_mechanisms_are_softhsms(
    module_path: Path, ours: dict[str, str], token: Token
) -> None:
    for args in (["-L"], ["-T"], ["-M"], ["-L", "--slot-index", "0", "-M"]):
        forwarded, direct = both(module_path, ours, token, *args)
        assert forwarded == direct
    assert f"token label        : {token.label}" in forwarded or "Supported mechanisms" in forwarded


def test_info_differs_only_in_the_library_lines(
    module_path: Path, ours: dict[str, str], token: Token
) -> None:
    forwarded, direct = both(module_path, ours, token, "-I")
    library = ("Cryptoki version", "Manufacturer", "Library")
    assert [line for line in forwarded.splitlines() if not line.startswith(library)] == [
        line for line in direct.splitlines() if not line.startswith(library)
    ]
    assert "Cryptoki version 3.0" in forwarded and "Manufacturer     pkcs11-kmip" in forwarded
    assert "Library          PKCS#11 over KMIP 2.0" in forwarded


def test_keys_made_through_us_are_the_tokens_keys(
    module_path: Path, ours: dict[str, str], token: Token
) -> None:
    pin = ("--login", "--pin", token.pin)
    made = tool(
        module_path, ours, *pin, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "k", "--id", "01"
    )
    assert made.returncode == 0, made.stderr
    assert "Key pair generated" in made.stdout
    aes = tool(module_path, ours, *pin, "--keygen", "--key-type", "AES:32", "--label", "aes", "--id", "02")
    assert aes.returncode == 0, aes.stderr
    for args in (["-O"], ["-O", *pin]):
        forwarded, direct = both(module_path, ours, token, *args)
        assert objects(forwarded) == objects(direct)
    assert any("label:      k" in block and "Private Key Object; EC" in block for block in objects(forwarded))
    assert any("Secret Key Object; AES length 32" in block for block in objects(forwarded))


def test_a_signature_made_through_us_verifies_with_openssl(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path: Path
) -> None:
    pin = ("--login", "--pin", token.pin)
    made = tool(
        module_path, ours, *pin, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "s", "--id", "0a"
    )
    assert made.returncode == 0, made.stderr
    data = tmp_path / "data"
    data.write_bytes(b"signed through KMIP\n" * 10)
    digest = tmp_path / "digest"
    digest.write_bytes(hashlib.sha256(data.read_bytes()).digest())
    signed = tool(
        module_path, ours, *pin, "--sign", "-m", "ECDSA", "--id", "0a",
        "-i", str(digest), "-o", str(tmp_path / "sig"), "--signature-format", "openssl",
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    exported = tool(
        module_path, ours, "--read-object", "--type", "pubkey", "--id", "0a", "-o", str(tmp_path / "pub.der")
    )
    assert exported.returncode == 0, exported.stderr
    subprocess.run(
        ["openssl", "pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem"],
        cwd=tmp_path,
        check=True,
        timeout=TIMEOUT,
    )
    verified = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig", "data"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert verified.stdout.strip() == "Verified OK", verified.stderr


def test_rsa_mechanism_parameters_cross_intact(
    module_path: Path, ours: dict[str, str], token: Token, tmp_path: Path
) -> None:
    """CK_RSA_PKCS_PSS_PARAMS and CK_RSA_PKCS_OAEP_PARAMS (structures with a pointer) on the wire."""
    pin = ("--login", "--pin", token.pin)
    made = tool(
        module_path, ours, *pin, "--keypairgen", "--key-type", "rsa:2048", "--label", "r", "--id", "0b"
    )
    assert made.returncode == 0, made.stderr
    exported = tool(
        module_path, ours, "--read-object", "--type", "pubkey", "--id", "0b", "-o", str(tmp_path / "pub.der")
    )
    assert exported.returncode == 0, exported.stderr

    def openssl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", *args], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT
        )

    assert openssl("pkey", "-pubin", "-inform", "DER", "-in", "pub.der", "-out", "pub.pem").returncode == 0
    (tmp_path / "data").write_bytes(b"PSS through KMIP\n")
    signed = tool(
        module_path, ours, *pin, "--sign", "-m", "SHA256-RSA-PKCS-PSS", "--mgf", "MGF1-SHA256", "--id", "0b",
        "-i", str(tmp_path / "data"), "-o", str(tmp_path / "sig"),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verified = openssl(
        "dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:-1",
        "-verify", "pub.pem", "-signature", "sig", "data",
    )  # fmt: skip
    assert verified.stdout.strip() == "Verified OK", verified.stderr
    encrypted = openssl(
        "pkeyutl", "-encrypt", "-pubin", "-inkey", "pub.pem", "-pkeyopt", "rsa_padding_mode:oaep",
        "-in", "data", "-out", "oaep",
    )  # fmt: skip
    assert encrypted.returncode == 0, encrypted.stderr
    decrypted = tool(
        module_path, ours, *pin, "--decrypt", "-m", "RSA-PKCS-OAEP", "--hash-algorithm", "SHA-1",
        "--mgf", "MGF1-SHA1", "--id", "0b", "-i", str(tmp_path / "oaep"), "-o", str(tmp_path / "plain"),
    )  # fmt: skip
    assert decrypted.returncode == 0, decrypted.stderr
    assert (tmp_path / "plain").read_bytes() == b"PSS through KMIP\n"


def test_random_bytes(module_path: Path, ours: dict[str, str], tmp_path: Path) -> None:
    done = tool(module_path, ours, "--generate-random", "48", "-o", str(tmp_path / "random"))
    assert done.returncode == 0, done.stderr
    random = (tmp_path / "random").read_bytes()
    assert len(random) == 48 and random != bytes(48)


# --- a server that is not there --------------------------------------------------------------


def config_for(tmp_path: Path, hsm_server: RunningServer, port: int, timeout: float) -> dict[str, str]:
    path = write_client_config(tmp_path / "pkcs11-kmip.toml", hsm_server, timeout=timeout)
    path.write_text(path.read_text().replace(f":{hsm_server.port}", f":{port}"))
    return {**os.environ, "PKCS11_KMIP_CONFIG": str(path)}


def test_a_refused_connection_is_a_device_error(
    module_path: Path, hsm_server: RunningServer, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = tool(module_path, config_for(tmp_path, hsm_server, port, 5), "-L")
    assert done.returncode != 0
    assert "C_Initialize failed: rv = CKR_DEVICE_ERROR" in done.stderr
    assert "cannot reach 127.0.0.1" in done.stderr


def test_a_silent_server_is_a_device_error_within_the_timeout(
    module_path: Path, hsm_server: RunningServer, tmp_path: Path
) -> None:
    """A peer that accepts the connection and never says a word (no TLS handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    started = time.monotonic()
    try:
        done = tool(module_path, config_for(tmp_path, hsm_server, listener.getsockname()[1], 2), "-L")
    finally:
        for connection in accepted:
            connection.close()
        listener.close()
    assert time.monotonic() - started < 15
    assert "C_Initialize failed: rv = CKR_DEVICE_ERROR" in done.stderr
    assert done.returncode > 0  # an error exit, not a signal


def test_a_configuration_that_does_not_exist(module_path: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PKCS11_KMIP_CONFIG": str(tmp_path / "missing.toml")}
    done = tool(module_path, env, "-L")
    assert "C_Initialize failed: rv = CKR_GENERAL_ERROR" in done.stderr
    assert "missing.toml (named by PKCS11_KMIP_CONFIG) does not exist" in done.stderr


# --- a server that goes away and comes back --------------------------------------------------


def test_a_server_restart_is_survived(
    module_path: Path, token: Token, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The application keeps its library: the lost session answers
    CKR_SESSION_HANDLE_INVALID, and a new one works (as after a token removal)."""
    server = start_pkcs11_server(tmp_path_factory.mktemp("restarted"), token)
    config = write_client_config(tmp_path_factory.mktemp("restart-client") / "pkcs11-kmip.toml", server)
    host = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("session_host.py")), str(module_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PKCS11_KMIP_CONFIG": str(config)},
    )
    assert host.stdin is not None and host.stdout is not None

    def ask(command: str) -> str:
        host.stdin.write(command + "\n")  # type: ignore[union-attr]
        host.stdin.flush()  # type: ignore[union-attr]
        answer = host.stdout.readline().strip()  # type: ignore[union-attr]
        assert answer.startswith(f"{command}="), answer
        return answer.partition("=")[2]

    try:
        assert [ask(c) for c in ("init", "slot", "open", "info")] == ["0x0"] * 4
        server.stop()
        server.start()
        assert ask("info") == "0xb3"  # CKR_SESSION_HANDLE_INVALID
        assert [ask(c) for c in ("open", "info", "finalize")] == ["0x0"] * 3
    finally:
        host.stdin.close()
        host.wait(timeout=TIMEOUT)
        if server.process is not None:
            server.stop()
