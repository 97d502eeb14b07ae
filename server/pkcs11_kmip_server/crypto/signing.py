"""Software signatures: RSA PKCS#1 v1.5 and PSS, ECDSA, Ed25519 and Ed448 with pyca/cryptography.

Hashed schemes hash the data as it arrives and sign the digest at the end (pyca's
Prehashed), so a stream of any length needs no buffer; Digested Data is that digest
given by the client. EdDSA signs the message itself, so its data is kept (bounded)
until the end. A verification answers False for any signature that does not verify,
whatever is wrong with it (length, encoding, value).

ECDSA signs a digest of any length (FIPS 186-5 §6.4.1 takes its leftmost bits): one
shorter than the hash pyca knows is left-padded with zeros to the next size, which
leaves the integer ECDSA uses unchanged (TC-ECDSA-SIGN-DIGESTEDDATA-1 signs 16 bytes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed

from pkcs11_kmip.kmip.spec.enums import ResultReason
from pkcs11_kmip_server.crypto.mechanisms import BUFFER_LIMIT
from pkcs11_kmip_server.crypto.pyca import HASHES, loaded_key
from pkcs11_kmip_server.crypto.signatures import (
    ECDSA,
    ED448,
    ED25519,
    RSA_PKCS1,
    RSA_PSS,
    KeyMismatch,
    SignatureSpec,
)
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

# Digest sizes pyca signs as Prehashed, smallest first: a shorter ECDSA digest is padded to one.
_ECDSA_DIGESTS: tuple[Callable[[], hashes.HashAlgorithm], ...] = (
    hashes.SHA1,
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)

Sign = Callable[[bytes], bytes]
Verify = Callable[[bytes, bytes], None]  # raises InvalidSignature


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


class Signature:
    """One signature or verification in progress: a running hash, or the data kept."""

    def __init__(
        self,
        hashing: hashes.HashAlgorithm | None,
        sign: Callable[[bytes], bytes] | None,
        verify: Callable[[bytes, bytes], None] | None,
    ) -> None:
        self._hash = hashes.Hash(hashing) if hashing is not None else None
        self._parts: list[bytes] = []
        self._size = 0
        self._sign = sign
        self._verify = verify

    def update(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
            return
        self._size += len(data)
        if self._size > BUFFER_LIMIT:
            raise _invalid(f"this scheme signs at most {BUFFER_LIMIT} bytes")
        self._parts.append(data)

    def _input(self) -> bytes:
        return self._hash.finalize() if self._hash is not None else b"".join(self._parts)

    def finish(self) -> bytes:
        if self._sign is None:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "a public key verifies, it does not sign")
        return self._sign(self._input())

    def verify(self, expected: bytes) -> bool:
        if self._verify is None:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "a private key signs, it does not verify")
        try:
            self._verify(expected, self._input())
        except (InvalidSignature, ValueError):  # pyca: a signature that cannot even be read
            return False
        return True


def start(key: ObjectRecord, spec: SignatureSpec, verify: bool) -> Signature:
    """Sign with a private key, or verify with a public one, as `spec` says."""
    loaded: Any = loaded_key(key, private=not verify)
    build = _SCHEMES[spec.scheme]
    return build(loaded, spec, verify)


def _check_key(loaded: object, types: tuple[type, ...], scheme: str) -> None:
    if not isinstance(loaded, types):
        raise KeyMismatch(f"the key does not make {scheme} signatures")


def _ends(
    loaded: Any, verify: bool, make: Callable[[bytes], tuple[Any, ...]]
) -> tuple[Sign | None, Verify | None]:
    """sign(m) and verify(s, m) calling the key with the arguments `make(m)` gives."""
    if verify:
        return None, lambda signature, message: loaded.verify(signature, *make(message))
    return (lambda message: bytes(loaded.sign(*make(message)))), None


def _digest_check(spec: SignatureSpec, size: int) -> hashes.HashAlgorithm:
    assert spec.hashing is not None
    algorithm = HASHES[spec.hashing]()
    if size != algorithm.digest_size:
        raise _invalid(f"a {spec.hashing.name} digest is {algorithm.digest_size} bytes, not {size}")
    return algorithm


def _rsa(loaded: Any, spec: SignatureSpec, verify: bool) -> Signature:
    _check_key(loaded, (rsa.RSAPrivateKey, rsa.RSAPublicKey), spec.scheme)
    scheme = _rsa_padding(spec, verify)
    room = (loaded.key_size + 7) // 8 - 11

    def arguments(message: bytes) -> tuple[Any, ...]:
        if spec.hashing is None:  # PKCS#1 v1.5 over the client's own DigestInfo (CKM_RSA_PKCS)
            if len(message) > room:
                raise _invalid(f"this key signs at most {room} bytes as given")
            return message, scheme, NoDigestInfo()
        return message, scheme, Prehashed(_digest_check(spec, len(message)))

    sign, check = _ends(loaded, verify, arguments)
    return Signature(_running_hash(spec), _value_errors(sign), check)


def _rsa_padding(spec: SignatureSpec, verify: bool) -> asymmetric_padding.AsymmetricPadding:
    """PKCS#1 v1.5, or PSS with MGF1 and the salt length given (else the hash's; any to verify)."""
    if spec.scheme != RSA_PSS:
        return asymmetric_padding.PKCS1v15()
    assert spec.mgf_hashing is not None
    salt: Any = spec.salt_length
    if salt is None:
        salt = asymmetric_padding.PSS.AUTO if verify else asymmetric_padding.PSS.DIGEST_LENGTH
    return asymmetric_padding.PSS(mgf=asymmetric_padding.MGF1(HASHES[spec.mgf_hashing]()), salt_length=salt)


