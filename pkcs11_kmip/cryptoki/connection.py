"""The library's connection to its servers: failover between the configured addresses.

Requests go to the server in use; when no connection to it can be made (refused, no
TLS handshake within `connect_timeout`), the next one in the list is tried, round the
list once, starting from the server in use: a reconnection after an idle close stays
with the server that holds this process's context rather than returning to the first.
A connection that breaks once a request was sent is that request's error (the server
may have run it): the call gets CKR_DEVICE_ERROR and the next call fails over. A server
taken over holds no context of ours, so it answers CKR_CRYPTOKI_NOT_INITIALIZED, and
Remote opens a new context there, as after a restart.
"""

from __future__ import annotations

import threading

from pkcs11_kmip.cryptoki.config import ClientConfig
from pkcs11_kmip.cryptoki.log import log
from pkcs11_kmip.kmip.client import KmipClient, KmipUnreachableError
from pkcs11_kmip.kmip.spec import Version
from pkcs11_kmip.kmip.ttlv import Limits


class Servers:
    """One KmipClient per configured address, one in use at a time (thread-safe)."""

    def __init__(self, clients: list[KmipClient]) -> None:
        if not clients:
            raise ValueError("no server")
        self.clients = clients
        self.version: Version = clients[0].version
        self.limits: Limits = clients[0].limits
        self._current = 0
        self._lock = threading.Lock()

    @property
    def current(self) -> KmipClient:
        """The server requests go to now."""
        return self.clients[self._current]

    def exchange(self, request: bytes) -> bytes:
        """Send one encoded message to the first server that can be reached, from the one
        in use on; KmipUnreachableError (every reason) if none can."""
        start = self._current
        if len(self.clients) == 1:
            return self.clients[0].exchange(request)
        reasons = []
        for step in range(len(self.clients)):
            index = (start + step) % len(self.clients)
            client = self.clients[index]
            try:
                answer = client.exchange(request)
            except KmipUnreachableError as error:
                reasons.append(str(error))
                continue
            if index != self._current:
                self._switch(index)
            return answer
        raise KmipUnreachableError("; ".join(reasons))

    def _switch(self, index: int) -> None:
        with self._lock:
            if index == self._current:
                return
            old, self._current = self.current, index
            new = self.current
        log(f"failover: {old.host}:{old.port} cannot be reached; now using {new.host}:{new.port}")
        old.close()

    def close(self) -> None:
        for client in self.clients:
            client.close()


def servers(config: ClientConfig) -> Servers:
    """The configured servers, each with the configuration's TLS identity and timeouts."""
    return Servers(
        [
            KmipClient(
                host,
                port,
                cert=config.certificate,
                key=config.key,
                ca=config.ca,
                timeout=config.timeout,
                connect_timeout=config.connect_timeout,
                server_hostname=config.server_name,
            )
            for host, port in config.addresses
        ]
    )
