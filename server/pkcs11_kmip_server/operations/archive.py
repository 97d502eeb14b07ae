"""Archive: the object goes to archival storage, off-line until Recover (KMIP 2.1 §6.1.4).

An archived object keeps its attributes and value; Locate finds it only when the
Storage Status Mask asks for archived objects, and the operations that use or
change it answer Object Archived until it is recovered.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import ArchiveRequest, ArchiveResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation, ResultReason
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.lifecycle import set_single
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import ObjectRecord, Storage


def require_online(record: ObjectRecord) -> None:
    """Object Archived for an object in archival storage: it must be recovered first."""
    if record.storage is Storage.ARCHIVED:
        raise KmipError(ResultReason.OBJECT_ARCHIVED, f"{record.uid} is archived: Recover it first")


@handles(Operation.ARCHIVE)
def archive(context: RequestContext, request: ArchiveRequest) -> ArchiveResponse:
    record = context.load(request.unique_identifier)
    require_online(record)
    if record.storage is Storage.DESTROYED:
        raise KmipError(
            ResultReason.OBJECT_DESTROYED, f"{record.uid} is destroyed: there is nothing to archive"
        )
    record.storage = Storage.ARCHIVED
    set_single(record.attributes, Tag.ARCHIVE_DATE, context.now)
    touch(record, context.now)
    context.session.save(record)
    return ArchiveResponse(unique_identifier=record.uid)
