"""Attribute defaults and policy constraints over real TLS, in KMIP 2.1, 2.0 and 1.4.

One private server for the module; defaults and constraints are added with
`pkcs11-kmip admin defaults|constraints` on its data directory while it runs, and must
apply to the next request. Every rule gets its own object group, so the tests do not
see each other's rules. The KMIP policy operations (Set Defaults, Query Defaults
Information, Set/Get Constraints), which replace the whole policy, get a server each.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute, Attributes
from pkcs11_kmip.kmip.messages.attributes import (
    CommonAttributes,
    NewAttribute,
    PrivateKeyAttributes,
    PublicKeyAttributes,
    TemplateAttribute,
)
from pkcs11_kmip.kmip.messages.payloads import (
    AddAttributeRequest,
    CreateKeyPairRequest,
    CreateRequest,
    DeriveKeyRequest,
    GetAttributesRequest,
    GetConstraintsRequest,
    GetRequest,
    LocateRequest,
    ModifyAttributeRequest,
    QueryRequest,
    ReKeyRequest,
    RequestPayload,
    SetAttributeRequest,
    SetConstraintsRequest,
    SetDefaultsRequest,
)
from pkcs11_kmip.kmip.messages.policy import Constraint, Constraints, DefaultsInformation, ObjectDefaults
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicParameters,
    DerivationParameters,
    ObjectGroups,
    ObjectTypes,
)
from pkcs11_kmip.kmip.spec import Tag, Version
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DerivationMethod,
    HashingAlgorithm,
    ObjectType,
    PaddingMethod,
    QueryFunction,
    ResultReason,
)
from pkcs11_kmip.kmip.ttlv import Item, ItemType
from testsupport.admin import admin as run_admin
from testsupport.admin import admin_json
from testsupport.kmip_builders import aes_create, aes_register, name
from testsupport.managed_keys import register_object, secret_data
from testsupport.server import RunningServer, start_server

U = CryptographicUsageMask
ENCRYPT_DECRYPT = U.ENCRYPT | U.DECRYPT
CBC_PKCS5 = CryptographicParameters(block_cipher_mode=BlockCipherMode.CBC, padding_method=PaddingMethod.PKCS5)
# What a constraint violation is answered, per version (2.1 is the first with the reason).
VIOLATION: dict[Version, ResultReason] = {
    (2, 1): ResultReason.CONSTRAINT_VIOLATION,
    (2, 0): ResultReason.PERMISSION_DENIED,
    (1, 4): ResultReason.PERMISSION_DENIED,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("policy"))
    admin(running, "defaults", "add", "SecretAgent", "--object-type", "SymmetricKey", "--algorithm", "AES",
          "--length", "192", "--mode", "CBC", "--padding", "PKCS5", "--usage", "Encrypt|Decrypt")  # fmt: skip
    yield running
    if running.process is not None:
        running.stop()


def admin(server: RunningServer, *args: str) -> None:
    """`pkcs11-kmip admin ...` on the server's data directory (while it runs)."""
    run_admin(server.data_dir, *args)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def attributes_of(client: KmipClient, uid: str) -> Attributes:
    """The object's attributes (2.x clients only)."""
    found = client.call(GetAttributesRequest(unique_identifier=uid)).attributes
    assert found is not None
    return found


def attribute_values(client: KmipClient, uid: str) -> dict[str, Any]:
    """The object's attributes by name, in either generation of the protocol."""
    response = client.call(GetAttributesRequest(unique_identifier=uid))
    if response.attributes is not None:
        return {Tag(entry.tag).name: entry.value for entry in response.attributes}
    return {a.attribute_name.upper().replace(" ", "_"): a.attribute_value for a in response.attribute_list}


def assert_secret_agent_key(client: KmipClient, uid: str, length: int = 192) -> None:
    values = attribute_values(client, uid)
    assert values["CRYPTOGRAPHIC_ALGORITHM"] is CryptographicAlgorithm.AES
    assert values["CRYPTOGRAPHIC_LENGTH"] == length
    assert values["CRYPTOGRAPHIC_USAGE_MASK"] == ENCRYPT_DECRYPT
    parameters = values["CRYPTOGRAPHIC_PARAMETERS"]
    assert (parameters.block_cipher_mode, parameters.padding_method) == (
        BlockCipherMode.CBC,
        PaddingMethod.PKCS5,
    )
    key = client.call(GetRequest(unique_identifier=uid)).object.key_block.key_value.key_material
    assert len(key) * 8 == length


