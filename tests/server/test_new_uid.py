"""objects.new_uid: the identifier of every new object, a time-ordered UUID (RFC 9562 version 7)."""

from __future__ import annotations

import time
import uuid

from pkcs11_kmip_server.objects import new_uid


def test_new_uids_are_version_7_uuids_in_the_canonical_form_with_the_time_in_front() -> None:
    before = time.time_ns() // 1_000_000
    uids = [new_uid() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(uids)) == len(uids)
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert str(parsed) == uid
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert before <= parsed.int >> 80 <= after  # the Unix time in milliseconds
    # Made later, sorted later (what keeps the store's uid index growing at its end);
    # within one millisecond the order is random.
    stamps = [uuid.UUID(uid).int >> 80 for uid in uids]
    assert stamps == sorted(stamps)
    assert [uuid.UUID(uid).int >> 80 for uid in sorted(uids)] == stamps  # as text, too
    # Every one of the 74 bits after the time varies but the six fixed ones.
    seen = [0, 0]
    for uid in uids:
        value = uuid.UUID(uid).int & (2**80 - 1)
        seen[0] |= value
        seen[1] |= ~value & (2**80 - 1)
    fixed = 0xF << 76 | 0x3 << 62
    assert seen[0] & seen[1] == (2**80 - 1) & ~fixed
