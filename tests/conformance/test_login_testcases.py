"""The OASIS Login / Logout / Delegated Login test cases (TC-LOGIN-*, TC-DLOGIN-*) through
the runner.

Each file logs in, authenticates later requests with the Ticket Credential it got, and
sees the ticket refused once logged out (Invalid Ticket) or once its Request Count is
used up (Usage Limit Exceeded); the Delegated Login files also see Query answer only the
ticket's operations and an operation or object beyond its Rights refused (Not Authorised).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testsupport.server import RunningServer
from testsupport.testcases import CND02, V21, Listed, params, replay

FILES: dict[Path, Listed] = {
    CND02 / "TC-LOGIN-1-20.xml": None,
    CND02 / "TC-LOGIN-2-20.xml": None,
    CND02 / "TC-LOGIN-3-20.xml": (
        "the file contradicts the spec and two other files: its refused Query (message 5, the "
        "ticket's Request Count used up) expects a Response Batch Item without Operation, which "
        "KMIP 2.1 §8.6 requires 'if specified in Request Batch Item' (the request names Query); "
        "TC-LOGIN-2-20's refused Query (a logged-out ticket) and TC-DLOGIN-1-20's (a delegated "
        "ticket's count used up, the same refusal) both echo it. The Usage Limit Exceeded itself, "
        "and everything before, matches",
        "message 5 / BatchItem: unexpected Operation Query",
    ),
    V21 / "TC-LOGIN-1-21.xml": None,
    CND02 / "TC-DLOGIN-1-20.xml": None,
    CND02 / "TC-DLOGIN-2-20.xml": None,
}


@pytest.mark.parametrize(("path", "listed"), params(FILES))
def test_testcase_file(kmip_server: RunningServer, path: Path, listed: Listed) -> None:
    replay(kmip_server, path, listed)
