"""Emit the C source of libpkcs11_kmip_python.so, the cffi embedding half of the provider.

Run by meson (csrc/meson.build) with the build's Python. The C types and the one
dispatch entry point come from pkcs11_kmip/cryptoki/cdefs.py (loaded by path: the
package is not importable during the build); embed_boot.c becomes the preamble.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import cffi

MODULE_NAME = "_pkcs11_kmip_embed"

# Runs once, on the first call into the library, with the GIL held. It must end by
# setting the ready flag: if it raises, cffi makes every entry point return 0
# (CKR_OK), so the shim refuses to dispatch unless the flag is set.
INIT_CODE = f"""\
from {MODULE_NAME} import ffi, lib
from pkcs11_kmip.cryptoki import embed
embed.install(ffi)
lib.pkcs11_kmip_embed_set_ready()
"""


def load_cdefs(path: Path) -> tuple[str, str]:
    spec = importlib.util.spec_from_file_location("_pkcs11_kmip_cdefs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TYPES, module.DISPATCH


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdefs", type=Path, required=True)
    parser.add_argument("--preamble", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    options = parser.parse_args(argv)

    types, dispatch = load_cdefs(options.cdefs)
    ffi = cffi.FFI()
    ffi.cdef(types)
    ffi.cdef("void pkcs11_kmip_embed_set_ready(void);")
    ffi.embedding_api(dispatch)
    ffi.set_source(MODULE_NAME, options.preamble.read_text())
    ffi.embedding_init_code(INIT_CODE)
    ffi.emit_c_code(str(options.output))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
