"""The KMIP-native token: Cryptoki implemented over the server's own KMIP object store.

A client context whose slot is the native token (server.toml `[pkcs11] token =
"native"`, the default without a module) gets a `token.NativeToken` instead of an HSM
worker: every key it makes is a KMIP managed object of the client's, and every key the
client may use through KMIP is a PKCS#11 object (docs/native-token.md). `objects`
maps attributes both ways, `creation` turns C_CreateObject/C_UnwrapKey templates into
KMIP Register requests, `editing` C_SetAttributeValue templates into attribute edits,
`mechanisms` is the table of what the token computes, `pins` keeps the user PINs,
`constants` the Cryptoki numbers only the token needs.
"""
