"""KMIP structures shared by attributes, objects, payloads and message headers.

Field order is the order of the spec's tables (KMIP 1.4 §2-§3, 2.1 §2-§9); a field
that only some versions define says so with since/until unless its tag already
does. Where the spec lets one tag hold several shapes chosen by a sibling (the
Credential Value of each Credential Type), the shapes are merged into one
structure whose field order fits them all, so decoding needs no context.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages.core import Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AlternativeNameType,
    AttestationType,
    BlockCipherMode,
    CredentialType,
    CryptographicAlgorithm,
    DestroyAction,
    DigitalSignatureAlgorithm,
    DRBGAlgorithm,
    EncodingOption,
    FIPS186Variation,
    HashingAlgorithm,
    KeyFormatType,
    KeyRoleType,
    KeyValueLocationType,
    LinkType,
    MaskGenerator,
    NameType,
    ObjectType,
    Operation,
    PaddingMethod,
    ProcessingStage,
    ProfileName,
    ProtectionStorageMask,
    RecommendedCurve,
    RevocationReasonCode,
    RNGAlgorithm,
    RNGMode,
    RotateNameType,
    ShreddingAlgorithm,
    TicketType,
    UniqueIdentifier,
    UnwrapMode,
    UsageLimitsUnit,
    ValidationAuthorityType,
    ValidationType,
    WrappingMethod,
)
from pkcs11_kmip.kmip.spec.enums import ItemType as KmipItemType
from pkcs11_kmip.kmip.ttlv import Item, ItemType

V2_0 = (2, 0)
V2_1 = (2, 1)
V1_4 = (1, 4)

# A Unique Identifier: a text id, a Unique Identifier Enumeration value (ID
# Placeholder, ...), or an Integer index into a batch (KMIP 2.x).
UniqueId = str | UniqueIdentifier | int


@structure
class ProtocolVersion(Structure):
    TAG = Tag.PROTOCOL_VERSION
    protocol_version_major: int | None = kmip(Tag.PROTOCOL_VERSION_MAJOR, required=True)
    protocol_version_minor: int | None = kmip(Tag.PROTOCOL_VERSION_MINOR, required=True)

    def as_tuple(self) -> tuple[int, int]:
        return (self.protocol_version_major or 0, self.protocol_version_minor or 0)

    @classmethod
    def of(cls, version: tuple[int, int]) -> ProtocolVersion:
        return cls(protocol_version_major=version[0], protocol_version_minor=version[1])


# --- attribute values that are structures (KMIP 2.1 §4) ----------------------------------


@structure
class Name(Structure):
    TAG = Tag.NAME
    name_value: str | None = kmip(Tag.NAME_VALUE, required=True)
    name_type: NameType | None = kmip(Tag.NAME_TYPE, required=True)


@structure
class AlternativeName(Structure):
    TAG = Tag.ALTERNATIVE_NAME
    alternative_name_value: str | None = kmip(Tag.ALTERNATIVE_NAME_VALUE, required=True)
    alternative_name_type: AlternativeNameType | None = kmip(Tag.ALTERNATIVE_NAME_TYPE, required=True)


@structure
class ApplicationSpecificInformation(Structure):
    TAG = Tag.APPLICATION_SPECIFIC_INFORMATION
    application_namespace: str | None = kmip(Tag.APPLICATION_NAMESPACE, required=True)
    application_data: str | None = kmip(Tag.APPLICATION_DATA)


@structure
class CryptographicDomainParameters(Structure):
    TAG = Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS
    qlength: int | None = kmip(Tag.QLENGTH)
    recommended_curve: RecommendedCurve | None = kmip(Tag.RECOMMENDED_CURVE)


@structure
class CryptographicParameters(Structure):
    TAG = Tag.CRYPTOGRAPHIC_PARAMETERS
    block_cipher_mode: BlockCipherMode | None = kmip(Tag.BLOCK_CIPHER_MODE)
    padding_method: PaddingMethod | None = kmip(Tag.PADDING_METHOD)
    hashing_algorithm: HashingAlgorithm | None = kmip(Tag.HASHING_ALGORITHM)
    key_role_type: KeyRoleType | None = kmip(Tag.KEY_ROLE_TYPE)
    digital_signature_algorithm: DigitalSignatureAlgorithm | None = kmip(Tag.DIGITAL_SIGNATURE_ALGORITHM)
    cryptographic_algorithm: CryptographicAlgorithm | None = kmip(Tag.CRYPTOGRAPHIC_ALGORITHM)
    random_iv: bool | None = kmip(Tag.RANDOM_IV)
    iv_length: int | None = kmip(Tag.IV_LENGTH)
    tag_length: int | None = kmip(Tag.TAG_LENGTH)
    fixed_field_length: int | None = kmip(Tag.FIXED_FIELD_LENGTH)
    invocation_field_length: int | None = kmip(Tag.INVOCATION_FIELD_LENGTH)
    counter_length: int | None = kmip(Tag.COUNTER_LENGTH)
    initial_counter_value: int | None = kmip(Tag.INITIAL_COUNTER_VALUE)
    salt_length: int | None = kmip(Tag.SALT_LENGTH)
    mask_generator: MaskGenerator | None = kmip(Tag.MASK_GENERATOR)
    mask_generator_hashing_algorithm: HashingAlgorithm | None = kmip(Tag.MASK_GENERATOR_HASHING_ALGORITHM)
    p_source: bytes | None = kmip(Tag.P_SOURCE)
    trailer_field: int | None = kmip(Tag.TRAILER_FIELD)


@structure
class Digest(Structure):
    TAG = Tag.DIGEST
    hashing_algorithm: HashingAlgorithm | None = kmip(Tag.HASHING_ALGORITHM, required=True)
    digest_value: bytes | None = kmip(Tag.DIGEST_VALUE)
    key_format_type: KeyFormatType | None = kmip(Tag.KEY_FORMAT_TYPE)


@structure
class KeyValueLocation(Structure):
    TAG = Tag.KEY_VALUE_LOCATION
    key_value_location_value: str | None = kmip(Tag.KEY_VALUE_LOCATION_VALUE, required=True)
    key_value_location_type: KeyValueLocationType | None = kmip(Tag.KEY_VALUE_LOCATION_TYPE, required=True)


@structure
class Link(Structure):
    TAG = Tag.LINK
    link_type: LinkType | None = kmip(Tag.LINK_TYPE, required=True)
    linked_object_identifier: UniqueId | None = kmip(Tag.LINKED_OBJECT_IDENTIFIER, required=True)


@structure
class RevocationReason(Structure):
    TAG = Tag.REVOCATION_REASON
    revocation_reason_code: RevocationReasonCode | None = kmip(Tag.REVOCATION_REASON_CODE, required=True)
    revocation_message: str | None = kmip(Tag.REVOCATION_MESSAGE)


@structure
class RotateName(Structure):
    TAG = Tag.ROTATE_NAME
    rotate_name_value: str | None = kmip(Tag.ROTATE_NAME_VALUE, required=True)
    rotate_name_type: RotateNameType | None = kmip(Tag.ROTATE_NAME_TYPE, required=True)


@structure
class UsageLimits(Structure):
    TAG = Tag.USAGE_LIMITS
    usage_limits_total: int | None = kmip(Tag.USAGE_LIMITS_TOTAL, required=True)
    usage_limits_count: int | None = kmip(Tag.USAGE_LIMITS_COUNT)
    usage_limits_unit: UsageLimitsUnit | None = kmip(Tag.USAGE_LIMITS_UNIT)


@structure
class RNGParameters(Structure):
    """RNG Parameters; also the value of the Random Number Generator attribute."""

    TAG = Tag.RNG_PARAMETERS
    rng_algorithm: RNGAlgorithm | None = kmip(Tag.RNG_ALGORITHM, required=True)
    cryptographic_algorithm: CryptographicAlgorithm | None = kmip(Tag.CRYPTOGRAPHIC_ALGORITHM)
    cryptographic_length: int | None = kmip(Tag.CRYPTOGRAPHIC_LENGTH)
    hashing_algorithm: HashingAlgorithm | None = kmip(Tag.HASHING_ALGORITHM)
    drbg_algorithm: DRBGAlgorithm | None = kmip(Tag.DRBG_ALGORITHM)
    recommended_curve: RecommendedCurve | None = kmip(Tag.RECOMMENDED_CURVE)
    fips186_variation: FIPS186Variation | None = kmip(Tag.FIPS186_VARIATION)
    prediction_resistance: bool | None = kmip(Tag.PREDICTION_RESISTANCE)


@structure
class RandomNumberGenerator(RNGParameters):
    TAG = Tag.RANDOM_NUMBER_GENERATOR


@structure
class X509CertificateIdentifier(Structure):
    TAG = Tag.X_509_CERTIFICATE_IDENTIFIER
    issuer_distinguished_name: bytes | None = kmip(Tag.ISSUER_DISTINGUISHED_NAME, required=True)
    certificate_serial_number: bytes | None = kmip(Tag.CERTIFICATE_SERIAL_NUMBER, required=True)


@structure
class X509CertificateSubject(Structure):
    TAG = Tag.X_509_CERTIFICATE_SUBJECT
    subject_distinguished_name: bytes | None = kmip(Tag.SUBJECT_DISTINGUISHED_NAME)
    subject_alternative_names: list[bytes] = kmip_list(Tag.SUBJECT_ALTERNATIVE_NAME)


@structure
class X509CertificateIssuer(Structure):
    TAG = Tag.X_509_CERTIFICATE_ISSUER
    issuer_distinguished_name: bytes | None = kmip(Tag.ISSUER_DISTINGUISHED_NAME)
    issuer_alternative_names: list[bytes] = kmip_list(Tag.ISSUER_ALTERNATIVE_NAME)


@structure
class CertificateIdentifier(Structure):
    """KMIP 1.0 Certificate Identifier (deprecated in 1.1, gone in 2.0)."""

    TAG = Tag.CERTIFICATE_IDENTIFIER
    issuer: str | None = kmip(Tag.ISSUER, required=True)
    serial_number: str | None = kmip(Tag.SERIAL_NUMBER)


@structure
class CertificateSubject(Structure):
    TAG = Tag.CERTIFICATE_SUBJECT
    certificate_subject_distinguished_name: str | None = kmip(Tag.CERTIFICATE_SUBJECT_DISTINGUISHED_NAME)
    certificate_subject_alternative_names: list[str] = kmip_list(Tag.CERTIFICATE_SUBJECT_ALTERNATIVE_NAME)


@structure
class CertificateIssuer(Structure):
    TAG = Tag.CERTIFICATE_ISSUER
    certificate_issuer_distinguished_name: str | None = kmip(Tag.CERTIFICATE_ISSUER_DISTINGUISHED_NAME)
    certificate_issuer_alternative_names: list[str] = kmip_list(Tag.CERTIFICATE_ISSUER_ALTERNATIVE_NAME)


@structure
class ProtectionStorageMasks(Structure):
    TAG = Tag.PROTECTION_STORAGE_MASKS
    protection_storage_masks: list[ProtectionStorageMask] = kmip_list(Tag.PROTECTION_STORAGE_MASK)


@structure
class CommonProtectionStorageMasks(ProtectionStorageMasks):
    TAG = Tag.COMMON_PROTECTION_STORAGE_MASKS


@structure
class PrivateProtectionStorageMasks(ProtectionStorageMasks):
    TAG = Tag.PRIVATE_PROTECTION_STORAGE_MASKS


@structure
class PublicProtectionStorageMasks(ProtectionStorageMasks):
    TAG = Tag.PUBLIC_PROTECTION_STORAGE_MASKS


# --- authentication and message extensions (KMIP 2.1 §9) --------------------------------


@structure
class Nonce(Structure):
    TAG = Tag.NONCE
    nonce_id: bytes | None = kmip(Tag.NONCE_ID, required=True)
    nonce_value: bytes | None = kmip(Tag.NONCE_VALUE, required=True)


@structure
class Ticket(Structure):
    TAG = Tag.TICKET
    ticket_type: TicketType | None = kmip(Tag.TICKET_TYPE, required=True)
    ticket_value: bytes | None = kmip(Tag.TICKET_VALUE, required=True)


@structure
class CredentialValue(Structure):
    """The Credential Value of every Credential Type, merged (the type says which fields apply)."""

    TAG = Tag.CREDENTIAL_VALUE
    username: str | None = kmip(Tag.USERNAME)
    device_serial_number: str | None = kmip(Tag.DEVICE_SERIAL_NUMBER)
    password: str | None = kmip(Tag.PASSWORD)
    one_time_password: str | None = kmip(Tag.ONE_TIME_PASSWORD)
    timestamp: datetime | None = kmip(Tag.TIME_STAMP, item_type=ItemType.DATE_TIME_EXTENDED, since=V2_0)
    hashing_algorithm: HashingAlgorithm | None = kmip(Tag.HASHING_ALGORITHM, since=V2_0)
    hashed_password: bytes | None = kmip(Tag.HASHED_PASSWORD)
    device_identifier: str | None = kmip(Tag.DEVICE_IDENTIFIER)
    network_identifier: str | None = kmip(Tag.NETWORK_IDENTIFIER)
    machine_identifier: str | None = kmip(Tag.MACHINE_IDENTIFIER)
    media_identifier: str | None = kmip(Tag.MEDIA_IDENTIFIER)
    nonce: Nonce | None = kmip(Tag.NONCE)
    attestation_type: AttestationType | None = kmip(Tag.ATTESTATION_TYPE)
    attestation_measurement: bytes | None = kmip(Tag.ATTESTATION_MEASUREMENT)
    attestation_assertion: bytes | None = kmip(Tag.ATTESTATION_ASSERTION)
    ticket: Ticket | None = kmip(Tag.TICKET)


@structure
class Credential(Structure):
    TAG = Tag.CREDENTIAL
    credential_type: CredentialType | None = kmip(Tag.CREDENTIAL_TYPE, required=True)
    credential_value: CredentialValue | None = kmip(Tag.CREDENTIAL_VALUE, required=True)


@structure
class Authentication(Structure):
    TAG = Tag.AUTHENTICATION
    credentials: list[Credential] = kmip_list(Tag.CREDENTIAL, required=True)


@structure
class MessageExtension(Structure):
    TAG = Tag.MESSAGE_EXTENSION
    vendor_identification: str | None = kmip(Tag.VENDOR_IDENTIFICATION, required=True)
    criticality_indicator: bool | None = kmip(Tag.CRITICALITY_INDICATOR, required=True)
    vendor_extension: Item | None = kmip(Tag.VENDOR_EXTENSION, required=True)


# --- key wrapping (KMIP 2.1 §3.3, §7.18) ------------------------------------------------


@structure
class EncryptionKeyInformation(Structure):
    TAG = Tag.ENCRYPTION_KEY_INFORMATION
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)


@structure
class MACSignatureKeyInformation(EncryptionKeyInformation):
    TAG = Tag.MAC_SIGNATURE_KEY_INFORMATION


@structure
class KeyWrappingData(Structure):
    TAG = Tag.KEY_WRAPPING_DATA
    wrapping_method: WrappingMethod | None = kmip(Tag.WRAPPING_METHOD, required=True)
    encryption_key_information: EncryptionKeyInformation | None = kmip(Tag.ENCRYPTION_KEY_INFORMATION)
    mac_signature_key_information: MACSignatureKeyInformation | None = kmip(Tag.MAC_SIGNATURE_KEY_INFORMATION)
    mac_signature: bytes | None = kmip(Tag.MAC_SIGNATURE)
    iv_counter_nonce: bytes | None = kmip(Tag.IV_COUNTER_NONCE)
    encoding_option: EncodingOption | None = kmip(Tag.ENCODING_OPTION)


@structure
class KeyWrappingSpecification(Structure):
    TAG = Tag.KEY_WRAPPING_SPECIFICATION
    wrapping_method: WrappingMethod | None = kmip(Tag.WRAPPING_METHOD, required=True)
    encryption_key_information: EncryptionKeyInformation | None = kmip(Tag.ENCRYPTION_KEY_INFORMATION)
    mac_signature_key_information: MACSignatureKeyInformation | None = kmip(Tag.MAC_SIGNATURE_KEY_INFORMATION)
    attribute_names: list[str] = kmip_list(Tag.ATTRIBUTE_NAME)
    encoding_option: EncodingOption | None = kmip(Tag.ENCODING_OPTION)


# --- operation parameters (KMIP 2.1 §7) -------------------------------------------------


@structure
class DerivationParameters(Structure):
    TAG = Tag.DERIVATION_PARAMETERS
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    initialization_vector: bytes | None = kmip(Tag.INITIALIZATION_VECTOR)
    derivation_data: bytes | None = kmip(Tag.DERIVATION_DATA)
    salt: bytes | None = kmip(Tag.SALT)
    iteration_count: int | None = kmip(Tag.ITERATION_COUNT)


@structure
class AttributeReference(Structure):
    """A vendor attribute named in Get Attributes and friends (a standard one is just its Tag)."""

    TAG = Tag.ATTRIBUTE_REFERENCE
    vendor_identification: str | None = kmip(Tag.VENDOR_IDENTIFICATION, required=True)
    attribute_name: str | None = kmip(Tag.ATTRIBUTE_NAME, required=True)


@structure
class ExtensionInformation(Structure):
    TAG = Tag.EXTENSION_INFORMATION
    extension_name: str | None = kmip(Tag.EXTENSION_NAME, required=True)
    extension_tag: int | None = kmip(Tag.EXTENSION_TAG)
    # An Integer in KMIP 1.x, an Item Type Enumeration in 2.x.
    extension_type: int | KmipItemType | None = kmip(Tag.EXTENSION_TYPE)
    extension_enumeration: int | None = kmip(Tag.EXTENSION_ENUMERATION)
    extension_attribute: bool | None = kmip(Tag.EXTENSION_ATTRIBUTE)
    extension_parent_structure_tag: int | None = kmip(Tag.EXTENSION_PARENT_STRUCTURE_TAG)
    extension_description: str | None = kmip(Tag.EXTENSION_DESCRIPTION)


@structure
class ProfileVersion(Structure):
    TAG = Tag.PROFILE_VERSION
    profile_version_major: int | None = kmip(Tag.PROFILE_VERSION_MAJOR, required=True)
    profile_version_minor: int | None = kmip(Tag.PROFILE_VERSION_MINOR, required=True)


@structure
class ProfileInformation(Structure):
    TAG = Tag.PROFILE_INFORMATION
    profile_name: ProfileName | None = kmip(Tag.PROFILE_NAME, required=True)
    profile_version: ProfileVersion | None = kmip(Tag.PROFILE_VERSION)
    server_uri: str | None = kmip(Tag.SERVER_URI)
    server_port: int | None = kmip(Tag.SERVER_PORT)


@structure
class ValidationInformation(Structure):
    TAG = Tag.VALIDATION_INFORMATION
    validation_authority_type: ValidationAuthorityType | None = kmip(
        Tag.VALIDATION_AUTHORITY_TYPE, required=True
    )
    validation_authority_country: str | None = kmip(Tag.VALIDATION_AUTHORITY_COUNTRY)
    validation_authority_uri: str | None = kmip(Tag.VALIDATION_AUTHORITY_URI)
    validation_version_major: int | None = kmip(Tag.VALIDATION_VERSION_MAJOR, required=True)
    validation_version_minor: int | None = kmip(Tag.VALIDATION_VERSION_MINOR)
    validation_type: ValidationType | None = kmip(Tag.VALIDATION_TYPE, required=True)
    validation_level: int | None = kmip(Tag.VALIDATION_LEVEL, required=True)
    validation_certificate_identifier: str | None = kmip(Tag.VALIDATION_CERTIFICATE_IDENTIFIER)
    validation_certificate_uri: str | None = kmip(Tag.VALIDATION_CERTIFICATE_URI)
    validation_vendor_uri: str | None = kmip(Tag.VALIDATION_VENDOR_URI)
    validation_profiles: list[str] = kmip_list(Tag.VALIDATION_PROFILE)


@structure
class CapabilityInformation(Structure):
    TAG = Tag.CAPABILITY_INFORMATION
    streaming_capability: bool | None = kmip(Tag.STREAMING_CAPABILITY)
    asynchronous_capability: bool | None = kmip(Tag.ASYNCHRONOUS_CAPABILITY)
    attestation_capability: bool | None = kmip(Tag.ATTESTATION_CAPABILITY)
    batch_undo_capability: bool | None = kmip(Tag.BATCH_UNDO_CAPABILITY)
    batch_continue_capability: bool | None = kmip(Tag.BATCH_CONTINUE_CAPABILITY)
    unwrap_mode: UnwrapMode | None = kmip(Tag.UNWRAP_MODE)
    destroy_action: DestroyAction | None = kmip(Tag.DESTROY_ACTION)
    shredding_algorithm: ShreddingAlgorithm | None = kmip(Tag.SHREDDING_ALGORITHM)
    rng_mode: RNGMode | None = kmip(Tag.RNG_MODE)
    quantum_safe_capability: bool | None = kmip(Tag.QUANTUM_SAFE_CAPABILITY)


@structure
class ServerInformation(Structure):
    """Server Information: the 2.x fields; 1.x contents are vendor-specific and stay in `other`."""

    TAG = Tag.SERVER_INFORMATION
    server_name: str | None = kmip(Tag.SERVER_NAME)
    server_serial_number: str | None = kmip(Tag.SERVER_SERIAL_NUMBER)
    server_version: str | None = kmip(Tag.SERVER_VERSION)
    server_load: str | None = kmip(Tag.SERVER_LOAD)
    product_name: str | None = kmip(Tag.PRODUCT_NAME)
    build_level: str | None = kmip(Tag.BUILD_LEVEL)
    build_date: str | None = kmip(Tag.BUILD_DATE)
    cluster_info: str | None = kmip(Tag.CLUSTER_INFO)
    alternate_failover_endpoints: list[str] = kmip_list(Tag.ALTERNATE_FAILOVER_ENDPOINTS)


@structure
class Operations(Structure):
    TAG = Tag.OPERATIONS
    operations: list[Operation] = kmip_list(Tag.OPERATION)


@structure
class ObjectTypes(Structure):
    TAG = Tag.OBJECT_TYPES
    object_types: list[ObjectType] = kmip_list(Tag.OBJECT_TYPE)


@structure
class ObjectGroups(Structure):
    TAG = Tag.OBJECT_GROUPS
    object_groups: list[str] = kmip_list(Tag.OBJECT_GROUP)


@structure
class Objects(Structure):
    TAG = Tag.OBJECTS
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER)


@structure
class Right(Structure):
    TAG = Tag.RIGHT
    usage_limits: UsageLimits | None = kmip(Tag.USAGE_LIMITS)
    operations: Operations | None = kmip(Tag.OPERATIONS)
    objects: Objects | None = kmip(Tag.OBJECTS)
    object_groups: ObjectGroups | None = kmip(Tag.OBJECT_GROUPS)


@structure
class Rights(Structure):
    TAG = Tag.RIGHTS
    rights: list[Right] = kmip_list(Tag.RIGHT)


@structure
class AsynchronousCorrelationValues(Structure):
    TAG = Tag.ASYNCHRONOUS_CORRELATION_VALUES
    asynchronous_correlation_values: list[bytes] = kmip_list(Tag.ASYNCHRONOUS_CORRELATION_VALUE)


@structure
class AsynchronousRequest(Structure):
    TAG = Tag.ASYNCHRONOUS_REQUEST
    asynchronous_correlation_value: bytes | None = kmip(Tag.ASYNCHRONOUS_CORRELATION_VALUE, required=True)
    operation: Operation | None = kmip(Tag.OPERATION, required=True)
    submission_date: datetime | None = kmip(Tag.SUBMISSION_DATE, required=True)
    processing_stage: ProcessingStage | None = kmip(Tag.PROCESSING_STAGE, required=True)
