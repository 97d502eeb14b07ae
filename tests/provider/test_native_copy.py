"""C_CopyObject on the native token, over TLS: python-pkcs11 copies (tests/provider/
native_copy_host.py) and KMIP sees each copy as a managed object of the client's, with the
attributes PKCS#11's copy rules give it. (pkcs11-tool 0.23 has no --copy-obj.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    DecryptRequest,
    EncryptRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    RevokeRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicParameters, Link, RevocationReason, UsageLimits
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    LinkType,
    PaddingMethod,
    ResultReason,
    RevocationReasonCode,
    UsageLimitsUnit,
)
from testsupport.admin import admin
from testsupport.hosts import CopyHost
from testsupport.kmip_builders import as_attributes, name, symmetric_create
from testsupport.server import RunningServer

ENCRYPT_DECRYPT = CryptographicUsageMask.ENCRYPT | CryptographicUsageMask.DECRYPT
IDENTITY = "copier"


@pytest.fixture(scope="module")
def copier(native: RunningServer, module_path: Path, tmp_path_factory: pytest.TempPathFactory) -> CopyHost:
    return CopyHost(native, module_path, tmp_path_factory.mktemp("copier"), IDENTITY)


@pytest.fixture(scope="module")
def copied(copier: CopyHost) -> dict[str, str]:
    """The host's run of every copy it makes (once per module: the objects stay)."""
    return copier.run()


def one(kmip: KmipClient, label: str) -> str:
    (uid,) = kmip.call(LocateRequest(attributes=as_attributes((Tag.NAME, name(label))))).unique_identifiers
    return str(uid)


def attributes_of(kmip: KmipClient, uid: str) -> dict[int, list[object]]:
    answer = kmip.call(GetAttributesRequest(unique_identifier=uid))
    found: dict[int, list[object]] = {}
    for entry in answer.attributes.entries:
        found.setdefault(entry.tag, []).append(entry.value)
    return found


def test_a_copy_of_a_secret_key_is_the_same_key_with_the_templates_changes(copied: dict[str, str]) -> None:
    assert copied["aes.LABEL"] == "copy-dst"
    assert copied["aes.ID"] == b"src".hex()  # the source's CKA_ID
    assert copied["aes.TOKEN"] == "True"
    assert (copied["aes.SENSITIVE"], copied["aes.EXTRACTABLE"]) == ("True", "False")
    # The history of the value is the source's: it was readable once (PKCS#11 §5.7).
    assert (copied["aes.ALWAYS_SENSITIVE"], copied["aes.NEVER_EXTRACTABLE"]) == ("False", "False")
    assert copied["aes.LOCAL"] == "False" and copied["aes.COPYABLE"] == "True"
    assert copied["aes.ENCRYPT"] == "True"
    assert copied["aes.same_key"] == "True"  # what the copy encrypts, the source decrypts
    assert copied["aes.value_hidden"] == "AttributeSensitive"


def test_kmip_sees_the_copy_as_the_clients_object_with_the_same_value(
    native: RunningServer, copied: dict[str, str]
) -> None:
    with native.client(IDENTITY) as kmip:
        source, copy = one(kmip, "copy-src"), one(kmip, "copy-dst")
        assert source != copy
        found = attributes_of(kmip, copy)
        assert found[Tag.SENSITIVE] == [True] and found[Tag.EXTRACTABLE] == [False]
        assert found[Tag.ALWAYS_SENSITIVE] == [False] and found[Tag.NEVER_EXTRACTABLE] == [False]
        assert Tag.RANDOM_NUMBER_GENERATOR not in found  # not generated: CKA_LOCAL FALSE
        assert Tag.LINK not in found  # KMIP has no "copy of" link
        assert found[Tag.DIGEST] == attributes_of(kmip, source)[Tag.DIGEST]  # the same value
        with pytest.raises(KmipResultError) as refused:
            kmip.call(GetRequest(unique_identifier=copy))
        assert refused.value.reason is ResultReason.NOT_EXTRACTABLE
        parameters = CryptographicParameters(
            block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5
        )
        iv = bytes(16)
        sealed = kmip.call(
            EncryptRequest(
                unique_identifier=copy, cryptographic_parameters=parameters, data=b"kmip", iv_counter_nonce=iv
            )
        ).data
        opened = kmip.call(
            DecryptRequest(
                unique_identifier=source,
                cryptographic_parameters=parameters,
                data=sealed,
                iv_counter_nonce=iv,
            )
        ).data
        assert opened == b"kmip"


