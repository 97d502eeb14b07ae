"""The slots of one client context in the slot form of [pkcs11] ([[pkcs11.slot]]).

A context sees the slots its client may use, under the IDs server.toml gives them, all
behind one backend: one worker with its own instance of the slots' module (the tokens
are picked by label or serial when the context is made), or the native token. The
router turns the server's slot IDs into the module's on the way in (and back in
C_GetSessionInfo), answers C_GetSlotList itself, and keeps which slot each session was
opened on: a session handle it did not hand out, or one closed since, is
CKR_SESSION_HANDLE_INVALID without the module seeing it, and a call on a session goes
under that session's slot's rules. With pin = "server" the application's C_Login PIN is
checked against the native PIN table (DIR/pins.toml) and the token is logged in with
the server's PIN, which the application never learns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR, CKU_SO
from pkcs11_kmip.cryptoki.wire import OutData, OutRequest, StructValue, Value
from pkcs11_kmip_server.hsm.settings import SlotSettings
from pkcs11_kmip_server.native.pins import Pins

if TYPE_CHECKING:
    from pkcs11_kmip_server.context import RequestContext
    from pkcs11_kmip_server.hsm.service import Backend
    from pkcs11_kmip_server.store import Store

log = logging.getLogger("pkcs11_kmip_server.hsm")

_LOGINS = frozenset({"C_Login", "C_LoginUser"})
_SERVER_PIN_REFUSED = frozenset({"C_InitToken", "C_SetPIN", "C_LoginUser"})
"""Calls a pin = "server" slot refuses: they would set or need a PIN the client must not hold."""
_CLOSES = frozenset({CKR.OK, CKR.SESSION_HANDLE_INVALID, CKR.SESSION_CLOSED})
_MAX_MODULE_SLOTS = 1024


@dataclass(frozen=True)
class Slot:
    """A slot a context sees: its settings and the slot ID its backend knows it by."""

    settings: SlotSettings
    real_id: int


class SlotRouter:
    """The Backend of a slot-form context: routes each call to its slot on the inner backend."""

    def __init__(
        self, principal: str, backend: Backend, slots: Mapping[int, Slot], pins: Pins | None
    ) -> None:
        self.principal = principal
        self.backend = backend
        self.slots = dict(slots)
        self.pins = pins
        self._by_real = {slot.real_id: server_id for server_id, slot in self.slots.items()}
        self._sessions: dict[int, int] = {}  # session handle -> server slot ID

    @property
    def gone(self) -> bool:
        """Whether the inner backend lost its worker (the context then ends)."""
        return bool(getattr(self.backend, "gone", False))

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        call = BY_ID[function_id]
        inputs = wire.decode_inputs(call, data)
        if call.name == "C_GetSlotList":
            return self._slot_list(inputs["pSlotList"])
        if "slotID" in inputs:
            slot = self.slots.get(_int(inputs["slotID"]))
            if slot is None:
                return CKR.SLOT_ID_INVALID, None
            server_id = _int(inputs["slotID"])
            data = wire.encode_inputs(call, {**inputs, "slotID": slot.real_id})
        elif "hSession" in inputs:
            server_id_or_none = self._sessions.get(_int(inputs["hSession"]))
            if server_id_or_none is None:
                return CKR.SESSION_HANDLE_INVALID, None
            server_id = server_id_or_none
            slot = self.slots[server_id]
        else:  # no slot or session in it (none such is forwarded today)
            return self.backend.call(function_id, data, request)
        if slot.settings.pin == "server":
            if call.name in _SERVER_PIN_REFUSED:
                return CKR.FUNCTION_NOT_SUPPORTED, None
            if call.name in _LOGINS:
                rv, data = self._server_login(call.name, inputs, slot.settings)
                if rv != CKR.OK:
                    return rv, None
        rv, output = self.backend.call(function_id, data, request)
        return rv, self._after(call.name, inputs, server_id, rv, output)

    def _slot_list(self, request: Value) -> tuple[int, bytes | None]:
        """C_GetSlotList: the slots this context sees (their tokens were found when it was made)."""
        assert isinstance(request, OutRequest)
        ids = tuple(sorted(self.slots))
        call = BY_NAME["C_GetSlotList"]
        if request.present and request.capacity < len(ids):
            return CKR.BUFFER_TOO_SMALL, wire.encode_outputs(call, {"pSlotList": OutData(len(ids))})
        answer = OutData(len(ids), ids if request.present else None)
        return CKR.OK, wire.encode_outputs(call, {"pSlotList": answer})

    def _server_login(self, name: str, inputs: dict[str, Value], slot: SlotSettings) -> tuple[int, bytes]:
        """C_Login on a pin = "server" slot: the client's native PIN checked, the server's sent."""
        if inputs["userType"] == CKU_SO:
            return CKR.USER_TYPE_INVALID, b""  # the security officer's work is the server admin's
        pin = inputs["pPin"]
        if (
            self.pins is None
            or not isinstance(pin, bytes)
            or not self.pins.matches(self.principal, pin.decode("utf-8", "replace"))
        ):
            log.info("C_Login of %s on slot %d: not the client's PIN", self.principal, slot.id)
            return CKR.PIN_INCORRECT, b""
        try:
            server_pin = slot.server_pin()
        except OSError as error:
            log.error("slot %d: cannot read pin_file: %s", slot.id, error.strerror)
            return CKR.DEVICE_ERROR, b""
        return CKR.OK, wire.encode_inputs(name, {**inputs, "pPin": server_pin})

    def _after(
        self, name: str, inputs: dict[str, Value], server_id: int, rv: int, output: bytes | None
    ) -> bytes | None:
        """Keep the session map up to date, and show the server's slot ID in what comes back."""
        if name == "C_OpenSession" and rv == CKR.OK and output is not None:
            handle = wire.decode_outputs(name, output)["phSession"]
            self._sessions[_int(handle)] = server_id
        elif name == "C_CloseSession" and rv in _CLOSES:
            self._sessions.pop(_int(inputs["hSession"]), None)
        elif name == "C_CloseAllSessions" and rv == CKR.OK:
            self._sessions = {h: s for h, s in self._sessions.items() if s != server_id}
        elif name == "C_GetSessionInfo" and rv == CKR.OK and output is not None:
            info = wire.decode_outputs(name, output)["pInfo"]
            assert isinstance(info, dict)
            shown: StructValue = {**info, "slotID": self._by_real.get(_int(info["slotID"]), server_id)}
            return wire.encode_outputs(name, {"pInfo": shown})
        return output

    def finalize(self) -> int:
        self._sessions.clear()
        return self.backend.finalize()


