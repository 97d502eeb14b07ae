"""The typed KMIP message layer: messages, headers, payloads, objects and attributes.

from pkcs11_kmip.kmip.messages import RequestMessage
request = RequestMessage.decode(wire_bytes)      # typed, in the header's version
request.batch_items[0].request_payload           # e.g. a GetRequest
wire_bytes == request.encode()                   # canonical TTLV, same version
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.attributes import (
    ATTRIBUTE_TYPES,
    Attribute,
    AttributeEntry,
    Attributes,
    TemplateAttribute,
)
from pkcs11_kmip.kmip.messages.core import LATEST, Structure
from pkcs11_kmip.kmip.messages.message import (
    RequestBatchItem,
    RequestHeader,
    RequestMessage,
    ResponseBatchItem,
    ResponseHeader,
    ResponseMessage,
)
from pkcs11_kmip.kmip.messages.payloads import (
    REQUEST_PAYLOADS,
    RESPONSE_PAYLOADS,
    RequestPayload,
    ResponsePayload,
)

__all__ = [
    "ATTRIBUTE_TYPES",
    "LATEST",
    "REQUEST_PAYLOADS",
    "RESPONSE_PAYLOADS",
    "Attribute",
    "AttributeEntry",
    "Attributes",
    "RequestBatchItem",
    "RequestHeader",
    "RequestMessage",
    "RequestPayload",
    "ResponseBatchItem",
    "ResponseHeader",
    "ResponseMessage",
    "ResponsePayload",
    "Structure",
    "TemplateAttribute",
]
