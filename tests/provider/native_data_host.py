"""python-pkcs11 as an application keeping data objects (CKO_DATA) on the native token.

Usage: python native_data_host.py MODULE PIN
Makes a token data object and a session one, renames the token one (C_SetAttributeValue
CKA_LABEL), reads both back and prints key=value lines; test_native_data_objects.py then
checks the same objects through KMIP (the session object is gone with its session).
"""

from __future__ import annotations

import sys

import pkcs11
from pkcs11 import Attribute, ObjectClass


def say(key: str, value: object) -> None:
    print(f"{key}={value}", flush=True)


def main() -> None:
    module, pin = sys.argv[1:3]
    token = pkcs11.lib(module).get_token()
    with token.open(user_pin=pin, rw=True) as session:
        made = session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: True,
                Attribute.LABEL: "host-data",
                Attribute.APPLICATION: "the host",
                Attribute.VALUE: b"token data from python-pkcs11",
            }
        )
        made[Attribute.LABEL] = "host-data-renamed"
        (renamed,) = session.get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: "host-data-renamed"}
        )
        say("renamed.value", bytes(renamed[Attribute.VALUE]).hex())
        say("renamed.token", renamed[Attribute.TOKEN])
        say("renamed.private", renamed[Attribute.PRIVATE])
        say("old_label.found", len(list(session.get_objects({Attribute.LABEL: "host-data"}))))
        temporary = session.create_object(
            {
                Attribute.CLASS: ObjectClass.DATA,
                Attribute.TOKEN: False,
                Attribute.LABEL: "host-session-data",
                Attribute.VALUE: b"session data",
            }
        )
        say("session.token", temporary[Attribute.TOKEN])
        say("session.value", bytes(temporary[Attribute.VALUE]).hex())
    say("done", 1)


if __name__ == "__main__":
    main()
