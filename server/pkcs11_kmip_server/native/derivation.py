"""Secret key derivation of the native token as KMIP Derive Key (docs/native-token.md).

CKM_HKDF_DERIVE (PKCS#11 3.0 §2.43, CK_HKDF_PARAMS) is KMIP Derive Key, Derivation Method
HKDF: the base key the input keying material, the salt bytes as Salt, pInfo as Derivation
Data. KMIP's HKDF always extracts and then expands, and takes its salt as bytes, so
extract-only, expand-only and a salt key (CKF_HKDF_SALT_KEY) are CKR_MECHANISM_PARAM_INVALID.

CKM_PKCS5_PBKD2 (PKCS#11 3.0 §2.40.4, CK_PKCS5_PBKD2_PARAMS2) is a key generation from the
password in its parameter; KMIP's PBKDF2 derives from a managed object, so the password
becomes one for the length of the call: Registered as Secret Data (Password), Derive Key
PBKDF2 from it, then revoked and destroyed, all in the request's transaction. The store
keeps the Destroyed record (no material), and the derived key a Derivation Base Object link
to it. This module turns the parameters into KMIP's; the token (token.py) runs the operations.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkcs11_kmip.cryptoki.constants import CKK, CKM, CKO, CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import Attribute as CkAttribute
from pkcs11_kmip.cryptoki.wire import Mechanism
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue, SecretData
from pkcs11_kmip.kmip.messages.payloads import RegisterRequest
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, DerivationParameters
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicUsageMask,
    DerivationMethod,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    SecretDataType,
)
from pkcs11_kmip_server.crypto.derivation import MAX_ITERATIONS
from pkcs11_kmip_server.native import objects
from pkcs11_kmip_server.native.constants import (
    CKF_HKDF_SALT_DATA,
    CKF_HKDF_SALT_NULL,
    CKZ_SALT_SPECIFIED,
    MoreCKK,
    MoreCKM,
)
from pkcs11_kmip_server.native.mechanisms import (
    DIGESTS,
    GENERIC_SECRET_TYPES,
    MECHANISMS,
    NativeMechanism,
    secret_bytes,
)

H = HashingAlgorithm

# CK_PKCS5_PBKD2_PARAMS2.prf (pkcs11t.h CKP_PKCS5_PBKD2_HMAC_*): the HMACs KMIP's PBKDF2 takes.
# GOSTR3411 (2) and SHA512_224/256 (7, 8) are not hashes the server derives with.
PBKDF2_PRFS: dict[int, HashingAlgorithm] = {
    1: H.SHA_1,
    3: H.SHA_224,
    4: H.SHA_256,
    5: H.SHA_384,
    6: H.SHA_512,
}
# The keys a derivation makes, and the mechanism whose sizes they take.
MADE_KEYS: dict[int, int] = {
    CKK.AES: CKK.AES,
    **{ckk: MoreCKK.GENERIC_SECRET for ckk in GENERIC_SECRET_TYPES},
}
_KEY_GENERATION: dict[int, NativeMechanism] = {
    CKK.AES: MECHANISMS[CKM.AES_KEY_GEN],
    MoreCKK.GENERIC_SECRET: MECHANISMS[MoreCKM.GENERIC_SECRET_KEY_GEN],
}


@dataclass(frozen=True)
class Derivation:
    """One KMIP Derive Key a mechanism asks for."""

    method: DerivationMethod
    parameters: DerivationParameters
    password: bytes | None = None  # PBKDF2: registered as Secret Data for the call


def _bad(message: str) -> CKRError:
    return CKRError(CKR.MECHANISM_PARAM_INVALID, message)


def _fields(mechanism: Mechanism, layout: str) -> dict[str, object]:
    parameter = mechanism.parameter
    if not isinstance(parameter, dict):
        raise _bad(f"the mechanism takes {layout}")
    return dict(parameter)


def _bytes_or_none(value: object) -> bytes | None:
    return value if isinstance(value, bytes) and value else None


def hkdf(mechanism: Mechanism) -> Derivation:
    """CK_HKDF_PARAMS as KMIP HKDF: extract and expand, the PRF's hash, salt bytes or none."""
    fields = _fields(mechanism, "CK_HKDF_PARAMS")
    if not (fields.get("bExtract") and fields.get("bExpand")):
        raise _bad("KMIP's HKDF extracts and expands: both bExtract and bExpand")
    prf = fields.get("prfHashMechanism")
    hashing = DIGESTS.get(prf) if isinstance(prf, int) else None
    if hashing is None:
        raise _bad("prfHashMechanism is not a hash the token derives with (SHA-1, SHA-2, SHA-3)")
    salt_type, salt = fields.get("ulSaltType"), _bytes_or_none(fields.get("pSalt"))
    if salt_type == CKF_HKDF_SALT_NULL:
        if salt is not None:
            raise _bad("CKF_HKDF_SALT_NULL takes no salt bytes")
    elif salt_type == CKF_HKDF_SALT_DATA:
        if salt is None:
            raise _bad("CKF_HKDF_SALT_DATA needs the salt bytes")
    else:  # CKF_HKDF_SALT_KEY: KMIP Derive Key takes the salt as bytes, not as a key
        raise _bad("the salt is none or bytes (KMIP cannot take a salt key)")
    parameters = DerivationParameters(
        cryptographic_parameters=CryptographicParameters(hashing_algorithm=hashing),
        derivation_data=_bytes_or_none(fields.get("pInfo")),
        salt=salt,
    )
    return Derivation(DerivationMethod.HKDF, parameters)


