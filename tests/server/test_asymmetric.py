"""Create Key Pair and Re-key Key Pair against the real server over TLS, in KMIP 2.1 and 1.4.

Every generated pair is fetched back and loaded with pyca/cryptography: the public key
the server stored must be the public half of the private key it stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x25519

from pkcs11_kmip.kmip.client import KmipClient, KmipResultError
from pkcs11_kmip.kmip.messages import Attribute, Attributes, ResponseBatchItem
from pkcs11_kmip.kmip.messages.attributes import (
    CommonAttributes,
    CommonTemplateAttribute,
    PrivateKeyAttributes,
    PrivateKeyTemplateAttribute,
    PublicKeyAttributes,
    PublicKeyTemplateAttribute,
)
from pkcs11_kmip.kmip.messages.objects import (
    KeyBlock,
    KeyValue,
    PrivateKey,
    PublicKey,
    TransparentKeyMaterial,
)
from pkcs11_kmip.kmip.messages.payloads import (
    CreateKeyPairRequest,
    DestroyRequest,
    GetAttributesRequest,
    GetRequest,
    LocateRequest,
    RegisterRequest,
    ReKeyKeyPairRequest,
)
from pkcs11_kmip.kmip.messages.structures import CryptographicDomainParameters, Link, Name
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    LinkType,
    NameType,
    ObjectType,
    RecommendedCurve,
    ResultReason,
    ResultStatus,
    State,
)
from testsupport.server import RunningServer

A = CryptographicAlgorithm
F = KeyFormatType
RC = RecommendedCurve
R = ResultReason
SIGN, VERIFY = CryptographicUsageMask.SIGN, CryptographicUsageMask.VERIFY
ALGORITHM, LENGTH, DOMAIN = (
    Tag.CRYPTOGRAPHIC_ALGORITHM,
    Tag.CRYPTOGRAPHIC_LENGTH,
    Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
)


def name(text: str) -> Name:
    return Name(name_value=text, name_type=NameType.UNINTERPRETED_TEXT_STRING)


def curve(recommended: RecommendedCurve) -> CryptographicDomainParameters:
    return CryptographicDomainParameters(recommended_curve=recommended)


def pair_request(
    common: Sequence[tuple[int, Any]],
    private: Sequence[tuple[int, Any]] | None = None,
    public: Sequence[tuple[int, Any]] | None = None,
) -> CreateKeyPairRequest:
    return CreateKeyPairRequest(
        common_attributes=CommonAttributes.of(*common),
        private_key_attributes=PrivateKeyAttributes.of(*(private or [(Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN)])),
        public_key_attributes=PublicKeyAttributes.of(*(public or [(Tag.CRYPTOGRAPHIC_USAGE_MASK, VERIFY)])),
    )


def payload(item: ResponseBatchItem) -> Any:
    assert item.result_status is ResultStatus.SUCCESS, item.result_message
    return item.response_payload


def attributes_of(kmip: KmipClient, uid: str) -> Attributes:
    response = kmip.call(GetAttributesRequest(unique_identifier=uid))
    assert isinstance(response.attributes, Attributes)
    return response.attributes


def links(attributes: Attributes) -> dict[LinkType, str]:
    return {link.link_type: link.linked_object_identifier for link in attributes.get_all(Tag.LINK)}


def fetched_block(kmip: KmipClient, uid: str, key_format: KeyFormatType | None = None) -> KeyBlock:
    block = kmip.call(GetRequest(unique_identifier=uid, key_format_type=key_format)).object.key_block
    assert isinstance(block, KeyBlock)
    return block


def der(block: KeyBlock) -> bytes:
    assert isinstance(block.key_value, KeyValue) and isinstance(block.key_value.key_material, bytes)
    return block.key_value.key_material


def transparent(block: KeyBlock) -> TransparentKeyMaterial:
    assert isinstance(block.key_value, KeyValue)
    assert isinstance(block.key_value.key_material, TransparentKeyMaterial)
    return block.key_value.key_material


def public_der(key: Any) -> bytes:
    """SubjectPublicKeyInfo: one byte string to compare any two public keys by."""
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[no-any-return]


def load_pair(kmip: KmipClient, private_uid: str, public_uid: str) -> tuple[Any, Any]:
    """The stored private key and public key, read back as PKCS#8 and SubjectPublicKeyInfo."""
    private = serialization.load_der_private_key(der(fetched_block(kmip, private_uid, F.PKCS_8)), None)
    public = serialization.load_der_public_key(der(fetched_block(kmip, public_uid, F.X_509)))
    assert public_der(private.public_key()) == public_der(public)
    return private, public


