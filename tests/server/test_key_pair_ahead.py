"""Key pairs are generated outside the store's write transaction (operations.prepares).

An RSA-4096 key pair takes hundreds of milliseconds to generate; while it is made, the
writer lock (store.writer_lock) stays free, so other clients' Creates go on, in every
server process. What can refuse the request is checked before anything is generated,
and the Names again in the write transaction: a Name taken in between fails the request
as it always did, and nothing of it is left.

The engine tests run the real engine on a real SQLite store and watch the generation
itself (pyca's, wrapped); the last ones are real servers over TLS, of one and two
processes, where the measure is an ordering: how many Creates of another client are
answered between the key pair request going out and its answer coming back.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from pkcs11_kmip.kmip.messages import RequestBatchItem, RequestHeader, RequestMessage, ResponseMessage
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes
from pkcs11_kmip.kmip.messages.payloads import (
    CreateKeyPairRequest,
    GetRequest,
    LocateRequest,
    ReKeyKeyPairRequest,
    RequestPayload,
)
from pkcs11_kmip.kmip.messages.structures import ProtocolVersion
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ResultReason,
    ResultStatus,
)
from pkcs11_kmip.kmip.ttlv import DEFAULT_LIMITS
from pkcs11_kmip_server import asymmetric
from pkcs11_kmip_server.engine import Engine, Peer
from pkcs11_kmip_server.jobs import AsyncJobs
from pkcs11_kmip_server.store.policy import ConstraintRule
from pkcs11_kmip_server.store.sealing import Sealer
from pkcs11_kmip_server.store.sqlite import SqliteStore
from testsupport.kmip_builders import aes_create, as_attributes, name
from testsupport.server import start_server
from testsupport.wire import raw_tls, read_frame

ALICE = Peer("alice")
A = CryptographicAlgorithm
SIGN, VERIFY = CryptographicUsageMask.SIGN, CryptographicUsageMask.VERIFY


def rsa_pair(
    length: int,
    *common: tuple[int, Any],
    private: tuple[tuple[int, Any], ...] = (),
    public_format: KeyFormatType | None = None,
) -> CreateKeyPairRequest:
    """An RSA key pair of `length` bits with these Common Attributes (a Name goes in `private`:
    the two keys cannot share one)."""
    public: list[tuple[int, Any]] = [(Tag.CRYPTOGRAPHIC_USAGE_MASK, VERIFY)]
    if public_format is not None:
        public.append((Tag.KEY_FORMAT_TYPE, public_format))
    return CreateKeyPairRequest(
        common_attributes=CommonAttributes.of(
            (Tag.CRYPTOGRAPHIC_ALGORITHM, A.RSA), (Tag.CRYPTOGRAPHIC_LENGTH, length), *common
        ),
        private_key_attributes=PrivateKeyAttributes.of((Tag.CRYPTOGRAPHIC_USAGE_MASK, SIGN), *private),
        public_key_attributes=PublicKeyAttributes.of(*public),
    )


def encoded(*payloads: RequestPayload) -> bytes:
    items = [RequestBatchItem(operation=p.OPERATION, request_payload=p) for p in payloads]
    header = RequestHeader(protocol_version=ProtocolVersion.of((2, 1)), batch_count=len(items))
    return RequestMessage(header=header, batch_items=items).encode()


def answer(data: bytes) -> Any:
    """The one item's payload, or (status, reason, message) if it failed."""
    (item,) = ResponseMessage.decode(data, DEFAULT_LIMITS).batch_items
    if item.result_status is not ResultStatus.SUCCESS:
        return item.result_status, item.result_reason, item.result_message
    return item.response_payload


# --- the engine, on a real store -------------------------------------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    sealer = Sealer(secrets.token_bytes(32))
    engine = Engine(
        SqliteStore(tmp_path / "store.sqlite3", sealer), DEFAULT_LIMITS, jobs=AsyncJobs(workers=1)
    )
    yield engine
    engine.close()
    engine.store.close()


