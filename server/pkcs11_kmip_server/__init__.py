"""The pkcs11-kmip KMIP server (installed as the package `pkcs11_kmip_server`).

Layers, top calling down: `transport` (asyncio TLS, framing) -> `engine` (messages,
batches, versions, errors) -> `operations` (one module per KMIP operation) ->
`attributes`/`lifecycle` (the spec's rules) -> `store` (objects at rest).
"""
