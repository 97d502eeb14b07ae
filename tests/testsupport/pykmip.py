"""PyKMIP's client (PyPI `pykmip`), the other vendor's KMIP client the tests drive."""

from __future__ import annotations

from kmip.core import enums
from kmip.pie.client import ProxyKmipClient

from pkcs11_kmip.kmip.spec import Version
from testsupport.server import RunningServer

VERSIONS: dict[Version, enums.KMIPVersion] = {
    (1, 0): enums.KMIPVersion.KMIP_1_0,
    (1, 1): enums.KMIPVersion.KMIP_1_1,
    (1, 2): enums.KMIPVersion.KMIP_1_2,
    (1, 3): enums.KMIPVersion.KMIP_1_3,
    (1, 4): enums.KMIPVersion.KMIP_1_4,
    (2, 0): enums.KMIPVersion.KMIP_2_0,
}


def open_pykmip(server: RunningServer, identity: str, version: Version) -> ProxyKmipClient:
    """A PyKMIP client of `identity` speaking `version` (not yet connected: use `with`)."""
    # PROTOCOL_SSLv23 is what PyKMIP's documentation uses: a context that verifies the
    # server against the CA but checks no host name (PyKMIP never passes one).
    paths = server.client_identity(identity)
    client = ProxyKmipClient(
        hostname=server.host,
        port=server.port,
        cert=str(paths.cert),
        key=str(paths.key),
        ca=str(paths.ca),
        ssl_version="PROTOCOL_SSLv23",
        kmip_version=VERSIONS[version],
    )
    client.proxy.timeout = 30
    return client
