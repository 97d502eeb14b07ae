"""The Cryptoki side of the provider: call table, state machine, and the cffi edge.

`calls` (the function table) and `cdefs` (the C types) are data that
tools/gen_cstubs.py turns into the C shim; `module` decides answers on plain
values; `embed` is the only place that reads or writes C memory.
"""
