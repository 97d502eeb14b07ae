"""The NIST key lifecycle as KMIP defines it: states that follow the clock.

An object's stored State changes only on requests (Activate, Revoke, Destroy), but
its effective state also follows its dates: once the Activation Date has passed a
Pre-Active object is Active, once the Deactivation Date has passed it is
Deactivated. Nothing has to run at those moments; every read computes the state
for "now", and the store's Locate computes the same in SQL.
"""

from __future__ import annotations

from datetime import datetime

from pkcs11_kmip.kmip.messages import Attributes
from pkcs11_kmip.kmip.spec import Tag
from pkcs11_kmip.kmip.spec.enums import State


def effective_state(
    state: State, activation: datetime | None, deactivation: datetime | None, now: datetime
) -> State:
    if state is State.PRE_ACTIVE and activation is not None and activation <= now:
        state = State.ACTIVE
    if state is State.ACTIVE and deactivation is not None and deactivation <= now:
        state = State.DEACTIVATED
    return state


def current_state(attributes: Attributes, now: datetime) -> State:
    stored = attributes.get(Tag.STATE)
    return effective_state(
        stored if stored is not None else State.PRE_ACTIVE,
        attributes.get(Tag.ACTIVATION_DATE),
        attributes.get(Tag.DEACTIVATION_DATE),
        now,
    )


def refresh_state(attributes: Attributes, now: datetime) -> State:
    """Write the effective state into the attributes (before returning or changing them)."""
    state = current_state(attributes, now)
    if attributes.get(Tag.STATE) != state:
        set_single(attributes, Tag.STATE, state)
    return state


def set_single(attributes: Attributes, tag: int, value: object) -> None:
    """Replace every instance of a single-valued attribute by one value, keeping its place."""
    for index, entry in enumerate(attributes.entries):
        if entry.tag == tag:
            attributes.entries[index] = entry._replace(value=value)
            attributes.entries[index + 1 :] = [e for e in attributes.entries[index + 1 :] if e.tag != tag]
            return
    attributes.add(tag, value)
