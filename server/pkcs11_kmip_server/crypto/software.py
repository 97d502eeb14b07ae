"""The software crypto provider: pyca/cryptography, with keys read from their records.

Each mechanism of `mechanisms.MECHANISMS` has a builder here, by name. Builders
share three shapes of operation: a pyca cipher context fed as data arrives (ECB, CBC,
CTR, GCM, ChaCha20, with PKCS#7 padding where asked), a buffer for mechanisms that
need their whole input (AES-KW/KWP, XTS, RSA), and ChaCha20-Poly1305 built from
ChaCha20 and Poly1305 as RFC 8439 §2.8 does, so that it can stream and take the
truncated tags the KMIP profiles use (pyca's one-shot AEAD takes neither).

Key bytes stay inside this module; no message names them.
"""

from __future__ import annotations

import hmac
import secrets
import struct
from collections.abc import Callable, Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import keywrap, padding, poly1305
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, CipherAlgorithm, algorithms, modes

from pkcs11_kmip.kmip.spec.enums import HashingAlgorithm, PaddingMethod, ResultReason
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.crypto import derivation, macs, signing, wrapping
from pkcs11_kmip_server.crypto.mechanisms import BUFFER_LIMIT, CipherSpec
from pkcs11_kmip_server.crypto.provider import CipherOperation, CipherOutput, DigestOperation
from pkcs11_kmip_server.crypto.pyca import HASHES as _HASHES
from pkcs11_kmip_server.crypto.pyca import key_block as _key_block
from pkcs11_kmip_server.crypto.pyca import loaded_key
from pkcs11_kmip_server.crypto.signatures import MacSpec, SignatureSpec
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

try:  # pyca/cryptography 43 moved 3DES among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older pyca/cryptography
    TripleDES = algorithms.TripleDES  # type: ignore[misc]


def _triple_des(key: bytes) -> CipherAlgorithm:
    """3DES with a two-key key as the three keys K1 K2 K1 it stands for (pyca deprecates
    16-byte keys but means the same)."""
    return TripleDES(key + key[:8] if len(key) == 16 else key)


def _failure(message: str) -> KmipError:
    return KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, message)


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


# --- the three shapes of operation -------------------------------------------------------


class _Streaming:
    """A pyca cipher context fed as data arrives, with PKCS#7 padding if asked.

    Unpadded block modes check that the data fills whole blocks; a decryption's
    padding and tag are checked by `finish`, which is where a one-shot request's
    output is released.
    """

    def __init__(
        self,
        context: Any,
        encrypt: bool,
        block_size: int | None = None,
        pad: bool = False,
        tag_length: int | None = None,
    ) -> None:
        self._context = context
        self._encrypt = encrypt
        self._block_size = block_size
        self._padding: Any = None
        if pad and block_size is not None:
            scheme = padding.PKCS7(8 * block_size)
            self._padding = scheme.padder() if encrypt else scheme.unpadder()
        self._tag_length = tag_length
        self._count = 0

    def update(self, data: bytes) -> bytes:
        self._count += len(data)
        if self._padding is None:
            return bytes(self._context.update(data))
        if self._encrypt:
            return bytes(self._context.update(self._padding.update(data)))
        return bytes(self._padding.update(self._context.update(data)))

    def finish(self) -> CipherOutput:
        size = self._block_size
        needs_blocks = size is not None and (self._padding is None or not self._encrypt)
        if needs_blocks and size is not None and (self._count % size or (self._padding and not self._count)):
            raise _invalid(f"the data is not a whole number of {size}-byte blocks")
        try:
            if self._padding is None:
                data = self._context.finalize()
            elif self._encrypt:
                data = self._context.update(self._padding.finalize()) + self._context.finalize()
            else:
                data = self._padding.update(self._context.finalize()) + self._padding.finalize()
        except InvalidTag:
            raise _failure("the tag does not authenticate the data") from None
        except ValueError:  # the unpadder's only complaint
            raise _failure("the decrypted data does not end in valid PKCS#5 padding") from None
        tag = None
        if self._encrypt and self._tag_length is not None:
            tag = bytes(self._context.tag[: self._tag_length])
        return CipherOutput(bytes(data), tag)


class _Buffered:
    """A mechanism that needs its whole input: parts are kept (bounded) until `finish`."""

    def __init__(self, compute: Callable[[bytes], bytes], check: Callable[[int], None], limit: int) -> None:
        self._compute = compute
        self._check = check
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def update(self, data: bytes) -> bytes:
        self._size += len(data)
        if self._size > self._limit:
            raise _invalid(f"this mechanism takes at most {self._limit} bytes of data")
        self._parts.append(data)
        return b""

    def finish(self) -> CipherOutput:
        self._check(self._size)
        return CipherOutput(self._compute(b"".join(self._parts)))


