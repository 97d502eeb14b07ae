#!/usr/bin/env python3
"""Locate with access control against the same Locate without it, in the store and through the server.

The population of issue 5's acceptance: 1,000 users, 100 user groups and 100 object
groups (each kind nested as a binary tree: group i contains groups 2i+1 and 2i+2),
100,000 objects spread over the owners and the object groups, one reader grant per user
group on an object group. The caller is a user in a leaf user group, so the grants of
every group above it apply (the nesting is walked transitively both ways).

In the store, in process, each query runs four ways on the same store, alternating,
median of the rounds:
  granted   the caller's Locate: owner = caller OR the grant rule (the Locate operation),
            with the caller's expanded grants in the store's cache (a caller's next request)
  cold      the same with the caller's cache entry dropped first (its first request after a
            grant change; the administrator's entry stays, as for the other modes)
  no-ac     the same Locate without access control (an administrator's: no condition)
  owner     the caller's own objects only (what Locate did before access control)

With --through-server the population is written into a real data directory instead
(`pkcs11-kmip init`, the caller's identity from `pkcs11-kmip ca issue-client u99`, the
store the server opens, the administrator the identity init made), the store-level table
is measured on it as above, then `pkcs11-kmip serve` runs on it and the same queries go
as KMIP Locate requests over mutual TLS, one persistent connection per principal: the
caller's (granted) and the administrator's (no-ac), alternating, median of the rounds,
each timed from the request's encoding to the decoded response. A Locate of a KMIP 1.3+
client that pages gets Located Items (a second, counting query), so the first page
without it is sent as KMIP 1.2 and the first page with it as 2.1.

The issue's goal is granted <= 2x no-ac. Every answer (uids in order, Located Items) of
the caller and of the administrator, in the store and through the server, is checked
equal to a Python evaluation of the rule and the criteria before anything is timed. The
Object Group cases: one the caller's grants cover (the criterion implies the rule,
store.access.LocateGrants.implied_by) and one they do not (the rule is checked on each of
its 1,000 objects, none visible).

    python bench/locate_access_bench.py [--objects 100000] [--rounds 7]
        [--through-server [--server-rounds 31]] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.payloads import LocateRequest
from pkcs11_kmip.kmip.messages.structures import Name
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm, NameType, ObjectType, Operation, State
from pkcs11_kmip_server.access import ROLES
from pkcs11_kmip_server.config import ServerConfig
from pkcs11_kmip_server.datadir import ADMIN
from pkcs11_kmip_server.serve import open_store
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord
from pkcs11_kmip_server.store.access import AccessAdmin, GroupKind
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from testsupport.admin import initialized
from testsupport.server import RunningServer

NOW = datetime(2026, 1, 1, tzinfo=UTC)
USERS, GROUPS = 1000, 100
CALLER_GROUP = 99  # a leaf: 99 -> 49 -> 24 -> 11 -> 5 -> 2 -> 0
CALLER = f"u{CALLER_GROUP}"  # u99 is in ug99
Answer = tuple[list[str], int | None]  # uids in order, Located Items


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


def key_name(index: int) -> Name:
    return Name(name_value=f"key-{index}", name_type=NameType.UNINTERPRETED_TEXT_STRING)


def populate(store: SqliteStore, objects: int, administrator: str) -> None:
    """The population, into `store`; `administrator` is the one principal with no access control."""
    with store.session() as session:
        for index in range(objects):
            attributes = Attributes.of(
                (Tag.NAME, key_name(index)),
                (Tag.OBJECT_GROUP, f"og{index % GROUPS}"),
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
                (Tag.STATE, State.PRE_ACTIVE),
            )
            owner = f"u{index % USERS}"
            session.insert(ObjectRecord(f"uid-{index}", ObjectType.SYMMETRIC_KEY, owner, attributes, None))
    admin = AccessAdmin.open(store.path)
    for user in range(USERS):
        admin.add_user(f"u{user}", admin=False)
    admin.add_user(administrator, admin=True)
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


def expected_visible(objects: int, caller: str) -> set[str]:
    groups: set[int] = set()
    for group in ancestors(CALLER_GROUP):
        groups |= subtree(grant_target(group))
    return {
        f"uid-{index}"
        for index in range(objects)
        if f"u{index % USERS}" == caller or index % GROUPS in groups
    }


def newest_first(uids: set[str]) -> list[str]:
    return sorted(uids, key=lambda uid: -int(uid.removeprefix("uid-")))


@dataclass(frozen=True)
class Case:
    """One Locate: its criteria and paging, as the store's query, as a KMIP request, and
    evaluated in Python over what a principal may see."""

    label: str
    criteria: tuple[tuple[Tag, Any], ...]
    matches: Callable[[int], bool]  # the criteria, on an object's index
    maximum: int | None = None
    offset: int = 0
    count: bool = False  # Located Items

    def query(self, who: str, shared: bool) -> LocateQuery:
        filters = [AttributeFilter(tag, value) for tag, value in self.criteria]
        return LocateQuery(
            owner=who,
            now=NOW,
            shared=shared,
            filters=filters,
            maximum=self.maximum,
            offset=self.offset,
            count=self.count,
        )

    @property
    def version(self) -> Version:
        """The server counts the matches of every paged Locate from 1.3 on, and only then."""
        paged = self.maximum is not None or self.offset
        return (1, 2) if paged and not self.count else (2, 1)

    def request(self) -> LocateRequest:
        assert not (self.criteria and self.version < (2, 0)), "1.x criteria go in an attribute list"
        return LocateRequest(
            attributes=Attributes.of(*self.criteria) if self.criteria else None,
            maximum_items=self.maximum,
            offset_items=self.offset or None,
        )

    def expect(self, visible: list[str]) -> Answer:
        """The answer over `visible` (newest first)."""
        found = [uid for uid in visible if self.matches(int(uid.removeprefix("uid-")))]
        end = None if self.maximum is None else self.offset + self.maximum
        return found[self.offset : end], len(found) if self.count else None


def make_cases(visible: set[str]) -> list[Case]:
    some_visible = int(next(uid for uid in sorted(visible) if not uid.endswith("99")).removeprefix("uid-"))
    visible_group = grant_target(CALLER_GROUP)
    granted_groups = set().union(*(subtree(grant_target(group)) for group in ancestors(CALLER_GROUP)))
    hidden_group = min(set(range(GROUPS)) - granted_groups)  # the rule runs per row
    return [
        Case("name (one match)", ((Tag.NAME, key_name(some_visible)),), lambda i: i == some_visible),
        Case(
            "object group",
            ((Tag.OBJECT_GROUP, f"og{visible_group}"),),
            lambda i: i % GROUPS == visible_group,
        ),
        Case(
            "object group outside the grants",
            ((Tag.OBJECT_GROUP, f"og{hidden_group}"),),
            lambda i: i % GROUPS == hidden_group,
        ),
        Case("first page of 100", (), lambda i: True, maximum=100),
        Case("first page of 100 + Located Items", (), lambda i: True, maximum=100, count=True),
        Case("page 11 + Located Items", (), lambda i: True, maximum=100, offset=1000, count=True),
    ]


def store_rows(
    store: SqliteStore, cases: list[Case], visible: dict[str, list[str]], administrator: str, rounds: int
) -> list[dict[str, Any]]:
    """The store-level table: each case's four modes, after checking the caller's and the
    administrator's answers."""
    with store.session(write=False) as session:
        for who in (CALLER, administrator):
            everything = session.locate(LocateQuery(owner=who, now=NOW, shared=True))
            assert everything == (visible[who], None), (who, len(everything[0]), len(visible[who]))
            for case in cases:
                assert session.locate(case.query(who, True)) == case.expect(visible[who]), (who, case.label)
    rows = []
    for case in cases:
        modes = {
            "granted": case.query(CALLER, True),
            "cold": case.query(CALLER, True),
            "no-ac": case.query(administrator, True),
            "owner": case.query(CALLER, False),
        }
        timings: dict[str, list[float]] = {mode: [] for mode in modes}
        with store.session(write=False) as session:
            for round_number in range(rounds):
                order = list(modes) if round_number % 2 == 0 else list(reversed(modes))
                for mode in order:
                    if mode == "cold":
                        session.grants.clear(CALLER)
                    begun = time.perf_counter()
                    session.locate(modes[mode])
                    timings[mode].append(time.perf_counter() - begun)
            found = {mode: session.locate(query) for mode, query in modes.items()}
        medians = {mode: statistics.median(timings[mode]) for mode in modes}
        row: dict[str, Any] = {"query": case.label}
        for mode in modes:
            row[f"{mode} ms"] = round(medians[mode] * 1000, 3)
            uids, total = found[mode]
            row[f"{mode} found"] = total if total is not None else len(uids)
        row["granted/no-ac"] = round(medians["granted"] / medians["no-ac"], 2)
        rows.append(row)
    return rows


