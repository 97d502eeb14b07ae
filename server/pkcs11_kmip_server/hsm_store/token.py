"""The token that holds the key store's keys: its objects' life (make, import, read, destroy).

Symmetric and private keys live there as token objects (CKA_TOKEN=TRUE, CKA_PRIVATE)
whose CKA_ID is the managed object's Unique Identifier, so the database needs no
other reference. CKA_SENSITIVE and CKA_EXTRACTABLE come from the KMIP Sensitive and
Extractable attributes, the CKA_<usage> flags from the Cryptographic Usage Mask.
What the token holds is decided by `holds`: AES (128-256 bits), HMAC, RSA and EC on
P-256/384/521 keys; the others (3DES, ChaCha20, Ed25519, X25519, ...) keep their
material in the database as before.

The store's record of such a key carries a reference key block instead of the
material: Key Format Type `HSM_REFERENCE` (a vendor extension value that never
leaves the server) whose key material is the CKA_ID.

One logged-in read-write session serves every thread, one call at a time (a lock):
PKCS#11 keeps an operation's state in its session, and every call this module and
the HSM provider make is a whole operation. The module is loaded once per process
(C_Initialize is per process), so the open token is a process-wide value (`current`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives import keywrap
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import KDF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from pkcs11_kmip.kmip.messages import Structure
from pkcs11_kmip.kmip.messages.objects import KeyBlock, KeyValue
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    BlockCipherMode,
    CryptographicAlgorithm,
    CryptographicUsageMask,
    KeyFormatType,
    ObjectType,
    RecommendedCurve,
    ResultReason,
)
from pkcs11_kmip_server import formats
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.hsm_store.settings import HsmStoreSettings
from pkcs11_kmip_server.native.objects import CURVE_PARAMS, CURVES, USAGE
from pkcs11_kmip_server.store import ObjectRecord

log = logging.getLogger(__name__)

A = CryptographicAlgorithm
U = CryptographicUsageMask

# The store's key block for a key the token holds: never sent to a client.
HSM_REFERENCE = KeyFormatType(0x8000_4B01)

# Secret keys the token holds: algorithm -> (key type, lengths in bits; None: any whole bytes).
SECRET_TYPES: dict[CryptographicAlgorithm, tuple[KeyType, frozenset[int] | None]] = {
    A.AES: (KeyType.AES, frozenset({128, 192, 256})),
    A.HMAC_SHA1: (KeyType.GENERIC_SECRET, None),
    A.HMAC_SHA224: (KeyType.GENERIC_SECRET, None),
    A.HMAC_SHA256: (KeyType.GENERIC_SECRET, None),
    A.HMAC_SHA384: (KeyType.GENERIC_SECRET, None),
    A.HMAC_SHA512: (KeyType.GENERIC_SECRET, None),
}
PRIVATE_TYPES: dict[CryptographicAlgorithm, KeyType] = {
    A.RSA: KeyType.RSA,
    **{algorithm: KeyType.EC for algorithm in formats.EC.algorithms},
}

T = TypeVar("T")

KEPT_HANDLES = 4096  # token objects whose handles are kept (least recently used out)

# A session object the server reads once and destroys at once (data it wraps, a value unwrapped).
READABLE_SESSION_SECRET: dict[Attribute, Any] = {
    Attribute.TOKEN: False,
    Attribute.SENSITIVE: False,
    Attribute.EXTRACTABLE: True,
}

# RFC 5649 §6's key-encryption key, and values of whole 8-byte blocks and not, that the token's
# CKM_AES_KEY_WRAP_PAD wraps and unwraps once to learn whether it gives RFC 5649 (`padded_wrap`).
_PROBE_KEK = bytes.fromhex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")
_PROBE_WHOLE = bytes(range(24))
_PROBE_PARTIAL = bytes.fromhex("c37b7e6492584340bed12207808941155068f738")

# A CKA flag -> the class python-pkcs11 mixes into an object that has it set.
_USE_MIXINS: dict[Attribute, type] = {
    Attribute.ENCRYPT: pkcs11.types.EncryptMixin,
    Attribute.DECRYPT: pkcs11.types.DecryptMixin,
    Attribute.WRAP: pkcs11.types.WrapMixin,
    Attribute.UNWRAP: pkcs11.types.UnwrapMixin,
    Attribute.SIGN: pkcs11.types.SignMixin,
}

# Cryptographic Usage Mask bit -> the CKA flag that allows it (MACs are CKA_SIGN/VERIFY).
FLAGS: dict[CryptographicUsageMask, Attribute] = {
    **{bit: Attribute(int(cka)) for cka, bit in USAGE.items()},
    U.MAC_GENERATE: Attribute.SIGN,
    U.MAC_VERIFY: Attribute.VERIFY,
}
# The flags each class of key may carry (a template with others is inconsistent).
CLASS_FLAGS: dict[ObjectClass, frozenset[Attribute]] = {
    ObjectClass.SECRET_KEY: frozenset(FLAGS.values()),
    ObjectClass.PRIVATE_KEY: frozenset(
        {Attribute.SIGN, Attribute.DECRYPT, Attribute.UNWRAP, Attribute.DERIVE}
    ),
}

# PKCS#11 errors -> the Result Reason a client gets (others: Cryptographic Failure).
REASONS: dict[type[p11.PKCS11Error], ResultReason] = {
    p11.AttributeSensitive: ResultReason.SENSITIVE,
    p11.KeyUnextractable: ResultReason.NOT_EXTRACTABLE,
    p11.MechanismInvalid: ResultReason.FEATURE_NOT_SUPPORTED,
    # Parameters the module does not take (SoftHSM2: OAEP with other hashes than SHA-1).
    p11.MechanismParamInvalid: ResultReason.FEATURE_NOT_SUPPORTED,
    p11.ArgumentsBad: ResultReason.FEATURE_NOT_SUPPORTED,
    p11.DataLenRange: ResultReason.INVALID_FIELD,
    p11.EncryptedDataLenRange: ResultReason.INVALID_FIELD,
    p11.KeySizeRange: ResultReason.INVALID_FIELD,
    # A key type the mechanism does not take: in SoftHSM2, an AES key for HMAC.
    p11.KeyTypeInconsistent: ResultReason.FEATURE_NOT_SUPPORTED,
}


# python-pkcs11 has no class for CKR_KEY_FUNCTION_NOT_PERMITTED: it names the code.
_NOT_PERMITTED = "0x68"


def failure(error: p11.PKCS11Error, doing: str) -> KmipError:
    """The KMIP answer for a token's refusal (the error's class names the CK_RV, no data)."""
    reason = next(
        (r for cls, r in REASONS.items() if isinstance(error, cls)), ResultReason.CRYPTOGRAPHIC_FAILURE
    )
    name = type(error).__name__
    if type(error) is p11.PKCS11Error and str(error).endswith(_NOT_PERMITTED):
        reason, name = ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK, "CKR_KEY_FUNCTION_NOT_PERMITTED"
    return KmipError(reason, f"the HSM refused to {doing}: {name}")


@contextlib.contextmanager
def refusals(doing: str) -> Iterator[None]:
    """Turn a PKCS#11 error inside into the KmipError of `failure`."""
    try:
        yield
    except p11.PKCS11Error as error:
        raise failure(error, doing) from None


