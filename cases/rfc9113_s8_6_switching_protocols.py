"""RFC 9113 §8.6: HTTP/2 does not support 101 (Switching Protocols)."""
from conformance.case import MAY, Case
from conformance.verdicts import Custom, Report
from servers.scenario import Script, reply, seq


def _reaction(ev):
    o = ev.outcome
    if o.ok:
        return f"took the final response (status {o.status})"
    return f"failed ({o.error_class}); client sent " + (", ".join(
        f.describe() for f in ev.observations.frames() if f.type in ("RST_STREAM", "GOAWAY")) or "nothing")


CASES = [
    Case(
        id="9113/8.6/status-101",
        level=MAY,
        covers=("R-8.6-1",),
        requirement="§8.6: HTTP/2 has no 101 (Switching Protocols), without a keyword and without "
                    "calling it malformed. A stream error PROTOCOL_ERROR, or skipping it as an "
                    "unexpected 1xx and taking the final response (RFC 9110 §15.2), is reported; "
                    "the client never switches protocols on the stream (never ends with the 101).",
        server="Sends HEADERS :status 101 (no END_STREAM), then a normal 200 response.",
        scenario=lambda: Script(respond=seq(
            lambda conn, req: conn.send_fields(req.stream, [(":status", "101")]), reply())),
        expect=Custom("the 101 never ends the transfer as its response",
                      lambda ev: (not (ev.outcome.ok and ev.outcome.status == 101),
                                  f"transfer {ev.outcome.summary()}"),
                      name="no-switch")
        & Report("reaction", _reaction),
        good=("good", "naive"),
        bad={"final-1xx": "no-switch"},
    ),
]
