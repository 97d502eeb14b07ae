"""The one exception the KMIP codecs raise, whatever the input.

A server maps it to Result Reason "Invalid Message"; a CLI prints it. Its message
says where (byte offset or element path) and why.
"""

from __future__ import annotations


class CodecError(ValueError):
    """Malformed, oversized or unrepresentable KMIP input or output."""

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(message if offset is None else f"at byte {offset}: {message}")


class LimitExceeded(CodecError):
    """The input is larger or nested deeper than the configured limits allow."""
