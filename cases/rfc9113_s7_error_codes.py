"""RFC 9113 §7 error codes: an unknown code gets no special treatment. The RST_STREAM variant is
6.4/rst-unknown-error-code."""
from cases.rfc9113_s9_connection import NOT_REUSED, goaway_after_response
from conformance.case import MUST, Case, gets
from conformance.verdicts import Connections, Ignored

CASES = [
    Case(
        id="9113/7/goaway-unknown-error-code",
        level=MUST,
        requirement="§7: an unknown error code MUST NOT trigger special behaviour: a GOAWAY with "
                    "code 0xdead after a complete response is handled like any other GOAWAY: the "
                    "response stands, no error goes back, and the next request goes on a new "
                    "connection (§6.8).",
        server="Connection 0 follows response 1 with GOAWAY(0xdead, last=1) and stays open; "
               "later connections answer normally.",
        scenario=goaway_after_response(0xDEAD),
        request=gets(2),
        expect=Ignored() & NOT_REUSED & Connections(2, why="request 2 needs a new connection"),
        bad={"unknown-code-fatal": "no-error-sent"},
        covers=("R-7-1",),
    ),
]
