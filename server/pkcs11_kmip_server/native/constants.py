"""Cryptoki numbers the native token needs beyond the library's (pkcs11_kmip.cryptoki.constants),
from PKCS#11 3.0 pkcs11t.h: digests, key wrapping, certificates, imported key components.

They are the token's alone (the library forwards these values without reading them),
so they live here rather than in the library's module.
"""

from __future__ import annotations

import enum


class MoreCKA(enum.IntEnum):
    APPLICATION = 0x010
    OBJECT_ID = 0x012
    CERTIFICATE_TYPE = 0x080
    ISSUER = 0x081
    SERIAL_NUMBER = 0x082
    TRUSTED = 0x086
    CERTIFICATE_CATEGORY = 0x087
    CHECK_VALUE = 0x090
    SUBJECT = 0x101
    PRIVATE_EXPONENT = 0x123
    PRIME_1 = 0x124
    PRIME_2 = 0x125
    EXPONENT_1 = 0x126
    EXPONENT_2 = 0x127
    COEFFICIENT = 0x128
    WRAP_WITH_TRUSTED = 0x210


class MoreCKM(enum.IntEnum):
    AES_ECB = 0x1081
    AES_CBC = 0x1082
    RSA_PKCS_OAEP = 0x0009
    ECDH1_DERIVE = 0x1050
    AES_KEY_WRAP = 0x2109
    AES_KEY_WRAP_KWP = 0x210B
    GENERIC_SECRET_KEY_GEN = 0x0350
    EC_EDWARDS_KEY_PAIR_GEN = 0x1055
    EC_MONTGOMERY_KEY_PAIR_GEN = 0x1056
    EDDSA = 0x1057
    AES_CMAC = 0x108A
    AES_CMAC_GENERAL = 0x108B
    DES2_KEY_GEN = 0x0130
    DES3_KEY_GEN = 0x0131
    DES3_ECB = 0x0132
    DES3_CBC = 0x0133
    DES3_CBC_PAD = 0x0136
    AES_XTS = 0x1071
    AES_XTS_KEY_GEN = 0x1072
    CHACHA20_KEY_GEN = 0x1225
    CHACHA20 = 0x1226
    CHACHA20_POLY1305 = 0x4021
    PKCS5_PBKD2 = 0x03B0
    SP800_108_COUNTER_KDF = 0x03AC
    SP800_108_FEEDBACK_KDF = 0x03AD
    SP800_108_DOUBLE_PIPELINE_KDF = 0x03AE
    HKDF_DERIVE = 0x402A
    DES3_ECB_ENCRYPT_DATA = 0x1102
    DES3_CBC_ENCRYPT_DATA = 0x1103
    AES_ECB_ENCRYPT_DATA = 0x1104
    AES_CBC_ENCRYPT_DATA = 0x1105


class MoreCKK(enum.IntEnum):
    GENERIC_SECRET = 0x10
    DES2 = 0x14
    CHACHA20 = 0x33
    AES_XTS = 0x35
    SHA3_224_HMAC = 0x36
    SHA3_256_HMAC = 0x37
    SHA3_384_HMAC = 0x38
    SHA3_512_HMAC = 0x39
    EC_EDWARDS = 0x40
    EC_MONTGOMERY = 0x41


class MoreCKF(enum.IntFlag):
    DIGEST = 0x400
    WRAP = 0x20000
    UNWRAP = 0x40000
    DERIVE = 0x80000


CKO_DATA = 0
CKO_CERTIFICATE = 1
CKC_X_509 = 0
CKZ_DATA_SPECIFIED = 1
CKD_NULL = 1
"""CK_ECDH1_DERIVE_PARAMS.kdf: the shared secret itself (truncated to CKA_VALUE_LEN)."""
CKF_HKDF_SALT_NULL = 0x1
CKF_HKDF_SALT_DATA = 0x2
CKF_HKDF_SALT_KEY = 0x4
"""CK_HKDF_PARAMS.ulSaltType (PKCS#11 3.0 §2.43): no salt, pSalt, or the key hSaltKey."""
CKZ_SALT_SPECIFIED = 1
"""CK_PKCS5_PBKD2_PARAMS2.saltSource: the salt is pSaltSourceData (the only source PKCS#5 defines)."""