@pytest.fixture
def kmip(kmip_server: RunningServer) -> Iterator[KmipClient]:
    with kmip_server.client("asymmetric") as client:
        yield client


# --- Create Key Pair: each algorithm, size and curve -------------------------------------

PAIRS = [
    pytest.param([(ALGORITHM, A.RSA), (LENGTH, 2048)], rsa.RSAPrivateKey, 2048, id="rsa-2048"),
    pytest.param([(ALGORITHM, A.RSA), (LENGTH, 3072)], rsa.RSAPrivateKey, 3072, id="rsa-3072"),
    pytest.param([(ALGORITHM, A.RSA), (LENGTH, 4096)], rsa.RSAPrivateKey, 4096, id="rsa-4096"),
    pytest.param(
        [(ALGORITHM, A.EC), (DOMAIN, curve(RC.P_256))], ec.EllipticCurvePrivateKey, 256, id="ec-p256"
    ),
    pytest.param(
        [(ALGORITHM, A.ECDSA), (DOMAIN, curve(RC.P_384))], ec.EllipticCurvePrivateKey, 384, id="ecdsa-p384"
    ),
    pytest.param([(ALGORITHM, A.EC), (LENGTH, 521)], ec.EllipticCurvePrivateKey, 521, id="ec-by-length-521"),
    pytest.param(
        [(ALGORITHM, A.ECDH), (DOMAIN, curve(RC.SECP256_K1))],
        ec.EllipticCurvePrivateKey,
        256,
        id="ecdh-secp256k1",
    ),
    pytest.param([(ALGORITHM, A.ED25519)], ed25519.Ed25519PrivateKey, 256, id="ed25519"),
    pytest.param([(ALGORITHM, A.ED448)], ed448.Ed448PrivateKey, 448, id="ed448"),
    pytest.param(
        [(ALGORITHM, A.ECDH), (DOMAIN, curve(RC.CURVE25519))], x25519.X25519PrivateKey, 256, id="x25519"
    ),
]


@pytest.mark.parametrize(("common", "key_type", "length"), PAIRS)
def test_create_key_pair_makes_a_linked_pair_of_the_asked_kind(
    kmip: KmipClient, common: list[tuple[int, Any]], key_type: type, length: int
) -> None:
    response = kmip.call(pair_request(common))
    private_uid, public_uid = response.private_key_unique_identifier, response.public_key_unique_identifier
    assert private_uid != public_uid
    private, _public = load_pair(kmip, private_uid, public_uid)
    assert isinstance(private, key_type)
    if isinstance(private, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        assert private.key_size == length
    algorithm = dict(common)[Tag.CRYPTOGRAPHIC_ALGORITHM]
    for uid, object_type, usage, link_type, other in (
        (private_uid, ObjectType.PRIVATE_KEY, SIGN, LinkType.PUBLIC_KEY_LINK, public_uid),
        (public_uid, ObjectType.PUBLIC_KEY, VERIFY, LinkType.PRIVATE_KEY_LINK, private_uid),
    ):
        attributes = attributes_of(kmip, uid)
        assert attributes.get(Tag.OBJECT_TYPE) is object_type
        assert attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is algorithm
        assert attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) == length
        assert attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == usage
        assert links(attributes) == {link_type: other}
        assert attributes.get(Tag.STATE) is State.PRE_ACTIVE
        assert len(attributes.get_all(Tag.KEY_FORMAT_TYPE)) == 1
        if isinstance(private, ec.EllipticCurvePrivateKey):
            domain = attributes.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS)
            assert (
                domain.recommended_curve
                is (
                    dict(common).get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS) or curve(RC.P_521)
                ).recommended_curve
            )


def test_rsa_pairs_are_stored_as_pkcs1_with_their_digest(kmip: KmipClient) -> None:
    """As AKLC-M-1-21 expects: Key Format Type PKCS#1, the Digest over the PKCS#1 bytes."""
    response = kmip.call(pair_request([(ALGORITHM, A.RSA), (LENGTH, 2048)]))
    for uid in (response.private_key_unique_identifier, response.public_key_unique_identifier):
        block = fetched_block(kmip, uid)
        assert block.key_format_type is F.PKCS_1
        attributes = attributes_of(kmip, uid)
        assert attributes.get(Tag.KEY_FORMAT_TYPE) is F.PKCS_1
        digest = attributes.get(Tag.DIGEST)
        assert digest.key_format_type is F.PKCS_1
        assert digest.digest_value == hashlib.sha256(der(block)).digest()


