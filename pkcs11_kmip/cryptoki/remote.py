"""The server behind the library: Cryptoki calls sent in KMIP PKCS#11 operations.

One KmipClient (one TLS connection, thread-safe, reconnecting after a failure) per
initialized process, and one server-side application context, named by the
Correlation Value the server's C_Initialize returned. A server that has lost the
context (it restarted, or closed it as idle) answers CKR_CRYPTOKI_NOT_INITIALIZED:
the context is then made again and the call repeated once, unless it was made in one of
the lost context's sessions: those are gone, so such a call answers
CKR_SESSION_HANDLE_INVALID, as after a token removal, and is not repeated (the new
context may have a session of the same number, another thread's).
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol

from pkcs11_kmip.cryptoki import frames
from pkcs11_kmip.cryptoki.calls import BY_NAME, Call
from pkcs11_kmip.cryptoki.config import ClientConfig
from pkcs11_kmip.cryptoki.connection import Servers, servers
from pkcs11_kmip.cryptoki.constants import CKR
from pkcs11_kmip.cryptoki.errors import CKRError
from pkcs11_kmip.cryptoki.log import log
from pkcs11_kmip.cryptoki.openssl_queue import clear_error_queue
from pkcs11_kmip.cryptoki.wire import ENCODING_VERSION
from pkcs11_kmip.kmip.client import KmipClient, KmipConnectionError, KmipResultError, payload_of
from pkcs11_kmip.kmip.messages import ResponseMessage
from pkcs11_kmip.kmip.messages.payloads import PKCS11Response
from pkcs11_kmip.kmip.spec.enums import ResultReason
from pkcs11_kmip.kmip.ttlv import CodecError

C_INITIALIZE = BY_NAME["C_Initialize"]
C_FINALIZE = BY_NAME["C_Finalize"]

# A failed KMIP batch item, as the application sees it. Anything else (the server
# refused us, is broken, or cannot be reached) is CKR_DEVICE_ERROR.
REASON_TO_CKR: dict[ResultReason, int] = {
    ResultReason.PKCS_11_INVALID_FUNCTION: CKR.FUNCTION_NOT_SUPPORTED,
    ResultReason.PKCS_11_INVALID_INTERFACE: CKR.FUNCTION_NOT_SUPPORTED,
    ResultReason.OPERATION_NOT_SUPPORTED: CKR.FUNCTION_NOT_SUPPORTED,
    ResultReason.PKCS_11_CODEC_ERROR: CKR.GENERAL_ERROR,
}


class Reply(NamedTuple):
    """A forwarded call's CK_RV and Output Parameters, and the server context it ran in."""

    rv: int
    output: bytes | None
    context: int


class Transport(Protocol):
    """Where forwarded calls go (Remote; tests use an in-process server)."""

    @property
    def contexts(self) -> int:
        """Server contexts opened so far: another one means the old sessions and handles are gone."""
        ...

    def initialize(self) -> None: ...

    def finalize(self) -> None: ...

    def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
        """`context`: the one the call's session was opened in (None: no session)."""
        ...


class Remote:
    """A KMIP server's PKCS#11 operation, with this process's context on it."""

    def __init__(self, config: ClientConfig, client: KmipClient | Servers | None = None) -> None:
        self.config = config
        self.client: KmipClient | Servers = client or servers(config)  # failover: connection.py
        self._context: tuple[int, bytes | None] = (0, None)
        """Contexts opened so far, and the current one's Correlation Value: read together."""
        self._lock = threading.Lock()

    @property
    def contexts(self) -> int:
        return self._context[0]

    def _send(self, call: Call, data: bytes, correlation_value: bytes | None) -> frames.Answer:
        message = frames.request(call.id, correlation_value, data, self.client.version, frames.now())
        clear_error_queue()  # errors other code left would fail our TLS I/O
        try:
            answer = self._read(self.client.exchange(message))
        except KmipConnectionError as error:
            log(f"{call.name}: CKR_DEVICE_ERROR: {error}")
            raise CKRError(CKR.DEVICE_ERROR) from error
        except KmipResultError as error:
            rv = REASON_TO_CKR.get(error.reason, CKR.DEVICE_ERROR) if error.reason else CKR.DEVICE_ERROR
            log(f"{call.name}: the server refused it ({error})")
            raise CKRError(rv) from error
        except CodecError as error:
            log(f"{call.name}: CKR_DEVICE_ERROR: the server's answer cannot be read: {error}")
            raise CKRError(CKR.DEVICE_ERROR) from error
        if answer is None:
            log(f"{call.name}: CKR_DEVICE_ERROR: the server's answer is not a PKCS#11 response")
            raise CKRError(CKR.DEVICE_ERROR)
        return answer

    def _read(self, raw: bytes) -> frames.Answer | None:
        """The answer read directly when it has the plain shape, else by the typed codec
        (failures, and anything unexpected, take that path and its checks)."""
        answer = frames.read_response(raw)
        if answer is not None:
            return answer
        response = payload_of(ResponseMessage.decode(raw, self.client.limits).batch_items)
        if not isinstance(response, PKCS11Response) or response.pkcs_11_return_code is None:
            return None
        return frames.Answer(
            int(response.pkcs_11_function or 0),
            int(response.pkcs_11_return_code),
            response.correlation_value,
            response.pkcs_11_output_parameters,
        )

    def _open_context(self) -> None:
        response = self._send(C_INITIALIZE, bytes([ENCODING_VERSION]), None)
        rv = response.return_code
        if rv != CKR.OK:
            raise CKRError(rv)
        if not response.correlation_value:
            log("C_Initialize: CKR_DEVICE_ERROR: the server gave no Correlation Value")
            raise CKRError(CKR.DEVICE_ERROR)
        self._context = (self.contexts + 1, response.correlation_value)

    def initialize(self) -> None:
        """The forwarded C_Initialize: a new context on the server (CKRError on failure)."""
        with self._lock:
            try:
                self._open_context()
            except CKRError:
                self.client.close()
                raise

    def finalize(self) -> None:
        """The forwarded C_Finalize: the server closes the context's sessions. Best effort:
        the application is finalized whatever the server says."""
        with self._lock:
            correlation_value = self._context[1]
            self._context = (self.contexts, None)
            try:
                if correlation_value is not None:
                    self._send(C_FINALIZE, b"", correlation_value)
            except CKRError:
                pass
            finally:
                self.client.close()

    def call(self, call: Call, data: bytes, context: int | None = None) -> Reply:
        """One forwarded call, in the session of `context` if given."""
        current, correlation_value = self._context
        if context is not None and context != current:
            return Reply(CKR.SESSION_HANDLE_INVALID, None, current)
        response = self._send(call, data, correlation_value)
        if response.return_code == CKR.CRYPTOKI_NOT_INITIALIZED:
            with self._lock:
                if self.contexts == current:  # no other thread did it yet
                    log(f"{call.name}: the server lost this process's context; opening a new one")
                    self._open_context()
                current, correlation_value = self._context
            if context is not None:
                return Reply(CKR.SESSION_HANDLE_INVALID, None, current)
            response = self._send(call, data, correlation_value)
        return Reply(response.return_code, response.output, current)