class Generations:
    """pyca's key pair generation, counted, with whether the writer lock was free during it
    and something to run in the middle of it (as another client would)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.lock_free: list[bool] = []
        self.meanwhile: Callable[[], None] | None = None
        self.real = asymmetric.generate_key_pair

    def __call__(self, spec: asymmetric.KeyPairSpec) -> Any:
        writer = self.store._writer._threads
        free = writer.acquire(blocking=False)
        if free:
            writer.release()
        self.lock_free.append(free)
        if self.meanwhile is not None:
            other = threading.Thread(target=self.meanwhile)
            other.start()
            other.join(timeout=20)
            assert not other.is_alive(), "another client's write waited for the key pair generation"
        return self.real(spec)


@pytest.fixture
def generations(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Generations:
    assert isinstance(engine.store, SqliteStore)
    counted = Generations(engine.store)
    monkeypatch.setattr(asymmetric, "generate_key_pair", counted)
    return counted


def my_objects(engine: Engine) -> list[str]:
    return list(answer(engine.handle(encoded(LocateRequest()), ALICE)).unique_identifiers or [])


def fetched(engine: Engine, uid: str, key_format: KeyFormatType) -> Any:
    return answer(
        engine.handle(encoded(GetRequest(unique_identifier=uid, key_format_type=key_format)), ALICE)
    )


def test_the_pair_is_generated_with_the_writer_lock_free(engine: Engine, generations: Generations) -> None:
    created = answer(engine.handle(encoded(rsa_pair(2048)), ALICE))
    assert generations.lock_free == [True]
    private = fetched(engine, created.private_key_unique_identifier, KeyFormatType.PKCS_8)
    public = fetched(engine, created.public_key_unique_identifier, KeyFormatType.X_509)
    key = serialization.load_der_private_key(private.object.key_block.key_value.key_material, None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert (
        key.public_key().public_bytes(serialization.Encoding.DER, spki)
        == public.object.key_block.key_value.key_material
    )


def test_other_writes_go_on_during_the_generation(engine: Engine, generations: Generations) -> None:
    done: list[Any] = []
    generations.meanwhile = lambda: done.append(
        answer(engine.handle(encoded(aes_create((2, 1))), Peer("bob")))
    )
    created = answer(engine.handle(encoded(rsa_pair(2048)), ALICE))
    assert created.private_key_unique_identifier and done[0].unique_identifier


def test_re_key_key_pair_is_generated_with_the_writer_lock_free(
    engine: Engine, generations: Generations
) -> None:
    created = answer(engine.handle(encoded(rsa_pair(2048, private=((Tag.NAME, name("signer")),))), ALICE))
    renewed = answer(
        engine.handle(
            encoded(ReKeyKeyPairRequest(private_key_unique_identifier=created.private_key_unique_identifier)),
            ALICE,
        )
    )
    assert generations.lock_free == [True, True]
    found = answer(
        engine.handle(encoded(LocateRequest(attributes=as_attributes((Tag.NAME, name("signer"))))), ALICE)
    )
    assert found.unique_identifiers == [renewed.private_key_unique_identifier]


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        pytest.param(
            rsa_pair(2048, private=((Tag.NAME, name("taken")),)),
            ResultReason.NON_UNIQUE_NAME_ATTRIBUTE,
            id="name-in-use",
        ),
        pytest.param(
            rsa_pair(2048, (Tag.OBJECT_GROUP, "strong-only")),
            ResultReason.CONSTRAINT_VIOLATION,
            id="constraint",
        ),
        pytest.param(
            rsa_pair(2048, public_format=KeyFormatType.RAW),
            ResultReason.KEY_FORMAT_TYPE_NOT_SUPPORTED,
            id="public-format",
        ),
        pytest.param(rsa_pair(2000), ResultReason.INVALID_FIELD, id="length"),
    ],
)
def test_a_refused_request_generates_nothing(
    engine: Engine,
    generations: Generations,
    request_: CreateKeyPairRequest,
    reason: ResultReason,
) -> None:
    answer(engine.handle(encoded(aes_create((2, 1), 256, (Tag.NAME, name("taken")))), ALICE))
    with engine.store.session() as session:
        rule = ConstraintRule("strong", "min-length=RSA:3072", object_groups=["strong-only"])
        session.policy().add_constraint(rule, "test")
    before = my_objects(engine)
    status, got, _ = answer(engine.handle(encoded(request_), ALICE))
    assert (status, got) == (ResultStatus.OPERATION_FAILED, reason)
    assert generations.lock_free == []
    assert my_objects(engine) == before


def test_a_name_taken_during_the_generation_fails_the_pair_and_leaves_nothing(
    engine: Engine, generations: Generations
) -> None:
    taken: list[Any] = []
    generations.meanwhile = lambda: taken.append(
        answer(engine.handle(encoded(aes_create((2, 1), 256, (Tag.NAME, name("contested")))), ALICE))
    )
    status, reason, _ = answer(
        engine.handle(encoded(rsa_pair(2048, private=((Tag.NAME, name("contested")),))), ALICE)
    )
    assert (status, reason) == (ResultStatus.OPERATION_FAILED, ResultReason.NON_UNIQUE_NAME_ATTRIBUTE)
    assert generations.lock_free == [True]
    assert my_objects(engine) == [taken[0].unique_identifier]


# --- real servers over TLS --------------------------------------------------------------------


@pytest.mark.parametrize("processes", [1, 2])
def test_creates_are_answered_while_an_rsa_4096_pair_is_generated(tmp_path: Path, processes: int) -> None:
    """Before the pair's answer arrives, another client's Creates are answered, one after
    another: none of them waits for the generation (with the writer lock held around it,
    the first would wait for the whole of it, and so would every later one)."""
    server = start_server(tmp_path, processes=processes)
    try:
        with (
            server.client("creates") as creates,
            raw_tls(server, server.client_identity("pairs"), 120) as pairs,
        ):
            creates.call(aes_create((2, 1)))  # connected and warm
            pairs.sendall(encoded(rsa_pair(4096)))
            answered = threading.Event()
            response: list[bytes | None] = []

            def wait() -> None:
                response.append(read_frame(pairs))
                answered.set()

            waiter = threading.Thread(target=wait)
            waiter.start()
            before = 0
            while not answered.is_set() and before < 10_000:
                creates.call(aes_create((2, 1)))
                before += not answered.is_set()
            waiter.join(timeout=120)
        frame = response[0]
        assert frame is not None
        created = answer(frame)
        assert created.private_key_unique_identifier, created
        assert before >= 10, f"only {before} Creates were answered while the key pair was generated"
    finally:
        server.stop()
