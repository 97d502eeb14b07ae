"""Key wrapping mechanisms, and the software provider's wrap and unwrap.

Wrapping is encryption of key material under a wrapping key, restricted to the
mechanisms made for it or safe for it (KMIP 2.1 §3.3, §7.18): AES Key Wrap (RFC 3394)
and with padding (RFC 5649), AES-GCM, RSA-OAEP and RSA PKCS#1 v1.5. Other cipher
mechanisms (ECB, CBC, CTR ...) are not offered for keys. AES-GCM's tag follows the
ciphertext in the wrapped Key Value, and its IV travels in the Key Wrapping Data, as
PKCS#11's CKM_AES_GCM wrapping does.

The software provider wraps and unwraps with its cipher builders: wrapping is one
single-part encryption whose output, tag included, is released only when the whole
operation succeeded (an unwrap whose tag or integrity check fails yields nothing).
"""

from __future__ import annotations

from collections.abc import Callable

from pkcs11_kmip.kmip.spec.enums import ResultReason
from pkcs11_kmip_server.crypto.mechanisms import DEFAULT_TAG_LENGTH, CipherMechanism, CipherSpec
from pkcs11_kmip_server.crypto.provider import CipherOperation, CipherOutput
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

# Mechanisms (by `CipherMechanism.name`) that may wrap keys.
WRAPPING_MECHANISMS = frozenset({"AES-KW", "AES-KWP", "AES-GCM", "RSA-OAEP", "RSA-PKCS1-v1_5"})


def check_wrapping_mechanism(mechanism: CipherMechanism) -> None:
    """Only the mechanisms of `WRAPPING_MECHANISMS` wrap keys (else Unsupported Cryptographic Parameters)."""
    if mechanism.name not in WRAPPING_MECHANISMS:
        names = ", ".join(sorted(WRAPPING_MECHANISMS))
        raise KmipError(
            ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS,
            f"{mechanism.name} does not wrap keys here; these do: {names}",
        )


def split_tag(
    mechanism: CipherMechanism, tag_length: int | None, wrapped: bytes
) -> tuple[bytes, bytes | None]:
    """A wrapped value's ciphertext and, for authenticated mechanisms, the tag that ends it."""
    if not mechanism.authenticated:
        return wrapped, None
    length = tag_length or DEFAULT_TAG_LENGTH
    if len(wrapped) < length:
        raise KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, "the wrapped key is shorter than its tag")
    return wrapped[:-length], wrapped[-length:]


Cipher = Callable[[ObjectRecord, CipherSpec, bool], CipherOperation]


def software_wrap(cipher: Cipher, key: ObjectRecord, spec: CipherSpec, plaintext: bytes) -> bytes:
    """`plaintext` encrypted under `key`, an authenticated mechanism's tag appended."""
    operation = cipher(key, spec, True)
    output = operation.update(plaintext)
    final: CipherOutput = operation.finish()
    return output + final.data + (final.tag or b"")


def software_unwrap(cipher: Cipher, key: ObjectRecord, spec: CipherSpec, wrapped: bytes) -> bytes:
    """The plaintext of a wrapped value (Cryptographic Failure if it does not unwrap with `key`)."""
    try:
        operation = cipher(key, spec, False)
        output = operation.update(wrapped)
        return output + operation.finish().data
    except KmipError as error:  # a wrapped value of a size the mechanism never outputs
        if error.reason is not ResultReason.INVALID_FIELD:
            raise
        reason = ResultReason.CRYPTOGRAPHIC_FAILURE
        raise KmipError(reason, f"the wrapped key does not unwrap: {error.message}") from None
