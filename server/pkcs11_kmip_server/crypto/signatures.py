"""Signature, MAC and hash mechanisms as data, and the checks that choose one.

Like `mechanisms` for ciphers: the tables say what each scheme takes, the code below
is generic over them and checks a request before any provider sees the key. A
provider implements the schemes by name.

Which parameters apply: the request's Cryptographic Parameters, else the key's
attribute (its first instance), else none; a structure is taken whole. What it leaves
out gets these defaults:

- a signature scheme from the key's algorithm: PKCS#1 v1.5 for RSA (unless Padding
  Method says PSS), ECDSA for EC keys, EdDSA for Ed25519/Ed448 keys; Digital Signature
  Algorithm, when given, names scheme and hash at once;
- the hash: SHA-256 for RSA, and for ECDSA the hash of the curve's strength (SHA-384
  for P-384, SHA-512 for P-521). EdDSA has its hash built in and takes none;
- Digested Data with RSA PKCS#1 v1.5 and no hash named anywhere is signed as given,
  with no DigestInfo added (as PKCS#11's CKM_RSA_PKCS: the client built the
  DigestInfo, or wants none; TC-RSA-SIGN-DIGESTEDDATA-1 signs a 16-byte value so);
- PSS: MGF1 with the signature's hash, salt as long as the hash when signing; a
  verification with no Salt Length given accepts any salt length;
- MAC: HMAC with the hash the Cryptographic Algorithm names (HMAC_SHA256 ...), else
  the Hashing Algorithm; CMAC for an AES key (Block Cipher Mode CMAC or none). A Tag
  Length (bytes, §4.16) truncates the MAC to its leftmost bytes (`MAC_LENGTHS`: at
  least 4 for HMAC, SP 800-107 §5.3.3; 8 for CMAC, SP 800-38B appendix A; at most the
  whole MAC), else Invalid Field. MAC Verify then compares that many bytes, and MAC
  Data of another length is Invalid Field; without a Tag Length only the whole MAC
  is valid.

A scheme the key cannot make is Bad Cryptographic Parameters for Sign. For Signature
Verify it is an answer, not an error: the signature is not a valid one of that kind
by this key (Invalid), as TC-ECDSA-SIGN-DIGESTEDDATA-1 expects of RSA-PSS parameters
given with an EC key. Unknown or unsupported schemes and hashes are Unsupported
Cryptographic Parameters.

No prehashed EdDSA (Ed25519ph/Ed448ph, RFC 8032 §5.1/5.2): Digested Data with an
Ed25519/Ed448 key is Unsupported Cryptographic Parameters. KMIP 2.1 cannot name it:
its Digital Signature Algorithm enumeration (§11.16) has no EdDSA entry, and the
Cryptographic Algorithms Ed25519/Ed448 (§11.12) say nothing of a prehash or a context
string. Reading Digested Data as Ed25519ph would sign with RFC 8032's dom2 prefix, a
signature a PureEdDSA verifier rejects, and the client could not tell which it got;
nor do pyca/cryptography or the OpenSSL 3.0 under it offer Ed25519ph.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    DigitalSignatureAlgorithm,
    HashingAlgorithm,
    MaskGenerator,
    PaddingMethod,
    ResultReason,
)
from pkcs11_kmip_server.crypto.derivation import HASH_NAMES, HMAC_KEY_HASHES
from pkcs11_kmip_server.errors import KmipError

A = CryptographicAlgorithm
D = DigitalSignatureAlgorithm
H = HashingAlgorithm

RSA_PKCS1 = "RSA-PKCS1-v1_5"
RSA_PSS = "RSA-PSS"
ECDSA = "ECDSA"
ED25519 = "Ed25519"
ED448 = "Ed448"
HMAC = "HMAC"
CMAC_AES = "CMAC-AES"


@dataclass(frozen=True)
class SignatureScheme:
    """A way to sign: the key algorithms that make it, and whether it takes a hash."""

    name: str
    key_algorithms: frozenset[CryptographicAlgorithm]
    hashed: bool = True  # False: the hash is part of the scheme (EdDSA)
    prehashable: bool = True  # can sign a digest the client made


SCHEMES: dict[str, SignatureScheme] = {
    scheme.name: scheme
    for scheme in (
        SignatureScheme(RSA_PKCS1, frozenset({A.RSA})),
        SignatureScheme(RSA_PSS, frozenset({A.RSA})),
        SignatureScheme(ECDSA, frozenset({A.EC, A.ECDSA})),
        SignatureScheme(ED25519, frozenset({A.ED25519}), hashed=False, prehashable=False),
        SignatureScheme(ED448, frozenset({A.ED448}), hashed=False, prehashable=False),
    )
}

# Digital Signature Algorithm -> (scheme, hash); None: the Hashing Algorithm field says.
BY_DIGITAL_SIGNATURE_ALGORITHM: dict[DigitalSignatureAlgorithm, tuple[str, HashingAlgorithm | None]] = {
    D.SHA_1_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA_1),
    D.SHA_224_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA_224),
    D.SHA_256_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA_256),
    D.SHA_384_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA_384),
    D.SHA_512_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA_512),
    D.SHA3_256_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA3_256),
    D.SHA3_384_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA3_384),
    D.SHA3_512_WITH_RSA_ENCRYPTION: (RSA_PKCS1, H.SHA3_512),
    D.RSASSA_PSS: (RSA_PSS, None),
    D.ECDSA_WITH_SHA_1: (ECDSA, H.SHA_1),
    D.ECDSA_WITH_SHA224: (ECDSA, H.SHA_224),
    D.ECDSA_WITH_SHA256: (ECDSA, H.SHA_256),
    D.ECDSA_WITH_SHA384: (ECDSA, H.SHA_384),
    D.ECDSA_WITH_SHA512: (ECDSA, H.SHA_512),
}

# Cryptographic Algorithm (and, for RSA, Padding Method) -> scheme, when no Digital
# Signature Algorithm is given.
BY_ALGORITHM: dict[tuple[CryptographicAlgorithm, PaddingMethod | None], str] = {
    (A.RSA, None): RSA_PKCS1,
    (A.RSA, PaddingMethod.PKCS1_V1_5): RSA_PKCS1,
    (A.RSA, PaddingMethod.PSS): RSA_PSS,
    (A.EC, None): ECDSA,
    (A.ECDSA, None): ECDSA,
    (A.ED25519, None): ED25519,
    (A.ED448, None): ED448,
}

SIGNATURE_HASHES = frozenset(
    {H.SHA_1, H.SHA_224, H.SHA_256, H.SHA_384, H.SHA_512, H.SHA3_224, H.SHA3_256, H.SHA3_384, H.SHA3_512}
)
# The hash a scheme gets when none is named: by the key's Cryptographic Length (EC curves).
DEFAULT_HASH_BY_LENGTH: dict[int, HashingAlgorithm] = {384: H.SHA_384, 521: H.SHA_512}
DEFAULT_SIGNATURE_HASH = H.SHA_256

# An HMAC key names its own hash; the table is the one Derive Key's HMAC uses.
HMAC_HASHES = HMAC_KEY_HASHES

# What the Hash operation computes (SHA-2 including the truncated SHA-512s, and SHA-3).
DIGESTS = frozenset({*SIGNATURE_HASHES, H.SHA_512_224, H.SHA_512_256})


@dataclass(frozen=True)
class SignatureSpec:
    """A checked signature request: everything a provider needs besides the key."""

    scheme: str
    hashing: HashingAlgorithm | None  # None: EdDSA, or a digest signed as given
    prehashed: bool = False  # the data is the client's digest (Digested Data)
    salt_length: int | None = None  # PSS; None: the hash's length to sign, any to verify
    mgf_hashing: HashingAlgorithm | None = None  # PSS


@dataclass(frozen=True)
class MacSpec:
    """A checked MAC request."""

    name: str  # HMAC or CMAC-AES
    hashing: HashingAlgorithm | None = None  # HMAC's
    truncated_to: int | None = None  # bytes of the MAC kept (Tag Length); None: all of it


# The shortest MAC each kind may be truncated to, in bytes (see the module's docstring).
MAC_LENGTHS: dict[str, int] = {HMAC: 4, CMAC_AES: 8}
CMAC_AES_LENGTH = 16


class KeyMismatch(KmipError):
    """The parameters name a scheme this key cannot make (Verify answers Invalid)."""

    def __init__(self, message: str) -> None:
        super().__init__(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, message)


def _unsupported(message: str) -> KmipError:
    return KmipError(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


def _bad(message: str) -> KmipError:
    return KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, message)


def applicable(requested: CryptographicParameters | None, attribute: object) -> CryptographicParameters:
    """The request's parameters, else the key's, else none."""
    if requested is not None:
        return requested
    return attribute if isinstance(attribute, CryptographicParameters) else CryptographicParameters()


def signature_spec(
    parameters: CryptographicParameters,
    key_algorithm: CryptographicAlgorithm | None,
    key_length: int | None,
    prehashed: bool,
) -> SignatureSpec:
    """The scheme and hash the parameters name for this key (KeyMismatch if it cannot make it)."""
    scheme, hashing = _scheme_and_hash(parameters, key_algorithm)
    if key_algorithm is not None and key_algorithm not in scheme.key_algorithms:
        raise KeyMismatch(f"a {key_algorithm.name} key does not make {scheme.name} signatures")
    if prehashed and not scheme.prehashable:
        raise _unsupported(f"{scheme.name} signs the data itself, not Digested Data")
    if not scheme.hashed:
        if hashing is not None:
            raise _bad(f"{scheme.name} has its hash built in: name none")
        return SignatureSpec(scheme.name, None)
    if hashing is None and not (prehashed and scheme.name == RSA_PKCS1):
        hashing = DEFAULT_HASH_BY_LENGTH.get(key_length or 0, DEFAULT_SIGNATURE_HASH)
    if hashing is not None and hashing not in SIGNATURE_HASHES:
        raise _unsupported(f"signatures with {hashing.name} are not supported")
    if scheme.name != RSA_PSS:
        return SignatureSpec(scheme.name, hashing, prehashed)
    assert hashing is not None
    if parameters.mask_generator not in (None, MaskGenerator.MFG1):
        raise _unsupported("PSS takes MGF1 only")
    if parameters.trailer_field not in (None, 1):
        raise _unsupported("PSS takes the trailer field 0xBC (1) only")
    mgf_hashing = parameters.mask_generator_hashing_algorithm or hashing
    if mgf_hashing not in SIGNATURE_HASHES:
        raise _unsupported(f"MGF1 with {mgf_hashing.name} is not supported")
    salt = parameters.salt_length
    if salt is not None and salt < 0:
        raise KmipError(ResultReason.INVALID_FIELD, "a Salt Length is not negative")
    return SignatureSpec(RSA_PSS, hashing, prehashed, salt, mgf_hashing)


def _scheme_and_hash(
    parameters: CryptographicParameters, key_algorithm: CryptographicAlgorithm | None
) -> tuple[SignatureScheme, HashingAlgorithm | None]:
    named_hash = parameters.hashing_algorithm
    dsa = parameters.digital_signature_algorithm
    if dsa is not None:
        entry = BY_DIGITAL_SIGNATURE_ALGORITHM.get(dsa)
        if entry is None:
            raise _unsupported(f"{dsa.name} signatures are not supported")
        name, hashing = entry
        if hashing is not None and named_hash not in (None, hashing):
            raise _bad(f"{dsa.name} hashes with {hashing.name}, not {named_hash.name}")
        return SCHEMES[name], hashing or named_hash
    algorithm = parameters.cryptographic_algorithm or key_algorithm
    if algorithm is None:
        raise _bad("neither the key nor the Cryptographic Parameters name a signature algorithm")
    padding = None if parameters.padding_method is PaddingMethod.NONE else parameters.padding_method
    scheme = BY_ALGORITHM.get((algorithm, padding))
    if scheme is None:
        how = f" with Padding Method {padding.name}" if padding is not None else ""
        raise _unsupported(f"{algorithm.name} signatures{how} are not supported")
    return SCHEMES[scheme], named_hash


def mac_spec(parameters: CryptographicParameters, key_algorithm: CryptographicAlgorithm | None) -> MacSpec:
    """HMAC or CMAC, as the parameters or the key name it, truncated to the Tag Length if one is given."""
    spec = _mac_kind(parameters, key_algorithm)
    length = parameters.tag_length
    if length is None:
        return spec
    whole = CMAC_AES_LENGTH if spec.hashing is None else hashlib.new(HASH_NAMES[spec.hashing]).digest_size
    if not MAC_LENGTHS[spec.name] <= length <= whole:
        raise KmipError(
            ResultReason.INVALID_FIELD,
            f"a {spec.name} MAC may be truncated to {MAC_LENGTHS[spec.name]} to {whole} bytes, not {length}",
        )
    return dataclasses.replace(spec, truncated_to=length)


def _mac_kind(parameters: CryptographicParameters, key_algorithm: CryptographicAlgorithm | None) -> MacSpec:
    named = parameters.cryptographic_algorithm
    if named is None and parameters.hashing_algorithm is not None and key_algorithm not in HMAC_HASHES:
        return _hmac(parameters, key_algorithm, None, parameters.hashing_algorithm)
    algorithm = named or key_algorithm
    if algorithm in HMAC_HASHES:
        return _hmac(parameters, key_algorithm, algorithm, HMAC_HASHES[algorithm])
    if algorithm is A.AES:
        if key_algorithm not in (None, A.AES):
            raise _bad(f"CMAC-AES takes an AES key, not {key_algorithm.name}")
        if parameters.block_cipher_mode not in (None, BlockCipherMode.CMAC):
            raise _unsupported("MACs with AES are CMAC (Block Cipher Mode CMAC)")
        return MacSpec(CMAC_AES)
    if algorithm is None:
        raise _bad("neither the key nor the Cryptographic Parameters name a MAC algorithm")
    raise _unsupported(f"MACs with {algorithm.name} are not supported")


def _hmac(
    parameters: CryptographicParameters,
    key_algorithm: CryptographicAlgorithm | None,
    algorithm: CryptographicAlgorithm | None,
    hashing: HashingAlgorithm,
) -> MacSpec:
    """HMAC with `hashing`; an HMAC key is for its own hash only (an AES or untyped key serves any)."""
    if key_algorithm in HMAC_HASHES and HMAC_HASHES[key_algorithm] is not hashing:
        raise _bad(f"the key is an {key_algorithm.name} key, not for HMAC with {hashing.name}")
    if algorithm is not None and parameters.hashing_algorithm not in (None, hashing):
        raise _bad(f"{algorithm.name} hashes with {hashing.name}, not {parameters.hashing_algorithm.name}")
    if hashing not in SIGNATURE_HASHES:
        raise _unsupported(f"HMAC with {hashing.name} is not supported")
    return MacSpec(HMAC, hashing)


def digest_of(parameters: CryptographicParameters | None) -> HashingAlgorithm:
    """The hash a Hash request names (Invalid Field if none, Feature Not Supported if unknown)."""
    hashing = parameters.hashing_algorithm if parameters is not None else None
    if hashing is None:
        raise KmipError(ResultReason.INVALID_FIELD, "Hash needs the Hashing Algorithm")
    if hashing not in DIGESTS:
        raise KmipError(ResultReason.FEATURE_NOT_SUPPORTED, f"hashing with {hashing.name} is not supported")
    return hashing
