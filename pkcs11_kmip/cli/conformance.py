"""`pkcs11-kmip conformance run`: replay OASIS KMIP XML test cases against any KMIP server.

Prints `PASS name` or `FAIL name: first difference` per file, then `N passed, M failed`;
the exit status is 0 only if every file passed. The files run in the order given, over
one connection with one client identity (docs/conformance.md).
"""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = """\
Replay OASIS KMIP XML test cases (RequestMessage/ResponseMessage pairs) against a KMIP
server over TLS with a client certificate, and compare each response with the one the
file expects. Placeholders such as $UNIQUE_IDENTIFIER_0 bind to what the server answers;
$NOW means the time of sending. Values a conformant server chooses for itself (time
stamps, correlation values, result messages, generated keys, its Query answers, optional
attributes it keeps) are tolerated; everything else must match.
"""

EPILOG = """\
Files run in the order given and share the connection, so objects one file leaves are
visible to the next: give a scenario's files together (e.g. TL-M-2-21.xml TL-M-3-21.xml),
and run unrelated files with separate client identities if leftovers could disturb them.
The exit status is 0 if every file passed, 1 if any failed, 2 on a usage error.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = actions.add_parser(
        "run",
        help="replay test-case files against a server",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = run_parser.add_argument
    add("files", nargs="+", metavar="FILE.xml", help="OASIS XML test-case files, run in this order")
    add("--server", required=True, metavar="HOST:PORT", help="the KMIP server (port 5696 if omitted)")
    add("--cert", required=True, metavar="C", help="client certificate (PEM)")
    add("--key", required=True, metavar="K", help="client private key (PEM)")
    add("--ca", required=True, metavar="CA", help="CA certificate(s) that issued the server's certificate")
    add("--server-name", metavar="NAME", help="the name the server's certificate carries (default: HOST)")
    add("--timeout", type=float, default=30.0, metavar="S", help="seconds to wait for a response")
    add(
        "--time-tolerance",
        type=int,
        default=None,
        metavar="S",
        help="seconds a $NOW value may differ from the time of sending (default: 300)",
    )
    add("--json", action="store_true", help="print the results as one JSON object instead of lines")
    add(
        "-v",
        "--verbose",
        action="store_true",
        help="under each file, list every tolerance applied (what the server answered differently, and why)",
    )
    run_parser.set_defaults(run=run, usage_error=run_parser.error)


def _address(text: str) -> tuple[str, int] | None:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 5696
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host.strip("[]"), int(port)


def run(options: argparse.Namespace) -> int:
    from pkcs11_kmip.conformance import run_files, summary
    from pkcs11_kmip.conformance.tolerances import DEFAULT_TIME_TOLERANCE
    from pkcs11_kmip.kmip.client import KmipClient

    address = _address(options.server)
    if address is None:
        options.usage_error("--server takes HOST:PORT")
    assert address is not None
    tolerance = DEFAULT_TIME_TOLERANCE if options.time_tolerance is None else options.time_tolerance
    try:
        client = KmipClient(
            address[0],
            address[1],
            cert=options.cert,
            key=options.key,
            ca=options.ca,
            timeout=options.timeout,
            server_hostname=options.server_name,
        )
    except OSError as error:  # unreadable certificate, key or CA file
        print(f"pkcs11-kmip: cannot use the client identity: {error}", file=sys.stderr)
        return 2
    try:  # connects on the first request: an unreachable server fails each file, with the reason
        results = run_files(options.files, client.exchange, time_tolerance=tolerance)
    finally:
        client.close()
    if options.json:
        passed = sum(result.passed for result in results)
        document = {
            "results": [
                {
                    "name": r.name,
                    "file": r.path,
                    "passed": r.passed,
                    "difference": r.difference,
                    "messages": r.messages,
                    "notes": list(r.notes),
                }
                for r in results
            ],
            "passed": passed,
            "failed": len(results) - passed,
        }
        print(json.dumps(document, indent=2))
    else:
        for result in results:
            print(result.line())
            if options.verbose:
                for note in result.notes:
                    print(f"  tolerated: {note}")
        print(summary(results))
    return 0 if all(result.passed for result in results) else 1