def _ecdsa(loaded: Any, spec: SignatureSpec, verify: bool) -> Signature:
    _check_key(loaded, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey), spec.scheme)

    def arguments(digest: bytes) -> tuple[Any, ...]:
        if not spec.prehashed:
            return digest, ec.ECDSA(Prehashed(_digest_check(spec, len(digest))))
        fits = next((make() for make in _ECDSA_DIGESTS if make().digest_size >= len(digest)), None)
        if fits is None or not digest:
            raise _invalid(f"ECDSA signs a digest of 1 to 64 bytes, not {len(digest)}")
        padded = bytes(fits.digest_size - len(digest)) + digest
        return padded, ec.ECDSA(Prehashed(fits))

    sign, check = _ends(loaded, verify, arguments)
    return Signature(_running_hash(spec), sign, check)


def _eddsa(types: tuple[type, ...]) -> Callable[[Any, SignatureSpec, bool], Signature]:
    def build(loaded: Any, spec: SignatureSpec, verify: bool) -> Signature:
        _check_key(loaded, types, spec.scheme)
        sign, check = _ends(loaded, verify, lambda message: (message,))
        return Signature(None, sign, check)

    return build


def _running_hash(spec: SignatureSpec) -> hashes.HashAlgorithm | None:
    """The hash the data is fed to as it arrives (none for a digest the client made)."""
    if spec.prehashed or spec.hashing is None:
        return None
    return HASHES[spec.hashing]()


def _value_errors(sign: Sign | None) -> Sign | None:
    """pyca's ValueError (a PSS salt too long for the key) as Invalid Field."""
    if sign is None:
        return None

    def checked(message: bytes) -> bytes:
        try:
            return sign(message)
        except ValueError as error:
            raise _invalid(f"the key cannot make this signature: {error}") from None

    return checked


_SCHEMES: dict[str, Callable[[Any, SignatureSpec, bool], Signature]] = {
    RSA_PKCS1: _rsa,
    RSA_PSS: _rsa,
    ECDSA: _ecdsa,
    ED25519: _eddsa((ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)),
    ED448: _eddsa((ed448.Ed448PrivateKey, ed448.Ed448PublicKey)),
}


# The private-key types that make each scheme's X.509 signatures.
_CERTIFICATE_KEYS: dict[str, tuple[type, ...]] = {
    RSA_PKCS1: (rsa.RSAPrivateKey,),
    RSA_PSS: (rsa.RSAPrivateKey,),
    ECDSA: (ec.EllipticCurvePrivateKey,),
    ED25519: (ed25519.Ed25519PrivateKey,),
    ED448: (ed448.Ed448PrivateKey,),
}


def sign_certificate(
    key: ObjectRecord, spec: SignatureSpec, builder: x509.CertificateBuilder
) -> x509.Certificate:
    """pyca signs the certificate with the record's private key, as `spec` says (no Digested Data)."""
    loaded: Any = loaded_key(key, private=True)
    _check_key(loaded, _CERTIFICATE_KEYS[spec.scheme], spec.scheme)
    hashing = HASHES[spec.hashing]() if spec.hashing is not None else None
    scheme = _rsa_padding(spec, verify=False) if spec.scheme in (RSA_PKCS1, RSA_PSS) else None
    try:
        return builder.sign(loaded, hashing, rsa_padding=scheme)  # type: ignore[arg-type]
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        raise KmipError(
            ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, f"pyca cannot make this certificate signature: {error}"
        ) from None