class _ChaCha20Poly1305:
    """RFC 8439 §2.8: ChaCha20 from block 1, Poly1305 keyed by block 0 over AAD and ciphertext."""

    def __init__(self, key: bytes, spec: CipherSpec, encrypt: bool) -> None:
        nonce = spec.iv or b""
        one_time_key = _chacha20(key, 0, nonce).encryptor().update(bytes(32))
        self._mac = poly1305.Poly1305(one_time_key)
        self._mac.update(spec.aad + _pad16(len(spec.aad)))
        stream = _chacha20(key, 1, nonce)
        self._cipher = stream.encryptor() if encrypt else stream.decryptor()
        self._encrypt = encrypt
        self._spec = spec
        self._aad_length = len(spec.aad)
        self._length = 0

    def update(self, data: bytes) -> bytes:
        out = bytes(self._cipher.update(data))
        self._mac.update(out if self._encrypt else data)
        self._length += len(data)
        return out

    def finish(self) -> CipherOutput:
        self._mac.update(_pad16(self._length) + struct.pack("<QQ", self._aad_length, self._length))
        tag = self._mac.finalize()[: self._spec.tag_length]
        if self._encrypt:
            return CipherOutput(b"", tag)
        if not hmac.compare_digest(tag, self._spec.tag or b""):
            raise _failure("the tag does not authenticate the data")
        return CipherOutput(b"")


def _pad16(length: int) -> bytes:
    return bytes(-length % 16)


def _chacha20(key: bytes, counter: int, nonce: bytes) -> Cipher[None]:
    """ChaCha20 with OpenSSL's 16-byte counter||nonce: a 32-bit counter before a 12-byte
    nonce (RFC 8439), or a 64-bit counter before an 8-byte one (the original ChaCha20)."""
    width = 16 - len(nonce)
    if counter >= 1 << (8 * width):
        raise _invalid(f"the Initial Counter Value does not fit the {8 * width}-bit block counter")
    return Cipher(algorithms.ChaCha20(key, counter.to_bytes(width, "little") + nonce), mode=None)


# --- builders, one per mechanism -------------------------------------------------------

Builder = Callable[[ObjectRecord, CipherSpec, bool], CipherOperation]


def _secret(key: ObjectRecord) -> bytes:
    return formats.symmetric_key_bytes(_key_block(key))


def _algorithm(key: ObjectRecord, make: Callable[[bytes], CipherAlgorithm]) -> CipherAlgorithm:
    try:
        return make(_secret(key))
    except ValueError:
        raise _invalid(f"the key of {key.uid} has a size its algorithm does not take") from None


