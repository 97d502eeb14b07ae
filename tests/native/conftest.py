"""The engine-level native token fixtures (applications of alice and bob on one engine,
alice's PIN) for every test module here, not only test_token's."""

from native.test_token import alice_pin, make_app  # noqa: F401 (fixtures)
