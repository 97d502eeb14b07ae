"""What the native token computes, as data: each mechanism's key type, sizes, uses, and
the KMIP Cryptographic Parameters it becomes.

C_GetMechanismList/Info answer from `MECHANISMS` exactly; C_*Init refuse anything not
in it with CKR_MECHANISM_INVALID. Key sizes are in bytes for AES, AES-XTS, ChaCha20 and HMAC,
bits otherwise (generic secret key generation, 3DES, RSA, EC, EdDSA), as PKCS#11 counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkcs11_kmip.cryptoki.constants import CKF, CKG_MGF1, CKK, CKM, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import Mechanism
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    HashingAlgorithm,
    MaskGenerator,
    PaddingMethod,
)
from pkcs11_kmip_server.native.constants import CKD_NULL, CKZ_DATA_SPECIFIED, MoreCKF, MoreCKK, MoreCKM

H = HashingAlgorithm


@dataclass(frozen=True)
class NativeMechanism:
    """One mechanism: CK_MECHANISM_INFO, and how it maps onto KMIP."""

    key_type: int | None  # a CKK_*; None: no key (digests)
    min_key: int
    max_key: int
    flags: CKF
    mode: BlockCipherMode | None = None  # ciphers
    padding: PaddingMethod | None = None  # ciphers and RSA signatures
    hashing: HashingAlgorithm | None = None  # signatures that hash the data themselves
    pss: bool = False  # RSA-PSS: CK_RSA_PKCS_PSS_PARAMS
    prehashed: bool = False  # signs a digest the caller made (KMIP Digested Data)
    mac: bool = False  # C_Sign/C_Verify as KMIP MAC / MAC Verify (HMAC; CMAC with an AES key)
    general: bool = False  # a MAC of the length CK_MAC_GENERAL_PARAMS gives (CKM_AES_CMAC_GENERAL)
    bits: bool = False  # CKA_VALUE_LEN (bytes) is checked against sizes in bits (generic secrets, 3DES)
    aead: bool = False  # authenticated (GCM, ChaCha20-Poly1305): the tag ends the ciphertext
    algorithm: CryptographicAlgorithm | None = None  # a stream cipher the parameters name (ChaCha20)


AES_CTR = 0x1086
"""CKM_AES_CTR (pkcs11t.h): KMIP CTR, CK_AES_CTR_PARAMS's counter block as the IV."""
_SIGN = CKF.SIGN | CKF.VERIFY
_CIPHER = CKF.ENCRYPT | CKF.DECRYPT
_EC = CKF.EC_F_P | CKF.EC_NAMEDCURVE | CKF.EC_UNCOMPRESS
_RSA = (CKK.RSA, 2048, 4096)
_ECK = (CKK.EC, 256, 521)

# Signatures that hash the data themselves: per hash, the PKCS#1 v1.5, PSS and ECDSA mechanism.
# SHA-3 (PKCS#11 3.0 §2.33-2.36, pkcs11t.h): CKM_SHA3_*_RSA_PKCS(_PSS), CKM_ECDSA_SHA3_*.
HASHED: tuple[tuple[HashingAlgorithm, int, int, int], ...] = (
    (H.SHA_1, CKM.SHA1_RSA_PKCS, CKM.SHA1_RSA_PKCS_PSS, CKM.ECDSA_SHA1),
    (H.SHA_224, CKM.SHA224_RSA_PKCS, CKM.SHA224_RSA_PKCS_PSS, CKM.ECDSA_SHA224),
    (H.SHA_256, CKM.SHA256_RSA_PKCS, CKM.SHA256_RSA_PKCS_PSS, CKM.ECDSA_SHA256),
    (H.SHA_384, CKM.SHA384_RSA_PKCS, CKM.SHA384_RSA_PKCS_PSS, CKM.ECDSA_SHA384),
    (H.SHA_512, CKM.SHA512_RSA_PKCS, CKM.SHA512_RSA_PKCS_PSS, CKM.ECDSA_SHA512),
    (H.SHA3_224, 0x66, 0x67, 0x1047),
    (H.SHA3_256, 0x60, 0x63, 0x1048),
    (H.SHA3_384, 0x61, 0x64, 0x1049),
    (H.SHA3_512, 0x62, 0x65, 0x104A),
)
_PKCS1, _PSS = PaddingMethod.PKCS1_V1_5, PaddingMethod.PSS