def find_tokens(backend: Backend, slots: tuple[SlotSettings, ...]) -> dict[int, Slot]:
    """The module slots holding the configured tokens, by server slot ID. A token that is
    not there leaves its slot out of this context (logged): as if it were removed."""
    rv, output = backend.call(
        BY_NAME["C_GetSlotList"].id,
        wire.encode_inputs(
            "C_GetSlotList", {"tokenPresent": 1, "pSlotList": OutRequest(True, _MAX_MODULE_SLOTS)}
        ),
    )
    real_ids: tuple[int, ...] = ()
    if rv == CKR.OK and output is not None:
        listed = wire.decode_outputs("C_GetSlotList", output)["pSlotList"]
        assert isinstance(listed, OutData)
        real_ids = tuple(int(i) for i in listed.data or ())
    tokens: list[tuple[int, bytes, bytes]] = []
    for real_id in real_ids:
        rv, output = backend.call(
            BY_NAME["C_GetTokenInfo"].id,
            wire.encode_inputs("C_GetTokenInfo", {"slotID": real_id}),
        )
        if rv == CKR.OK and output is not None:
            info = wire.decode_outputs("C_GetTokenInfo", output)["pInfo"]
            assert isinstance(info, dict)
            tokens.append((real_id, _text(info["label"]), _text(info["serialNumber"])))
    found: dict[int, Slot] = {}
    for slot in slots:
        wanted = (slot.token_label or slot.token_serial or "").encode()
        column = 1 if slot.token_label is not None else 2
        matches = [token[0] for token in tokens if token[column] == wanted]
        if len(matches) != 1:
            log.warning(
                "%s: %s token %r in %s",
                slot.name,
                "no" if not matches else "more than one",
                wanted,
                slot.module,
            )
            continue
        found[slot.id] = Slot(slot, matches[0])
    return found


def user_groups(store: Store, principal: str, request: RequestContext | None = None) -> frozenset[str]:
    """The user groups `principal` is in, directly or through nested groups (the access
    tables, read when a context is made: a membership change shows in the next one), in
    the request's transaction when there is one (a second one on its thread cannot open)."""
    if request is not None:
        groups = request.session.access().groups("user")
    else:
        with store.session(write=False) as session:
            groups = session.access().groups("user")
    containing: dict[tuple[str, str], list[str]] = {}
    for group in groups:
        for member in group.members:
            containing.setdefault(member, []).append(group.name)
    found: set[str] = set()
    todo = list(containing.get(("user", principal), ()))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(containing.get(("group", name), ()))
    return frozenset(found)


def _text(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value.rstrip(b" \x00")


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
