"""The HSM crypto provider: the key store's token does the work with keys it never gives out.

Records whose material is a reference to a token object (the HSM key store,
`hsm_store`) come here; the others go to the software provider (`DispatchingProvider`
picks by record). Each operation is one whole PKCS#11 call made at `finish` (C_Encrypt,
C_Decrypt, C_Sign), so the input is kept until then (bounded, as the software
provider's buffered mechanisms are) and the token's one session is never held
between requests. Signatures hash the data here as it arrives (hashing needs no
key) and the token signs the digest: CKM_RSA_PKCS over the DigestInfo, CKM_RSA_PKCS_PSS,
CKM_ECDSA (whose r||s becomes the DER that KMIP and pyca use).

AES-KW/KWP, which SoftHSM2 offers only to C_WrapKey/C_UnwrapKey, run there: the data
becomes a short-lived session secret (CKA_TOKEN=FALSE) that the key wraps, or that an
unwrap makes and that is read and destroyed.

What the token cannot do is refused: Feature Not Supported for a mechanism it lacks
(XTS, 3DES, ChaCha20, SHA-3 HMAC, EdDSA), Invalid Field for input its mechanism refuses,
Cryptographic Failure for data that does not decrypt or verify. Derivation from a token key
and an HMAC with a key shorter than the token takes read the key out (`_read_out`) if KMIP
Get would give it (Extractable, not Sensitive), else are Feature Not Supported.
"""

from __future__ import annotations

import ctypes
import hmac as constant_time
import struct
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import MGF, Attribute, KeyType, Mechanism

from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    DerivationMethod,
    HashingAlgorithm,
    ObjectType,
    PaddingMethod,
    ResultReason,
)
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.crypto import derivation, signing, wrapping
from pkcs11_kmip_server.crypto.mechanisms import BUFFER_LIMIT, CipherSpec
from pkcs11_kmip_server.crypto.provider import CipherOperation, CipherOutput, CryptoProvider, DigestOperation
from pkcs11_kmip_server.crypto.pyca import HASHES
from pkcs11_kmip_server.crypto.signatures import CMAC_AES, ECDSA, RSA_PKCS1, RSA_PSS, MacSpec, SignatureSpec
from pkcs11_kmip_server.crypto.signing import _digest_check, _rsa_padding, _running_hash
from pkcs11_kmip_server.crypto.software import SoftwareProvider, check_key_wrap_length
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store.store import read_plain
from pkcs11_kmip_server.hsm_store.token import (
    SECRET_TYPES,
    current,
    reference_of,
    refusals,
    unwrap_value,
    wrap_value,
)
from pkcs11_kmip_server.store import ObjectRecord

H = HashingAlgorithm

# Hashing Algorithm -> (the hash mechanism, MGF1 with it) for OAEP and PSS parameters.
HASH_MECHANISMS: dict[HashingAlgorithm, tuple[Mechanism, MGF]] = {
    H.SHA_1: (Mechanism.SHA_1, MGF.SHA1),
    H.SHA_224: (Mechanism.SHA224, MGF.SHA224),
    H.SHA_256: (Mechanism.SHA256, MGF.SHA256),
    H.SHA_384: (Mechanism.SHA384, MGF.SHA384),
    H.SHA_512: (Mechanism.SHA512, MGF.SHA512),
}
# The DER a PKCS#1 v1.5 signature puts before the digest (RFC 8017 §9.2, note 1).
DIGEST_INFO: dict[HashingAlgorithm, bytes] = {
    H.SHA_1: bytes.fromhex("3021300906052b0e03021a05000414"),
    H.SHA_224: bytes.fromhex("302d300d06096086480165030402040500041c"),
    H.SHA_256: bytes.fromhex("3031300d060960864801650304020105000420"),
    H.SHA_384: bytes.fromhex("3041300d060960864801650304020205000430"),
    H.SHA_512: bytes.fromhex("3051300d060960864801650304020305000440"),
    H.SHA3_224: bytes.fromhex("302d300d06096086480165030402070500041c"),
    H.SHA3_256: bytes.fromhex("3031300d060960864801650304020805000420"),
    H.SHA3_384: bytes.fromhex("3041300d060960864801650304020905000430"),
    H.SHA3_512: bytes.fromhex("3051300d060960864801650304020a05000440"),
}
HMAC_MECHANISMS: dict[HashingAlgorithm, Mechanism] = {
    H.SHA_1: Mechanism.SHA_1_HMAC,
    H.SHA_224: Mechanism.SHA224_HMAC,
    H.SHA_256: Mechanism.SHA256_HMAC,
    H.SHA_384: Mechanism.SHA384_HMAC,
    H.SHA_512: Mechanism.SHA512_HMAC,
}
# The KMIP algorithms whose keys are CKK_GENERIC_SECRET in the token (an AES key is no HMAC key there).
GENERIC_SECRETS = frozenset(a for a, (kind, _) in SECRET_TYPES.items() if kind is KeyType.GENERIC_SECRET)
KEY_WRAP = frozenset({"AES-KW", "AES-KWP"})  # RFC 3394 and RFC 5649: see `key_wrap_mechanism`


