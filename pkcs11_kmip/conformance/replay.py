"""Replaying one test case, without I/O: request bytes out, response bytes in.

    replay = Replay(case, session)
    while (request := replay.next_request(now=int(time.time()))) is not None:
        replay.receive(exchange(request))
    print(replay.result())

Before a request goes out its placeholders are filled in: "$NOW+N" with the time of
sending, others with what an earlier response bound them to, or (never seen before)
with a fresh value the client chooses. Each response is compared with the expected
one; the first difference ends the replay.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from pkcs11_kmip.conformance.compare import Bindings, Comparison, Difference, Typed
from pkcs11_kmip.conformance.testcase import NOW, TestCase
from pkcs11_kmip.conformance.tolerances import DEFAULT_TIME_TOLERANCE
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, binary


@dataclass
class Session:
    """What the files replayed over one connection (one client identity) share."""

    generated: set[str] = field(default_factory=set)  # objects whose keys the server generated
    chosen: dict[tuple[str, int, Typed], Typed] = field(default_factory=dict)
    passed: set[str] = field(default_factory=set)  # names of the files that passed so far


@dataclass(frozen=True)
class CaseResult:
    """One file's verdict: PASS, or FAIL with the first difference."""

    name: str
    passed: bool
    difference: str | None = None
    messages: int = 0  # exchanges completed
    path: str | None = None
    notes: tuple[str, ...] = ()  # the tolerances applied, where and why

    def line(self) -> str:
        return f"PASS {self.name}" if self.passed else f"FAIL {self.name}: {self.difference}"


class Replay:
    """One file's replay: next_request() and receive() in turn until done, then result()."""

    def __init__(
        self, case: TestCase, session: Session, time_tolerance: int = DEFAULT_TIME_TOLERANCE
    ) -> None:
        self.case = case
        self.session = session
        self.bindings = Bindings(session.chosen)
        self.comparison = Comparison(case.placeholders, self.bindings, session.generated, time_tolerance)
        self._index = 0
        self._sent_at: int | None = None
        self.difference: Difference | None = None

    @property
    def done(self) -> bool:
        return self.difference is not None or self._index >= len(self.case.steps)

    def next_request(self, now: int) -> bytes | None:
        """The next request, encoded, with placeholders filled in for time `now` (epoch seconds)."""
        if self.done or self._sent_at is not None:
            return None
        step = self.case.steps[self._index]
        try:
            data = binary.encode(self._fill(step.request, now))
        except (CodecError, _Unfillable) as error:
            self.difference = Difference((f"message {step.number}",), f"cannot send the request: {error}")
            return None
        self._sent_at = now
        return data

    def receive(self, data: bytes) -> Difference | None:
        """Compare the response to the last request; the difference, if any, ends the replay."""
        if self._sent_at is None:
            raise RuntimeError("receive() without a request sent")
        step = self.case.steps[self._index]
        sent_at, self._sent_at = self._sent_at, None
        try:
            actual = binary.decode(data)
        except CodecError as error:
            self.difference = Difference(
                (f"message {step.number}",), f"the response does not decode: {error}"
            )
            return self.difference
        difference = self.comparison.message(step.number, step.expected, actual, step.request, sent_at)
        if difference is not None:
            self.difference = difference
            return difference
        self._index += 1
        if self._index == len(self.case.steps):
            self.session.passed.add(self.case.name)
        return None

    def fail(self, text: str) -> None:
        """End the replay with a failure the transport saw (e.g. the connection broke)."""
        number = self.case.steps[min(self._index, len(self.case.steps) - 1)].number
        self.difference = Difference((f"message {number}",), text)

    def result(self, path: str | None = None) -> CaseResult:
        if self.difference is None and self._index < len(self.case.steps):
            self.fail("the replay stopped before the end of the file")
        return CaseResult(
            self.case.name,
            self.difference is None,
            None if self.difference is None else str(self.difference),
            self._index,
            path,
            tuple(self.comparison.notes),
        )

    # --- filling in placeholders ----------------------------------------------------------------

    def _fill(self, item: Item, now: int) -> Item:
        if item.type is ItemType.STRUCTURE:
            return Item(item.tag, item.type, [self._fill(child, now) for child in item.children])
        name = self.case.placeholders.name_of(item)
        if name is None:
            return item
        time = NOW.match(name)
        if time is not None:
            sign, amount = time.groups()
            seconds = now + int(amount or 0) * (-1 if sign == "-" else 1)
            if item.type is ItemType.DATE_TIME:
                return Item(item.tag, item.type, seconds)
            if item.type is ItemType.DATE_TIME_EXTENDED:
                return Item(item.tag, item.type, seconds * 1_000_000)
            raise _Unfillable(f"{name} in a {item.type.name}")
        bound = self.bindings.get(name)
        if bound is None:
            bound = (item.type, _fresh(item.type, now))
            self.bindings.bind(name, bound)
        if bound[0] is not item.type:
            raise _Unfillable(f"{name} is bound to a {bound[0].name} but used in a {item.type.name}")
        return Item(item.tag, item.type, bound[1])


class _Unfillable(Exception):
    pass


def _fresh(item_type: ItemType, now: int) -> int | bool | str | bytes:
    """A value the client chooses for a placeholder no response has bound (e.g. a random id)."""
    if item_type is ItemType.TEXT_STRING:
        return f"conformance-{secrets.token_hex(8)}"
    if item_type is ItemType.BYTE_STRING:
        return secrets.token_bytes(16)
    if item_type in (ItemType.DATE_TIME, ItemType.DATE_TIME_EXTENDED):
        return now if item_type is ItemType.DATE_TIME else now * 1_000_000
    return secrets.randbelow(2**31 - 1) + 1
