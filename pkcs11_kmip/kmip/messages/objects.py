"""Managed objects and key blocks (KMIP 1.4 §2.1.3-2.2, 2.1 §2-§3)."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.attributes import Attribute, Attributes
from pkcs11_kmip.kmip.messages.core import Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.messages.structures import V1_4, V2_0, KeyWrappingData
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateRequestType,
    CertificateType,
    CryptographicAlgorithm,
    KeyCompressionType,
    KeyFormatType,
    ObjectType,
    RecommendedCurve,
    SecretDataType,
    SplitKeyMethod,
)


@structure
class TransparentKeyMaterial(Structure):
    """Key Material of every Transparent key format, merged.

    Each Transparent* structure of the spec (Symmetric, DSA, RSA, DH, EC; public and
    private) is a subset of these fields in this order, so one structure decodes them
    all; the Key Block's Key Format Type says which one it is.
    """

    TAG = Tag.KEY_MATERIAL
    key: bytes | None = kmip(Tag.KEY)
    modulus: int | None = kmip(Tag.MODULUS)
    private_exponent: int | None = kmip(Tag.PRIVATE_EXPONENT)
    public_exponent: int | None = kmip(Tag.PUBLIC_EXPONENT)
    p: int | None = kmip(Tag.P)
    q: int | None = kmip(Tag.Q)
    g: int | None = kmip(Tag.G)
    j: int | None = kmip(Tag.J)
    x: int | None = kmip(Tag.X)
    y: int | None = kmip(Tag.Y)
    prime_exponent_p: int | None = kmip(Tag.PRIME_EXPONENT_P)
    prime_exponent_q: int | None = kmip(Tag.PRIME_EXPONENT_Q)
    crt_coefficient: int | None = kmip(Tag.CRT_COEFFICIENT)
    recommended_curve: RecommendedCurve | None = kmip(Tag.RECOMMENDED_CURVE)
    d: int | None = kmip(Tag.D)
    q_string: bytes | None = kmip(Tag.Q_STRING)


@structure
class KeyValue(Structure):
    """A plaintext Key Value (a wrapped one is a Byte String in the Key Block instead)."""

    TAG = Tag.KEY_VALUE
    key_material: bytes | TransparentKeyMaterial | None = kmip(Tag.KEY_MATERIAL, required=True)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, until=V1_4)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES, since=V2_0)


@structure
class KeyBlock(Structure):
    TAG = Tag.KEY_BLOCK
    key_format_type: KeyFormatType | None = kmip(Tag.KEY_FORMAT_TYPE, required=True)
    key_compression_type: KeyCompressionType | None = kmip(Tag.KEY_COMPRESSION_TYPE)
    key_value: KeyValue | bytes | None = kmip(Tag.KEY_VALUE)
    cryptographic_algorithm: CryptographicAlgorithm | None = kmip(Tag.CRYPTOGRAPHIC_ALGORITHM)
    cryptographic_length: int | None = kmip(Tag.CRYPTOGRAPHIC_LENGTH)
    key_wrapping_data: KeyWrappingData | None = kmip(Tag.KEY_WRAPPING_DATA)


@structure
class Certificate(Structure):
    TAG = Tag.CERTIFICATE
    certificate_type: CertificateType | None = kmip(Tag.CERTIFICATE_TYPE, required=True)
    certificate_value: bytes | None = kmip(Tag.CERTIFICATE_VALUE, required=True)


@structure
class CertificateRequest(Structure):
    TAG = Tag.CERTIFICATE_REQUEST
    certificate_request_type: CertificateRequestType | None = kmip(
        Tag.CERTIFICATE_REQUEST_TYPE, required=True
    )
    certificate_request_value: bytes | None = kmip(Tag.CERTIFICATE_REQUEST_VALUE, required=True)


@structure
class SymmetricKey(Structure):
    TAG = Tag.SYMMETRIC_KEY
    key_block: KeyBlock | None = kmip(Tag.KEY_BLOCK, required=True)


@structure
class PublicKey(SymmetricKey):
    TAG = Tag.PUBLIC_KEY


@structure
class PrivateKey(SymmetricKey):
    TAG = Tag.PRIVATE_KEY


@structure
class SplitKey(Structure):
    TAG = Tag.SPLIT_KEY
    split_key_parts: int | None = kmip(Tag.SPLIT_KEY_PARTS, required=True)
    key_part_identifier: int | None = kmip(Tag.KEY_PART_IDENTIFIER, required=True)
    split_key_threshold: int | None = kmip(Tag.SPLIT_KEY_THRESHOLD, required=True)
    split_key_method: SplitKeyMethod | None = kmip(Tag.SPLIT_KEY_METHOD, required=True)
    prime_field_size: int | None = kmip(Tag.PRIME_FIELD_SIZE)
    key_block: KeyBlock | None = kmip(Tag.KEY_BLOCK, required=True)


@structure
class Template(Structure):
    """KMIP 1.x Template object (deprecated in 1.3, gone in 2.0)."""

    TAG = Tag.TEMPLATE
    attributes: list[Attribute] = kmip_list(Tag.ATTRIBUTE, required=True)


@structure
class SecretData(Structure):
    TAG = Tag.SECRET_DATA
    secret_data_type: SecretDataType | None = kmip(Tag.SECRET_DATA_TYPE, required=True)
    key_block: KeyBlock | None = kmip(Tag.KEY_BLOCK, required=True)


@structure
class OpaqueObject(Structure):
    TAG = Tag.OPAQUE_OBJECT
    opaque_data_type: int | None = kmip(Tag.OPAQUE_DATA_TYPE, required=True)
    opaque_data_value: bytes | None = kmip(Tag.OPAQUE_DATA_VALUE, required=True)


@structure
class PGPKey(Structure):
    TAG = Tag.PGP_KEY
    pgp_key_version: int | None = kmip(Tag.PGP_KEY_VERSION, required=True)
    key_block: KeyBlock | None = kmip(Tag.KEY_BLOCK, required=True)


ManagedObject = (
    Certificate
    | CertificateRequest
    | SymmetricKey
    | PublicKey
    | PrivateKey
    | SplitKey
    | Template
    | SecretData
    | OpaqueObject
    | PGPKey
)


# The structure that carries each Object Type's value (Register, Get, storage).
OBJECT_CLASSES: dict[ObjectType, type[Structure]] = {
    ObjectType.CERTIFICATE: Certificate,
    ObjectType.CERTIFICATE_REQUEST: CertificateRequest,
    ObjectType.SYMMETRIC_KEY: SymmetricKey,
    ObjectType.PUBLIC_KEY: PublicKey,
    ObjectType.PRIVATE_KEY: PrivateKey,
    ObjectType.SPLIT_KEY: SplitKey,
    ObjectType.TEMPLATE: Template,
    ObjectType.SECRET_DATA: SecretData,
    ObjectType.OPAQUE_OBJECT: OpaqueObject,
    ObjectType.PGP_KEY: PGPKey,
}
