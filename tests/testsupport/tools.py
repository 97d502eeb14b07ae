"""Running the real command-line hosts (pkcs11-tool, openssl, p11tool, p11-kit, keytool)
with a timeout: a hang is a failure, not a stuck CI job."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

TIMEOUT = 90


def run(
    argv: list[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run a host; with no `input`, its standard input is empty (a prompt fails, never waits)."""
    return subprocess.run(
        argv,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def pkcs11_tool(
    module: Path, env: Mapping[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run(["pkcs11-tool", "--module", str(module), *args], env, cwd)


def make_key(module: Path, env: Mapping[str, str], pin: str, key_type: str, label: str, key_id: str) -> None:
    """A key pair (`rsa:2048`, `EC:prime256v1`) or, for `AES:N`, a secret key, made by pkcs11-tool."""
    kind = "--keygen" if key_type.startswith("AES") else "--keypairgen"
    made = pkcs11_tool(
        module, env, "--login", "--pin", pin, kind, "--key-type", key_type, "--label", label, "--id", key_id
    )
    assert made.returncode == 0, made.stderr


def export_public_key(module: Path, env: Mapping[str, str], key_id: str, pem: Path) -> Path:
    """The public key with this CKA_ID, read with pkcs11-tool and converted to PEM by openssl."""
    der = pem.with_suffix(".der")
    read = pkcs11_tool(module, env, "--read-object", "--type", "pubkey", "--id", key_id, "-o", str(der))
    assert read.returncode == 0, read.stderr
    converted = run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(der), "-out", str(pem)])
    assert converted.returncode == 0, converted.stderr
    return pem


def make_exported_keys(
    module: Path,
    env: Mapping[str, str],
    pin: str,
    keys: Mapping[str, tuple[str, str]],
    prefix: str,
    folder: Path,
) -> dict[str, Path]:
    """Key pairs made by pkcs11-tool, labelled PREFIX-NAME for each NAME: (key type, CKA_ID)
    of `keys`, and their public halves as PEM files in `folder`, by name."""
    found = {}
    for name, (key_type, key_id) in keys.items():
        make_key(module, env, pin, key_type, f"{prefix}-{name}", key_id)
        found[name] = export_public_key(module, env, key_id, folder / f"{name}.pem")
    return found


def run_json_host(
    host: Path, module: Path, env: Mapping[str, str], label: str, pin: str
) -> dict[str, object]:
    """A Python host script (`HOST MODULE TOKEN_LABEL PIN`) that prints one JSON object."""
    done = run([sys.executable, str(host), str(module), label, pin], env)
    assert done.returncode == 0, done.stderr
    parsed: dict[str, object] = json.loads(done.stdout)
    return parsed


RSA_PSS = ("-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32")
"""openssl pkeyutl's options for RSA-PSS with SHA-256 and a 32-byte salt."""


def pkeyutl_verify(
    public_pem: Path, cwd: Path, *options: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`openssl pkeyutl -verify` of cwd/sig over cwd/digest with a PEM public key."""
    argv = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public_pem), "-in", "digest"]
    return run([*argv, "-sigfile", "sig", *options], env, cwd=cwd)


def sorted_blocks(listing: str, is_header: Callable[[str], bool], keep_header: bool = True) -> list[str]:
    """A tool's listing cut into blocks, each starting at a header line, sorted: SoftHSM2
    lists objects in an order of its own in each process. Headers that only number the
    blocks ("Object 0:") are dropped with keep_header=False."""
    blocks: list[list[str]] = []
    for line in listing.splitlines():
        if is_header(line):
            blocks.append([line] if keep_header else [])
        elif blocks:
            blocks[-1].append(line)
    return sorted("\n".join(block) for block in blocks)


def make_certified_key(
    module: Path, env: Mapping[str, str], token_label: str, pin: str, key_type: str, label: str, key_id: str
) -> None:
    """A key pair with a self-signed certificate beside it (same CKA_ID and label), as
    Java's keytool and NSS want before they list a key: the certificate is made by
    OpenSSL through libp11's engine with the key on the token, stored by pkcs11-tool."""
    make_key(module, env, pin, key_type, label, key_id)
    with tempfile.TemporaryDirectory() as folder:
        certificate = Path(folder) / "cert.der"
        made = run(
            ["openssl", "req", "-new", "-x509", "-engine", "pkcs11", "-keyform", "engine",
             "-key", f"pkcs11:token={token_label};object={label};type=private;pin-value={pin}",
             "-subj", f"/CN={label}", "-days", "30", "-outform", "DER", "-out", str(certificate)],
            {**env, "PKCS11_MODULE_PATH": str(module)},
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        stored = pkcs11_tool(
            module, env, "--login", "--pin", pin, "--write-object", str(certificate),
            "--type", "cert", "--id", key_id, "--label", label,
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