def test_ec_pairs_are_stored_in_the_transparent_ec_formats(kmip: KmipClient) -> None:
    response = kmip.call(pair_request([(ALGORITHM, A.EC), (LENGTH, 256)]))
    private = fetched_block(kmip, response.private_key_unique_identifier)
    public = fetched_block(kmip, response.public_key_unique_identifier)
    assert private.key_format_type is F.TRANSPARENT_EC_PRIVATE_KEY
    assert public.key_format_type is F.TRANSPARENT_EC_PUBLIC_KEY
    assert transparent(private).recommended_curve is RC.P_256
    q = transparent(public).q_string
    assert q is not None and len(q) == 65 and q[0] == 4  # an uncompressed X9.62 point
    d = transparent(private).d
    assert d is not None
    key = ec.derive_private_key(d, ec.SECP256R1())
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        == q
    )


def test_private_and_public_attributes_take_precedence_over_common_ones(kmip: KmipClient) -> None:
    response = kmip.call(
        pair_request(
            [
                (ALGORITHM, A.EC),
                (LENGTH, 256),
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN | VERIFY),
                (Tag.DESCRIPTION, "common"),
                (Tag.OBJECT_GROUP, "both"),
            ],
            private=[
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN),
                (Tag.OBJECT_GROUP, "private"),
                (Tag.NAME, name("prec-private")),
            ],
            public=[(Tag.DESCRIPTION, "public"), (Tag.NAME, name("prec-public"))],
        )
    )
    private = attributes_of(kmip, response.private_key_unique_identifier)
    public = attributes_of(kmip, response.public_key_unique_identifier)
    assert private.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == SIGN
    assert public.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == SIGN | VERIFY
    assert private.get_all(Tag.DESCRIPTION) == ["common"]
    assert public.get_all(Tag.DESCRIPTION) == ["public"]
    assert sorted(private.get_all(Tag.OBJECT_GROUP)) == ["both", "private"]  # multi-instance: the union
    assert public.get_all(Tag.OBJECT_GROUP) == ["both"]
    assert [n.name_value for n in private.get_all(Tag.NAME)] == ["prec-private"]
    assert [n.name_value for n in public.get_all(Tag.NAME)] == ["prec-public"]


def test_algorithm_given_for_one_half_applies_to_both(kmip: KmipClient) -> None:
    response = kmip.call(
        CreateKeyPairRequest(
            private_key_attributes=PrivateKeyAttributes.of(
                (ALGORITHM, A.ED25519), (Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN)
            ),
            public_key_attributes=PublicKeyAttributes.of((Tag.CRYPTOGRAPHIC_USAGE_MASK, VERIFY)),
        )
    )
    public = attributes_of(kmip, response.public_key_unique_identifier)
    assert public.get(Tag.CRYPTOGRAPHIC_ALGORITHM) is A.ED25519


