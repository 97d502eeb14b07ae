"""Discover Versions: the protocol versions both sides speak."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import DiscoverVersionsRequest, DiscoverVersionsResponse
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.versions import SUPPORTED_VERSIONS


@handles(Operation.DISCOVER_VERSIONS)
def discover_versions(context: RequestContext, request: DiscoverVersionsRequest) -> DiscoverVersionsResponse:
    offered = [version.as_tuple() for version in request.protocol_versions]
    # The client's order of preference when it gives one (KMIP 2.1 §6.1.17), else ours.
    common = [v for v in offered if v in SUPPORTED_VERSIONS] if offered else list(SUPPORTED_VERSIONS)
    return DiscoverVersionsResponse(protocol_versions=[ProtocolVersion.of(v) for v in common])
