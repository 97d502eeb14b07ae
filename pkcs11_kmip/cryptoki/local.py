"""Answers the library gives itself, where the module's answer cannot have changed.

Every forwarded call costs a round trip to the server and the HSM; an application
asks the same things again and again (python-pkcs11 reads an object's class and key
type each time it finds it, and asks for the mechanism list per operation). What a
module must answer the same way for the life of an application context is kept
here, per context (one C_Initialize), and answered without the server. The rules,
and why each is safe, are in docs/pkcs11-forwarding.md ("Local answers").

Works on wire values (module.Library's inputs and outputs), never on C memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from pkcs11_kmip.cryptoki.calls import Call
from pkcs11_kmip.cryptoki.constants import CKA, CKR
from pkcs11_kmip.cryptoki.find_ahead import FindAhead
from pkcs11_kmip.cryptoki.messages import MessageOperations
from pkcs11_kmip.cryptoki.single_part import SingleParts
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeQuery,
    OutData,
    OutRequest,
    StructValue,
    Value,
    ulong,
)

Answer = tuple[int, dict[str, Value] | None]

# Attributes no Cryptoki function changes once an object exists (C_SetAttributeValue
# and C_CopyObject refuse them, or make a new object).
IMMUTABLE_ATTRIBUTES = frozenset(
    {
        CKA.CLASS,
        CKA.TOKEN,
        CKA.PRIVATE,
        CKA.KEY_TYPE,
        CKA.MODULUS,
        CKA.MODULUS_BITS,
        CKA.PUBLIC_EXPONENT,
        CKA.VALUE_LEN,
        CKA.LOCAL,
        CKA.NEVER_EXTRACTABLE,
        CKA.ALWAYS_SENSITIVE,
        CKA.KEY_GEN_MECHANISM,
        CKA.EC_PARAMS,
        CKA.EC_POINT,
    }
)

# Calls after which cached object attributes may no longer be what the module would
# answer: a session closed (its session objects are gone; the last one logs out), a
# logout (private objects are hidden), a token initialized.
_FORGET_OBJECTS = frozenset({"C_CloseSession", "C_CloseAllSessions", "C_Logout", "C_InitToken"})
# Calls after which one object's cached attributes are dropped.
_FORGET_OBJECT = frozenset({"C_DestroyObject", "C_SetAttributeValue"})


class LocalAnswers:
    """What one application context may answer locally, learned from forwarded answers.

    `answer` gives the local answer of a call, or None (forward it); `learn` takes a
    forwarded call's answer. `before` is read before forwarding and given back to
    `learn`: an answer that raced with a call that invalidated what it says (another
    thread destroying the object meanwhile) is not kept. `session_open` says whether the
    application has a session of that handle open in this context (module.Library's
    session handles).
    """

    def __init__(self, session_open: Callable[[int], bool]) -> None:
        self._lock = threading.Lock()
        self._changes = 0
        self._mechanism_lists: dict[int, tuple[int, ...]] = {}
        self._mechanism_info: dict[tuple[int, int], StructValue] = {}
        self._session_open = session_open
        self._objects: dict[int, dict[int, bytes]] = {}  # object handle -> immutable values
        self.single_parts = SingleParts()
        self.find_ahead = FindAhead()
        self.messages = MessageOperations()

    @property
    def before(self) -> int:
        return self._changes

    # -- answering -------------------------------------------------------------------------

    def answer(self, call: Call, inputs: Mapping[str, Value]) -> Answer | None:
        name = call.name
        if name == "C_GetAttributeValue":
            return self._attributes(inputs)
        if name == "C_GetMechanismList":
            return self._mechanism_list(inputs)
        if name == "C_GetMechanismInfo":
            info = self._mechanism_info.get((ulong(inputs["slotID"]), ulong(inputs["type"])))
            return None if info is None else (CKR.OK, {"pInfo": dict(info)})
        return None

    def _mechanism_list(self, inputs: Mapping[str, Value]) -> Answer | None:
        mechanisms = self._mechanism_lists.get(ulong(inputs["slotID"]))
        request = inputs["pMechanismList"]
        if mechanisms is None or not isinstance(request, OutRequest):
            return None
        count = len(mechanisms)
        if not request.present:
            return CKR.OK, {"pMechanismList": OutData(count)}
        if request.capacity < count:
            return CKR.BUFFER_TOO_SMALL, {"pMechanismList": OutData(count)}
        return CKR.OK, {"pMechanismList": OutData(count, mechanisms)}

    def _attributes(self, inputs: Mapping[str, Value]) -> Answer | None:
        """All asked attributes known, in a session this application has open: the
        module's answer, buffer rules included; else None (the whole call is forwarded)."""
        query = inputs["pTemplate"]
        known = self._objects.get(ulong(inputs["hObject"]))
        if known is None or not self._session_open(ulong(inputs["hSession"])) or not isinstance(query, tuple):
            return None
        rv = CKR.OK
        results = []
        for entry in query:
            assert isinstance(entry, AttributeQuery)
            value = known.get(entry.type)
            if value is None:
                return None
            if not entry.has_buffer:
                results.append(Attribute(entry.type, None, len(value)))
            elif entry.capacity < len(value):
                results.append(Attribute(entry.type, None, None))
                rv = CKR.BUFFER_TOO_SMALL
            else:
                results.append(Attribute(entry.type, value, len(value)))
        return rv, {"pTemplate": tuple(results)}

    # -- learning --------------------------------------------------------------------------

    def learn(
        self,
        call: Call,
        inputs: Mapping[str, Value],
        rv: int,
        outputs: Mapping[str, Value] | None,
        before: int,
    ) -> None:
        name = call.name
        with self._lock:
            if name in _FORGET_OBJECTS or name in _FORGET_OBJECT or rv == CKR.OBJECT_HANDLE_INVALID:
                self._forget(name, inputs, rv)
                return
            if outputs is None or before != self._changes:
                return
            if name == "C_GetAttributeValue":
                self._keep_attributes(ulong(inputs["hObject"]), outputs["pTemplate"])
            elif name == "C_GetMechanismList" and rv == CKR.OK:
                answer = outputs["pMechanismList"]
                if isinstance(answer, OutData) and isinstance(answer.data, tuple):
                    self._mechanism_lists[ulong(inputs["slotID"])] = answer.data
            elif name == "C_GetMechanismInfo" and rv == CKR.OK:
                info = outputs["pInfo"]
                if isinstance(info, dict):
                    self._mechanism_info[(ulong(inputs["slotID"]), ulong(inputs["type"]))] = dict(info)

    def _keep_attributes(self, handle: int, results: Value) -> None:
        if not isinstance(results, tuple):
            return
        for attribute in results:
            if (
                isinstance(attribute, Attribute)
                and attribute.type in IMMUTABLE_ATTRIBUTES
                and isinstance(attribute.value, bytes)
            ):
                self._objects.setdefault(handle, {})[attribute.type] = attribute.value

    def _forget(self, name: str, inputs: Mapping[str, Value], rv: int) -> None:
        """Drop what the call may have made untrue (whatever its CK_RV: a failure may
        still have changed the module's state, e.g. a session closed by a removal)."""
        self._changes += 1
        if name in _FORGET_OBJECT or rv == CKR.OBJECT_HANDLE_INVALID:
            for handle in ("hObject", "hKey"):
                if handle in inputs:
                    self._objects.pop(ulong(inputs[handle]), None)
            return
        self._objects.clear()