class HsmToken:
    """The open token: one logged-in session, used under a lock."""

    def __init__(self, settings: HsmStoreSettings) -> None:
        os.environ.update(settings.environment)
        library = pkcs11.lib(str(settings.module))
        try:
            token = library.get_token(token_label=settings.token_label)
        except p11.NoSuchToken:
            raise ValueError(f"[store.hsm] no token labelled {settings.token_label!r}") from None
        self.label = settings.token_label
        self._session: Any = token.open(rw=True, user_pin=settings.read_pin())
        self._lock = threading.Lock()
        # CKA_ID -> the token object: a search (C_FindObjects) scans every object of the
        # token (bench/hsm_store_bench.py); a token object's handle lasts while the session does.
        self._known: OrderedDict[bytes, Any] = OrderedDict()
        self._shortest: dict[Mechanism, int] = {}
        self._padded_wrap: _PaddedWrap | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        with self._lock:
            yield self._session

    def close(self) -> None:
        global _current
        with self._lock:
            self._session.close()
        if _current is self:
            _current = None

    # --- finding ---------------------------------------------------------------------------

    def find(self, session: Any, reference: bytes, object_class: ObjectClass | None = None) -> Any | None:
        """The token object with this CKA_ID (of this class), or None."""
        template: dict[Attribute, Any] = {Attribute.ID: reference, Attribute.TOKEN: True}
        if object_class is not None:
            template[Attribute.CLASS] = object_class
        return next(iter(session.get_objects(template)), None)

    def key(self, session: Any, record: ObjectRecord) -> Any:
        """The token object of a record whose material is a reference (Key Value Not Present if gone).

        Called with the session held (the lock also guards the handles kept).
        """
        reference = reference_of(record)
        assert reference is not None
        found = self._known.get(reference)
        if found is not None:
            self._known.move_to_end(reference)
            return found
        found = self.find(session, reference, CLASSES[record.object_type])
        if found is None:
            raise KmipError(ResultReason.KEY_VALUE_NOT_PRESENT, f"the HSM holds no key {record.uid}")
        self._keep(reference, found)
        return found

    def forget(self, record: ObjectRecord) -> None:
        """Drop the kept handle of the record's key (its object went from the token some other
        way), so the next use searches for it again. Called with the session held."""
        reference = reference_of(record)
        if reference is not None:
            self._known.pop(reference, None)

    def _keep(self, reference: bytes, key: Any) -> None:
        self._known[reference] = key
        while len(self._known) > KEPT_HANDLES:
            self._known.popitem(last=False)

    def tighten(self, reference: bytes, sensitive: bool, unextractable: bool) -> None:
        """CKA_SENSITIVE=TRUE and/or CKA_EXTRACTABLE=FALSE on the token object (one way only)."""
        with self.session() as session:
            key = self._known.get(reference) or self.find(session, reference)
            if key is None:
                return
            if sensitive:
                key[Attribute.SENSITIVE] = True
            if unextractable:
                key[Attribute.EXTRACTABLE] = False

    def destroy(self, reference: bytes) -> bool:
        """Destroy the token objects with this CKA_ID; whether there were any."""
        with self.session() as session:
            self._known.pop(reference, None)
            found = list(session.get_objects({Attribute.ID: reference, Attribute.TOKEN: True}))
            for key in found:
                key.destroy()
        return bool(found)

    # --- making keys -----------------------------------------------------------------------

    def generate_secret(self, record: ObjectRecord) -> KeyBlock:
        """Generate the record's symmetric key inside the token; the reference block to store."""
        algorithm, length = _algorithm_and_length(record)
        key_type, _ = SECRET_TYPES[algorithm]
        with self.session() as session, refusals("generate the key"):
            key = session.generate_key(
                key_type,
                length,
                store=True,
                capabilities=0,
                template=_template(record, ObjectClass.SECRET_KEY),
            )
            self._keep(record.uid.encode(), key)
        return reference_block(record)

    def generate_pair(
        self, private: ObjectRecord, curve: RecommendedCurve | None, reference: bytes | None = None
    ) -> tuple[Any, formats.AnyKey]:
        """Generate the private key of `private` inside the token; its token object and its
        public key (pyca's). `reference`: a CKA_ID other than the record's (a key pair made
        ahead of its transaction, named by `name` once a record takes it).

        The public half is a session object, read and destroyed: the database keeps
        public keys itself (they are not secret, and verifying needs no HSM trip).
        """
        algorithm, length = _algorithm_and_length(private)
        key_type = PRIVATE_TYPES[algorithm]
        public_template: dict[Attribute, Any] = {Attribute.TOKEN: False, Attribute.VERIFY: True}
        if key_type is KeyType.EC:
            assert curve is not None
            public_template[Attribute.EC_PARAMS] = CURVE_PARAMS[curve]
        private_template = _template(private, ObjectClass.PRIVATE_KEY)
        if reference is not None:
            private_template[Attribute.ID] = reference
        with self.session() as session, refusals("generate the key pair"):
            public, private_key = session.generate_keypair(
                key_type,
                length if key_type is KeyType.RSA else None,
                store=False,
                capabilities=0,
                public_template=public_template,
                private_template=private_template,
            )
            try:
                public_key = _public_key(public)
            except BaseException:
                private_key.destroy()  # no record will name it
                raise
            finally:
                public.destroy()
            if reference is None:
                self._keep(private.uid.encode(), private_key)
            return private_key, public_key

    def name(self, key: Any, record: ObjectRecord) -> None:
        """Give a key made ahead the record's CKA_LABEL, then its CKA_ID (last: until then the
        object keeps the CKA_ID it was made with, by which it is destroyed if this fails)."""
        with self.session(), refusals("name the key pair made ahead"):
            key[Attribute.LABEL] = _label(record)
            key[Attribute.ID] = record.uid.encode()
            self._keep(record.uid.encode(), key)

    def import_key(self, record: ObjectRecord, block: KeyBlock) -> KeyBlock:
        """Put the record's key (in `block`) into the token; the reference block to store."""
        template = _template(record, CLASSES[record.object_type])
        if record.object_type is ObjectType.SYMMETRIC_KEY:
            algorithm, _ = _algorithm_and_length(record)
            template[Attribute.KEY_TYPE] = SECRET_TYPES[algorithm][0]
            template[Attribute.VALUE] = formats.symmetric_key_bytes(block)
        else:
            template.update(_private_parts(formats.load_key(block, private=True)))
        with self.session() as session, refusals("import the key"):
            self._keep(record.uid.encode(), session.create_object(template))
        return reference_block(record)

    def use(self, record: ObjectRecord, doing: str, work: Callable[[Any], T]) -> T:
        """`work` on the record's token object, in the token's session; a kept handle whose
        object went is searched for again (Key Value Not Present if it is gone)."""
        with self.session() as session, refusals(doing):
            try:
                return work(self.key(session, record))
            except (p11.ObjectHandleInvalid, p11.KeyHandleInvalid):
                self.forget(record)
                return work(self.key(session, record))

    def shortest_key(self, mechanism: Mechanism) -> int:
        """The fewest key bytes the token's `mechanism` takes (C_GetMechanismInfo's
        ulMinKeySize; SoftHSM2: an HMAC key as long as the hash's output), asked once."""
        if mechanism not in self._shortest:
            with self.session() as session, refusals("describe its mechanisms"):
                self._shortest[mechanism] = session.token.slot.get_mechanism_info(mechanism).min_key_length
        return self._shortest[mechanism]

    def padded_wrap(self, length: int | None, encrypt: bool) -> Mechanism | None:
        """The token's mechanism that wraps (or unwraps) a value of `length` bytes (None: not
        known beforehand, e.g. a private key's PKCS#8) exactly as RFC 5649, or None.

        KMIP's AES Key Wrap with Padding is RFC 5649: CKM_AES_KEY_WRAP_KWP if the token has
        it; else CKM_AES_KEY_WRAP_PAD where a known-answer probe shows it gives RFC 5649
        (SoftHSM2 2.6 zero-pads the value to whole 8-byte blocks before it wraps: right for
        16/24/32-byte keys, wrong for 20 bytes; it unwraps any length right). Never other
        bytes under the name KWP."""
        if self._padded_wrap is None:
            with self.session() as session, refusals("describe its key wrapping"):
                self._padded_wrap = _probe_padded_wrap(session)
        found = self._padded_wrap
        if found.mechanism is None:
            return None
        if not encrypt:
            return found.mechanism if found.unwraps else None
        fits = found.any_length or (found.whole_blocks and length is not None and length % 8 == 0)
        return found.mechanism if fits else None

    def permits(self, record: ObjectRecord, flag: Attribute) -> bool:
        """Whether the record's token object has `flag` (CKA_ENCRYPT, CKA_WRAP, ...) set: its
        python-pkcs11 class has the flag's mixin (read when the handle was found, no call)."""
        mixin = _USE_MIXINS.get(flag)
        if mixin is None:
            return bool(self.use(record, "describe the key", lambda key: key[flag]))
        return self.use(record, "describe the key", lambda key: isinstance(key, mixin))

    def copy_key(self, source: ObjectRecord, copy: ObjectRecord) -> KeyBlock:
        """C_CopyObject of the source's key for the record `copy` (its CKA_ID and CKA_LABEL):
        the value is copied inside the token and never seen here. The reference block to store;
        the copy's flags are its record's changes, set at commit as any change's."""
        template = {Attribute.ID: copy.uid.encode(), Attribute.LABEL: _label(copy)}

        def work(key: Any) -> KeyBlock:
            self._keep(copy.uid.encode(), key.copy(template))
            return reference_block(copy)

        return self.use(source, "copy the key", work)

    def shared_secret(self, record: ObjectRecord, peer_point: Callable[[ec.EllipticCurve], bytes]) -> bytes:
        """ECDH of the record's EC private key (CKM_ECDH1_DERIVE, no KDF) with the point
        `peer_point` gives for the key's curve (it checks the peer's key): the shared secret,
        read out of a session object made for it (not Sensitive, Extractable) and destroyed at
        once. The private key never leaves the token; the secret is what Derive Key makes."""

        def agree(key: Any) -> bytes:
            curve = _curve(key)
            secret = key.derive_key(
                KeyType.GENERIC_SECRET,
                8 * ((curve.key_size + 7) // 8),
                mechanism=Mechanism.ECDH1_DERIVE,
                mechanism_param=(KDF.NULL, None, peer_point(curve)),
                template={Attribute.TOKEN: False, Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
            )
            try:
                return bytes(secret[Attribute.VALUE])
            finally:
                secret.destroy()

        return self.use(record, "derive a shared secret", agree)

    def public_key(self, record: ObjectRecord) -> formats.AnyKey | None:
        """The public part of an RSA private key in the token (CKA_MODULUS, CKA_PUBLIC_EXPONENT,
        which PKCS#11 shows of any private key); None for an EC one (its object has no point)."""
        return self.use(
            record,
            "give the key's public part",
            lambda key: _public_key(key) if key.key_type is KeyType.RSA else None,
        )

    def read(self, record: ObjectRecord) -> KeyBlock:
        """The key's value out of the token, as a plain key block (Raw; the kind's first format).

        The token refuses a sensitive or unextractable key's value (Sensitive / Not
        Extractable); the operations check the KMIP flags first, so this is the HSM's
        own word, e.g. on a key whose flags were changed outside the server.
        """
        algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
        with self.session() as session, refusals("give the key's value"):
            key = self.key(session, record)
            if record.object_type is ObjectType.SYMMETRIC_KEY:
                return KeyBlock(
                    key_format_type=KeyFormatType.RAW,
                    key_value=KeyValue(key_material=bytes(key[Attribute.VALUE])),
                    cryptographic_algorithm=algorithm,
                    cryptographic_length=record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH),
                )
            private = _private_key(key)
        return formats.write_key(private, formats.kind_of(private).private_formats[0], algorithm)

    def wrap_key(
        self,
        wrapping: ObjectRecord | rsa.RSAPublicKey,
        record: ObjectRecord,
        mechanism: pkcs11.Mechanism,
        parameter: Any = None,
    ) -> bytes:
        """C_WrapKey of the record's key by a token key, or by an RSA public key (the database
        keeps those: it becomes a session object for the call, as it is not secret). The value
        is encrypted inside the token and never seen here. The token refuses an unextractable
        key (Not Extractable) and a wrapping key without CKA_WRAP (Incompatible Usage Mask)."""
        with self.session() as session, refusals("wrap the key"):
            if isinstance(wrapping, rsa.RSAPublicKey):
                kek = session.create_object(_public_template(wrapping))
            else:
                kek = self.key(session, wrapping)
            try:
                wrapped = kek.wrap_key(
                    self.key(session, record), mechanism=mechanism, mechanism_param=parameter
                )
            finally:
                if isinstance(wrapping, rsa.RSAPublicKey):
                    kek.destroy()
            return bytes(wrapped)


def wrap_value(session: Any, kek: Any, mechanism: Mechanism, value: bytes) -> bytes:
    """C_WrapKey of `value` by `kek`: the value becomes a session secret, wrapped and destroyed."""
    secret = session.create_object(
        {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
            Attribute.VALUE: value,
            **READABLE_SESSION_SECRET,
        }
    )
    try:
        return bytes(kek.wrap_key(secret, mechanism=mechanism))
    finally:
        secret.destroy()


def unwrap_value(kek: Any, mechanism: Mechanism, wrapped: bytes) -> bytes:
    """C_UnwrapKey of `wrapped` by `kek` into a session secret, read and destroyed."""
    secret = kek.unwrap_key(
        ObjectClass.SECRET_KEY,
        KeyType.GENERIC_SECRET,
        wrapped,
        mechanism=mechanism,
        template=READABLE_SESSION_SECRET,
    )
    try:
        return bytes(secret[Attribute.VALUE])
    finally:
        secret.destroy()


@dataclass(frozen=True)
class _PaddedWrap:
    """What `_probe_padded_wrap` learnt of the token's AES key wrap with padding."""

    mechanism: Mechanism | None
    whole_blocks: bool = False  # wraps a value of whole 8-byte blocks as RFC 5649
    any_length: bool = False  # wraps any value as RFC 5649
    unwraps: bool = False  # unwraps RFC 5649


def _probe_padded_wrap(session: Any) -> _PaddedWrap:
    """The token's RFC 5649 mechanism, checked with session objects against pyca's RFC 5649."""
    offered = set(session.token.slot.get_mechanisms())
    if Mechanism.AES_KEY_WRAP_KWP in offered:  # PKCS#11 3.0's name for RFC 5649
        return _PaddedWrap(Mechanism.AES_KEY_WRAP_KWP, True, True, True)
    pad = Mechanism.AES_KEY_WRAP_PAD
    if pad not in offered:
        return _PaddedWrap(None)
    kek = session.create_object(
        {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.AES,
            Attribute.VALUE: _PROBE_KEK,
            Attribute.WRAP: True,
            Attribute.UNWRAP: True,
            **READABLE_SESSION_SECRET,
        }
    )

    def wraps_right(value: bytes) -> bool:
        try:
            return wrap_value(session, kek, pad, value) == keywrap.aes_key_wrap_with_padding(
                _PROBE_KEK, value
            )
        except p11.PKCS11Error:
            return False

    def unwraps_right(value: bytes) -> bool:
        try:
            return unwrap_value(kek, pad, keywrap.aes_key_wrap_with_padding(_PROBE_KEK, value)) == value
        except p11.PKCS11Error:
            return False

    try:
        found = _PaddedWrap(
            pad,
            whole_blocks=wraps_right(_PROBE_WHOLE),
            any_length=wraps_right(_PROBE_PARTIAL),
            unwraps=unwraps_right(_PROBE_PARTIAL) and unwraps_right(_PROBE_WHOLE),
        )
    finally:
        kek.destroy()
    log.info(
        "the HSM's CKM_AES_KEY_WRAP_PAD gives RFC 5649 for whole 8-byte blocks: %s, any length: %s, "
        "unwrapping: %s",
        found.whole_blocks,
        found.any_length,
        found.unwraps,
    )
    return found


CLASSES: dict[ObjectType, ObjectClass] = {
    ObjectType.SYMMETRIC_KEY: ObjectClass.SECRET_KEY,
    ObjectType.PRIVATE_KEY: ObjectClass.PRIVATE_KEY,
}

_current: HsmToken | None = None


def open_token(settings: HsmStoreSettings) -> HsmToken:
    """Open the key store's token for this process."""
    global _current
    if _current is not None:
        raise RuntimeError("the HSM key store's token is already open in this process")
    _current = HsmToken(settings)
    return _current


def current() -> HsmToken:
    """The open token (General Failure if a record names one and none is open)."""
    if _current is None:
        raise KmipError(
            ResultReason.GENERAL_FAILURE, "the key is in an HSM key store this server has not opened"
        )
    return _current


def reference_of(record: ObjectRecord) -> bytes | None:
    """The CKA_ID of the token object holding the record's key, or None (material in the database)."""
    block = getattr(record.material, "key_block", None)
    if isinstance(block, KeyBlock) and block.key_format_type == HSM_REFERENCE:
        value = block.key_value
        if isinstance(value, KeyValue) and isinstance(value.key_material, bytes):
            return value.key_material
    return None


def reference_block(record: ObjectRecord) -> KeyBlock:
    return KeyBlock(
        key_format_type=HSM_REFERENCE,
        key_value=KeyValue(key_material=record.uid.encode()),
        cryptographic_algorithm=record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM),
        cryptographic_length=record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH),
    )


