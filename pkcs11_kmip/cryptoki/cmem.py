"""Wire values <-> C memory, through any cffi FFI that knows pkcs11_kmip.cryptoki.cdefs.

Both C edges use these: the provider reads the application's structures and writes
answers into them (pkcs11_kmip.cryptoki.embed), the server builds the arguments of a
real module's functions and reads what it wrote (pkcs11_kmip_server.hsm). Layouts
come from the tables of `wire`; nothing here knows a particular function.

`keep` lists collect the cffi objects that own memory a C pointer refers to: the
caller holds the list until the C call has returned.
"""

from __future__ import annotations

from typing import Any

from pkcs11_kmip.cryptoki import wire
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.wire import (
    Attribute,
    AttributeKind,
    FieldKind,
    Mechanism,
    MessageParameter,
    StructValue,
)

FFI = Any  # cffi ships no type hints: an FFI object
CData = Any  # and its cdata

MAX_NESTING = 2
"""Template attributes (CKA_WRAP_TEMPLATE ...) nest this deep at most."""

MAX_ARRAY = 256
"""An ARRAY member (CK_SP800_108_KDF_PARAMS' data params) holds this many structures at most."""


def is_null(ffi: FFI, pointer: CData) -> bool:
    return bool(pointer == ffi.NULL)


def read_bytes(ffi: FFI, pointer: CData, length: int) -> bytes:
    return bytes(ffi.buffer(ffi.cast("CK_BYTE *", pointer), length)) if length else b""


def new_bytes(ffi: FFI, data: bytes, keep: list[Any]) -> CData:
    """A C copy of `data` (an empty array for b"", never NULL)."""
    buffer = ffi.new("CK_BYTE[]", max(len(data), 1))
    ffi.memmove(buffer, data, len(data))
    keep.append(buffer)
    return buffer


# --- structures ---------------------------------------------------------------------------


def read_struct(ffi: FFI, pointer: CData, name: str) -> StructValue:
    """A structure's members as wire values (`pointer` is a `name *` cdata)."""
    value: StructValue = {}
    tags = []
    for member in wire.STRUCTS[name]:
        item = getattr(pointer, member.name)
        if member.kind in (FieldKind.ULONG, FieldKind.BYTE):
            value[member.name] = int(item)
        elif member.kind is FieldKind.VERSION:
            value[member.name] = (int(item.major), int(item.minor))
        elif member.kind is FieldKind.CHARS:
            value[member.name] = bytes(ffi.buffer(item, member.size))
        elif member.kind is FieldKind.TAG:
            tags.append(member)  # its length member may come after it (CK_GCM_MESSAGE_PARAMS)
        elif member.kind is FieldKind.ARRAY:
            count = int(getattr(pointer, member.length_name))
            value[member.name] = _read_array(ffi, item, count, member)
        elif member.kind is FieldKind.VARIANT:  # its selector comes before it (C order)
            length = int(getattr(pointer, member.length_name))
            value[member.name] = _read_variant(ffi, item, length, member, value)
        else:
            length = int(getattr(pointer, member.length_name))
            if member.bits:  # a length in bits (CK_CHACHA20_PARAMS): only whole bytes travel
                if length % 8:
                    raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"{member.length_name} is not whole bytes")
                length //= 8
            value[member.name] = None if is_null(ffi, item) else read_bytes(ffi, item, length)
    for member in tags:
        item = getattr(pointer, member.name)
        value[member.name] = (
            None if is_null(ffi, item) else read_bytes(ffi, item, wire.tag_length(member, value))
        )
    # Members in C order, as the wire and the trace list them.
    return {member.name: value[member.name] for member in wire.STRUCTS[name]}


def _read_array(ffi: FFI, pointer: CData, count: int, member: wire.StructField) -> wire.FieldValue:
    """`count` structures from the caller's array (NULL: None, when the count is 0)."""
    if is_null(ffi, pointer):
        if count:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"NULL {member.name} with a count")
        return None
    if count > MAX_ARRAY:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"{count} {member.name} entries")
    entries = ffi.cast(f"{member.struct} *", pointer)
    return tuple(read_struct(ffi, entries + i, member.struct) for i in range(count))