def located(client: KmipClient, case: Case) -> Answer:
    client.version = case.version
    response = client.call(case.request())
    return [str(uid) for uid in response.unique_identifiers], response.located_items


def server_rows(
    server: RunningServer, cases: list[Case], visible: dict[str, list[str]], administrator: str, rounds: int
) -> list[dict[str, Any]]:
    """The same cases as KMIP Locate requests to the running server, the caller's and the
    administrator's alternating on one connection each, after checking both answers."""
    clients = {"granted": server.client(CALLER), "no-ac": server.client(administrator)}
    who = {"granted": CALLER, "no-ac": administrator}
    for client in clients.values():
        client.connect()
    try:
        for case in cases:
            for mode, client in clients.items():
                answer = located(client, case)
                expected = case.expect(visible[who[mode]])
                assert answer == expected, (mode, case.label, len(answer[0]), answer[1], expected[1])
        rows = []
        for case in cases:
            timings: dict[str, list[float]] = {mode: [] for mode in clients}
            for round_number in range(rounds):
                order = list(clients) if round_number % 2 == 0 else list(reversed(clients))
                for mode in order:
                    begun = time.perf_counter()
                    located(clients[mode], case)
                    timings[mode].append(time.perf_counter() - begun)
            medians = {mode: statistics.median(timings[mode]) for mode in clients}
            row: dict[str, Any] = {"query": case.label, "KMIP": ".".join(map(str, case.version))}
            for mode in clients:
                row[f"{mode} ms"] = round(medians[mode] * 1000, 3)
            row["granted/no-ac"] = round(medians["granted"] / medians["no-ac"], 2)
            rows.append(row)
        return rows
    finally:
        for client in clients.values():
            client.close()