def holds(
    object_type: ObjectType,
    algorithm: CryptographicAlgorithm | None,
    length: int | None,
    parameters: Iterable[object] = (),
) -> bool:
    """Whether the token keeps keys of this kind (the others stay in the database).

    An AES key whose Cryptographic Parameters name XTS (KMIP's AX profile, the native
    token's CKK_AES_XTS of 32 bytes) stays in the database: PKCS#11 tokens (SoftHSM2) have
    no AES-XTS, so a token object could never serve the use the key was made for.
    """
    if any(getattr(p, "block_cipher_mode", None) is BlockCipherMode.XTS for p in parameters):
        return False
    if object_type is ObjectType.SYMMETRIC_KEY and algorithm in SECRET_TYPES:
        allowed = SECRET_TYPES[algorithm][1]
        return length is not None and length % 8 == 0 and (allowed is None or length in allowed)
    return object_type is ObjectType.PRIVATE_KEY and algorithm in PRIVATE_TYPES


def holds_record(record: ObjectRecord, material: Structure | None) -> bool:
    """Whether the record's key (plain, in `material`) goes into the token."""
    block = getattr(material, "key_block", None)
    if not isinstance(block, KeyBlock) or block.key_wrapping_data is not None:
        return False  # no key, or one stored wrapped (Import As Registered): the database keeps it
    if block.key_format_type == HSM_REFERENCE or not isinstance(block.key_value, KeyValue):
        return False
    attributes = record.attributes
    if not holds(
        record.object_type,
        attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM),
        attributes.get(Tag.CRYPTOGRAPHIC_LENGTH),
        attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS),
    ):
        return False
    if record.object_type is ObjectType.PRIVATE_KEY:
        try:
            key = formats.load_key(block, private=True)
        except KmipError:
            return False
        return isinstance(key, rsa.RSAPrivateKey) or (
            isinstance(key, ec.EllipticCurvePrivateKey) and formats.curve_of(key) in CURVE_PARAMS
        )
    return True