class _TokenLacks(KmipError):
    """Feature Not Supported for `what` the token cannot do: done in the server instead if the
    key may leave the token (`_in_server`)."""

    def __init__(self, what: str) -> None:
        super().__init__(ResultReason.FEATURE_NOT_SUPPORTED, f"the HSM key store cannot do {what}")
        self.what = what


def _unsupported(what: str) -> KmipError:
    return _TokenLacks(what)


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


class _OneCall:
    """Input kept (bounded) until `finish`, which makes the one token call."""

    def __init__(self, compute: Callable[[bytes], CipherOutput]) -> None:
        self._compute = compute
        self._parts: list[bytes] = []
        self._size = 0

    def _add(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > BUFFER_LIMIT:
            raise _invalid(f"the HSM key store takes at most {BUFFER_LIMIT} bytes an operation")
        self._parts.append(data)

    def update(self, data: bytes) -> bytes:
        self._add(data)
        return b""

    def finish(self) -> CipherOutput:
        return self._compute(b"".join(self._parts))


class _BlockStream:
    """AES-ECB or CBC a part at a time, so a stream answers at each part as the database
    store's does, without holding the token's session between requests: each part's whole
    blocks are one C_Encrypt/C_Decrypt (CKM_AES_ECB, or CKM_AES_CBC with the chain's IV: the
    last ciphertext block), and PKCS#5 padding is added and removed here (it needs no key;
    SoftHSM2 has no CKM_AES_ECB_PAD). A decryption keeps its last block for `finish`, which
    unpads it. A one-part request makes one call, two if padded."""

    def __init__(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> None:
        self._key = key
        self._encrypt = encrypt
        self._chained = spec.mechanism.name == "AES-CBC"
        self._iv = spec.iv or b""
        self._padded = spec.padding is PaddingMethod.PKCS5
        self._pending = b""
        self._seen = 0

    def _run(self, blocks: bytes) -> bytes:
        if not blocks:
            return b""
        doing = "encrypt" if self._encrypt else "decrypt"
        mechanism = Mechanism.AES_CBC if self._chained else Mechanism.AES_ECB
        parameter = self._iv if self._chained else None
        output = _call(
            self._key,
            doing,
            lambda k: bytes(getattr(k, doing)(blocks, mechanism=mechanism, mechanism_param=parameter)),
        )
        if self._chained:
            self._iv = (output if self._encrypt else blocks)[-16:]
        return output

    def update(self, data: bytes) -> bytes:
        self._seen += len(data)
        self._pending += data
        keep = len(self._pending) % 16
        if self._padded and not self._encrypt and not keep:  # the last block holds the padding
            keep = min(16, len(self._pending))
        whole = len(self._pending) - keep
        output = self._run(self._pending[:whole])
        self._pending = self._pending[whole:]
        return output

    def finish(self) -> CipherOutput:
        if self._padded and self._encrypt:
            return CipherOutput(self._run(_pkcs5(self._pending, 16)))
        if len(self._pending) % 16 or (self._padded and not self._seen):
            raise _invalid("the data is not a whole number of 16-byte blocks")
        return CipherOutput(_unpad(self._run(self._pending), 16) if self._padded else b"")


def _ctr_parameter(counter_block: bytes) -> bytes:
    """CK_AES_CTR_PARAMS: all 128 bits of the block count (as the database store's CTR)."""
    return struct.pack("=L16s" if struct.calcsize("L") == 4 else "=Q16s", 128, counter_block)


class _CtrStream:
    """AES-CTR a part at a time, so a stream answers at each part as the database store's
    does, without holding the token's session between requests: the keystream at any offset
    is the counter block plus the blocks done, so each part is one C_Encrypt from there (a
    part that starts inside a block is preceded by that block's done bytes as zeros, whose
    output is dropped). Encryption and decryption are the same call."""

    def __init__(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> None:
        self._key = key
        self._doing = "encrypt" if encrypt else "decrypt"
        self._start = int.from_bytes(spec.iv or bytes(16), "big")
        self._done = 0

    def update(self, data: bytes) -> bytes:
        if not data:
            return b""
        blocks, skip = divmod(self._done, 16)
        counter = ((self._start + blocks) % 2**128).to_bytes(16, "big")
        parameter, padded = _ctr_parameter(counter), bytes(skip) + data
        output = _call(
            self._key,
            self._doing,
            lambda k: bytes(
                getattr(k, self._doing)(padded, mechanism=Mechanism.AES_CTR, mechanism_param=parameter)
            ),
        )
        self._done += len(data)
        return output[skip:]

    def finish(self) -> CipherOutput:
        return CipherOutput(b"")


class _Mac:
    """An HMAC or CMAC the token computes over the whole data; verified in constant time here."""

    def __init__(self, compute: Callable[[bytes], bytes]) -> None:
        self._call = _OneCall(lambda data: CipherOutput(compute(data)))

    def update(self, data: bytes) -> None:
        self._call.update(data)

    def finish(self) -> bytes:
        return self._call.finish().data

    def verify(self, expected: bytes) -> bool:
        return constant_time.compare_digest(self.finish(), expected)


def _call(key: ObjectRecord, doing: str, work: Callable[[Any], bytes]) -> bytes:
    """Run `work` on the record's token object, in the token's session."""
    return current().use(key, doing, work)


def _may_leave(key: ObjectRecord) -> bool:
    """Whether KMIP Get gives the key to any client allowed to Get it (Extractable, not Sensitive)."""
    attributes = key.attributes
    return attributes.get(Tag.SENSITIVE) is not True and attributes.get(Tag.EXTRACTABLE) is not False


def _read_out(key: ObjectRecord, what: str) -> ObjectRecord:
    """The record with its key read out of the token, for `what` the token cannot do: only a
    key that may leave (`_may_leave`), so the server sees no more than Get shows. A key that
    must not leave the HSM is refused (Feature Not Supported)."""
    if not _may_leave(key):
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED,
            f"the HSM key store cannot do {what} with a Sensitive or non-extractable key (it never "
            "leaves the token)",
        )
    assert key.material is not None
    return replace(key, material=read_plain(current(), key, key.material))


class _GcmParams(ctypes.Structure):
    """CK_GCM_PARAMS as PKCS#11 2.40 (errata) and 3.0 lay it out, and SoftHSM2 2.6 reads it."""

    _fields_ = [
        ("pIv", ctypes.c_void_p),
        ("ulIvLen", ctypes.c_ulong),
        ("ulIvBits", ctypes.c_ulong),
        ("pAAD", ctypes.c_void_p),
        ("ulAADLen", ctypes.c_ulong),
        ("ulTagBits", ctypes.c_ulong),
    ]


class _RawParameter(bytes):
    """A mechanism parameter python-pkcs11 hands the token as it is (its `bytes` way), holding
    the buffers its pointers name: they live as long as the parameter does."""

    buffers: tuple[ctypes.Array[ctypes.c_char], ...]


def _gcm_parameter(iv: bytes, aad: bytes, tag_bits: int) -> _RawParameter:
    """CK_GCM_PARAMS made here, since python-pkcs11's GCMParams refuses IVs over 12 bytes,
    which SP 800-38D, KMIP (CS-BC-M-GCM-2: 60 bytes) and the token take."""
    iv_buffer, aad_buffer = (ctypes.create_string_buffer(part, len(part)) for part in (iv, aad))
    fields = _GcmParams(
        ctypes.addressof(iv_buffer) if iv else None,
        len(iv),
        8 * len(iv),
        ctypes.addressof(aad_buffer) if aad else None,
        len(aad),
        tag_bits,
    )
    parameter = _RawParameter(bytes(fields))
    parameter.buffers = (iv_buffer, aad_buffer)
    return parameter


def _in_server(key: ObjectRecord, spec: CipherSpec, encrypt: bool, what: str) -> CipherOperation:
    """The software provider's operation with the key read out, for `what` the token cannot do."""
    return SoftwareProvider().cipher(_read_out(key, what), spec, encrypt)


def _finish_in_server(
    key: ObjectRecord, spec: CipherSpec, encrypt: bool, what: str, data: bytes
) -> CipherOutput:
    """The whole operation over `data` in the server (see `_in_server`), after the token refused."""
    if spec.mechanism.name == "AES-GCM" and not encrypt:  # the tag travels in the spec, not the data
        data = data[: len(data) - len(spec.tag or b"")]
    operation = _in_server(key, spec, encrypt, what)
    head = operation.update(data)
    final = operation.finish()
    return replace(final, data=head + final.data)


def _rsa_bytes(key: ObjectRecord) -> int | None:
    """The modulus length of an RSA key in bytes, from its Cryptographic Length."""
    bits = key.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    return (bits + 7) // 8 if isinstance(bits, int) else None


def _pkcs5(data: bytes, size: int) -> bytes:
    count = size - len(data) % size
    return data + bytes([count]) * count


def _unpad(data: bytes, size: int) -> bytes:
    count = data[-1] if data else 0
    if not 1 <= count <= size or data[-count:] != bytes([count]) * count:
        raise KmipError(
            ResultReason.CRYPTOGRAPHIC_FAILURE, "the decrypted data does not end in valid PKCS#5 padding"
        )
    return data[:-count]


def _cipher_call(spec: CipherSpec, encrypt: bool) -> tuple[Mechanism, Any]:
    """The PKCS#11 mechanism and parameter of a CipherSpec (Feature Not Supported if none)."""
    name = spec.mechanism.name
    iv = spec.iv or b""
    if name == "AES-ECB":
        return Mechanism.AES_ECB, None
    if name == "AES-CBC":
        padded = spec.padding is PaddingMethod.PKCS5
        return (Mechanism.AES_CBC_PAD if padded else Mechanism.AES_CBC), iv
    if name == "AES-CTR":
        return Mechanism.AES_CTR, _ctr_parameter(iv)
    if name == "AES-GCM":
        tag = spec.tag if not encrypt else None
        bits = 8 * (len(tag) if tag is not None else spec.tag_length or 16)
        return Mechanism.AES_GCM, _gcm_parameter(iv, spec.aad or b"", bits)
    if name == "RSA-PKCS1-v1_5":
        return Mechanism.RSA_PKCS, None
    if name == "RSA-OAEP":
        assert spec.hashing is not None and spec.mgf_hashing is not None
        if spec.hashing not in HASH_MECHANISMS or spec.mgf_hashing not in HASH_MECHANISMS:
            raise _unsupported(f"OAEP with {spec.hashing.name}")
        if spec.label:  # SoftHSM2 2.6 fails C_Decrypt with CKR_GENERAL_ERROR for any pSourceData
            raise _unsupported("OAEP with a label")
        return Mechanism.RSA_PKCS_OAEP, (
            HASH_MECHANISMS[spec.hashing][0],
            HASH_MECHANISMS[spec.mgf_hashing][1],
            spec.label or None,
        )
    raise _unsupported(name)


class HsmProvider:
    """Cryptography with keys the key store's token holds, by their records."""

    def cipher(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        name = spec.mechanism.name
        if name in KEY_WRAP:
            return _OneCall(lambda data: CipherOutput(_key_wrap_data(key, spec, data, encrypt)))
        doing = "encrypt" if encrypt else "decrypt"
        flag = Attribute.ENCRYPT if encrypt else Attribute.DECRYPT
        try:
            mechanism, parameter = _cipher_call(spec, encrypt)
        except _TokenLacks as lacking:
            return _in_server(key, spec, encrypt, lacking.what)
        if not current().permits(key, flag):  # e.g. a key with Wrap Key only wrapping with GCM
            return _in_server(key, spec, encrypt, f"{name} with a key the HSM may not {doing} with")
        if mechanism in (Mechanism.AES_ECB, Mechanism.AES_CBC, Mechanism.AES_CBC_PAD):
            return _BlockStream(key, spec, encrypt)
        if mechanism is Mechanism.AES_CTR:
            return _CtrStream(key, spec, encrypt)
        rsa_size = _rsa_bytes(key) if mechanism in (Mechanism.RSA_PKCS, Mechanism.RSA_PKCS_OAEP) else None

        def in_token(data: bytes) -> bytes:
            if rsa_size is not None and len(data) != rsa_size:  # decryption: encryption is the public key's
                raise _invalid(f"the ciphertext of this key is {rsa_size} bytes, not {len(data)}")
            return _call(
                key,
                doing,
                lambda k: bytes(getattr(k, doing)(data, mechanism=mechanism, mechanism_param=parameter)),
            )

        def compute(data: bytes) -> CipherOutput:
            if mechanism is Mechanism.AES_GCM and not encrypt:
                data += spec.tag or b""
            try:
                output = in_token(data)
            except KmipError as refused:  # a mechanism or parameter the token refuses (OAEP's label)
                if refused.reason is not ResultReason.FEATURE_NOT_SUPPORTED or not _may_leave(key):
                    raise
                return _finish_in_server(key, spec, encrypt, name, data)
            if mechanism is Mechanism.AES_GCM and encrypt:  # C_Encrypt gives ciphertext || tag
                return CipherOutput(output[: len(data)], output[len(data) :])
            return CipherOutput(output)

        return _OneCall(compute)

    def sign(self, key: ObjectRecord, spec: SignatureSpec, verify: bool) -> DigestOperation:
        if verify:
            raise KmipError(ResultReason.INVALID_OBJECT_TYPE, "a private key signs, it does not verify")
        hashing = _running_hash(spec)
        in_token: Callable[[bytes], bytes]
        try:
            if spec.scheme == RSA_PKCS1:
                in_token = self._rsa_pkcs1(key, spec)
            elif spec.scheme == RSA_PSS:
                in_token = self._rsa_pss(key, spec)
            elif spec.scheme == ECDSA:
                in_token = self._ecdsa(key)
            else:
                raise _unsupported(f"{spec.scheme} signatures")
        except _TokenLacks as lacking:
            return SoftwareProvider().sign(_read_out(key, lacking.what), spec, verify)

        def sign(digest: bytes) -> bytes:
            try:
                return in_token(digest)
            except _TokenLacks as lacking:  # found at the end: the digest is signed in the server
                if not _may_leave(key):
                    raise
                server = SoftwareProvider().sign(
                    _read_out(key, lacking.what), replace(spec, prehashed=True), verify
                )
                server.update(digest)
                return server.finish()

        return signing.Signature(hashing, sign, None)

    @staticmethod
    def _rsa_pkcs1(key: ObjectRecord, spec: SignatureSpec) -> Callable[[bytes], bytes]:
        room = (_rsa_bytes(key) or 0) - 11

        def sign(message: bytes) -> bytes:
            if spec.hashing is not None:  # the digest, after its DigestInfo
                if spec.hashing not in DIGEST_INFO:
                    raise _unsupported(f"PKCS#1 v1.5 signatures with {spec.hashing.name}")
                _digest_check(spec, len(message))
                message = DIGEST_INFO[spec.hashing] + message
            elif len(message) > room:  # the client's own DigestInfo, as the software provider checks
                raise _invalid(f"this key signs at most {max(room, 0)} bytes as given")
            return _call(key, "sign", lambda k: bytes(k.sign(message, mechanism=Mechanism.RSA_PKCS)))

        return sign

    @staticmethod
    def _rsa_pss(key: ObjectRecord, spec: SignatureSpec) -> Callable[[bytes], bytes]:
        hashing, mgf = spec.hashing, spec.mgf_hashing
        if hashing not in HASH_MECHANISMS or mgf not in HASH_MECHANISMS:
            raise _unsupported(f"PSS with {getattr(hashing, 'name', 'no hash')}")

        room = (_rsa_bytes(key) or 0) - 2  # RFC 8017 §9.1.1: emLen >= hLen + sLen + 2

        def sign(digest: bytes) -> bytes:
            size = _digest_check(spec, len(digest)).digest_size
            salt = spec.salt_length if spec.salt_length is not None else size
            if size + salt > room:
                raise _invalid(f"a salt of {salt} bytes is too long for this key and hash")
            parameter = (HASH_MECHANISMS[hashing][0], HASH_MECHANISMS[mgf][1], salt)
            return _call(
                key,
                "sign",
                lambda k: bytes(k.sign(digest, mechanism=Mechanism.RSA_PKCS_PSS, mechanism_param=parameter)),
            )

        return sign

    @staticmethod
    def _ecdsa(key: ObjectRecord) -> Callable[[bytes], bytes]:
        def sign(digest: bytes) -> bytes:
            if not 1 <= len(digest) <= 64:
                raise _invalid(f"ECDSA signs a digest of 1 to 64 bytes, not {len(digest)}")
            raw = _call(key, "sign", lambda k: bytes(k.sign(digest, mechanism=Mechanism.ECDSA)))
            half = len(raw) // 2
            return encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))

        return sign

    def sign_certificate(
        self, key: ObjectRecord, spec: SignatureSpec, builder: x509.CertificateBuilder
    ) -> x509.Certificate:
        """The CA key in the token signs the certificate's TBSCertificate (RFC 5280 §4.1): pyca
        builds it signed by a stand-in key of the same kind, so with the same signature
        AlgorithmIdentifier (which TBSCertificate holds too); the token signs the TBS bytes and
        the Certificate is assembled from them, that identifier and the signature. Issuing
        then checks it against the CA certificate, as for any store."""
        hashing = HASHES[spec.hashing]() if spec.hashing is not None else None
        rsa_padding = _rsa_padding(spec, verify=False) if spec.scheme in (RSA_PKCS1, RSA_PSS) else None
        draft = builder.sign(_stand_in(key, spec), hashing, rsa_padding=rsa_padding)  # type: ignore[arg-type]
        signer = self.sign(key, replace(spec, prehashed=False), verify=False)
        signer.update(draft.tbs_certificate_bytes)
        signature = signer.finish()
        ((_, certificate),) = _der_items(draft.public_bytes(serialization.Encoding.DER))
        tbs, (algorithm, _), _ = _der_items(certificate)
        assert tbs[0] == draft.tbs_certificate_bytes
        der = _der(0x30, draft.tbs_certificate_bytes + algorithm + _der(0x03, b"\x00" + signature))
        return x509.load_der_x509_certificate(der)

    def mac(self, key: ObjectRecord, spec: MacSpec) -> DigestOperation:
        what: str | None = None  # what the token cannot do: done in the server if the key may leave
        mechanism = Mechanism.AES_CMAC
        if spec.name != CMAC_AES and spec.hashing not in HMAC_MECHANISMS:
            what = f"{spec.name} with {getattr(spec.hashing, 'name', '?')}"
        elif spec.name != CMAC_AES:
            assert spec.hashing is not None
            mechanism = HMAC_MECHANISMS[spec.hashing]
            size = (key.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) or 0) // 8
            algorithm = key.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
            if algorithm not in GENERIC_SECRETS:  # PKCS#11 keeps AES and HMAC key types apart
                what = f"{spec.name} with a {getattr(algorithm, 'name', '?')} key"
            elif size < current().shortest_key(mechanism):  # RFC 2104 takes it, the token not
                what = f"{spec.name} with a {size}-byte key"
        if what is not None:
            return SoftwareProvider().mac(_read_out(key, what), spec)
        return _Mac(
            lambda data: _call(key, "compute the MAC", lambda k: bytes(k.sign(data, mechanism=mechanism)))
        )

    def digest(self, hashing: HashingAlgorithm) -> DigestOperation:
        return SoftwareProvider().digest(hashing)

    def wrap(self, key: ObjectRecord, spec: CipherSpec, plaintext: bytes) -> bytes:
        return wrapping.software_wrap(self.cipher, key, spec, plaintext)

    def unwrap(self, key: ObjectRecord, spec: CipherSpec, wrapped: bytes) -> bytes:
        return wrapping.software_unwrap(self.cipher, key, spec, wrapped)

    def derive(self, sources: Sequence[ObjectRecord], spec: derivation.DerivationSpec) -> bytes:
        secret = _ecdh_in_token(sources, spec)
        if secret is not None:
            return secret
        # PKCS#11 tokens (SoftHSM2) offer no HKDF, PBKDF2 over a key, or hash derivation.
        read = [_read_out(s, "key derivation") if reference_of(s) is not None else s for s in sources]
        return SoftwareProvider().derive(read, spec)

    def random_bytes(self, count: int) -> bytes:
        return SoftwareProvider().random_bytes(count)

    def seed_random(self, seed: bytes) -> int:
        return 0


