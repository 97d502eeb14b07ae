"""PyKCS11 on the native token: AES-CTR with one secret key found by label.

Usage: python native_ctr_host.py MODULE PIN LABEL COUNTER_BLOCK_HEX DATA_HEX
Prints `sealed=` (C_Encrypt with CK_AES_CTR_PARAMS, 128 counter bits) and `opened=` (that
decrypted again), as hex. A process of its own: the library hosts its own interpreter.
"""

from __future__ import annotations

import sys

import PyKCS11  # type: ignore[import-untyped]


def main() -> int:
    module, pin, label, counter_hex, data_hex = sys.argv[1:6]
    library = PyKCS11.PyKCS11Lib()
    library.load(module)
    session = library.openSession(library.getSlotList(tokenPresent=True)[0], PyKCS11.CKF_SERIAL_SESSION)
    session.login(pin)
    (key,) = session.findObjects([(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_LABEL, label)])
    mechanism = PyKCS11.AES_CTR_Mechanism(128, bytes.fromhex(counter_hex))
    sealed = bytes(session.encrypt(key, bytes.fromhex(data_hex), mechanism))
    opened = bytes(session.decrypt(key, sealed, mechanism))
    print(f"sealed={sealed.hex()}")
    print(f"opened={opened.hex()}")
    session.logout()
    session.closeSession()
    return 0


if __name__ == "__main__":
    sys.exit(main())