def pbkdf2(mechanism: Mechanism) -> Derivation:
    """CK_PKCS5_PBKD2_PARAMS2 as KMIP PBKDF2: the salt, count and HMAC PRF, and the password."""
    fields = _fields(mechanism, "CK_PKCS5_PBKD2_PARAMS2")
    salt, count, prf = fields.get("pSaltSourceData"), fields.get("iterations"), fields.get("prf")
    if fields.get("saltSource") != CKZ_SALT_SPECIFIED or not isinstance(salt, bytes) or not salt:
        raise _bad("PBKDF2 takes its salt as CKZ_SALT_SPECIFIED bytes")
    if not isinstance(count, int) or not 1 <= count <= MAX_ITERATIONS:
        raise _bad(f"PBKDF2 iterations: 1 to {MAX_ITERATIONS}")
    hashing = PBKDF2_PRFS.get(prf) if isinstance(prf, int) else None
    if hashing is None or fields.get("pPrfData"):
        raise _bad("the PRF is HMAC with SHA-1 or SHA-2 (CKP_PKCS5_PBKD2_HMAC_*), without PRF data")
    password = _bytes_or_none(fields.get("pPassword"))
    if password is None:
        raise _bad("PBKDF2 needs a password")
    parameters = DerivationParameters(
        cryptographic_parameters=CryptographicParameters(hashing_algorithm=hashing),
        salt=salt,
        iteration_count=count,
    )
    return Derivation(DerivationMethod.PBKDF2, parameters, password)


def made_key(template: tuple[CkAttribute, ...]) -> tuple[objects.KeyTemplate, Attributes]:
    """The secret key a derivation makes (a generic secret unless CKA_KEY_TYPE names AES or an
    HMAC type), checked as C_GenerateKey checks it, and its KMIP attributes."""
    ckk = objects.template_key_type(template, MoreCKK.GENERIC_SECRET, frozenset(MADE_KEYS))
    wanted = objects.key_template(template, CKO.SECRET_KEY, ckk)
    size = secret_bytes(_KEY_GENERATION[MADE_KEYS[ckk]], wanted.value_len)
    attributes = objects.kmip_attributes(wanted)
    attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, objects.SECRET_ALGORITHMS[ckk])
    attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, size * 8)
    return wanted, attributes


def password_request(password: bytes) -> RegisterRequest:
    """The Register of a PBKDF2 password: Secret Data (Password) that may only derive."""
    attributes = Attributes()
    attributes.add(Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.DERIVE_KEY)
    block = KeyBlock(key_format_type=KeyFormatType.OPAQUE, key_value=KeyValue(key_material=password))
    secret = SecretData(secret_data_type=SecretDataType.PASSWORD, key_block=block)
    return RegisterRequest(object_type=ObjectType.SECRET_DATA, attributes=attributes, object=secret)