def test_a_requested_key_format_type_is_the_stored_one(kmip: KmipClient) -> None:
    response = kmip.call(
        pair_request(
            [(ALGORITHM, A.RSA), (LENGTH, 2048)],
            private=[(Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN), (Tag.KEY_FORMAT_TYPE, F.PKCS_8)],
            public=[
                (Tag.CRYPTOGRAPHIC_USAGE_MASK, VERIFY),
                (Tag.KEY_FORMAT_TYPE, F.TRANSPARENT_RSA_PUBLIC_KEY),
            ],
        )
    )
    private = fetched_block(kmip, response.private_key_unique_identifier)
    public = fetched_block(kmip, response.public_key_unique_identifier)
    assert private.key_format_type is F.PKCS_8
    assert public.key_format_type is F.TRANSPARENT_RSA_PUBLIC_KEY
    key = serialization.load_der_private_key(der(private), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.public_key().public_numbers().n == transparent(public).modulus
    attributes = attributes_of(kmip, response.private_key_unique_identifier)
    assert attributes.get_all(Tag.KEY_FORMAT_TYPE) == [F.PKCS_8]


def test_create_key_pair_sets_the_id_placeholder_to_the_private_key(kmip: KmipClient) -> None:
    created, got = kmip.batch(pair_request([(ALGORITHM, A.ED25519)]), GetRequest(key_format_type=F.PKCS_8))
    assert got.result_status is ResultStatus.SUCCESS
    assert payload(got).unique_identifier == payload(created).private_key_unique_identifier
    assert payload(got).object_type is ObjectType.PRIVATE_KEY


def test_kmip_1_4_template_attributes(kmip_server: RunningServer) -> None:
    """AKLC-M-1-14: a 1.4 client names each attribute inside the three Template-Attributes."""

    with kmip_server.client("asymmetric-14", version=(1, 4)) as old:
        response = old.call(
            CreateKeyPairRequest(
                common_template_attribute=CommonTemplateAttribute(
                    attributes=[
                        Attribute(attribute_name="Cryptographic Algorithm", attribute_value=A.RSA),
                        Attribute(attribute_name="Cryptographic Length", attribute_value=2048),
                    ]
                ),
                private_key_template_attribute=PrivateKeyTemplateAttribute(
                    attributes=[
                        Attribute(attribute_name="Name", attribute_value=name("AKLC-M-1-14-private")),
                        Attribute(attribute_name="Cryptographic Usage Mask", attribute_value=SIGN),
                    ]
                ),
                public_key_template_attribute=PublicKeyTemplateAttribute(
                    attributes=[
                        Attribute(attribute_name="Name", attribute_value=name("AKLC-M-1-14-public")),
                        Attribute(attribute_name="Cryptographic Usage Mask", attribute_value=VERIFY),
                    ]
                ),
            )
        )
        private_uid = response.private_key_unique_identifier
        listed = old.call(
            GetAttributesRequest(
                unique_identifier=private_uid,
                attribute_names=[
                    "Object Type",
                    "Cryptographic Length",
                    "Cryptographic Usage Mask",
                    "Link",
                    "Name",
                ],
            )
        ).attribute_list
        values = {attribute.attribute_name: attribute.attribute_value for attribute in listed}
        assert values["Object Type"] is ObjectType.PRIVATE_KEY
        assert values["Cryptographic Length"] == 2048
        assert values["Cryptographic Usage Mask"] == SIGN
        assert values["Name"].name_value == "AKLC-M-1-14-private"
        assert values["Link"] == Link(
            link_type=LinkType.PUBLIC_KEY_LINK, linked_object_identifier=response.public_key_unique_identifier
        )
        assert fetched_block(old, private_uid).key_format_type is F.PKCS_1


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("common", "reason"),
    [
        pytest.param([(ALGORITHM, A.RSA), (LENGTH, 1024)], R.INVALID_FIELD, id="rsa-too-short"),
        pytest.param([(ALGORITHM, A.RSA)], R.INVALID_FIELD, id="rsa-no-length"),
        pytest.param([(ALGORITHM, A.EC)], R.INVALID_FIELD, id="ec-no-curve"),
        pytest.param([(ALGORITHM, A.EC), (LENGTH, 300)], R.INVALID_FIELD, id="ec-odd-length"),
        pytest.param(
            [(ALGORITHM, A.EC), (LENGTH, 384), (DOMAIN, curve(RC.P_256))],
            R.INVALID_FIELD,
            id="ec-length-not-the-curves",
        ),
        pytest.param(
            [(ALGORITHM, A.EC), (DOMAIN, curve(RC.P_192))], R.FEATURE_NOT_SUPPORTED, id="weak-curve"
        ),
        pytest.param(
            [(ALGORITHM, A.EC), (DOMAIN, curve(RC.K_163))], R.FEATURE_NOT_SUPPORTED, id="binary-curve"
        ),
        pytest.param(
            [(ALGORITHM, A.ED25519), (DOMAIN, curve(RC.P_256))], R.INVALID_FIELD, id="ed25519-on-p256"
        ),
        pytest.param([(ALGORITHM, A.DSA), (LENGTH, 2048)], R.FEATURE_NOT_SUPPORTED, id="dsa"),
        pytest.param([(ALGORITHM, A.AES), (LENGTH, 256)], R.INVALID_FIELD, id="aes"),
        pytest.param([(LENGTH, 2048)], R.INVALID_FIELD, id="no-algorithm"),
        pytest.param(
            [(ALGORITHM, A.RSA), (LENGTH, 2048), (Tag.KEY_FORMAT_TYPE, F.PKCS_8)],
            R.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            id="pkcs8-public-key",
        ),
        pytest.param(
            [(ALGORITHM, A.RSA), (LENGTH, 2048), (Tag.NAME, name("one name for both"))],
            R.NON_UNIQUE_NAME_ATTRIBUTE,
            id="shared-name",
        ),
    ],
)
def test_create_key_pair_refuses(
    kmip: KmipClient, common: list[tuple[int, Any]], reason: ResultReason
) -> None:
    with pytest.raises(KmipResultError) as refused:
        kmip.call(pair_request(common))
    assert refused.value.reason is reason
    assert refused.value.message


