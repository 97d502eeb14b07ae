"""[[pkcs11.slot]]: per-slot configuration of the PKCS#11 operation (hsm.settings, hsm.slots).

Two SoftHSM2 tokens of one module (labels a and b, PINs differ), each a configured slot
under its own server slot ID; contexts through Pkcs11Service as the KMIP operation makes
them. The server-level tests (pkcs11-tool through our library) are in test_slots_server.py.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hsm.test_passthrough import (
    CKA_LABEL,
    CKA_VALUE_LEN,
    CKF_SERIAL_SESSION,
    CKS_RW_USER_FUNCTIONS,
    CKU_USER,
    App,
    ulong,
)

from pkcs11_kmip.cryptoki.constants import CKR, CKU_SO
from pkcs11_kmip.cryptoki.wire import Attribute, AttributeQuery, Mechanism, OutRequest
from pkcs11_kmip_server.hsm.service import Pkcs11Service
from pkcs11_kmip_server.hsm.settings import Pkcs11Settings, SlotSettings
from pkcs11_kmip_server.hsm.slots import TAG_SHIFT
from pkcs11_kmip_server.native import pins
from testsupport.softhsm import SOFTHSM_MODULE, TIMEOUT, Token, init_token

B_PIN = "4321"
CKM_AES_ECB = 0x1081


def add_token(token: Token, label: str, pin: str) -> None:
    """Another token in `token`'s SoftHSM2 directory: the same module then shows both."""
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", token.so_pin],
        env=token.env,
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )


@pytest.fixture(scope="module")
def two_tokens(tmp_path_factory: pytest.TempPathFactory) -> Token:
    """Tokens "a" (PIN 1234) and "b" (PIN 4321) in one SoftHSM2 directory."""
    token = init_token(tmp_path_factory.mktemp("softhsm-two"), label="a")
    add_token(token, "b", B_PIN)
    return token


def hsm_slot(token: Token, slot_id: int, label: str, **changes: object) -> SlotSettings:
    settings: dict[str, object] = {
        "id": slot_id,
        "kind": "hsm",
        "module": SOFTHSM_MODULE,
        "token_label": label,
        "environment": {"SOFTHSM2_CONF": str(token.conf)},
        **changes,
    }
    return SlotSettings(**settings)  # type: ignore[arg-type]


@pytest.fixture
def make_slots(tmp_path: Path) -> Iterator[Callable[..., Pkcs11Service]]:
    """Services over the given slots, with DIR/pins.toml in tmp_path (closed after the test)."""
    made: list[Pkcs11Service] = []

    def make(*slots: SlotSettings) -> Pkcs11Service:
        service = Pkcs11Service(Pkcs11Settings(slots=slots, pins=tmp_path / pins.PINS_FILE))
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def slot_list(app: App) -> tuple[int, ...]:
    answer = app.ok("C_GetSlotList", tokenPresent=1, pSlotList=OutRequest(True, 8))["pSlotList"]
    return tuple(answer.data)


def label_of(app: App, slot: int) -> bytes:
    return bytes(app.ok("C_GetTokenInfo", slotID=slot)["pInfo"]["label"]).rstrip()


def open_on(app: App, slot: int) -> int:
    return int(app.ok("C_OpenSession", slotID=slot, flags=CKF_SERIAL_SESSION | 2)["phSession"])


