"""objects.new_uid: the identifier of every new object, what str(uuid.uuid4()) gave."""

from __future__ import annotations

import uuid

from pkcs11_kmip_server.objects import new_uid


def test_new_uids_are_random_version_4_uuids_in_the_canonical_form() -> None:
    uids = [new_uid() for _ in range(2000)]
    assert len(set(uids)) == len(uids)
    for uid in uids:
        parsed = uuid.UUID(uid)
        assert str(parsed) == uid
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
    # Every bit but the six fixed ones varies.
    seen = [0, 0]
    for uid in uids:
        value = uuid.UUID(uid).int
        seen[0] |= value
        seen[1] |= ~value & (2**128 - 1)
    fixed = 0xF << 76 | 0x3 << 62
    assert seen[0] & seen[1] == (2**128 - 1) & ~fixed
