"""Create/Join Split Key and Get as PKCS#12, over real TLS; the sharing math against known answers.

Known answers: TC-SJ-2-20's four GF(2^8) shares of 0102...10 (any two join back to it,
and the split with its coefficient reproduces them), small splits computed by hand in
GF(2^8) mod 0x11D, GF(2^16) = GF(2^8)[y]/(y^2+y+0x3A) and GF(257). On the server: every
method splits and joins a key back (each subset of Threshold parts), private keys and
secret data too; refusals carry their reasons. A PKCS#12 the server writes (of a key,
or of a certificate with its key) is opened by pyca/cryptography (and OpenSSL) with the
linked password and holds the key, its certificate and chain;
one pyca writes is registered as the key (PKCS#8) and its certificates, linked.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from pkcs11_kmip.kmip.client import KmipClient
from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.messages.attributes import NewAttribute
from pkcs11_kmip.kmip.messages.objects import Certificate, KeyBlock, KeyValue, PrivateKey, SplitKey
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    AddAttributeRequest,
    CreateSplitKeyRequest,
    GetAttributesRequest,
    GetRequest,
    JoinSplitKeyRequest,
    RegisterRequest,
)
from pkcs11_kmip.kmip.messages.structures import Link
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CertificateType,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    LinkType,
    ObjectType,
    ResultReason,
    SecretDataType,
    SplitKeyMethod,
)
from pkcs11_kmip_server import split_keys
from testsupport.kmip_builders import as_attributes
from testsupport.managed_keys import (
    client_fixture,
    refusal,
    register_key,
    register_object,
    register_pair,
    secret_data,
)

A = CryptographicAlgorithm
M = SplitKeyMethod
R = ResultReason
U = CryptographicUsageMask
OT = ObjectType
h = bytes.fromhex

v2 = client_fixture("split-keys", (2, 1))

TC_SJ_2_KEY = h("0102030405060708090A0B0C0D0E0F10")
TC_SJ_2_SHARES = {
    1: h("66C46A7754F94DE420C7B1A7FFF5EC56"),
    2: h("CF93D1E2A7E593CD5B8D6247F4E5D49C"),
    3: h("A855B891F61AD9217240D8EC061E37DA"),
    4: h("803DBAD55CDD329FAD19D99AE2C5A415"),
}


def fixed(data: bytes) -> split_keys.RandomBytes:
    """A "random" source that gives `data` (the polynomial's coefficients) once."""
    return lambda count: data[:count]


# --- the math ---------------------------------------------------------------------------


@pytest.mark.parametrize("pair", list(itertools.combinations(TC_SJ_2_SHARES, 2)), ids=str)
def test_any_two_tc_sj_2_shares_join_to_its_key(pair: tuple[int, int]) -> None:
    shares = {number: TC_SJ_2_SHARES[number] for number in pair}
    assert split_keys.join(M.POLYNOMIAL_SHARING_GF2_8, shares, 2) == TC_SJ_2_KEY


def test_gf256_split_reproduces_tc_sj_2() -> None:
    coefficient = bytes(a ^ b for a, b in zip(TC_SJ_2_SHARES[1], TC_SJ_2_KEY, strict=True))  # f(1) = s + a
    parts = split_keys.split(M.POLYNOMIAL_SHARING_GF2_8, TC_SJ_2_KEY, 4, 2, random_bytes=fixed(coefficient))
    assert parts == [TC_SJ_2_SHARES[n] for n in (1, 2, 3, 4)]


def test_gf256_hand_computed() -> None:
    # f(x) = 01 + 02x + 80x^2 mod x^8+x^4+x^3+x^2+1: 80*2 = 1D, 80*4 = 3A, 3*3 = 5, 80*5 = BA
    # f(1) = 01^02^80 = 83; f(2) = 01^04^3A = 3F; f(3) = 01^06^BA = BD
    parts = split_keys.split(M.POLYNOMIAL_SHARING_GF2_8, b"\x01", 3, 3, random_bytes=fixed(b"\x02\x80"))
    assert parts == [b"\x83", b"\x3f", b"\xbd"]
    assert split_keys.join(M.POLYNOMIAL_SHARING_GF2_8, {1: b"\x83", 2: b"\x3f", 3: b"\xbd"}, 3) == b"\x01"


def test_gf65536_multiplication_is_the_field_of_13_1() -> None:
    field = split_keys.FIELDS[M.POLYNOMIAL_SHARING_GF2_16]
    y = 0x0100
    assert field.mul(y, y) == 0x013A  # y^2 = y + m, m = 3A
    assert field.mul(0x0001, 0xBEEF) == 0xBEEF
    for a, b, c in ((0x1234, 0xABCD, 0x0F0F), (0xFFFF, 0x0100, 0x8001), (0x0203, 0x3A00, 0x00FF)):
        assert field.mul(a, field.mul(b, c)) == field.mul(field.mul(a, b), c)
        assert field.mul(a, field.inverse(a)) == 1
    # f(x) = 0102 + y*x: f(1) = 0002 (piece XOR 0100); f(2) = 0102 + y*2 = 0102 ^ 0200 = 0302
    parts = split_keys.split(M.POLYNOMIAL_SHARING_GF2_16, h("0102"), 2, 2, random_bytes=fixed(h("0100")))
    assert parts == [h("0002"), h("0302")]


def test_prime_field_hand_computed() -> None:
    # GF(257), f(x) = 1 + 5x: 6, 11, 16, each in the two bytes 257 needs
    coefficient = bytes(9) + b"\x05"  # 8 bytes beyond the field's width, reduced mod p
    parts = split_keys.split(M.POLYNOMIAL_SHARING_PRIME_FIELD, b"\x01", 3, 2, 257, fixed(coefficient))
    assert parts == [h("0006"), h("000b"), h("0010")]
    assert (
        split_keys.join(M.POLYNOMIAL_SHARING_PRIME_FIELD, {2: h("000b"), 3: h("0010")}, 2, 1, 257) == b"\x01"
    )


def test_the_prime_chosen_is_the_least_mersenne_prime_above_the_secret() -> None:
    assert split_keys.default_prime(128) == 2**521 - 1
    assert split_keys.default_prime(60) == 2**61 - 1
    with pytest.raises(split_keys.SplitError):
        split_keys.default_prime(2281)


# --- on the server ----------------------------------------------------------------------


def create_split(
    kmip: KmipClient, uid: str | None, parts: int, threshold: int, method: SplitKeyMethod, **fields: Any
) -> list[str]:
    fields.setdefault("attributes", Attributes())
    answer = kmip.call(
        CreateSplitKeyRequest(
            object_type=OT.SPLIT_KEY,
            unique_identifier=uid,
            split_key_parts=parts,
            split_key_threshold=threshold,
            split_key_method=method,
            **fields,
        )
    )
    return [str(u) for u in answer.unique_identifiers]


def join(kmip: KmipClient, uids: list[str], object_type: ObjectType = OT.SYMMETRIC_KEY, **fields: Any) -> str:
    return str(
        kmip.call(
            JoinSplitKeyRequest(object_type=object_type, unique_identifiers=uids, **fields)
        ).unique_identifier
    )


def join_request(uids: list[str], object_type: ObjectType = OT.SYMMETRIC_KEY) -> JoinSplitKeyRequest:
    return JoinSplitKeyRequest(object_type=object_type, unique_identifiers=uids)


def material(kmip: KmipClient, uid: str, key_format: KeyFormatType | None = None) -> Any:
    value = kmip.call(GetRequest(unique_identifier=uid, key_format_type=key_format)).object
    block = value.key_block
    assert isinstance(block.key_value, KeyValue)
    return value, block.key_value.key_material


SPLITS = [  # method, parts, threshold, Prime Field Size
    (M.XOR, 3, 3, None),
    (M.POLYNOMIAL_SHARING_GF2_8, 5, 3, None),
    (M.POLYNOMIAL_SHARING_GF2_16, 4, 2, None),
    (M.POLYNOMIAL_SHARING_PRIME_FIELD, 4, 3, None),
    (M.POLYNOMIAL_SHARING_PRIME_FIELD, 3, 2, 2**256 + 297),
]


@pytest.mark.parametrize(
    ("method", "parts", "threshold", "prime"), SPLITS, ids=lambda v: getattr(v, "name", v)
)
def test_split_and_join_every_subset(
    v2: KmipClient, method: SplitKeyMethod, parts: int, threshold: int, prime: int | None
) -> None:
    key = os.urandom(32)
    base = register_key(v2, A.AES, key, U.ENCRYPT | U.DECRYPT)
    uids = create_split(v2, base, parts, threshold, method, prime_field_size=prime)
    assert len(uids) == parts
    for number, uid in enumerate(uids, start=1):
        value, _ = material(v2, uid)
        assert isinstance(value, SplitKey)
        assert (value.split_key_parts, value.key_part_identifier, value.split_key_threshold) == (
            parts,
            number,
            threshold,
        )
        assert value.split_key_method is method
        assert (
            value.key_block.cryptographic_algorithm is A.AES and value.key_block.cryptographic_length == 256
        )
        if method is M.POLYNOMIAL_SHARING_PRIME_FIELD:
            assert value.prime_field_size == (prime or 2**521 - 1)  # the least Mersenne prime above 2^256
    for subset in itertools.combinations(uids, threshold):
        joined = join(v2, list(subset))
        assert material(v2, joined)[1] == key
    if threshold > 1:
        assert refusal(v2, join_request(uids[: threshold - 1])) is R.CRYPTOGRAPHIC_FAILURE


def test_a_key_the_server_makes_is_split_and_not_kept(v2: KmipClient) -> None:
    attributes = as_attributes((Tag.CRYPTOGRAPHIC_ALGORITHM, A.AES), (Tag.CRYPTOGRAPHIC_LENGTH, 128))
    uids = create_split(v2, None, 3, 2, M.POLYNOMIAL_SHARING_GF2_8, attributes=attributes)
    first, second = join(v2, uids[:2]), join(v2, uids[1:])
    assert len(material(v2, first)[1]) == 16
    assert material(v2, first)[1] == material(v2, second)[1]


def test_private_key_and_secret_data_join(v2: KmipClient) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    _public, private = register_pair(v2, key, A.EC, (U.VERIFY, U.SIGN))
    uids = create_split(v2, private, 3, 2, M.POLYNOMIAL_SHARING_GF2_16)
    joined = join(v2, [uids[0], uids[2]], OT.PRIVATE_KEY)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert material(v2, joined, KeyFormatType.PKCS_8)[1] == der

    secret = register_object(v2, OT.SECRET_DATA, secret_data(b"correct horse"), U.DERIVE_KEY)
    uids = create_split(v2, secret, 2, 2, M.XOR)
    joined = join(v2, uids, OT.SECRET_DATA, secret_data_type=SecretDataType.PASSWORD)
    value, data = material(v2, joined)
    assert data == b"correct horse" and value.secret_data_type is SecretDataType.PASSWORD


def test_parts_keep_a_sensitive_key_on_the_server(v2: KmipClient) -> None:
    base = register_key(v2, A.AES, os.urandom(16), U.ENCRYPT, (Tag.SENSITIVE, True))
    uids = create_split(v2, base, 2, 2, M.XOR)
    assert refusal(v2, GetRequest(unique_identifier=uids[0])) is R.SENSITIVE
    joined = join(v2, uids)
    assert refusal(v2, GetRequest(unique_identifier=joined)) is R.SENSITIVE


def test_bad_splits_are_refused(v2: KmipClient) -> None:
    base = register_key(v2, A.AES, os.urandom(16), U.ENCRYPT)

    def create(parts: int, threshold: int, method: SplitKeyMethod, **fields: Any) -> R | None:
        return refusal(
            v2,
            CreateSplitKeyRequest(
                object_type=fields.pop("object_type", OT.SPLIT_KEY),
                unique_identifier=fields.pop("uid", base),
                split_key_parts=parts,
                split_key_threshold=threshold,
                split_key_method=method,
                attributes=fields.pop("attributes", Attributes()),
                **fields,
            ),
        )

    assert create(3, 2, M.XOR) is R.INVALID_FIELD  # XOR needs every part
    assert create(2, 3, M.POLYNOMIAL_SHARING_GF2_8) is R.INVALID_FIELD  # threshold above the parts
    assert create(256, 2, M.POLYNOMIAL_SHARING_GF2_8) is R.INVALID_FIELD  # GF(2^8) has 255 points
    assert create(256, 2, M.POLYNOMIAL_SHARING_GF2_16) is R.SERVER_LIMIT_EXCEEDED  # 255 objects at most
    assert create(3, 2, M.POLYNOMIAL_SHARING_GF2_8, prime_field_size=257) is R.INVALID_FIELD
    assert (
        create(3, 2, M.POLYNOMIAL_SHARING_PRIME_FIELD, prime_field_size=2**128 + 1) is R.INVALID_FIELD
    )  # F7, composite
    assert (
        create(3, 2, M.POLYNOMIAL_SHARING_PRIME_FIELD, prime_field_size=257) is R.INVALID_FIELD
    )  # too small
    assert create(3, 2, M.XOR, object_type=OT.SYMMETRIC_KEY) is R.INVALID_OBJECT_TYPE
    assert create(2, 2, M.XOR, uid=None) is R.INVALID_FIELD  # no key and no algorithm/length to make one
    public, _private = register_pair(v2, ec.generate_private_key(ec.SECP256R1()), A.EC, (U.VERIFY, U.SIGN))
    assert create(2, 2, M.XOR, uid=public) is R.INVALID_OBJECT_TYPE


def test_bad_joins_are_refused(v2: KmipClient) -> None:
    base = register_key(v2, A.AES, os.urandom(16), U.ENCRYPT)
    three = create_split(v2, base, 3, 2, M.POLYNOMIAL_SHARING_GF2_8)
    other = create_split(v2, base, 4, 2, M.POLYNOMIAL_SHARING_GF2_8)
    assert refusal(v2, join_request([three[0], other[1]])) is R.INVALID_FIELD  # parts of different splits
    assert refusal(v2, join_request([three[0], base])) is R.INVALID_OBJECT_TYPE  # no Split Key
    assert refusal(v2, join_request(three[:2], OT.CERTIFICATE)) is R.INVALID_OBJECT_TYPE
    assert refusal(v2, join_request(three[:1])) is R.CRYPTOGRAPHIC_FAILURE  # fewer than the threshold
    assert (
        refusal(v2, join_request(three[:2], OT.PRIVATE_KEY)) is R.CRYPTOGRAPHIC_FAILURE
    )  # AES bytes: no key

    def registered_part(number: int) -> str:
        block = KeyBlock(
            key_format_type=KeyFormatType.RAW,
            key_value=KeyValue(key_material=os.urandom(16)),
            cryptographic_algorithm=A.AES,
            cryptographic_length=128,
        )
        part = SplitKey(
            split_key_parts=3,
            key_part_identifier=number,
            split_key_threshold=2,
            split_key_method=M.POLYNOMIAL_SHARING_GF2_8,
            key_block=block,
        )
        return register_object(v2, OT.SPLIT_KEY, part, U.ENCRYPT)

    duplicate, beyond = registered_part(1), registered_part(4)
    assert refusal(v2, join_request([three[1], beyond])) is R.INVALID_FIELD  # part 4 of 3
    assert refusal(v2, join_request([three[0], duplicate])) is R.INVALID_FIELD  # Key Part Identifier 1 twice


# --- PKCS#12 ----------------------------------------------------------------------------


def certificate(subject: str, key: Any, issuer: tuple[str, Any] | None = None) -> x509.Certificate:
    """A certificate for `key`, signed by the issuer's key (self-signed without one)."""
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(issuer_key, hashes.SHA256())
    )