MECHANISMS: dict[int, NativeMechanism] = {
    CKM.AES_KEY_GEN: NativeMechanism(CKK.AES, 16, 32, CKF.GENERATE),
    CKM.AES_GCM: NativeMechanism(CKK.AES, 16, 32, _CIPHER, mode=BlockCipherMode.GCM, aead=True),
    MoreCKM.AES_ECB: NativeMechanism(CKK.AES, 16, 32, CKF.ENCRYPT | CKF.DECRYPT, mode=BlockCipherMode.ECB),
    MoreCKM.AES_CBC: NativeMechanism(CKK.AES, 16, 32, CKF.ENCRYPT | CKF.DECRYPT, mode=BlockCipherMode.CBC),
    AES_CTR: NativeMechanism(CKK.AES, 16, 32, _CIPHER, mode=BlockCipherMode.CTR),
    CKM.AES_CBC_PAD: NativeMechanism(
        CKK.AES, 16, 32, CKF.ENCRYPT | CKF.DECRYPT, mode=BlockCipherMode.CBC, padding=PaddingMethod.PKCS5
    ),
    CKM.RSA_PKCS_KEY_PAIR_GEN: NativeMechanism(*_RSA, CKF.GENERATE_KEY_PAIR),
    # CKM_RSA_PKCS also encrypts (public key) and decrypts (private key): KMIP Encrypt/Decrypt, PKCS1 v1.5.
    CKM.RSA_PKCS: NativeMechanism(*_RSA, _SIGN | _CIPHER, padding=_PKCS1, prehashed=True),
    CKM.RSA_PKCS_PSS: NativeMechanism(*_RSA, _SIGN, padding=_PSS, pss=True, prehashed=True),
    **{pkcs1: NativeMechanism(*_RSA, _SIGN, padding=_PKCS1, hashing=h) for h, pkcs1, _, _ in HASHED},
    **{pss: NativeMechanism(*_RSA, _SIGN, padding=_PSS, hashing=h, pss=True) for h, _, pss, _ in HASHED},
    CKM.EC_KEY_PAIR_GEN: NativeMechanism(*_ECK, CKF.GENERATE_KEY_PAIR | _EC),
    CKM.ECDSA: NativeMechanism(*_ECK, _SIGN | _EC, prehashed=True),
    # C_DeriveKey: KMIP Derive Key, Asymmetric Key (ECDH) with the peer's point as Derivation Data.
    # (X25519/X448 keys too: CKK_EC_MONTGOMERY, 255 and 448 bits, below.)
    MoreCKM.ECDH1_DERIVE: NativeMechanism(CKK.EC, 255, 521, CKF(MoreCKF.DERIVE) | _EC),
    **{ecdsa: NativeMechanism(*_ECK, _SIGN | _EC, hashing=h) for h, _, _, ecdsa in HASHED},
}

HASHES: dict[int, HashingAlgorithm] = {
    CKM.SHA_1: H.SHA_1,
    CKM.SHA224: H.SHA_224,
    CKM.SHA256: H.SHA_256,
    CKM.SHA384: H.SHA_384,
    CKM.SHA512: H.SHA_512,
}
"""The hashes CK_RSA_PKCS_OAEP_PARAMS may name (and the token's keys name for wrapping)."""
# C_Digest* and the hashes of signatures: SHA-1, SHA-2 and SHA-3 (CKM_SHA3_224/256/384/512).
DIGESTS: dict[int, HashingAlgorithm] = {
    **HASHES,
    0x2B5: H.SHA3_224,
    0x2B0: H.SHA3_256,
    0x2C0: H.SHA3_384,
    0x2D0: H.SHA3_512,
}
# CK_RSA_PKCS_PSS_PARAMS.mgf: CKG_MGF1_SHA* as the digest mechanism of its hash.
MGF1_DIGESTS: dict[int, int] = {**CKG_MGF1, 0x6: 0x2B5, 0x7: 0x2B0, 0x8: 0x2C0, 0x9: 0x2D0}
# C_WrapKey/C_UnwrapKey: KMIP Get with a Key Wrapping Specification / Register of a
# wrapped key block (No Encoding: the key's bytes, PKCS#8 for a private key).
_WRAP = CKF(MoreCKF.WRAP | MoreCKF.UNWRAP)
MECHANISMS.update(
    {
        MoreCKM.AES_KEY_WRAP: NativeMechanism(CKK.AES, 16, 32, _WRAP, mode=BlockCipherMode.NIST_KEY_WRAP),
        MoreCKM.AES_KEY_WRAP_KWP: NativeMechanism(
            CKK.AES, 16, 32, _WRAP, mode=BlockCipherMode.AES_KEY_WRAP_PADDING
        ),
        MoreCKM.RSA_PKCS_OAEP: NativeMechanism(*_RSA, _WRAP | _CIPHER, padding=PaddingMethod.OAEP),
    }
)


