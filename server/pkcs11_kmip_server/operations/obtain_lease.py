"""Obtain Lease: how long the client may use the object before asking again (KMIP 2.1 §6.1.35).

The lease is the object's Lease Time attribute; without one it is 0, which KMIP
defines as "no lease limit". The Last Change Date tells the client whether what it
cached of the object is still current.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import ObtainLeaseRequest, ObtainLeaseResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.objects import require_material
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.operations.archive import require_online
from pkcs11_kmip_server.store import ObjectRecord


def lease_of(record: ObjectRecord) -> int:
    """The lease the server grants on this object, in seconds (0: unlimited)."""
    lease = record.attributes.get(Tag.LEASE_TIME)
    return lease if isinstance(lease, int) else 0


@handles(Operation.OBTAIN_LEASE)
def obtain_lease(context: RequestContext, request: ObtainLeaseRequest) -> ObtainLeaseResponse:
    record = context.load(request.unique_identifier)
    require_online(record)
    require_material(record)  # no lease on a destroyed object
    refresh_state(record.attributes, context.now)
    changed = record.attributes.get(Tag.LAST_CHANGE_DATE) or record.attributes.get(Tag.INITIAL_DATE)
    return ObtainLeaseResponse(
        unique_identifier=record.uid, lease_time=lease_of(record), last_change_date=changed or context.now
    )