def register_certificate(kmip: KmipClient, cert: x509.Certificate) -> str:
    value = Certificate(
        certificate_type=CertificateType.X_509,
        certificate_value=cert.public_bytes(serialization.Encoding.DER),
    )
    return register_object(kmip, OT.CERTIFICATE, value, U.VERIFY)


def link(kmip: KmipClient, uid: str, link_type: LinkType, target: str) -> None:
    added = NewAttribute.of((Tag.LINK, Link(link_type=link_type, linked_object_identifier=target)))
    kmip.call(AddAttributeRequest(unique_identifier=uid, new_attribute=added))


@pytest.fixture
def chain(v2: KmipClient) -> dict[str, Any]:
    """An RSA key with its certificate, an intermediate and a root, linked as TC-PKCS12-1-20 links them."""
    root_key, inter_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = certificate("Root", root_key)
    inter = certificate("Inter", inter_key, ("Root", root_key))
    leaf = certificate("Leaf", key, ("Inter", inter_key))
    password = register_object(v2, OT.SECRET_DATA, secret_data(b"p4ssword"), U.DERIVE_KEY)
    public, private = register_pair(v2, key, A.RSA, (U.VERIFY, U.SIGN), (Tag.PKCS_12_FRIENDLY_NAME, "mykey"))
    uids = [register_certificate(v2, cert) for cert in (leaf, inter, root)]
    link(v2, private, LinkType.PKCS_12_PASSWORD_LINK, password)
    for source, target in zip([private, *uids[:2]], uids, strict=True):
        link(v2, source, LinkType.PKCS_12_CERTIFICATE_LINK, target)
    return {
        "key": key,
        "certs": [leaf, inter, root],
        "private": private,
        "public": public,
        "uids": uids,
        "password": password,
    }


