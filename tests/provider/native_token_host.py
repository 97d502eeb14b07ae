"""python-pkcs11 on the native token: one key found by label, used as asked.

Usage: python native_token_host.py MODULE PIN LABEL IV_HEX DATA_HEX [CIPHERTEXT_HEX]
Prints key=value lines: `ciphertext` (AES-GCM, 128-bit tag after the ciphertext) or the
PKCS11Error class (and text) of the encryption, `plaintext` of CIPHERTEXT_HEX if given, `value`
(CKA_VALUE, or the error reading it), `sensitive` and `extractable`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11.mechanisms import GCMParams


def attempt(name: str, action: Callable[[], bytes | bool]) -> None:
    try:
        result = action()
        print(f"{name}={result.hex() if isinstance(result, bytes) else result}")
    except pkcs11.PKCS11Error as error:
        detail = f":{error}" if str(error) else ""  # python-pkcs11 names an unmapped CK_RV in the text
        print(f"{name}=error:{type(error).__name__}{detail}")


def main() -> int:
    module, pin, label, iv_hex, data_hex = sys.argv[1:6]
    iv, data = bytes.fromhex(iv_hex), bytes.fromhex(data_hex)
    token = pkcs11.lib(module).get_token(token_label="pkcs11-kmip")
    with token.open(user_pin=pin) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
        params = GCMParams(iv, b"")
        attempt("ciphertext", lambda: key.encrypt(data, mechanism=Mechanism.AES_GCM, mechanism_param=params))
        if len(sys.argv) > 6:
            sealed = bytes.fromhex(sys.argv[6])
            attempt(
                "plaintext", lambda: key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            )
        attempt("value", lambda: key[Attribute.VALUE])
        attempt("sensitive", lambda: key[Attribute.SENSITIVE])
        attempt("extractable", lambda: key[Attribute.EXTRACTABLE])
    return 0


if __name__ == "__main__":
    sys.exit(main())
