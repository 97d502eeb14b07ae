"""The server's error boundary: an operation fails by raising KmipError.

The engine turns it into a failed batch item with that Result Reason and message,
mapped to a reason the client's protocol version knows. Anything else that escapes
an operation becomes General Failure, logged with a reference the client also sees.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.spec.enums import ResultReason


class KmipError(Exception):
    """An operation failed for a reason KMIP can name."""

    def __init__(self, reason: ResultReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def not_found(uid: object) -> KmipError:
    """The one answer for an object that does not exist or is not the caller's."""
    return KmipError(ResultReason.OBJECT_NOT_FOUND, f"no object {uid!s}")


def invalid_field(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)