def test_the_two_halves_must_agree_on_the_algorithm(kmip: KmipClient) -> None:
    with pytest.raises(KmipResultError) as refused:
        kmip.call(
            pair_request(
                [(LENGTH, 2048)],
                private=[(ALGORITHM, A.RSA)],
                public=[(ALGORITHM, A.EC)],
            )
        )
    assert refused.value.reason is ResultReason.INVALID_ATTRIBUTE_VALUE


def test_a_name_in_use_is_refused(kmip: KmipClient) -> None:
    rsa_2048 = [(ALGORITHM, A.ED25519)]
    kmip.call(pair_request(rsa_2048, private=[(Tag.NAME, name("taken-private"))]))
    with pytest.raises(KmipResultError) as refused:
        kmip.call(pair_request(rsa_2048, public=[(Tag.NAME, name("taken-private"))]))
    assert refused.value.reason is ResultReason.NON_UNIQUE_NAME_ATTRIBUTE


# --- Re-key Key Pair ------------------------------------------------------------------------


def test_re_key_key_pair_replaces_both_keys_and_moves_their_names(kmip: KmipClient) -> None:
    old = kmip.call(
        pair_request(
            [
                (ALGORITHM, A.RSA),
                (LENGTH, 2048),
                (Tag.OBJECT_GROUP, "rotating"),
            ],
            private=[(Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN), (Tag.NAME, name("rekey-private"))],
            public=[(Tag.CRYPTOGRAPHIC_USAGE_MASK, VERIFY), (Tag.NAME, name("rekey-public"))],
        )
    )
    old_private, old_public = old.private_key_unique_identifier, old.public_key_unique_identifier
    before = load_pair(kmip, old_private, old_public)
    new = kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=old_private))
    new_private, new_public = new.private_key_unique_identifier, new.public_key_unique_identifier
    assert {new_private, new_public}.isdisjoint({old_private, old_public})
    after = load_pair(kmip, new_private, new_public)
    assert public_der(after[1]) != public_der(before[1])

    for old_uid, new_uid, usage, pair_link, partner, text in (
        (old_private, new_private, SIGN, LinkType.PUBLIC_KEY_LINK, new_public, "rekey-private"),
        (old_public, new_public, VERIFY, LinkType.PRIVATE_KEY_LINK, new_private, "rekey-public"),
    ):
        replaced, replacement = attributes_of(kmip, old_uid), attributes_of(kmip, new_uid)
        assert replaced.get_all(Tag.NAME) == []
        assert [n.name_value for n in replacement.get_all(Tag.NAME)] == [text]
        assert links(replaced)[LinkType.REPLACEMENT_OBJECT_LINK] == new_uid
        assert links(replacement) == {LinkType.REPLACED_OBJECT_LINK: old_uid, pair_link: partner}
        assert replacement.get(Tag.CRYPTOGRAPHIC_USAGE_MASK) == usage
        assert replacement.get(Tag.CRYPTOGRAPHIC_LENGTH) == 2048
        assert replacement.get_all(Tag.OBJECT_GROUP) == ["rotating"]
        assert replacement.get(Tag.DIGEST) != replaced.get(Tag.DIGEST)
        assert replacement.get(Tag.STATE) is State.PRE_ACTIVE
    located = kmip.call(LocateRequest(attributes=Attributes.of((Tag.NAME, name("rekey-private")))))
    assert located.unique_identifiers == [new_private]