def _algorithm_and_length(record: ObjectRecord) -> tuple[CryptographicAlgorithm, int]:
    algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
    length = record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH)
    assert algorithm is not None and length is not None
    return algorithm, length


def made_alike(record: ObjectRecord) -> dict[Attribute, Any]:
    """What a private key made for `record` is made with, but for its names (CKA_ID, CKA_LABEL):
    a key made ahead for one record serves another only if these are equal."""
    template = _template(record, ObjectClass.PRIVATE_KEY)
    del template[Attribute.ID], template[Attribute.LABEL]
    return template


def _template(record: ObjectRecord, object_class: ObjectClass) -> dict[Attribute, Any]:
    """CKA_CLASS, TOKEN, PRIVATE, ID, the two flags and the usage flags of the record's key."""
    attributes = record.attributes
    mask = attributes.get(Tag.CRYPTOGRAPHIC_USAGE_MASK)
    allowed = CLASS_FLAGS[object_class]
    flags = dict.fromkeys(allowed, mask is None)  # no mask: the KMIP side allows every use
    if mask is not None:
        for bit, flag in FLAGS.items():
            if int(mask) & int(bit) and flag in allowed:
                flags[flag] = True
    return {
        Attribute.CLASS: object_class,
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.ID: record.uid.encode(),
        Attribute.LABEL: _label(record),
        Attribute.SENSITIVE: attributes.get(Tag.SENSITIVE) is True,
        Attribute.EXTRACTABLE: attributes.get(Tag.EXTRACTABLE) is not False,
        **flags,
    }