def key_wrap_mechanism(name: str, length: int | None, encrypt: bool) -> Mechanism | None:
    """The token's mechanism that gives exactly RFC 3394 (AES-KW) or RFC 5649 (AES-KWP) for a
    value of `length` bytes (None: not known beforehand), or None if it has none.

    CKM_AES_KEY_WRAP is RFC 3394 for whole 8-byte blocks (SoftHSM2 zero-pads a partial one,
    which RFC 3394 does not wrap); RFC 5649 is `HsmToken.padded_wrap`'s answer."""
    if name == "AES-KWP":
        return current().padded_wrap(length, encrypt)
    whole_blocks = not encrypt or (length is not None and length % 8 == 0)
    return Mechanism.AES_KEY_WRAP if whole_blocks else None


def _key_wrap_data(key: ObjectRecord, spec: CipherSpec, data: bytes, encrypt: bool) -> bytes:
    """AES-KW/KWP of the data: in the token when its mechanism gives the RFC's bytes and the
    key's token object may wrap (CKA_WRAP/CKA_UNWRAP: the Wrap/Unwrap Key usage); else in the
    server with the key read out if it may leave (`_read_out`), else Feature Not Supported."""
    name = spec.mechanism.name
    check_key_wrap_length(name, encrypt, len(data))
    mechanism = key_wrap_mechanism(name, len(data), encrypt)
    flag = Attribute.WRAP if encrypt else Attribute.UNWRAP
    if mechanism is not None and current().permits(key, flag):
        return _key_wrap(key, mechanism, data, encrypt)
    if mechanism is None:
        what = f"{name} of {len(data)} bytes (the HSM's mechanism does not give the RFC's bytes for it)"
    else:
        what = f"{name} with a key the HSM may not {'wrap' if encrypt else 'unwrap'} with (no {flag.name})"
    return _finish_in_server(key, spec, encrypt, what, data).data


