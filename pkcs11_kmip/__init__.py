"""pkcs11-kmip: a PKCS#11 provider over KMIP 2.0, and the KMIP server behind it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pkcs11-kmip")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
