"""Sans-I/O framing of a KMIP byte stream into whole messages.

Both ends use it: feed whatever bytes arrived, take out complete messages. The
8-byte header is checked against the limits before any of the body is kept, so a
peer claiming a 100 MB message is refused after 8 bytes.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS, Limits
from pkcs11_kmip.kmip.ttlv.binary import HEADER_SIZE, frame_length


class MessageReader:
    """Splits a stream of binary TTLV into messages (raises CodecError on a bad header)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._expected: int | None = None

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_message(self) -> bytes | None:
        """The next complete message, or None until more bytes arrive."""
        if self._expected is None:
            if len(self._buffer) < HEADER_SIZE:
                return None
            self._expected = frame_length(bytes(self._buffer[:HEADER_SIZE]), self.limits)
        if len(self._buffer) < self._expected:
            return None
        message = bytes(self._buffer[: self._expected])
        del self._buffer[: self._expected]
        self._expected = None
        return message

    def bytes_wanted(self) -> int:
        """How many more bytes complete the message being read (8 while awaiting a header)."""
        if self._expected is None:
            return max(HEADER_SIZE - len(self._buffer), 1)
        return max(self._expected - len(self._buffer), 1)

    @property
    def mid_message(self) -> bool:
        """Whether part of a message has arrived (a peer going quiet now is cut off mid-way)."""
        return bool(self._buffer)
