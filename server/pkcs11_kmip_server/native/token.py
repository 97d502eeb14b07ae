"""The native token of one client context: sessions, login, handles, and the Cryptoki
functions of this slice, each run as KMIP operations on the client's store.

A call arrives with the KMIP request it travels in (`RequestContext`): its principal
is the client, its store transaction the one the token reads and writes in. Keys are
made, used and destroyed by the server's own operation handlers (Create, Create Key
Pair, Activate, Encrypt, Decrypt, Sign, Signature Verify, Revoke, Destroy, RNG
Retrieve), so access control, lifecycle, usage masks, Usage Limits and the crypto
provider are the ones KMIP clients get; key bytes never leave the server.

The token changes its own state (handles, operations, login) only after the store
work of a call succeeded: a store conflict makes the engine run the call again, and
the second run must find the token as the first one did.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.calls import BY_ID
from pkcs11_kmip.cryptoki.constants import (
    CKA,
    CKF,
    CKF_CLOCK_ON_TOKEN,
    CKF_LOGIN_REQUIRED,
    CKF_RNG,
    CKF_RW_SESSION,
    CKF_SERIAL_SESSION,
    CKF_TOKEN_INITIALIZED,
    CKF_TOKEN_PRESENT,
    CKF_USER_PIN_INITIALIZED,
    CKK,
    CKO,
    CKR,
    CKS,
    CKU_USER,
    EFFECTIVELY_INFINITE,
    UNAVAILABLE,
)
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.module import pad
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeQuery,
    Mechanism,
    OutData,
    OutRequest,
    StructValue,
    Value,
)
from pkcs11_kmip.kmip.messages import Attributes, RequestPayload, ResponsePayload
from pkcs11_kmip.kmip.messages.attributes import CommonAttributes, PrivateKeyAttributes, PublicKeyAttributes
from pkcs11_kmip.kmip.messages.payloads import (
    ActivateRequest,
    CreateKeyPairRequest,
    CreateKeyPairResponse,
    CreateRequest,
    CreateResponse,
    DecryptRequest,
    DecryptResponse,
    DeriveKeyRequest,
    DeriveKeyResponse,
    EncryptRequest,
    EncryptResponse,
    GetRequest,
    GetResponse,
    HashRequest,
    HashResponse,
    MACRequest,
    MACResponse,
    MACVerifyRequest,
    MACVerifyResponse,
    RegisterResponse,
    RNGRetrieveRequest,
    RNGRetrieveResponse,
    SignatureVerifyRequest,
    SignatureVerifyResponse,
    SignRequest,
    SignResponse,
)
from pkcs11_kmip.kmip.messages.structures import (
    CryptographicDomainParameters,
    CryptographicParameters,
    DerivationParameters,
    EncryptionKeyInformation,
    KeyWrappingSpecification,
    Name,
)
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import (
    CryptographicAlgorithm,
    CryptographicUsageMask,
    DerivationMethod,
    EncodingOption,
    KeyFormatType,
    LinkType,
    NameType,
    ObjectType,
    Operation,
    ResultReason,
    State,
    ValidityIndicator,
    WrappingMethod,
)
from pkcs11_kmip_server.asymmetric import RSA_LENGTHS
from pkcs11_kmip_server.attribute_edits import check_unique_name
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.errors import KmipError
from pkcs11_kmip_server.generic_secret import is_generic_secret
from pkcs11_kmip_server.hsm_store import hooks
from pkcs11_kmip_server.key_use import usable_key
from pkcs11_kmip_server.key_wrapping import WRAPPING_DEFAULTS
from pkcs11_kmip_server.lifecycle import refresh_state
from pkcs11_kmip_server.native import (
    copying,
    creation,
    derivation,
    editing,
    ending,
    finding,
    objects,
    storage_flags,
)
from pkcs11_kmip_server.native.constants import MoreCKF, MoreCKK, MoreCKM
from pkcs11_kmip_server.native.mechanisms import (
    GENERIC_SECRET_TYPES,
    HMACS,
    MECHANISMS,
    CipherCall,
    NativeMechanism,
    cipher_call,
    ecdh_peer,
    lookup,
    mac_call,
    rsa_data_limit,
    secret_bytes,
    signature_parameters,
    wrapping_parameters,
)
from pkcs11_kmip_server.native.message_parts import PART_FUNCTIONS
from pkcs11_kmip_server.native.messages import MESSAGE_FUNCTIONS, message_flags
from pkcs11_kmip_server.native.pins import Pins
from pkcs11_kmip_server.objects import key_block_of
from pkcs11_kmip_server.operations import HANDLERS, load_all
from pkcs11_kmip_server.store import AttributeFilter, LocateQuery, ObjectRecord, Storage, Store, StoreSession

log = logging.getLogger("pkcs11_kmip_server.native")

SLOT_ID = 1
TOKEN_LABEL = "pkcs11-kmip"
MODEL = "KMIP store"
PIN_LENGTHS = (4, 64)
VERSION = (1, 0)
MAX_PARTS = 16 * 1024 * 1024
"""The most bytes a multi-part operation collects (CKR_DATA_LEN_RANGE beyond)."""

# What a KMIP refusal becomes in Cryptoki, when the call has no more precise answer.
REASONS: dict[ResultReason, int] = {
    ResultReason.OBJECT_NOT_FOUND: CKR.OBJECT_HANDLE_INVALID,
    ResultReason.OBJECT_DESTROYED: CKR.OBJECT_HANDLE_INVALID,
    ResultReason.OBJECT_ARCHIVED: CKR.OBJECT_HANDLE_INVALID,
    ResultReason.INVALID_OBJECT_TYPE: CKR.KEY_TYPE_INCONSISTENT,
    ResultReason.WRONG_KEY_LIFECYCLE_STATE: CKR.KEY_FUNCTION_NOT_PERMITTED,
    ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK: CKR.KEY_FUNCTION_NOT_PERMITTED,
    ResultReason.PERMISSION_DENIED: CKR.KEY_FUNCTION_NOT_PERMITTED,
    ResultReason.NOT_AUTHORISED: CKR.KEY_FUNCTION_NOT_PERMITTED,
    ResultReason.USAGE_LIMIT_EXCEEDED: CKR.KEY_FUNCTION_NOT_PERMITTED,
    ResultReason.BAD_CRYPTOGRAPHIC_PARAMETERS: CKR.MECHANISM_PARAM_INVALID,
    ResultReason.UNSUPPORTED_CRYPTOGRAPHIC_PARAMETERS: CKR.MECHANISM_PARAM_INVALID,
    ResultReason.INVALID_FIELD: CKR.ARGUMENTS_BAD,
    ResultReason.INVALID_ATTRIBUTE_VALUE: CKR.ATTRIBUTE_VALUE_INVALID,
    ResultReason.NON_UNIQUE_NAME_ATTRIBUTE: CKR.ATTRIBUTE_VALUE_INVALID,
    ResultReason.FEATURE_NOT_SUPPORTED: CKR.FUNCTION_NOT_SUPPORTED,
    ResultReason.RESPONSE_TOO_LARGE: CKR.DEVICE_MEMORY,
    ResultReason.ATTRIBUTE_READ_ONLY: CKR.ATTRIBUTE_READ_ONLY,  # more random bytes than one answer carries
}
# States in which a key is not used at all from PKCS#11 (a Deactivated one still
# decrypts and verifies, unless it was revoked).
UNUSABLE_STATES = frozenset(
    {State.COMPROMISED, State.DESTROYED, State.DESTROYED_COMPROMISED, State.PRE_ACTIVE}
)

Use = CryptographicUsageMask
USES: dict[str, tuple[CryptographicUsageMask, Operation, CKF]] = {
    "encrypt": (Use.ENCRYPT, Operation.ENCRYPT, CKF.ENCRYPT),
    "decrypt": (Use.DECRYPT, Operation.DECRYPT, CKF.DECRYPT),
    "sign": (Use.SIGN, Operation.SIGN, CKF.SIGN),
    "verify": (Use.VERIFY, Operation.SIGNATURE_VERIFY, CKF.VERIFY),
}
# An HMAC mechanism signs with KMIP MAC and verifies with MAC Verify, and so asks those usages.
MAC_USES: dict[str, tuple[CryptographicUsageMask, Operation, CKF]] = {
    "sign": (Use.MAC_GENERATE, Operation.MAC, CKF.SIGN),
    "verify": (Use.MAC_VERIFY, Operation.MAC_VERIFY, CKF.VERIFY),
}
# C_WrapKey: what wraps (a public key) and unwraps (a private key) with RSA-OAEP.
WRAP_KEY_OBJECTS = {True: ObjectType.PUBLIC_KEY, False: ObjectType.PRIVATE_KEY}
# The form a wrapped key takes (KMIP No Encoding wraps these bytes).
WRAPPED_FORMATS = {ObjectType.SYMMETRIC_KEY: KeyFormatType.RAW, ObjectType.PRIVATE_KEY: KeyFormatType.PKCS_8}
KEY_ALGORITHMS: dict[int | None, frozenset[CryptographicAlgorithm]] = {
    CKK.AES: frozenset({CryptographicAlgorithm.AES}),
    CKK.DES3: frozenset({CryptographicAlgorithm.DES3}),  # also a CKK_DES2 key, as PKCS#11's 3DES takes both
    MoreCKK.AES_XTS: frozenset({CryptographicAlgorithm.AES}),
    MoreCKK.CHACHA20: frozenset({CryptographicAlgorithm.CHACHA20, CryptographicAlgorithm.CHACHA20_POLY1305}),
    MoreCKK.EC_EDWARDS: frozenset({CryptographicAlgorithm.ED25519, CryptographicAlgorithm.ED448}),
    CKK.RSA: frozenset({CryptographicAlgorithm.RSA}),
    CKK.EC: frozenset({CryptographicAlgorithm.EC, CryptographicAlgorithm.ECDSA}),
    # An HMAC key is for its own hash only (as the server's MAC has it).
    **{ckk: frozenset({a for a, k in objects.KEY_TYPES.items() if k is ckk}) for _, _, ckk in HMACS},
}


@dataclass
class Active:
    """A cryptographic operation begun by C_*Init, with the answer a length query computed."""

    use: str
    mechanism: Mechanism
    found: NativeMechanism
    uid: str
    computed: tuple[bytes, bytes] | None = None  # (input, output)
    parts: bytearray | None = None  # the data of *Update calls so far (not None: multi-part)
    stream: bytes | None = None  # the Correlation Value of a KMIP Encrypt/Decrypt stream
    streamed: int = 0  # the bytes of the stream so far (AES-CTR's counter room)
    message: Active | None = None  # a message operation's message in parts (native.message_parts)


@dataclass
class Session:
    flags: int
    found: list[int] | None = None  # C_FindObjectsInit's matches not yet returned
    active: Active | None = None
    messages: dict[str, Active] = field(default_factory=dict)  # message operations, by kind


Outputs = dict[str, Value]
Result = tuple[int, Outputs | None]


def _readable(record: ObjectRecord) -> ObjectRecord:
    """`record` with the key bytes CKA_VALUE shows. The HSM key store keeps a reference in
    the row and the value in its token: read out (as KMIP Get reads it) only for a key
    whose flags let it be shown; the others stay as they are, and are refused as such."""
    flags = record.attributes
    if record.material is None or flags.get(Tag.SENSITIVE) or flags.get(Tag.EXTRACTABLE) is False:
        return record
    return dataclasses.replace(record, material=hooks.plain_material(record, record.material))


@dataclass
class NativeToken:
    """The Cryptoki state of one client context on the native token."""

    principal: str
    pins: Pins | None  # None: no PINs, nobody logs in
    store: Store | None = None  # where session objects left at the end are destroyed
    sessions: dict[int, Session] = field(default_factory=dict)
    logged_in: bool = False
    _uids: dict[int, str] = field(default_factory=dict)
    _handles: dict[str, int] = field(default_factory=dict)
    # Session objects (CKA_TOKEN=FALSE): their Unique Identifier -> the session that made them.
    _session_objects: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The owner of this application's session objects: no KMIP client is it.
        self._hidden = f"{self.principal}{objects.SESSION_MARK}{secrets.token_hex(8)}"
        self._next_session = itertools.count(1)
        self._next_handle = itertools.count(1)
        if not HANDLERS:
            load_all()

    # --- the Backend interface (hsm.service) -------------------------------------------

    def call(
        self, function_id: int, data: bytes, request: RequestContext | None = None
    ) -> tuple[int, bytes | None]:
        call = BY_ID[function_id]
        inputs = wire.decode_inputs(call, data)
        function = FUNCTIONS.get(call.name)
        if function is None:
            return CKR.FUNCTION_NOT_SUPPORTED, None
        try:
            rv, outputs = function(self, inputs, request)
        except CKRError as error:
            log.debug("%s for %s: %s", call.name, self.principal, error)
            return error.rv, None
        if outputs is None or not wire.carries_outputs(call, rv):
            return rv, None
        return rv, wire.encode_outputs(call, outputs)

    def finalize(self) -> int:
        """The context ends (C_Finalize, its connection closed, idle, the server stops): the
        session objects still open are destroyed on the ending thread (native.ending)."""
        self.sessions.clear()
        self.logged_in = False
        left = list(self._session_objects)
        self._session_objects.clear()
        if left and self.store is not None:
            store = self.store
            ending.later(
                lambda: ending.in_transaction(store, lambda session: self._destroy_left(session, left)),
                f"destroying {len(left)} session object(s) of {self.principal}",
            )
        return CKR.OK

    def _destroy_left(self, session: StoreSession, uids: list[str]) -> None:
        """KMIP Destroy of the session objects an ended context left, in `session`."""
        ending.destroy_all(
            ending.context_of(self._hidden, session, ending.now()), uids, "its application ended"
        )

    # --- slot, token, mechanisms -------------------------------------------------------

    def get_slot_list(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return _out_list(inputs["pSlotList"], (SLOT_ID,), "pSlotList")

    def get_slot_info(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        info: StructValue = {
            "slotDescription": pad("pkcs11-kmip native token (KMIP store)", 64),
            "manufacturerID": pad("pkcs11-kmip", 32),
            "flags": CKF_TOKEN_PRESENT,
            "hardwareVersion": VERSION,
            "firmwareVersion": VERSION,
        }
        return CKR.OK, {"pInfo": info}

    def get_token_info(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        rw = sum(1 for s in self.sessions.values() if s.flags & CKF_RW_SESSION)
        flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED | CKF_CLOCK_ON_TOKEN
        if self._has_pin():
            flags |= CKF_USER_PIN_INITIALIZED
        now = request.now if request is not None else datetime.now(UTC)
        info: StructValue = {
            "label": pad(TOKEN_LABEL, 32),
            "manufacturerID": pad("pkcs11-kmip", 32),
            "model": pad(MODEL, 16),
            "serialNumber": pad(self.principal[:16], 16),
            "flags": flags,
            "ulMaxSessionCount": EFFECTIVELY_INFINITE,
            "ulSessionCount": len(self.sessions),
            "ulMaxRwSessionCount": EFFECTIVELY_INFINITE,
            "ulRwSessionCount": rw,
            "ulMaxPinLen": PIN_LENGTHS[1],
            "ulMinPinLen": PIN_LENGTHS[0],
            "ulTotalPublicMemory": UNAVAILABLE,
            "ulFreePublicMemory": UNAVAILABLE,
            "ulTotalPrivateMemory": UNAVAILABLE,
            "ulFreePrivateMemory": UNAVAILABLE,
            "hardwareVersion": VERSION,
            "firmwareVersion": VERSION,
            "utcTime": now.strftime("%Y%m%d%H%M%S00").encode(),
        }
        return CKR.OK, {"pInfo": info}

    def get_mechanism_list(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        return _out_list(inputs["pMechanismList"], tuple(int(m) for m in MECHANISMS), "pMechanismList")

    def get_mechanism_info(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        found = MECHANISMS.get(_int(inputs["type"]))
        if found is None:
            return CKR.MECHANISM_INVALID, None
        info: StructValue = {
            "ulMinKeySize": found.min_key,
            "ulMaxKeySize": found.max_key,
            "flags": int(found.flags) | message_flags(_int(inputs["type"])),
        }
        return CKR.OK, {"pInfo": info}

    # --- sessions and login ------------------------------------------------------------

    def open_session(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        flags = _int(inputs["flags"])
        if not flags & CKF_SERIAL_SESSION:
            return CKR.SESSION_PARALLEL_NOT_SUPPORTED, None
        handle = next(self._next_session)
        self.sessions[handle] = Session(flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION))
        return CKR.OK, {"phSession": handle}

    def close_session(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        self._session(inputs["hSession"])
        handle = _int(inputs["hSession"])
        self._discard(request, [uid for uid, made_in in self._session_objects.items() if made_in == handle])
        del self.sessions[handle]
        if not self.sessions:
            self.logged_in = False  # the login ends with the application's last session
        return CKR.OK, None

    def close_all_sessions(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        _slot(inputs["slotID"])
        self._discard(request, list(self._session_objects))
        self.sessions.clear()
        self.logged_in = False
        return CKR.OK, None

    def get_session_info(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        state = CKS[(bool(session.flags & CKF_RW_SESSION), self.logged_in)]
        info: StructValue = {"slotID": SLOT_ID, "state": state, "flags": session.flags, "ulDeviceError": 0}
        return CKR.OK, {"pInfo": info}

    def login(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        self._session(inputs["hSession"])
        if inputs["userType"] != CKU_USER:
            return CKR.USER_TYPE_INVALID, None  # no security officer: the server's admin tools do that
        if self.logged_in:
            return CKR.USER_ALREADY_LOGGED_IN, None
        if self.pins is None or not self._has_pin():
            return CKR.USER_PIN_NOT_INITIALIZED, None
        pin = inputs["pPin"]
        if not isinstance(pin, bytes) or not self.pins.matches(
            self.principal, pin.decode("utf-8", "replace")
        ):
            return CKR.PIN_INCORRECT, None
        self.logged_in = True
        return CKR.OK, None

    def logout(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        self._session(inputs["hSession"])
        if not self.logged_in:
            return CKR.USER_NOT_LOGGED_IN, None
        self.logged_in = False
        return CKR.OK, None

    # --- objects -----------------------------------------------------------------------

    def find_objects_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        if session.found is not None:
            return CKR.OPERATION_ACTIVE, None
        kmip = _kmip(request)
        template = _template(inputs["pTemplate"])
        uids = []
        for uid in self._candidates(kmip, template):
            record = self._visible(kmip, uid, Operation.LOCATE)
            if record is not None and objects.matches(record, template, self._label(kmip, record)):
                uids.append(uid)
        session.found = [self._handle(uid) for uid in uids]
        return CKR.OK, None

    def find_objects(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        if session.found is None:
            return CKR.OPERATION_NOT_INITIALIZED, None
        out = inputs["phObject"]
        assert isinstance(out, OutRequest)
        if not out.present:
            return CKR.ARGUMENTS_BAD, None
        batch, session.found = session.found[: out.capacity], session.found[out.capacity :]
        return CKR.OK, {"phObject": OutData(len(batch), tuple(batch))}

    def find_objects_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        if session.found is None:
            return CKR.OPERATION_NOT_INITIALIZED, None
        session.found = None
        return CKR.OK, None

    def get_attribute_value(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        self._session(inputs["hSession"])
        kmip = _kmip(request)
        record = self._object(kmip, inputs["hObject"], Operation.GET_ATTRIBUTES)
        label = self._label(kmip, record)
        query = inputs["pTemplate"]
        assert isinstance(query, tuple)
        rv = CKR.OK
        results = []
        for entry in query:
            assert isinstance(entry, AttributeQuery)
            try:
                shown = _readable(record) if entry.type == CKA.VALUE else record
                value = objects.attribute(shown, entry.type, label)
            except objects.Sensitive:
                results.append(Attribute(entry.type, None, None))
                rv = CKR.ATTRIBUTE_SENSITIVE
                continue
            if value is None:
                results.append(Attribute(entry.type, None, None))
                rv = rv if rv == CKR.ATTRIBUTE_SENSITIVE else CKR.ATTRIBUTE_TYPE_INVALID
            elif not entry.has_buffer:
                results.append(Attribute(entry.type, None, len(value)))
            elif entry.capacity < len(value):
                results.append(Attribute(entry.type, None, None))
                rv = rv if rv != CKR.OK else CKR.BUFFER_TOO_SMALL
            else:
                results.append(Attribute.of(entry.type, value))
        return rv, {"pTemplate": tuple(results)}

    def get_object_size(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_GetObjectSize: the bytes the object's KMIP managed object takes in its TTLV
        encoding as KMIP Get gives it unwrapped (the key block in its Key Format Type, a
        certificate's value; over the HSM key store: hooks.sized_material), attributes aside."""
        self._session(inputs["hSession"])
        record = self._object(_kmip(request), inputs["hObject"], Operation.GET_ATTRIBUTES)
        if record.material is None:
            return CKR.OK, {"pulSize": UNAVAILABLE}
        return CKR.OK, {"pulSize": len(hooks.sized_material(record, record.material).encode())}

    def destroy_object(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        kmip = _kmip(request)
        record = self._object(kmip, inputs["hObject"], Operation.DESTROY)
        if not session.flags & CKF_RW_SESSION and not objects.is_session_object(record):
            return CKR.SESSION_READ_ONLY, None
        if not storage_flags.flag(record, CKA.DESTROYABLE):
            return CKR.ACTION_PROHIBITED, None
        self._destroy(kmip, record)
        self._forget(record.uid)
        return CKR.OK, None

    def _destroy(self, kmip: RequestContext, record: ObjectRecord) -> None:
        """KMIP Destroy as the object's owner; an Active object is revoked first."""
        try:
            ending.destroy(self._as(kmip, record.uid), record, "C_DestroyObject")
        except KmipError as error:
            raise _ckr(error) from error

    def _forget(self, uid: str) -> None:
        handle = self._handles.pop(uid, None)
        if handle is not None:
            del self._uids[handle]
        self._session_objects.pop(uid, None)

    def _discard(self, request: RequestContext | None, uids: list[str]) -> None:
        """Session objects end with their session: destroyed in the store, then forgotten."""
        if not uids:
            return
        kmip = _kmip(request)
        for uid in uids:
            record = self._as(kmip, uid).session.load(uid, self._hidden)
            if record is not None and record.material is not None:
                self._destroy(kmip, record)
        for uid in uids:
            self._forget(uid)

    def create_object(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_CreateObject: KMIP Register of the key, certificate or data object (Secret Data),
        then Activate (an imported object is usable at once, as a generated one)."""
        made = creation.register_request(_template(inputs["pTemplate"]))
        self._creating(inputs["hSession"], made.token)
        kmip = _kmip(request)
        self._unique_label(kmip, made.label, made.token)
        hidden = not made.token
        answer = self._run(
            kmip, made.request, Operation.REGISTER, invalid=CKR.ATTRIBUTE_VALUE_INVALID, hidden=hidden
        )
        assert isinstance(answer, RegisterResponse) and isinstance(answer.unique_identifier, str)
        uid = answer.unique_identifier
        self._run(kmip, ActivateRequest(unique_identifier=uid), Operation.ACTIVATE, hidden=hidden)
        return CKR.OK, {"phObject": self._made(uid, inputs["hSession"], made.token)}

    def copy_object(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_CopyObject: a new managed object with the object's key, copied where the key is
        kept (native.copying), for a caller with Get rights on it; the template's changes
        with Cryptoki's rules, the rest of them as C_SetAttributeValue's (KMIP Set Attribute)."""
        self._session(inputs["hSession"])
        kmip = _kmip(request)
        source = self._object(kmip, inputs["hObject"], Operation.GET)
        state = copying.check_source(source, kmip.now)
        wanted = copying.plan(source, _template(inputs["pTemplate"]), self._label(kmip, source))
        self._creating(inputs["hSession"], wanted.token)
        hidden = not wanted.token
        context = self._as(kmip, None, hidden)
        copy = copying.new_copy(context, source, wanted, state)
        planned = editing.edits(copy, wanted.rest, editing.Shown(wanted.label, state))
        with kmip.session.savepoint():
            copying.insert(context, source, copy)
            for payload, operation in planned:
                self._run(kmip, payload, operation, hidden=hidden)
        return CKR.OK, {"phNewObject": self._made(copy.uid, inputs["hSession"], wanted.token)}

    def set_attribute_value(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_SetAttributeValue: the KMIP attribute edits of `editing`, all or none."""
        session = self._session(inputs["hSession"])
        kmip = _kmip(request)
        record = self._object(kmip, inputs["hObject"], Operation.MODIFY_ATTRIBUTE)
        if not session.flags & CKF_RW_SESSION and not objects.is_session_object(record):
            return CKR.SESSION_READ_ONLY, None
        if not storage_flags.flag(record, CKA.MODIFIABLE):
            return CKR.ACTION_PROHIBITED, None
        shown = editing.Shown(self._label(kmip, record), refresh_state(record.attributes, kmip.now))
        planned = editing.edits(record, _template(inputs["pTemplate"]), shown)
        with kmip.session.savepoint():
            for payload, operation in planned:
                self._run(kmip, payload, operation)
        return CKR.OK, None

    # --- key wrapping --------------------------------------------------------------------

    def _wrapping_key(
        self, kmip: RequestContext, handle: Value, found: NativeMechanism, wrap: bool
    ) -> ObjectRecord:
        """The wrapping (unwrapping) key, of the mechanism's type: a secret key for AES-KW/KWP,
        the public (private) key for RSA-OAEP."""
        invalid = CKR.WRAPPING_KEY_HANDLE_INVALID if wrap else CKR.UNWRAPPING_KEY_HANDLE_INVALID
        record = self._object(kmip, handle, Operation.GET, invalid)
        wanted = ObjectType.SYMMETRIC_KEY if found.mode is not None else WRAP_KEY_OBJECTS[wrap]
        algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
        if record.object_type is not wanted or algorithm not in KEY_ALGORITHMS.get(found.key_type, ()):
            inconsistent = (
                CKR.WRAPPING_KEY_TYPE_INCONSISTENT if wrap else CKR.UNWRAPPING_KEY_TYPE_INCONSISTENT
            )
            raise CKRError(inconsistent)
        return record

    @staticmethod
    def _wrapping_information(
        record: ObjectRecord, parameters: CryptographicParameters
    ) -> EncryptionKeyInformation:
        """KMIP wraps with the Cryptographic Parameters a request names only if they match one
        of the wrapping key's (2.1 §2.1.5), and without any with the key's own or the server's
        default (AES-KWP, RSA-OAEP SHA-256): a mechanism neither allows is
        CKR_MECHANISM_PARAM_INVALID."""
        named: CryptographicParameters | None = parameters
        if not record.attributes.get_all(Tag.CRYPTOGRAPHIC_PARAMETERS):
            if parameters != WRAPPING_DEFAULTS.get(record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)):
                raise CKRError(
                    CKR.MECHANISM_PARAM_INVALID,
                    "the wrapping key's Cryptographic Parameters (KMIP) do not name this mechanism",
                )
            named = None
        return EncryptionKeyInformation(unique_identifier=record.uid, cryptographic_parameters=named)

    def wrap_key(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_WrapKey: KMIP Get of the key wrapped by the wrapping key (No Encoding: a secret
        key's bytes, a private key's PKCS#8), under the length convention."""
        self._session(inputs["hSession"])
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, CKF(MoreCKF.WRAP))
        parameters = wrapping_parameters(mechanism, found)
        kmip = _kmip(request)
        wrapping = self._wrapping_key(kmip, inputs["hWrappingKey"], found, wrap=True)
        record = self._object(kmip, inputs["hKey"], Operation.GET, CKR.KEY_HANDLE_INVALID)
        key_format = WRAPPED_FORMATS.get(record.object_type)
        if key_format is None or objects.is_session_object(record) != objects.is_session_object(wrapping):
            return CKR.KEY_NOT_WRAPPABLE, None  # (KMIP wraps keys of one owner: both token or session)
        if record.attributes.get(Tag.EXTRACTABLE) is False:
            return CKR.KEY_UNEXTRACTABLE, None
        specification = KeyWrappingSpecification(
            wrapping_method=WrappingMethod.ENCRYPT,
            encryption_key_information=self._wrapping_information(wrapping, parameters),
            encoding_option=EncodingOption.NO_ENCODING,
        )
        get = GetRequest(
            unique_identifier=record.uid, key_format_type=key_format, key_wrapping_specification=specification
        )
        answer = self._run(kmip, get, Operation.GET)
        assert isinstance(answer, GetResponse)
        block = key_block_of(answer.object)
        assert block is not None and isinstance(block.key_value, bytes)
        wrapped = block.key_value
        out = inputs["pWrappedKey"]
        assert isinstance(out, OutRequest)
        if not out.present or out.capacity < len(wrapped):
            return (CKR.OK if not out.present else CKR.BUFFER_TOO_SMALL), {
                "pWrappedKey": OutData(len(wrapped))
            }
        return CKR.OK, {"pWrappedKey": OutData(len(wrapped), wrapped)}

    def unwrap_key(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_UnwrapKey: KMIP Register of the wrapped key block (the server unwraps it with
        the unwrapping key, which must allow Unwrap Key), then Activate."""
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, CKF(MoreCKF.UNWRAP))
        parameters = wrapping_parameters(mechanism, found)
        kmip = _kmip(request)
        unwrapping = self._wrapping_key(kmip, inputs["hUnwrappingKey"], found, wrap=False)
        wrapped = inputs["pWrappedKey"]
        if not isinstance(wrapped, bytes) or not wrapped:
            return CKR.WRAPPED_KEY_LEN_RANGE, None
        information = self._wrapping_information(unwrapping, parameters)
        made = creation.unwrapped_request(_template(inputs["pTemplate"]), wrapped, information)
        self._creating(inputs["hSession"], made.token)
        if made.token == objects.is_session_object(unwrapping):
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "KMIP unwraps into the unwrapping key's owner")
        self._unique_label(kmip, made.label, made.token)
        hidden = not made.token
        answer = self._run(
            kmip,
            made.request,
            Operation.REGISTER,
            CKR.WRAPPED_KEY_INVALID,
            CKR.WRAPPED_KEY_INVALID,
            hidden=hidden,
        )
        assert isinstance(answer, RegisterResponse) and isinstance(answer.unique_identifier, str)
        uid = answer.unique_identifier
        self._run(kmip, ActivateRequest(unique_identifier=uid), Operation.ACTIVATE, hidden=hidden)
        return CKR.OK, {"phKey": self._made(uid, inputs["hSession"], made.token)}

    # --- key derivation ------------------------------------------------------------------

    def derive_key(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_DeriveKey: CKM_ECDH1_DERIVE (CKD_NULL) as KMIP Derive Key by Asymmetric Key from the
        EC or X25519/X448 private key and the peer's public data, into an AES key of
        CKA_VALUE_LEN bytes; HKDF, AES-ECB/CBC encrypt-data and hash key derivations as KMIP
        HKDF, Encrypt and Hash from a secret key (derivation.FROM_SECRET_KEY); then Activate."""
        mechanism = _mechanism(inputs["pMechanism"])
        lookup(mechanism, CKF(MoreCKF.DERIVE))
        template = _template(inputs["pTemplate"])
        from_secret = derivation.FROM_SECRET_KEY.get(mechanism.type)
        if from_secret is not None:
            found = from_secret(mechanism)
            wanted, attributes = derivation.made_key(template, found.output)
            found = found.for_key(attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) // 8)
            self._creating(inputs["hSession"], wanted.token)
            kmip = _kmip(request)
            base = self._object(kmip, inputs["hBaseKey"], Operation.DERIVE_KEY, CKR.KEY_HANDLE_INVALID)
            if base.object_type is not ObjectType.SYMMETRIC_KEY:
                return CKR.KEY_TYPE_INCONSISTENT, None
            refusal = found.base_refusal(base.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM))
            if refusal is not None:
                return refusal, None
            session_base = objects.is_session_object(base)
            return self._derived(kmip, inputs["hSession"], wanted, attributes, base.uid, session_base, found)
        peer = ecdh_peer(mechanism)
        wanted = objects.key_template(template, CKO.SECRET_KEY, CKK.AES)
        self._creating(inputs["hSession"], wanted.token)
        if wanted.value_len is None:
            return CKR.TEMPLATE_INCOMPLETE, None
        if wanted.value_len not in creation.AES_BYTES:
            return CKR.KEY_SIZE_RANGE, None
        kmip = _kmip(request)
        base = self._object(kmip, inputs["hBaseKey"], Operation.DERIVE_KEY, CKR.KEY_HANDLE_INVALID)
        curve = objects.curve_of(base) or objects.montgomery_curve(base)
        if base.object_type is not ObjectType.PRIVATE_KEY or curve is None:
            return CKR.KEY_TYPE_INCONSISTENT, None
        data = creation.peer_public_data(curve, peer)
        attributes = objects.kmip_attributes(wanted)
        attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.AES)
        attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, wanted.value_len * 8)
        ecdh = derivation.Derivation(
            DerivationMethod.ASYMMETRIC_KEY, DerivationParameters(derivation_data=data)
        )
        session_base = objects.is_session_object(base)
        return self._derived(kmip, inputs["hSession"], wanted, attributes, base.uid, session_base, ecdh)

    def _derived(
        self,
        kmip: RequestContext,
        session: Value,
        wanted: objects.KeyTemplate,
        attributes: Attributes,
        base: str,
        base_is_session: bool,
        found: derivation.Derivation,
    ) -> Result:
        """KMIP Derive Key of a symmetric key from `base` (of the new key's owner: a token or
        a session object, CKR_TEMPLATE_INCONSISTENT otherwise), then Activate."""
        if wanted.token == base_is_session:
            raise CKRError(CKR.TEMPLATE_INCONSISTENT, "KMIP derives into the base key's owner")
        self._unique_label(kmip, wanted.label, wanted.token)
        derive = DeriveKeyRequest(
            object_type=ObjectType.SYMMETRIC_KEY,
            unique_identifiers=[base],
            derivation_method=found.method,
            derivation_parameters=found.parameters,
            attributes=attributes,
        )
        hidden = not wanted.token
        derived = self._run(kmip, derive, Operation.DERIVE_KEY, hidden=hidden)
        assert isinstance(derived, DeriveKeyResponse) and isinstance(derived.unique_identifier, str)
        uid = derived.unique_identifier
        self._run(kmip, ActivateRequest(unique_identifier=uid), Operation.ACTIVATE, hidden=hidden)
        return CKR.OK, {"phKey": self._made(uid, session, wanted.token)}

    def _from_password(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_GenerateKey with CKM_PKCS5_PBKD2: the password registered as Secret Data, KMIP
        Derive Key PBKDF2 from it, the password destroyed; all or nothing (derivation.py)."""
        found = derivation.pbkdf2(_mechanism(inputs["pMechanism"]))
        assert found.password is not None
        wanted, attributes = derivation.made_key(_template(inputs["pTemplate"]))
        self._creating(inputs["hSession"], wanted.token)
        kmip = _kmip(request)
        hidden = not wanted.token
        with kmip.session.savepoint():
            registered = self._run(
                kmip, derivation.password_request(found.password), Operation.REGISTER, hidden=hidden
            )
            assert isinstance(registered, RegisterResponse) and isinstance(registered.unique_identifier, str)
            password = registered.unique_identifier
            self._run(kmip, ActivateRequest(unique_identifier=password), Operation.ACTIVATE, hidden=hidden)
            result = self._derived(kmip, inputs["hSession"], wanted, attributes, password, hidden, found)
            owner = self._as(kmip, None, hidden)
            owner.operation = Operation.DESTROY
            try:
                ending.destroy(owner, owner.load(password), "CKM_PKCS5_PBKD2")
            except KmipError as error:
                raise _ckr(error) from error
        return result

    # --- key generation ----------------------------------------------------------------

    def generate_key(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, CKF.GENERATE)
        if mechanism.type == MoreCKM.PKCS5_PBKD2:
            return self._from_password(inputs, request)
        if mechanism.parameter is not None:
            return CKR.MECHANISM_PARAM_INVALID, None
        assert found.key_type is not None
        template = _template(inputs["pTemplate"])
        choices = GENERIC_SECRET_TYPES if found.key_type == MoreCKK.GENERIC_SECRET else frozenset()
        ckk = objects.template_key_type(template, found.key_type, choices)
        wanted = objects.key_template(template, CKO.SECRET_KEY, ckk)
        self._creating(inputs["hSession"], wanted.token)
        size = secret_bytes(found, wanted.value_len)
        kmip = _kmip(request)
        self._unique_label(kmip, wanted.label, wanted.token)
        attributes = objects.kmip_attributes(wanted)
        attributes.add(Tag.CRYPTOGRAPHIC_ALGORITHM, objects.SECRET_ALGORITHMS[ckk])
        attributes.add(Tag.CRYPTOGRAPHIC_LENGTH, size * 8)
        create = CreateRequest(object_type=ObjectType.SYMMETRIC_KEY, attributes=attributes)
        hidden = not wanted.token
        created = self._run(kmip, create, Operation.CREATE, hidden=hidden)
        assert isinstance(created, CreateResponse) and isinstance(created.unique_identifier, str)
        uid = created.unique_identifier
        self._run(kmip, ActivateRequest(unique_identifier=uid), Operation.ACTIVATE, hidden=hidden)
        return CKR.OK, {"phKey": self._made(uid, inputs["hSession"], wanted.token)}

    def generate_key_pair(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, CKF.GENERATE_KEY_PAIR)
        if mechanism.parameter is not None:
            return CKR.MECHANISM_PARAM_INVALID, None
        ckk = found.key_type
        assert ckk is not None
        public = objects.key_template(_template(inputs["pPublicKeyTemplate"]), CKO.PUBLIC_KEY, ckk)
        private = objects.key_template(_template(inputs["pPrivateKeyTemplate"]), CKO.PRIVATE_KEY, ckk)
        if public.token != private.token:
            return CKR.TEMPLATE_INCONSISTENT, None  # one KMIP Create Key Pair: one owner for both
        self._creating(inputs["hSession"], private.token)
        common = CommonAttributes()
        if ckk is CKK.RSA:
            if public.modulus_bits is None:
                return CKR.TEMPLATE_INCOMPLETE, None
            if public.modulus_bits not in RSA_LENGTHS:  # 2048-4096 in steps of 256
                return CKR.KEY_SIZE_RANGE, None
            common.add(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.RSA)
            common.add(Tag.CRYPTOGRAPHIC_LENGTH, public.modulus_bits)
        elif ckk == MoreCKK.EC_EDWARDS:
            if public.edwards is None:
                return CKR.TEMPLATE_INCOMPLETE, None
            common.add(Tag.CRYPTOGRAPHIC_ALGORITHM, public.edwards)  # the algorithm names the curve
        elif ckk == MoreCKK.EC_MONTGOMERY:
            if public.curve is None:
                return CKR.TEMPLATE_INCOMPLETE, None
            common.add(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.ECDH)  # X25519/X448
            common.add(
                Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
                CryptographicDomainParameters(recommended_curve=public.curve),
            )
        else:
            if public.curve is None:
                return CKR.TEMPLATE_INCOMPLETE, None
            common.add(Tag.CRYPTOGRAPHIC_ALGORITHM, CryptographicAlgorithm.EC)
            common.add(
                Tag.CRYPTOGRAPHIC_DOMAIN_PARAMETERS,
                CryptographicDomainParameters(recommended_curve=public.curve),
            )
        # KMIP Names are unique: a label both halves share names the private key only,
        # and the public key shows its private key's (see _label).
        same = public.label == private.label
        pair = CreateKeyPairRequest(
            common_attributes=common,
            private_key_attributes=PrivateKeyAttributes(entries=objects.kmip_attributes(private).entries),
            public_key_attributes=PublicKeyAttributes(
                entries=objects.kmip_attributes(public, not same).entries
            ),
        )
        kmip = _kmip(request)
        hidden = not private.token
        created = self._run(kmip, pair, Operation.CREATE_KEY_PAIR, hidden=hidden)
        assert isinstance(created, CreateKeyPairResponse)
        uids = (created.public_key_unique_identifier, created.private_key_unique_identifier)
        for uid in uids:
            self._run(kmip, ActivateRequest(unique_identifier=uid), Operation.ACTIVATE, hidden=hidden)
        assert all(isinstance(uid, str) for uid in uids)
        handles = [self._made(str(uid), inputs["hSession"], private.token) for uid in uids]
        return CKR.OK, {"phPublicKey": handles[0], "phPrivateKey": handles[1]}

    def generate_random(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        self._session(inputs["hSession"])
        out = inputs["RandomData"]
        assert isinstance(out, OutRequest)
        if not out.present:
            return CKR.ARGUMENTS_BAD, None
        if out.capacity == 0:
            return CKR.OK, {"RandomData": OutData(0, b"")}
        answer = self._run(
            _kmip(request), RNGRetrieveRequest(data_length=out.capacity), Operation.RNG_RETRIEVE
        )
        assert isinstance(answer, RNGRetrieveResponse) and answer.data is not None
        return CKR.OK, {"RandomData": OutData(out.capacity, answer.data)}

    # --- cryptographic operations ------------------------------------------------------

    def _init(self, use: str, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        if session.active is not None:
            return CKR.OPERATION_ACTIVE, None
        _, _, flag = USES[use]
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, flag)
        if found.mode is not None or flag & (CKF.ENCRYPT | CKF.DECRYPT):
            cipher_call(mechanism, found)  # the parameters are checked now, as Cryptoki does
        elif not found.prehashed or found.pss:
            signature_parameters(mechanism, found, None)
        uid = self.operation_key(_kmip(request), inputs["hKey"], found, use)
        session.active = Active(use, mechanism, found, uid)
        return CKR.OK, None

    def operation_key(self, kmip: RequestContext, handle: Value, found: NativeMechanism, use: str) -> str:
        """The key of a `use` operation with this mechanism (C_*Init, C_Message*Init), checked
        as the KMIP operation will check it: type, lifecycle, usage mask."""
        mask, operation, _ = MAC_USES[use] if found.mac else USES[use]
        record = self._object(kmip, handle, operation, CKR.KEY_HANDLE_INVALID)
        generic_hmac = found.mac and found.hashing is not None and is_generic_secret(record)
        algorithm = record.attributes.get(Tag.CRYPTOGRAPHIC_ALGORITHM)
        if algorithm not in KEY_ALGORITHMS.get(found.key_type, ()) and not generic_hmac:
            raise CKRError(CKR.KEY_TYPE_INCONSISTENT)  # (a generic secret serves every HMAC)
        # An AES-XTS key (two AES keys) is no AES key and the reverse, though both are KMIP AES.
        if (objects.key_type(record) == MoreCKK.AES_XTS) != (found.key_type == MoreCKK.AES_XTS):
            raise CKRError(CKR.KEY_TYPE_INCONSISTENT)
        state = refresh_state(record.attributes, kmip.now)
        if state in UNUSABLE_STATES or record.attributes.get(Tag.REVOCATION_REASON) is not None:
            raise CKRError(CKR.KEY_FUNCTION_NOT_PERMITTED)
        context = self._as(kmip, record.uid)
        context.operation = operation
        try:
            usable_key(context, record.uid, mask)  # usage mask and lifecycle, as the operation will check
        except KmipError as error:
            raise _ckr(error) from error
        return record.uid

    def encrypt_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._init("encrypt", inputs, request)

    def decrypt_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._init("decrypt", inputs, request)

    def sign_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._init("sign", inputs, request)

    def verify_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._init("verify", inputs, request)

    def _active(self, inputs: dict[str, Value], use: str, single: bool = False) -> tuple[Session, Active]:
        """The session and its operation, if it is a `use` one (CKR_OPERATION_NOT_INITIALIZED).
        `single`: a single-part call, which does not finish a multi-part one (CKR_OPERATION_ACTIVE)."""
        session = self._session(inputs["hSession"])
        active = session.active
        if active is None or active.use != use:
            raise CKRError(CKR.OPERATION_NOT_INITIALIZED)
        if single and active.parts is not None:
            raise CKRError(CKR.OPERATION_ACTIVE)
        return session, active

    def _single_part(
        self,
        session: Session,
        active: Active,
        data: Value,
        out: Value,
        out_name: str,
        compute: Callable[[RequestContext, Active, bytes], bytes],
        request: RequestContext | None,
    ) -> Result:
        """C_Encrypt, C_Decrypt, C_Sign, C_SignFinal: the length convention around one
        computation. A length query or a buffer too small keeps the operation (and its
        answer, for the same input); a result or an error ends it."""
        assert isinstance(out, OutRequest)
        if not isinstance(data, bytes):
            session.active = None
            return CKR.ARGUMENTS_BAD, None
        if active.computed is not None and active.computed[0] == data:
            result = active.computed[1]
        else:
            try:
                result = compute(_kmip(request), active, data)
            except CKRError:
                session.active = None
                raise
        if not out.present or out.capacity < len(result):
            active.computed = (data, result)
            rv = CKR.OK if not out.present else CKR.BUFFER_TOO_SMALL
            return rv, {out_name: OutData(len(result))}
        session.active = None
        return CKR.OK, {out_name: OutData(len(result), result)}

    def encrypt(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "encrypt", single=True)
        out = inputs["pEncryptedData"]
        return self._single_part(
            session, active, inputs["pData"], out, "pEncryptedData", self._cipher, request
        )

    def encrypt_update(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._cipher_update(inputs, "encrypt", "pPart", "pEncryptedPart", request)

    def encrypt_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._cipher_final(inputs, "encrypt", "pLastEncryptedPart", request)

    def decrypt(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "decrypt", single=True)
        return self._single_part(
            session, active, inputs["pEncryptedData"], inputs["pData"], "pData", self._cipher, request
        )

    def decrypt_update(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._cipher_update(inputs, "decrypt", "pEncryptedPart", "pPart", request)

    def decrypt_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._cipher_final(inputs, "decrypt", "pLastPart", request)

    def _cipher_update(
        self,
        inputs: dict[str, Value],
        use: str,
        part: str,
        out_name: str,
        request: RequestContext | None,
    ) -> Result:
        """C_EncryptUpdate, C_DecryptUpdate: a part of a KMIP Encrypt/Decrypt stream (Init
        Indicator on the first, the Correlation Value after), its output given at once under
        the length convention (a length query keeps it for the repeated call). An
        authenticated decryption is not streamed: its tag ends the ciphertext, and its
        plaintext is released only once the tag is checked, all at C_DecryptFinal."""
        session, active = self._active(inputs, use)
        out = inputs[out_name]
        assert isinstance(out, OutRequest)
        if _buffered(active):
            if not out.present:
                return CKR.OK, {out_name: OutData(0)}
            rv, _ = self._update(inputs, use, part)
            return rv, ({out_name: OutData(0, b"")} if rv == CKR.OK else None)
        data = inputs[part]
        if not isinstance(data, bytes):
            session.active = None
            return CKR.ARGUMENTS_BAD, None
        if active.computed is not None and active.computed[0] == data:
            output = active.computed[1]
        else:
            try:
                output = self._stream(_kmip(request), active, data, final=False)
            except CKRError:
                session.active = None
                raise
        active.parts = active.parts if active.parts is not None else bytearray()  # multi-part now
        if not out.present or out.capacity < len(output):
            active.computed = (data, output)
            return (CKR.OK if not out.present else CKR.BUFFER_TOO_SMALL), {out_name: OutData(len(output))}
        active.computed = None
        return CKR.OK, {out_name: OutData(len(output), output)}

    def _cipher_final(
        self, inputs: dict[str, Value], use: str, out_name: str, request: RequestContext | None
    ) -> Result:
        """C_EncryptFinal, C_DecryptFinal: the stream's Final Indicator (or, with no stream
        open, one Encrypt/Decrypt of what was collected)."""
        session, active = self._active(inputs, use)
        if active.stream is None:
            data = bytes(active.parts or b"")
            return self._single_part(session, active, data, inputs[out_name], out_name, self._cipher, request)

        def last(kmip: RequestContext, active: Active, data: bytes) -> bytes:
            return self._stream(kmip, active, data, final=True)

        return self._single_part(session, active, b"", inputs[out_name], out_name, last, request)

    def _stream(self, kmip: RequestContext, active: Active, data: bytes, final: bool) -> bytes:
        """One part of a KMIP Encrypt/Decrypt stream; an encryption's tag follows its last part."""
        encrypt = active.use == "encrypt"
        kind = EncryptRequest if encrypt else DecryptRequest
        call = cipher_call(active.mechanism, active.found)
        _within_counter(call, active.streamed, data, encrypt)
        if active.stream is None:
            payload = kind(
                unique_identifier=active.uid,
                cryptographic_parameters=call.parameters,
                data=data,
                iv_counter_nonce=call.iv,
                authenticated_encryption_additional_data=call.aad,
                init_indicator=True,
            )
        else:
            payload = kind(correlation_value=active.stream, data=data, final_indicator=final or None)
        operation = Operation.ENCRYPT if encrypt else Operation.DECRYPT
        # The end of a stream of no whole blocks (ECB, CBC): the data's length was wrong.
        length = CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE
        answer = self._run(
            kmip, payload, operation, CKR.ENCRYPTED_DATA_INVALID, length if final else None, on=active.uid
        )
        assert isinstance(answer, EncryptResponse | DecryptResponse)
        if not final:
            active.stream = answer.correlation_value
            active.streamed += len(data)
        tag = answer.authenticated_encryption_tag if isinstance(answer, EncryptResponse) else None
        return (answer.data or b"") + (tag or b"")

    # --- digests -----------------------------------------------------------------------

    def digest_init(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session = self._session(inputs["hSession"])
        if session.active is not None:
            return CKR.OPERATION_ACTIVE, None
        mechanism = _mechanism(inputs["pMechanism"])
        found = lookup(mechanism, CKF(MoreCKF.DIGEST))
        if mechanism.parameter is not None:
            return CKR.MECHANISM_PARAM_INVALID, None
        session.active = Active("digest", mechanism, found, "")
        return CKR.OK, None

    def digest(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "digest", single=True)
        return self._single_part(
            session, active, inputs["pData"], inputs["pDigest"], "pDigest", self._hash, request
        )

    def digest_update(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._update(inputs, "digest")

    def digest_key(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        """C_DigestKey: a secret key's value joins the data, if the token could show it
        (a Sensitive or non-Extractable key is CKR_KEY_INDIGESTIBLE)."""
        session, _ = self._active(inputs, "digest")
        record = self._object(_kmip(request), inputs["hKey"], Operation.GET, CKR.KEY_HANDLE_INVALID)
        try:
            value = objects.attribute(_readable(record), CKA.VALUE, None)
        except objects.Sensitive:
            value = None
        if value is None:
            session.active = None
            return CKR.KEY_INDIGESTIBLE, None
        return self._update({"hSession": inputs["hSession"], "pPart": value}, "digest")

    def digest_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "digest")
        data = bytes(active.parts or b"")
        return self._single_part(session, active, data, inputs["pDigest"], "pDigest", self._hash, request)

    def _hash(self, kmip: RequestContext, active: Active, data: bytes) -> bytes:
        parameters = CryptographicParameters(hashing_algorithm=active.found.hashing)
        answer = self._run(kmip, HashRequest(cryptographic_parameters=parameters, data=data), Operation.HASH)
        assert isinstance(answer, HashResponse) and answer.data is not None
        return answer.data

    def sign(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "sign", single=True)
        return self._single_part(
            session, active, inputs["pData"], inputs["pSignature"], "pSignature", self._sign, request
        )

    def sign_update(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._update(inputs, "sign")

    def sign_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "sign")
        data = bytes(active.parts or b"")
        return self._single_part(
            session, active, data, inputs["pSignature"], "pSignature", self._sign, request
        )

    def verify(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "verify", single=True)
        return self._verify(session, active, inputs["pData"], inputs["pSignature"], request)

    def verify_update(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        return self._update(inputs, "verify")

    def verify_final(self, inputs: dict[str, Value], request: RequestContext | None) -> Result:
        session, active = self._active(inputs, "verify")
        return self._verify(session, active, bytes(active.parts or b""), inputs["pSignature"], request)

    def _update(self, inputs: dict[str, Value], use: str, name: str = "pPart") -> Result:
        """C_SignUpdate, C_VerifyUpdate, C_DigestUpdate, C_EncryptUpdate, C_DecryptUpdate: the
        parts are kept, and used whole at the end (one KMIP Sign, Signature Verify, Hash,
        Encrypt or Decrypt). Mechanisms that take a digest are single-part only."""
        session, active = self._active(inputs, use)
        part = inputs[name]
        if active.found.prehashed or not isinstance(part, bytes):
            session.active = None
            return (CKR.FUNCTION_NOT_SUPPORTED if active.found.prehashed else CKR.ARGUMENTS_BAD), None
        parts = active.parts if active.parts is not None else bytearray()
        if len(parts) + len(part) > MAX_PARTS:
            session.active = None
            return CKR.DATA_LEN_RANGE, None
        parts += part
        active.parts = parts
        return CKR.OK, None

    def _verify(
        self, session: Session, active: Active, data: Value, signature: Value, request: RequestContext | None
    ) -> Result:
        """C_Verify, C_VerifyFinal: a KMIP Signature Verify; its answer ends the operation."""
        if not isinstance(data, bytes) or not isinstance(signature, bytes):
            session.active = None
            return CKR.ARGUMENTS_BAD, None
        try:
            valid = self._signature_valid(_kmip(request), active, data, signature)
        except CKRError:
            session.active = None
            raise
        session.active = None
        return (CKR.OK if valid else CKR.SIGNATURE_INVALID), None

    def _signature_valid(self, kmip: RequestContext, active: Active, data: bytes, signature: bytes) -> bool:
        parameters = signature_parameters(
            active.mechanism, active.found, data if active.found.prehashed else None
        )
        if active.found.mac:
            if len(signature) != mac_call(active.mechanism, active.found)[1]:
                raise CKRError(CKR.SIGNATURE_LEN_RANGE, "not the MAC's length")
            check = MACVerifyRequest(
                unique_identifier=active.uid,
                cryptographic_parameters=parameters,
                data=data,
                mac_data=signature,
            )
            checked = self._run(kmip, check, Operation.MAC_VERIFY)
            assert isinstance(checked, MACVerifyResponse)
            return checked.validity_indicator is ValidityIndicator.VALID
        if active.found.key_type is CKK.EC:
            size = self._key_bytes(kmip, active.uid)
            if len(signature) != 2 * size:
                raise CKRError(CKR.SIGNATURE_LEN_RANGE, "an ECDSA signature is r || s")
            r, s = int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
            signature = encode_dss_signature(r, s)
        payload = SignatureVerifyRequest(
            unique_identifier=active.uid, cryptographic_parameters=parameters, signature_data=signature
        )
        if active.found.prehashed:
            payload.digested_data = data
        else:
            payload.data = data
        answer = self._run(kmip, payload, Operation.SIGNATURE_VERIFY)
        assert isinstance(answer, SignatureVerifyResponse)
        return answer.validity_indicator is ValidityIndicator.VALID

    def _cipher(self, kmip: RequestContext, active: Active, data: bytes) -> bytes:
        """KMIP Encrypt or Decrypt; a GCM tag travels after the ciphertext, as Cryptoki has it."""
        call = cipher_call(active.mechanism, active.found)
        encrypt = active.use == "encrypt"
        if not encrypt and len(data) < call.tag_bytes:
            raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "shorter than the tag")
        if (call.whole_blocks and len(data) % call.block) or len(data) < call.least:
            raise CKRError(
                CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE,
                "not whole blocks, or less than the mechanism enciphers",
            )
        if active.found.key_type is CKK.RSA:
            modulus = self._key_bytes(kmip, active.uid)
            if encrypt and len(data) > rsa_data_limit(call.parameters, modulus):
                raise CKRError(CKR.DATA_LEN_RANGE, "more than RSA encrypts with this padding")
            if not encrypt and len(data) != modulus:
                raise CKRError(CKR.ENCRYPTED_DATA_LEN_RANGE, "an RSA ciphertext is the modulus's length")
        _within_counter(call, 0, data, encrypt)
        cut = len(data) - (0 if encrypt else call.tag_bytes)
        payload = (EncryptRequest if encrypt else DecryptRequest)(
            unique_identifier=active.uid,
            cryptographic_parameters=call.parameters,
            data=data[:cut],
            iv_counter_nonce=call.iv,
            authenticated_encryption_additional_data=call.aad,
        )
        if isinstance(payload, DecryptRequest) and call.tag_bytes:
            payload.authenticated_encryption_tag = data[cut:]
        operation = Operation.ENCRYPT if encrypt else Operation.DECRYPT
        answer = self._run(kmip, payload, operation, CKR.ENCRYPTED_DATA_INVALID)
        assert isinstance(answer, EncryptResponse | DecryptResponse)
        tag = answer.authenticated_encryption_tag if isinstance(answer, EncryptResponse) else None
        return (answer.data or b"") + (tag or b"")

    def _sign(self, kmip: RequestContext, active: Active, data: bytes) -> bytes:
        parameters = signature_parameters(
            active.mechanism, active.found, data if active.found.prehashed else None
        )
        if active.found.mac:
            mac = MACRequest(unique_identifier=active.uid, cryptographic_parameters=parameters, data=data)
            made = self._run(kmip, mac, Operation.MAC)
            assert isinstance(made, MACResponse) and made.mac_data is not None
            return made.mac_data
        payload = SignRequest(unique_identifier=active.uid, cryptographic_parameters=parameters)
        if active.found.prehashed:
            payload.digested_data = data
        else:
            payload.data = data
        answer = self._run(kmip, payload, Operation.SIGN)
        assert isinstance(answer, SignResponse) and answer.signature_data is not None
        if active.found.key_type is not CKK.EC:
            return answer.signature_data
        size = self._key_bytes(kmip, active.uid)
        r, s = decode_dss_signature(answer.signature_data)
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def _key_bytes(self, kmip: RequestContext, uid: str) -> int:
        """The key's size in bytes: an RSA modulus's; an EC curve's (each half of a Cryptoki
        ECDSA signature, r || s)."""
        record = kmip.session.load(uid, None)
        length = record.attributes.get(Tag.CRYPTOGRAPHIC_LENGTH) if record is not None else None
        return ((length or 256) + 7) // 8

    # --- helpers -----------------------------------------------------------------------

    def _session(self, handle: Value) -> Session:
        session = self.sessions.get(_int(handle))
        if session is None:
            raise CKRError(CKR.SESSION_HANDLE_INVALID)
        return session

    def _has_pin(self) -> bool:
        return self.pins is not None and self.pins.configured(self.principal)

    def _creating(self, handle: Value, token: bool) -> Session:
        """A session that may make this object: logged in (keys are private), and read/write
        for a token object; a session object may be made in a read-only session."""
        session = self._session(handle)
        if token and not session.flags & CKF_RW_SESSION:
            raise CKRError(CKR.SESSION_READ_ONLY)
        if not self.logged_in:
            raise CKRError(CKR.USER_NOT_LOGGED_IN)
        return session

    def _made(self, uid: str, session: Value, token: bool) -> int:
        """The handle of an object just made; a session object is remembered with its session."""
        if not token:
            self._session_objects[uid] = _int(session)
        return self._handle(uid)

    def _as(self, kmip: RequestContext, uid: str | None, hidden: bool = False) -> RequestContext:
        """The request's context for an object: the owner of session objects for one of them
        (or, `hidden`, for one being made), the client otherwise."""
        if hidden or (uid is not None and uid in self._session_objects):
            return dataclasses.replace(kmip, principal=self._hidden)
        return kmip

    def _unique_label(self, kmip: RequestContext, label: str | None, token: bool) -> None:
        """A new object's label is a Name no other object of its owner has (KMIP Create and
        Register do not check it; Create Key Pair and the attribute edits do)."""
        if label is not None:
            try:
                check_unique_name(self._as(kmip, None, not token), label, besides=None)
            except KmipError as error:
                raise _ckr(error) from error

    def _handle(self, uid: str) -> int:
        """The object handle of a managed object: the same for the life of the context."""
        handle = self._handles.get(uid)
        if handle is None:
            handle = next(self._next_handle)
            self._handles[uid], self._uids[handle] = handle, uid
        return handle

    def _visible(self, kmip: RequestContext, uid: str, operation: Operation) -> ObjectRecord | None:
        """The object, if the client may use it for `operation` and the token shows it now."""
        try:
            return self._load(kmip, uid, operation)
        except KmipError:
            return None

    def _load(self, kmip: RequestContext, uid: str, operation: Operation) -> ObjectRecord | None:
        """The object as the access rules give it for `operation` (KmipError if they do not),
        or None if the token does not show it (another type, destroyed, private and logged out)."""
        context = self._as(kmip, uid)
        context.operation = operation
        record = context.load(uid)
        if (
            record.material is None
            or record.storage is not Storage.ONLINE
            or objects.object_class(record) is None
            or (objects.is_private(record) and not self.logged_in)
        ):
            return None
        return record

    def _object(
        self,
        kmip: RequestContext,
        handle: Value,
        operation: Operation,
        invalid: int = CKR.OBJECT_HANDLE_INVALID,
    ) -> ObjectRecord:
        """The object of a handle for `operation`. One the client sees but whose grants do not
        allow this is CKR_KEY_FUNCTION_NOT_PERMITTED (a key's use) or CKR_ACTION_PROHIBITED."""
        uid = self._uids.get(_int(handle))
        try:
            record = self._load(kmip, uid, operation) if uid is not None else None
        except KmipError as error:
            if error.reason is not ResultReason.PERMISSION_DENIED:
                raise CKRError(invalid) from error
            denied = (
                CKR.KEY_FUNCTION_NOT_PERMITTED if invalid == CKR.KEY_HANDLE_INVALID else CKR.ACTION_PROHIBITED
            )
            raise CKRError(denied, error.message) from error
        if record is None:
            raise CKRError(invalid)
        return record

    def _label(self, kmip: RequestContext, record: ObjectRecord) -> str | None:
        """CKA_LABEL: the Name; a public key without one shows its private key's."""
        label = objects.own_label(record)
        if label is None and record.object_type is ObjectType.PUBLIC_KEY:
            private = objects.linked(record, LinkType.PRIVATE_KEY_LINK)
            other = kmip.session.load(private, record.owner) if private is not None else None
            label = objects.own_label(other) if other is not None else None
        return label

    def _candidates(self, kmip: RequestContext, template: tuple[Attribute, ...]) -> list[str]:
        """The store's Locate narrowed by CKA_CLASS, CKA_LABEL, CKA_KEY_TYPE and CKA_ID where
        SQL can (native.finding; every attribute is matched after), over the client's objects
        (and its grants) and this application's session objects."""
        # One Locate per Object Type the class shows (CKO_DATA: Secret Data, Opaque Object).
        types: list[list[AttributeFilter]] = [[]]
        label = None
        for entry in template:
            if entry.type == CKA.CLASS:
                object_types = objects.OBJECT_TYPES.get(objects.read_ulong(entry), ())
                if not object_types:
                    return []
                types = [[AttributeFilter(Tag.OBJECT_TYPE, object_type)] for object_type in object_types]
            elif entry.type == CKA.LABEL and isinstance(entry.value, bytes):
                label = entry.value.decode("utf-8", "replace")
        filters = finding.criteria(template, labelled=label is not None)  # CKA_KEY_TYPE, CKA_ID
        if label is not None:
            name = Name(name_value=label, name_type=NameType.UNINTERPRETED_TEXT_STRING)
            types, filters = [[]], [AttributeFilter(Tag.NAME, name), *filters]
        uids = []
        for owner in (self.principal, self._hidden) if self._session_objects else (self.principal,):
            for narrowed in types:
                query = LocateQuery(
                    owner=owner, now=kmip.now, filters=narrowed + filters, shared=owner == self.principal
                )
                uids += kmip.session.locate(query)[0]
        if label is not None:
            for uid in list(uids):  # the public halves of named private keys carry no Name
                record = kmip.session.load(uid, None)
                public = objects.linked(record, LinkType.PUBLIC_KEY_LINK) if record is not None else None
                if public is not None:
                    uids.append(public)
        return uids

    def _run(
        self,
        kmip: RequestContext,
        payload: RequestPayload,
        operation: Operation,
        failed: int | None = None,
        invalid: int | None = None,
        on: str | None = None,
        hidden: bool = False,
    ) -> ResponsePayload:
        """One KMIP operation, in a savepoint: all of it or nothing; for the client, or for the
        owner of session objects when it acts on one (`on`, else the payload's Unique
        Identifier) or makes one (`hidden`). `failed`: the CK_RV of a Cryptographic Failure;
        `invalid`: of an Invalid Field."""
        uid = on if on is not None else getattr(payload, "unique_identifier", None)
        context = self._as(kmip, uid if isinstance(uid, str) else None, hidden)
        context.operation = operation
        try:
            with kmip.session.savepoint():
                answer = HANDLERS[operation](context, payload)
        except KmipError as error:
            if failed is not None and error.reason is ResultReason.CRYPTOGRAPHIC_FAILURE:
                raise CKRError(failed, error.message) from error
            if invalid is not None and error.reason is ResultReason.INVALID_FIELD:
                raise CKRError(invalid, error.message) from error
            raise _ckr(error) from error
        assert isinstance(answer, ResponsePayload)
        return answer


def _ckr(error: KmipError) -> CKRError:
    rv = REASONS.get(error.reason, CKR.FUNCTION_FAILED)
    if rv == CKR.FUNCTION_FAILED:
        log.warning("a native token call failed: %s (%s)", error.reason.name, error.message)
    return CKRError(rv, error.message)


def _kmip(request: RequestContext | None) -> RequestContext:
    if request is None:
        raise CKRError(CKR.DEVICE_ERROR, "the native token is reached through the KMIP operation only")
    return request


def _buffered(active: Active) -> bool:
    """Whether a multi-part cipher collects its parts rather than streaming them: an
    authenticated decryption (the tag ends the ciphertext)."""
    return active.use == "decrypt" and active.found.aead


def _within_counter(call: CipherCall, done: int, data: bytes, encrypt: bool) -> None:
    """AES-CTR: refuse data past the counter's room (CKR_DATA_LEN_RANGE /
    CKR_ENCRYPTED_DATA_LEN_RANGE), where Cryptoki's counter would wrap and the server's not."""
    room = call.counter_room()
    if room is not None and done + len(data) > room:
        raise CKRError(
            CKR.DATA_LEN_RANGE if encrypt else CKR.ENCRYPTED_DATA_LEN_RANGE, "the CTR counter bits would wrap"
        )


def _int(value: Value) -> int:
    assert isinstance(value, int)
    return value


def _slot(value: Value) -> None:
    if value != SLOT_ID:
        raise CKRError(CKR.SLOT_ID_INVALID)


def _template(value: Value) -> tuple[Attribute, ...]:
    assert isinstance(value, tuple)
    return tuple(entry for entry in value if isinstance(entry, Attribute))


def _mechanism(value: Value) -> Mechanism:
    if not isinstance(value, Mechanism):
        raise CKRError(CKR.ARGUMENTS_BAD, "no mechanism")
    return value


def _out_bytes(request: Value, data: bytes, name: str) -> Result:
    """An output byte string under the length convention (C_WrapKey)."""
    assert isinstance(request, OutRequest)
    if not request.present:
        return CKR.OK, {name: OutData(len(data))}
    if request.capacity < len(data):
        return CKR.BUFFER_TOO_SMALL, {name: OutData(len(data))}
    return CKR.OK, {name: OutData(len(data), data)}


def _out_list(request: Value, items: tuple[int, ...], name: str) -> Result:
    """An output list under the length convention (C_GetSlotList, C_GetMechanismList)."""
    assert isinstance(request, OutRequest)
    if not request.present:
        return CKR.OK, {name: OutData(len(items))}
    if request.capacity < len(items):
        return CKR.BUFFER_TOO_SMALL, {name: OutData(len(items))}
    return CKR.OK, {name: OutData(len(items), items)}


Function = Callable[[NativeToken, dict[str, Value], RequestContext | None], Result]
FUNCTIONS: dict[str, Function] = {
    "C_GetSlotList": NativeToken.get_slot_list,
    "C_GetSlotInfo": NativeToken.get_slot_info,
    "C_GetTokenInfo": NativeToken.get_token_info,
    "C_GetMechanismList": NativeToken.get_mechanism_list,
    "C_GetMechanismInfo": NativeToken.get_mechanism_info,
    "C_OpenSession": NativeToken.open_session,
    "C_CloseSession": NativeToken.close_session,
    "C_CloseAllSessions": NativeToken.close_all_sessions,
    "C_GetSessionInfo": NativeToken.get_session_info,
    "C_Login": NativeToken.login,
    "C_Logout": NativeToken.logout,
    "C_FindObjectsInit": NativeToken.find_objects_init,
    "C_FindObjects": NativeToken.find_objects,
    "C_FindObjectsFinal": NativeToken.find_objects_final,
    "C_GetAttributeValue": NativeToken.get_attribute_value,
    "C_GetObjectSize": NativeToken.get_object_size,
    "C_DestroyObject": NativeToken.destroy_object,
    "C_CreateObject": NativeToken.create_object,
    "C_WrapKey": NativeToken.wrap_key,
    "C_DeriveKey": NativeToken.derive_key,
    "C_UnwrapKey": NativeToken.unwrap_key,
    "C_SetAttributeValue": NativeToken.set_attribute_value,
    "C_CopyObject": NativeToken.copy_object,
    "C_GenerateKey": NativeToken.generate_key,
    "C_GenerateKeyPair": NativeToken.generate_key_pair,
    "C_GenerateRandom": NativeToken.generate_random,
    "C_EncryptInit": NativeToken.encrypt_init,
    "C_Encrypt": NativeToken.encrypt,
    "C_EncryptUpdate": NativeToken.encrypt_update,
    "C_EncryptFinal": NativeToken.encrypt_final,
    "C_DecryptInit": NativeToken.decrypt_init,
    "C_Decrypt": NativeToken.decrypt,
    "C_DecryptUpdate": NativeToken.decrypt_update,
    "C_DecryptFinal": NativeToken.decrypt_final,
    "C_DigestInit": NativeToken.digest_init,
    "C_Digest": NativeToken.digest,
    "C_DigestUpdate": NativeToken.digest_update,
    "C_DigestKey": NativeToken.digest_key,
    "C_DigestFinal": NativeToken.digest_final,
    "C_SignInit": NativeToken.sign_init,
    "C_Sign": NativeToken.sign,
    "C_SignUpdate": NativeToken.sign_update,
    "C_SignFinal": NativeToken.sign_final,
    "C_VerifyInit": NativeToken.verify_init,
    "C_Verify": NativeToken.verify,
    "C_VerifyUpdate": NativeToken.verify_update,
    "C_VerifyFinal": NativeToken.verify_final,
    **MESSAGE_FUNCTIONS,
    **PART_FUNCTIONS,
}