def wrapping_instances(key_type: int, other_uses: bool) -> tuple[CryptographicParameters, ...]:
    """The Cryptographic Parameters a key the token makes carries so that every wrapping it
    offers for the key works: KMIP wraps with parameters a request names only if one of
    the wrapping key's instances matches them (2.1 §2.1.5). AES: AES-KWP, AES-KW; RSA:
    OAEP with each hash the token takes (MGF1 with the same), SHA-256 first. A key with
    other uses (`other_uses`; always for RSA, whose keys sign too) gets an empty instance
    first: a KMIP request that names no parameters takes the key's first instance, and an
    empty one leaves it the server's defaults (Encrypt AES-GCM or RSA-OAEP SHA-256, CMAC,
    Sign), as for a key without any."""
    if key_type == CKK.AES:
        modes = (BlockCipherMode.AES_KEY_WRAP_PADDING, BlockCipherMode.NIST_KEY_WRAP)
        named = tuple(CryptographicParameters(block_cipher_mode=mode) for mode in modes)
    elif key_type == CKK.RSA:
        hashes = sorted(HASHES.values(), key=lambda h: h is not H.SHA_256)
        named = tuple(
            CryptographicParameters(
                padding_method=PaddingMethod.OAEP,
                hashing_algorithm=h,
                mask_generator=MaskGenerator.MFG1,
                mask_generator_hashing_algorithm=h,
            )
            for h in hashes
        )
        other_uses = True
    else:
        return ()
    return (CryptographicParameters(), *named) if other_uses else named