def refused(client: KmipClient, payload: RequestPayload) -> KmipResultError:
    with pytest.raises(KmipResultError) as failure:
        client.call(payload)
    return failure.value


def named_nowhere(client: KmipClient, label: str) -> bool:
    """Whether Locate finds no object with this Name (in the client's version)."""
    if client.version >= (2, 0):
        request = LocateRequest(attributes=Attributes.of((Tag.NAME, name(label))))
    else:
        request = LocateRequest(
            attribute_list=[Attribute(attribute_name="Name", attribute_value=name(label))]
        )
    return client.call(request).unique_identifiers == []


# --- defaults --------------------------------------------------------------------------------


def test_an_object_group_alone_gets_the_default_set(server: RunningServer) -> None:
    with server.client(version=(2, 1)) as client:
        request = CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes.of((Tag.OBJECT_GROUP, "SecretAgent"))
        )
        uid = str(client.call(request).unique_identifier)
        assert_secret_agent_key(client, uid)


def test_a_1x_client_naming_the_template_gets_the_default_set(server: RunningServer) -> None:
    # As DataStax sends it: a Template-Attribute naming a Template nobody registered.
    with server.client(version=(1, 4)) as client:
        request = CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            template_attribute=TemplateAttribute(names=[name("SecretAgent")]),
        )
        uid = str(client.call(request).unique_identifier)
        assert_secret_agent_key(client, uid)
        unknown = TemplateAttribute(names=[name(unique("no-such-template"))])
        failure = refused(
            client, CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, template_attribute=unknown)
        )
        assert failure.reason is ResultReason.ITEM_NOT_FOUND


def test_request_attributes_win_over_the_set(server: RunningServer) -> None:
    with server.client(version=(2, 1)) as client:
        request = CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=Attributes.of((Tag.OBJECT_GROUP, "SecretAgent"), (Tag.CRYPTOGRAPHIC_LENGTH, 256)),
        )
        uid = str(client.call(request).unique_identifier)
        assert_secret_agent_key(client, uid, length=256)


def test_a_name_prefix_selects_a_set_and_server_wide_defaults_fill_the_rest(server: RunningServer) -> None:
    prefix = unique("web") + "-"
    admin(
        server,
        "defaults",
        "add",
        prefix,
        "--by",
        "prefix",
        "--object-type",
        "SymmetricKey",
        "--usage",
        "Encrypt",
    )
    with server.client(version=(2, 1)) as client:
        # An AES Create without a length fails without server-wide defaults...
        no_length = CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=Attributes.of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.NAME, name(prefix + "1"))
            ),
        )
        assert refused(client, no_length).reason is ResultReason.INVALID_FIELD
        server_wide = unique("server-symmetric")
        admin(server, "defaults", "add", server_wide, "--by", "server", "--object-type", "SymmetricKey",
              "--length", "256", "--usage", "Decrypt")  # fmt: skip
        try:
            # ...and takes their length with them; the prefix set's usage wins over theirs.
            found = attributes_of(client, str(client.call(no_length).unique_identifier))
            assert found.get(Tag.CRYPTOGRAPHIC_LENGTH) == 256
            assert found.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == CryptographicUsageMask.ENCRYPT
        finally:
            admin(server, "defaults", "remove", server_wide)


# --- constraints -----------------------------------------------------------------------------


def constrained(server: RunningServer, rule: str, *scope: str) -> str:
    """A new constraint for a new object group (and `scope`); the group's name."""
    group = unique("group")
    admin(server, "constraints", "add", unique("rule"), rule, "--object-group", group, *scope)
    return group


@pytest.mark.parametrize("version", list(VIOLATION))
@pytest.mark.parametrize(
    ("rule", "attributes"),
    [
        ("min-length=AES:256", [(Tag.CRYPTOGRAPHIC_LENGTH, 128)]),
        ("algorithms=CAMELLIA", []),
        ("usage-required=WrapKey", []),
        ("usage-forbidden=Encrypt|Decrypt", []),
        ("max-lifetime-days=30", []),
        ("sensitive", []),
        ("not-extractable", []),
    ],
)
def test_each_constraint_refuses_a_create_and_stores_nothing(
    server: RunningServer, version: Version, rule: str, attributes: list[tuple[int, Any]]
) -> None:
    group = constrained(server, rule)
    label = unique("refused")
    length = next((value for tag, value in attributes if tag == Tag.CRYPTOGRAPHIC_LENGTH), 256)
    with server.client(version=version) as client:
        failure = refused(
            client, aes_create(version, length, (Tag.OBJECT_GROUP, group), (Tag.NAME, name(label)))
        )
        assert failure.reason is VIOLATION[version]
        assert failure.message is not None and rule in failure.message
        assert named_nowhere(client, label)


