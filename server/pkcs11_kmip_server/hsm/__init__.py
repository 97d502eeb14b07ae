"""HSM passthrough: the PKCS#11 operation executed on a real PKCS#11 module.

`service.Pkcs11Service` keeps the client application contexts (Correlation Values);
each context with a module has a worker process (`worker`) running the module with
cffi in ABI mode (`module`); `settings` reads the [pkcs11] table of server.toml.
The argument encoding is pkcs11_kmip.cryptoki.wire, shared with the provider.
"""
