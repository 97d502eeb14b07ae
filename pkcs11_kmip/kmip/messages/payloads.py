"""Request and response payloads of every KMIP 1.0-2.1 operation (1.4 §4-§5, 2.1 §6).

One class per payload, registered under its Operation, so a batch item decodes its
payload by the operation it names. Fields only KMIP 1.x defines (Template-Attribute,
Attribute lists, Attribute Names) sit beside their 2.x successors (Attributes,
Attribute References); a payload carries whichever form its version uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar, TypeVar, dataclass_transform

from pkcs11_kmip.kmip.messages.attributes import (
    Attribute,
    Attributes,
    CommonAttributes,
    CommonTemplateAttribute,
    CurrentAttribute,
    NewAttribute,
    PrivateKeyAttributes,
    PrivateKeyTemplateAttribute,
    PublicKeyAttributes,
    PublicKeyTemplateAttribute,
    TemplateAttribute,
)
from pkcs11_kmip.kmip.messages.core import Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.messages.objects import Certificate, CertificateRequest, ManagedObject
from pkcs11_kmip.kmip.messages.policy import Constraints, DefaultsInformation
from pkcs11_kmip.kmip.messages.structures import (
    V1_4,
    V2_0,
    AsynchronousCorrelationValues,
    AsynchronousRequest,
    AttributeReference,
    CapabilityInformation,
    CommonProtectionStorageMasks,
    CryptographicParameters,
    DerivationParameters,
    ExtensionInformation,
    KeyWrappingSpecification,
    ObjectGroups,
    Operations,
    PrivateProtectionStorageMasks,
    ProfileInformation,
    ProtectionStorageMasks,
    ProtocolVersion,
    PublicProtectionStorageMasks,
    RevocationReason,
    Rights,
    RNGParameters,
    ServerInformation,
    Ticket,
    UniqueId,
    UsageLimits,
    ValidationInformation,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    AdjustmentType,
    AttestationType,
    CancellationResult,
    CertificateRequestType,
    ClientRegistrationMethod,
    CryptographicUsageMask,
    DerivationMethod,
    EndpointRole,
    InteropFunction,
    KeyCompressionType,
    KeyFormatType,
    KeyWrapType,
    ObjectGroupMember,
    ObjectType,
    Operation,
    PKCS11Function,
    PKCS11ReturnCode,
    PutFunction,
    QueryFunction,
    SecretDataType,
    SplitKeyMethod,
    StorageStatusMask,
    ValidityIndicator,
)
from pkcs11_kmip.kmip.ttlv import Item

T = TypeVar("T", bound="Payload")


@structure
class Payload(Structure):
    OPERATION: ClassVar[Operation]


@structure
class RequestPayload(Payload):
    TAG = Tag.REQUEST_PAYLOAD


@structure
class ResponsePayload(Payload):
    TAG = Tag.RESPONSE_PAYLOAD


REQUEST_PAYLOADS: dict[Operation, type[RequestPayload]] = {}
RESPONSE_PAYLOADS: dict[Operation, type[ResponsePayload]] = {}


@dataclass_transform(kw_only_default=True)
def payload(operation: Operation) -> Callable[[type[T]], type[T]]:
    """Class decorator: a payload dataclass, registered for `operation`."""

    def register(cls: type[T]) -> type[T]:
        cls = structure(cls)
        cls.OPERATION = operation
        if issubclass(cls, RequestPayload):
            REQUEST_PAYLOADS[operation] = cls
        elif issubclass(cls, ResponsePayload):
            RESPONSE_PAYLOADS[operation] = cls
        else:
            raise TypeError(f"{cls.__name__} is neither a request nor a response payload")
        return cls

    return register


# --- object creation ---------------------------------------------------------------------


@payload(Operation.CREATE)
class CreateRequest(RequestPayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.CREATE)
class CreateResponse(ResponsePayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.CREATE_KEY_PAIR)
class CreateKeyPairRequest(RequestPayload):
    common_template_attribute: CommonTemplateAttribute | None = kmip(Tag.COMMON_TEMPLATE_ATTRIBUTE)
    private_key_template_attribute: PrivateKeyTemplateAttribute | None = kmip(
        Tag.PRIVATE_KEY_TEMPLATE_ATTRIBUTE
    )
    public_key_template_attribute: PublicKeyTemplateAttribute | None = kmip(Tag.PUBLIC_KEY_TEMPLATE_ATTRIBUTE)
    common_attributes: CommonAttributes | None = kmip(Tag.COMMON_ATTRIBUTES)
    private_key_attributes: PrivateKeyAttributes | None = kmip(Tag.PRIVATE_KEY_ATTRIBUTES)
    public_key_attributes: PublicKeyAttributes | None = kmip(Tag.PUBLIC_KEY_ATTRIBUTES)
    common_protection_storage_masks: CommonProtectionStorageMasks | None = kmip(
        Tag.COMMON_PROTECTION_STORAGE_MASKS
    )
    private_protection_storage_masks: PrivateProtectionStorageMasks | None = kmip(
        Tag.PRIVATE_PROTECTION_STORAGE_MASKS
    )
    public_protection_storage_masks: PublicProtectionStorageMasks | None = kmip(
        Tag.PUBLIC_PROTECTION_STORAGE_MASKS
    )


@payload(Operation.CREATE_KEY_PAIR)
class CreateKeyPairResponse(ResponsePayload):
    private_key_unique_identifier: UniqueId | None = kmip(Tag.PRIVATE_KEY_UNIQUE_IDENTIFIER, required=True)
    public_key_unique_identifier: UniqueId | None = kmip(Tag.PUBLIC_KEY_UNIQUE_IDENTIFIER, required=True)
    private_key_template_attribute: PrivateKeyTemplateAttribute | None = kmip(
        Tag.PRIVATE_KEY_TEMPLATE_ATTRIBUTE
    )
    public_key_template_attribute: PublicKeyTemplateAttribute | None = kmip(Tag.PUBLIC_KEY_TEMPLATE_ATTRIBUTE)


@payload(Operation.REGISTER)
class RegisterRequest(RequestPayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    object: ManagedObject | None = kmip(None, required=True)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.REGISTER)
class RegisterResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.RE_KEY)
class ReKeyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    offset: int | None = kmip(Tag.OFFSET)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.RE_KEY)
class ReKeyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.RE_KEY_KEY_PAIR)
class ReKeyKeyPairRequest(RequestPayload):
    private_key_unique_identifier: UniqueId | None = kmip(Tag.PRIVATE_KEY_UNIQUE_IDENTIFIER)
    offset: int | None = kmip(Tag.OFFSET)
    common_template_attribute: CommonTemplateAttribute | None = kmip(Tag.COMMON_TEMPLATE_ATTRIBUTE)
    private_key_template_attribute: PrivateKeyTemplateAttribute | None = kmip(
        Tag.PRIVATE_KEY_TEMPLATE_ATTRIBUTE
    )
    public_key_template_attribute: PublicKeyTemplateAttribute | None = kmip(Tag.PUBLIC_KEY_TEMPLATE_ATTRIBUTE)
    common_attributes: CommonAttributes | None = kmip(Tag.COMMON_ATTRIBUTES)
    private_key_attributes: PrivateKeyAttributes | None = kmip(Tag.PRIVATE_KEY_ATTRIBUTES)
    public_key_attributes: PublicKeyAttributes | None = kmip(Tag.PUBLIC_KEY_ATTRIBUTES)
    common_protection_storage_masks: CommonProtectionStorageMasks | None = kmip(
        Tag.COMMON_PROTECTION_STORAGE_MASKS
    )
    private_protection_storage_masks: PrivateProtectionStorageMasks | None = kmip(
        Tag.PRIVATE_PROTECTION_STORAGE_MASKS
    )
    public_protection_storage_masks: PublicProtectionStorageMasks | None = kmip(
        Tag.PUBLIC_PROTECTION_STORAGE_MASKS
    )


@payload(Operation.RE_KEY_KEY_PAIR)
class ReKeyKeyPairResponse(CreateKeyPairResponse):
    pass


@payload(Operation.DERIVE_KEY)
class DeriveKeyRequest(RequestPayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER, required=True)
    derivation_method: DerivationMethod | None = kmip(Tag.DERIVATION_METHOD, required=True)
    derivation_parameters: DerivationParameters | None = kmip(Tag.DERIVATION_PARAMETERS, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)


@payload(Operation.DERIVE_KEY)
class DeriveKeyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.CERTIFY)
class CertifyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    certificate_request_unique_identifier: str | None = kmip(Tag.CERTIFICATE_REQUEST_UNIQUE_IDENTIFIER)
    certificate_request_type: CertificateRequestType | None = kmip(Tag.CERTIFICATE_REQUEST_TYPE)
    certificate_request_value: bytes | None = kmip(Tag.CERTIFICATE_REQUEST_VALUE)
    certificate_request: bytes | None = kmip(Tag.CERTIFICATE_REQUEST, until=V1_4)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.CERTIFY)
class CertifyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.RE_CERTIFY)
class ReCertifyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    certificate_request_unique_identifier: str | None = kmip(Tag.CERTIFICATE_REQUEST_UNIQUE_IDENTIFIER)
    certificate_request_type: CertificateRequestType | None = kmip(Tag.CERTIFICATE_REQUEST_TYPE)
    certificate_request_value: bytes | None = kmip(Tag.CERTIFICATE_REQUEST_VALUE)
    certificate_request: bytes | None = kmip(Tag.CERTIFICATE_REQUEST, until=V1_4)
    offset: int | None = kmip(Tag.OFFSET)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.RE_CERTIFY)
class ReCertifyResponse(CertifyResponse):
    pass


@payload(Operation.CREATE_SPLIT_KEY)
class CreateSplitKeyRequest(RequestPayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    split_key_parts: int | None = kmip(Tag.SPLIT_KEY_PARTS, required=True)
    split_key_threshold: int | None = kmip(Tag.SPLIT_KEY_THRESHOLD, required=True)
    split_key_method: SplitKeyMethod | None = kmip(Tag.SPLIT_KEY_METHOD, required=True)
    prime_field_size: int | None = kmip(Tag.PRIME_FIELD_SIZE)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.CREATE_SPLIT_KEY)
class CreateSplitKeyResponse(ResponsePayload):
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


@payload(Operation.JOIN_SPLIT_KEY)
class JoinSplitKeyRequest(RequestPayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER, required=True)
    secret_data_type: SecretDataType | None = kmip(Tag.SECRET_DATA_TYPE)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.JOIN_SPLIT_KEY)
class JoinSplitKeyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    template_attribute: TemplateAttribute | None = kmip(Tag.TEMPLATE_ATTRIBUTE)


# --- finding and reading objects ----------------------------------------------------------


@payload(Operation.LOCATE)
class LocateRequest(RequestPayload):
    maximum_items: int | None = kmip(Tag.MAXIMUM_ITEMS)
    offset_items: int | None = kmip(Tag.OFFSET_ITEMS)
    storage_status_mask: StorageStatusMask | None = kmip(Tag.STORAGE_STATUS_MASK)
    object_group_member: ObjectGroupMember | None = kmip(Tag.OBJECT_GROUP_MEMBER)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, until=V1_4)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)


@payload(Operation.LOCATE)
class LocateResponse(ResponsePayload):
    located_items: int | None = kmip(Tag.LOCATED_ITEMS)
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER)


@payload(Operation.CHECK)
class CheckRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    usage_limits_count: int | None = kmip(Tag.USAGE_LIMITS_COUNT)
    cryptographic_usage_mask: CryptographicUsageMask | None = kmip(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    lease_time: int | None = kmip(Tag.LEASE_TIME)


@payload(Operation.CHECK)
class CheckResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    usage_limits_count: int | None = kmip(Tag.USAGE_LIMITS_COUNT)
    cryptographic_usage_mask: CryptographicUsageMask | None = kmip(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    lease_time: int | None = kmip(Tag.LEASE_TIME)


@payload(Operation.GET)
class GetRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    key_format_type: KeyFormatType | None = kmip(Tag.KEY_FORMAT_TYPE)
    key_wrap_type: KeyWrapType | None = kmip(Tag.KEY_WRAP_TYPE)
    key_compression_type: KeyCompressionType | None = kmip(Tag.KEY_COMPRESSION_TYPE)
    key_wrapping_specification: KeyWrappingSpecification | None = kmip(Tag.KEY_WRAPPING_SPECIFICATION)


@payload(Operation.GET)
class GetResponse(ResponsePayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    object: ManagedObject | None = kmip(None, required=True)


@payload(Operation.GET_ATTRIBUTES)
class GetAttributesRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    attribute_names: list[str] = kmip_list(Tag.ATTRIBUTE_NAME, until=V1_4)
    attribute_references: list[Tag | AttributeReference] = kmip_list(Tag.ATTRIBUTE_REFERENCE)


@payload(Operation.GET_ATTRIBUTES)
class GetAttributesResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, until=V1_4)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)


@payload(Operation.GET_ATTRIBUTE_LIST)
class GetAttributeListRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)


@payload(Operation.GET_ATTRIBUTE_LIST)
class GetAttributeListResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    attribute_names: list[str] = kmip_list(Tag.ATTRIBUTE_NAME, until=V1_4)
    attribute_references: list[Tag | AttributeReference] = kmip_list(Tag.ATTRIBUTE_REFERENCE)


@payload(Operation.EXPORT)
class ExportRequest(GetRequest):
    pass


@payload(Operation.EXPORT)
class ExportResponse(ResponsePayload):
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, required=True)
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, until=V1_4)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    object: ManagedObject | None = kmip(None, required=True)


@payload(Operation.IMPORT)
class ImportRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE, since=V2_0)
    replace_existing: bool | None = kmip(Tag.REPLACE_EXISTING)
    key_wrap_type: KeyWrapType | None = kmip(Tag.KEY_WRAP_TYPE)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, until=V1_4)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)
    object: ManagedObject | None = kmip(None, required=True)


@payload(Operation.IMPORT)
class ImportResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)


# --- attributes -------------------------------------------------------------------------


@payload(Operation.ADD_ATTRIBUTE)
class AddAttributeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    attribute: Attribute | None = kmip(Tag.ATTRIBUTE, until=V1_4)
    new_attribute: NewAttribute | None = kmip(Tag.NEW_ATTRIBUTE)


@payload(Operation.ADD_ATTRIBUTE)
class AddAttributeResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    attribute: Attribute | None = kmip(Tag.ATTRIBUTE, until=V1_4)


@payload(Operation.MODIFY_ATTRIBUTE)
class ModifyAttributeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    attribute: Attribute | None = kmip(Tag.ATTRIBUTE, until=V1_4)
    current_attribute: CurrentAttribute | None = kmip(Tag.CURRENT_ATTRIBUTE)
    new_attribute: NewAttribute | None = kmip(Tag.NEW_ATTRIBUTE)


@payload(Operation.MODIFY_ATTRIBUTE)
class ModifyAttributeResponse(AddAttributeResponse):
    pass


@payload(Operation.SET_ATTRIBUTE)
class SetAttributeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    new_attribute: NewAttribute | None = kmip(Tag.NEW_ATTRIBUTE, required=True)


@payload(Operation.SET_ATTRIBUTE)
class SetAttributeResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)


@payload(Operation.DELETE_ATTRIBUTE)
class DeleteAttributeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    attribute_name: str | None = kmip(Tag.ATTRIBUTE_NAME, until=V1_4)
    attribute_index: int | None = kmip(Tag.ATTRIBUTE_INDEX)
    current_attribute: CurrentAttribute | None = kmip(Tag.CURRENT_ATTRIBUTE)
    attribute_reference: Tag | AttributeReference | None = kmip(Tag.ATTRIBUTE_REFERENCE)


@payload(Operation.DELETE_ATTRIBUTE)
class DeleteAttributeResponse(AddAttributeResponse):
    pass


@payload(Operation.ADJUST_ATTRIBUTE)
class AdjustAttributeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    attribute_reference: Tag | AttributeReference | None = kmip(Tag.ATTRIBUTE_REFERENCE, required=True)
    adjustment_type: AdjustmentType | None = kmip(Tag.ADJUSTMENT_TYPE, required=True)
    # An Integer, Long Integer, Big Integer, Date-Time or Interval, as the attribute needs.
    adjustment_value: Item | None = kmip(Tag.ADJUSTMENT_VALUE)


@payload(Operation.ADJUST_ATTRIBUTE)
class AdjustAttributeResponse(SetAttributeResponse):
    pass


# --- lifecycle ----------------------------------------------------------------------------


# Operations whose request and response carry just the object's Unique Identifier.
@payload(Operation.ACTIVATE)
class ActivateRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)


@payload(Operation.ACTIVATE)
class ActivateResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)


@payload(Operation.DESTROY)
class DestroyRequest(ActivateRequest):
    pass


@payload(Operation.DESTROY)
class DestroyResponse(ActivateResponse):
    pass


@payload(Operation.ARCHIVE)
class ArchiveRequest(ActivateRequest):
    pass


@payload(Operation.ARCHIVE)
class ArchiveResponse(ActivateResponse):
    pass


@payload(Operation.RECOVER)
class RecoverRequest(ActivateRequest):
    pass


@payload(Operation.RECOVER)
class RecoverResponse(ActivateResponse):
    pass


@payload(Operation.REVOKE)
class RevokeRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    revocation_reason: RevocationReason | None = kmip(Tag.REVOCATION_REASON, required=True)
    compromise_occurrence_date: datetime | None = kmip(Tag.COMPROMISE_OCCURRENCE_DATE)


@payload(Operation.REVOKE)
class RevokeResponse(ActivateResponse):
    pass


@payload(Operation.GET_USAGE_ALLOCATION)
class GetUsageAllocationRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    usage_limits_count: int | None = kmip(Tag.USAGE_LIMITS_COUNT, required=True)


@payload(Operation.GET_USAGE_ALLOCATION)
class GetUsageAllocationResponse(ActivateResponse):
    pass


@payload(Operation.OBTAIN_LEASE)
class ObtainLeaseRequest(ActivateRequest):
    pass


@payload(Operation.OBTAIN_LEASE)
class ObtainLeaseResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    lease_time: int | None = kmip(Tag.LEASE_TIME, required=True)
    last_change_date: datetime | None = kmip(Tag.LAST_CHANGE_DATE, required=True)


@payload(Operation.VALIDATE)
class ValidateRequest(RequestPayload):
    certificates: list[Certificate] = kmip_list(Tag.CERTIFICATE)
    unique_identifiers: list[UniqueId] = kmip_list(Tag.UNIQUE_IDENTIFIER)
    validity_date: datetime | None = kmip(Tag.VALIDITY_DATE)


@payload(Operation.VALIDATE)
class ValidateResponse(ResponsePayload):
    validity_indicator: ValidityIndicator | None = kmip(Tag.VALIDITY_INDICATOR, required=True)


# --- cryptographic services (single-part or streamed with Init/Final Indicator) -------------


@payload(Operation.ENCRYPT)
class EncryptRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    data: bytes | None = kmip(Tag.DATA)
    iv_counter_nonce: bytes | None = kmip(Tag.IV_COUNTER_NONCE)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)
    authenticated_encryption_additional_data: bytes | None = kmip(
        Tag.AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA
    )


@payload(Operation.ENCRYPT)
class EncryptResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    data: bytes | None = kmip(Tag.DATA)
    iv_counter_nonce: bytes | None = kmip(Tag.IV_COUNTER_NONCE)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    authenticated_encryption_tag: bytes | None = kmip(Tag.AUTHENTICATED_ENCRYPTION_TAG)


@payload(Operation.DECRYPT)
class DecryptRequest(EncryptRequest):
    authenticated_encryption_tag: bytes | None = kmip(Tag.AUTHENTICATED_ENCRYPTION_TAG)


@payload(Operation.DECRYPT)
class DecryptResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    data: bytes | None = kmip(Tag.DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.SIGN)
class SignRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    data: bytes | None = kmip(Tag.DATA)
    digested_data: bytes | None = kmip(Tag.DIGESTED_DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)


@payload(Operation.SIGN)
class SignResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    signature_data: bytes | None = kmip(Tag.SIGNATURE_DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.SIGNATURE_VERIFY)
class SignatureVerifyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    data: bytes | None = kmip(Tag.DATA)
    digested_data: bytes | None = kmip(Tag.DIGESTED_DATA)
    signature_data: bytes | None = kmip(Tag.SIGNATURE_DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)


@payload(Operation.SIGNATURE_VERIFY)
class SignatureVerifyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    validity_indicator: ValidityIndicator | None = kmip(Tag.VALIDITY_INDICATOR)
    data: bytes | None = kmip(Tag.DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.MAC)
class MACRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    data: bytes | None = kmip(Tag.DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)


@payload(Operation.MAC)
class MACResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    mac_data: bytes | None = kmip(Tag.MAC_DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.MAC_VERIFY)
class MACVerifyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)
    cryptographic_parameters: CryptographicParameters | None = kmip(Tag.CRYPTOGRAPHIC_PARAMETERS)
    data: bytes | None = kmip(Tag.DATA)
    mac_data: bytes | None = kmip(Tag.MAC_DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)


@payload(Operation.MAC_VERIFY)
class MACVerifyResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    validity_indicator: ValidityIndicator | None = kmip(Tag.VALIDITY_INDICATOR)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.HASH)
class HashRequest(RequestPayload):
    cryptographic_parameters: CryptographicParameters | None = kmip(
        Tag.CRYPTOGRAPHIC_PARAMETERS, required=True
    )
    data: bytes | None = kmip(Tag.DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    init_indicator: bool | None = kmip(Tag.INIT_INDICATOR)
    final_indicator: bool | None = kmip(Tag.FINAL_INDICATOR)


@payload(Operation.HASH)
class HashResponse(ResponsePayload):
    data: bytes | None = kmip(Tag.DATA)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)


@payload(Operation.RNG_RETRIEVE)
class RNGRetrieveRequest(RequestPayload):
    data_length: int | None = kmip(Tag.DATA_LENGTH, required=True)


@payload(Operation.RNG_RETRIEVE)
class RNGRetrieveResponse(ResponsePayload):
    data: bytes | None = kmip(Tag.DATA, required=True)


@payload(Operation.RNG_SEED)
class RNGSeedRequest(RequestPayload):
    data: bytes | None = kmip(Tag.DATA, required=True)


@payload(Operation.RNG_SEED)
class RNGSeedResponse(ResponsePayload):
    data_length: int | None = kmip(Tag.DATA_LENGTH, required=True)


# --- server information and asynchronous operations ---------------------------------------


@payload(Operation.QUERY)
class QueryRequest(RequestPayload):
    query_functions: list[QueryFunction] = kmip_list(Tag.QUERY_FUNCTION, required=True)
    object_groups: ObjectGroups | None = kmip(Tag.OBJECT_GROUPS)


@payload(Operation.QUERY)
class QueryResponse(ResponsePayload):
    operations: list[Operation] = kmip_list(Tag.OPERATION)
    object_types: list[ObjectType] = kmip_list(Tag.OBJECT_TYPE)
    vendor_identification: str | None = kmip(Tag.VENDOR_IDENTIFICATION)
    server_information: ServerInformation | None = kmip(Tag.SERVER_INFORMATION)
    application_namespaces: list[str] = kmip_list(Tag.APPLICATION_NAMESPACE)
    extension_information: list[ExtensionInformation] = kmip_list(Tag.EXTENSION_INFORMATION)
    attestation_types: list[AttestationType] = kmip_list(Tag.ATTESTATION_TYPE)
    rng_parameters: list[RNGParameters] = kmip_list(Tag.RNG_PARAMETERS)
    profile_information: list[ProfileInformation] = kmip_list(Tag.PROFILE_INFORMATION)
    validation_information: list[ValidationInformation] = kmip_list(Tag.VALIDATION_INFORMATION)
    capability_information: list[CapabilityInformation] = kmip_list(Tag.CAPABILITY_INFORMATION)
    client_registration_methods: list[ClientRegistrationMethod] = kmip_list(Tag.CLIENT_REGISTRATION_METHOD)
    defaults_information: DefaultsInformation | None = kmip(Tag.DEFAULTS_INFORMATION)
    protection_storage_masks: ProtectionStorageMasks | None = kmip(Tag.PROTECTION_STORAGE_MASKS)


@payload(Operation.DISCOVER_VERSIONS)
class DiscoverVersionsRequest(RequestPayload):
    protocol_versions: list[ProtocolVersion] = kmip_list(Tag.PROTOCOL_VERSION)


@payload(Operation.DISCOVER_VERSIONS)
class DiscoverVersionsResponse(ResponsePayload):
    protocol_versions: list[ProtocolVersion] = kmip_list(Tag.PROTOCOL_VERSION)


@payload(Operation.CANCEL)
class CancelRequest(RequestPayload):
    asynchronous_correlation_value: bytes | None = kmip(Tag.ASYNCHRONOUS_CORRELATION_VALUE, required=True)


@payload(Operation.CANCEL)
class CancelResponse(ResponsePayload):
    asynchronous_correlation_value: bytes | None = kmip(Tag.ASYNCHRONOUS_CORRELATION_VALUE, required=True)
    cancellation_result: CancellationResult | None = kmip(Tag.CANCELLATION_RESULT, required=True)


@payload(Operation.POLL)
class PollRequest(CancelRequest):
    pass


@payload(Operation.POLL)
class PollResponse(ResponsePayload):
    """Poll answers with the payload of the operation it polled: kept in `other`."""


@payload(Operation.PROCESS)
class ProcessRequest(CancelRequest):
    pass


@payload(Operation.PROCESS)
class ProcessResponse(ResponsePayload):
    """Process answers with the payload of the operation it processed: kept in `other`."""


@payload(Operation.QUERY_ASYNCHRONOUS_REQUESTS)
class QueryAsynchronousRequestsRequest(RequestPayload):
    asynchronous_correlation_values: AsynchronousCorrelationValues | None = kmip(
        Tag.ASYNCHRONOUS_CORRELATION_VALUES
    )
    operations: Operations | None = kmip(Tag.OPERATIONS)


@payload(Operation.QUERY_ASYNCHRONOUS_REQUESTS)
class QueryAsynchronousRequestsResponse(ResponsePayload):
    asynchronous_requests: list[AsynchronousRequest] = kmip_list(Tag.ASYNCHRONOUS_REQUEST)


# --- KMIP 2.x sessions, policy and miscellany ------------------------------------------------


@payload(Operation.LOGIN)
class LoginRequest(RequestPayload):
    lease_time: int | None = kmip(Tag.LEASE_TIME)
    request_count: int | None = kmip(Tag.REQUEST_COUNT)
    usage_limits: UsageLimits | None = kmip(Tag.USAGE_LIMITS)


@payload(Operation.LOGIN)
class LoginResponse(ResponsePayload):
    ticket: Ticket | None = kmip(Tag.TICKET, required=True)


@payload(Operation.DELEGATED_LOGIN)
class DelegatedLoginRequest(LoginRequest):
    rights: Rights | None = kmip(Tag.RIGHTS, required=True)


@payload(Operation.DELEGATED_LOGIN)
class DelegatedLoginResponse(LoginResponse):
    pass


@payload(Operation.LOGOUT)
class LogoutRequest(RequestPayload):
    ticket: Ticket | None = kmip(Tag.TICKET, required=True)


@payload(Operation.LOGOUT)
class LogoutResponse(ResponsePayload):
    pass


@payload(Operation.PING)
class PingRequest(RequestPayload):
    pass


@payload(Operation.PING)
class PingResponse(ResponsePayload):
    pass


@payload(Operation.LOG)
class LogRequest(RequestPayload):
    log_message: str | None = kmip(Tag.LOG_MESSAGE, required=True)


@payload(Operation.LOG)
class LogResponse(ResponsePayload):
    pass


@payload(Operation.INTEROP)
class InteropRequest(RequestPayload):
    interop_function: InteropFunction | None = kmip(Tag.INTEROP_FUNCTION, required=True)
    interop_identifier: str | None = kmip(Tag.INTEROP_IDENTIFIER, required=True)


@payload(Operation.INTEROP)
class InteropResponse(ResponsePayload):
    pass


@payload(Operation.SET_ENDPOINT_ROLE)
class SetEndpointRoleRequest(RequestPayload):
    endpoint_role: EndpointRole | None = kmip(Tag.ENDPOINT_ROLE, required=True)


@payload(Operation.SET_ENDPOINT_ROLE)
class SetEndpointRoleResponse(ResponsePayload):
    endpoint_role: EndpointRole | None = kmip(Tag.ENDPOINT_ROLE, required=True)


@payload(Operation.SET_CONSTRAINTS)
class SetConstraintsRequest(RequestPayload):
    constraints: Constraints | None = kmip(Tag.CONSTRAINTS)  # absent: clear all constraints


@payload(Operation.SET_CONSTRAINTS)
class SetConstraintsResponse(ResponsePayload):
    pass


@payload(Operation.GET_CONSTRAINTS)
class GetConstraintsRequest(RequestPayload):
    pass


@payload(Operation.GET_CONSTRAINTS)
class GetConstraintsResponse(ResponsePayload):
    constraints: Constraints | None = kmip(Tag.CONSTRAINTS, required=True)


@payload(Operation.SET_DEFAULTS)
class SetDefaultsRequest(RequestPayload):
    defaults_information: DefaultsInformation | None = kmip(Tag.DEFAULTS_INFORMATION)  # absent: remove all


@payload(Operation.SET_DEFAULTS)
class SetDefaultsResponse(ResponsePayload):
    pass


@payload(Operation.RE_PROVISION)
class ReProvisionRequest(RequestPayload):
    certificate_request: CertificateRequest | None = kmip(Tag.CERTIFICATE_REQUEST, since=V2_0)
    certificate: Certificate | None = kmip(Tag.CERTIFICATE)


@payload(Operation.RE_PROVISION)
class ReProvisionResponse(ResponsePayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER)


@payload(Operation.PKCS_11)
class PKCS11Request(RequestPayload):
    """A forwarded Cryptoki call (KMIP 2.0 §6.1.35); plain leaves, as PKCS11-M-1-20 sends them."""

    pkcs_11_interface: str | None = kmip(Tag.PKCS_11_INTERFACE)
    pkcs_11_function: PKCS11Function | int | None = kmip(Tag.PKCS_11_FUNCTION, required=True)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    pkcs_11_input_parameters: bytes | None = kmip(Tag.PKCS_11_INPUT_PARAMETERS)


@payload(Operation.PKCS_11)
class PKCS11Response(ResponsePayload):
    pkcs_11_interface: str | None = kmip(Tag.PKCS_11_INTERFACE)
    pkcs_11_function: PKCS11Function | int | None = kmip(Tag.PKCS_11_FUNCTION, required=True)
    correlation_value: bytes | None = kmip(Tag.CORRELATION_VALUE)
    pkcs_11_output_parameters: bytes | None = kmip(Tag.PKCS_11_OUTPUT_PARAMETERS)
    pkcs_11_return_code: PKCS11ReturnCode | None = kmip(Tag.PKCS_11_RETURN_CODE, required=True)


# --- KMIP 1.x server-to-client messages (1.4 §5) --------------------------------------------


@payload(Operation.NOTIFY)
class NotifyRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE, required=True)


@payload(Operation.PUT)
class PutRequest(RequestPayload):
    unique_identifier: UniqueId | None = kmip(Tag.UNIQUE_IDENTIFIER, required=True)
    put_function: PutFunction | None = kmip(Tag.PUT_FUNCTION, required=True)
    replaced_unique_identifier: UniqueId | None = kmip(Tag.REPLACED_UNIQUE_IDENTIFIER)
    object: ManagedObject | None = kmip(None, required=True)
    attribute_list: list[Attribute] = kmip_list(Tag.ATTRIBUTE)
