"""The Cryptoki argument encoding of the KMIP PKCS#11 operation (docs/wire-format.md).

Sans-I/O: Python values in, bytes out, and back. What each function sends and what
it answers is derived from its C parameter types in `calls.py` (plus three named
overrides); structures, attribute value types and mechanism parameters are the data
tables below. Both ends use the same code: the provider encodes inputs and decodes
outputs, the server decodes inputs and encodes outputs, so a decision about the
layout is made in one place.

Values are native to Python, never C memory: an attribute value is the bytes of the
C value in this machine's layout (a CK_ULONG attribute is `sizeof(CK_ULONG)` bytes in
host order); the codec puts CK_ULONGs on the wire as 8 bytes big-endian and back.
"""

from __future__ import annotations

import enum
import functools
import struct
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from pkcs11_kmip.cryptoki.calls import BY_ID, BY_NAME, CALLS, Call, Param
from pkcs11_kmip.cryptoki.constants import CKR

ENCODING_VERSION = 1
"""The one byte C_Initialize sends (PKCS11-M-1-21): the version of this encoding."""

NATIVE_ULONG = struct.calcsize("L")
"""sizeof(CK_ULONG) here: the native length of CK_ULONG attribute values."""

UNAVAILABLE = 2 ** (8 * NATIVE_ULONG) - 1
"""CK_UNAVAILABLE_INFORMATION, as the caller's CK_ULONG holds it."""

ARRAY_ATTRIBUTE = 0x40000000
"""CKF_ARRAY_ATTRIBUTE: the bit of attribute types whose value is an array."""

MAX_LENGTH = 0xFFFFFFFF
"""The largest count or length the 4-byte fields carry; larger capacities are clamped."""


class WireError(ValueError):
    """Bytes that are not a valid encoding, or values that cannot be encoded."""


# --- values -------------------------------------------------------------------------------

Version = tuple[int, int]
FieldValue: TypeAlias = "int | bytes | Version | StructValue | tuple[StructValue, ...] | None"
"""A member's value; an ARRAY member's is a tuple of structures, a VARIANT's a structure
or bytes."""
StructValue: TypeAlias = "dict[str, FieldValue]"


@dataclass(frozen=True)
class Attribute:
    """One CK_ATTRIBUTE of a template or of a C_GetAttributeValue answer.

    `value`: the bytes pValue points to (None: pValue is NULL, or nothing was copied);
    for CKA_*_TEMPLATE attributes a nested template. `length`: ulValueLen, None for
    CK_UNAVAILABLE_INFORMATION.
    """

    type: int
    value: bytes | tuple[Attribute, ...] | None = None
    length: int | None = 0

    @classmethod
    def of(cls, type: int, value: bytes | tuple[Attribute, ...]) -> Attribute:
        """A template entry with a value (its length in native bytes, or entries)."""
        return cls(type, value, len(value))


@dataclass(frozen=True)
class AttributeQuery:
    """One C_GetAttributeValue request entry: is pValue set, and ulValueLen."""

    type: int
    has_buffer: bool
    capacity: int


@dataclass(frozen=True)
class Mechanism:
    """CK_MECHANISM: a parameter is raw bytes, a CK_ULONG or a structure (see PARAMETERS)."""

    type: int
    parameter: bytes | int | StructValue | None = None


@dataclass(frozen=True)
class MessageParameter:
    """A message-based function's pParameter: the mechanism of its operation, and the
    parameter (a structure of MESSAGE_PARAMETERS, else raw bytes). In an answer (the
    C_EncryptMessage* functions) `value` holds only the pointer members."""

    mechanism: int
    value: bytes | StructValue


@dataclass(frozen=True)
class OutRequest:
    """What the caller gave for an output buffer: is the pointer set, and its capacity."""

    present: bool
    capacity: int


@dataclass(frozen=True)
class OutData:
    """An output buffer's answer: the length (needed or written) and, if written, the data.

    `data` is bytes for byte buffers and a tuple of integers for CK_ULONG lists.
    """

    length: int
    data: bytes | tuple[int, ...] | None = None


Value = (
    int
    | bytes
    | None
    | Mechanism
    | OutRequest
    | OutData
    | tuple[Attribute, ...]
    | tuple[AttributeQuery, ...]
    | dict[str, FieldValue]
    | MessageParameter
)
Values = Mapping[str, Value]


# --- structures (CK_INFO ... and mechanism parameters) ------------------------------------


class FieldKind(enum.Enum):
    BYTE = "CK_BYTE (1)"
    ULONG = "CK_ULONG (8)"
    VERSION = "CK_VERSION (2)"
    CHARS = "fixed array"
    DATA = "pointer + length"
    TAG = "pointer to a tag"  # its length follows from another member (message parameters)
    ARRAY = "pointer + count of structures"  # of one type (`struct`), counted by `length_name`
    VARIANT = "pointer + length, laid out by another member"  # VARIANTS[struct][selector's value]


@dataclass(frozen=True)
class StructField:
    """A structure member; DATA covers a pointer and its length member (`length_name`, in
    bits when `bits`: CK_CHACHA20_PARAMS counts its counter and nonce in bits).

    TAG is a pointer whose buffer is as long as another member says (`length_name`, in
    bits when `bits`), or `size` bytes when there is no such member (Poly1305's 16).

    ARRAY points to `length_name` structures `struct` (CK_SP800_108_KDF_PARAMS' data
    params). VARIANT points to `length_name` bytes laid out as VARIANTS[`struct`] says for
    the value of the member `selector` (CK_PRF_DATA_PARAM's pValue, chosen by its type)."""

    name: str
    kind: FieldKind
    size: int = 0
    length_name: str = ""
    bits: bool = False
    struct: str = ""
    selector: str = ""


def _byte(name: str) -> StructField:
    return StructField(name, FieldKind.BYTE, 1)


def _ulong(name: str) -> StructField:
    return StructField(name, FieldKind.ULONG, 8)


def _version(name: str) -> StructField:
    return StructField(name, FieldKind.VERSION, 2)


def _chars(name: str, size: int) -> StructField:
    return StructField(name, FieldKind.CHARS, size)


def _data(name: str, length_name: str, bits: bool = False) -> StructField:
    return StructField(name, FieldKind.DATA, 0, length_name, bits)


def _tag(name: str, length_name: str = "", size: int = 0, bits: bool = False) -> StructField:
    return StructField(name, FieldKind.TAG, size, length_name, bits)


def _array(name: str, count_name: str, struct: str) -> StructField:
    return StructField(name, FieldKind.ARRAY, 0, count_name, struct=struct)


def _variant(name: str, length_name: str, selector: str, table: str) -> StructField:
    return StructField(name, FieldKind.VARIANT, 0, length_name, struct=table, selector=selector)


def tag_length(member: StructField, value: StructValue) -> int:
    """The bytes a TAG member's buffer holds, from the structure's other members."""
    if not member.length_name:
        return member.size
    length = value.get(member.length_name)
    if not isinstance(length, int) or length < 0:
        raise WireError(f"{member.length_name} is not a length")
    return (length + 7) // 8 if member.bits else length