# Stand-in keys for `sign_certificate`, made once per process: (kind, bits) -> private key.
_STAND_INS: dict[tuple[str, int], rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {}


def _stand_in(key: ObjectRecord, spec: SignatureSpec) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey:
    """A throwaway key whose certificate signatures have the AlgorithmIdentifier the CA key's
    have: RSA of the same size (a PSS salt must fit), or any EC key (ecdsa-with-SHA*)."""
    if spec.scheme == ECDSA:
        kind = ("ec", 0)
        if kind not in _STAND_INS:
            _STAND_INS[kind] = ec.generate_private_key(ec.SECP256R1())
        return _STAND_INS[kind]
    if spec.scheme not in (RSA_PKCS1, RSA_PSS):
        raise _unsupported(f"certificates signed with {spec.scheme} by a CA key in the HSM")
    kind = ("rsa", _rsa_bytes(key) or 256)
    if kind not in _STAND_INS:
        _STAND_INS[kind] = rsa.generate_private_key(65537, 8 * kind[1])
    return _STAND_INS[kind]


def _ecdh_in_token(sources: Sequence[ObjectRecord], spec: derivation.DerivationSpec) -> bytes | None:
    """ECDH (Derive Key, Asymmetric Key) with an EC private key the token holds and may derive
    with (CKA_DERIVE, from the Derive Key usage): done in the token, so a Sensitive key is
    used too. None for every other derivation (they run in the server, `derive`)."""
    if spec.method is not DerivationMethod.ASYMMETRIC_KEY:
        return None
    private = [r for r in sources if r.object_type is ObjectType.PRIVATE_KEY]
    public = [r for r in sources if r.object_type is ObjectType.PUBLIC_KEY]
    if len(private) != 1 or reference_of(private[0]) is None:
        return None  # not one private key, or not in the token: as in the server
    if private[0].attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) not in formats.EC.algorithms:
        return None  # RSA: no ECDH, refused in the server as on the database store
    if len(public) + (spec.peer_public_key is not None) != 1 or not current().permits(
        private[0], Attribute.DERIVE
    ):
        return None

    def peer_point(curve: ec.EllipticCurve) -> bytes:
        peer = derivation.peer_key(public, spec.peer_public_key, curve)
        if not (isinstance(peer, ec.EllipticCurvePublicKey) and peer.curve.name == curve.name):
            raise KmipError(
                ResultReason.INVALID_OBJECT_TYPE, "ECDH needs a public key of the private key's curve"
            )
        return peer.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)

    return derivation._fit(current().shared_secret(private[0], peer_point), spec.length, spec.method)


