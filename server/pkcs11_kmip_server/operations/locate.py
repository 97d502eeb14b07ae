"""Locate: the objects the caller may locate matching every given attribute, newest first, paged."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages import Attribute
from pkcs11_kmip.kmip.messages.payloads import LocateRequest, LocateResponse
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, Storage
from pkcs11_kmip_server.templates import locate_criteria


@handles(Operation.LOCATE)
def locate(context: RequestContext, request: LocateRequest) -> LocateResponse:
    criteria = locate_criteria(context, request)
    filters = []
    for entry in criteria:
        value = entry.value
        if isinstance(value, Attribute):
            filters.append(
                AttributeFilter(
                    entry.tag, value, vendor=value.vendor_identification, name=value.attribute_name
                )
            )
        else:
            filters.append(AttributeFilter(entry.tag, value))
    # Located Items (1.3+) tells a pager how many match in all.
    paged = request.offset_items is not None or request.maximum_items is not None
    wants_count = context.version >= (1, 3) and paged
    query = LocateQuery(
        owner=context.principal,
        now=context.now,
        filters=filters,
        offset=request.offset_items or 0,
        maximum=request.maximum_items,
        storage=int(request.storage_status_mask) if request.storage_status_mask else Storage.ONLINE,
        count=wants_count,
        shared=True,  # also what grants let the caller locate (access control, in the query)
    )
    if context.delegation is not None and not context.delegation.unscoped(Operation.LOCATE):
        uids, total = context.delegation.locate(context.session, query)  # within the ticket's Rights
    else:
        uids, total = context.session.locate(query)
    # KMIP 2.1 §6.1.27: one match becomes the ID Placeholder; several empty it.
    context.id_placeholder = uids[0] if len(uids) == 1 else None
    response = LocateResponse(unique_identifiers=list(uids))
    if wants_count:
        response.located_items = total
    return response