def test_what_a_copy_may_not_change_is_refused_with_its_ckr(copied: dict[str, str]) -> None:
    assert {key: value for key, value in copied.items() if key.startswith("refused.")} == {
        "refused.same_label": "TemplateIncomplete",  # KMIP Names are unique per owner
        "refused.taken_label": "AttributeValueInvalid",
        "refused.unsensitive": "AttributeReadOnly",
        "refused.extractable": "AttributeReadOnly",
        "refused.usage": "AttributeReadOnly",
        "refused.public": "TemplateInconsistent",
        "refused.key_type": "AttributeReadOnly",
        "refused.unknown": "AttributeTypeInvalid",
    }


def test_copyable_modifiable_destroyable_false_are_kept_and_enforced(copied: dict[str, str]) -> None:
    assert (copied["locked.COPYABLE"], copied["locked.MODIFIABLE"], copied["locked.DESTROYABLE"]) == (
        "False",
        "False",
        "False",
    )
    assert copied["locked.copy"] == "ActionProhibited"
    assert copied["locked.set"] == "ActionProhibited"
    assert copied["locked.destroy"] == "ActionProhibited"


def test_storage_flags_from_a_generation_template_and_copyable_set_false(
    native: RunningServer, copied: dict[str, str]
) -> None:
    """python-pkcs11 over TLS: CKA_COPYABLE/DESTROYABLE FALSE in C_GenerateKey's template are
    kept (KMIP sees the vendor attributes) and enforced; CKA_COPYABLE goes TRUE -> FALSE only."""
    assert (copied["born.COPYABLE"], copied["born.MODIFIABLE"], copied["born.DESTROYABLE"]) == (
        "False",
        "True",
        "False",
    )
    assert (copied["born.copy"], copied["born.destroy"]) == ("ActionProhibited", "ActionProhibited")
    assert (copied["later.copy_before"], copied["later.set_false"], copied["later.COPYABLE"]) == (
        "ok",
        "ok",
        "False",
    )
    assert copied["later.copy_after"] == "ActionProhibited"
    assert copied["later.set_true"] == "AttributeReadOnly"
    with native.client(IDENTITY) as kmip:
        for label in ("born-locked", "locked-later"):
            vendor = {
                (a.vendor_identification, a.attribute_name): getattr(a.attribute_value, "value", None)
                for a in attributes_of(kmip, one(kmip, label)).get(Tag.ATTRIBUTE, [])
                if isinstance(a, Attribute)
            }
            assert vendor.get(("x", "pkcs11-copyable")) is False, label


def test_a_session_copy_is_shared_by_the_applications_sessions_and_ends_with_its_own(
    native: RunningServer, copied: dict[str, str]
) -> None:
    assert copied["session.TOKEN"] == "False" and copied["session.LABEL"] == "copy-src"
    assert copied["session.same_key"] == "True"
    assert (copied["session.seen_before"], copied["session.seen_after"]) == ("1", "0")
    assert copied["read_only.token_copy"] == "SessionReadOnly"
    assert copied["read_only.session_copy"] == "ok"
    with native.client(IDENTITY) as kmip:
        assert one(kmip, "copy-src")  # only the token object: no KMIP client sees session objects


