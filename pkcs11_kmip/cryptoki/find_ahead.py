"""C_FindObjects read ahead: the handles of a search fetched in one round trip.

Applications call C_FindObjects until it answers fewer handles than they asked for,
often one at a time (python-pkcs11 asks for 10, gets 1, and asks again to learn that
the search is over: two round trips for one key). Here each forwarded C_FindObjects
asks the module for at least READ_AHEAD handles; those beyond what the application
asked are kept for the session and handed out by the next C_FindObjects, and once the
module has answered fewer than it was asked, the search is known to be over: the next
C_FindObjects answers none without the server. The search itself stays the module's:
C_FindObjectsInit and C_FindObjectsFinal are forwarded as they are (the module still
answers CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED), and drop what was kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pkcs11_kmip.cryptoki.calls import Call
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.wire import OutData, OutRequest, Value

Answer = tuple[int, dict[str, Value] | None]
Forward = Callable[[Call, Mapping[str, Value]], Answer]

READ_AHEAD = 64
"""Handles asked of the module at least, per forwarded C_FindObjects."""

_ENDS_SEARCH = frozenset({"C_FindObjectsInit", "C_FindObjectsFinal", "C_CloseSession", "C_SessionCancel"})


@dataclass
class _Search:
    handles: tuple[int, ...]  # fetched, not yet handed out
    over: bool  # the module answered fewer than it was asked


class FindAhead:
    """Per application context: what each session's search has fetched ahead."""

    def __init__(self) -> None:
        self._searches: dict[int, _Search] = {}

    def call(self, call: Call, inputs: Mapping[str, Value], forward: Forward) -> Answer:
        name = call.name
        session = inputs.get("hSession")
        if name == "C_CloseAllSessions":
            self._searches.clear()
        elif name in _ENDS_SEARCH and isinstance(session, int):
            self._searches.pop(session, None)
        elif name == "C_FindObjects" and isinstance(session, int):
            return self._find(session, call, inputs, forward)
        return forward(call, inputs)

    def _find(self, session: int, call: Call, inputs: Mapping[str, Value], forward: Forward) -> Answer:
        request = inputs["phObject"]
        if not isinstance(request, OutRequest):
            return forward(call, inputs)
        wanted = request.capacity
        search = self._searches.get(session)
        if search is not None and (search.handles or search.over):
            given, search.handles = search.handles[:wanted], search.handles[wanted:]
            return CKR.OK, {"phObject": OutData(len(given), given)}
        asked = max(wanted, READ_AHEAD)
        rv, outputs = forward(call, {**inputs, "phObject": OutRequest(True, asked)})
        answer = outputs.get("phObject") if outputs is not None else None
        if rv != CKR.OK or not isinstance(answer, OutData) or not isinstance(answer.data, tuple):
            self._searches.pop(session, None)
            return rv, outputs
        handles = answer.data
        self._searches[session] = _Search(handles[wanted:], over=len(handles) < asked)
        given = handles[:wanted]
        return CKR.OK, {"phObject": OutData(len(given), given)}
