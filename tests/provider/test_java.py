"""Java's SunPKCS11 on our library: keytool lists the token's key entries (a private key
with its certificate) as it does on SoftHSM2 directly, and a Java program signs with
them, its signatures verified by Java with the certificates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from testsupport.softhsm import SOFTHSM_MODULE, Token
from testsupport.tools import make_certified_key, run

JAVA_SIGN = Path(__file__).with_name("JavaSign.java")
KEYS = {
    "java-ec": ("EC:prime256v1", "a1", "SHA256withECDSA"),
    "java-rsa": ("rsa:2048", "a2", "SHA256withRSA"),
}


@pytest.fixture(scope="module")
def entries(module_path: Path, ours: dict[str, str], token: Token) -> list[str]:
    """Key pairs made through us, each with a certificate: keytool lists only those."""
    assert shutil.which("keytool") and shutil.which("java"), "no Java (scripts/setup installs a JDK)"
    for label, (key_type, key_id, _algorithm) in KEYS.items():
        make_certified_key(module_path, ours, token.label, token.pin, key_type, label, key_id)
    return list(KEYS)


def sunpkcs11_config(folder: Path, library: Path) -> Path:
    path = folder / f"{library.stem}.cfg"
    path.write_text(f"name = kmip\nlibrary = {library}\nslotListIndex = 0\n")
    return path


def test_keytool_lists_the_same_entries(
    module_path: Path, ours: dict[str, str], token: Token, entries: list[str], tmp_path: Path
) -> None:
    listings = []
    for library, env in ((module_path, ours), (SOFTHSM_MODULE, token.env)):
        listed = run(
            ["keytool", "-list", "-keystore", "NONE", "-storetype", "PKCS11",
             "-providerClass", "sun.security.pkcs11.SunPKCS11",
             "-providerArg", str(sunpkcs11_config(tmp_path, library)), "-storepass", token.pin],
            env,
        )  # fmt: skip
        assert listed.returncode == 0, listed.stdout + listed.stderr
        listings.append(listed.stdout)
    assert listings[0] == listings[1]
    assert "Your keystore contains 2 entries" in listings[0]
    for label in entries:
        assert f"{label}, PrivateKeyEntry," in listings[0]


def test_a_wrong_pin_reaches_java_as_the_modules_refusal(
    module_path: Path, ours: dict[str, str], tmp_path: Path
) -> None:
    loaded = run(["java", str(JAVA_SIGN), str(sunpkcs11_config(tmp_path, module_path)), "0000"], ours)
    assert loaded.returncode != 0
    assert "PKCS11Exception: CKR_PIN_INCORRECT" in loaded.stderr


def test_java_signs_with_the_keys(
    module_path: Path, ours: dict[str, str], token: Token, entries: list[str], tmp_path: Path
) -> None:
    pairs = [part for label in entries for part in (label, KEYS[label][2])]
    signed = run(
        ["java", str(JAVA_SIGN), str(sunpkcs11_config(tmp_path, module_path)), token.pin, *pairs], ours
    )
    assert signed.returncode == 0, signed.stdout + signed.stderr
    lines = signed.stdout.splitlines()
    assert lines == [
        "java-ec_algorithm=EC", "java-ec_verified=true", "java-rsa_algorithm=RSA", "java-rsa_verified=true"
    ]  # fmt: skip
