"""KMIP request and response messages: headers, batch items, and the payload each carries.

A message is decoded in the protocol version its header names, so every payload
below it is read (and later written back) with that version's rules; a batch
item's payload class follows from its Operation, and an operation nobody
registered keeps its payload as a raw item.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pkcs11_kmip.kmip.messages.core import LATEST, FieldSpec, Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.messages.payloads import (
    REQUEST_PAYLOADS,
    RESPONSE_PAYLOADS,
    RequestPayload,
    ResponsePayload,
)
from pkcs11_kmip.kmip.messages.structures import Authentication, MessageExtension, Nonce, ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    AsynchronousIndicator,
    AttestationType,
    BatchErrorContinuationOption,
    Operation,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import CodecError, Item, ItemType, Limits, binary
from pkcs11_kmip.kmip.ttlv.limits import DEFAULT_LIMITS


@structure
class RequestHeader(Structure):
    TAG = Tag.REQUEST_HEADER
    protocol_version: ProtocolVersion | None = kmip(Tag.PROTOCOL_VERSION, required=True)
    maximum_response_size: int | None = kmip(Tag.MAXIMUM_RESPONSE_SIZE)
    client_correlation_value: str | None = kmip(Tag.CLIENT_CORRELATION_VALUE)
    server_correlation_value: str | None = kmip(Tag.SERVER_CORRELATION_VALUE)
    # A Boolean in KMIP 1.x, an Asynchronous Indicator Enumeration in 2.x.
    asynchronous_indicator: bool | AsynchronousIndicator | None = kmip(Tag.ASYNCHRONOUS_INDICATOR)
    attestation_capable_indicator: bool | None = kmip(Tag.ATTESTATION_CAPABLE_INDICATOR)
    attestation_types: list[AttestationType] = kmip_list(Tag.ATTESTATION_TYPE)
    authentication: Authentication | None = kmip(Tag.AUTHENTICATION)
    batch_error_continuation_option: BatchErrorContinuationOption | None = kmip(
        Tag.BATCH_ERROR_CONTINUATION_OPTION
    )
    batch_order_option: bool | None = kmip(Tag.BATCH_ORDER_OPTION)
    time_stamp: datetime | None = kmip(Tag.TIME_STAMP)
    batch_count: int | None = kmip(Tag.BATCH_COUNT, required=True)


@structure
class ResponseHeader(Structure):
    TAG = Tag.RESPONSE_HEADER
    protocol_version: ProtocolVersion | None = kmip(Tag.PROTOCOL_VERSION, required=True)
    time_stamp: datetime | None = kmip(Tag.TIME_STAMP, required=True)
    nonce: Nonce | None = kmip(Tag.NONCE)
    server_hashed_password: bytes | None = kmip(Tag.SERVER_HASHED_PASSWORD)
    attestation_types: list[AttestationType] = kmip_list(Tag.ATTESTATION_TYPE)
    client_correlation_value: str | None = kmip(Tag.CLIENT_CORRELATION_VALUE)
    server_correlation_value: str | None = kmip(Tag.SERVER_CORRELATION_VALUE)
    batch_count: int | None = kmip(Tag.BATCH_COUNT, required=True)


class _BatchItem(Structure):
    """Shared by request and response batch items: the payload class follows the Operation."""

    PAYLOAD_FIELD: ClassVar[str]
    REGISTRY: ClassVar[dict[Operation, Any]]
    if TYPE_CHECKING:  # each subclass declares the field
        operation: Operation | None

    def _decoded(self, version: Version) -> None:
        raw = getattr(self, self.PAYLOAD_FIELD)
        operation = self.operation
        payload_class = self.REGISTRY.get(operation) if operation is not None else None
        if isinstance(raw, Item) and payload_class is not None and operation is not None:
            try:
                setattr(self, self.PAYLOAD_FIELD, payload_class.from_item(raw, version))
            except CodecError as error:
                raise CodecError(f"{operation.name} payload: {error}") from None

    def _write_value(self, out: bytearray, field: FieldSpec, value: Any, version: Version) -> None:
        if isinstance(value, Structure):
            value.write_to(out, version)
        else:
            super()._write_value(out, field, value, version)


@structure
class RequestBatchItem(_BatchItem):
    TAG = Tag.BATCH_ITEM
    PAYLOAD_FIELD = "request_payload"
    CUSTOM_WRITE = frozenset({PAYLOAD_FIELD})
    REGISTRY = REQUEST_PAYLOADS
    operation: Operation | None = kmip(Tag.OPERATION, required=True)
    ephemeral: bool | None = kmip(Tag.EPHEMERAL)
    unique_batch_item_id: bytes | None = kmip(Tag.UNIQUE_BATCH_ITEM_ID)
    # A registered payload class for known operations, else the raw item.
    request_payload: Item | RequestPayload | None = kmip(Tag.REQUEST_PAYLOAD, required=True)
    message_extensions: list[MessageExtension] = kmip_list(Tag.MESSAGE_EXTENSION)


@structure
class ResponseBatchItem(_BatchItem):
    TAG = Tag.BATCH_ITEM
    PAYLOAD_FIELD = "response_payload"
    CUSTOM_WRITE = frozenset({PAYLOAD_FIELD})
    REGISTRY = RESPONSE_PAYLOADS
    operation: Operation | None = kmip(Tag.OPERATION)
    unique_batch_item_id: bytes | None = kmip(Tag.UNIQUE_BATCH_ITEM_ID)
    result_status: ResultStatus | None = kmip(Tag.RESULT_STATUS, required=True)
    result_reason: ResultReason | None = kmip(Tag.RESULT_REASON)
    result_message: str | None = kmip(Tag.RESULT_MESSAGE)
    asynchronous_correlation_value: bytes | None = kmip(Tag.ASYNCHRONOUS_CORRELATION_VALUE)
    response_payload: Item | ResponsePayload | None = kmip(Tag.RESPONSE_PAYLOAD)
    message_extensions: list[MessageExtension] = kmip_list(Tag.MESSAGE_EXTENSION)


class _Message(Structure):
    """Shared by requests and responses: decoded and encoded in the header's version."""

    HEADER_TAG: int

    @classmethod
    def from_item(cls, item: Item, version: Version | None = None) -> Self:
        if item.type is not ItemType.STRUCTURE or item.tag != cls.TAG:
            raise CodecError(f"not a {cls.__name__}")
        if version is None:
            version = header_version(item, cls.HEADER_TAG)
        return super().from_item(item, version)

    def version(self) -> Version:
        """The protocol version the header names (what the message is written in)."""
        header = getattr(self, "header", None)
        pv = header.protocol_version if header is not None else None
        return pv.as_tuple() if pv is not None else LATEST

    def encode(self, version: Version | None = None) -> bytes:
        """The message as binary TTLV, in its header's protocol version."""
        return super().encode(self.version() if version is None else version)

    def to_item(self, version: Version | None = None) -> Item:
        return super().to_item(self.version() if version is None else version)

    @classmethod
    def decode(cls, data: bytes, limits: Limits = DEFAULT_LIMITS) -> Self:
        """A message from binary TTLV; raises only CodecError."""
        return cls.from_item(binary.decode(data, limits))


