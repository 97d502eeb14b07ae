"""The Cryptoki error boundary: code below raises CKRError, the dispatcher returns its rv."""

from __future__ import annotations

from pkcs11_kmip.cryptoki.constants import CKR


class CKRError(Exception):
    """A Cryptoki failure with a definite CK_RV (anything else becomes CKR_GENERAL_ERROR)."""

    def __init__(self, rv: int, reason: str = "") -> None:
        super().__init__(reason or _name(rv))
        self.rv = rv


def _name(rv: int) -> str:
    try:
        return f"CKR_{CKR(rv).name}"
    except ValueError:
        return f"CK_RV 0x{rv:08X}"
