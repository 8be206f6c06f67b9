"""RFC 9113 §6.2 HEADERS."""
from conformance.case import MUST, Case
from conformance.verdicts import ConnectionError, Ignored
from servers import frames as F
from servers.scenario import BODY, Script, frames, reply, response_fields, seq

HEAD = response_fields()
STATUS_200 = b"\x88"  # ":status: 200" from the HPACK static table: leaves the dynamic table alone


def response(make_headers, before=()):
    """`before` frames (fns of stream), then HEADERS from `make_headers(conn, stream)`, then BODY."""
    def respond(conn, req):
        for make in before:
            conn.send(make(req.stream))
        conn.send(make_headers(conn, req.stream))
        conn.send_body(req.stream, BODY)
    return lambda: Script(respond=respond)


CASES = [
    Case(
        id="9113/6.2/headers-stream-0",
        level=MUST,
        requirement="§6.2: HEADERS frames belong to a stream; a HEADERS frame on stream 0 MUST be "
                    "treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends a HEADERS frame (:status 200, static index) on stream 0, then a normal response.",
        scenario=lambda: Script(respond=seq(
            frames(F.frame(F.HEADERS, F.END_HEADERS | F.END_STREAM, 0, STATUS_200)), reply())),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.2-1",),
    ),
    Case(
        id="9113/6.2/headers-padded",
        level=MUST,
        requirement="§6.2: a padded HEADERS frame is valid; the client strips the padding and "
                    "decodes the field block.",
        server="Sends the response HEADERS with the PADDED flag and 32 octets of padding, then the body.",
        scenario=response(lambda conn, s: F.headers(s, conn.block(HEAD), pad=32)),
        expect=Ignored(),
        bad={"no-padding": "no-error-sent"},
        covers=("R-6.2-2",),
    ),
    Case(
        id="9113/6.2/headers-priority-flag",
        level=MUST,
        requirement="§6.2 and §5.3.2: HEADERS with the PRIORITY flag are valid; the client skips the "
                    "5 priority octets (deprecated signalling) and decodes the field block.",
        server="Sends the response HEADERS with the PRIORITY flag set, then the body.",
        scenario=response(lambda conn, s: F.headers(s, conn.block(HEAD), priority=True)),
        expect=Ignored(),
        bad={"no-priority-flag": "no-error-sent"},
        covers=("R-6.2-2", "R-5.3-1"),
    ),
    Case(
        id="9113/6.2/headers-padded-priority",
        level=MUST,
        requirement="§6.2: HEADERS with both PADDED and PRIORITY flags are valid; the client removes "
                    "the Pad Length, priority octets and padding before decoding.",
        server="Sends the response HEADERS with PADDED (8 octets) and PRIORITY, then the body.",
        scenario=response(lambda conn, s: F.headers(s, conn.block(HEAD), pad=8, priority=True)),
        expect=Ignored(),
        bad={"no-padding": "no-error-sent", "no-priority-flag": "no-error-sent"},
        covers=("R-6.2-2",),
    ),
    Case(
        id="9113/6.2/headers-padding-exceeds-payload",
        level=MUST,
        requirement="§6.2: when the Pad Length of a HEADERS frame is at least the length of the "
                    "remaining payload, the client MUST treat it as a connection error of type "
                    "PROTOCOL_ERROR.",
        server="Sends HEADERS whose 2-octet payload has Pad Length 2, then a valid HEADERS and the body.",
        scenario=response(lambda conn, s: F.headers(s, conn.block(HEAD)),
                          before=[lambda s: F.frame(F.HEADERS, F.END_HEADERS | F.PADDED, s,
                                                    b"\x02" + STATUS_200)]),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.2-1",),
    ),
]