# C_Sign/C_Verify with an HMAC key (KMIP HMAC_SHA* algorithm, CKK_SHA*_HMAC): KMIP MAC /
# MAC Verify with that hash (the MAC is the hash's length). Per hash: the mechanism
# (pkcs11t.h) and the key type. Keys are 1-512 bytes (the server's HMAC key lengths,
# keys.SYMMETRIC_LENGTHS).
HMACS: tuple[tuple[HashingAlgorithm, int, int], ...] = (
    (H.SHA_1, 0x221, CKK.SHA_1_HMAC),
    (H.SHA_224, 0x256, CKK.SHA224_HMAC),
    (H.SHA_256, 0x251, CKK.SHA256_HMAC),
    (H.SHA_384, 0x261, CKK.SHA384_HMAC),
    (H.SHA_512, 0x271, CKK.SHA512_HMAC),
    (H.SHA3_224, 0x2B6, MoreCKK.SHA3_224_HMAC),
    (H.SHA3_256, 0x2B1, MoreCKK.SHA3_256_HMAC),
    (H.SHA3_384, 0x2C1, MoreCKK.SHA3_384_HMAC),
    (H.SHA3_512, 0x2D1, MoreCKK.SHA3_512_HMAC),
)
HMAC_KEY_BYTES = (1, 512)
MECHANISMS.update(
    {ckm: NativeMechanism(ckk, *HMAC_KEY_BYTES, _SIGN, hashing=h, mac=True) for h, ckm, ckk in HMACS}
)
# C_GenerateKey of an HMAC key: CKK_GENERIC_SECRET (a KMIP HMAC-SHA256 key, objects.SECRET_ALGORITHMS)
# or, named in the template, CKK_SHA*_HMAC; 8-4096 bits, the server's HMAC key lengths.
GENERIC_SECRET_TYPES = frozenset({MoreCKK.GENERIC_SECRET, *(ckk for _, _, ckk in HMACS)})
MECHANISMS[MoreCKM.GENERIC_SECRET_KEY_GEN] = NativeMechanism(
    MoreCKK.GENERIC_SECRET, 8 * HMAC_KEY_BYTES[0], 8 * HMAC_KEY_BYTES[1], CKF.GENERATE, bits=True
)
# CMAC with an AES key (KMIP MAC, Block Cipher Mode CMAC): the whole 16 bytes, or (GENERAL)
# the leftmost 8-16 the parameter asks, as a Tag Length (the server's shortest CMAC, SP 800-38B).
CMAC_BYTES = 16
CMAC_SHORTEST = 8
MECHANISMS[MoreCKM.AES_CMAC] = NativeMechanism(CKK.AES, 16, 32, _SIGN, mac=True)
MECHANISMS[MoreCKM.AES_CMAC_GENERAL] = NativeMechanism(CKK.AES, 16, 32, _SIGN, mac=True, general=True)
# EdDSA (PKCS#11 3.0 §2.3.6-2.3.7): KMIP Create Key Pair of an Ed25519 or Ed448 key; Sign and
# Signature Verify of the data (pure EdDSA: no prehash, no context). Sizes in bits of the curves.
_EDWARDS = (MoreCKK.EC_EDWARDS, 255, 448)
MECHANISMS[MoreCKM.EC_EDWARDS_KEY_PAIR_GEN] = NativeMechanism(*_EDWARDS, CKF.GENERATE_KEY_PAIR)
MECHANISMS[MoreCKM.EDDSA] = NativeMechanism(*_EDWARDS, _SIGN)
# X25519/X448 (PKCS#11 3.0 §2.3.8): KMIP Create Key Pair, Cryptographic Algorithm ECDH on
# Curve25519 or Curve448; CKM_ECDH1_DERIVE with the peer's 32 or 56 bytes (KMIP Derive Key).
MECHANISMS[MoreCKM.EC_MONTGOMERY_KEY_PAIR_GEN] = NativeMechanism(
    MoreCKK.EC_MONTGOMERY, 255, 448, CKF.GENERATE_KEY_PAIR
)
# Secret key derivation (native/derivation.py), into AES, generic secret or HMAC keys: CKM_HKDF_DERIVE
# (C_DeriveKey from a secret key of 1-512 bytes: KMIP Derive Key, HKDF) and CKM_PKCS5_PBKD2
# (C_GenerateKey from the password its parameter holds: KMIP Derive Key, PBKDF2), making
# 8-4096 bits as CKM_GENERIC_SECRET_KEY_GEN does.
MECHANISMS[MoreCKM.HKDF_DERIVE] = NativeMechanism(
    MoreCKK.GENERIC_SECRET, *HMAC_KEY_BYTES, CKF(MoreCKF.DERIVE)
)
MECHANISMS[MoreCKM.PKCS5_PBKD2] = MECHANISMS[MoreCKM.GENERIC_SECRET_KEY_GEN]
# CKM_SP800_108_COUNTER/FEEDBACK/DOUBLE_PIPELINE_KDF: C_DeriveKey from a secret key (KMIP
# Derive Key, NIST800-108-C/F/DPI).
MECHANISMS.update(
    dict.fromkeys(
        (
            MoreCKM.SP800_108_COUNTER_KDF,
            MoreCKM.SP800_108_FEEDBACK_KDF,
            MoreCKM.SP800_108_DOUBLE_PIPELINE_KDF,
        ),
        MECHANISMS[MoreCKM.HKDF_DERIVE],
    )
)
# CKM_AES_ECB/CBC_ENCRYPT_DATA: C_DeriveKey from an AES key (KMIP Derive Key, Encrypt).
MECHANISMS.update(
    {
        MoreCKM.AES_ECB_ENCRYPT_DATA: NativeMechanism(CKK.AES, 16, 32, CKF(MoreCKF.DERIVE)),
        MoreCKM.AES_CBC_ENCRYPT_DATA: NativeMechanism(CKK.AES, 16, 32, CKF(MoreCKF.DERIVE)),
        # CKM_DES3_ECB/CBC_ENCRYPT_DATA: from a 3DES key (16 or 24 bytes), KMIP Derive Key, Encrypt.
        MoreCKM.DES3_ECB_ENCRYPT_DATA: NativeMechanism(CKK.DES3, 16, 24, CKF(MoreCKF.DERIVE)),
        MoreCKM.DES3_CBC_ENCRYPT_DATA: NativeMechanism(CKK.DES3, 16, 24, CKF(MoreCKF.DERIVE)),
    }
)
# CKM_SHA*_KEY_DERIVATION (pkcs11t.h; no parameter): C_DeriveKey from a secret key of 1-512
# bytes (KMIP Derive Key, Hash). MD2/MD5 and SHA-512/t, SHAKE: hashes the server does not derive with.
HASH_KEY_DERIVATIONS: dict[int, HashingAlgorithm] = {
    0x392: H.SHA_1,
    0x393: H.SHA_256,
    0x394: H.SHA_384,
    0x395: H.SHA_512,
    0x396: H.SHA_224,
    0x397: H.SHA3_256,
    0x398: H.SHA3_224,
    0x399: H.SHA3_384,
    0x39A: H.SHA3_512,
}
MECHANISMS.update(
    {
        ckm: NativeMechanism(MoreCKK.GENERIC_SECRET, *HMAC_KEY_BYTES, CKF(MoreCKF.DERIVE))
        for ckm in HASH_KEY_DERIVATIONS
    }
)
# 3DES: KMIP Encrypt/Decrypt with a three-key (CKK_DES3, 24 bytes with parity: 192 bits as
# tokens count it) or two-key (CKK_DES2, 16 bytes: 128 bits) key; the DES3 mechanisms take both.
DES_BLOCK = 8
_DES3 = (CKK.DES3, 128, 192)
MECHANISMS.update(
    {
        MoreCKM.DES2_KEY_GEN: NativeMechanism(MoreCKK.DES2, 128, 128, CKF.GENERATE, bits=True),
        MoreCKM.DES3_KEY_GEN: NativeMechanism(CKK.DES3, 192, 192, CKF.GENERATE, bits=True),
        MoreCKM.DES3_ECB: NativeMechanism(*_DES3, _CIPHER, mode=BlockCipherMode.ECB),
        MoreCKM.DES3_CBC: NativeMechanism(*_DES3, _CIPHER, mode=BlockCipherMode.CBC),
        MoreCKM.DES3_CBC_PAD: NativeMechanism(
            *_DES3, _CIPHER, mode=BlockCipherMode.CBC, padding=PaddingMethod.PKCS5
        ),
    }
)
# ChaCha20 (PKCS#11 3.0 §2.51-2.52, RFC 8439): a CKK_CHACHA20 key is 32 bytes, a KMIP ChaCha20 key;
# CKM_CHACHA20 takes CK_CHACHA20_PARAMS, CKM_CHACHA20_POLY1305 CK_SALSA20_CHACHA20_POLY1305_PARAMS
# (KMIP ChaCha20-Poly1305 with the same key). AES-XTS (§2.14): a CKK_AES_XTS key is two AES keys,
# 32 or 64 bytes: a KMIP AES key of 256/512 bits whose Cryptographic Parameters name XTS, as
# KMIP's AX profile makes them; CKM_AES_XTS takes the 16-byte tweak. Sizes in bytes, as for AES
# (Java's SunPKCS11 reads every key generation's sizes as bytes but generic secrets' and RC4's).
CHACHA20_BYTES = 32
XTS_BYTES = frozenset({32, 64})
POLY1305_TAG = 16
_CHACHA20 = (MoreCKK.CHACHA20, CHACHA20_BYTES, CHACHA20_BYTES)
_XTS = (MoreCKK.AES_XTS, min(XTS_BYTES), max(XTS_BYTES))
MECHANISMS.update(
    {
        MoreCKM.CHACHA20_KEY_GEN: NativeMechanism(*_CHACHA20, CKF.GENERATE),
        MoreCKM.CHACHA20: NativeMechanism(*_CHACHA20, _CIPHER, algorithm=CryptographicAlgorithm.CHACHA20),
        MoreCKM.CHACHA20_POLY1305: NativeMechanism(
            *_CHACHA20, _CIPHER, algorithm=CryptographicAlgorithm.CHACHA20_POLY1305, aead=True
        ),
        MoreCKM.AES_XTS_KEY_GEN: NativeMechanism(*_XTS, CKF.GENERATE),
        MoreCKM.AES_XTS: NativeMechanism(*_XTS, _CIPHER, mode=BlockCipherMode.XTS),
    }
)
# C_Digest*: KMIP Hash with that Hashing Algorithm.
MECHANISMS.update(
    {ckm: NativeMechanism(None, 0, 0, CKF(MoreCKF.DIGEST), hashing=h) for ckm, h in DIGESTS.items()}
)
# CKM_ECDSA signs a digest of any of these lengths (bytes): the hash it names.
DIGEST_LENGTHS: dict[int, HashingAlgorithm] = {
    20: H.SHA_1,
    28: H.SHA_224,
    32: H.SHA_256,
    48: H.SHA_384,
    64: H.SHA_512,
}
HASH_BYTES: dict[HashingAlgorithm, int] = {
    **{h: size for size, h in DIGEST_LENGTHS.items()},
    H.SHA3_224: 28,
    H.SHA3_256: 32,
    H.SHA3_384: 48,
    H.SHA3_512: 64,
}
PKCS1_OVERHEAD = 11
"""RSA PKCS#1 v1.5 encryption: the data is at most the modulus's bytes less 11 (RFC 8017 7.2.1)."""
GCM_TAG_BITS = frozenset({96, 104, 112, 120, 128})
AES_BLOCK = 16
AES_BYTES = frozenset({16, 24, 32})
# Key types whose generation takes only some sizes of their range (bytes).
KEY_BYTES: dict[int | None, frozenset[int]] = {CKK.AES: AES_BYTES, MoreCKK.AES_XTS: XTS_BYTES}
# CK_CHACHA20_PARAMS (counter, nonce) in bytes: RFC 8439's 32-bit counter and 96-bit nonce, or
# the original ChaCha20's 64 and 64 (together the 128 bits of the cipher's state they fill).
CHACHA20_SHAPES = frozenset({(4, 12), (8, 8)})