def _der(tag: int, content: bytes) -> bytes:
    """One DER TLV (X.690 §8.1: definite length, short form under 128)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _der_items(data: bytes) -> list[tuple[bytes, bytes]]:
    """The TLVs one after another in `data`, each whole and its content (DER: one-byte tags,
    definite lengths, which a certificate's top level has)."""
    items: list[tuple[bytes, bytes]] = []
    at = 0
    while at < len(data):
        first = data[at + 1]
        start, size = at + 2, first
        if first >= 0x80:
            start = at + 2 + (first & 0x7F)
            size = int.from_bytes(data[at + 2 : start], "big")
        items.append((data[at : start + size], data[start : start + size]))
        at = start + size
    return items


def _key_wrap(key: ObjectRecord, mechanism: Mechanism, data: bytes, encrypt: bool) -> bytes:
    """AES-KW/KWP through C_WrapKey/C_UnwrapKey and a session secret holding the data."""
    token = current()
    doing = "wrap" if encrypt else "unwrap"
    with token.session() as session, refusals(doing):
        wrapping_key = token.key(session, key)
        if encrypt:
            return wrap_value(session, wrapping_key, mechanism, data)
        return unwrap_value(wrapping_key, mechanism, data)


class DispatchingProvider:
    """The HSM provider for records whose key is in the token, the software one for the rest."""

    def __init__(self, software: CryptoProvider | None = None, hsm: CryptoProvider | None = None) -> None:
        self.software: CryptoProvider = software if software is not None else SoftwareProvider()
        self.hsm: CryptoProvider = hsm if hsm is not None else HsmProvider()

    def _for(self, key: ObjectRecord) -> CryptoProvider:
        return self.hsm if reference_of(key) is not None else self.software

    def cipher(self, key: ObjectRecord, spec: CipherSpec, encrypt: bool) -> CipherOperation:
        return self._for(key).cipher(key, spec, encrypt)

    def sign(self, key: ObjectRecord, spec: SignatureSpec, verify: bool) -> DigestOperation:
        return self._for(key).sign(key, spec, verify)

    def sign_certificate(
        self, key: ObjectRecord, spec: SignatureSpec, builder: x509.CertificateBuilder
    ) -> x509.Certificate:
        return self._for(key).sign_certificate(key, spec, builder)

    def mac(self, key: ObjectRecord, spec: MacSpec) -> DigestOperation:
        return self._for(key).mac(key, spec)

    def digest(self, hashing: HashingAlgorithm) -> DigestOperation:
        return self.software.digest(hashing)

    def wrap(self, key: ObjectRecord, spec: CipherSpec, plaintext: bytes) -> bytes:
        return self._for(key).wrap(key, spec, plaintext)

    def unwrap(self, key: ObjectRecord, spec: CipherSpec, wrapped: bytes) -> bytes:
        return self._for(key).unwrap(key, spec, wrapped)

    def derive(self, sources: Sequence[ObjectRecord], spec: derivation.DerivationSpec) -> bytes:
        if any(reference_of(source) is not None for source in sources):
            return self.hsm.derive(sources, spec)
        return self.software.derive(sources, spec)

    def random_bytes(self, count: int) -> bytes:
        return self.software.random_bytes(count)

    def seed_random(self, seed: bytes) -> int:
        return self.software.seed_random(seed)
