"""Recover: an archived object comes back on-line (KMIP 2.1 §6.1.42).

Recovering an object that is not archived changes nothing: the client gets what it
asked for, an object it can use.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.payloads import RecoverRequest, RecoverResponse
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.objects import touch
from pkcs11_kmip_server.operations import handles
from pkcs11_kmip_server.store import Storage


@handles(Operation.RECOVER)
def recover(context: RequestContext, request: RecoverRequest) -> RecoverResponse:
    record = context.load(request.unique_identifier)
    if record.storage is Storage.ARCHIVED:
        record.storage = Storage.ONLINE
        record.attributes.remove(Tag.ARCHIVE_DATE)  # KMIP 2.1 §4.5: deleted on Recover
        touch(record, context.now)
        context.session.save(record)
    return RecoverResponse(unique_identifier=record.uid)