def _read_variant(
    ffi: FFI, pointer: CData, length: int, member: wire.StructField, value: StructValue
) -> wire.FieldValue:
    """The value a VARIANT member points to, laid out as its selector says; an unknown
    selector or a structure of the wrong size is CKR_MECHANISM_PARAM_INVALID."""
    if is_null(ffi, pointer):
        if length:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"NULL {member.name} with a length")
        return None
    try:
        layout = wire.variant_layout(member, value)
    except wire.WireError as error:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, str(error)) from None
    if layout == wire.RAW:
        return read_bytes(ffi, pointer, length)
    if length != ffi.sizeof(layout):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"{layout} {member.name} of {length} bytes")
    return read_struct(ffi, ffi.cast(f"{layout} *", pointer), layout)


def _fill_array(ffi: FFI, pointer: CData, member: wire.StructField, item: object, keep: list[Any]) -> None:
    if item is None:
        setattr(pointer, member.name, ffi.NULL)
        setattr(pointer, member.length_name, 0)
        return
    assert isinstance(item, tuple)
    entries = ffi.new(f"{member.struct}[]", max(len(item), 1))
    keep.append(entries)
    for i, entry in enumerate(item):
        fill_struct(ffi, entries + i, member.struct, entry, keep)
    setattr(pointer, member.name, entries)
    setattr(pointer, member.length_name, len(item))


def _fill_variant(
    ffi: FFI, pointer: CData, member: wire.StructField, value: StructValue, keep: list[Any]
) -> None:
    item = value.get(member.name)
    if item is None:
        setattr(pointer, member.name, ffi.NULL)
        setattr(pointer, member.length_name, 0)
        return
    layout = wire.variant_layout(member, value)
    if isinstance(item, bytes):
        setattr(pointer, member.name, new_bytes(ffi, item, keep))
        setattr(pointer, member.length_name, len(item))
        return
    assert isinstance(item, dict) and layout != wire.RAW
    struct = ffi.new(f"{layout} *")
    keep.append(struct)
    fill_struct(ffi, struct, layout, item, keep)
    setattr(pointer, member.name, struct)
    setattr(pointer, member.length_name, ffi.sizeof(layout))


def fill_struct(ffi: FFI, pointer: CData, name: str, value: StructValue, keep: list[Any]) -> None:
    """Write wire values into a structure; DATA members get C copies held in `keep`."""
    for member in wire.STRUCTS[name]:
        item = value.get(member.name)
        if member.kind is FieldKind.ARRAY:
            _fill_array(ffi, pointer, member, item, keep)
        elif member.kind is FieldKind.VARIANT:
            _fill_variant(ffi, pointer, member, value, keep)
        elif member.kind in (FieldKind.ULONG, FieldKind.BYTE):
            setattr(pointer, member.name, item)
        elif member.kind is FieldKind.VERSION:
            assert isinstance(item, tuple)
            target = getattr(pointer, member.name)
            target.major, target.minor = item
        elif member.kind is FieldKind.CHARS:
            assert isinstance(item, bytes) and len(item) == member.size
            ffi.memmove(getattr(pointer, member.name), item, member.size)
        elif member.kind is FieldKind.TAG:  # a buffer as long as another member says
            assert item is None or isinstance(item, bytes)
            setattr(pointer, member.name, ffi.NULL if item is None else new_bytes(ffi, item, keep))
        elif item is None:
            setattr(pointer, member.name, ffi.NULL)
            setattr(pointer, member.length_name, 0)
        else:
            assert isinstance(item, bytes)
            setattr(pointer, member.name, new_bytes(ffi, item, keep))
            setattr(pointer, member.length_name, len(item) * (8 if member.bits else 1))