def test_a_key_within_the_rules_is_created(server: RunningServer) -> None:
    group = constrained(server, "max-lifetime-days=30")
    admin(server, "constraints", "add", unique("rule"), "min-length=AES:256", "--object-group", group)
    now = datetime.now(UTC).replace(microsecond=0)
    with server.client(version=(2, 1)) as client:
        dates = (
            (Tag.ACTIVATION_DATE, now + timedelta(days=1)),
            (Tag.DEACTIVATION_DATE, now + timedelta(days=20)),
        )
        client.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, group), *dates))
        too_long = (Tag.DEACTIVATION_DATE, now + timedelta(days=40))
        failure = refused(client, aes_create((2, 1), 256, (Tag.OBJECT_GROUP, group), too_long))
        assert failure.reason is ResultReason.CONSTRAINT_VIOLATION and "more than 30 days" in (
            failure.message or ""
        )


def test_a_constraint_for_another_group_or_type_does_not_apply(server: RunningServer) -> None:
    group = constrained(server, "min-length=AES:256", "--object-type", "PrivateKey")
    with server.client(version=(2, 1)) as client:
        client.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, group)))  # a symmetric key: not governed
        client.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, unique("other"))))


def test_register_is_checked_too(server: RunningServer) -> None:
    group = constrained(server, "min-length=AES:256")
    label = unique("registered")
    with server.client(version=(1, 4)) as client:
        request = aes_register((1, 4), bytes(16), (Tag.OBJECT_GROUP, group), (Tag.NAME, name(label)))
        assert refused(client, request).reason is ResultReason.PERMISSION_DENIED
        assert named_nowhere(client, label)


def test_create_key_pair_with_a_forbidden_usage_combination_stores_neither_half(
    server: RunningServer,
) -> None:
    group = constrained(server, "usage-forbidden=Sign|Decrypt", "--object-type", "PrivateKey")
    label = unique("pair")
    with server.client(version=(2, 1)) as client:
        request = CreateKeyPairRequest(
            common_attributes=CommonAttributes.of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.RSA),
                (Tag.CRYPTOGRAPHIC_LENGTH, 2048),
                (Tag.OBJECT_GROUP, group),
            ),
            private_key_attributes=PrivateKeyAttributes.of(
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.SIGN | CryptographicUsageMask.DECRYPT),
                (Tag.NAME, name(label)),
            ),
            public_key_attributes=PublicKeyAttributes.of(
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, CryptographicUsageMask.VERIFY),
                (Tag.NAME, name(label + "-public")),
            ),
        )
        failure = refused(client, request)
        assert failure.reason is ResultReason.CONSTRAINT_VIOLATION and "Sign|Decrypt" in (
            failure.message or ""
        )
        assert named_nowhere(client, label) and named_nowhere(client, label + "-public")


def test_re_key_is_checked_against_rules_added_since(server: RunningServer) -> None:
    group = unique("group")
    with server.client(version=(2, 1)) as client:
        uid = str(client.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, group))).unique_identifier)
        admin(server, "constraints", "add", unique("rule"), "usage-required=WrapKey", "--object-group", group)
        failure = refused(client, ReKeyRequest(unique_identifier=uid))
        assert failure.reason is ResultReason.CONSTRAINT_VIOLATION
        located = client.call(LocateRequest(attributes=Attributes.of((Tag.OBJECT_GROUP, group))))
        assert located.unique_identifiers == [uid]  # no replacement stored


