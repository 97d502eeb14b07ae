#!/usr/bin/env python3
"""Locate with access control against the same Locate without it, in the store, in process.

The population of issue 5's acceptance: 1,000 users, 100 user groups and 100 object
groups (each kind nested as a binary tree: group i contains groups 2i+1 and 2i+2),
100,000 objects spread over the owners and the object groups, one reader grant per user
group on an object group. The caller is a user in a leaf user group, so the grants of
every group above it apply (the nesting is walked transitively both ways).

Each query runs four ways on the same store, alternating, median of the rounds:
  granted   the caller's Locate: owner = caller OR the grant rule (the Locate operation),
            with the caller's expanded grants in the store's cache (a caller's next request)
  cold      the same with the caller's cache entry dropped first (its first request after a
            grant change; the administrator's entry stays, as for the other modes)
  no-ac     the same Locate without access control (an administrator's: no condition)
  owner     the caller's own objects only (what Locate did before access control)
The issue's goal is granted <= 2x no-ac. Every case's granted answer (uids in order,
Located Items) is checked equal to a Python evaluation of the rule before anything is
timed. The Object Group cases: one the
caller's grants cover (the criterion implies the rule, store.access.LocateGrants.implied_by)
and one they do not (the rule is checked on each of its 1,000 objects, none visible).

    python bench/locate_access_bench.py [--objects 100000] [--rounds 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, NameType, ObjectType, Operation, State
from pkcs11_kmip_server.access import ROLES
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord
from pkcs11_kmip_server.store.access import AccessAdmin, GroupKind
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USERS, GROUPS = 1000, 100
CALLER_GROUP = 99  # a leaf: 99 -> 49 -> 24 -> 11 -> 5 -> 2 -> 0


def grant_target(group: int) -> int:
    """The object group user group `group` may read: spread, mostly small subtrees."""
    return (group * 37 + 50) % GROUPS


def subtree(root: int) -> set[int]:
    found, todo = set(), [root]
    while todo:
        node = todo.pop()
        if node < GROUPS and node not in found:
            found.add(node)
            todo += [2 * node + 1, 2 * node + 2]
    return found


def ancestors(node: int) -> list[int]:
    chain = [node]
    while node:
        node = (node - 1) // 2
        chain.append(node)
    return chain


def populate(path: Path, objects: int) -> tuple[SqliteStore, str]:
    store = SqliteStore(path, Sealer(secrets.token_bytes(32)))
    with store.session() as session:
        for index in range(objects):
            attributes = Attributes.of(
                (Tag.NAME, Name(name_value=f"key-{index}", name_type=NameType.UNINTERPRETED_TEXT_STRING)),
                (Tag.OBJECT_GROUP, f"og{index % GROUPS}"),
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
                (Tag.STATE, State.PRE_ACTIVE),
            )
            owner = f"u{index % USERS}"
            session.insert(ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, owner, attributes, None))
    admin = AccessAdmin.open(path)
    for user in range(USERS):
        admin.add_user(f"u{user}", admin=False)
    admin.add_user("root", admin=True)
    kinds: tuple[tuple[GroupKind, str], ...] = (("user", "ug"), ("object", "og"))
    for kind, prefix in kinds:
        for group in range(GROUPS):
            children = [f"{prefix}{c}" for c in (2 * group + 1, 2 * group + 2) if c < GROUPS]
            members = [f"u{u}" for u in range(group, USERS, GROUPS)] if kind == "user" else []
            admin.add_group(kind, f"{prefix}{group}", users=members, groups=children)
    reader = [int(operation) for operation in ROLES["reader"]]
    for group in range(GROUPS):
        admin.add_grant("group", f"ug{group}", "group", f"og{grant_target(group)}", reader, "reader", "bench")
    admin.close()
    return store, f"u{CALLER_GROUP}"  # u99 is in ug99


def expected_visible(objects: int, caller: str) -> set[str]:
    groups: set[int] = set()
    for group in ancestors(CALLER_GROUP):
        groups |= subtree(grant_target(group))
    return {
        f"uid-{index}"
        for index in range(objects)
        if f"u{index % USERS}" == caller or index % GROUPS in groups
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        store, caller = populate(Path(folder) / "store.sqlite3", options.objects)
        built = time.perf_counter() - started
        visible = expected_visible(options.objects, caller)
        some_visible = next(uid for uid in sorted(visible) if not uid.endswith("99"))
        visible_group = f"og{grant_target(CALLER_GROUP)}"
        granted_groups = set().union(*(subtree(grant_target(group)) for group in ancestors(CALLER_GROUP)))
        hidden_group = f"og{min(set(range(GROUPS)) - granted_groups)}"  # the rule runs per row
        cases: dict[str, Callable[[str, bool], LocateQuery]] = {
            "name (one match)": lambda who, shared: LocateQuery(
                owner=who,
                now=NOW,
                shared=shared,
                filters=[AttributeFilter(Tag.NAME, Name(name_value=some_visible.replace("uid", "key")))],
            ),
            "object group": lambda who, shared: LocateQuery(
                owner=who, now=NOW, shared=shared, filters=[AttributeFilter(Tag.OBJECT_GROUP, visible_group)]
            ),
            "object group outside the grants": lambda who, shared: LocateQuery(
                owner=who, now=NOW, shared=shared, filters=[AttributeFilter(Tag.OBJECT_GROUP, hidden_group)]
            ),
            "first page of 100": lambda who, shared: LocateQuery(
                owner=who, now=NOW, shared=shared, maximum=100
            ),
            "page 11 + Located Items": lambda who, shared: LocateQuery(
                owner=who, now=NOW, shared=shared, maximum=100, offset=1000, count=True
            ),
        }
        # Correctness first: the granted Locate finds exactly what the rule allows, in order
        # (newest first), each case's page and Located Items as the rule evaluated here gives.
        newest_first = sorted(visible, key=lambda uid: -int(uid.removeprefix("uid-")))

        def in_group(group: str) -> list[str]:
            return [uid for uid in newest_first if int(uid.removeprefix("uid-")) % GROUPS == int(group[2:])]

        expected: dict[str, tuple[list[str], int | None]] = {
            "name (one match)": ([some_visible], None),
            "object group": (in_group(visible_group), None),
            "object group outside the grants": (in_group(hidden_group), None),
            "first page of 100": (newest_first[:100], None),
            "page 11 + Located Items": (newest_first[1000:1100], len(visible)),
        }
        with store.session(write=False) as session:
            everything, _ = session.locate(LocateQuery(owner=caller, now=NOW, shared=True))
            assert everything == newest_first, (len(everything), len(visible))
            for label, make in cases.items():
                assert session.locate(make(caller, True)) == expected[label], label
        results = []
        for label, make in cases.items():
            modes = {
                "granted": make(caller, True),
                "cold": make(caller, True),
                "no-ac": make("root", True),
                "owner": make(caller, False),
            }
            timings: dict[str, list[float]] = {mode: [] for mode in modes}
            with store.session(write=False) as session:
                for round_number in range(options.rounds):
                    order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
                    for mode in order:
                        if mode == "cold":
                            session.grants.clear(caller)
                        begun = time.perf_counter()
                        session.locate(modes[mode])
                        timings[mode].append(time.perf_counter() - begun)
                found = {mode: session.locate(query) for mode, query in modes.items()}
            medians = {mode: statistics.median(timings[mode]) for mode in modes}
            row: dict[str, str | float | int] = {"query": label}
            for mode in modes:
                row[f"{mode} ms"] = round(medians[mode] * 1000, 3)
                uids, total = found[mode]
                row[f"{mode} found"] = total if total is not None else len(uids)
            row["granted/no-ac"] = round(medians["granted"] / medians["no-ac"], 2)
            results.append(row)
        store.close()

    summary = {
        "objects": options.objects,
        "users": USERS,
        "user groups": GROUPS,
        "object groups": GROUPS,
        "caller sees": len(visible),
        "setup seconds": round(built, 1),
        "operation": Operation.LOCATE.name,
        "results": results,
    }
    if options.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{options.objects} objects, {USERS} users, {GROUPS} nested user groups, {GROUPS} nested object"
        f" groups; the caller may see {len(visible)} (setup {built:.1f} s); median of {options.rounds}"
    )
    headers = list(results[0])
    print(" | ".join(headers))
    for row in results:
        print(" | ".join(str(row[header]) for header in headers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