def lookup(mechanism: Mechanism, use: CKF) -> NativeMechanism:
    """The mechanism, if the token has it for this use (CKR_MECHANISM_INVALID otherwise)."""
    found = MECHANISMS.get(mechanism.type)
    if found is None or not found.flags & use:
        raise CKRError(CKR.MECHANISM_INVALID, f"mechanism 0x{mechanism.type:X} is not one of the token's")
    return found


@dataclass(frozen=True)
class CipherCall:
    """An Encrypt/Decrypt request's parameters, from CK_MECHANISM."""

    parameters: CryptographicParameters
    iv: bytes | None
    aad: bytes | None = None
    tag_bytes: int = 0
    counter_bits: int = 0  # CTR: the low bits of the counter block that count
    least: int = 0  # the fewest bytes the mechanism enciphers (XTS: one block)
    block: int = AES_BLOCK  # the cipher's block (3DES: 8 bytes)

    def counter_room(self) -> int | None:
        """CTR: the bytes this counter block covers before its counter bits would wrap.
        The server counts over all 128 bits, Cryptoki over ulCounterBits: the two agree
        until the low ones wrap, so no more is enciphered (None: no limit)."""
        if not self.counter_bits or self.iv is None:
            return None
        span = 1 << self.counter_bits
        return (span - int.from_bytes(self.iv, "big") % span) * AES_BLOCK

    @property
    def whole_blocks(self) -> bool:
        """Whether the data must be whole blocks (ECB and CBC without padding)."""
        return self.parameters.block_cipher_mode in (BlockCipherMode.ECB, BlockCipherMode.CBC) and (
            self.parameters.padding_method is None
        )