def _label(record: ObjectRecord) -> str:
    """CKA_LABEL of the record's token object: its first Name, else its Unique Identifier."""
    names = [name.name_value for name in record.attributes.get_all(Tag.NAME)]
    return next((str(name) for name in names if name), record.uid)


def _integer(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def _public_template(key: rsa.RSAPublicKey) -> dict[Attribute, Any]:
    """A session RSA public key that wraps (CKA_WRAP) and nothing else."""
    numbers = key.public_numbers()
    return {
        Attribute.CLASS: ObjectClass.PUBLIC_KEY,
        Attribute.KEY_TYPE: KeyType.RSA,
        Attribute.TOKEN: False,
        Attribute.WRAP: True,
        Attribute.MODULUS: _integer(numbers.n),
        Attribute.PUBLIC_EXPONENT: _integer(numbers.e),
    }


def _private_parts(key: formats.AnyKey) -> dict[Attribute, Any]:
    """The CKA_* of a private key to import (RSA: the CRT parts; EC: curve and scalar)."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.private_numbers()
        return {
            Attribute.KEY_TYPE: KeyType.RSA,
            Attribute.MODULUS: _integer(numbers.public_numbers.n),
            Attribute.PUBLIC_EXPONENT: _integer(numbers.public_numbers.e),
            Attribute.PRIVATE_EXPONENT: _integer(numbers.d),
            Attribute.PRIME_1: _integer(numbers.p),
            Attribute.PRIME_2: _integer(numbers.q),
            Attribute.EXPONENT_1: _integer(numbers.dmp1),
            Attribute.EXPONENT_2: _integer(numbers.dmq1),
            Attribute.COEFFICIENT: _integer(numbers.iqmp),
        }
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    curve = formats.curve_of(key)
    assert curve is not None
    return {
        Attribute.KEY_TYPE: KeyType.EC,
        Attribute.EC_PARAMS: CURVE_PARAMS[curve],
        Attribute.VALUE: _integer(key.private_numbers().private_value),
    }


def _number(key: Any, attribute: Attribute) -> int:
    return int.from_bytes(bytes(key[attribute]), "big")


def _curve(key: Any) -> ec.EllipticCurve:
    curve = CURVES.get(bytes(key[Attribute.EC_PARAMS]))
    if curve is None:
        raise KmipError(
            ResultReason.FEATURE_NOT_SUPPORTED, "the HSM key is on a curve the server does not know"
        )
    return formats.EC_CURVES[curve]()


def _public_key(key: Any) -> formats.AnyKey:
    """A token public key as pyca's (RSA: modulus and exponent; EC: the DER-wrapped point)."""
    if key.key_type is KeyType.RSA:
        return rsa.RSAPublicNumbers(
            _number(key, Attribute.PUBLIC_EXPONENT), _number(key, Attribute.MODULUS)
        ).public_key()
    point = bytes(key[Attribute.EC_POINT])
    _, start, end = formats.der_element(point)
    return ec.EllipticCurvePublicKey.from_encoded_point(_curve(key), point[start:end])


def _private_key(key: Any) -> formats.AnyKey:
    """A token private key's value as pyca's (the token refuses it if sensitive or unextractable)."""
    if key.key_type is KeyType.RSA:
        public = rsa.RSAPublicNumbers(
            _number(key, Attribute.PUBLIC_EXPONENT), _number(key, Attribute.MODULUS)
        )
        return rsa.RSAPrivateNumbers(
            _number(key, Attribute.PRIME_1),
            _number(key, Attribute.PRIME_2),
            _number(key, Attribute.PRIVATE_EXPONENT),
            _number(key, Attribute.EXPONENT_1),
            _number(key, Attribute.EXPONENT_2),
            _number(key, Attribute.COEFFICIENT),
            public,
        ).private_key()
    return ec.derive_private_key(_number(key, Attribute.VALUE), _curve(key))
