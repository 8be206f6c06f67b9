"""RFC 9113 §5.4 error handling: what the client does on a connection error (§5.4.1) and with the
other streams of a stream error (§5.4.2), and the GOAWAY it sends whenever it ends a connection."""
from conformance.case import MUST, SHOULD, Case, get, gets
from conformance.verdicts import ConnectionError, Custom, Exercised, StreamError, TransferSucceeds
from servers import frames as F
from servers.scenario import BODY, Script, hold, response_fields

from cases._stream_faults import by_path


def error_mid_response(conn, req):
    """HEADERS, then WINDOW_UPDATE with increment 0 on stream 0 (a connection error
    PROTOCOL_ERROR, §6.9), then the body. The server keeps the connection open afterwards."""
    conn.send(F.headers(req.stream, conn.block(response_fields())), F.window_update(0, 0),
              F.data(req.stream, BODY, end_stream=True))


def stream_error_beside_sibling(conn, held):
    """Two parallel requests. /r/2 gets its HEADERS and half its body; /r/1 gets HEADERS and a
    WINDOW_UPDATE that overflows its stream window (a stream error FLOW_CONTROL_ERROR, §6.9.1),
    then its body; then the rest of /r/2's body."""
    faulty = next(r for r in held if r.path == "/r/1")
    sibling = next(r for r in held if r is not faulty)
    half = len(BODY) // 2
    conn.send(F.headers(sibling.stream, conn.block(response_fields())), F.data(sibling.stream, BODY[:half]))
    conn.send(F.headers(faulty.stream, conn.block(response_fields())),
              F.window_update(faulty.stream, 2 ** 31 - 1), F.data(faulty.stream, BODY, end_stream=True))
    conn.send(F.data(sibling.stream, BODY[half:], end_stream=True))


def _closed_by_client(ev):
    mine = [c.index for c in ev.observations.connections if c.closed_by == "client"]
    return bool(mine), (f"the client closed connection(s) {mine}" if mine else
                        "the client closed no connection while the case ran")


def _goaway_before_close(ev):
    closed = [c for c in ev.observations.connections if c.closed_by == "client"]
    silent = [c.index for c in closed if not c.frames("GOAWAY")]
    return not silent, (f"connection(s) {silent} closed without a GOAWAY" if silent else
                        "client sent " + ", ".join(c.frames("GOAWAY")[0].describe() for c in closed))


def _last_stream_0(ev):
    goaways = ev.observations.frames("GOAWAY")
    wrong = [g.describe() for g in goaways if g.last_stream != 0]
    return not wrong, (f"client sent {wrong[0]}" if wrong else
                       f"{len(goaways)} GOAWAY(s), each with last-stream-id 0")


CASES = [
    Case(
        id="9113/5.4.1/error-mid-response",
        level=MUST,
        covers=("R-5.4.1-2",),
        requirement="§5.4.1: after the GOAWAY for a connection error (here met after the response "
                    "HEADERS were delivered) the client MUST close the TCP connection and open no "
                    "stream on it; the next request goes on a new connection.",
        server="Answers /r/1 with HEADERS, a WINDOW_UPDATE with increment 0 on stream 0, then the "
               "body, and keeps the connection open after the client's GOAWAY; answers /r/2 "
               "normally on any connection.",
        scenario=lambda: Script(respond=by_path(error_mid_response)),
        request=gets(2),
        expect=ConnectionError("PROTOCOL_ERROR") & TransferSucceeds(1),
        bad={"naive": "transfer-fails", "keep-open-after-goaway": "closes-after-goaway",
             "reuse-after-error": "no-stream-after-goaway"},
    ),
    Case(
        id="9113/5.4.1/goaway-before-close",
        level=SHOULD,
        covers=("R-5.4.1-1",),
        requirement="§5.4.1, §6.8 and §9.1: a client SHOULD send a GOAWAY whenever it ends a "
                    "connection, not only on errors, naming the last server-initiated stream it "
                    "processed (0 with push off).",
        server="Answers one request normally and leaves closing to the client.",
        scenario=lambda: Script(),
        request=get(),
        expect=Exercised("the client closed its connection", _closed_by_client)
        & Custom("a GOAWAY before the client closes each connection", _goaway_before_close,
                 name="goaway-before-close")
        & Custom("the GOAWAY's last-stream-id is 0 (no pushed stream)", _last_stream_0,
                 name="goaway-last-stream"),
        bad={"silent-close": "goaway-before-close", "goaway-last-client-stream": "goaway-last-stream"},
    ),
    Case(
        id="9113/5.4.2/stream-error-beside-sibling",
        level=MUST,
        covers=("R-5.4.2-2", "R-6.9.1-2"),
        requirement="§5.4.2 and §6.9.1: a WINDOW_UPDATE that overflows one stream's window is a "
                    "stream error FLOW_CONTROL_ERROR (a connection error is allowed); whether the "
                    "sibling stream open beside it completes is reported (siblings).",
        server="Holds two parallel requests; sends /r/2 its HEADERS and half its body, then /r/1 "
               "HEADERS, a WINDOW_UPDATE of 2^31-1 on its stream and its body, then the rest of "
               "/r/2's body.",
        scenario=lambda: Script(respond=hold(2, stream_error_beside_sibling)),
        needs=frozenset({"h2", "parallel"}),
        request=gets(2, mode="parallel"),
        expect=StreamError("FLOW_CONTROL_ERROR", path="/r/1"),
        good=("good", "kill-siblings"),
        bad={"naive": "transfer-fails"},
    ),
]
