"""One module per KMIP operation, each registering its handler with `@handles(...)`.

A handler takes the request context and the typed request payload and returns the
typed response payload, or raises KmipError. (Poll returns an Outcome: the polled
operation's own status and payload.) Handlers run in worker threads, one
message at a time per thread, inside that message's store transaction.
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

HANDLERS: dict[Operation, Handler] = {}


def handles(operation: Operation) -> Callable[[H], H]:
    """Register the decorated function as the handler of `operation`."""

    def register(handler: H) -> H:
        if operation in HANDLERS:
            raise RuntimeError(f"two handlers for {operation.name}")
        HANDLERS[operation] = handler
        return handler

    return register


def load_all() -> dict[Operation, Handler]:
    """Import every operation module (each registers itself); the full handler table."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return HANDLERS


__all__ = ["HANDLERS", "Handler", "RequestPayload", "handles", "load_all"]