def test_derive_key_is_checked_and_spends_nothing_when_refused(server: RunningServer) -> None:
    group = constrained(server, "min-length=AES:256")
    label = unique("derived")
    with server.client(version=(2, 1)) as client:
        source = register_object(client, ObjectType.SECRET_DATA, secret_data(os.urandom(32)), U.DERIVE_KEY)

        def derive(bits: int) -> DeriveKeyRequest:
            return DeriveKeyRequest(
                object_type=ObjectType.SYMMETRIC_KEY,
                unique_identifiers=[source],
                derivation_method=DerivationMethod.HKDF,
                derivation_parameters=DerivationParameters(
                    cryptographic_parameters=CryptographicParameters(
                        hashing_algorithm=HashingAlgorithm.SHA_256
                    )
                ),
                attributes=Attributes.of(
                    (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES),
                    (Tag.CRYPTOGRAPHIC_LENGTH, bits),
                    (Tag.CRYPTOGRAPHIC_USAGE_MASK, ENCRYPT_DECRYPT),
                    (Tag.OBJECT_GROUP, group),
                    (Tag.NAME, name(label)),
                ),
            )

        assert refused(client, derive(128)).reason is ResultReason.CONSTRAINT_VIOLATION
        assert named_nowhere(client, label)
        assert not any(entry.tag == Tag.LINK for entry in attributes_of(client, source))  # no link to it
        client.call(derive(256))


def test_joining_a_group_brings_its_rules(server: RunningServer) -> None:
    group = constrained(server, "sensitive")
    with server.client(version=(2, 1)) as client:
        uid = str(client.call(aes_create((2, 1), 256)).unique_identifier)
        join = AddAttributeRequest(
            unique_identifier=uid, new_attribute=NewAttribute.of((Tag.OBJECT_GROUP, group))
        )
        assert refused(client, join).reason is ResultReason.CONSTRAINT_VIOLATION
        assert attributes_of(client, uid).get_all(Tag.OBJECT_GROUP) == []
        sensitive = SetAttributeRequest(
            unique_identifier=uid, new_attribute=NewAttribute.of((Tag.SENSITIVE, True))
        )
        client.call(sensitive)
        client.call(join)
        assert attributes_of(client, uid).get_all(Tag.OBJECT_GROUP) == [group]


def test_a_rule_for_a_group_governs_the_groups_nested_in_it(server: RunningServer) -> None:
    """ "AES keys >= 256 bits for group payments" with payments-eu nested in payments (and
    payments-eu-de in that): a 128-bit key in either nested group is refused, naming the
    rule; taking the nesting away lifts it at the next request, as for grants."""
    payments = constrained(server, "min-length=AES:256")
    europe, germany = unique("payments-eu"), unique("payments-eu-de")
    admin(server, "groups", "add", payments, "--objects", "--group", europe)
    admin(server, "groups", "add", europe, "--objects", "--group", germany)
    with server.client(version=(2, 1)) as client:
        for group in (europe, germany):
            failure = refused(client, aes_create((2, 1), 128, (Tag.OBJECT_GROUP, group)))
            assert failure.reason is ResultReason.CONSTRAINT_VIOLATION and "min-length=AES:256" in (
                failure.message or ""
            )
        client.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, germany)))
        client.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, unique("elsewhere"))))
        admin(server, "groups", "remove", payments, "--objects", "--group", europe)
        client.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, germany)))


@pytest.mark.parametrize("version", [(2, 1), (1, 4)])
def test_modify_attribute_that_breaks_a_rule_is_refused_and_keeps_the_old_value(
    server: RunningServer, version: Version
) -> None:
    group = constrained(server, "max-lifetime-days=30")
    now = datetime.now(UTC).replace(microsecond=0)
    within = now + timedelta(days=10)
    with server.client(version=version) as client:
        created = client.call(
            aes_create(version, 256, (Tag.OBJECT_GROUP, group), (Tag.DEACTIVATION_DATE, within))
        )
        uid = str(created.unique_identifier)
        later = now + timedelta(days=90)
        if version >= (2, 0):
            request = ModifyAttributeRequest(
                unique_identifier=uid, new_attribute=NewAttribute.of((Tag.DEACTIVATION_DATE, later))
            )
        else:
            request = ModifyAttributeRequest(
                unique_identifier=uid,
                attribute=Attribute(attribute_name="Deactivation Date", attribute_value=later),
            )
        failure = refused(client, request)
        assert failure.reason is VIOLATION[version]
        assert attribute_values(client, uid)["DEACTIVATION_DATE"] == within
        if version >= (2, 0):  # a change within the rule goes through
            sooner = ModifyAttributeRequest(
                unique_identifier=uid,
                new_attribute=NewAttribute.of((Tag.DEACTIVATION_DATE, now + timedelta(days=5))),
            )
            client.call(sooner)
            assert attribute_values(client, uid)["DEACTIVATION_DATE"] == now + timedelta(days=5)