# Members in C order; a DATA member stands where its pointer is, its length member is
# not listed (it goes on the wire as the 4-byte length in front of the bytes).
STRUCTS: dict[str, tuple[StructField, ...]] = {
    "CK_INFO": (
        _version("cryptokiVersion"),
        _chars("manufacturerID", 32),
        _ulong("flags"),
        _chars("libraryDescription", 32),
        _version("libraryVersion"),
    ),
    "CK_SLOT_INFO": (
        _chars("slotDescription", 64),
        _chars("manufacturerID", 32),
        _ulong("flags"),
        _version("hardwareVersion"),
        _version("firmwareVersion"),
    ),
    "CK_TOKEN_INFO": (
        _chars("label", 32),
        _chars("manufacturerID", 32),
        _chars("model", 16),
        _chars("serialNumber", 16),
        _ulong("flags"),
        _ulong("ulMaxSessionCount"),
        _ulong("ulSessionCount"),
        _ulong("ulMaxRwSessionCount"),
        _ulong("ulRwSessionCount"),
        _ulong("ulMaxPinLen"),
        _ulong("ulMinPinLen"),
        _ulong("ulTotalPublicMemory"),
        _ulong("ulFreePublicMemory"),
        _ulong("ulTotalPrivateMemory"),
        _ulong("ulFreePrivateMemory"),
        _version("hardwareVersion"),
        _version("firmwareVersion"),
        _chars("utcTime", 16),
    ),
    "CK_SESSION_INFO": (_ulong("slotID"), _ulong("state"), _ulong("flags"), _ulong("ulDeviceError")),
    "CK_MECHANISM_INFO": (_ulong("ulMinKeySize"), _ulong("ulMaxKeySize"), _ulong("flags")),
    # Mechanism parameters.
    "CK_RSA_PKCS_PSS_PARAMS": (_ulong("hashAlg"), _ulong("mgf"), _ulong("sLen")),
    "CK_RSA_PKCS_OAEP_PARAMS": (
        _ulong("hashAlg"),
        _ulong("mgf"),
        _ulong("source"),
        _data("pSourceData", "ulSourceDataLen"),
    ),
    "CK_GCM_PARAMS": (
        _data("pIv", "ulIvLen"),
        _ulong("ulIvBits"),
        _data("pAAD", "ulAADLen"),
        _ulong("ulTagBits"),
    ),
    "CK_CCM_PARAMS": (
        _ulong("ulDataLen"),
        _data("pNonce", "ulNonceLen"),
        _data("pAAD", "ulAADLen"),
        _ulong("ulMACLen"),
    ),
    "CK_AES_CTR_PARAMS": (_ulong("ulCounterBits"), _chars("cb", 16)),
    "CK_ECDH1_DERIVE_PARAMS": (
        _ulong("kdf"),
        _data("pSharedData", "ulSharedDataLen"),
        _data("pPublicData", "ulPublicDataLen"),
    ),
    "CK_KEY_DERIVATION_STRING_DATA": (_data("pData", "ulLen"),),
    "CK_AES_CBC_ENCRYPT_DATA_PARAMS": (_chars("iv", 16), _data("pData", "length")),
    "CK_DES_CBC_ENCRYPT_DATA_PARAMS": (_chars("iv", 8), _data("pData", "length")),
    "CK_EDDSA_PARAMS": (_byte("phFlag"), _data("pContextData", "ulContextDataLen")),
    "CK_CHACHA20_PARAMS": (
        _data("pBlockCounter", "blockCounterBits", bits=True),
        _data("pNonce", "ulNonceBits", bits=True),
    ),
    "CK_SALSA20_CHACHA20_POLY1305_PARAMS": (_data("pNonce", "ulNonceLen"), _data("pAAD", "ulAADLen")),
    # PKCS#11 3.0 §2.43 (pkcs11t.h): hSaltKey is a CK_OBJECT_HANDLE.
    "CK_HKDF_PARAMS": (
        _byte("bExtract"),
        _byte("bExpand"),
        _ulong("prfHashMechanism"),
        _ulong("ulSaltType"),
        _data("pSalt", "ulSaltLen"),
        _ulong("hSaltKey"),
        _data("pInfo", "ulInfoLen"),
    ),
    # PKCS#11 3.0 §2.40.4: the _PARAMS2 layout (ulPasswordLen a CK_ULONG, not a pointer).
    "CK_PKCS5_PBKD2_PARAMS2": (
        _ulong("saltSource"),
        _data("pSaltSourceData", "ulSaltSourceDataLen"),
        _ulong("iterations"),
        _ulong("prf"),
        _data("pPrfData", "ulPrfDataLen"),
        _data("pPassword", "ulPasswordLen"),
    ),
    # Message parameters (PKCS#11 3.0 C_EncryptMessage ...): see MESSAGE_PARAMETERS.
    "CK_GCM_MESSAGE_PARAMS": (
        _data("pIv", "ulIvLen"),
        _ulong("ulIvFixedBits"),
        _ulong("ivGenerator"),
        _tag("pTag", "ulTagBits", bits=True),
        _ulong("ulTagBits"),
    ),
    "CK_CCM_MESSAGE_PARAMS": (
        _ulong("ulDataLen"),
        _data("pNonce", "ulNonceLen"),
        _ulong("ulNonceFixedBits"),
        _ulong("nonceGenerator"),
        _tag("pMAC", "ulMACLen"),
        _ulong("ulMACLen"),
    ),
    "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS": (_data("pNonce", "ulNonceLen"), _tag("pTag", size=16)),
    # PKCS#11 3.0 SP 800-108 KDFs (pkcs11t.h). pAdditionalDerivedKeys is not carried: the
    # count travels, and a receiver that is given additional keys refuses them.
    "CK_SP800_108_COUNTER_FORMAT": (_byte("bLittleEndian"), _ulong("ulWidthInBits")),
    "CK_SP800_108_DKM_LENGTH_FORMAT": (
        _ulong("dkmLengthMethod"),
        _byte("bLittleEndian"),
        _ulong("ulWidthInBits"),
    ),
    "CK_PRF_DATA_PARAM": (_ulong("type"), _variant("pValue", "ulValueLen", "type", "CK_PRF_DATA_TYPE")),
    "CK_SP800_108_KDF_PARAMS": (
        _ulong("prfType"),
        _array("pDataParams", "ulNumberOfDataParams", "CK_PRF_DATA_PARAM"),
        _ulong("ulAdditionalDerivedKeys"),
    ),
    "CK_SP800_108_FEEDBACK_KDF_PARAMS": (
        _ulong("prfType"),
        _array("pDataParams", "ulNumberOfDataParams", "CK_PRF_DATA_PARAM"),
        _data("pIV", "ulIVLen"),
        _ulong("ulAdditionalDerivedKeys"),
    ),
}

OUTPUT_STRUCTS = ("CK_INFO", "CK_SLOT_INFO", "CK_TOKEN_INFO", "CK_SESSION_INFO", "CK_MECHANISM_INFO")

RAW = "bytes"
"""A mechanism parameter that is a plain byte array (an IV): sent as it is."""
ULONG = "CK_ULONG"
"""A mechanism parameter that is one CK_ULONG (CK_MAC_GENERAL_PARAMS): 8 bytes big-endian."""

# A VARIANT member's layouts: the selector member's value -> a structure name or RAW bytes.
# A value not listed is a WireError (CKR_MECHANISM_PARAM_INVALID in C memory).
VARIANTS: dict[str, dict[int, str]] = {
    "CK_PRF_DATA_TYPE": {
        0x1: "CK_SP800_108_COUNTER_FORMAT",  # CK_SP800_108_ITERATION_VARIABLE
        0x2: "CK_SP800_108_COUNTER_FORMAT",  # CK_SP800_108_OPTIONAL_COUNTER
        0x3: "CK_SP800_108_DKM_LENGTH_FORMAT",  # CK_SP800_108_DKM_LENGTH
        0x4: RAW,  # CK_SP800_108_BYTE_ARRAY
    },
}