def _block_cipher(make: Callable[[bytes], CipherAlgorithm], mode: Callable[[CipherSpec], Any]) -> Builder:
    def build(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        cipher = Cipher(_algorithm(key, make), mode(spec))
        return _Streaming(
            cipher.encryptor() if encrypt else cipher.decryptor(),
            encrypt,
            block_size=(spec.mechanism.block_size),
            pad=spec.padding is PaddingMethod.PKCS5,
            tag_length=spec.tag_length,
        )

    return build


def _gcm(spec: CipherSpec) -> modes.GCM:
    assert spec.iv is not None
    if spec.tag is None:
        return modes.GCM(spec.iv)
    return modes.GCM(spec.iv, spec.tag, min_tag_length=len(spec.tag))


def _aes_gcm(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
    cipher = Cipher(_algorithm(key, algorithms.AES), _gcm(spec))
    context = cipher.encryptor() if encrypt else cipher.decryptor()
    context.authenticate_additional_data(spec.aad)
    return _Streaming(context, encrypt, tag_length=spec.tag_length)


def _aes_xts(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
    assert spec.iv is not None
    try:
        cipher = Cipher(_algorithm(key, algorithms.AES), modes.XTS(spec.iv))
        context = cipher.encryptor() if encrypt else cipher.decryptor()
    except ValueError:  # the two halves of the key are equal (IEEE 1619 forbids it)
        raise _invalid(f"the key of {key.uid} is not a usable XTS key") from None

    def check(size: int) -> None:
        if size < 16:
            raise _invalid("XTS takes at least 16 bytes of data")

    return _Buffered(lambda data: bytes(context.update(data) + context.finalize()), check, BUFFER_LIMIT)


def check_key_wrap_length(name: str, encrypt: bool, size: int) -> None:
    """Invalid Field for data AES-KW (RFC 3394: whole 8-byte blocks) or AES-KWP (RFC 5649)
    cannot wrap or unwrap; shared with the HSM provider, which must refuse alike."""
    if name == "AES-KWP":
        fits = size >= 1 if encrypt else size >= 16 and size % 8 == 0
    else:
        fits = size % 8 == 0 and size >= (16 if encrypt else 24)
    if not fits:
        raise _invalid(f"{name} cannot {'wrap' if encrypt else 'unwrap'} {size} bytes")


def _aes_key_wrap(padded: bool) -> Builder:
    def build(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        secret = _secret(key)
        if len(secret) not in (16, 24, 32):
            raise _invalid(f"the key of {key.uid} is not an AES key")

        def check(size: int) -> None:
            check_key_wrap_length(spec.mechanism.name, encrypt, size)

        def compute(data: bytes) -> bytes:
            if encrypt:
                wrap = keywrap.aes_key_wrap_with_padding if padded else keywrap.aes_key_wrap
                return wrap(secret, data)
            unwrap = keywrap.aes_key_unwrap_with_padding if padded else keywrap.aes_key_unwrap
            try:
                return unwrap(secret, data)
            except keywrap.InvalidUnwrap:
                raise _failure("the wrapped data does not unwrap with this key") from None

        return _Buffered(compute, check, BUFFER_LIMIT)

    return build


def _chacha20_stream(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
    cipher = _chacha20(_secret(key), spec.initial_counter, spec.iv or b"")
    return _Streaming(cipher.encryptor() if encrypt else cipher.decryptor(), encrypt)


def _chacha20_poly1305(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
    secret = _secret(key)
    if len(secret) != 32:
        raise _invalid(f"the key of {key.uid} is not a 256-bit key")
    return _ChaCha20Poly1305(secret, spec, encrypt)


def _rsa(key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
    loaded = loaded_key(key, private=not encrypt)
    if not isinstance(loaded, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        raise KmipError(ResultReason.INVALID_OBJECT_TYPE, f"{key.uid} is not an RSA key")
    size = (loaded.key_size + 7) // 8
    scheme: asymmetric_padding.AsymmetricPadding
    if spec.padding is PaddingMethod.OAEP:
        assert spec.hashing is not None and spec.mgf_hashing is not None
        digest = _HASHES[spec.hashing]()
        scheme = asymmetric_padding.OAEP(
            mgf=asymmetric_padding.MGF1(_HASHES[spec.mgf_hashing]()),
            algorithm=digest,
            label=spec.label or None,
        )
        room = size - 2 * digest.digest_size - 2
    else:
        scheme = asymmetric_padding.PKCS1v15()
        room = size - 11
    limit = room if encrypt else size

    def check(length: int) -> None:
        if encrypt and length > room:
            raise _invalid(f"{spec.mechanism.name} with this key encrypts at most {max(room, 0)} bytes")
        if not encrypt and length != size:
            raise _invalid(f"the ciphertext of this key is {size} bytes, not {length}")

    def compute(data: bytes) -> bytes:
        if isinstance(loaded, rsa.RSAPublicKey):
            return loaded.encrypt(data, scheme)
        try:
            return loaded.decrypt(data, scheme)
        except ValueError:
            raise _failure("the data does not decrypt with this key and padding") from None

    return _Buffered(compute, check, max(limit, 0))


BUILDERS: dict[str, Builder] = {
    "AES-ECB": _block_cipher(algorithms.AES, lambda spec: modes.ECB()),
    "AES-CBC": _block_cipher(algorithms.AES, lambda spec: modes.CBC(spec.iv or b"")),
    "AES-CTR": _block_cipher(algorithms.AES, lambda spec: modes.CTR(spec.iv or b"")),
    "AES-GCM": _aes_gcm,
    "AES-XTS": _aes_xts,
    "AES-KW": _aes_key_wrap(padded=False),
    "AES-KWP": _aes_key_wrap(padded=True),
    "3DES-ECB": _block_cipher(_triple_des, lambda spec: modes.ECB()),
    "3DES-CBC": _block_cipher(_triple_des, lambda spec: modes.CBC(spec.iv or b"")),
    "ChaCha20": _chacha20_stream,
    "ChaCha20-Poly1305": _chacha20_poly1305,
    "RSA-PKCS1-v1_5": _rsa,
    "RSA-OAEP": _rsa,
}


class SoftwareProvider:
    """Every mechanism of the table, in this process, with the records' own key bytes."""

    def cipher(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        build = BUILDERS.get(spec.mechanism.name)
        if build is None:
            raise KmipError(
                ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, f"{spec.mechanism.name} is not available"
            )
        return build(key, spec, encrypt)

    def sign(self, key: ObjectRecord, spec: SignatureSpec, verify: bool) -> DigestOperation:
        return signing.start(key, spec, verify)

    def sign_certificate(
        self, key: ObjectRecord, spec: SignatureSpec, builder: x509.CertificateBuilder
    ) -> x509.Certificate:
        return signing.sign_certificate(key, spec, builder)

    def mac(self, key: ObjectRecord, spec: MacSpec) -> DigestOperation:
        return macs.start_mac(key, spec)

    def digest(self, hashing: HashingAlgorithm) -> DigestOperation:
        return macs.start_digest(hashing)

    def random_bytes(self, count: int) -> bytes:
        return secrets.token_bytes(count)

    def wrap(self, key: ObjectRecord, spec: CipherSpec, plaintext: bytes) -> bytes:
        return wrapping.software_wrap(self.cipher, key, spec, plaintext)

    def unwrap(self, key: ObjectRecord, spec: CipherSpec, wrapped: bytes) -> bytes:
        return wrapping.software_unwrap(self.cipher, key, spec, wrapped)

    def derive(self, sources: Sequence[ObjectRecord], spec: derivation.DerivationSpec) -> bytes:
        return derivation.software_derive(sources, spec)

    def seed_random(self, seed: bytes) -> int:
        """The OS generator this uses (secrets) takes no seed from a client: none is used."""
        return 0
