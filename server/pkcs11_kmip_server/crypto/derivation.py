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
- NIST SP 800-108 counter mode with HMAC as PRF: a 32-bit counter before the fixed
  data (the Derivation Data, Label || 0x00 || Context) and the 32-bit output length
  in bits after it; SHA-256 by default.
- Encrypt: the Derivation Data encrypted with the source key, by the cipher mechanism
  its Cryptographic Parameters name (`mechanisms`), with the Initialization Vector given
  (never a random one: a derivation repeats); the output is the ciphertext, truncated.
  The operation runs it through the provider's `cipher`.
- Asymmetric Key (ECDH, X25519): the shared secret of the source private key and the
  peer's public key (a second source object, or the Derivation Data: an X9.62 point,
  32 raw bytes for X25519, or a DER SubjectPublicKeyInfo), truncated to the length
  asked for, as PKCS#11's CKD_NULL does.

A length beyond what the method can output is Invalid Field, as §6.1.14 requires.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode
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


DERIVATION_METHODS: dict[DerivationMethod, DerivationMethodRow] = {
    D.PBKDF2: DerivationMethodRow(H.SHA_1, takes_data=False, needs_salt_and_count=True, takes_salt=True),
    D.HASH: DerivationMethodRow(None, takes_data=False),
    D.HMAC: DerivationMethodRow(None, needs_data=True, keyed_prf=True),
    D.HKDF: DerivationMethodRow(H.SHA_256, takes_salt=True),
    D.NIST800_108_C: DerivationMethodRow(H.SHA_256, needs_data=True, keyed_prf=True),
    D.ASYMMETRIC_KEY: DerivationMethodRow(None, asymmetric=True),
    D.ENCRYPT: DerivationMethodRow(None, needs_data=True, encrypts=True),
}

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


def _peer_key(private: object, encoded: bytes) -> object:
    """The peer's public key given as bytes, on the private key's curve."""
    try:
        if isinstance(private, x25519.X25519PrivateKey) and len(encoded) == 32:
            return x25519.X25519PublicKey.from_public_bytes(encoded)
        if isinstance(private, ec.EllipticCurvePrivateKey) and encoded[:1] in (b"\x02", b"\x03", b"\x04"):
            return ec.EllipticCurvePublicKey.from_encoded_point(private.curve, encoded)
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
    if public_records:
        public_block = getattr(public_records[0].material, "key_block", None)
        assert isinstance(public_block, KeyBlock)
        peer: object = formats.load_key(public_block, private=False)
    else:
        assert spec.peer_public_key is not None
        peer = _peer_key(private, spec.peer_public_key)
    if isinstance(private, x25519.X25519PrivateKey) and isinstance(peer, x25519.X25519PublicKey):
        try:
            return private.exchange(peer)
        except ValueError:  # a low-order point: the all-zero secret (RFC 7748 §6.1)
            raise KmipError(ResultReason.CRYPTOGRAPHIC_FAILURE, "the X25519 secret is all zeros") from None
    if (
        isinstance(private, ec.EllipticCurvePrivateKey)
        and isinstance(peer, ec.EllipticCurvePublicKey)
        and peer.curve.name == private.curve.name
    ):
        return private.exchange(ec.ECDH(), peer)
    raise KmipError(
        ResultReason.INVALID_OBJECT_TYPE,
        "ECDH needs an EC or X25519 private key and a public key of its curve",
    )


def software_derive(sources: Sequence[ObjectRecord], spec: DerivationSpec) -> bytes:
    """The derived bytes (`spec.length` of them), computed with pyca/cryptography and hashlib."""
    if spec.method is D.ASYMMETRIC_KEY:
        return _fit(_shared_secret(sources, spec), spec.length, spec.method)
    secret = _plain_bytes(sources[0])
    # Derivation Data given as a Secret Data object (KMIP 2.1 §7.12): the second source.
    data = spec.data if len(sources) < 2 else _plain_bytes(sources[1])
    spec = dataclasses.replace(spec, data=data)
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
    if spec.method is D.NIST800_108_C:
        kdf = KBKDFHMAC(
            algorithm,
            Mode.CounterMode,
            spec.length,
            rlen=4,
            llen=4,
            location=CounterLocation.BeforeFixed,
            label=None,
            context=None,
            fixed=spec.data,
        )
        return kdf.derive(secret)
    raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"{spec.method.name} derivation is not supported")
