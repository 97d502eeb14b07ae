"""What a conformant server may answer differently from the OASIS reference server.

Every entry is a tolerance the comparison applies, with the reason it is one. Nothing
outside these tables is tolerated: results, reasons, identifiers (through their
placeholders), registered key material and every other value must match exactly.
docs/conformance.md explains each table; a tolerance needs a reason there too.
"""

from __future__ import annotations

from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import KeyFormatType, Operation

# Seconds a "$NOW" value may lie from the time the request was sent (both ways): the
# server's clock and the time the file takes to run, never the hour of a "$NOW-3600".
DEFAULT_TIME_TOLERANCE = 300

# Items either side may carry or leave out; their values are never compared.
EITHER_SIDE_OPTIONAL: dict[int, str] = {
    Tag.CLIENT_CORRELATION_VALUE: "KMIP 2.x §9.9: clients MAY send it; servers need not echo it",
    Tag.SERVER_CORRELATION_VALUE: "KMIP 2.x §9.10: SHOULD be sent, and is the server's own unique value",
    Tag.RESULT_MESSAGE: "free text the server words as it likes (Result Status and Reason are compared)",
    Tag.NONCE: "a fresh random value per response, for attestation",
}

# Items a server may add where the expected response has none.
SERVER_MAY_ADD: dict[int, str] = {
    Tag.LOCATED_ITEMS: "Locate: the response MAY include Located Items (the count of all matches)",
    Tag.RESULT_REASON: "§8.6: OPTIONAL unless the status is Operation Failed (then the expected names it)",
}

# Items that may be left out when they hold their default value (and vice versa).
DEFAULT_VALUES: dict[int, tuple[int, str]] = {
    Tag.ATTRIBUTE_INDEX: (0, "KMIP 1.x: an omitted Attribute Index means index 0"),
}

# (parent tag, tag) whose value is the server's own; the item must be there, of its type.
SERVER_VALUES: dict[tuple[int, int], str] = {
    (Tag.RESPONSE_HEADER, Tag.TIME_STAMP): "the server's clock at the time it answered",
}

# Attributes a server sets at its discretion: the spec does not require them to have a
# value ("SHALL always have a value: No", initially set by the server). An expected one
# that the server does not return is tolerated, and so is one the server returns that
# the expected response lacks. True: the value is the server's choice too.
SERVER_CHOSEN_ATTRIBUTES: dict[int, tuple[bool, str]] = {
    Tag.RANDOM_NUMBER_GENERATOR: (True, "which generator a server uses is its own; not required (§4.46)"),
    Tag.LEASE_TIME: (True, "server policy; not required to have a value (§4.30)"),
    Tag.ORIGINAL_CREATION_DATE: (False, "not required to have a value (§4.38); if present it is $NOW"),
}

# A server may return attributes beyond those expected only where the client asked for all
# of them, and only attributes of the client's KMIP version: their tags exist in that
# version, and these (whose tags are older than the attributes) are not 1.x attributes.
ATTRIBUTES_SINCE_2_0: dict[int, str] = {
    Tag.KEY_FORMAT_TYPE: "a Key Block field in KMIP 1.x; an attribute only since 2.0",
    Tag.OPAQUE_DATA_TYPE: "an Opaque Object field in KMIP 1.x; an attribute only since 2.0",
}
# KMIP 1.x Custom Attribute names: "x-" (client) and "y-" (server) prefixes.
CUSTOM_ATTRIBUTE_PREFIXES = ("x-", "y-")

# Operations whose successful response names objects whose key material the server
# generated: their Key Material and Digest Value differ on every server and run.
GENERATING_OPERATIONS: dict[Operation, str] = {
    Operation.CREATE: "generates a symmetric key or secret",
    Operation.CREATE_KEY_PAIR: "generates a key pair",
    Operation.RE_KEY: "generates a replacement key",
    Operation.RE_KEY_KEY_PAIR: "generates a replacement key pair",
}
# Where generated values sit, under an object the server generated. Such a value binds
# on first sight (per object and expected text) and must stay the same afterwards.
GENERATED_VALUES: dict[int, str] = {
    Tag.KEY_MATERIAL: "the generated key itself",
    Tag.DIGEST_VALUE: "the digest of the generated key",
}
# Key formats whose generated key material has the expected length exactly.
FIXED_LENGTH_FORMATS = frozenset({KeyFormatType.RAW, KeyFormatType.TRANSPARENT_SYMMETRIC_KEY})

# Query answers describe the server, not the reference server: for these items at least
# one must be present when the expected response has one; values and extras are free.
QUERY_REQUIRED: dict[int, str] = {
    Tag.OPERATION: "Query Operations: the server lists the operations it supports",
    Tag.OBJECT_TYPE: "Query Objects: the server lists the object types it supports",
}

# Attribute-set payloads: which request items name attributes (none named means all).
ATTRIBUTE_SELECTORS = frozenset({Tag.ATTRIBUTE_NAME, Tag.ATTRIBUTE_REFERENCE})
# Responses listing a server's attributes (or their names): extras are tolerated when the
# request asked for all of them, since a server may keep more attributes than the reference.
ATTRIBUTE_LISTINGS: dict[Operation, str] = {
    Operation.GET_ATTRIBUTES: "attributes the request named (all when it named none)",
    Operation.GET_ATTRIBUTE_LIST: "the names of all attributes the object has",
}