def header_version(item: Item, header_tag: int) -> Version:
    """The protocol version a message's header names, read before decoding the rest."""
    header = item.find(header_tag)
    version = header.find(_PROTOCOL_VERSION) if header is not None and header.type is _STRUCTURE else None
    if version is None or version.type is not _STRUCTURE:
        raise CodecError("the message header has no Protocol Version")
    major = version.find(_MAJOR)
    minor = version.find(_MINOR)
    if major is None or minor is None or not isinstance(major.value, int) or not isinstance(minor.value, int):
        raise CodecError("the Protocol Version lacks its major or minor number")
    if isinstance(major.value, bool) or isinstance(minor.value, bool):
        raise CodecError("the Protocol Version numbers must be Integers")
    return (major.value, minor.value)


# Read once: every request passes header_version, and on Python 3.11 each Enum member
# lookup costs ~900 instructions (EnumType.__getattr__).
_STRUCTURE = ItemType.STRUCTURE
_PROTOCOL_VERSION = int(Tag.PROTOCOL_VERSION)
_MAJOR = int(Tag.PROTOCOL_VERSION_MAJOR)
_MINOR = int(Tag.PROTOCOL_VERSION_MINOR)


@structure
class RequestMessage(_Message):
    TAG = Tag.REQUEST_MESSAGE
    HEADER_TAG = Tag.REQUEST_HEADER
    header: RequestHeader | None = kmip(Tag.REQUEST_HEADER, required=True)
    batch_items: list[RequestBatchItem] = kmip_list(Tag.BATCH_ITEM, required=True)


@structure
class ResponseMessage(_Message):
    TAG = Tag.RESPONSE_MESSAGE
    HEADER_TAG = Tag.RESPONSE_HEADER
    header: ResponseHeader | None = kmip(Tag.RESPONSE_HEADER, required=True)
    batch_items: list[ResponseBatchItem] = kmip_list(Tag.BATCH_ITEM, required=True)
