"""The session handles the application holds, kept apart from the server's.

A server context ends when its server restarts, closes it, or is failed over from;
its sessions end with it, and the context opened in its place numbers its sessions
from the start again (a module worker per context: SoftHSM2 counts from 1). Were
the server's handles shown as they are, a thread still holding a handle of the lost
context would, once another thread opened a session, hold that new session's handle,
and its next call would run in the other thread's session (CKR_OPERATION_ACTIVE at
best, another thread's key at worst). So the application sees handles this library
hands out, never reused while the process lives, each standing for one server handle
in one server context; one of an ended context answers CKR_SESSION_HANDLE_INVALID.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Session:
    """What an application's session handle stands for."""

    context: int
    """The server context it was opened in (Remote.contexts at the time)."""
    slot: int
    handle: int
    """The server's handle for it."""


class SessionHandles:
    """The application's open sessions, by the handle it was given (thread-safe)."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)
        self._open: dict[int, Session] = {}
        self._lock = threading.Lock()

    def after_fork_in_child(self) -> None:
        """Drop a lock that another (now gone) thread of the parent may have held."""
        self._lock = threading.Lock()

    def opened(self, session: Session) -> int:
        """The handle the application gets for a session the server opened."""
        with self._lock:
            shown = next(self._numbers)
            self._open[shown] = session
        return shown

    def get(self, shown: int) -> Session | None:
        return self._open.get(shown)

    def open_in(self, shown: int, context: int) -> bool:
        """Whether the handle names a session open in that server context."""
        session = self._open.get(shown)
        return session is not None and session.context == context

    def closed(self, shown: int) -> None:
        with self._lock:
            self._open.pop(shown, None)

    def closed_on(self, slot: int) -> None:
        """C_CloseAllSessions: every session on the slot is gone, of whichever context."""
        with self._lock:
            self._open = {shown: s for shown, s in self._open.items() if s.slot != slot}

    def clear(self) -> None:
        """C_Initialize or C_Finalize: no session is open. Numbering goes on, so that a
        handle kept from before never names a session opened after."""
        with self._lock:
            self._open.clear()
