"""KMIP 2.1 constraints and defaults (§7.6, §7.7, §7.11, §7.22): policy the server applies."""

from __future__ import annotations

from pkcs11_kmip.kmip.messages.attributes import Attributes
from pkcs11_kmip.kmip.messages.core import Structure, kmip, kmip_list, structure
from pkcs11_kmip.kmip.messages.structures import ObjectGroups, ObjectTypes
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import ObjectType


@structure
class Constraint(Structure):
    TAG = Tag.CONSTRAINT
    object_types: ObjectTypes | None = kmip(Tag.OBJECT_TYPES)
    object_groups: ObjectGroups | None = kmip(Tag.OBJECT_GROUPS)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES)


@structure
class Constraints(Structure):
    TAG = Tag.CONSTRAINTS
    constraints: list[Constraint] = kmip_list(Tag.CONSTRAINT)


@structure
class ObjectDefaults(Structure):
    TAG = Tag.OBJECT_DEFAULTS
    object_type: ObjectType | None = kmip(Tag.OBJECT_TYPE)
    object_types: ObjectTypes | None = kmip(Tag.OBJECT_TYPES)
    attributes: Attributes | None = kmip(Tag.ATTRIBUTES, required=True)
    object_groups: ObjectGroups | None = kmip(Tag.OBJECT_GROUPS)


@structure
class DefaultsInformation(Structure):
    TAG = Tag.DEFAULTS_INFORMATION
    object_defaults: list[ObjectDefaults] = kmip_list(Tag.OBJECT_DEFAULTS)
