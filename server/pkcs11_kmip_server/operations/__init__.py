"""One module per KMIP operation, each registering its handler with `@handles(...)`.

A handler takes the request context and the typed request payload and returns the
typed response payload, or raises KmipError. (Poll returns an Outcome: the polled
operation's own status and payload.) Handlers run in worker threads, one
message at a time per thread, inside that message's store transaction.

An operation with slow work that needs no write (generating a key pair) may also
register a preparer with `@prepares(...)`: the engine runs it before the message's
write transaction, in a read transaction of its own that is then rolled back, and it
returns that work, which the engine runs with no transaction open; the handler finds
the result in `context.made_ahead` and still checks everything again as it stores.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any, TypeVar

from pkcs11_kmip.kmip.messages import RequestPayload, ResponsePayload
from pkcs11_kmip.kmip.spec.enums import Operation
from pkcs11_kmip_server.context import RequestContext
from pkcs11_kmip_server.outcome import Outcome

Handler = Callable[[RequestContext, Any], ResponsePayload | Outcome]
H = TypeVar("H", bound=Callable[..., ResponsePayload | Outcome])
# A preparer: the request's checks read (may raise KmipError), then its slow work to run
# outside any transaction, or None when there is none to do ahead.
Preparer = Callable[[RequestContext, Any], Callable[[], object] | None]
P = TypeVar("P", bound=Callable[..., Callable[[], object] | None])
F = TypeVar("F", bound=Callable[..., Any])

HANDLERS: dict[Operation, Handler] = {}
PREPARERS: dict[Operation, Preparer] = {}


def handles(operation: Operation) -> Callable[[H], H]:
    """Register the decorated function as the handler of `operation`."""
    return _registrar(HANDLERS, "handlers", operation)


def prepares(operation: Operation) -> Callable[[P], P]:
    """Register the decorated function as the preparer of `operation` (see the module's docstring)."""
    return _registrar(PREPARERS, "preparers", operation)


def _registrar(table: dict[Operation, Any], kind: str, operation: Operation) -> Callable[[F], F]:
    def register(function: F) -> F:
        if operation in table:
            raise RuntimeError(f"two {kind} for {operation.name}")
        table[operation] = function
        return function

    return register


def load_all() -> dict[Operation, Handler]:
    """Import every operation module (each registers itself); the full handler table."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return HANDLERS


__all__ = [
    "HANDLERS",
    "PREPARERS",
    "Handler",
    "Preparer",
    "RequestPayload",
    "handles",
    "load_all",
    "prepares",
]
