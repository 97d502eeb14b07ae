"""A structure class builds its tables on first use, and threads may use it first at once
(a PKCS#11 application's threads, a test's four clients). `fields()` takes a set `_fields`
to mean that every table is there, so `_fields` must be set last: once it was set first,
and another thread's encode failed with "type object 'RequestBatchItem' has no attribute
'_per_version'". A thread switch can come between any two assignments, so the test
watches the assignments themselves instead of hoping for that switch."""

from __future__ import annotations

from typing import Any

from pkcs11_kmip.kmip.messages.core import structure
from pkcs11_kmip.kmip.messages.message import RequestHeader
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion

TABLES = ("_by_tag", "_per_version", "_blank")


class Watched(type):
    """Records, when `_fields` is set on a class, which of its tables it already has."""

    seen: dict[str, bool]

    def __setattr__(cls, name: str, value: Any) -> None:
        if name == "_fields" and value is not None:
            cls.seen = {table: table in cls.__dict__ for table in TABLES}
        super().__setattr__(name, value)


@structure
class FreshHeader(RequestHeader, metaclass=Watched):
    """RequestHeader's fields, in a class no code has used yet."""


def test_a_structure_class_has_every_table_once_fields_is_set() -> None:
    header = FreshHeader(
        protocol_version=ProtocolVersion(protocol_version_major=1, protocol_version_minor=4), batch_count=1
    )
    encoded = header.encode((1, 4))  # the first use builds the tables
    assert FreshHeader.seen == dict.fromkeys(TABLES, True)
    plain = RequestHeader(protocol_version=header.protocol_version, batch_count=1)
    assert encoded == plain.encode((1, 4))