def test_each_client_sees_the_slots_it_may_use_under_the_server_ids(
    two_tokens: Token, make_slots: Callable[..., Pkcs11Service]
) -> None:
    service = make_slots(
        hsm_slot(two_tokens, 3, "a"), hsm_slot(two_tokens, 7, "b", clients=frozenset({"alice"}))
    )
    alice, bob = App(service, "alice"), App(service, "bob")
    assert slot_list(alice) == (3, 7) and slot_list(bob) == (3,)
    assert label_of(alice, 3) == b"a" and label_of(alice, 7) == b"b" and label_of(bob, 3) == b"a"
    # Bob's context has no slot 7: every slot-addressed call says so, none reaches the module.
    assert bob("C_GetTokenInfo", slotID=7)[0] == CKR.SLOT_ID_INVALID
    assert bob("C_OpenSession", slotID=7, flags=CKF_SERIAL_SESSION)[0] == CKR.SLOT_ID_INVALID
    assert bob("C_GetMechanismList", slotID=7, pMechanismList=OutRequest(False, 0))[0] == CKR.SLOT_ID_INVALID
    mechanisms = alice.ok("C_GetMechanismList", slotID=7, pMechanismList=OutRequest(False, 0))
    assert mechanisms["pMechanismList"].length > 10
    # The length convention of the list the router answers itself.
    assert alice("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(False, 0))[1]["pSlotList"].length == 2
    assert alice("C_GetSlotList", tokenPresent=0, pSlotList=OutRequest(True, 1))[0] == CKR.BUFFER_TOO_SMALL


def test_sessions_are_routed_to_their_slot_and_keys_stay_there(
    two_tokens: Token, make_slots: Callable[..., Pkcs11Service]
) -> None:
    alice = App(make_slots(hsm_slot(two_tokens, 0, "a"), hsm_slot(two_tokens, 1, "b")))
    on_a, on_b = open_on(alice, 0), open_on(alice, 1)
    assert alice.login(on_a, two_tokens.pin) == CKR.OK and alice.login(on_b, B_PIN) == CKR.OK
    assert alice.ok("C_GetSessionInfo", hSession=on_a)["pInfo"]["slotID"] == 0
    info = alice.ok("C_GetSessionInfo", hSession=on_b)["pInfo"]
    assert info["slotID"] == 1 and info["state"] == CKS_RW_USER_FUNCTIONS
    label = f"only-on-a-{on_a}-{on_b}".encode()
    key = alice.aes_key(on_a, label, token=True)
    assert alice.find(on_a, Attribute.of(CKA_LABEL, label)) == (key,)
    assert alice.find(on_b, Attribute.of(CKA_LABEL, label)) == ()
    # A handle nobody opened is refused by the router.
    assert alice("C_GetSessionInfo", hSession=max(on_a, on_b) + 1000)[0] == CKR.SESSION_HANDLE_INVALID
    # C_CloseAllSessions of slot 0 closes its sessions only.
    alice.ok("C_CloseAllSessions", slotID=0)
    assert alice("C_GetSessionInfo", hSession=on_a)[0] == CKR.SESSION_HANDLE_INVALID
    assert alice.ok("C_GetSessionInfo", hSession=on_b)["pInfo"]["slotID"] == 1
    alice.ok("C_CloseSession", hSession=on_b)
    assert alice("C_CloseSession", hSession=on_b)[0] == CKR.SESSION_HANDLE_INVALID
    assert alice.finalize() == CKR.OK


def test_a_missing_token_leaves_its_slot_out(
    two_tokens: Token, make_slots: Callable[..., Pkcs11Service]
) -> None:
    alice = App(make_slots(hsm_slot(two_tokens, 0, "a"), hsm_slot(two_tokens, 1, "nowhere")))
    assert slot_list(alice) == (0,)
    assert alice("C_GetTokenInfo", slotID=1)[0] == CKR.SLOT_ID_INVALID


def test_pin_server_logs_in_with_the_servers_pin_after_the_clients_native_pin(
    two_tokens: Token, make_slots: Callable[..., Pkcs11Service], tmp_path: Path
) -> None:
    pin_file = tmp_path / "b.pin"
    pin_file.write_text(f"{B_PIN}\n")
    native_pin = pins.issue(tmp_path, "alice")
    assert native_pin != B_PIN
    service = make_slots(hsm_slot(two_tokens, 0, "b", pin="server", pin_file=pin_file))
    alice, bob = App(service, "alice"), App(service, "bob")
    session = open_on(alice, 0)
    assert alice.login(session, B_PIN) == CKR.PIN_INCORRECT  # the HSM's own PIN is not the client's
    assert alice("C_Login", hSession=session, userType=CKU_SO, pPin=b"5678")[0] == CKR.USER_TYPE_INVALID
    assert alice.login(session, native_pin) == CKR.OK
    assert alice.ok("C_GetSessionInfo", hSession=session)["pInfo"]["state"] == CKS_RW_USER_FUNCTIONS
    refused = alice("C_SetPIN", hSession=session, pOldPin=native_pin.encode(), pNewPin=b"00000000")
    assert refused[0] == CKR.FUNCTION_NOT_SUPPORTED
    assert (
        alice("C_InitToken", slotID=0, pPin=b"5678", pLabel=b"x".ljust(32))[0] == CKR.FUNCTION_NOT_SUPPORTED
    )
    alice.ok("C_Logout", hSession=session)
    # Bob has no native PIN: nothing he says logs him in, the HSM's PIN neither.
    assert bob.login(open_on(bob, 0), B_PIN) == CKR.PIN_INCORRECT
    assert alice("C_Login", hSession=session, userType=CKU_USER, pPin=b"")[0] == CKR.PIN_INCORRECT


def test_a_native_slot_under_its_server_id(make_slots: Callable[..., Pkcs11Service]) -> None:
    app = App(make_slots(SlotSettings(id=0, kind="native")))
    assert slot_list(app) == (0,)
    assert app.ok("C_GetSlotInfo", slotID=0)["pInfo"]["slotDescription"].startswith(b"pkcs11-kmip native")
    session = open_on(app, 0)
    assert app.ok("C_GetSessionInfo", hSession=session)["pInfo"]["slotID"] == 0
    assert app("C_GetSlotInfo", slotID=1)[0] == CKR.SLOT_ID_INVALID  # the native token's own ID is not shown


def test_native_and_two_modules_in_one_context_keep_their_handles_apart(
    two_tokens: Token, make_slots: Callable[..., Pkcs11Service], tmp_path_factory: pytest.TempPathFactory
) -> None:
    other = init_token(tmp_path_factory.mktemp("softhsm-other"), label="c", pin="2468")
    service = make_slots(
        SlotSettings(id=0, kind="native"),
        hsm_slot(two_tokens, 1, "a"),
        hsm_slot(other, 2, "c"),  # another SOFTHSM2_CONF: another module instance, another worker
        hsm_slot(two_tokens, 3, "b"),
    )
    app = App(service)
    assert slot_list(app) == (0, 1, 2, 3)
    assert [label_of(app, slot) for slot in (1, 2, 3)] == [b"a", b"c", b"b"]
    sessions = on_native, on_a, on_c, on_b = tuple(open_on(app, slot) for slot in (0, 1, 2, 3))
    # Handles carry their backend's number: native 1, the first module 2 (a and b), the other 3.
    assert [handle >> TAG_SHIFT for handle in sessions] == [1, 2, 3, 2]
    assert [app.ok("C_GetSessionInfo", hSession=h)["pInfo"]["slotID"] for h in sessions] == [0, 1, 2, 3]
    assert app.login(on_a, two_tokens.pin) == CKR.OK and app.login(on_c, "2468") == CKR.OK
    key_a, key_c = app.aes_key(on_a, b"ka"), app.aes_key(on_c, b"kc")
    assert key_a >> TAG_SHIFT == 2 and key_c >> TAG_SHIFT == 3
    assert app.find(on_c, Attribute.of(CKA_LABEL, b"kc")) == (key_c,)
    assert app.find(on_a, Attribute.of(CKA_LABEL, b"kc")) == ()
    query = (AttributeQuery(CKA_VALUE_LEN, True, 8),)
    value_len = app.ok("C_GetAttributeValue", hSession=on_c, hObject=key_c, pTemplate=query)
    assert value_len["pTemplate"][0].value == ulong(32)
    # Another backend's handle in a session: refused before any module sees it.
    refused = app("C_GetAttributeValue", hSession=on_a, hObject=key_c, pTemplate=query)
    assert refused[0] == CKR.OBJECT_HANDLE_INVALID
    assert app("C_DestroyObject", hSession=on_native, hObject=key_a)[0] == CKR.OBJECT_HANDLE_INVALID
    refused = app("C_EncryptInit", hSession=on_c, pMechanism=Mechanism(CKM_AES_ECB), hKey=key_a)
    assert refused[0] == CKR.KEY_HANDLE_INVALID
    module_handle = on_c & ((1 << TAG_SHIFT) - 1)  # untagged, or tagged with no backend's number
    for guessed in (module_handle, module_handle | 4 << TAG_SHIFT):
        assert app("C_CloseSession", hSession=guessed)[0] == CKR.SESSION_HANDLE_INVALID
    app.ok("C_CloseAllSessions", slotID=2)
    assert app("C_GetSessionInfo", hSession=on_c)[0] == CKR.SESSION_HANDLE_INVALID
    assert app.ok("C_GetSessionInfo", hSession=on_b)["pInfo"]["slotID"] == 3
    assert app.finalize() == CKR.OK


# --- configuration ---------------------------------------------------------------------------

HSM = {"kind": "hsm", "module": str(SOFTHSM_MODULE), "token_label": "a"}


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        ([{"kind": "tpm"}], '[[pkcs11.slot]] 1: kind must be "native" or "hsm", not \'tpm\''),
        ([{"kind": "hsm", "token_label": "a"}], "[[pkcs11.slot]] 1: module is required"),
        ([{**HSM, "module": "/nonexistent/lib.so"}], "module /nonexistent/lib.so does not exist"),
        ([HSM, {**HSM, "id": 5}], "[[pkcs11.slot]] id 5: token_label 'a' is already [[pkcs11.slot]] id 0's"),
        ([{"kind": "native"}, {"kind": "native"}], "kind native is already"),
        ([HSM, {**HSM, "token_label": "b", "id": 0}], "[[pkcs11.slot]] 2: id 0 is also slot 1's"),
        ([{**HSM, "token_serial": "1"}], "give one of token_label and token_serial"),
        ([{**HSM, "pin": "server"}], 'pin_file goes with pin = "server"'),
        ([{**HSM, "pin": "both"}], "pin must be"),
        ([{**HSM, "pin": "server", "pin_file": "nope.pin"}], "pin_file"),
        ([{"kind": "native", "pin": "server"}], "a native slot takes no pin"),
        ([{**HSM, "colour": "red"}], "[[pkcs11.slot]] 1 has unknown settings: colour"),
    ],
)
def test_configuration_errors_name_the_setting(
    slots: list[dict[str, object]], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Pkcs11Settings.from_table({"slot": slots}, tmp_path)


def test_configuration_accepts_slots_of_several_kinds_and_the_single_slot_form(tmp_path: Path) -> None:
    native = {"kind": "native", "clients": ["alice"]}
    settings = Pkcs11Settings.from_table({"slot": [native, {**HSM, "clients": ["bob"]}]}, tmp_path)
    assert [slot.id for slot in settings.slots] == [0, 1] and settings.native
    assert [s.id for s in settings.slots_of("bob")] == [1] and [s.id for s in settings.slots_of("eve")] == []
    assert [s.id for s in settings.slots_of("eve", frozenset({"alice", "x"}))] == [0]  # a group named alice
    hsm_only = Pkcs11Settings.from_table({"slot": [HSM, {**HSM, "token_label": "b"}]}, tmp_path)
    assert not hsm_only.native
    other_module = {**HSM, "environment": {"SOFTHSM2_CONF": "/x"}}  # the same token label, another module
    assert (
        len(Pkcs11Settings.from_table({"slot": [{"kind": "native"}, HSM, other_module]}, tmp_path).slots) == 3
    )
    with pytest.raises(ValueError, match="single-slot form"):
        Pkcs11Settings.from_table({"module": str(SOFTHSM_MODULE), "slot": [HSM]}, tmp_path)
    legacy = Pkcs11Settings.from_table({"module": str(SOFTHSM_MODULE)}, tmp_path)
    assert legacy.slots == () and not legacy.native and legacy.module == SOFTHSM_MODULE
