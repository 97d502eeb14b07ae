"""The Python side without the C library: call table, state machine, cffi edge.

The edge is driven through an ABI-mode cffi FFI built from the same C declarations
(pkcs11_kmip.cryptoki.cdefs) that the embedding library is compiled with.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import cffi
import pytest

from pkcs11_kmip.cryptoki import embed
from pkcs11_kmip.cryptoki.calls import BY_NAME, CALLS, LAST_V2_FUNCTION
from pkcs11_kmip.cryptoki.cdefs import TYPES
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.module import InitArgs, Library, default_info, pad, version_pair

SHARED_TABLES = Path(__file__).resolve().parents[3] / "shared" / "kmip" / "tables"


@pytest.fixture
def ffi() -> Any:
    ffi = cffi.FFI()
    ffi.cdef(TYPES)
    return ffi


@pytest.fixture
def dispatcher(ffi: Any) -> embed.Dispatcher:
    return embed.Dispatcher(ffi, Library(default_info("1.2.3")))


def call(dispatcher: embed.Dispatcher, ffi: Any, name: str, *args: Any) -> int:
    raw = [int(ffi.cast("uintptr_t", a)) if isinstance(a, ffi.CData) else a for a in args]
    return dispatcher.dispatch(BY_NAME[name].id, ffi.new("uintptr_t[]", raw or [0]), len(raw))


# -- the call table --------------------------------------------------------------------


def test_table_is_cryptoki_3_0_in_function_list_order() -> None:
    assert [c.id for c in CALLS] == list(range(1, 93))
    assert CALLS[0].name == "C_Initialize" and CALLS[-1].name == "C_MessageVerifyFinal"
    assert BY_NAME[LAST_V2_FUNCTION].id == 68
    assert {c.name for c in CALLS if c.local} == {
        "C_GetFunctionList",
        "C_GetInterfaceList",
        "C_GetInterface",
        "C_WaitForSlotEvent",
    }


def test_every_parameter_type_is_declared(ffi: Any) -> None:
    for c in CALLS:
        for param in c.params:
            ffi.typeof(param.ctype)  # raises if cdefs.TYPES lacks it


def test_ids_and_return_codes_match_the_kmip_tables() -> None:
    assert SHARED_TABLES.is_dir(), f"the KMIP reference tables belong beside the checkout: {SHARED_TABLES}"
    with open(SHARED_TABLES / "kmip-pkcs11-function-enum.csv") as f:
        functions = {int(row["value_hex"], 16): row["function"] for row in csv.DictReader(f)}
    assert functions == {c.id: c.name for c in CALLS}
    with open(SHARED_TABLES / "kmip-pkcs11-return-code-enum.csv") as f:
        codes = {row["ckr_name"]: int(row["value_hex"], 16) for row in csv.DictReader(f)}
    assert codes == {f"CKR_{rv.name}": rv.value for rv in CKR}


def test_return_codes_that_some_headers_get_wrong() -> None:
    assert CKR.EXCEEDED_MAX_ITERATIONS == 0x1B5
    assert CKR.FIPS_SELF_TEST_FAILED == 0x1B6
    assert CKR.LIBRARY_LOAD_FAILED == 0x1B7
    assert CKR.PIN_TOO_WEAK == 0x1B8
    assert CKR.PUBLIC_KEY_INVALID == 0x1B9


# -- the state machine on values -----------------------------------------------------


def init_args(**changes: Any) -> InitArgs:
    values: dict[str, Any] = {
        "create_mutex": False,
        "destroy_mutex": False,
        "lock_mutex": False,
        "unlock_mutex": False,
        "flags": 0,
        "reserved": False,
    }
    values.update(changes)
    return InitArgs(**values)


def rv_of(action: Any) -> int:
    try:
        action()
    except CKRError as error:
        return error.rv
    return CKR.OK


def test_initialize_argument_rules() -> None:
    library = Library(default_info("0.1.0"))
    assert rv_of(lambda: library.initialize(init_args(create_mutex=True))) == CKR.ARGUMENTS_BAD
    assert rv_of(lambda: library.initialize(init_args(reserved=True))) == CKR.ARGUMENTS_BAD
    assert not library.initialized
    all_mutexes = init_args(create_mutex=True, destroy_mutex=True, lock_mutex=True, unlock_mutex=True)
    assert rv_of(lambda: library.initialize(all_mutexes)) == CKR.OK
    assert rv_of(lambda: library.initialize(None)) == CKR.CRYPTOKI_ALREADY_INITIALIZED


def test_finalize_rules() -> None:
    library = Library(default_info("0.1.0"))
    assert rv_of(lambda: library.finalize(reserved=False)) == CKR.CRYPTOKI_NOT_INITIALIZED
    library.initialize(None)
    assert rv_of(lambda: library.finalize(reserved=True)) == CKR.ARGUMENTS_BAD
    assert rv_of(lambda: library.finalize(reserved=False)) == CKR.OK
    assert rv_of(library.get_info) == CKR.CRYPTOKI_NOT_INITIALIZED


def test_a_forked_child_starts_uninitialized() -> None:
    pid = [100]
    library = Library(default_info("0.1.0"), getpid=lambda: pid[0])
    library.initialize(None)
    pid[0] = 101
    assert not library.initialized
    assert rv_of(library.get_info) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert rv_of(lambda: library.initialize(None)) == CKR.OK


def test_message_functions_without_a_server(dispatcher: embed.Dispatcher, ffi: Any) -> None:
    """The message-based functions go the generic way: no server, no session; a NULL
    message parameter with a length is refused before anything is sent."""
    args = [0] * len(BY_NAME["C_SignMessage"].params)
    assert call(dispatcher, ffi, "C_SignMessage", *args) == CKR.CRYPTOKI_NOT_INITIALIZED
    call(dispatcher, ffi, "C_Initialize", 0)
    length = ffi.new("CK_ULONG *")
    assert call(dispatcher, ffi, "C_SignMessage", 1, 0, 0, 0, 0, 0, length) == CKR.SESSION_HANDLE_INVALID
    assert call(dispatcher, ffi, "C_SignMessage", 1, 0, 4, 0, 0, 0, length) == CKR.ARGUMENTS_BAD


def test_text_fields_and_versions() -> None:
    assert pad("pkcs11-kmip", 32) == b"pkcs11-kmip" + b" " * 21
    assert pad("é" * 20, 32) == "é".encode() * 16  # cut on a character boundary
    assert version_pair("0.1.0") == (0, 1)
    assert version_pair("2.13.0.dev4+g1234") == (2, 13)
    assert version_pair("7") == (7, 0)
    assert version_pair("300.1") == (255, 1)


# -- the cffi edge: raw arguments ----------------------------------------------------


def test_get_info_fills_ck_info(dispatcher: embed.Dispatcher, ffi: Any) -> None:
    info = ffi.new("CK_INFO *")
    assert call(dispatcher, ffi, "C_GetInfo", info) == CKR.CRYPTOKI_NOT_INITIALIZED
    assert call(dispatcher, ffi, "C_Initialize", 0) == CKR.OK
    assert call(dispatcher, ffi, "C_GetInfo", 0) == CKR.ARGUMENTS_BAD
    assert call(dispatcher, ffi, "C_GetInfo", info) == CKR.OK
    assert (info.cryptokiVersion.major, info.cryptokiVersion.minor) == (3, 0)
    assert bytes(ffi.buffer(info.manufacturerID)) == b"pkcs11-kmip".ljust(32)
    assert bytes(ffi.buffer(info.libraryDescription)) == b"PKCS#11 over KMIP 2.0".ljust(32)
    assert info.flags == 0
    assert (info.libraryVersion.major, info.libraryVersion.minor) == (1, 2)


def test_initialize_reads_ck_c_initialize_args(dispatcher: embed.Dispatcher, ffi: Any) -> None:
    args = ffi.new("CK_C_INITIALIZE_ARGS *")
    args.CreateMutex = ffi.cast("CK_CREATEMUTEX", 0x1000)
    assert call(dispatcher, ffi, "C_Initialize", args) == CKR.ARGUMENTS_BAD
    args.CreateMutex = ffi.NULL
    args.pReserved = ffi.cast("void *", 0x1000)
    assert call(dispatcher, ffi, "C_Initialize", args) == CKR.ARGUMENTS_BAD
    args.pReserved = ffi.NULL
    args.flags = 2
    assert call(dispatcher, ffi, "C_Initialize", args) == CKR.OK
    assert call(dispatcher, ffi, "C_Finalize", args) == CKR.ARGUMENTS_BAD
    assert call(dispatcher, ffi, "C_Finalize", 0) == CKR.OK


def test_slot_list_is_empty_until_a_server_provides_slots(dispatcher: embed.Dispatcher, ffi: Any) -> None:
    count = ffi.new("CK_ULONG *", 99)
    slots = ffi.new("CK_SLOT_ID[]", [7, 7])
    assert call(dispatcher, ffi, "C_GetSlotList", 0, 0, count) == CKR.CRYPTOKI_NOT_INITIALIZED
    call(dispatcher, ffi, "C_Initialize", 0)
    assert call(dispatcher, ffi, "C_GetSlotList", 0, 0, 0) == CKR.ARGUMENTS_BAD
    assert call(dispatcher, ffi, "C_GetSlotList", 1, 0, count) == CKR.OK
    assert count[0] == 0
    count[0] = 2
    assert call(dispatcher, ffi, "C_GetSlotList", 0, slots, count) == CKR.OK
    assert (count[0], list(slots)) == (0, [7, 7])  # nothing written past the count


def test_without_a_server_there_is_no_slot_and_no_session(dispatcher: embed.Dispatcher, ffi: Any) -> None:
    info = ffi.new("CK_SLOT_INFO *")
    assert call(dispatcher, ffi, "C_GetSlotInfo", 0, info) == CKR.CRYPTOKI_NOT_INITIALIZED
    call(dispatcher, ffi, "C_Initialize", 0)
    assert call(dispatcher, ffi, "C_GetSlotInfo", 0, info) == CKR.SLOT_ID_INVALID
    assert call(dispatcher, ffi, "C_GetSlotInfo", 0, 0) == CKR.ARGUMENTS_BAD
    assert call(dispatcher, ffi, "C_CloseSession", 1) == CKR.SESSION_HANDLE_INVALID


def test_calls_the_c_shim_answers_never_reach_python(
    dispatcher: embed.Dispatcher, ffi: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    assert call(dispatcher, ffi, "C_GetFunctionList", 0) == CKR.GENERAL_ERROR
    assert dispatcher.dispatch(0, ffi.new("uintptr_t[]", [0]), 1) == CKR.GENERAL_ERROR
    assert dispatcher.dispatch(3, ffi.new("uintptr_t[]", [0, 0]), 2) == CKR.GENERAL_ERROR
    assert capfd.readouterr().err.count("pkcs11-kmip[") == 3


def test_unexpected_exceptions_become_general_error_and_are_logged(
    dispatcher: embed.Dispatcher, ffi: Any, capfd: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("secret value 1234")

    monkeypatch.setattr(dispatcher.library, "call", broken)
    call(dispatcher, ffi, "C_Initialize", 0)
    assert call(dispatcher, ffi, "C_GetInfo", ffi.new("CK_INFO *")) == CKR.GENERAL_ERROR
    err = capfd.readouterr().err
    assert "CKR_GENERAL_ERROR from C_GetInfo [ref " in err
    assert "RuntimeError at test_dispatcher.py:" in err
    assert "secret" not in err  # the message is not logged: it could carry data


def test_the_entry_point_declares_its_error_value() -> None:
    """cffi returns 0 (= CKR_OK) from a callback that raises unless told otherwise."""
    declared: dict[str, Any] = {}

    class RecordingFFI:
        NULL = None

        def cast(self, ctype: str, value: Any) -> Any:
            raise AssertionError

        def memmove(self, dest: Any, src: Any, n: int) -> None:
            raise AssertionError

        def def_extern(self, **options: Any) -> Any:
            declared.update(options)
            return lambda function: function

    embed.install(RecordingFFI(), package_version="0.1.0")
    assert declared["name"] == "pkcs11_kmip_dispatch"
    assert declared["error"] == CKR.GENERAL_ERROR
    assert declared["onerror"] is embed.on_callback_error


def test_onerror_logs(capfd: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError("x")
    except ValueError as error:
        embed.on_callback_error(ValueError, error, error.__traceback__)
    assert "CKR_GENERAL_ERROR from dispatch [ref " in capfd.readouterr().err