def test_copies_of_key_pairs_sign_and_keep_their_pair(native: RunningServer, copied: dict[str, str]) -> None:
    assert copied["ec.verifies"] == "True" and copied["ec.public_copy_verifies"] == "True"
    assert copied["ec.same_point"] == "True"
    assert copied["ec.ID"] == b"ec".hex() and copied["ec.LOCAL"] == "False"
    assert copied["rsa.verifies"] == "True" and copied["rsa.same_modulus"] == "True"
    with native.client(IDENTITY) as kmip:
        private, copy = one(kmip, "ec-src"), one(kmip, "ec-copy")
        public = attributes_of(kmip, private)[Tag.LINK]
        (link,) = attributes_of(kmip, copy)[Tag.LINK]  # the source's public key, the one it has
        assert isinstance(link, Link) and link.link_type is LinkType.PUBLIC_KEY_LINK
        assert link in public
        (back,) = attributes_of(kmip, one(kmip, "ec-pub-copy"))[Tag.LINK]
        assert isinstance(back, Link) and back.linked_object_identifier == private


def test_a_certificate_copies_with_its_value(copied: dict[str, str]) -> None:
    assert copied["cert.same_value"] == "True"
    assert copied["cert.sensitive"] == "AttributeTypeInvalid"


def test_compromised_revoked_limited_and_ungranted_objects_are_not_copied(
    native: RunningServer, copier: CopyHost, copied: dict[str, str]
) -> None:
    with native.client(IDENTITY) as kmip:
        for label in ("compromised", "revoked"):
            uid = str(
                kmip.call(
                    symmetric_create(CryptographicAlgorithm.AES, ENCRYPT_DECRYPT, label)
                ).unique_identifier
            )
            kmip.call(ActivateRequest(unique_identifier=uid))
            code = (
                RevocationReasonCode.KEY_COMPROMISE
                if label == "compromised"
                else RevocationReasonCode.CESSATION_OF_OPERATION
            )
            reason = RevocationReason(revocation_reason_code=code)
            kmip.call(RevokeRequest(unique_identifier=uid, revocation_reason=reason))
        limits = UsageLimits(usage_limits_total=10, usage_limits_unit=UsageLimitsUnit.OBJECT)
        limited = kmip.call(
            symmetric_create(
                CryptographicAlgorithm.AES, ENCRYPT_DECRYPT, "limited", (Tag.USAGE_LIMITS, limits)
            )
        ).unique_identifier
        kmip.call(ActivateRequest(unique_identifier=limited))
    with native.client("admin") as owner:  # another client's key, granted without Get
        other = str(
            owner.call(
                symmetric_create(CryptographicAlgorithm.AES, ENCRYPT_DECRYPT, "not-mine")
            ).unique_identifier
        )
        owner.call(ActivateRequest(unique_identifier=other))
    admin(native.data_dir, "grants", "add", "--user", IDENTITY, "--object", other,
          "--operations", "Locate,GetAttributes")  # fmt: skip
    refused = copier.run("copy", "compromised", "revoked", "limited", "not-mine")
    assert {key: value for key, value in refused.items() if key.startswith("copy.")} == {
        "copy.compromised": "ActionProhibited",
        "copy.revoked": "ActionProhibited",
        "copy.limited": "ActionProhibited",
        "copy.not-mine": "ActionProhibited",
    }


def test_a_granted_key_with_get_rights_copies_into_the_callers_own_object(
    native: RunningServer, copier: CopyHost, copied: dict[str, str]
) -> None:
    with native.client("admin") as owner:
        shared = str(
            owner.call(
                symmetric_create(CryptographicAlgorithm.AES, ENCRYPT_DECRYPT, "shared")
            ).unique_identifier
        )
        owner.call(ActivateRequest(unique_identifier=shared))
    admin(native.data_dir, "grants", "add", "--user", IDENTITY, "--object", shared, "--role", "reader")
    assert copier.run("copy", "shared")["copy.shared"] == "ok"
    with native.client(IDENTITY) as kmip:
        copy = one(kmip, "shared-copy")
        assert copy != shared and Tag.LINK not in attributes_of(kmip, copy)  # another owner's: no links
