"""Cipher mechanisms as data: what each algorithm and mode accepts, and the defaults.

One row per mechanism (algorithm, Block Cipher Mode, Padding Method): the key
lengths it takes, the IV/counter/nonce sizes, tag lengths, whether it authenticates
additional data and how its data must be sized. The code below is generic over the
rows: it picks the mechanism the Cryptographic Parameters name and checks the
request against it, before any provider sees the key. A provider (software, HSM)
implements mechanisms by their `name`.

Parameters come from the request, else from the key's Cryptographic Parameters
attribute (its first instance), else from `DEFAULT_PARAMETERS` below. Whichever
structure applies is taken whole, not merged with another; only if it does not name
the mechanism (no Block Cipher Mode for a block cipher, no Padding Method for RSA)
does the algorithm's default fill the fields it leaves out. Fields left out of a
named mechanism take these defaults: Padding Method none; Tag Length 16 bytes; for
OAEP, SHA-1 as hash and MGF1 with SHA-1 (KMIP 2.1 §4.16, PKCS#1's defaults) and an
empty label; Initial Counter Value 0 (ChaCha20's block counter).

Result Reasons follow the OASIS profiles where they pin one (CS-BC-M-11/12/13: a
Decrypt without the IV it needs is Invalid Message; CS-BC-M-GCM-1 and
CS-BC-M-CHACHA20POLY1305-1: a Tag Length the mechanism cannot make is General
Failure), and the KMIP 2.x error tables otherwise: Unsupported Cryptographic
Parameters for a mechanism this server lacks, Bad Cryptographic Parameters for
parameters that contradict the key, Invalid Field for an IV or data of the wrong
size, Missing Initialization Vector for an Encrypt that needs an IV and neither gave
one nor asked for a random one. The engine maps the 2.x-only reasons for 1.x clients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass

from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    HashingAlgorithm,
    MaskGenerator,
    ObjectType,
    PaddingMethod,
    ResultReason,
)
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.keys import DES3_LENGTHS

A = CryptographicAlgorithm
M = BlockCipherMode
P = PaddingMethod
H = HashingAlgorithm

SYMMETRIC = (ObjectType.SYMMETRIC_KEY, ObjectType.SYMMETRIC_KEY)
ASYMMETRIC = (ObjectType.PUBLIC_KEY, ObjectType.PRIVATE_KEY)  # encrypt with, decrypt with

# Data a buffered mechanism (one that needs all its input at once) keeps at most.
BUFFER_LIMIT = 1 << 20


@dataclass(frozen=True)
class CipherMechanism:
    """One way to encrypt and decrypt, as KMIP's Cryptographic Parameters name it.

    Sizes are in bytes except `key_lengths` (bits, as Cryptographic Length counts).
    An empty `iv_lengths` means the mechanism takes no IV/Counter/Nonce.
    """

    name: str
    algorithm: CryptographicAlgorithm
    modes: frozenset[BlockCipherMode | None]
    paddings: frozenset[PaddingMethod | None]
    key_lengths: Collection[int]
    key_objects: tuple[ObjectType, ObjectType] = SYMMETRIC
    iv_lengths: Collection[int] = frozenset()
    random_iv_length: int | None = None
    tag_lengths: Collection[int] = frozenset()  # empty: not authenticated encryption
    block_size: int | None = None  # unpadded data must be a multiple of it
    buffered: bool = False  # needs the whole input before it can answer (KW, XTS, RSA)
    hashes: frozenset[HashingAlgorithm] = frozenset()  # OAEP's
    counter: bool = False  # takes an Initial Counter Value (ChaCha20's block counter)

    @property
    def takes_iv(self) -> bool:
        return bool(self.iv_lengths)

    @property
    def authenticated(self) -> bool:
        return bool(self.tag_lengths)

    def key_object(self, encrypt: bool) -> ObjectType:
        return self.key_objects[0 if encrypt else 1]


_AES = frozenset({128, 192, 256})
_DES3 = DES3_LENGTHS
_BLOCK_PADDINGS = frozenset({None, P.PKCS5})
_NO_PADDING: frozenset[PaddingMethod | None] = frozenset({None})
_TAGS = range(12, 17)  # NIST SP 800-38D §5.2.1.2 (without the 4- and 8-byte special cases)
_OAEP_HASHES = frozenset({H.SHA_1, H.SHA_224, H.SHA_256, H.SHA_384, H.SHA_512})
_RSA_BITS = range(1024, 16385)


def _modes(*modes: BlockCipherMode | None) -> frozenset[BlockCipherMode | None]:
    return frozenset(modes)


MECHANISMS: tuple[CipherMechanism, ...] = (
    CipherMechanism("AES-ECB", A.AES, _modes(M.ECB), _BLOCK_PADDINGS, _AES, block_size=16),
    CipherMechanism(
        "AES-CBC",
        A.AES,
        _modes(M.CBC),
        _BLOCK_PADDINGS,
        _AES,
        iv_lengths={16},
        random_iv_length=16,
        block_size=16,
    ),
    CipherMechanism("AES-CTR", A.AES, _modes(M.CTR), _NO_PADDING, _AES, iv_lengths={16}, random_iv_length=16),
    CipherMechanism(
        # pyca/OpenSSL take GCM IVs of 8 to 128 bytes; 12 is the size SP 800-38D recommends.
        "AES-GCM",
        A.AES,
        _modes(M.GCM),
        _NO_PADDING,
        _AES,
        iv_lengths=range(8, 129),
        random_iv_length=12,
        tag_lengths=_TAGS,
    ),
    CipherMechanism(
        # XTS-AES-128 and -256 (IEEE 1619) take two AES keys: a 256- or 512-bit key.
        "AES-XTS",
        A.AES,
        _modes(M.XTS),
        _NO_PADDING,
        {256, 512},
        iv_lengths={16},
        random_iv_length=16,
        buffered=True,
    ),
    CipherMechanism("AES-KW", A.AES, _modes(M.NIST_KEY_WRAP), _NO_PADDING, _AES, buffered=True),
    CipherMechanism("AES-KWP", A.AES, _modes(M.AES_KEY_WRAP_PADDING), _NO_PADDING, _AES, buffered=True),
    CipherMechanism("3DES-ECB", A.DES3, _modes(M.ECB), _BLOCK_PADDINGS, _DES3, block_size=8),
    CipherMechanism(
        "3DES-CBC",
        A.DES3,
        _modes(M.CBC),
        _BLOCK_PADDINGS,
        _DES3,
        iv_lengths={8},
        random_iv_length=8,
        block_size=8,
    ),
    CipherMechanism(
        # 8-byte nonce: the original ChaCha20 (64-bit counter); 12 bytes: RFC 8439 (32-bit counter).
        "ChaCha20",
        A.CHACHA20,
        _modes(None),
        _NO_PADDING,
        {256},
        iv_lengths={8, 12},
        random_iv_length=12,
        counter=True,
    ),
    CipherMechanism(
        "ChaCha20-Poly1305",
        A.CHACHA20_POLY1305,
        _modes(None, M.AEAD),
        _NO_PADDING,
        {256},
        iv_lengths={12},
        random_iv_length=12,
        tag_lengths=_TAGS,
    ),
    CipherMechanism(
        "RSA-PKCS1-v1_5", A.RSA, _modes(None), frozenset({P.PKCS1_V1_5}), _RSA_BITS, ASYMMETRIC, buffered=True
    ),
    CipherMechanism(
        "RSA-OAEP",
        A.RSA,
        _modes(None),
        frozenset({P.OAEP}),
        _RSA_BITS,
        ASYMMETRIC,
        buffered=True,
        hashes=_OAEP_HASHES,
    ),
)

# The parameters an algorithm gets when neither the request nor the key names any:
# authenticated encryption with a fresh random IV where the algorithm has it.
DEFAULT_PARAMETERS: dict[CryptographicAlgorithm, CryptographicParameters] = {
    A.AES: CryptographicParameters(block_cipher_mode=M.GCM, tag_length=16, random_iv=True),
    A.DES3: CryptographicParameters(block_cipher_mode=M.CBC, padding_method=P.PKCS5, random_iv=True),
    A.CHACHA20: CryptographicParameters(random_iv=True),
    A.CHACHA20_POLY1305: CryptographicParameters(tag_length=16, random_iv=True),
    A.RSA: CryptographicParameters(
        padding_method=P.OAEP,
        hashing_algorithm=H.SHA_256,
        mask_generator=MaskGenerator.MFG1,
        mask_generator_hashing_algorithm=H.SHA_256,
    ),
}
DEFAULT_TAG_LENGTH = 16
DEFAULT_OAEP_HASH = H.SHA_1

# Fields that build an IV from parts (SP 800-38A/D); the server takes whole IVs only.
_IV_CONSTRUCTION_FIELDS = ("fixed_field_length", "invocation_field_length", "counter_length")


@dataclass(frozen=True)
class CipherSpec:
    """A checked request for one mechanism: everything a provider needs besides the key."""

    mechanism: CipherMechanism
    padding: PaddingMethod | None = None
    iv: bytes | None = None
    tag_length: int | None = None
    aad: bytes = b""
    tag: bytes | None = None  # Decrypt: the tag to verify
    hashing: HashingAlgorithm | None = None  # OAEP
    mgf_hashing: HashingAlgorithm | None = None  # OAEP's MGF1
    label: bytes = b""  # OAEP's P source
    initial_counter: int = 0


def _unsupported(message: str) -> KmipError:
    return KmipError(ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS, message)


def _bad(message: str) -> KmipError:
    return KmipError(ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS, message)


def _invalid(message: str) -> KmipError:
    return KmipError(ResultReason.INVALID_FIELD, message)


def _name(value: object) -> str:
    return getattr(value, "name", None) or "none"


def _names_mechanism(algorithm: CryptographicAlgorithm, parameters: CryptographicParameters) -> bool:
    """Whether the parameters say which mechanism (the mode, or RSA's padding)."""
    if algorithm is A.RSA:
        return parameters.padding_method is not None
    if algorithm in (A.AES, A.DES3):
        return parameters.block_cipher_mode is not None
    return True  # a stream cipher is its own mechanism


def effective_parameters(
    requested: CryptographicParameters | None,
    attribute: CryptographicParameters | None,
    algorithm: CryptographicAlgorithm | None,
) -> CryptographicParameters:
    """The parameters that apply: the request's, else the key's, else the algorithm's default."""
    chosen = requested or attribute
    default = DEFAULT_PARAMETERS.get(algorithm) if algorithm is not None else None
    if chosen is None:
        return default or CryptographicParameters()
    if default is None or algorithm is None or _names_mechanism(algorithm, chosen):
        return chosen
    given = {f.name: getattr(chosen, f.name) for f in dataclasses.fields(chosen) if f.name != "other"}
    return dataclasses.replace(default, **{name: value for name, value in given.items() if value is not None})


# A ChaCha20 key is also a ChaCha20-Poly1305 key and the reverse (RFC 8439 §2.8 keys the AEAD
# with the cipher's 256-bit key; PKCS#11's CKK_CHACHA20 does both): parameters that name the
# other algorithm use the key as that one.
KEY_SHARING: dict[CryptographicAlgorithm, CryptographicAlgorithm] = {
    A.CHACHA20: A.CHACHA20_POLY1305,
    A.CHACHA20_POLY1305: A.CHACHA20,
}


def choose(
    parameters: CryptographicParameters, algorithm: CryptographicAlgorithm | None, length: int | None
) -> CipherMechanism:
    """The mechanism for a key of this algorithm and length, as the parameters name it."""
    named = parameters.cryptographic_algorithm
    if algorithm is None or (named is not None and KEY_SHARING.get(algorithm) is named):
        algorithm = named
    elif named is not None and named is not algorithm:
        raise _bad(f"the key is a {algorithm.name} key, not {named.name}")
    if algorithm is None:
        raise _bad("neither the key nor the Cryptographic Parameters name a Cryptographic Algorithm")
    mode = parameters.block_cipher_mode
    padding = None if parameters.padding_method is P.NONE else parameters.padding_method
    candidates = [m for m in MECHANISMS if m.algorithm is algorithm and mode in m.modes]
    if not candidates:
        raise _unsupported(f"{algorithm.name} with Block Cipher Mode {_name(mode)} is not supported")
    mechanism = next((m for m in candidates if padding in m.paddings), None)
    if mechanism is None:
        raise _unsupported(f"{candidates[0].name} with Padding Method {_name(padding)} is not supported")
    if length is not None and length not in mechanism.key_lengths:
        raise _bad(f"{mechanism.name} does not take a {length}-bit key")
    return mechanism


def cipher_spec(
    mechanism: CipherMechanism,
    parameters: CryptographicParameters,
    *,
    encrypt: bool,
    iv: bytes | None,
    aad: bytes | None,
    tag: bytes | None,
    random_bytes: Callable[[int], bytes],
) -> tuple[CipherSpec, bytes | None]:
    """The checked spec, and the IV the server generated for the client (else None)."""
    for field_name in _IV_CONSTRUCTION_FIELDS:
        if getattr(parameters, field_name) is not None:
            raise _unsupported("IVs built from fixed, invocation and counter fields are not supported")
    generated = None
    if iv is None and mechanism.takes_iv:
        iv = generated = _new_iv(mechanism, parameters, encrypt, random_bytes)
    elif iv is not None:
        _check_iv(mechanism, parameters, iv)
    tag_length = _tag_length(mechanism, parameters, encrypt, tag)
    if aad and not mechanism.authenticated:
        raise _invalid(f"{mechanism.name} does not authenticate additional data")
    hashing, mgf_hashing = _oaep_hashes(mechanism, parameters)
    if parameters.initial_counter_value is not None and not mechanism.counter:
        raise _unsupported(
            f"{mechanism.name} takes no Initial Counter Value: give the whole counter block as IV"
        )
    spec = CipherSpec(
        mechanism=mechanism,
        padding=None if parameters.padding_method is P.NONE else parameters.padding_method,
        iv=iv,
        tag_length=tag_length,
        aad=aad or b"",
        tag=tag,
        hashing=hashing,
        mgf_hashing=mgf_hashing,
        label=parameters.p_source or b"",
        initial_counter=parameters.initial_counter_value or 0,
    )
    return spec, generated


def _new_iv(
    mechanism: CipherMechanism,
    parameters: CryptographicParameters,
    encrypt: bool,
    random_bytes: Callable[[int], bytes],
) -> bytes:
    if not encrypt:
        # As the OASIS profiles answer (CS-BC-M-11/12/13-*): the request is incomplete.
        raise KmipError(
            ResultReason.INVALID_MESSAGE, f"{mechanism.name} decryption needs the IV/Counter/Nonce"
        )
    if not parameters.random_iv:
        raise KmipError(
            ResultReason.MISSING_INITIALIZATION_VECTOR,
            f"{mechanism.name} needs an IV/Counter/Nonce: give one, or ask for a Random IV",
        )
    size = mechanism.random_iv_length
    if parameters.iv_length is not None:
        if parameters.iv_length % 8 or parameters.iv_length // 8 not in mechanism.iv_lengths:
            raise _invalid(f"{mechanism.name} cannot take an IV of {parameters.iv_length} bits")
        size = parameters.iv_length // 8
    assert size is not None  # every mechanism that takes an IV has a random size
    return random_bytes(size)


def _check_iv(mechanism: CipherMechanism, parameters: CryptographicParameters, iv: bytes) -> None:
    if not mechanism.takes_iv:
        raise _invalid(f"{mechanism.name} takes no IV/Counter/Nonce")
    if len(iv) not in mechanism.iv_lengths:
        raise _invalid(f"{mechanism.name} cannot take an IV of {len(iv)} bytes")
    if parameters.iv_length is not None and parameters.iv_length != 8 * len(iv):
        raise _invalid(f"the IV is {8 * len(iv)} bits, but IV Length says {parameters.iv_length}")


def _tag_length(
    mechanism: CipherMechanism, parameters: CryptographicParameters, encrypt: bool, tag: bytes | None
) -> int | None:
    if not mechanism.authenticated:
        if tag is not None:
            raise _invalid(f"{mechanism.name} has no Authenticated Encryption Tag")
        if parameters.tag_length is not None:
            raise _invalid(f"{mechanism.name} has no tag to give a Tag Length")
        return None
    length = parameters.tag_length
    if not encrypt:
        if tag is None:
            raise KmipError(ResultReason.INVALID_MESSAGE, f"{mechanism.name} decryption needs the tag")
        if length is not None and length != len(tag):
            raise _invalid(f"the tag is {len(tag)} bytes, but Tag Length says {length}")
        length = len(tag)
    elif length is None:
        length = DEFAULT_TAG_LENGTH
    if length not in mechanism.tag_lengths:
        # As the OASIS profiles answer (CS-BC-M-GCM-1, CS-BC-M-CHACHA20POLY1305-1).
        lengths = f"{min(mechanism.tag_lengths)} to {max(mechanism.tag_lengths)}"
        raise KmipError(
            ResultReason.GENERAL_FAILURE, f"{mechanism.name} tags are {lengths} bytes, not {length}"
        )
    return length


def _oaep_hashes(
    mechanism: CipherMechanism, parameters: CryptographicParameters
) -> tuple[HashingAlgorithm | None, HashingAlgorithm | None]:
    if not mechanism.hashes:
        return None, None
    if parameters.mask_generator not in (None, MaskGenerator.MFG1):
        raise _unsupported("OAEP takes MGF1 only")
    hashing = parameters.hashing_algorithm or DEFAULT_OAEP_HASH
    mgf_hashing = parameters.mask_generator_hashing_algorithm or DEFAULT_OAEP_HASH
    for which in (hashing, mgf_hashing):
        if which not in mechanism.hashes:
            raise _unsupported(f"OAEP with {which.name} is not supported")
    return hashing, mgf_hashing