def test_re_key_key_pair_with_an_offset_and_new_attributes(kmip: KmipClient) -> None:
    old = kmip.call(pair_request([(ALGORITHM, A.EC), (LENGTH, 256)]))
    started = datetime.now(UTC).replace(microsecond=0)
    new = kmip.call(
        ReKeyKeyPairRequest(
            private_key_unique_identifier=old.private_key_unique_identifier,
            offset=3600,
            common_attributes=CommonAttributes.of((DOMAIN, curve(RC.P_384))),
            private_key_attributes=PrivateKeyAttributes.of((Tag.DESCRIPTION, "renewed")),
        )
    )
    private = attributes_of(kmip, new.private_key_unique_identifier)
    assert private.get(Tag.DESCRIPTION) == "renewed"
    assert private.get(Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS).recommended_curve is RC.P_384
    activation = private.get(Tag.ACTIVATION_DATE)
    assert started + timedelta(seconds=3600) <= activation <= datetime.now(UTC) + timedelta(seconds=3601)
    assert attributes_of(kmip, new.public_key_unique_identifier).get(Tag.ACTIVATION_DATE) == activation
    key = serialization.load_der_private_key(
        der(fetched_block(kmip, new.private_key_unique_identifier, F.PKCS_8)), None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1"


def test_re_key_key_pair_uses_the_id_placeholder(kmip: KmipClient) -> None:
    created, rekeyed = kmip.batch(pair_request([(ALGORITHM, A.ED25519)]), ReKeyKeyPairRequest())
    assert rekeyed.result_status is ResultStatus.SUCCESS
    replaced = attributes_of(kmip, payload(created).private_key_unique_identifier)
    assert links(replaced)[LinkType.REPLACEMENT_OBJECT_LINK] == payload(rekeyed).private_key_unique_identifier


def test_re_key_key_pair_refuses_what_is_not_a_pair(kmip: KmipClient) -> None:
    pair = kmip.call(pair_request([(ALGORITHM, A.ED25519)]))
    with pytest.raises(KmipResultError) as refused:
        kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=pair.public_key_unique_identifier))
    assert refused.value.reason is ResultReason.INVALID_OBJECT_TYPE

    lone = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    registered = kmip.call(
        RegisterRequest(
            object_type=ObjectType.PRIVATE_KEY,
            attributes=Attributes.of((Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN)),
            object=PrivateKey(
                key_block=KeyBlock(key_format_type=F.PKCS_8, key_value=KeyValue(key_material=lone))
            ),
        )
    ).unique_identifier
    with pytest.raises(KmipResultError) as refused:
        kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=registered))
    assert refused.value.reason is ResultReason.INVALID_FIELD

    kmip.call(DestroyRequest(unique_identifier=pair.public_key_unique_identifier))
    with pytest.raises(KmipResultError) as refused:
        kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=pair.private_key_unique_identifier))
    assert refused.value.reason is ResultReason.OBJECT_DESTROYED


def test_re_key_key_pair_of_a_registered_pair(kmip: KmipClient) -> None:
    """A client's own pair, linked by the client, is replaced by a server-generated one."""
    key = rsa.generate_private_key(65537, 2048)
    pkcs1 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    blocks = (
        KeyBlock(
            key_format_type=F.PKCS_1,
            key_value=KeyValue(key_material=pkcs1),
            cryptographic_algorithm=A.RSA,
            cryptographic_length=2048,
        ),
        KeyBlock(
            key_format_type=F.X_509,
            key_value=KeyValue(key_material=public_der(key.public_key())),
            cryptographic_algorithm=A.RSA,
            cryptographic_length=2048,
        ),
    )
    public_uid = kmip.call(
        RegisterRequest(object_type=ObjectType.PUBLIC_KEY, object=PublicKey(key_block=blocks[1]))
    ).unique_identifier  # fmt: skip
    public_link = Link(link_type=LinkType.PUBLIC_KEY_LINK, linked_object_identifier=public_uid)
    private_uid = kmip.call(
        RegisterRequest(
            object_type=ObjectType.PRIVATE_KEY,
            attributes=Attributes.of((Tag.LINK, public_link)),
            object=PrivateKey(key_block=blocks[0]),
        )
    ).unique_identifier  # fmt: skip
    new = kmip.call(ReKeyKeyPairRequest(private_key_unique_identifier=private_uid))
    private, _public = load_pair(kmip, new.private_key_unique_identifier, new.public_key_unique_identifier)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert (
        links(attributes_of(kmip, public_uid))[LinkType.REPLACEMENT_OBJECT_LINK]
        == new.public_key_unique_identifier
    )
