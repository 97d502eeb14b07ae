"""Replaying OASIS KMIP XML test cases against a KMIP server and judging the answers.

    from pkcs11_kmip.conformance import run_files, summary
    with KmipClient(host, port, cert=..., key=..., ca=...) as client:
        results = run_files(["SKLC-M-1-21.xml"], client.exchange)
    print(summary(results))

`testcase` reads a file, `replay` drives one file without I/O (bytes out, bytes in),
`compare` judges a response with the tolerances in `tolerances`, and `runner` is the
edge that calls the server. docs/conformance.md describes the rules.
"""

from __future__ import annotations

from pkcs11_kmip.conformance.compare import Bindings, Comparison, Difference
from pkcs11_kmip.conformance.replay import CaseResult, Replay, Session
from pkcs11_kmip.conformance.runner import PREREQUISITES, prerequisites, run_case, run_files, summary
from pkcs11_kmip.conformance.testcase import Placeholders, Step, TestCase, TestCaseError, load, parse

__all__ = [
    "PREREQUISITES",
    "Bindings",
    "CaseResult",
    "Comparison",
    "Difference",
    "Placeholders",
    "Replay",
    "Session",
    "Step",
    "TestCase",
    "TestCaseError",
    "load",
    "parse",
    "prerequisites",
    "run_case",
    "run_files",
    "summary",
]
