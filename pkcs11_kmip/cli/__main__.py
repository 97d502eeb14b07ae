"""`python -m pkcs11_kmip.cli`: the same as the `pkcs11-kmip` command."""

import sys

from pkcs11_kmip.cli import main

sys.exit(main())