def _bad(message: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, message)


def cipher_call(mechanism: Mechanism, found: NativeMechanism) -> CipherCall:
    if found.key_type is CKK.RSA:
        if found.padding is PaddingMethod.OAEP:
            return CipherCall(wrapping_parameters(mechanism, found), None)
        if mechanism.parameter is not None:
            raise _bad("RSA PKCS#1 v1.5 takes no parameter")
        return CipherCall(CryptographicParameters(padding_method=found.padding), None)
    parameters = CryptographicParameters(block_cipher_mode=found.mode, padding_method=found.padding)
    parameter = mechanism.parameter
    if found.key_type is CKK.DES3:
        return _block_call(parameters, parameter, DES_BLOCK, "3DES")
    if found.mode is BlockCipherMode.GCM:
        if not isinstance(parameter, dict):
            raise _bad("AES-GCM takes CK_GCM_PARAMS")
        iv, aad, tag_bits = parameter.get("pIv"), parameter.get("pAAD"), parameter.get("ulTagBits")
        if (
            not isinstance(iv, bytes)
            or not iv
            or not isinstance(tag_bits, int)
            or tag_bits not in GCM_TAG_BITS
        ):
            raise _bad("AES-GCM needs an IV and a tag of 96-128 bits")
        parameters.tag_length = tag_bits // 8
        return CipherCall(parameters, iv, aad if isinstance(aad, bytes) and aad else None, tag_bits // 8)
    if found.mode is BlockCipherMode.CTR:
        if not isinstance(parameter, dict):
            raise _bad("AES-CTR takes CK_AES_CTR_PARAMS")
        bits, block = parameter.get("ulCounterBits"), parameter.get("cb")
        if not isinstance(bits, int) or not 0 < bits <= AES_BLOCK * 8 or not isinstance(block, bytes):
            raise _bad("AES-CTR counts with 1-128 bits of a 16-byte counter block")
        return CipherCall(parameters, block, counter_bits=bits)
    if found.algorithm is not None:
        return _chacha20_call(parameter, found.algorithm)
    if found.mode is BlockCipherMode.XTS:
        if not isinstance(parameter, bytes) or len(parameter) != AES_BLOCK:
            raise _bad("AES-XTS takes a 16-byte tweak")
        return CipherCall(parameters, parameter, least=AES_BLOCK)
    return _block_call(parameters, parameter, AES_BLOCK, "AES")


def _chacha20_call(parameter: object, algorithm: CryptographicAlgorithm) -> CipherCall:
    """CKM_CHACHA20: the nonce as KMIP's IV and the block counter (little-endian, as the
    cipher's state holds it) as its Initial Counter Value; CKM_CHACHA20_POLY1305: the nonce
    (12 bytes: the server's AEAD is RFC 8439's) and the AAD, the 16-byte tag after the data."""
    parameters = CryptographicParameters(cryptographic_algorithm=algorithm)
    if not isinstance(parameter, dict):
        raise _bad(f"{algorithm.name} takes its CK_*_PARAMS structure")
    nonce = parameter.get("pNonce")
    if algorithm is CryptographicAlgorithm.CHACHA20_POLY1305:
        aad = parameter.get("pAAD")
        if not isinstance(nonce, bytes) or len(nonce) != 12:
            raise _bad("ChaCha20-Poly1305 takes a 12-byte nonce here (RFC 8439)")
        parameters.tag_length = POLY1305_TAG
        return CipherCall(parameters, nonce, aad if isinstance(aad, bytes) and aad else None, POLY1305_TAG)
    counter = parameter.get("pBlockCounter")
    if not isinstance(nonce, bytes):
        raise _bad("ChaCha20 needs a nonce")
    if counter is None:  # no counter given: block 0
        counter = bytes(AES_BLOCK - len(nonce))
    if not isinstance(counter, bytes) or (len(counter), len(nonce)) not in CHACHA20_SHAPES:
        raise _bad("ChaCha20 takes a 32-bit counter with a 96-bit nonce, or 64 bits with 64")
    parameters.initial_counter_value = int.from_bytes(counter, "little")
    return CipherCall(parameters, nonce)


def _block_call(parameters: CryptographicParameters, parameter: object, block: int, name: str) -> CipherCall:
    """ECB (no parameter) or CBC (an IV of one block)."""
    if parameters.block_cipher_mode is BlockCipherMode.ECB:
        if parameter is not None:
            raise _bad(f"{name}-ECB takes no parameter")
        return CipherCall(parameters, None, block=block)
    if not isinstance(parameter, bytes) or len(parameter) != block:
        raise _bad(f"{name}-CBC takes a {block}-byte IV")
    return CipherCall(parameters, parameter, block=block)


def secret_bytes(found: NativeMechanism, value_len: int | None) -> int:
    """The bytes of a secret key C_GenerateKey makes, from CKA_VALUE_LEN: required for AES and
    generic secrets (CKR_TEMPLATE_INCOMPLETE), within the mechanism's sizes (CKR_KEY_SIZE_RANGE);
    3DES and ChaCha20 keys have one size, which CKA_VALUE_LEN may only repeat
    (CKR_TEMPLATE_INCONSISTENT); AES and AES-XTS keys only some sizes of their range."""
    if found.min_key == found.max_key:  # one size (3DES, ChaCha20): CKA_VALUE_LEN may only repeat it
        fixed = found.max_key // 8 if found.bits else found.max_key
        if value_len not in (None, fixed):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"these keys are {fixed} bytes")
        return fixed
    if value_len is None:
        raise CKRError(CKR.TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is needed")
    size = value_len * 8 if found.bits else value_len
    if not found.min_key <= size <= found.max_key or value_len not in KEY_BYTES.get(
        found.key_type, (value_len,)
    ):
        raise CKRError(CKR.KEY_SIZE_RANGE, f"{value_len} bytes is not a size this mechanism makes")
    return value_len


def rsa_data_limit(parameters: CryptographicParameters, modulus_bytes: int) -> int:
    """The most bytes RSA encrypts with these parameters (OAEP: RFC 8017 7.1.1)."""
    if parameters.padding_method is PaddingMethod.OAEP:
        assert parameters.hashing_algorithm is not None
        return modulus_bytes - 2 * HASH_BYTES[parameters.hashing_algorithm] - 2
    return modulus_bytes - PKCS1_OVERHEAD


def signature_parameters(
    mechanism: Mechanism, found: NativeMechanism, digest: bytes | None
) -> CryptographicParameters:
    """The KMIP parameters of a signature (for CKM_ECDSA, by the digest's length) or a MAC."""
    if found.mac:
        return mac_call(mechanism, found)[0]
    if found.key_type == MoreCKK.EC_EDWARDS:
        _eddsa_parameter(mechanism)
        return CryptographicParameters()  # the key's algorithm names the scheme; the hash is built in
    hashing = found.hashing
    if found.key_type is CKK.EC and found.prehashed and digest is not None:
        hashing = DIGEST_LENGTHS.get(len(digest))
        if hashing is None:
            raise CKRError(CKR.DATA_LEN_RANGE, "CKM_ECDSA signs a SHA-1 or SHA-2 digest")
    parameters = CryptographicParameters(padding_method=found.padding, hashing_algorithm=hashing)
    if not found.pss:
        if mechanism.parameter is not None:
            raise _bad("the mechanism takes no parameter")
        return parameters
    parameter = mechanism.parameter
    if not isinstance(parameter, dict):
        raise _bad("RSA-PSS takes CK_RSA_PKCS_PSS_PARAMS")
    hash_alg, mgf, salt = (parameter.get(name) for name in ("hashAlg", "mgf", "sLen"))
    named = DIGESTS.get(hash_alg) if isinstance(hash_alg, int) else None
    mgf_hash = DIGESTS.get(MGF1_DIGESTS.get(mgf, 0)) if isinstance(mgf, int) else None
    if named is None or mgf_hash is None or not isinstance(salt, int) or (hashing and named is not hashing):
        raise _bad("CK_RSA_PKCS_PSS_PARAMS names a hash, MGF1 or salt length the token does not take")
    parameters.hashing_algorithm = named
    parameters.mask_generator = MaskGenerator.MFG1
    parameters.mask_generator_hashing_algorithm = mgf_hash
    parameters.salt_length = salt
    return parameters


def mac_call(mechanism: Mechanism, found: NativeMechanism) -> tuple[CryptographicParameters, int]:
    """The KMIP MAC parameters of an HMAC or CMAC mechanism, and the MAC's length in bytes."""
    parameter = mechanism.parameter
    if found.key_type is CKK.AES:
        parameters = CryptographicParameters(block_cipher_mode=BlockCipherMode.CMAC)
        if not found.general:
            if parameter is not None:
                raise _bad("CKM_AES_CMAC takes no parameter")
            return parameters, CMAC_BYTES
        if not isinstance(parameter, int) or not CMAC_SHORTEST <= parameter <= CMAC_BYTES:
            raise _bad(f"CK_MAC_GENERAL_PARAMS: a CMAC of {CMAC_SHORTEST}-{CMAC_BYTES} bytes")
        parameters.tag_length = parameter
        return parameters, parameter
    if parameter is not None:
        raise _bad("the mechanism takes no parameter")
    assert found.hashing is not None
    return CryptographicParameters(hashing_algorithm=found.hashing), HASH_BYTES[found.hashing]


def _eddsa_parameter(mechanism: Mechanism) -> None:
    """CKM_EDDSA signs the data as pure Ed25519/Ed448: no CK_EDDSA_PARAMS, or one without
    prehash and context (KMIP cannot name Ed25519ph/ctx, crypto/signatures.py)."""
    parameter = mechanism.parameter
    if parameter is None:
        return
    if not isinstance(parameter, dict) or parameter.get("phFlag") or parameter.get("pContextData"):
        raise _bad("EdDSA here is pure Ed25519/Ed448: no prehash, no context")


def wrapping_parameters(mechanism: Mechanism, found: NativeMechanism) -> CryptographicParameters:
    """The Cryptographic Parameters of a key wrapping: AES-KW/KWP (no parameter: the
    default IV), RSA-OAEP from CK_RSA_PKCS_OAEP_PARAMS (its label as P Source)."""
    if found.mode is not None:
        if mechanism.parameter is not None:
            raise _bad("AES key wrap takes no parameter here (the default IV)")
        return CryptographicParameters(block_cipher_mode=found.mode)
    parameter = mechanism.parameter
    if not isinstance(parameter, dict):
        raise _bad("RSA-OAEP takes CK_RSA_PKCS_OAEP_PARAMS")
    hash_alg, mgf, source, label = (
        parameter.get(name) for name in ("hashAlg", "mgf", "source", "pSourceData")
    )
    named = HASHES.get(hash_alg) if isinstance(hash_alg, int) else None
    mgf_hash = HASHES.get(CKG_MGF1.get(mgf, 0)) if isinstance(mgf, int) else None
    if named is None or mgf_hash is None or (label and source != CKZ_DATA_SPECIFIED):
        raise _bad("CK_RSA_PKCS_OAEP_PARAMS names a hash, MGF1 or source the token does not take")
    return CryptographicParameters(
        padding_method=PaddingMethod.OAEP,
        hashing_algorithm=named,
        mask_generator=MaskGenerator.MFG1,
        mask_generator_hashing_algorithm=mgf_hash,
        p_source=label if isinstance(label, bytes) and label else None,
    )


def ecdh_peer(mechanism: Mechanism) -> bytes:
    """The peer's public data of CKM_ECDH1_DERIVE (CK_ECDH1_DERIVE_PARAMS with CKD_NULL: the
    shared secret itself, as KMIP's Asymmetric Key derivation gives it)."""
    parameter = mechanism.parameter
    if not isinstance(parameter, dict):
        raise _bad("ECDH takes CK_ECDH1_DERIVE_PARAMS")
    kdf, shared, public = (parameter.get(name) for name in ("kdf", "pSharedData", "pPublicData"))
    if kdf != CKD_NULL or shared:
        raise _bad("ECDH here is CKD_NULL, without shared data")
    if not isinstance(public, bytes) or not public:
        raise _bad("ECDH needs the peer's public point")
    return public