# Mechanism -> parameter layout. A mechanism not listed here sends its parameter as
# raw bytes, and the server refuses it (it could hold pointers): add it here first.
PARAMETERS: dict[str, tuple[int, str]] = {
    "CKM_RSA_PKCS_OAEP": (0x0009, "CK_RSA_PKCS_OAEP_PARAMS"),
    "CKM_RSA_PKCS_PSS": (0x000D, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA1_RSA_PKCS_PSS": (0x000E, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA256_RSA_PKCS_PSS": (0x0043, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA384_RSA_PKCS_PSS": (0x0044, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA512_RSA_PKCS_PSS": (0x0045, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA224_RSA_PKCS_PSS": (0x0047, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA3_256_RSA_PKCS_PSS": (0x0063, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA3_384_RSA_PKCS_PSS": (0x0064, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA3_512_RSA_PKCS_PSS": (0x0065, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_SHA3_224_RSA_PKCS_PSS": (0x0067, "CK_RSA_PKCS_PSS_PARAMS"),
    "CKM_DES3_CBC": (0x0133, RAW),
    "CKM_DES3_CBC_PAD": (0x0136, RAW),
    "CKM_MD5_HMAC_GENERAL": (0x0212, ULONG),
    "CKM_SHA_1_HMAC_GENERAL": (0x0222, ULONG),
    "CKM_SHA256_HMAC_GENERAL": (0x0252, ULONG),
    "CKM_SHA224_HMAC_GENERAL": (0x0257, ULONG),
    "CKM_SHA384_HMAC_GENERAL": (0x0262, ULONG),
    "CKM_SHA512_HMAC_GENERAL": (0x0272, ULONG),
    "CKM_SP800_108_COUNTER_KDF": (0x03AC, "CK_SP800_108_KDF_PARAMS"),
    "CKM_SP800_108_FEEDBACK_KDF": (0x03AD, "CK_SP800_108_FEEDBACK_KDF_PARAMS"),
    "CKM_SP800_108_DOUBLE_PIPELINE_KDF": (0x03AE, "CK_SP800_108_KDF_PARAMS"),
    "CKM_PKCS5_PBKD2": (0x03B0, "CK_PKCS5_PBKD2_PARAMS2"),
    "CKM_ECDH1_DERIVE": (0x1050, "CK_ECDH1_DERIVE_PARAMS"),
    "CKM_ECDH1_COFACTOR_DERIVE": (0x1051, "CK_ECDH1_DERIVE_PARAMS"),
    "CKM_EDDSA": (0x1057, "CK_EDDSA_PARAMS"),
    "CKM_AES_XTS": (0x1071, RAW),
    "CKM_AES_CBC": (0x1082, RAW),
    "CKM_AES_MAC_GENERAL": (0x1084, ULONG),
    "CKM_AES_CBC_PAD": (0x1085, RAW),
    "CKM_AES_CTR": (0x1086, "CK_AES_CTR_PARAMS"),
    "CKM_AES_GCM": (0x1087, "CK_GCM_PARAMS"),
    "CKM_AES_CCM": (0x1088, "CK_CCM_PARAMS"),
    "CKM_AES_CTS": (0x1089, RAW),
    "CKM_AES_CMAC_GENERAL": (0x108B, ULONG),
    "CKM_DES3_ECB_ENCRYPT_DATA": (0x1102, "CK_KEY_DERIVATION_STRING_DATA"),
    "CKM_DES3_CBC_ENCRYPT_DATA": (0x1103, "CK_DES_CBC_ENCRYPT_DATA_PARAMS"),
    "CKM_AES_ECB_ENCRYPT_DATA": (0x1104, "CK_KEY_DERIVATION_STRING_DATA"),
    "CKM_AES_CBC_ENCRYPT_DATA": (0x1105, "CK_AES_CBC_ENCRYPT_DATA_PARAMS"),
    "CKM_CHACHA20": (0x1226, "CK_CHACHA20_PARAMS"),
    "CKM_AES_OFB": (0x2104, RAW),
    "CKM_AES_CFB64": (0x2105, RAW),
    "CKM_AES_CFB8": (0x2106, RAW),
    "CKM_AES_CFB128": (0x2107, RAW),
    "CKM_AES_KEY_WRAP": (0x2109, RAW),
    "CKM_AES_KEY_WRAP_PAD": (0x210A, RAW),
    "CKM_CHACHA20_POLY1305": (0x4021, "CK_SALSA20_CHACHA20_POLY1305_PARAMS"),
    "CKM_SALSA20_POLY1305": (0x4022, "CK_SALSA20_CHACHA20_POLY1305_PARAMS"),
    "CKM_HKDF_DERIVE": (0x402A, "CK_HKDF_PARAMS"),
    "CKM_HKDF_DATA": (0x402B, "CK_HKDF_PARAMS"),
}
PARAMETER_LAYOUT: dict[int, str] = {value: layout for value, layout in PARAMETERS.values()}


def parameter_layout(mechanism: int) -> str | None:
    """RAW, ULONG or a structure name; None for a mechanism this table does not know."""
    return PARAMETER_LAYOUT.get(mechanism)


# The message-based functions' pParameter (C_EncryptMessage, C_SignMessageBegin, ...): its
# layout follows the mechanism given to the operation's C_Message*Init. A mechanism not
# listed here sends its message parameter as raw bytes, refused by the server as in
# PARAMETERS (the signature mechanisms take none: NULL).
MESSAGE_PARAMETERS: dict[str, tuple[int, str]] = {
    "CKM_AES_GCM": (0x1087, "CK_GCM_MESSAGE_PARAMS"),
    "CKM_AES_CCM": (0x1088, "CK_CCM_MESSAGE_PARAMS"),
    "CKM_CHACHA20_POLY1305": (0x4021, "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS"),
    "CKM_SALSA20_POLY1305": (0x4022, "CK_SALSA20_CHACHA20_POLY1305_MSG_PARAMS"),
}
MESSAGE_LAYOUT: dict[int, str] = {value: layout for value, layout in MESSAGE_PARAMETERS.values()}

NO_OPERATION = 2**64 - 1
"""The mechanism a message parameter names when the library knows no message operation
of that kind on the session (CK_UNAVAILABLE_INFORMATION): its bytes are sent raw."""


def message_layout(mechanism: int) -> str | None:
    """The structure of a message parameter for this mechanism (None: raw bytes)."""
    return MESSAGE_LAYOUT.get(mechanism)


def pointer_members(layout: str) -> tuple[StructField, ...]:
    """The members of a structure that point to buffers (DATA and TAG): what a message
    parameter's answer carries back."""
    return tuple(m for m in STRUCTS[layout] if m.kind in (FieldKind.DATA, FieldKind.TAG))


# --- attribute value types ----------------------------------------------------------------


class AttributeKind(enum.Enum):
    BYTES = "bytes"
    ULONG = "CK_ULONG"
    ULONG_ARRAY = "CK_ULONG array"
    TEMPLATE = "template"


# Attributes whose value is not just bytes. CK_BBOOL, CK_DATE, strings and big integers
# are bytes already (a CK_BBOOL is its one byte); everything here is converted.
ATTRIBUTE_KINDS: dict[str, tuple[int, AttributeKind]] = {
    "CKA_CLASS": (0x0000, AttributeKind.ULONG),
    "CKA_CERTIFICATE_TYPE": (0x0080, AttributeKind.ULONG),
    "CKA_CERTIFICATE_CATEGORY": (0x0087, AttributeKind.ULONG),
    "CKA_JAVA_MIDP_SECURITY_DOMAIN": (0x0088, AttributeKind.ULONG),
    "CKA_NAME_HASH_ALGORITHM": (0x008C, AttributeKind.ULONG),
    "CKA_KEY_TYPE": (0x0100, AttributeKind.ULONG),
    "CKA_MODULUS_BITS": (0x0121, AttributeKind.ULONG),
    "CKA_PRIME_BITS": (0x0133, AttributeKind.ULONG),
    "CKA_SUB_PRIME_BITS": (0x0134, AttributeKind.ULONG),
    "CKA_VALUE_BITS": (0x0160, AttributeKind.ULONG),
    "CKA_VALUE_LEN": (0x0161, AttributeKind.ULONG),
    "CKA_KEY_GEN_MECHANISM": (0x0166, AttributeKind.ULONG),
    "CKA_OTP_FORMAT": (0x0220, AttributeKind.ULONG),
    "CKA_OTP_LENGTH": (0x0221, AttributeKind.ULONG),
    "CKA_OTP_TIME_INTERVAL": (0x0222, AttributeKind.ULONG),
    "CKA_OTP_CHALLENGE_REQUIREMENT": (0x0224, AttributeKind.ULONG),
    "CKA_OTP_TIME_REQUIREMENT": (0x0225, AttributeKind.ULONG),
    "CKA_OTP_COUNTER_REQUIREMENT": (0x0226, AttributeKind.ULONG),
    "CKA_OTP_PIN_REQUIREMENT": (0x0227, AttributeKind.ULONG),
    "CKA_HW_FEATURE_TYPE": (0x0300, AttributeKind.ULONG),
    "CKA_PIXEL_X": (0x0400, AttributeKind.ULONG),
    "CKA_PIXEL_Y": (0x0401, AttributeKind.ULONG),
    "CKA_RESOLUTION": (0x0402, AttributeKind.ULONG),
    "CKA_CHAR_ROWS": (0x0403, AttributeKind.ULONG),
    "CKA_CHAR_COLUMNS": (0x0404, AttributeKind.ULONG),
    "CKA_BITS_PER_PIXEL": (0x0406, AttributeKind.ULONG),
    "CKA_MECHANISM_TYPE": (0x0500, AttributeKind.ULONG),
    "CKA_PROFILE_ID": (0x0601, AttributeKind.ULONG),
    "CKA_WRAP_TEMPLATE": (ARRAY_ATTRIBUTE | 0x0211, AttributeKind.TEMPLATE),
    "CKA_UNWRAP_TEMPLATE": (ARRAY_ATTRIBUTE | 0x0212, AttributeKind.TEMPLATE),
    "CKA_DERIVE_TEMPLATE": (ARRAY_ATTRIBUTE | 0x0213, AttributeKind.TEMPLATE),
    "CKA_ALLOWED_MECHANISMS": (ARRAY_ATTRIBUTE | 0x0600, AttributeKind.ULONG_ARRAY),
}
_ATTRIBUTE_KIND: dict[int, AttributeKind] = {value: kind for value, kind in ATTRIBUTE_KINDS.values()}


def attribute_kind(type: int) -> AttributeKind:
    return _ATTRIBUTE_KIND.get(type, AttributeKind.BYTES)


# --- what each function sends and answers -------------------------------------------------


class Kind(enum.Enum):
    """How one C parameter (or a pointer and its length) crosses the wire."""

    ENCODING_VERSION = "encoding version"  # C_Initialize: one byte; pInitArgs stays local
    ULONG = "CK_ULONG"
    BBOOL = "CK_BBOOL"
    DATA = "data"  # pointer + CK_ULONG length, read by the function
    LABEL = "label"  # CK_UTF8CHAR[32], blank padded (C_InitToken)
    TEMPLATE = "template"
    QUERY = "attribute query"  # C_GetAttributeValue's in/out template
    MECHANISM = "mechanism"
    OUT_DATA = "output bytes"  # pointer + CK_ULONG_PTR length: the length convention
    OUT_DATA_OPTIONAL = "output bytes, if asked"  # ... whose length pointer may be NULL: none asked
    OUT_LIST = "output list"  # CK_ULONG array + CK_ULONG_PTR count: the length convention
    OUT_FIXED = "output bytes of a given length"  # pointer + CK_ULONG (C_GenerateRandom)
    OUT_HANDLES = "output handles"  # array + CK_ULONG maximum + CK_ULONG_PTR count (C_FindObjects)
    OUT_ULONG = "output CK_ULONG"
    OUT_STRUCT = "output structure"
    MESSAGE = "message parameter"  # CK_VOID_PTR + CK_ULONG laid out per the operation's mechanism
    MESSAGE_OUT = "message parameter, answered"  # ... whose buffers the function writes (encrypt)
    LOCAL = "local"  # never sent: callbacks, reserved pointers
    UNSUPPORTED = "unsupported"  # no layout yet: the call is not forwarded


OUT_BUFFERS = frozenset({Kind.OUT_DATA, Kind.OUT_LIST, Kind.OUT_FIXED, Kind.OUT_HANDLES})
_HAS_INPUT = frozenset(
    {
        Kind.ENCODING_VERSION,
        Kind.ULONG,
        Kind.BBOOL,
        Kind.DATA,
        Kind.LABEL,
        Kind.TEMPLATE,
        Kind.QUERY,
        Kind.MECHANISM,
        Kind.MESSAGE,
        Kind.MESSAGE_OUT,
        Kind.OUT_DATA_OPTIONAL,
        *OUT_BUFFERS,
    }
)
_HAS_OUTPUT = frozenset(
    {Kind.QUERY, Kind.OUT_ULONG, Kind.OUT_STRUCT, Kind.MESSAGE_OUT, Kind.OUT_DATA_OPTIONAL, *OUT_BUFFERS}
)
MESSAGE_KINDS = frozenset({Kind.MESSAGE, Kind.MESSAGE_OUT})


@dataclass(frozen=True)
class Field:
    """One wire field: a kind, the C parameters it stands for, its name (the first's)."""

    kind: Kind
    name: str
    params: tuple[int, ...]
    struct: str = ""  # OUT_STRUCT: the structure's name

    @property
    def element(self) -> int:
        """Bytes per element of an output buffer on the wire."""
        return 8 if self.kind in (Kind.OUT_LIST, Kind.OUT_HANDLES) else 1


@dataclass(frozen=True)
class Plan:
    call: Call
    fields: tuple[Field, ...]

    # Cached: the dispatcher asks on every call (a frozen dataclass keeps no other state).
    @functools.cached_property
    def inputs(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind in _HAS_INPUT)

    @functools.cached_property
    def outputs(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.kind in _HAS_OUTPUT)

    @functools.cached_property
    def supported(self) -> bool:
        return not self.call.local and all(f.kind is not Kind.UNSUPPORTED for f in self.fields)


# The places where the C types alone do not say it.
OVERRIDES: dict[tuple[str, str], Kind] = {
    ("C_Initialize", "pInitArgs"): Kind.ENCODING_VERSION,
    ("C_GenerateRandom", "RandomData"): Kind.OUT_FIXED,
    ("C_GetAttributeValue", "pTemplate"): Kind.QUERY,
    # A NULL pulSignatureLen: not the message's last part, no signature asked (PKCS#11 3.0).
    ("C_SignMessageNext", "pSignature"): Kind.OUT_DATA_OPTIONAL,
}
_SCALARS = frozenset(
    {
        "CK_ULONG",
        "CK_FLAGS",
        "CK_SLOT_ID",
        "CK_SESSION_HANDLE",
        "CK_OBJECT_HANDLE",
        "CK_USER_TYPE",
        "CK_MECHANISM_TYPE",
    }
)
_DATA_POINTERS = frozenset({"CK_BYTE_PTR", "CK_UTF8CHAR_PTR", "CK_CHAR_PTR"})
_LIST_POINTERS = frozenset({"CK_SLOT_ID_PTR", "CK_MECHANISM_TYPE_PTR"})
_ULONG_OUT = frozenset({"CK_ULONG_PTR", "CK_SESSION_HANDLE_PTR", "CK_OBJECT_HANDLE_PTR"})
_LOCAL_NAMES = frozenset({"pReserved", "pApplication"})


def _is(param: Param | None, *ctypes: str) -> bool:
    return param is not None and param.ctype in ctypes


def _classify(call: Call, params: tuple[Param, ...], i: int) -> tuple[Kind, int, str]:
    """The kind of the field starting at parameter i, how many parameters it takes, its struct."""
    param = params[i]
    following = params[i + 1] if i + 1 < len(params) else None
    after = params[i + 2] if i + 2 < len(params) else None
    override = OVERRIDES.get((call.name, param.name))
    if override is Kind.ENCODING_VERSION:
        return override, 1, ""
    if override is not None:
        return override, 2, ""
    if param.ctype == "CK_NOTIFY" or param.name in _LOCAL_NAMES:
        return Kind.LOCAL, 1, ""
    if param.ctype in _SCALARS:
        return Kind.ULONG, 1, ""
    if param.ctype == "CK_BBOOL":
        return Kind.BBOOL, 1, ""
    if param.ctype in _DATA_POINTERS and _is(following, "CK_ULONG"):
        return Kind.DATA, 2, ""
    if param.ctype in _DATA_POINTERS and _is(following, "CK_ULONG_PTR"):
        return Kind.OUT_DATA, 2, ""
    if param.ctype == "CK_UTF8CHAR_PTR":
        return Kind.LABEL, 1, ""
    if param.ctype in _LIST_POINTERS and _is(following, "CK_ULONG_PTR"):
        return Kind.OUT_LIST, 2, ""
    if param.ctype == "CK_OBJECT_HANDLE_PTR" and _is(following, "CK_ULONG") and _is(after, "CK_ULONG_PTR"):
        return Kind.OUT_HANDLES, 3, ""
    if param.ctype in _ULONG_OUT:
        return Kind.OUT_ULONG, 1, ""
    if param.ctype == "CK_ATTRIBUTE_PTR" and _is(following, "CK_ULONG"):
        return Kind.TEMPLATE, 2, ""
    if param.ctype == "CK_MECHANISM_PTR":
        return Kind.MECHANISM, 1, ""
    struct_name = param.ctype.removesuffix("_PTR")
    if param.ctype.endswith("_PTR") and struct_name in OUTPUT_STRUCTS:
        return Kind.OUT_STRUCT, 1, struct_name
    if param.ctype == "CK_VOID_PTR" and _is(following, "CK_ULONG") and "Message" in call.name:
        # The message parameter: an encryption writes its IV (generated) and tag back.
        return (Kind.MESSAGE_OUT if call.name.startswith("C_EncryptMessage") else Kind.MESSAGE), 2, ""
    # The local calls' pointers.
    return Kind.UNSUPPORTED, 1, ""


def plan_of(call: Call) -> Plan:
    """The wire fields of one function, in C parameter order."""
    fields = []
    i = 0
    while i < len(call.params):
        kind, width, struct_name = _classify(call, call.params, i)
        fields.append(Field(kind, call.params[i].name, tuple(range(i, i + width)), struct_name))
        i += width
    return Plan(call, tuple(fields))


PLANS: dict[int, Plan] = {call.id: plan_of(call) for call in CALLS}


def plan(call: Call | str | int) -> Plan:
    """The plan of a function given by Call, name or id (KeyError if there is none)."""
    if isinstance(call, str):
        call = BY_NAME[call]
    elif isinstance(call, int):
        call = BY_ID[call]
    return PLANS[call.id]


def carries_outputs(call: Call | str | int, rv: int) -> bool:
    """Whether an answer with this CK_RV has Output Parameters.

    CKR_OK always; CKR_BUFFER_TOO_SMALL for a function with an output buffer (the
    needed length); CKR_ATTRIBUTE_SENSITIVE/TYPE_INVALID for C_GetAttributeValue
    (the other attributes were still answered). Otherwise the outputs are undefined.
    """
    p = plan(call)
    if not p.outputs:
        return False
    if rv == CKR.OK:
        return True
    kinds = {f.kind for f in p.outputs}
    if rv == CKR.BUFFER_TOO_SMALL:
        return bool(kinds & (OUT_BUFFERS | {Kind.QUERY, Kind.OUT_DATA_OPTIONAL}))
    return Kind.QUERY in kinds and rv in (CKR.ATTRIBUTE_SENSITIVE, CKR.ATTRIBUTE_TYPE_INVALID)


# --- bytes --------------------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def u8(self, value: int) -> None:
        if not 0 <= value <= 0xFF:
            raise WireError(f"{value} does not fit in a byte")
        self.out.append(value)

    def flag(self, value: bool) -> None:
        self.out.append(1 if value else 0)

    def u32(self, value: int) -> None:
        if not 0 <= value <= MAX_LENGTH:
            raise WireError(f"length {value} does not fit in 4 bytes")
        self.out += value.to_bytes(4, "big")

    def u64(self, value: int) -> None:
        if not 0 <= value < 2**64:
            raise WireError(f"{value} is not a CK_ULONG")
        self.out += value.to_bytes(8, "big")

    def raw(self, data: bytes) -> None:
        self.out += data

    def data(self, data: bytes) -> None:
        self.u32(len(data))
        self.out += data


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.at = 0

    def take(self, n: int) -> bytes:
        if n > len(self.data) - self.at:
            raise WireError(
                f"truncated: {n} bytes wanted at offset {self.at}, {len(self.data) - self.at} left"
            )
        chunk = bytes(self.data[self.at : self.at + n])
        self.at += n
        return chunk

    @property
    def left(self) -> int:
        return len(self.data) - self.at

    def u8(self) -> int:
        return self.take(1)[0]

    def flag(self) -> bool:
        value = self.u8()
        if value > 1:
            raise WireError(f"flag byte {value} at offset {self.at - 1} is neither 0 nor 1")
        return value == 1

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "big")

    def count(self, smallest: int) -> int:
        """A count of entries of at least `smallest` bytes each, checked against what is left."""
        n = self.u32()
        if n * smallest > self.left:
            raise WireError(f"count {n} at offset {self.at - 4} exceeds the {self.left} bytes left")
        return n

    def end(self) -> None:
        if self.left:
            raise WireError(f"{self.left} bytes after the last field")


# --- structures ---------------------------------------------------------------------------


def variant_layout(member: StructField, value: StructValue) -> str:
    """A VARIANT member's layout (RAW or a structure) for its selector's value in `value`."""
    selector = value.get(member.selector)
    layout = VARIANTS[member.struct].get(selector) if isinstance(selector, int) else None
    if layout is None:
        raise WireError(f"{member.selector} {selector!r} has no {member.name} layout")
    return layout


def _encode_struct(w: _Writer, name: str, value: StructValue) -> None:
    for member in STRUCTS[name]:
        item = value.get(member.name)
        if member.kind is FieldKind.ARRAY:
            _encode_array(w, member, item, f"{name}.{member.name}")
        elif member.kind is FieldKind.VARIANT:
            _encode_variant(w, member, value, f"{name}.{member.name}")
        elif member.kind is FieldKind.ULONG:
            w.u64(_int(item, member.name))
        elif member.kind is FieldKind.BYTE:
            w.u8(_int(item, member.name))
        elif member.kind is FieldKind.VERSION:
            if not (isinstance(item, tuple) and len(item) == 2):
                raise WireError(f"{name}.{member.name} is not a (major, minor) pair")
            w.u8(_int(item[0], member.name))
            w.u8(_int(item[1], member.name))
        elif member.kind is FieldKind.CHARS:
            if not isinstance(item, bytes) or len(item) != member.size:
                raise WireError(f"{name}.{member.name} must be {member.size} bytes")
            w.raw(item)
        else:
            _encode_optional_data(w, item, f"{name}.{member.name}")


def _encode_array(w: _Writer, member: StructField, item: object, what: str) -> None:
    """Presence flag, then the count and each structure: an array of structures."""
    if item is None:
        w.flag(False)
        return
    if not isinstance(item, tuple) or not all(isinstance(entry, dict) for entry in item):
        raise WireError(f"{what} must be a tuple of {member.struct} or None")
    w.flag(True)
    w.u32(len(item))
    for entry in item:
        _encode_struct(w, member.struct, entry)


def _encode_variant(w: _Writer, member: StructField, value: StructValue, what: str) -> None:
    """Presence flag, then the length and the value laid out as its selector says."""
    item = value.get(member.name)
    if item is None:
        w.flag(False)
        return
    layout = variant_layout(member, value)
    inner = _Writer()
    if layout == RAW and isinstance(item, bytes):
        inner.raw(item)
    elif layout != RAW and isinstance(item, dict):
        _encode_struct(inner, layout, item)
    else:
        raise WireError(f"{what} must be {layout} here")
    w.flag(True)
    w.data(bytes(inner.out))


def _decode_variant(r: _Reader, member: StructField, value: StructValue) -> FieldValue:
    if not r.flag():
        return None
    layout = variant_layout(member, value)
    inner = _Reader(r.take(r.u32()))
    if layout == RAW:
        return inner.take(inner.left)
    item = _decode_struct(inner, layout)
    inner.end()
    return item


def _decode_struct(r: _Reader, name: str) -> StructValue:
    value: StructValue = {}
    for member in STRUCTS[name]:
        if member.kind is FieldKind.ARRAY:
            present = r.flag()
            value[member.name] = (
                tuple(_decode_struct(r, member.struct) for _ in range(r.count(1))) if present else None
            )
        elif member.kind is FieldKind.VARIANT:
            value[member.name] = _decode_variant(r, member, value)
        elif member.kind is FieldKind.ULONG:
            value[member.name] = r.u64()
        elif member.kind is FieldKind.BYTE:
            value[member.name] = r.u8()
        elif member.kind is FieldKind.VERSION:
            value[member.name] = (r.u8(), r.u8())
        elif member.kind is FieldKind.CHARS:
            value[member.name] = r.take(member.size)
        else:
            value[member.name] = r.take(r.u32()) if r.flag() else None
    return value


def struct_size(name: str) -> int | None:
    """The fixed wire size of a structure (None if it has variable members)."""
    if any(m.kind in (FieldKind.DATA, FieldKind.ARRAY, FieldKind.VARIANT) for m in STRUCTS[name]):
        return None
    return sum(m.size for m in STRUCTS[name])


def ulong(value: Value) -> int:
    """A CK_ULONG among decoded values (a handle, a slot ID): its int, which decoding made sure of."""
    assert isinstance(value, int)
    return value


def _int(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise WireError(f"{what} must be an integer, not {type(value).__name__}")
    return value


def _encode_optional_data(w: _Writer, value: object, what: str) -> None:
    """Presence flag, then length and bytes: every input pointer with a length."""
    if value is None:
        w.flag(False)
    elif isinstance(value, bytes):
        w.flag(True)
        w.data(value)
    else:
        raise WireError(f"{what} must be bytes or None")


# --- attribute values ---------------------------------------------------------------------


def _native_to_wire(kind: AttributeKind, value: bytes) -> bytes:
    """CK_ULONG values (and arrays of them) from host layout to 8 bytes big-endian each."""
    if kind in (AttributeKind.ULONG, AttributeKind.ULONG_ARRAY) and value and len(value) % NATIVE_ULONG == 0:
        if kind is AttributeKind.ULONG and len(value) != NATIVE_ULONG:
            return value
        words = [value[i : i + NATIVE_ULONG] for i in range(0, len(value), NATIVE_ULONG)]
        return b"".join(int.from_bytes(word, sys.byteorder).to_bytes(8, "big") for word in words)
    return value


def _wire_to_native(kind: AttributeKind, value: bytes) -> bytes:
    if kind in (AttributeKind.ULONG, AttributeKind.ULONG_ARRAY) and value and len(value) % 8 == 0:
        if kind is AttributeKind.ULONG and len(value) != 8:
            return value
        words = [int.from_bytes(value[i : i + 8], "big") for i in range(0, len(value), 8)]
        if any(word > UNAVAILABLE for word in words):
            raise WireError("a CK_ULONG attribute value does not fit in this host's CK_ULONG")
        return b"".join(word.to_bytes(NATIVE_ULONG, sys.byteorder) for word in words)
    return value


def _length_to_wire(kind: AttributeKind, length: int) -> int:
    """A native ulValueLen as the wire counts it (CK_ULONGs are 8 bytes on the wire)."""
    if kind in (AttributeKind.ULONG, AttributeKind.ULONG_ARRAY) and length % NATIVE_ULONG == 0:
        return length // NATIVE_ULONG * 8
    return length


def _length_to_native(kind: AttributeKind, length: int) -> int:
    if kind in (AttributeKind.ULONG, AttributeKind.ULONG_ARRAY) and length % 8 == 0:
        return length // 8 * NATIVE_ULONG
    return length


def _encode_template(w: _Writer, template: object) -> None:
    if not isinstance(template, tuple):
        raise WireError("a template must be a tuple of Attribute")
    w.u32(len(template))
    for attribute in template:
        if not isinstance(attribute, Attribute):
            raise WireError("a template must be a tuple of Attribute")
        kind = attribute_kind(attribute.type)
        w.u64(attribute.type)
        value = attribute.value
        if isinstance(value, tuple):
            if kind is not AttributeKind.TEMPLATE:
                raise WireError(f"attribute 0x{attribute.type:X} does not take a nested template")
            w.flag(True)
            w.flag(True)
            _encode_template(w, value)  # its count is the length
            continue
        if value is not None and kind is AttributeKind.TEMPLATE:
            raise WireError(f"attribute 0x{attribute.type:X} takes a nested template, not bytes")
        w.flag(value is not None)
        w.flag(True)
        if value is None:
            w.u32(min(attribute.length or 0, MAX_LENGTH))
        else:
            w.data(_native_to_wire(kind, value))


def _decode_template(r: _Reader, depth: int = 0) -> tuple[Attribute, ...]:
    if depth > 2:
        raise WireError("templates nested more than twice")
    entries = []
    for _ in range(r.count(10)):
        type_ = r.u64()
        kind = attribute_kind(type_)
        has_value, has_length = r.flag(), r.flag()
        if not has_length:
            raise WireError(f"attribute 0x{type_:X} of a template has no length")
        if has_value and kind is AttributeKind.TEMPLATE:
            nested = _decode_template(r, depth + 1)
            entries.append(Attribute(type_, nested, len(nested)))
            continue
        length = r.u32()
        if has_value:
            value = _wire_to_native(kind, r.take(length))
            entries.append(Attribute(type_, value, len(value)))
        else:
            entries.append(Attribute(type_, None, length))
    return tuple(entries)


def _encode_query(w: _Writer, query: object) -> None:
    if not isinstance(query, tuple):
        raise WireError("an attribute query must be a tuple of AttributeQuery")
    w.u32(len(query))
    for entry in query:
        if not isinstance(entry, AttributeQuery):
            raise WireError("an attribute query must be a tuple of AttributeQuery")
        w.u64(entry.type)
        w.flag(entry.has_buffer)
        w.flag(True)
        w.u32(min(_length_to_wire(attribute_kind(entry.type), entry.capacity), MAX_LENGTH))


def _decode_query(r: _Reader) -> tuple[AttributeQuery, ...]:
    entries = []
    for _ in range(r.count(14)):
        type_ = r.u64()
        has_buffer, has_length = r.flag(), r.flag()
        if not has_length:
            raise WireError(f"attribute 0x{type_:X} of a query has no capacity")
        capacity = _length_to_native(attribute_kind(type_), r.u32())
        entries.append(AttributeQuery(type_, has_buffer, capacity))
    return tuple(entries)


def _encode_results(w: _Writer, results: object) -> None:
    if not isinstance(results, tuple):
        raise WireError("attribute results must be a tuple of Attribute")
    w.u32(len(results))
    for attribute in results:
        if not isinstance(attribute, Attribute) or isinstance(attribute.value, tuple):
            raise WireError("attribute results must be Attribute entries with bytes values")
        kind = attribute_kind(attribute.type)
        w.u64(attribute.type)
        w.flag(attribute.value is not None)
        w.flag(attribute.length is not None)
        if attribute.value is not None:
            w.data(_native_to_wire(kind, attribute.value))
        elif attribute.length is not None:
            w.u32(min(_length_to_wire(kind, attribute.length), MAX_LENGTH))


def _decode_results(r: _Reader) -> tuple[Attribute, ...]:
    entries = []
    for _ in range(r.count(10)):
        type_ = r.u64()
        kind = attribute_kind(type_)
        has_value, has_length = r.flag(), r.flag()
        if has_value and not has_length:
            raise WireError(f"attribute 0x{type_:X} has a value but no length")
        if has_value:
            value = _wire_to_native(kind, r.take(r.u32()))
            entries.append(Attribute(type_, value, len(value)))
        elif has_length:
            entries.append(Attribute(type_, None, _length_to_native(kind, r.u32())))
        else:
            entries.append(Attribute(type_, None, None))
    return tuple(entries)


# --- mechanisms ---------------------------------------------------------------------------


def _encode_mechanism(w: _Writer, mechanism: object) -> None:
    if not isinstance(mechanism, Mechanism):
        raise WireError("a mechanism must be a Mechanism")
    w.u64(mechanism.type)
    parameter = mechanism.parameter
    w.flag(parameter is not None)
    if parameter is None:
        return
    layout = parameter_layout(mechanism.type)
    inner = _Writer()
    if isinstance(parameter, bytes) and layout in (None, RAW):
        inner.raw(parameter)
    elif isinstance(parameter, int) and layout == ULONG:
        inner.u64(parameter)
    elif isinstance(parameter, dict) and layout in STRUCTS:
        _encode_struct(inner, layout, parameter)
    else:
        raise WireError(f"mechanism 0x{mechanism.type:X} takes a {layout} parameter")
    w.data(bytes(inner.out))


def _decode_mechanism(r: _Reader) -> Mechanism:
    type_ = r.u64()
    if not r.flag():
        return Mechanism(type_)
    inner = _Reader(r.take(r.u32()))
    layout = parameter_layout(type_)
    parameter: bytes | int | StructValue
    if layout is None or layout == RAW:
        parameter = inner.take(inner.left)
    elif layout == ULONG:
        parameter = inner.u64()
    else:
        parameter = _decode_struct(inner, layout)
    inner.end()
    return Mechanism(type_, parameter)


# --- message parameters -------------------------------------------------------------------


def _encode_message(w: _Writer, parameter: object) -> None:
    """`present (1) · [mechanism (8) · length (4) · parameter]`, the parameter laid out
    as its mechanism's MESSAGE_PARAMETERS structure, or raw."""
    if parameter is None:
        w.flag(False)
        return
    if not isinstance(parameter, MessageParameter):
        raise WireError("a message parameter must be a MessageParameter or None")
    layout = message_layout(parameter.mechanism)
    inner = _Writer()
    if isinstance(parameter.value, dict) and layout is not None:
        _check_tags(layout, parameter.value)
        _encode_struct(inner, layout, parameter.value)
    elif isinstance(parameter.value, bytes) and layout is None:
        inner.raw(parameter.value)
    else:
        raise WireError(f"mechanism 0x{parameter.mechanism:X} takes a {layout or 'raw'} message parameter")
    _write_message(w, parameter.mechanism, inner)


def _write_message(w: _Writer, mechanism: int, inner: _Writer) -> None:
    w.flag(True)
    w.u64(mechanism)
    w.data(bytes(inner.out))


def _read_message(r: _Reader) -> tuple[int, _Reader, str | None] | None:
    """A message parameter's mechanism, its bytes and their layout (None: a NULL one)."""
    if not r.flag():
        return None
    mechanism = r.u64()
    return mechanism, _Reader(r.take(r.u32())), message_layout(mechanism)


def _decode_message(r: _Reader) -> MessageParameter | None:
    read = _read_message(r)
    if read is None:
        return None
    mechanism, inner, layout = read
    if layout is None:
        return MessageParameter(mechanism, inner.take(inner.left))
    value = _decode_struct(inner, layout)
    inner.end()
    _check_tags(layout, value)
    return MessageParameter(mechanism, value)


def _check_tags(layout: str, value: StructValue) -> None:
    """A tag buffer is exactly as long as its structure says (ulTagBits, ulMACLen, 16)."""
    for member in STRUCTS[layout]:
        item = value.get(member.name)
        if (
            member.kind is FieldKind.TAG
            and item is not None
            and (not isinstance(item, bytes) or len(item) != tag_length(member, value))
        ):
            raise WireError(f"{layout}.{member.name} is not as long as its length member says")


def _encode_message_answer(w: _Writer, answer: object) -> None:
    """`present (1) · [mechanism (8) · length (4) · its pointer members]`: the buffers the
    module wrote (a generated IV, the tag), each as `present (1) · [length (4) · bytes]`."""
    if answer is None:
        w.flag(False)
        return
    if not isinstance(answer, MessageParameter) or not isinstance(answer.value, dict):
        raise WireError("a message parameter's answer must be a MessageParameter of a structure")
    layout = message_layout(answer.mechanism)
    if layout is None:
        raise WireError(f"mechanism 0x{answer.mechanism:X} has no message parameter structure")
    inner = _Writer()
    for member in pointer_members(layout):
        _encode_optional_data(inner, answer.value.get(member.name), f"{layout}.{member.name}")
    _write_message(w, answer.mechanism, inner)


def _decode_message_answer(r: _Reader) -> MessageParameter | None:
    read = _read_message(r)
    if read is None:
        return None
    mechanism, inner, layout = read
    if layout is None:
        raise WireError(f"mechanism 0x{mechanism:X} has no message parameter structure")
    value: StructValue = {
        m.name: inner.take(inner.u32()) if inner.flag() else None for m in pointer_members(layout)
    }
    inner.end()
    return MessageParameter(mechanism, value)


# --- output buffers -----------------------------------------------------------------------


def _encode_request(w: _Writer, request: object) -> None:
    if not isinstance(request, OutRequest):
        raise WireError("an output buffer's input must be an OutRequest")
    w.flag(request.present)
    w.u32(min(request.capacity, MAX_LENGTH))


def _decode_request(r: _Reader) -> OutRequest:
    return OutRequest(r.flag(), r.u32())


def _encode_out_data(field: Field) -> Callable[[_Writer, object], None]:
    def encode(w: _Writer, answer: object) -> None:
        if not isinstance(answer, OutData):
            raise WireError(f"{field.name} must be OutData")
        w.flag(answer.data is not None)
        w.u32(answer.length)
        if answer.data is None:
            return
        if field.element == 1 and isinstance(answer.data, bytes) and len(answer.data) == answer.length:
            w.raw(answer.data)
        elif field.element == 8 and isinstance(answer.data, tuple) and len(answer.data) == answer.length:
            for item in answer.data:
                w.u64(item)
        else:
            raise WireError(f"{field.name}: {answer.length} elements announced, other data given")

    return encode


def _decode_out_data(field: Field) -> Callable[[_Reader], OutData]:
    def decode(r: _Reader) -> OutData:
        present = r.flag()
        length = r.u32()
        if not present:
            return OutData(length)
        if length * field.element > r.left:
            raise WireError(f"{field.name}: {length} elements announced, {r.left} bytes left")
        if field.element == 1:
            return OutData(length, r.take(length))
        return OutData(length, tuple(r.u64() for _ in range(length)))

    return decode


def _encode_optional_request(w: _Writer, request: object) -> None:
    """`length given (1) · [out-request]`: an output whose length pointer may be NULL."""
    w.flag(request is not None)
    if request is not None:
        _encode_request(w, request)


def _decode_optional_request(r: _Reader) -> OutRequest | None:
    return _decode_request(r) if r.flag() else None


def _encode_optional_out(field: Field) -> Callable[[_Writer, object], None]:
    encode = _encode_out_data(field)

    def encode_optional(w: _Writer, answer: object) -> None:
        w.flag(answer is not None)
        if answer is not None:
            encode(w, answer)

    return encode_optional


def _decode_optional_out(field: Field) -> Callable[[_Reader], OutData | None]:
    decode = _decode_out_data(field)
    return lambda r: decode(r) if r.flag() else None


# --- the four directions ------------------------------------------------------------------


def _encode_version(w: _Writer, value: object) -> None:
    w.u8(ENCODING_VERSION)


def _decode_version(r: _Reader) -> int:
    version = r.u8()
    if version != ENCODING_VERSION:
        raise WireError(f"encoding version {version} is not supported (only {ENCODING_VERSION})")
    return version


def _encode_label(w: _Writer, value: object) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise WireError("a label is 32 bytes")
    w.raw(value)


def _encode_out_struct(field: Field) -> Callable[[_Writer, object], None]:
    def encode(w: _Writer, value: object) -> None:
        if not isinstance(value, dict):
            raise WireError(f"{field.name} must be a {field.struct} dict")
        _encode_struct(w, field.struct, value)

    return encode


_Encoder = Callable[[_Writer, object], None]
_Decoder = Callable[[_Reader], Value]

_INPUT_ENCODERS: dict[Kind, _Encoder] = {
    Kind.ENCODING_VERSION: _encode_version,
    Kind.ULONG: lambda w, v: w.u64(_int(v, "a CK_ULONG")),
    Kind.BBOOL: lambda w, v: w.u8(_int(v, "a CK_BBOOL")),
    Kind.DATA: lambda w, v: _encode_optional_data(w, v, "an input buffer"),
    Kind.LABEL: _encode_label,
    Kind.TEMPLATE: _encode_template,
    Kind.QUERY: _encode_query,
    Kind.MECHANISM: _encode_mechanism,
    **dict.fromkeys(MESSAGE_KINDS, _encode_message),
    Kind.OUT_DATA_OPTIONAL: _encode_optional_request,
    **dict.fromkeys(OUT_BUFFERS, _encode_request),
}
_INPUT_DECODERS: dict[Kind, _Decoder] = {
    Kind.ENCODING_VERSION: _decode_version,
    Kind.ULONG: _Reader.u64,
    Kind.BBOOL: _Reader.u8,
    Kind.DATA: lambda r: r.take(r.u32()) if r.flag() else None,
    Kind.LABEL: lambda r: r.take(32),
    Kind.TEMPLATE: _decode_template,
    Kind.QUERY: _decode_query,
    Kind.MECHANISM: _decode_mechanism,
    **dict.fromkeys(MESSAGE_KINDS, _decode_message),
    Kind.OUT_DATA_OPTIONAL: _decode_optional_request,
    **dict.fromkeys(OUT_BUFFERS, _decode_request),
}


def _output_encoder(field: Field) -> _Encoder:
    if field.kind in OUT_BUFFERS:
        return _encode_out_data(field)
    if field.kind is Kind.OUT_STRUCT:
        return _encode_out_struct(field)
    if field.kind is Kind.QUERY:
        return _encode_results
    if field.kind is Kind.MESSAGE_OUT:
        return _encode_message_answer
    if field.kind is Kind.OUT_DATA_OPTIONAL:
        return _encode_optional_out(field)
    return lambda w, v: w.u64(_int(v, field.name))


def _output_decoder(field: Field) -> _Decoder:
    if field.kind in OUT_BUFFERS:
        return _decode_out_data(field)
    if field.kind is Kind.OUT_STRUCT:
        return lambda r: _decode_struct(r, field.struct)
    if field.kind is Kind.QUERY:
        return _decode_results
    if field.kind is Kind.MESSAGE_OUT:
        return _decode_message_answer
    if field.kind is Kind.OUT_DATA_OPTIONAL:
        return _decode_optional_out(field)
    return _Reader.u64


def _forwardable(call: Call | str | int) -> Plan:
    p = plan(call)
    if not p.supported:
        raise WireError(f"{p.call.name} has no wire layout")
    return p


def encode_inputs(call: Call | str | int, values: Values) -> bytes:
    """PKCS#11 Input Parameters: every input field, in C parameter order."""
    p = _forwardable(call)
    w = _Writer()
    for field, encode in _input_steps(p.call.id):
        if field.kind is not Kind.ENCODING_VERSION and field.name not in values:
            raise WireError(f"{p.call.name}: no value for {field.name}")
        encode(w, values.get(field.name))
    return bytes(w.out)


@functools.cache
def _input_steps(call_id: int) -> tuple[tuple[Field, _Encoder], ...]:
    """A function's input fields with their encoders, looked up once (not per call)."""
    return tuple((field, _INPUT_ENCODERS[field.kind]) for field in PLANS[call_id].inputs)


@functools.cache
def _output_steps(call_id: int) -> tuple[tuple[str, _Decoder], ...]:
    return tuple((field.name, _output_decoder(field)) for field in PLANS[call_id].outputs)


def decode_inputs(call: Call | str | int, data: bytes) -> dict[str, Value]:
    p = _forwardable(call)
    r = _Reader(data)
    values = {field.name: _INPUT_DECODERS[field.kind](r) for field in p.inputs}
    r.end()
    return values


def encode_outputs(call: Call | str | int, values: Values) -> bytes:
    """PKCS#11 Output Parameters: every output field, in C parameter order."""
    p = _forwardable(call)
    w = _Writer()
    for field in p.outputs:
        if field.name not in values:
            raise WireError(f"{p.call.name}: no value for output {field.name}")
        _output_encoder(field)(w, values[field.name])
    return bytes(w.out)


def decode_outputs(call: Call | str | int, data: bytes) -> dict[str, Value]:
    p = _forwardable(call)
    r = _Reader(data)
    values = {name: decode(r) for name, decode in _output_steps(p.call.id)}
    r.end()
    return values


def encode_struct(name: str, value: StructValue) -> bytes:
    w = _Writer()
    _encode_struct(w, name, value)
    return bytes(w.out)


def decode_struct(name: str, data: bytes) -> StructValue:
    r = _Reader(data)
    value = _decode_struct(r, name)
    r.end()
    return value


# --- the layout as text (docs/wire-format.md is generated from this) ----------------------

_INPUT_TEXT: dict[Kind, str] = {
    Kind.ENCODING_VERSION: "version byte `01`",
    Kind.ULONG: "8",
    Kind.BBOOL: "1",
    Kind.DATA: "data",
    Kind.LABEL: "32",
    Kind.TEMPLATE: "template",
    Kind.QUERY: "query template",
    Kind.MECHANISM: "mechanism",
    **dict.fromkeys(MESSAGE_KINDS, "message parameter"),
    Kind.OUT_DATA_OPTIONAL: "optional out-request",
    **dict.fromkeys(OUT_BUFFERS, "out-request"),
}


def describe(call: Call | str | int) -> tuple[str, str]:
    """The input and output layout of a forwarded function, as the doc's table writes them."""
    p = plan(call)

    def part(field: Field, text: str) -> str:
        return f"{field.name} ({text})"

    inputs = [part(f, _INPUT_TEXT[f.kind]) for f in p.inputs]
    outputs = []
    for f in p.outputs:
        if f.kind in OUT_BUFFERS:
            outputs.append(part(f, "out-bytes" if f.element == 1 else "out-list"))
        elif f.kind is Kind.OUT_STRUCT:
            outputs.append(part(f, f"{f.struct}, {struct_size(f.struct)}"))
        elif f.kind is Kind.QUERY:
            outputs.append(part(f, "result template"))
        elif f.kind is Kind.MESSAGE_OUT:
            outputs.append(part(f, "message buffers"))
        elif f.kind is Kind.OUT_DATA_OPTIONAL:
            outputs.append(part(f, "optional out-bytes"))
        else:
            outputs.append(part(f, "8"))
    return " · ".join(inputs) or "(none)", " · ".join(outputs) or "(none)"
