"""C_FindObjects narrowed in SQL by CKA_KEY_TYPE and CKA_ID (native.finding), through the
engine on a real store: the same objects as matching every candidate, and the criteria
that make the store's Locate do it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from native.test_token import P256, App, logged_in, read, true, ulong

from pkcs11_kmip.cryptoki.constants import CKA, CKK, CKM, CKO
from pkcs11_kmip.cryptoki.wire import Attribute, Mechanism, OutRequest
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import CryptographicAlgorithm
from pkcs11_kmip_server.native import finding, objects
from pkcs11_kmip_server.native.constants import MoreCKK, MoreCKM
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery
from pkcs11_kmip_server.store.sqlite import SqliteSession

AES = Mechanism(CKM.AES_KEY_GEN)


def find(app: App, session: int, *template: Attribute) -> set[int]:
    app.ok("C_FindObjectsInit", hSession=session, pTemplate=template)
    found = app.ok("C_FindObjects", hSession=session, phObject=OutRequest(True, 100))["phObject"]
    app.ok("C_FindObjectsFinal", hSession=session)
    handles = getattr(found, "data", None)
    assert isinstance(handles, tuple)
    return set(handles)


def key(app: App, session: int, mechanism: Mechanism, *template: Attribute) -> int:
    made = app.ok(
        "C_GenerateKey", hSession=session, pMechanism=mechanism, pTemplate=(true(CKA.TOKEN), *template)
    )
    assert isinstance(made["phKey"], int)
    return made["phKey"]


def kind(ckk: int) -> Attribute:
    return Attribute.of(CKA.KEY_TYPE, ulong(ckk))


def test_key_type_and_id_find_what_matching_every_object_finds(
    make_app: Callable[[str], App], alice_pin: str
) -> None:
    app, session = logged_in(make_app, alice_pin)
    chosen = key(app, session, AES, Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.ID, b"\x01"))
    derived = key(app, session, AES, Attribute.of(CKA.VALUE_LEN, ulong(32)))
    empty = key(app, session, AES, Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.ID, b""))
    length = Attribute.of(CKA.VALUE_LEN, ulong(32))
    generic = key(app, session, Mechanism(MoreCKM.GENERIC_SECRET_KEY_GEN), length)
    typed = key(app, session, Mechanism(MoreCKM.GENERIC_SECRET_KEY_GEN), length, kind(CKK.SHA256_HMAC))
    made = app.ok(
        "C_GenerateKeyPair",
        hSession=session,
        pMechanism=Mechanism(CKM.EC_KEY_PAIR_GEN),
        pPublicKeyTemplate=(
            Attribute.of(CKA.EC_PARAMS, P256),
            Attribute.of(CKA.LABEL, b"pair"),
            Attribute.of(CKA.ID, b"public id"),
            true(CKA.TOKEN),
        ),
        pPrivateKeyTemplate=(Attribute.of(CKA.LABEL, b"pair"), true(CKA.SIGN), true(CKA.TOKEN)),
    )
    public, private = made["phPublicKey"], made["phPrivateKey"]

    assert find(app, session, kind(CKK.AES)) == {chosen, derived, empty}
    assert find(app, session, kind(MoreCKK.GENERIC_SECRET)) == {generic}
    assert find(app, session, kind(CKK.SHA256_HMAC)) == {typed}  # the same algorithm, another type
    assert find(app, session, kind(CKK.EC)) == {public, private}  # (two algorithms: not narrowed)
    assert find(app, session, kind(CKK.RSA)) == set()
    assert find(app, session, Attribute.of(CKA.ID, b"\x01")) == {chosen}
    assert find(app, session, Attribute.of(CKA.ID, b"")) == {empty}
    (derived_id,) = read(app, session, derived, CKA.ID)
    assert derived_id is not None and len(derived_id) == objects.ID_BYTES
    assert find(app, session, Attribute.of(CKA.ID, derived_id)) == {derived}
    assert find(app, session, kind(CKK.AES), Attribute.of(CKA.ID, b"\x01")) == {chosen}
    assert find(app, session, kind(CKK.DES3), Attribute.of(CKA.ID, b"\x01")) == set()
    # By label: the public half, whose ID its private key does not share, still joins.
    assert find(app, session, Attribute.of(CKA.LABEL, b"pair"), Attribute.of(CKA.ID, b"public id")) == {
        public
    }
    assert find(app, session, Attribute.of(CKA.LABEL, b"pair"), kind(CKK.EC)) == {public, private}
    assert find(
        app, session, Attribute.of(CKA.CLASS, ulong(CKO.PUBLIC_KEY)), Attribute.of(CKA.ID, b"public id")
    ) == {public}


def test_the_store_locates_by_the_criteria(
    make_app: Callable[[str], App], alice_pin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C_FindObjectsInit hands the key type and ID to the store's Locate (not only compares
    them after): the criteria reach SqliteSession.locate."""
    app, session = logged_in(make_app, alice_pin)
    chosen = key(app, session, AES, Attribute.of(CKA.VALUE_LEN, ulong(16)), Attribute.of(CKA.ID, b"\x01"))
    seen: list[list[AttributeFilter]] = []
    locate = SqliteSession.locate

    def recording(self: SqliteSession, query: LocateQuery) -> tuple[list[str], int | None]:
        seen.append(list(query.filters))
        return locate(self, query)

    monkeypatch.setattr(SqliteSession, "locate", recording)
    assert find(app, session, kind(CKK.AES), Attribute.of(CKA.ID, b"\x01")) == {chosen}
    tags = {f.tag for filters in seen for f in filters}
    assert {Tag.CRYPTOGRAPHIC_ALGORITHM, Tag.ATTRIBUTE} <= tags


def test_the_criteria_keep_every_object_that_could_match() -> None:
    (aes,) = finding.criteria((kind(CKK.AES),), labelled=False)
    assert (aes.tag, aes.value) == (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)
    (generic,) = finding.criteria((kind(MoreCKK.GENERIC_SECRET),), labelled=False)
    assert generic.value is CryptographicAlgorithm.HMAC_SHA256
    # Several algorithms (EC, ECDSA; Ed25519, Ed448), or a type told by the curve: none.
    for ckk in (CKK.EC, MoreCKK.EC_EDWARDS, MoreCKK.EC_MONTGOMERY, 0x12345):
        assert finding.criteria((kind(ckk),), labelled=False) == []
    # A chosen ID of another length than the derived ones: the vendor attribute.
    (chosen,) = finding.criteria((Attribute.of(CKA.ID, b"\x01\x02"),), labelled=False)
    assert chosen.tag == Tag.ATTRIBUTE and chosen.value == objects.id_entry(b"\x01\x02").value
    assert finding.criteria((Attribute.of(CKA.ID, bytes(objects.ID_BYTES)),), labelled=False) == []
    assert finding.criteria((Attribute.of(CKA.ID, b"\x01\x02"),), labelled=True) == []
    assert finding.criteria((Attribute.of(CKA.KEY_TYPE, b"\x01"),), labelled=False) == []  # no CK_ULONG
