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

CKM_AES_ECB_ENCRYPT_DATA and CKM_AES_CBC_ENCRYPT_DATA (PKCS#11 3.0, AES key derivation) are KMIP Derive
Key, Derivation Method Encrypt: the data (whole blocks: these modes do not pad) encrypted with
the AES base key, ECB or CBC with the parameter's IV, Padding Method None; the key is the
ciphertext's leading bytes. CKM_DES3_ECB/CBC_ENCRYPT_DATA are the same with a 3DES base key
(8-byte blocks, CK_DES_CBC_ENCRYPT_DATA_PARAMS's 8-byte IV). CKM_SHA*_KEY_DERIVATION
(PKCS#11 3.0, SHA-n key derivation) are Derivation Method Hash: the digest of the base key's
value, its leading bytes; without CKA_VALUE_LEN a generic secret or HMAC key takes the whole
digest (an AES key has no one length: it needs one).
A key longer than the method outputs is CKR_TEMPLATE_INCONSISTENT.

CKM_SP800_108_COUNTER_KDF (PKCS#11 3.0, CK_SP800_108_KDF_PARAMS) is Derivation Method
NIST800-108-C, which computes PRF(key, [i]32 big-endian || fixed data), i from 1
(crypto/derivation.sp800_108). So the data params must start with that counter (the
iteration variable, 32 bits, big-endian); the byte arrays and at most one DKM length after
it are constant across iterations and become the fixed data, the DKM length encoded here
from the key's length. Any other layout, and additional derived keys, is
CKR_MECHANISM_PARAM_INVALID: the server would compute another function.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

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
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DerivationMethod,
    HashingAlgorithm,
    KeyFormatType,
    ObjectType,
    PaddingMethod,
    SecretDataType,
)
from pkcs11_kmip_server.crypto.derivation import HASH_NAMES, HMAC_KEY_HASHES, MAX_ITERATIONS
from pkcs11_kmip_server.native import objects
from pkcs11_kmip_server.native.constants import (
    CKF_HKDF_SALT_DATA,
    CKF_HKDF_SALT_NULL,
    CKZ_SALT_SPECIFIED,
    MoreCKK,
    MoreCKM,
)
from pkcs11_kmip_server.native.mechanisms import (
    AES_BLOCK,
    DES_BLOCK,
    DIGESTS,
    GENERIC_SECRET_TYPES,
    HASH_KEY_DERIVATIONS,
    HMACS,
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
    output: int | None = None  # the most bytes the method makes (Hash, Encrypt); None: enough
    # The KMIP algorithm the base key must be (Encrypt: the cipher; SP 800-108 with CMAC: AES).
    base: CryptographicAlgorithm | None = None
    # An HMAC base key names its own PRF hash to the server (KMIP 2.1 §7.12): it must be this one.
    keyed_hash: HashingAlgorithm | None = None
    # Derivation Data that depends on the new key's length in bytes (SP 800-108's DKM length).
    data_for_length: Callable[[int], bytes] | None = None

    def base_refusal(self, algorithm: object) -> int | None:
        """Why a secret base key of this KMIP algorithm cannot be used (None: it can): not the
        cipher the method needs, or an HMAC key whose own hash is not the PRF's (the server
        would key the PRF with the key's hash, KMIP 2.1 §7.12; a generic secret is HMAC-SHA256)."""
        if self.base is not None and algorithm is not self.base:
            return CKR.KEY_TYPE_INCONSISTENT
        own = HMAC_KEY_HASHES.get(algorithm) if isinstance(algorithm, CryptographicAlgorithm) else None
        if self.keyed_hash is not None and own not in (None, self.keyed_hash):
            return CKR.MECHANISM_PARAM_INVALID
        return None

    def for_key(self, size: int) -> Derivation:
        """This derivation for a key of `size` bytes (its DKM length filled in)."""
        if self.data_for_length is None:
            return self
        data = self.data_for_length(size)
        parameters = dataclasses.replace(self.parameters, derivation_data=data)
        return dataclasses.replace(self, parameters=parameters, data_for_length=None)


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


# The ciphers of the *_ENCRYPT_DATA derivations and their block sizes in bytes.
ENCRYPT_DATA_BLOCKS: dict[CryptographicAlgorithm, int] = {
    CryptographicAlgorithm.AES: AES_BLOCK,
    CryptographicAlgorithm.DES3: DES_BLOCK,
}


def _encrypted_data(
    cipher: CryptographicAlgorithm, mode: BlockCipherMode, data: object, iv: object = None
) -> Derivation:
    """KMIP Encrypt derivation of `data` (whole blocks) by a base key of `cipher`, no padding;
    CBC takes an IV of one block."""
    block = ENCRYPT_DATA_BLOCKS[cipher]
    if not isinstance(data, bytes) or not data or len(data) % block:
        raise _bad(f"the data is whole {block}-byte blocks (these modes do not pad)")
    if mode is BlockCipherMode.CBC and (not isinstance(iv, bytes) or len(iv) != block):
        raise _bad(f"the IV is {block} bytes")
    parameters = DerivationParameters(
        cryptographic_parameters=CryptographicParameters(
            block_cipher_mode=mode,
            padding_method=PaddingMethod.NONE,
            cryptographic_algorithm=cipher,
        ),
        derivation_data=data,
        initialization_vector=iv if isinstance(iv, bytes) else None,
    )
    return Derivation(DerivationMethod.ENCRYPT, parameters, output=len(data), base=cipher)


A, M = CryptographicAlgorithm, BlockCipherMode
# *_ENCRYPT_DATA (pkcs11t.h): the base key's cipher, the mode and the parameter's layout.
ENCRYPT_DATA: dict[int, tuple[CryptographicAlgorithm, BlockCipherMode, str]] = {
    MoreCKM.AES_ECB_ENCRYPT_DATA: (A.AES, M.ECB, "CK_KEY_DERIVATION_STRING_DATA"),
    MoreCKM.AES_CBC_ENCRYPT_DATA: (A.AES, M.CBC, "CK_AES_CBC_ENCRYPT_DATA_PARAMS"),
    MoreCKM.DES3_ECB_ENCRYPT_DATA: (A.DES3, M.ECB, "CK_KEY_DERIVATION_STRING_DATA"),
    MoreCKM.DES3_CBC_ENCRYPT_DATA: (A.DES3, M.CBC, "CK_DES_CBC_ENCRYPT_DATA_PARAMS"),
}


def encrypt_data(mechanism: Mechanism) -> Derivation:
    """An *_ENCRYPT_DATA parameter (its pData, and iv in CBC) as KMIP Encrypt by its cipher."""
    cipher, mode, layout = ENCRYPT_DATA[mechanism.type]
    fields = _fields(mechanism, layout)
    return _encrypted_data(cipher, mode, fields.get("pData"), fields.get("iv"))


def hash_key(mechanism: Mechanism) -> Derivation:
    """CKM_SHA*_KEY_DERIVATION (no parameter) as KMIP Hash: the digest of the base key."""
    if mechanism.parameter not in (None, b""):
        raise _bad("the hash key derivations take no parameter")
    hashing = HASH_KEY_DERIVATIONS[mechanism.type]
    parameters = DerivationParameters(
        cryptographic_parameters=CryptographicParameters(hashing_algorithm=hashing)
    )
    digest = hashlib.new(HASH_NAMES[hashing]).digest_size
    return Derivation(DerivationMethod.HASH, parameters, output=digest)


# CK_PRF_DATA_PARAM.type and CK_SP800_108_DKM_LENGTH_FORMAT.dkmLengthMethod (pkcs11t.h).
ITERATION_VARIABLE, OPTIONAL_COUNTER, DKM_LENGTH, BYTE_ARRAY = 1, 2, 3, 4
DKM_SUM_OF_KEYS, DKM_SUM_OF_SEGMENTS = 1, 2
# The counter crypto/derivation.sp800_108 puts before the fixed data: 32 bits, big-endian.
SERVER_COUNTER: dict[str, object] = {"bLittleEndian": 0, "ulWidthInBits": 32}
CMAC_BLOCK = 16
# CK_SP800_108_KDF_PARAMS.prfType -> the hash of its HMAC (None: CMAC-AES), the PRFs the server takes.
SP800_108_PRFS: dict[int, HashingAlgorithm | None] = {
    **{ckm: hashing for hashing, ckm, _ in HMACS},
    MoreCKM.AES_CMAC: None,
}


def _constant(data: bytes) -> Callable[[int], bytes]:
    return lambda _size: data


def _dkm_length(value: object, block: int) -> Callable[[int], bytes]:
    """CK_SP800_108_DKM_LENGTH_FORMAT as the bytes it stands for, given the key's length:
    the key's bits (SUM_OF_KEYS: there are no additional keys) or the PRF's whole output's."""
    if not isinstance(value, dict):
        raise _bad("a DKM length param holds a CK_SP800_108_DKM_LENGTH_FORMAT")
    method, width = value.get("dkmLengthMethod"), value.get("ulWidthInBits")
    if method not in (DKM_SUM_OF_KEYS, DKM_SUM_OF_SEGMENTS):
        raise _bad("dkmLengthMethod is SUM_OF_KEYS or SUM_OF_SEGMENTS")
    if not isinstance(width, int) or width % 8 or not 8 <= width <= 64:
        raise _bad("the DKM length is 8 to 64 bits, whole bytes")
    order: Literal["little", "big"] = "little" if value.get("bLittleEndian") else "big"

    def encode(size: int) -> bytes:
        bits = 8 * (size if method == DKM_SUM_OF_KEYS else -(-size // block) * block)
        if bits >= 1 << width:
            raise _bad(f"a DKM length of {bits} bits does not fit {width} bits")
        return bits.to_bytes(width // 8, order)

    return encode


# The data params before the fixed data, as the server's sp800_108 places its 32-bit
# big-endian counter: counter mode's iteration variable is that counter; feedback and double
# pipeline modes' is K(i-1) or A(i) (no format, pValue NULL), the counter an optional one after it.
SERVER_LAYOUTS: dict[DerivationMethod, tuple[dict[str, object], ...]] = {
    DerivationMethod.NIST800_108_C: ({"type": ITERATION_VARIABLE, "pValue": SERVER_COUNTER},),
    **{
        method: (
            {"type": ITERATION_VARIABLE, "pValue": None},
            {"type": OPTIONAL_COUNTER, "pValue": SERVER_COUNTER},
        )
        for method in (DerivationMethod.NIST800_108_F, DerivationMethod.NIST800_108_DPI)
    },
}


def _sp800_108(mechanism: Mechanism, struct: str, method: DerivationMethod) -> Derivation:
    """CK_SP800_108_(FEEDBACK_)KDF_PARAMS as KMIP `method`: the leading data params as the
    server places its counter (SERVER_LAYOUTS), the byte arrays and DKM length after them as
    the fixed data, in their order; feedback mode's pIV as the Initialization Vector, K(0)."""
    fields = _fields(mechanism, struct)
    prf = fields.get("prfType")
    if not isinstance(prf, int) or prf not in SP800_108_PRFS:
        raise _bad("prfType is an HMAC the server derives with (SHA-1, SHA-2, SHA-3) or CMAC-AES")
    if fields.get("ulAdditionalDerivedKeys"):
        raise _bad("additional derived keys are not offered")
    hashing = SP800_108_PRFS[prf]
    block = CMAC_BLOCK if hashing is None else hashlib.new(HASH_NAMES[hashing]).digest_size
    params = fields.get("pDataParams")
    lead = SERVER_LAYOUTS[method]
    if not isinstance(params, tuple) or params[: len(lead)] != lead:
        raise _bad("the first data params are the iteration variable and counter as the server places them")
    rest = params[len(lead) :]
    if sum(isinstance(p, dict) and p.get("type") == DKM_LENGTH for p in rest) > 1:
        raise _bad("at most one DKM length")
    pieces: list[Callable[[int], bytes]] = []
    for param in rest:
        kind, value = (param.get("type"), param.get("pValue")) if isinstance(param, dict) else (None, None)
        if kind == BYTE_ARRAY and isinstance(value, bytes):
            pieces.append(_constant(value))
        elif kind == DKM_LENGTH:
            pieces.append(_dkm_length(value, block))
        else:  # a second counter or iteration variable, a NULL byte array
            raise _bad("after the counter: byte arrays and at most one DKM length")
    named = CryptographicParameters(
        hashing_algorithm=hashing,
        cryptographic_algorithm=CryptographicAlgorithm.AES if hashing is None else None,
    )
    iv = fields.get("pIV")
    return Derivation(
        method,
        DerivationParameters(
            cryptographic_parameters=named,
            initialization_vector=iv if isinstance(iv, bytes) and iv else None,
        ),
        base=CryptographicAlgorithm.AES if hashing is None else None,
        keyed_hash=hashing,
        data_for_length=lambda size: b"".join(piece(size) for piece in pieces),
    )


def sp800_108_counter(mechanism: Mechanism) -> Derivation:
    """CKM_SP800_108_COUNTER_KDF: KMIP NIST800-108-C, PRF(key, [i]32 || fixed)."""
    return _sp800_108(mechanism, "CK_SP800_108_KDF_PARAMS", DerivationMethod.NIST800_108_C)


def sp800_108_feedback(mechanism: Mechanism) -> Derivation:
    """CKM_SP800_108_FEEDBACK_KDF: KMIP NIST800-108-F, K(i) = PRF(key, K(i-1) || [i]32 || fixed)."""
    return _sp800_108(mechanism, "CK_SP800_108_FEEDBACK_KDF_PARAMS", DerivationMethod.NIST800_108_F)


def sp800_108_double_pipeline(mechanism: Mechanism) -> Derivation:
    """CKM_SP800_108_DOUBLE_PIPELINE_KDF: KMIP NIST800-108-DPI, A(i) = PRF(key, A(i-1)) with
    A(0) the fixed data, K(i) = PRF(key, A(i) || [i]32 || fixed)."""
    return _sp800_108(mechanism, "CK_SP800_108_KDF_PARAMS", DerivationMethod.NIST800_108_DPI)


# C_DeriveKey mechanisms whose base is a secret key, and what KMIP Derive Key each asks for.
FROM_SECRET_KEY: dict[int, Callable[[Mechanism], Derivation]] = {
    MoreCKM.HKDF_DERIVE: hkdf,
    **{ckm: encrypt_data for ckm in ENCRYPT_DATA},
    MoreCKM.SP800_108_COUNTER_KDF: sp800_108_counter,
    MoreCKM.SP800_108_FEEDBACK_KDF: sp800_108_feedback,
    MoreCKM.SP800_108_DOUBLE_PIPELINE_KDF: sp800_108_double_pipeline,
    **{ckm: hash_key for ckm in HASH_KEY_DERIVATIONS},
}


def made_key(
    template: tuple[CkAttribute, ...], output: int | None = None
) -> tuple[objects.KeyTemplate, Attributes]:
    """The secret key a derivation makes (a generic secret unless CKA_KEY_TYPE names AES or an
    HMAC type), checked as C_GenerateKey checks it, and its KMIP attributes. A method that
    makes `output` bytes gives a generic secret or HMAC key that many without CKA_VALUE_LEN
    (PKCS#11's hash key derivations), and no key longer (CKR_TEMPLATE_INCONSISTENT)."""
    ckk = objects.template_key_type(template, MoreCKK.GENERIC_SECRET, frozenset(MADE_KEYS))
    wanted = objects.key_template(template, CKO.SECRET_KEY, ckk)
    value_len = wanted.value_len
    if value_len is None and output is not None and MADE_KEYS[ckk] != CKK.AES:
        value_len = output
    size = secret_bytes(_KEY_GENERATION[MADE_KEYS[ckk]], value_len)
    if output is not None and size > output:
        raise CKRError(CKR.TEMPLATE_INCONSISTENT, f"this derivation makes at most {output} bytes")
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