def test_pkcs12_holds_the_key_and_its_chain(v2: KmipClient, chain: dict[str, Any]) -> None:
    value, der = material(v2, chain["private"], KeyFormatType.PKCS_12)
    assert value.key_block.key_format_type is KeyFormatType.PKCS_12
    opened = pkcs12.load_pkcs12(der, b"p4ssword")
    assert opened.key is not None and opened.cert is not None
    assert opened.key.private_numbers() == chain["key"].private_numbers()  # type: ignore[union-attr]
    assert opened.cert.certificate == chain["certs"][0]
    assert opened.cert.friendly_name == b"mykey"
    assert [c.certificate for c in opened.additional_certs] == chain["certs"][1:]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(der, b"wrong")


def test_pkcs12_refusals(v2: KmipClient, chain: dict[str, Any]) -> None:
    def get(uid: str) -> R | None:
        return refusal(v2, GetRequest(unique_identifier=uid, key_format_type=KeyFormatType.PKCS_12))

    key = ec.generate_private_key(ec.SECP384R1())
    _public, bare = register_pair(v2, key, A.EC, (U.VERIFY, U.SIGN))
    assert get(bare) is R.BAD_PASSWORD  # no PKCS#12 Password Link
    asleep = register_object(v2, OT.SECRET_DATA, secret_data(b"later"), U.DERIVE_KEY, active=False)
    link(v2, bare, LinkType.PKCS_12_PASSWORD_LINK, asleep)
    assert get(bare) is R.WRONG_KEY_LIFECYCLE_STATE
    v2.call(ActivateRequest(unique_identifier=asleep))
    key_only = pkcs12.load_key_and_certificates(material(v2, bare, KeyFormatType.PKCS_12)[1], b"later")
    assert key_only[0] is not None and key_only[1] is None  # no certificate linked: the key alone
    link(v2, bare, LinkType.PKCS_12_PASSWORD_LINK, chain["password"])
    assert get(bare) is R.BAD_PASSWORD  # two password links

    _public, symmetric_password = register_pair(
        v2, ec.generate_private_key(ec.SECP256R1()), A.EC, (U.VERIFY, U.SIGN)
    )
    aes = register_key(v2, A.AES, os.urandom(16), U.ENCRYPT)
    link(v2, symmetric_password, LinkType.PKCS_12_PASSWORD_LINK, aes)
    assert get(symmetric_password) is R.BAD_PASSWORD  # the password is no Secret Data

    assert (
        get(chain["uids"][0]) is R.KEY_FORMAT_TYPE_NOT_SUPPORTED
    )  # a certificate whose links lead to no key
    link(v2, chain["uids"][0], LinkType.PKCS_12_CERTIFICATE_LINK, chain["uids"][2])
    assert get(chain["private"]) is R.INVALID_FIELD  # the leaf now has two issuers: two chains


