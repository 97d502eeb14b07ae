"""The HSM-backed key store (docs/hsm-store.md): keys, or the master key, kept in a PKCS#11 token.

`settings` parses [store] keys / master_key_in_hsm and [store.hsm]; `token` is the open
token and its objects' life; `store` wraps the database store so that keys go to the
token without half-written objects; `hooks` is what operations ask of it; `envelope`
is the other choice, the master key wrapped by the token. The cryptography done with
token keys is `crypto.hsm_provider`'s.
"""
