"""The audit log: DIR/audit.log, one JSON object per line, appended by server and admin CLI.

Three kinds of lines:
  {"kind": "request", "time", "principal", "address", "version", "items": [{"operation",
   "ids", "status", "reason"}]}     every KMIP request message the server answered (with
                                   "delegation": {"ticket", "holder"} if made with a
                                   Delegated Login ticket)
  {"kind": "admin", "time", "who", "action", ...}   every change to users, groups, grants
  {"kind": "delegation", "time", "principal", "ticket", ...}   every Delegated Login

A request line names objects only by their Unique Identifiers: no payload, attribute
value or result message goes in (they may carry key material or secret attribute values).
Each line is one write(2) on a descriptor opened with O_APPEND, so the server's worker
threads and an admin command running beside it never interleave within a line; the writer
thread's group of messages (Engine.handle_many) writes its lines, one per message, in one
write(2) (`write_many`): whole lines, atomic together.

Rotation (`[log] audit_max_bytes`): the writer that takes the file past the size renames
it to audit-<UTC time>.log under an flock beside it and starts a new one; every writer
(other server processes, the admin CLI) notices within a second that the path names
another file and reopens it, so no line is lost: one written meanwhile lands at the end
of the renamed file. `audit_keep` rotated files are kept (0: all). An outside tool such
as logrotate may rename the file the same way.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from pkcs11_kmip.kmip.messages import RequestBatchItem
from pkcs11_kmip_server.access import display_name
from pkcs11_kmip_server.outcome import Outcome

AUDIT_FILE = "audit.log"
# How often a writer checks that the path still names its file (rotated by another writer
# or logrotate): lines written in between land at the end of the renamed file, none lost.
FOLLOW_EVERY = 1.0  # seconds
MAX_IDS = 50  # per item: a Locate may answer thousands; the line says how many in all

log = logging.getLogger("pkcs11_kmip_server.audit")


# Per payload class, its fields that hold Unique Identifiers (filled on first use).
_ID_FIELDS: dict[type, tuple[str, ...]] = {}


def _identifiers(payload: object) -> list[str]:
    """The Unique Identifiers a payload names (fields *unique_identifier*, and their lists)."""
    if payload is None:
        return []
    kind = type(payload)
    names = _ID_FIELDS.get(kind)
    if names is None:
        fields = dataclasses.fields(payload) if dataclasses.is_dataclass(payload) else ()
        names = _ID_FIELDS[kind] = tuple(f.name for f in fields if "unique_identifier" in f.name)
    found = []
    for name in names:
        value = getattr(payload, name)
        if isinstance(value, list):
            found += [uid for uid in value if isinstance(uid, str)]
        elif isinstance(value, str):
            found.append(value)
    return found


# One line's JSON: compact, and any value JSON has no form for (a date) as its text. A line
# is a tree of dicts, lists and scalars made for it, never a cycle: no cycle check.
_dumps = json.JSONEncoder(separators=(",", ":"), default=str, check_circular=False).encode


@functools.cache
def _title(name: str) -> str:
    return name.replace("_", " ").title()


# A line's words for a Result Status or Reason, by member (an Enum member's name is a slow
# property in Python 3.11); one cache each, as members of the two enumerations share values.
_status_title = functools.cache(lambda status: _title(status.name))
_reason_title = functools.cache(lambda reason: _title(reason.name))


@functools.lru_cache(maxsize=4)
def _time_text(now: datetime, _zone: tzinfo | None) -> str:
    """`now` as a line's time: made once per second rather than per line (the messages of a
    second share their `now`); keyed by the time zone too, as equal instants in two zones
    are equal datetimes with different texts."""
    return now.isoformat()


_operation_name = functools.cache(display_name)


class LaneLines:
    """Audit lines for messages a lane answers (fast_lane.py, get_lane.py): one item, so no
    batch to format, each the very line the general path writes; the time's text is made
    once a second, as lanes answer thousands of messages a second."""

    def __init__(self) -> None:
        self._time: tuple[int, str] = (-1, "")

    def entry(
        self,
        now: datetime,
        seconds: int,
        principal: str,
        address: str,
        version: tuple[int, int],
        items: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """The line for a message answered at `now` (`seconds`: its whole seconds since the epoch)."""
        cached_seconds, time_text = self._time
        if cached_seconds != seconds:
            time_text = now.replace(microsecond=0).isoformat()
            self._time = (seconds, time_text)
        return {
            "kind": "request",
            "time": time_text,
            "principal": principal,
            "address": address,
            "version": f"{version[0]}.{version[1]}",
            "items": items,
        }


class AuditLog:
    def __init__(self, path: Path, max_bytes: int = 0, keep: int = 0) -> None:
        """`max_bytes`: rotate past this size (0: never); `keep`: rotated files kept (0: all)."""
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._lock = threading.Lock()
        self._descriptor, self._inode = self._open()
        self._followed = time.monotonic()

    def _open(self) -> tuple[int, int]:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return descriptor, os.fstat(descriptor).st_ino

    def close(self) -> None:
        os.close(self._descriptor)

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line (a failure to write is logged, not raised: the request is answered)."""
        self.write_many([entry])

    def write_many(self, entries: Sequence[dict[str, Any]]) -> None:
        """Append a line per entry in one write(2): a group of messages pays one system call,
        one lock and one size check instead of one per message (logged, not raised)."""
        if not entries:
            return
        data = "".join([_dumps(entry) + "\n" for entry in entries]).encode()
        try:
            with self._lock:
                now = time.monotonic()
                if now - self._followed >= FOLLOW_EVERY:
                    self._followed = now
                    self._follow()
                written = os.write(self._descriptor, data)
                while written < len(data):  # a short write (a full disk, a signal): the rest
                    data = data[written:]
                    written = os.write(self._descriptor, data)
                if self.max_bytes and os.fstat(self._descriptor).st_size >= self.max_bytes:
                    self._rotate()
        except OSError:
            log.exception("cannot write the audit log %s", self.path)

    def _follow(self) -> None:
        """Reopen the path if it now names another file (rotated by another writer or tool)."""
        try:
            current = os.stat(self.path).st_ino
        except FileNotFoundError:
            current = -1
        if current != self._inode:
            os.close(self._descriptor)
            self._descriptor, self._inode = self._open()

    def _rotate(self) -> None:
        """Rename the full file aside and start a new one, once over all writers (flock)."""
        with open(f"{self.path}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._follow()  # another writer may have rotated it while this one waited
            if os.fstat(self._descriptor).st_size < self.max_bytes:
                return
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
            os.rename(self.path, self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}"))
            os.close(self._descriptor)
            self._descriptor, self._inode = self._open()
            if self.keep:
                rotated = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
                for old in rotated[: -self.keep]:
                    old.unlink(missing_ok=True)

    @staticmethod
    def request_entry(
        now: datetime,
        principal: str | None,
        address: str,
        version: tuple[int, int] | None,
        batch: Sequence[RequestBatchItem | Outcome],
        outcomes: Sequence[Outcome],
        **details: Any,
    ) -> dict[str, Any]:
        """One request message: who, from where; per batch item what, on which objects, with what
        result; `details`: more about who (a delegated ticket's name and holder, delegation.py)."""
        items = []
        for position, outcome in enumerate(outcomes):
            request = batch[position] if position < len(batch) else None
            asked = _identifiers(request.request_payload) if isinstance(request, RequestBatchItem) else []
            ids = list(dict.fromkeys(asked + _identifiers(outcome.payload)))
            item: dict[str, Any] = {
                "operation": _operation_name(outcome.operation) if outcome.operation is not None else None,
                "ids": ids[:MAX_IDS],
                "status": _status_title(outcome.status),
            }
            if len(ids) > MAX_IDS:
                item["ids_total"] = len(ids)
            if outcome.reason is not None:
                item["reason"] = _reason_title(outcome.reason)
            items.append(item)
        return {
            "kind": "request",
            "time": _time_text(now, now.tzinfo),
            "principal": principal,
            "address": address,
            "version": f"{version[0]}.{version[1]}" if version else None,
            **details,
            "items": items,
        }

    def admin(self, who: str, action: str, **details: Any) -> None:
        """One administrative change (users, groups, grants)."""
        now = datetime.now(UTC).replace(microsecond=0)
        self.write({"kind": "admin", "time": now.isoformat(), "who": who, "action": action, **details})