# --- mechanisms ---------------------------------------------------------------------------


def read_mechanism(ffi: FFI, address: int) -> Mechanism:
    """The application's CK_MECHANISM; a wrong parameter size is CKR_MECHANISM_PARAM_INVALID."""
    mechanism = ffi.cast("CK_MECHANISM *", address)
    type_ = int(mechanism.mechanism)
    length = int(mechanism.ulParameterLen)
    if is_null(ffi, mechanism.pParameter):
        if length:
            raise CKRError(CKR.MECHANISM_PARAM_INVALID, "NULL parameter with a length")
        return Mechanism(type_)
    layout = wire.parameter_layout(type_)
    if layout is None or layout == wire.RAW:
        return Mechanism(type_, read_bytes(ffi, mechanism.pParameter, length))
    ctype = "CK_ULONG" if layout == wire.ULONG else layout
    if length != ffi.sizeof(ctype):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"{ctype} parameter of {length} bytes")
    if layout == wire.ULONG:
        return Mechanism(type_, int(ffi.cast("CK_ULONG *", mechanism.pParameter)[0]))
    return Mechanism(type_, read_struct(ffi, ffi.cast(f"{layout} *", mechanism.pParameter), layout))


def build_mechanism(ffi: FFI, value: Mechanism, keep: list[Any]) -> CData:
    """A CK_MECHANISM for a module; a parameter of unknown layout is refused, since it
    could hold pointers the module would follow into this process's memory."""
    mechanism = ffi.new("CK_MECHANISM *")
    keep.append(mechanism)
    mechanism.mechanism = value.type
    parameter = value.parameter
    layout = wire.parameter_layout(value.type)
    if parameter is None:
        mechanism.pParameter = ffi.NULL
        mechanism.ulParameterLen = 0
    elif isinstance(parameter, bytes) and layout == wire.RAW:
        mechanism.pParameter = new_bytes(ffi, parameter, keep)
        mechanism.ulParameterLen = len(parameter)
    elif isinstance(parameter, int) and layout == wire.ULONG:
        word = ffi.new("CK_ULONG *", parameter)
        keep.append(word)
        mechanism.pParameter = word
        mechanism.ulParameterLen = ffi.sizeof("CK_ULONG")
    elif isinstance(parameter, dict) and layout is not None and layout in wire.STRUCTS:
        struct = ffi.new(f"{layout} *")
        keep.append(struct)
        fill_struct(ffi, struct, layout, parameter, keep)
        mechanism.pParameter = struct
        mechanism.ulParameterLen = ffi.sizeof(layout)
    else:
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"no parameter layout for mechanism 0x{value.type:X}")
    return mechanism


# --- message parameters (the PKCS#11 3.0 message-based functions) --------------------------


def read_message(
    ffi: FFI, mechanism: int, address: int, length: int, output: bool
) -> MessageParameter | None:
    """The application's pParameter of a message operation on `mechanism`. An output tag
    buffer (`output`: an encryption's) travels as zeros, never as what the caller's
    memory held; a size other than the structure's is CKR_MECHANISM_PARAM_INVALID."""
    if not address:
        if length:
            raise CKRError(CKR.ARGUMENTS_BAD, "NULL message parameter with a length")
        return None
    layout = wire.message_layout(mechanism)
    if layout is None:
        if length > wire.MAX_LENGTH:
            raise CKRError(CKR.ARGUMENTS_BAD, "message parameter too long")
        return MessageParameter(mechanism, read_bytes(ffi, address, length))
    if length != ffi.sizeof(layout):
        raise CKRError(CKR.MECHANISM_PARAM_INVALID, f"{layout} parameter of {length} bytes")
    value = read_struct(ffi, ffi.cast(f"{layout} *", address), layout)
    if output:
        for member in wire.pointer_members(layout):
            item = value[member.name]
            if member.kind is FieldKind.TAG and isinstance(item, bytes):
                value[member.name] = bytes(len(item))
    return MessageParameter(mechanism, value)