def test_a_constraint_removed_applies_no_more(server: RunningServer) -> None:
    group, rule = unique("group"), unique("rule")
    admin(server, "constraints", "add", rule, "min-length=AES:256", "--object-group", group)
    with server.client(version=(2, 1)) as client:
        assert refused(client, aes_create((2, 1), 128, (Tag.OBJECT_GROUP, group))).message
        admin(server, "constraints", "remove", rule)
        client.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, group)))


# --- the KMIP policy operations --------------------------------------------------------------


@pytest.fixture
def policy_server(tmp_path: Any) -> Iterator[RunningServer]:
    running = start_server(tmp_path)
    admin(running, "users", "add", "boss", "--admin", "--no-password")
    admin(running, "users", "add", "clerk", "--no-password")
    yield running
    running.stop()


def _vendor_text(attribute_name: str, text: str) -> tuple[int, Attribute]:
    value = Item(Tag.ATTRIBUTE_VALUE, ItemType.TEXT_STRING, text)
    return Tag.ATTRIBUTE, Attribute(
        vendor_identification="pkcs11-kmip", attribute_name=attribute_name, attribute_value=value
    )


def test_set_and_get_constraints_round_trip_for_an_administrator(policy_server: RunningServer) -> None:
    wanted = Constraints(
        constraints=[
            Constraint(
                object_types=ObjectTypes(object_types=[ObjectType.SYMMETRIC_KEY]),
                object_groups=ObjectGroups(object_groups=["payments"]),
                attributes=Attributes.of(
                    _vendor_text("constraint-name", "payments-aes-256"),
                    _vendor_text("constraint-rule", "min-length=AES:256"),
                ),
            )
        ]
    )
    with policy_server.client("boss") as boss, policy_server.client("clerk") as clerk:
        assert boss.call(GetConstraintsRequest()).constraints.constraints == []
        boss.call(SetConstraintsRequest(constraints=wanted))
        assert boss.call(GetConstraintsRequest()).constraints == wanted
        # The KMIP rule is the CLI's rule, and it is in force at once.
        listed = admin_json(policy_server.data_dir, "constraints", "list")
        assert [(row["name"], row["rule"], row["object_groups"], row["created_by"]) for row in listed] == [
            ("payments-aes-256", "min-length=AES:256", ["payments"], "boss")
        ]
        failure = refused(clerk, aes_create((2, 1), 128, (Tag.OBJECT_GROUP, "payments")))
        assert failure.reason is ResultReason.CONSTRAINT_VIOLATION and "payments-aes-256" in (
            failure.message or ""
        )
        bad = Constraints(
            constraints=[
                Constraint(attributes=Attributes.of(_vendor_text("constraint-rule", "min-length=lots")))
            ]
        )
        assert refused(boss, SetConstraintsRequest(constraints=bad)).reason is ResultReason.INVALID_FIELD
        boss.call(SetConstraintsRequest())  # none: every rule goes
        assert boss.call(GetConstraintsRequest()).constraints.constraints == []
        clerk.call(aes_create((2, 1), 128, (Tag.OBJECT_GROUP, "payments")))