def table(rows: list[dict[str, Any]]) -> str:
    headers = list(rows[0])
    lines = [" | ".join(headers), " | ".join("---" for _ in headers)]
    lines += [" | ".join(str(row[header]) for header in headers) for row in rows]
    return "\n".join(f"| {line} |" for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--through-server", action="store_true", help="also as KMIP requests to a real server"
    )
    parser.add_argument("--server-rounds", type=int, default=31)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        server: RunningServer | None = None
        if options.through_server:
            data_dir = initialized(Path(folder) / "data")  # `pkcs11-kmip init`: the admin identity
            server = RunningServer(data_dir)
            server.client_identity(CALLER)  # `pkcs11-kmip ca issue-client u99`
            opened = open_store(ServerConfig.load(data_dir))  # the store `serve` opens
            assert isinstance(opened, SqliteStore), "a data dir with [store] keys = database"
            store, administrator = opened, ADMIN
        else:
            store = SqliteStore(Path(folder) / "store.sqlite3", Sealer(secrets.token_bytes(32)))
            administrator = "root"
        populate(store, options.objects, administrator)
        built = time.perf_counter() - started
        caller_sees = expected_visible(options.objects, CALLER)
        visible = {
            CALLER: newest_first(caller_sees),
            administrator: [f"uid-{index}" for index in reversed(range(options.objects))],
        }
        cases = make_cases(caller_sees)
        try:
            results = store_rows(store, cases, visible, administrator, options.rounds)
        finally:
            store.close()
        through_server: list[dict[str, Any]] = []
        if server is not None:
            server.start()
            try:
                through_server = server_rows(server, cases, visible, administrator, options.server_rounds)
            finally:
                server.stop()

    load_after = os.getloadavg()
    summary = {
        "objects": options.objects,
        "users": USERS,
        "user groups": GROUPS,
        "object groups": GROUPS,
        "caller sees": len(caller_sees),
        "setup seconds": round(built, 1),
        "load average (1, 5, 15 min) before, after": [load_before, load_after],
        "operation": Operation.LOCATE.name,
        "results": results,
        "through the server": through_server,
    }
    if options.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(
        f"{options.objects} objects, {USERS} users, {GROUPS} nested user groups, {GROUPS} nested object"
        f" groups; the caller may see {len(caller_sees)} (setup {built:.1f} s); load average"
        f" {load_before[0]:.1f}/{load_before[1]:.1f} before, {load_after[0]:.1f}/{load_after[1]:.1f} after"
    )
    print(f"\nIn the store, in process, median of {options.rounds}:\n{table(results)}")
    if through_server:
        print(f"\nThrough the server (KMIP over mutual TLS), median of {options.server_rounds}:")
        print(table(through_server))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