def build_message(ffi: FFI, parameter: MessageParameter | None, keep: list[Any]) -> tuple[CData, int, CData]:
    """pParameter and ulParameterLen for a module, and the structure (NULL if none) whose
    buffers hold what the module wrote. Raw bytes (a layout this encoding does not know)
    are refused: they could hold pointers."""
    if parameter is None:
        return ffi.NULL, 0, ffi.NULL
    layout = wire.message_layout(parameter.mechanism)
    if layout is None or not isinstance(parameter.value, dict):
        raise CKRError(
            CKR.MECHANISM_PARAM_INVALID, f"no message parameter layout for 0x{parameter.mechanism:X}"
        )
    struct = ffi.new(f"{layout} *")
    keep.append(struct)
    fill_struct(ffi, struct, layout, parameter.value, keep)
    return struct, ffi.sizeof(layout), struct


def message_buffers(ffi: FFI, mechanism: int, struct: CData) -> MessageParameter:
    """The pointer members of a message parameter structure after the call: the answer."""
    layout = wire.message_layout(mechanism)
    assert layout is not None
    value = read_struct(ffi, ffi.cast(f"{layout} *", struct), layout)
    return MessageParameter(mechanism, {m.name: value[m.name] for m in wire.pointer_members(layout)})


def write_buffer(ffi: FFI, address: CData, data: bytes) -> None:
    """Copy `data` into the caller's buffer (checked to be that long by the caller)."""
    ffi.memmove(ffi.cast("CK_BYTE *", address), data, len(data))


# --- templates ----------------------------------------------------------------------------


def read_template(ffi: FFI, address: int, count: int, depth: int = 0) -> tuple[Attribute, ...]:
    """The application's CK_ATTRIBUTE array (values copied; nested templates followed)."""
    if not address:
        if count:
            raise CKRError(CKR.ARGUMENTS_BAD, "NULL template with a count")
        return ()
    entries = ffi.cast("CK_ATTRIBUTE *", address)
    template = []
    for i in range(count):
        entry = entries[i]
        type_ = int(entry.type)
        length = int(entry.ulValueLen)
        if is_null(ffi, entry.pValue):
            if length:
                raise CKRError(CKR.ARGUMENTS_BAD, "NULL attribute value with a length")
            template.append(Attribute(type_, None, 0))
        elif wire.attribute_kind(type_) is AttributeKind.TEMPLATE:
            size = ffi.sizeof("CK_ATTRIBUTE")
            if depth >= MAX_NESTING or length % size:
                raise CKRError(CKR.ATTRIBUTE_VALUE_INVALID, "not a nested template")
            nested = read_template(ffi, int(ffi.cast("uintptr_t", entry.pValue)), length // size, depth + 1)
            template.append(Attribute(type_, nested, len(nested)))
        else:
            template.append(Attribute.of(type_, read_bytes(ffi, entry.pValue, length)))
    return tuple(template)


def build_template(ffi: FFI, template: tuple[Attribute, ...], keep: list[Any]) -> tuple[CData, int]:
    """A CK_ATTRIBUTE array for a module (NULL for an empty template) and its count."""
    if not template:
        return ffi.NULL, 0
    entries = ffi.new("CK_ATTRIBUTE[]", len(template))
    keep.append(entries)
    for entry, attribute in zip(entries, template, strict=True):
        entry.type = attribute.type
        value = attribute.value
        if isinstance(value, tuple):
            nested, count = build_template(ffi, value, keep)
            entry.pValue = nested
            entry.ulValueLen = count * ffi.sizeof("CK_ATTRIBUTE")
        elif value is None:
            if attribute.length:
                raise CKRError(CKR.ARGUMENTS_BAD, "an attribute without a value has a length")
            entry.pValue = ffi.NULL
            entry.ulValueLen = 0
        else:
            entry.pValue = new_bytes(ffi, value, keep)
            entry.ulValueLen = len(value)
    return entries, len(template)
