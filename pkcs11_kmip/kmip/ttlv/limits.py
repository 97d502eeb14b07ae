"""How much input a decoder accepts before it refuses, checked before anything is buffered."""

from __future__ import annotations

from dataclasses import dataclass

# Deep enough for any KMIP message (a wrapped transparent key inside a batch item is
# about ten levels), far too shallow for a nesting bomb; capped so that recursion in
# the decoders can never reach Python's own recursion limit.
MAX_SUPPORTED_DEPTH = 200


@dataclass(frozen=True)
class Limits:
    """Maximum encoded message size in bytes and maximum Structure nesting depth."""

    max_message_size: int = 16 * 1024 * 1024
    max_depth: int = 32

    def __post_init__(self) -> None:
        if not self.max_message_size >= 8:
            raise ValueError("max_message_size must allow at least one item header")
        if not 1 <= self.max_depth <= MAX_SUPPORTED_DEPTH:
            raise ValueError(f"max_depth must be between 1 and {MAX_SUPPORTED_DEPTH}")


DEFAULT_LIMITS = Limits()
