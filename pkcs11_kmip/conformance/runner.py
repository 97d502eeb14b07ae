"""Running test-case files against a server: the I/O edge around `Replay`.

`run_files` replays files in order over one `exchange(bytes) -> bytes` function (in
practice `KmipClient.exchange`), so they share one connection and one client identity:
what a file leaves behind is visible to the next. That is what the OASIS scenarios
that span files need (see PREREQUISITES); a file that should see nothing of another
runs in a session of its own (another client identity).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from pkcs11_kmip.conformance.replay import CaseResult, Replay, Session
from pkcs11_kmip.conformance.testcase import TestCaseError, load
from pkcs11_kmip.conformance.tolerances import DEFAULT_TIME_TOLERANCE
from pkcs11_kmip.kmip.client import KmipConnectionError

Exchange = Callable[[bytes], bytes]
Clock = Callable[[], float]

# OASIS profile files that work on objects an earlier file of the same profile left
# (named without the version suffix): run those first, in the same session.
PREREQUISITES: dict[str, tuple[str, ...]] = {
    "SASED-M-3": ("SASED-M-2",),  # locates and destroys the secret data SASED-M-2 registers
    "TL-M-3": ("TL-M-2",),  # locates, reads and destroys the key TL-M-2 creates
}
_VERSION_SUFFIX = re.compile(r"(.*)-(1[0-4]|2[0-9])\Z")


def prerequisites(name: str) -> list[str]:
    """The files (by name, same version) that must run before `name` in the same session."""
    found = _VERSION_SUFFIX.match(name)
    if found is None:
        return []
    stem, version = found.groups()
    return [f"{before}-{version}" for before in PREREQUISITES.get(stem, ())]


def run_case(
    path: str | Path,
    exchange: Exchange,
    session: Session,
    *,
    clock: Clock = time.time,
    time_tolerance: int = DEFAULT_TIME_TOLERANCE,
) -> CaseResult:
    """Replay one file; a broken connection or an unreadable file is a failure of that file."""
    path = Path(path)
    try:
        case = load(path)
    except (OSError, TestCaseError) as error:
        return CaseResult(path.stem, False, f"cannot read {path}: {error}", 0, str(path))
    replay = Replay(case, session, time_tolerance)
    while (request := replay.next_request(int(clock()))) is not None:
        try:
            response = exchange(request)
        except (KmipConnectionError, OSError) as error:
            replay.fail(f"no response: {error}")
            break
        replay.receive(response)
    result = replay.result(str(path))
    missing = [name for name in prerequisites(case.name) if name not in session.passed]
    if not result.passed and missing:
        hint = f" (this file needs what {', '.join(missing)} leaves: run it first, in the same session)"
        return replace(result, difference=f"{result.difference}{hint}")
    return result


def run_files(
    paths: Iterable[str | Path],
    exchange: Exchange,
    *,
    session: Session | None = None,
    clock: Clock = time.time,
    time_tolerance: int = DEFAULT_TIME_TOLERANCE,
) -> list[CaseResult]:
    session = session if session is not None else Session()
    return [run_case(path, exchange, session, clock=clock, time_tolerance=time_tolerance) for path in paths]


def summary(results: Sequence[CaseResult]) -> str:
    passed = sum(result.passed for result in results)
    return f"{passed} passed, {len(results) - passed} failed"
