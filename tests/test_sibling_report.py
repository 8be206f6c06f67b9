"""R-5.4.2-2 is reported, not judged: the StreamError expectation tells in the verdict's info what
became of the sibling stream (issue 7, acceptance item 4)."""
from __future__ import annotations

import pytest

from conformance import catalog
from conformance.runner import failure_report, run_case

CASE = catalog.load_all()["9113/5.4.2/stream-error-beside-sibling"]


@pytest.mark.parametrize("behaviour,completed,escalated,killed", [
    ("good", 1, False, False),                  # the sibling carries on
    ("kill-siblings", 0, False, True),          # cancelled with the faulty stream, no GOAWAY
    ("stream-as-connection", 0, True, False),   # a connection error takes the sibling with it
])
def test_the_report_says_what_became_of_the_sibling(behaviour, completed, escalated, killed,
                                                    servers, scripted):
    result = run_case(CASE, servers, scripted(behaviour), f"scripted-{behaviour}")
    siblings = result.verdict.info["siblings"]
    assert (siblings["completed"], siblings["escalated"], siblings["killed_without_connection_error"]) \
        == (completed, escalated, killed), f"{siblings}\n" + failure_report(result)
