"""The slots of one client context in the slot form of [pkcs11] ([[pkcs11.slot]]).

A context sees the slots its client may use, under the IDs server.toml gives them. Its
backends: one worker per module (its own instance of the module, in which the tokens
are picked by label or serial when the context is made; slots of one module share it),
and the native token if it sees that slot. The router answers C_GetSlotList itself,
turns the server's slot IDs into the backend's on the way in (and back in
C_GetSessionInfo), and keeps which slot each session was opened on: a session handle it
did not hand out, or one closed since, is CKR_SESSION_HANDLE_INVALID without a backend
seeing it, and a call on a session goes to that slot's backend under its rules.

In a context with several backends, every session and object handle carries its
backend's number (1, 2, ...) from bit 40 up (`TAG_SHIFT`), so that the handles of two
modules never collide (the client library keeps object attributes by handle), and a
handle of one backend given in a session of another is refused
(CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, ...) before any module sees it. With
one backend, handles are the module's own, whatever their size.

With pin = "server" the application's C_Login PIN is checked against the native PIN
table (DIR/pins.toml) and the token is logged in with the server's PIN, which the
application never learns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME
from pkcs11_kmip.cryptoki.constants import CKR, CKU_SO
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import OutData, OutRequest, Value
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

TAG_SHIFT = 40
"""With several backends, backend i's handles are the module's plus (i + 1) << TAG_SHIFT."""
_UNTAGGED = (1 << TAG_SHIFT) - 1
_OBJECT_INPUTS = {
    "hObject": CKR.OBJECT_HANDLE_INVALID,
    "hKey": CKR.KEY_HANDLE_INVALID,
    "hBaseKey": CKR.KEY_HANDLE_INVALID,
    "hAuthenticationKey": CKR.KEY_HANDLE_INVALID,
    "hEncryptionKey": CKR.KEY_HANDLE_INVALID,
    "hWrappingKey": CKR.WRAPPING_KEY_HANDLE_INVALID,
    "hUnwrappingKey": CKR.UNWRAPPING_KEY_HANDLE_INVALID,
}
"""Input fields holding an object handle, and what a handle of another backend gets."""
_OBJECT_OUTPUTS = frozenset({"phObject", "phKey", "phNewObject", "phPublicKey", "phPrivateKey"})


@dataclass(frozen=True)
class Slot:
    """A slot a context sees: its settings, its backend (an index) and the slot ID there."""

    settings: SlotSettings
    real_id: int
    backend: int = 0


def tag(mark: int, handle: int) -> int:
    """A module's handle as the application sees it, `mark` its backend's number."""
    if handle >> TAG_SHIFT:
        raise CKRError(CKR.GENERAL_ERROR, "a module handle too large to tag with its backend")
    return handle | mark << TAG_SHIFT


class SlotRouter:
    """The Backend of a slot-form context: routes each call to its slot's backend."""

    def __init__(
        self, principal: str, backends: Sequence[Backend], slots: Mapping[int, Slot], pins: Pins | None
    ) -> None:
        self.principal = principal
        self.backends = list(backends)
        self.slots = dict(slots)
        self.pins = pins
        self._by_real = {(slot.backend, slot.real_id): server_id for server_id, slot in self.slots.items()}
        self._sessions: dict[int, int] = {}  # session handle (as shown) -> server slot ID
        self._tagged = len(self.backends) > 1

    @property
    def gone(self) -> bool:
        """Whether a backend lost its worker (the context then ends)."""
        return any(getattr(backend, "gone", False) for backend in self.backends)

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        call = BY_ID[function_id]
        inputs = wire.decode_inputs(call, data)
        if call.name == "C_GetSlotList":
            return self._slot_list(inputs["pSlotList"])
        changed: dict[str, Value] = {}
        if "slotID" in inputs:
            server_id = _int(inputs["slotID"])
            slot = self.slots.get(server_id)
            if slot is None:
                return CKR.SLOT_ID_INVALID, None
            changed["slotID"] = slot.real_id
        elif "hSession" in inputs:
            known = self._sessions.get(_int(inputs["hSession"]))
            if known is None:
                return CKR.SESSION_HANDLE_INVALID, None
            server_id, slot = known, self.slots[known]
            for name in ("hSession", *_OBJECT_INPUTS) if self._tagged else ():
                if name in inputs:
                    handle = _int(inputs[name])
                    if handle >> TAG_SHIFT != slot.backend + 1:
                        return _OBJECT_INPUTS[name], None  # (a session's own tag always matches)
                    changed[name] = handle & _UNTAGGED
        else:  # no slot or session in it (none such is forwarded today)
            return self.backends[0].call(function_id, data, request)
        if slot.settings.pin == "server":
            if call.name in _SERVER_PIN_REFUSED:
                return CKR.FUNCTION_NOT_SUPPORTED, None
            if call.name in _LOGINS:
                rv, pin = self._server_pin(inputs, slot.settings)
                if rv != CKR.OK:
                    return rv, None
                changed["pPin"] = pin
        if changed:
            data = wire.encode_inputs(call, {**inputs, **changed})
        rv, output = self.backends[slot.backend].call(function_id, data, request)
        try:
            return rv, self._after(call.name, inputs, slot, server_id, rv, output)
        except CKRError as error:
            log.error("%s for %s: %s", call.name, self.principal, error)
            return error.rv, None

    def _slot_list(self, request: Value) -> tuple[int, bytes | None]:
        """C_GetSlotList: the slots this context sees (their tokens were found when it was made)."""
        assert isinstance(request, OutRequest)
        ids = tuple(sorted(self.slots))
        call = BY_NAME["C_GetSlotList"]
        if request.present and request.capacity < len(ids):
            return CKR.BUFFER_TOO_SMALL, wire.encode_outputs(call, {"pSlotList": OutData(len(ids))})
        answer = OutData(len(ids), ids if request.present else None)
        return CKR.OK, wire.encode_outputs(call, {"pSlotList": answer})

    def _server_pin(self, inputs: dict[str, Value], slot: SlotSettings) -> tuple[int, bytes]:
        """C_Login on a pin = "server" slot: the client's native PIN checked, the server's
        PIN to send in its place."""
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
            return CKR.OK, slot.server_pin()
        except OSError as error:
            log.error("slot %d: cannot read pin_file: %s", slot.id, error.strerror)
            return CKR.DEVICE_ERROR, b""

    def _after(
        self, name: str, inputs: dict[str, Value], slot: Slot, server_id: int, rv: int, output: bytes | None
    ) -> bytes | None:
        """Keep the session map up to date, and show the server's slot IDs and tagged
        handles in what comes back."""
        if name == "C_CloseSession" and rv in _CLOSES:
            self._sessions.pop(_int(inputs["hSession"]), None)
        elif name == "C_CloseAllSessions" and rv == CKR.OK:
            self._sessions = {h: s for h, s in self._sessions.items() if s != server_id}
        if output is None or rv not in (CKR.OK, CKR.BUFFER_TOO_SMALL):
            return output
        call = BY_NAME[name]
        if name == "C_OpenSession" and rv == CKR.OK:
            outputs = wire.decode_outputs(call, output)
            handle = _int(outputs["phSession"])
            if self._tagged:
                handle = tag(slot.backend + 1, handle)
                output = wire.encode_outputs(call, {**outputs, "phSession": handle})
            self._sessions[handle] = server_id
            return output
        if name == "C_GetSessionInfo" and rv == CKR.OK:
            info = wire.decode_outputs(call, output)["pInfo"]
            assert isinstance(info, dict)
            real = (slot.backend, _int(info["slotID"]))
            return wire.encode_outputs(
                call, {"pInfo": {**info, "slotID": self._by_real.get(real, server_id)}}
            )
        if not self._tagged or not _OBJECT_OUTPUTS & {field.name for field in wire.plan(call).outputs}:
            return output
        outputs = wire.decode_outputs(call, output)
        for field in _OBJECT_OUTPUTS & outputs.keys():
            value = outputs[field]
            if isinstance(value, int):
                outputs[field] = tag(slot.backend + 1, value)
            elif isinstance(value, OutData) and isinstance(value.data, tuple):
                outputs[field] = OutData(value.length, tuple(tag(slot.backend + 1, h) for h in value.data))
        return wire.encode_outputs(call, outputs)

    def finalize(self) -> int:
        """Finalize every backend; the first failure is the answer."""
        self._sessions.clear()
        results = [backend.finalize() for backend in self.backends]
        return next((rv for rv in results if rv != CKR.OK), CKR.OK)


def find_tokens(backend: Backend, slots: Sequence[SlotSettings], index: int) -> dict[int, Slot]:
    """The module slots holding the configured tokens, by server slot ID, on backend
    `index`. A token that is not there leaves its slot out of this context (logged): as
    if it were removed."""
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
        found[slot.id] = Slot(slot, matches[0], index)
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