def test_set_defaults_and_query_defaults_information(policy_server: RunningServer) -> None:
    information = DefaultsInformation(
        object_defaults=[
            ObjectDefaults(
                object_type=ObjectType.SYMMETRIC_KEY,
                attributes=Attributes.of(
                    (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.CRYPTOGRAPHIC_LENGTH, 256)
                ),
            ),
            ObjectDefaults(
                object_type=ObjectType.SYMMETRIC_KEY,
                attributes=Attributes.of(
                    (Tag.CRYPTOGRAPHIC_LENGTH, 192),
                    (Tag.CRYPTOGRAPHIC_PARAMETERS, CBC_PKCS5),
                    (Tag.CRYPTOGRAPHIC_USAGE_MASK, ENCRYPT_DECRYPT),
                ),
                object_groups=ObjectGroups(object_groups=["SecretAgent"]),
            ),
        ]
    )
    with policy_server.client("boss") as boss, policy_server.client("clerk") as clerk:
        boss.call(SetDefaultsRequest(defaults_information=information))
        queried = clerk.call(QueryRequest(query_functions=[QueryFunction.QUERY_DEFAULTS_INFORMATION]))
        listed = queried.defaults_information.object_defaults
        assert len(listed) == 2 and all(given in listed for given in information.object_defaults)
        # The server-wide AES-256 fills what the group set leaves out; the group set's length wins.
        agent = clerk.call(
            CreateRequest(
                object_type=ObjectType.SYMMETRIC_KEY,
                attributes=Attributes.of((Tag.OBJECT_GROUP, "SecretAgent")),
            )
        )
        assert_secret_agent_key(clerk, str(agent.unique_identifier))
        plain = clerk.call(CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=Attributes()))
        found = attributes_of(clerk, str(plain.unique_identifier))
        assert (found.get(Tag.CRYPTOGRAPHIC_ALGORITHM), found.get(Tag.CRYPTOGRAPHIC_LENGTH)) == (
            CryptographicAlgorithm.AES,
            256,
        )
        boss.call(SetDefaultsRequest(defaults_information=None))
        emptied = clerk.call(QueryRequest(query_functions=[QueryFunction.QUERY_DEFAULTS_INFORMATION]))
        assert emptied.defaults_information.object_defaults == []


def test_policy_operations_are_for_administrators_only_and_audited(policy_server: RunningServer) -> None:
    with policy_server.client("clerk") as clerk:
        for payload in (
            GetConstraintsRequest(),
            SetConstraintsRequest(),
            SetDefaultsRequest(defaults_information=DefaultsInformation()),
        ):
            assert refused(clerk, payload).reason is ResultReason.PERMISSION_DENIED
    with policy_server.client("boss") as boss:
        boss.call(SetConstraintsRequest())
    lines = [json.loads(line) for line in (policy_server.data_dir / "audit.log").read_text().splitlines()]
    requests = [
        (line["principal"], item["operation"], item["status"])
        for line in lines
        if line["kind"] == "request"
        for item in line["items"]
    ]
    assert ("clerk", "Set Defaults", "Operation Failed") in requests
    assert ("boss", "Set Constraints", "Success") in requests


def test_constraints_in_the_standard_form_mean_these_values_and_at_least_this_length(
    policy_server: RunningServer,
) -> None:
    # The shape of TC-MD-24-21: AES of 256 bits or more in Group1, of 192 or more elsewhere.
    def constraint(length: int, *groups: str) -> Constraint:
        return Constraint(
            object_types=ObjectTypes(object_types=[ObjectType.SYMMETRIC_KEY]),
            object_groups=ObjectGroups(object_groups=list(groups)) if groups else None,
            attributes=Attributes.of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES), (Tag.CRYPTOGRAPHIC_LENGTH, length)
            ),
        )

    wanted = Constraints(constraints=[constraint(256, "Group1"), constraint(192)])
    with policy_server.client("boss") as boss, policy_server.client("clerk") as clerk:
        boss.call(SetConstraintsRequest(constraints=wanted))
        assert boss.call(GetConstraintsRequest()).constraints == wanted
        listed = admin_json(policy_server.data_dir, "constraints", "list")
        assert [(row["name"], row["rule"]) for row in listed] == [
            ("constraint-001", "algorithms=AES; min-length=256"),
            ("constraint-002", "algorithms=AES; min-length=192"),
        ]
        failure = refused(clerk, aes_create((2, 1), 192, (Tag.OBJECT_GROUP, "Group1")))
        assert failure.reason is ResultReason.CONSTRAINT_VIOLATION and "constraint-001" in (
            failure.message or ""
        )
        clerk.call(aes_create((2, 1), 256, (Tag.OBJECT_GROUP, "Group1")))
        clerk.call(aes_create((2, 1), 192))
        assert refused(clerk, aes_create((2, 1), 128)).reason is ResultReason.CONSTRAINT_VIOLATION
        camellia = CreateRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            attributes=Attributes.of(
                (Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.CAMELLIA),
                (Tag.CRYPTOGRAPHIC_LENGTH, 256),
            ),
        )
        assert "not among AES" in (refused(clerk, camellia).message or "")
        not_a_rule = Constraints(constraints=[Constraint(attributes=Attributes.of((Tag.SENSITIVE, False)))])
        assert (
            refused(boss, SetConstraintsRequest(constraints=not_a_rule)).reason is ResultReason.INVALID_FIELD
        )