def test_pkcs12_of_a_certificate_holds_its_key_and_chain(v2: KmipClient, chain: dict[str, Any]) -> None:
    """KMIP 2.1 §6.1.19: Get PKCS#12 of a certificate; its key by Public Key Link, then Private Key Link."""
    leaf_uid = chain["uids"][0]
    link(v2, leaf_uid, LinkType.PUBLIC_KEY_LINK, chain["public"])
    link(v2, chain["public"], LinkType.PRIVATE_KEY_LINK, chain["private"])
    answer = v2.call(GetRequest(unique_identifier=leaf_uid, key_format_type=KeyFormatType.PKCS_12))
    assert answer.object_type is OT.PRIVATE_KEY and answer.unique_identifier == leaf_uid
    der = answer.object.key_block.key_value.key_material
    opened = pkcs12.load_pkcs12(der, b"p4ssword")  # the key's password: the certificate has none
    assert opened.key is not None and opened.cert is not None
    assert opened.key.private_numbers() == chain["key"].private_numbers()  # type: ignore[union-attr]
    assert opened.cert.certificate == chain["certs"][0] and opened.cert.friendly_name == b"mykey"
    assert [c.certificate for c in opened.additional_certs] == chain["certs"][1:]
    if shutil.which("openssl"):  # and OpenSSL reads it: the key and the three certificates
        with tempfile.NamedTemporaryFile(suffix=".p12") as file:
            file.write(der)
            file.flush()
            shown = subprocess.run(
                ["openssl", "pkcs12", "-in", file.name, "-passin", "pass:p4ssword", "-nodes"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        assert shown.count("BEGIN CERTIFICATE") == 3 and "BEGIN PRIVATE KEY" in shown
    # The certificate's own password and friendly name come first.
    own = register_object(v2, OT.SECRET_DATA, secret_data(b"c3rt"), U.DERIVE_KEY)
    link(v2, leaf_uid, LinkType.PKCS_12_PASSWORD_LINK, own)
    v2.call(
        AddAttributeRequest(
            unique_identifier=leaf_uid, new_attribute=NewAttribute.of((Tag.PKCS_12_FRIENDLY_NAME, "leaf"))
        )
    )
    again = pkcs12.load_pkcs12(material(v2, leaf_uid, KeyFormatType.PKCS_12)[1], b"c3rt")
    assert again.cert is not None and again.cert.friendly_name == b"leaf"


def test_pkcs12_of_a_certificate_refusals(v2: KmipClient, chain: dict[str, Any]) -> None:
    def get(uid: str) -> R | None:
        return refusal(v2, GetRequest(unique_identifier=uid, key_format_type=KeyFormatType.PKCS_12))

    assert get(chain["uids"][1]) is R.KEY_FORMAT_TYPE_NOT_SUPPORTED  # the intermediate: no key of ours
    key = ec.generate_private_key(ec.SECP256R1())
    _public, sensitive = register_pair(v2, key, A.EC, (U.VERIFY, U.SIGN), (Tag.SENSITIVE, True))
    cert = register_certificate(v2, certificate("Sensitive", key))
    link(v2, cert, LinkType.PRIVATE_KEY_LINK, sensitive)
    link(v2, cert, LinkType.PKCS_12_PASSWORD_LINK, chain["password"])
    assert get(cert) is R.SENSITIVE  # a container would carry the key out unwrapped
    aes = register_key(v2, A.AES, os.urandom(16), U.ENCRYPT)
    linked_wrong = register_certificate(v2, certificate("Wrong", key))
    link(v2, linked_wrong, LinkType.PRIVATE_KEY_LINK, aes)
    assert get(linked_wrong) is R.INVALID_OBJECT_TYPE


def register_request(data: bytes, password: str) -> RegisterRequest:
    block = KeyBlock(key_format_type=KeyFormatType.PKCS_12, key_value=KeyValue(key_material=data))
    link = Link(link_type=LinkType.PKCS_12_PASSWORD_LINK, linked_object_identifier=password)
    return RegisterRequest(
        object_type=OT.PRIVATE_KEY,
        object=PrivateKey(key_block=block),
        attributes=as_attributes((Tag.LINK, link)),
    )


def test_a_registered_pkcs12_is_the_key_and_its_linked_chain(v2: KmipClient, chain: dict[str, Any]) -> None:
    leaf, inter, root = chain["certs"]
    data = pkcs12.serialize_key_and_certificates(
        b"imported", chain["key"], leaf, [inter, root], serialization.BestAvailableEncryption(b"s3cret")
    )
    asleep = register_object(v2, OT.SECRET_DATA, secret_data(b"s3cret"), U.DERIVE_KEY, active=False)
    assert refusal(v2, register_request(data, asleep)) is R.WRONG_KEY_LIFECYCLE_STATE  # TC-PKCS12-2-20
    wrong = register_object(v2, OT.SECRET_DATA, secret_data(b"not it"), U.DERIVE_KEY)
    assert refusal(v2, register_request(data, wrong)) is R.BAD_PASSWORD
    password = register_object(v2, OT.SECRET_DATA, secret_data(b"s3cret"), U.DERIVE_KEY)
    uid = str(v2.call(register_request(data, password)).unique_identifier)
    der = chain["key"].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    value, stored = material(v2, uid)
    assert value.key_block.key_format_type is KeyFormatType.PKCS_8 and stored == der
    found, uid_now = [], uid
    for _ in range(3):  # key -> leaf -> intermediate -> root, by PKCS#12 Certificate Links
        links = [
            link.linked_object_identifier
            for link in v2.call(GetAttributesRequest(unique_identifier=uid_now)).attributes.get_all(Tag.LINK)
            if link.link_type is LinkType.PKCS_12_CERTIFICATE_LINK
        ]
        assert len(links) == 1
        uid_now = str(links[0])
        found.append(
            x509.load_der_x509_certificate(
                v2.call(GetRequest(unique_identifier=uid_now)).object.certificate_value
            )
        )
    assert found == [leaf, inter, root]
    again = pkcs12.load_pkcs12(material(v2, uid, KeyFormatType.PKCS_12)[1], b"s3cret")
    assert (
        again.cert is not None and again.cert.certificate == leaf and again.cert.friendly_name == b"imported"
    )
    assert [c.certificate for c in again.additional_certs] == [inter, root]
