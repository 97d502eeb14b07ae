"""Key derivation methods as data, and the software provider's derivations.

One row per Derivation Method (KMIP 2.1 §11.14, §7.12): what it needs of the
Derivation Parameters and its default hash. `DerivationSpec` is a checked request, all
a provider needs besides the source objects. The software functions read the sources'
bytes from their records, as `software` does for ciphers:

- PBKDF2 (PKCS#5 / RFC 8018): the password is the source's bytes; Salt and Iteration
  Count are required; the PRF is HMAC with the request's hash, SHA-1 by default (as
  TC-DERIVEKEY-3/4 expect, PKCS#5's default).
- HASH: the hash of the source key's bytes; the hash must be named.
- HMAC: HMAC over the Derivation Data keyed by the source key; the hash is the key's
  own (an HMAC-SHA* key) or the one named. (Derivation Data may instead be a second
  source, a Secret Data object, for every method but ECDH.)
- HKDF (RFC 5869): the key is the input keying material, Salt the salt, Derivation
  Data the info; SHA-256 by default (KMIP 2.1 §7.12).
- NIST SP 800-108 (`sp800_108`), its three modes with a 32-bit counter: counter mode
  (the counter before the fixed data), feedback mode (K(0) the Initialization Vector,
  empty if none is given as §7.12 says; the counter after the previous block) and
  double-pipeline iteration mode (the counter after A(i)). The fixed data is the
  Derivation Data as given (Label || 0x00 || Context, with [L] if the client wants it),
  as NIST's CAVP vectors give it whole. The PRF is HMAC (the key's own hash, else the
  one named, SHA-256 by default) or CMAC-AES when the Cryptographic Parameters name
  Block Cipher Mode CMAC or Cryptographic Algorithm AES (KMIP 2.1 §7.12: they
  "identify the PRF").
- Encrypt: the Derivation Data encrypted with the source key, by the cipher mechanism
  its Cryptographic Parameters name (`mechanisms`), with the Initialization Vector given
  (never a random one: a derivation repeats); the output is the ciphertext, truncated.
  The operation runs it through the provider's `cipher`.
- Asymmetric Key (ECDH, X25519, X448): the shared secret of the source private key and
  the peer's public key (a second source object, or the Derivation Data: an X9.62 point,
  the raw 32 bytes of X25519 or 56 of X448, or a DER SubjectPublicKeyInfo), truncated to the length
  asked for, as PKCS#11's CKD_NULL does.

A length beyond what the method can output is Invalid Field, as §6.1.14 requires.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    DerivationMethod,
    HashingAlgorithm,
    ObjectType,
    ResultReason,
)
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.store import ObjectRecord

D = DerivationMethod
H = HashingAlgorithm
A = CryptographicAlgorithm


@dataclass(frozen=True)
class DerivationMethodRow:
    """What one Derivation Method takes."""

    default_hash: HashingAlgorithm | None  # None: the request must name one
    needs_data: bool = False  # Derivation Data (or a Secret Data source) required
    takes_data: bool = True
    needs_salt_and_count: bool = False
    takes_salt: bool = False
    keyed_prf: bool = False  # HMAC keyed by the source: an HMAC key names its own hash
    asymmetric: bool = False  # a private key and a peer public key
    encrypts: bool = False  # the source key encrypts the data (a cipher of the provider's)
    sp800_108: bool = False  # a NIST SP 800-108 mode: HMAC or CMAC-AES as PRF
    takes_iv: bool = False  # an Initialization Vector (SP 800-108 feedback mode's K(0))


DERIVATION_METHODS: dict[DerivationMethod, DerivationMethodRow] = {
    D.PBKDF2: DerivationMethodRow(H.SHA_1, takes_data=False, needs_salt_and_count=True, takes_salt=True),
    D.HASH: DerivationMethodRow(None, takes_data=False),
    D.HMAC: DerivationMethodRow(None, needs_data=True, keyed_prf=True),
    D.HKDF: DerivationMethodRow(H.SHA_256, takes_salt=True),
    D.NIST800_108_C: DerivationMethodRow(H.SHA_256, needs_data=True, keyed_prf=True, sp800_108=True),
    D.NIST800_108_F: DerivationMethodRow(
        H.SHA_256, needs_data=True, keyed_prf=True, sp800_108=True, takes_iv=True
    ),
    D.NIST800_108_DPI: DerivationMethodRow(H.SHA_256, needs_data=True, keyed_prf=True, sp800_108=True),
    D.ASYMMETRIC_KEY: DerivationMethodRow(None, asymmetric=True),
    D.ENCRYPT: DerivationMethodRow(None, needs_data=True, encrypts=True),
}

SP800_108_MODES = frozenset(method for method, row in DERIVATION_METHODS.items() if row.sp800_108)

# hashlib names of the hashes a derivation may use, and pyca's.
HASH_NAMES: dict[HashingAlgorithm, str] = {
    H.SHA_1: "sha1",
    H.SHA_224: "sha224",
    H.SHA_256: "sha256",
    H.SHA_384: "sha384",
    H.SHA_512: "sha512",
    H.SHA3_224: "sha3_224",
    H.SHA3_256: "sha3_256",
    H.SHA3_384: "sha3_384",
    H.SHA3_512: "sha3_512",
}
_PYCA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
}

# An HMAC key names its own hash (KMIP 2.1 §7.12: then Cryptographic Parameters are ignored).
HMAC_KEY_HASHES: dict[CryptographicAlgorithm, HashingAlgorithm] = {
    A.HMAC_SHA1: H.SHA_1,
    A.HMAC_SHA224: H.SHA_224,
    A.HMAC_SHA256: H.SHA_256,
    A.HMAC_SHA384: H.SHA_384,
    A.HMAC_SHA512: H.SHA_512,
    A.HMAC_SHA3_224: H.SHA3_224,
    A.HMAC_SHA3_256: H.SHA3_256,
    A.HMAC_SHA3_384: H.SHA3_384,
    A.HMAC_SHA3_512: H.SHA3_512,
}

MAX_ITERATIONS = 1_000_000  # a PBKDF2 request holds a worker thread for its whole count
MAX_OUTPUT_BYTES = 1024


@dataclass(frozen=True)
class DerivationSpec:
    """A checked Derive Key request: everything a provider needs besides the sources."""

    method: DerivationMethod
    length: int  # bytes to output
    hashing: HashingAlgorithm | None = None
    data: bytes = b""  # Derivation Data (HMAC's message, HKDF's info, SP 800-108's fixed data)
    salt: bytes = b""
    iterations: int = 0
    peer_public_key: bytes | None = None  # ECDH with the peer's key given as Derivation Data
    iv: bytes = b""  # SP 800-108 feedback mode's K(0)
    cmac: bool = False  # SP 800-108 with CMAC-AES as PRF (`hashing` is then None)


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


def _plain_bytes(record: ObjectRecord) -> bytes:
    """The bytes of a symmetric key or secret data the server holds in the clear."""
    block = getattr(record.material, "key_block", None)
    if not isinstance(block, KeyBlock) or not formats.readable(block):
        raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"{record.uid} holds no key value to derive from")
    if record.object_type is ObjectType.SYMMETRIC_KEY:
        return formats.symmetric_key_bytes(block)
    assert isinstance(block.key_value, KeyValue)
    material = block.key_value.key_material
    if not isinstance(material, bytes) or not material:
        raise _invalid(f"the secret data of {record.uid} is not a byte string")
    return material


def _hash_output(name: str) -> int:
    return hashlib.new(name).digest_size


def _fit(output: bytes, length: int, method: DerivationMethod) -> bytes:
    if length > len(output):
        raise _invalid(f"{method.name} outputs {8 * len(output)} bits, fewer than the {8 * length} asked for")
    return output[:length]


# RFC 7748 curves: private key type -> (public key type, raw public key size).
MONTGOMERY: dict[type, tuple[type[x25519.X25519PublicKey] | type[x448.X448PublicKey], int]] = {
    x25519.X25519PrivateKey: (x25519.X25519PublicKey, 32),
    x448.X448PrivateKey: (x448.X448PublicKey, 56),
}


def peer_key(public_records: Sequence[ObjectRecord], encoded: bytes | None, on: object) -> object:
    """The other party's public key: the public key object's, else `encoded` (the Derivation
    Data) read on `on`, the private key or (for a key a token keeps) its EC curve."""
    if public_records:
        block = getattr(public_records[0].material, "key_block", None)
        assert isinstance(block, KeyBlock)
        return formats.load_key(block, private=False)
    assert encoded is not None
    curve = on.curve if isinstance(on, ec.EllipticCurvePrivateKey) else on
    try:
        for private_type, (public_type, size) in MONTGOMERY.items():
            if isinstance(on, private_type) and len(encoded) == size:
                return public_type.from_public_bytes(encoded)
        if isinstance(curve, ec.EllipticCurve) and encoded[:1] in (b"\x02", b"\x03", b"\x04"):
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, encoded)
        return serialization.load_der_public_key(encoded)
    except ValueError:
        raise _invalid("the Derivation Data is not a public key on the private key's curve") from None


def _shared_secret(sources: Sequence[ObjectRecord], spec: DerivationSpec) -> bytes:
    private_records = [r for r in sources if r.object_type is ObjectType.PRIVATE_KEY]
    public_records = [r for r in sources if r.object_type is ObjectType.PUBLIC_KEY]
    if len(private_records) != 1 or len(public_records) + (spec.peer_public_key is not None) != 1:
        raise _invalid("ECDH takes one private key, and one public key object or one as Derivation Data")
    private_block = getattr(private_records[0].material, "key_block", None)
    assert isinstance(private_block, KeyBlock)
    private = formats.load_key(private_block, private=True)
    peer = peer_key(public_records, spec.peer_public_key, private)
    try:
        if isinstance(private, x25519.X25519PrivateKey) and isinstance(peer, x25519.X25519PublicKey):
            return private.exchange(peer)
        if isinstance(private, x448.X448PrivateKey) and isinstance(peer, x448.X448PublicKey):
            return private.exchange(peer)
    except ValueError:  # a low-order point: the all-zero secret (RFC 7748 §6)
        raise KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, "the X25519/X448 secret is all zeros") from None
    if (
        isinstance(private, ec.EllipticCurvePrivateKey)
        and isinstance(peer, ec.EllipticCurvePublicKey)
        and peer.curve.name == private.curve.name
    ):
        return private.exchange(ec.ECDH(), peer)
    raise KmipError(
        ResultReason.INVALID_OBJECT_TYPE,
        "ECDH needs an EC, X25519 or X448 private key and a public key of its curve",
    )


def software_derive(sources: Sequence[ObjectRecord], spec: DerivationSpec) -> bytes:
    """The derived bytes (`spec.length` of them), computed with pyca/cryptography and hashlib."""
    if spec.method is D.ASYMMETRIC_KEY:
        return _fit(_shared_secret(sources, spec), spec.length, spec.method)
    secret = _plain_bytes(sources[0])
    # Derivation Data given as a Secret Data object (KMIP 2.1 §7.12): the second source.
    data = spec.data if len(sources) < 2 else _plain_bytes(sources[1])
    spec = dataclasses.replace(spec, data=data)
    if spec.method in SP800_108_MODES:
        return sp800_108(_prf(secret, spec), spec.method, spec.data, spec.iv, spec.length)
    assert spec.hashing is not None
    name = HASH_NAMES[spec.hashing]
    algorithm = _PYCA_HASHES[name]()
    if spec.method is D.PBKDF2:
        return PBKDF2HMAC(algorithm, spec.length, spec.salt, spec.iterations).derive(secret)
    if spec.method is D.HASH:
        return _fit(hashlib.new(name, secret).digest(), spec.length, spec.method)
    if spec.method is D.HMAC:
        return _fit(hmac.new(secret, spec.data, name).digest(), spec.length, spec.method)
    if spec.method is D.HKDF:
        if spec.length > 255 * _hash_output(name):
            raise _invalid(f"HKDF with {spec.hashing.name} outputs at most {255 * _hash_output(name)} bytes")
        return HKDF(algorithm, spec.length, spec.salt or None, spec.data).derive(secret)
    raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"{spec.method.name} derivation is not supported")


Prf = Callable[[bytes], bytes]


def _prf(secret: bytes, spec: DerivationSpec) -> Prf:
    """HMAC with the spec's hash, or CMAC-AES, keyed by the source's bytes."""
    if spec.cmac:
        if len(secret) not in (16, 24, 32):
            raise _invalid(f"CMAC-AES takes an AES key, not {len(secret)} bytes")

        def cmac_aes(data: bytes) -> bytes:
            context = cmac.CMAC(algorithms.AES(secret))
            context.update(data)
            return context.finalize()

        return cmac_aes
    assert spec.hashing is not None
    name = HASH_NAMES[spec.hashing]
    return lambda data: hmac.new(secret, data, name).digest()


def sp800_108(prf: Prf, method: DerivationMethod, fixed: bytes, iv: bytes, length: int) -> bytes:
    """`length` bytes of SP 800-108 (§5.1 counter, §5.2 feedback, §5.3 double pipeline), 32-bit counter."""
    output = b""
    previous = iv  # feedback: K(i-1), K(0) = IV
    pipeline = fixed  # double pipeline: A(i-1), A(0) = the fixed data
    counter = 1
    while len(output) < length:
        i = counter.to_bytes(4, "big")
        if method is D.NIST800_108_C:
            block = prf(i + fixed)
        elif method is D.NIST800_108_F:
            block = previous = prf(previous + i + fixed)
        else:
            pipeline = prf(pipeline)
            block = prf(pipeline + i + fixed)
        output += block
        counter += 1
    return output[:length]
