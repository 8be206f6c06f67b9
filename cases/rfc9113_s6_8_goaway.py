"""RFC 9113 §6.8 GOAWAY (with §8.7 on retrying unprocessed requests).

One scenario instance serves every connection of a case, so retries are
scripted with `per_connection(first, later)`.
"""

from conformance.case import MUST, SHOULD, Case, Job, Req, get, gets
from conformance.verdicts import (AnyOf, ConnectionError, Connections, Custom, Exercised, Fails,
                                  Ignored, Report, Succeeds, TransferSucceeds)
from servers import frames as F
from servers.scenario import (BODY, HTTP1_BODY, Script, body_for, close, frames, hold, per_connection,
                              reply, response_fields, seq)

HEAD = response_fields()
MAX_STREAM = 2 ** 31 - 1
# How a transfer fails when the server refused it: an HTTP/2-level error or a dead connection,
# never "partial", a parse error or a timeout.
REFUSED = ("stream", "http2", "recv", "send")
# A bound on connections per transfer when every connection refuses: the first one plus 5
# retries. A client that loops exceeds it well within its 1 s timeout.
PER_TRANSFER = 6
PARALLEL = frozenset({"h2", "parallel"})


# -- helpers ----------------------------------------------------------------------------
def goaway(last, code="NO_ERROR", debug=b""):
    """A responder step: GOAWAY; `last` is an int or "stream" (the request's own stream)."""
    return lambda conn, req: F.goaway(req.stream if last == "stream" else last, code, debug)


BODY_SIZE = 2000  # per-path bodies, so each transfer shows where its body came from


def by_path(conn, req):
    reply(body=body_for(req.path, BODY_SIZE))(conn, req)


def mid_response(*steps):
    """HEADERS and half the body, the `steps` (bytes or fns of (conn, req)), then the rest."""
    def respond(conn, req):
        half = len(BODY) // 2
        conn.send_fields(req.stream, HEAD)
        conn.send(F.data(req.stream, BODY[:half]))
        frames(*steps)(conn, req)
        conn.send(F.data(req.stream, BODY[half:], end_stream=True))
    return respond


def _no_new_stream(ev):
    """§6.8: once a connection got GOAWAY, the client opens no new stream on it."""
    found = []
    for c in ev.observations.connections:
        g = next((f for f in c.sent if f.type == "GOAWAY"), None)
        if g is None:
            continue
        before = {f.stream for f in c.received if f.type == "HEADERS" and f.seq < g.seq}
        late = [f.stream for f in c.headers_after(g.seq) if f.stream not in before]
        if late:
            found.append(f"connection #{c.index}: new stream {late[0]} after the server's GOAWAY")
    return not found, "; ".join(found) or "no new stream after GOAWAY"


def _goaway_sent(ev):
    sent = [c.index for c in ev.observations.connections if any(f.type == "GOAWAY" for f in c.sent)]
    return bool(sent), (f"the server's GOAWAY went out on connection(s) {sent}" if sent else
                        "the server never sent its GOAWAY (the client never made the requests it waits for)")


# Without a GOAWAY on the wire there is nothing to open a stream after: NOT-EXERCISED, not PASS.
NO_NEW_STREAM = (Exercised("the server sent its GOAWAY", _goaway_sent)
                 & Custom("no new stream on a connection after its GOAWAY (§6.8)", _no_new_stream, name="no-stream-after-goaway"))


def _after_goaway(ev):
    """R-6.8-3/R-6.8-4 (no keyword, reported): what became of the streams at or below the
    last-stream-id of connection 0's GOAWAY and of those above it."""
    conns = ev.observations.connections
    g = next((f for f in conns[0].sent if f.type == "GOAWAY"), None) if conns else None
    if g is None:
        return "the server's GOAWAY was never sent"
    paths = {f.stream: dict(f.headers or []).get(":path") for f in conns[0].received if f.type == "HEADERS"}
    later = {dict(f.headers or []).get(":path") for c in conns[1:] for f in c.received if f.type == "HEADERS"}
    done = {f"/r/{i}": ("ok" if o.ok else o.error_class) for i, o in enumerate(ev.outcomes, 1)}
    below = [f"{p}: {done.get(p)}" for s, p in sorted(paths.items()) if s <= g.last_stream]
    above = [f"{p}: {'retried, ' if p in later else 'not retried, '}{done.get(p)}"
             for s, p in sorted(paths.items()) if s > g.last_stream]
    return {"at_or_below_last_stream": below, "above_last_stream": above, "connections": len(conns)}


AFTER_GOAWAY = Report("after_goaway", _after_goaway)
def _h2_connections(ev):
    return sum(1 for c in ev.observations.connections if c.tls and c.tls.alpn_selected == "h2")


# -- scenarios --------------------------------------------------------------------------
def refuse_then_answer():
    """Connection 0: GOAWAY(NO_ERROR, last=0) on the request and nothing more (no FIN);
    later connections answer normally."""
    return Script(respond=per_connection(frames(goaway(0)), reply()))


def graceful_after_response():
    """Connection 0: each response is followed by GOAWAY(NO_ERROR, last=that stream); the
    connection stays open. Later connections answer normally."""
    return Script(respond=per_connection(seq(reply(), frames(goaway("stream"))), reply()))


def two_step():
    """Connection 0: mid-body GOAWAY(2^31-1), PING, GOAWAY(last=stream), then the rest of the body."""
    return Script(respond=per_connection(
        mid_response(goaway(MAX_STREAM), F.ping(b"drain..."), goaway("stream")), reply()))


def refuse_every_connection(code, wait_for=1):
    """Every connection: GOAWAY(code, last=0) and close. Connection 0 first waits until
    `wait_for` requests are open on it."""
    def refuse(conn, reqs):
        conn.send(F.goaway(0, code))
        conn.close()
    return Script(respond=per_connection(hold(wait_for, refuse), hold(1, refuse)))


def goaway_below_inflight(n, close_after):
    """Connection 0 holds `n` requests, sends GOAWAY(NO_ERROR, last=the highest stream of the
    lower half), answers the streams at or below it, and closes if `close_after`. Later
    connections answer normally. Bodies are unique per path."""
    def act(conn, reqs):
        last = reqs[max(0, n // 2 - 1)].stream
        conn.send(F.goaway(last))
        for r in reqs:
            if r.stream <= last:
                by_path(conn, r)
        if close_after:   # FIN, but keep reading: a new stream sent after it is still seen
            conn.close(half=True)
    return Script(respond=per_connection(hold(n, act), by_path))


def max_requests(n):
    """Connection 0 answers `n` requests; with the n-th response it sends GOAWAY(NO_ERROR,
    last=that stream) and closes. Later connections answer normally."""
    def respond(conn, req):
        count = conn.state["count"] = conn.state.get("count", 0) + 1
        reply()(conn, req)
        if conn.index == 0 and count == n:
            conn.send(F.goaway(req.stream))
            conn.close()
    return Script(respond=respond)


def _goaway_reaction(ev):
    """R-6.8-8 (reported): what the client did on connection 0 after the higher GOAWAY."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    errors = [f.describe() for f in c.received if f.type == "GOAWAY" and f.error_code != "NO_ERROR"] if c else []
    return f"connection error: {errors[0]}" if errors else "ignored the increase"


UPLOAD = bytes(i % 239 for i in range(100000))


def goaway_mid_upload(conn, f):
    """Connection 0: at the first DATA of the upload, GOAWAY(NO_ERROR, last=that stream); the
    server keeps reading and crediting the body, and answers it once complete."""
    if conn.index == 0 and f.type == "DATA" and not conn.state.get("goaway"):
        conn.state["goaway"] = True
        conn.send(F.goaway(f.stream))


def _post_sent_once(ev):
    """R-8.7-3: the POST, processed or not, went out on one stream only."""
    posts = [(c.index, f.stream) for c in ev.observations.connections for f in c.received
             if f.type == "HEADERS" and (":method", "POST") in (f.headers or [])]
    return len(posts) <= 1, f"POST sent on (connection, stream) {posts}"


def _first_outcome(ev):
    """R-6.8-4 (reported): whether the stream below an error GOAWAY's last-stream-id was delivered."""
    return ev.outcomes[0].summary()


CASES = [
    Case(
        id="9113/6.8/goaway-last-stream-0",
        level=MUST,
        requirement="§6.8: after GOAWAY with last-stream-id 0 the client MUST open no new stream on "
                    "that connection. The request was not processed; whether it is retried on a new "
                    "connection (§8.7, MAY) and how it ends is reported.",
        server="Connection 0 answers the request with GOAWAY(NO_ERROR, last=0) and keeps the "
               "connection open; later connections answer normally.",
        scenario=refuse_then_answer,
        request=gets(1, timeout_ms=1000),
        expect=NO_NEW_STREAM & AFTER_GOAWAY,
        good=("good", "no-retry"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-2", "R-6.8-3"),
    ),
    Case(
        id="9113/6.8/goaway-graceful-new-connection",
        level=MUST,
        requirement="§6.8: after GOAWAY the client MUST NOT open new streams on that connection; a "
                    "later request to the same origin goes on a new connection.",
        server="Connection 0 follows the first response with GOAWAY(NO_ERROR, last=1) and stays "
               "open; the second sequential request must arrive on a new connection.",
        scenario=graceful_after_response,
        request=gets(2),
        expect=Succeeds() & Connections(2, why="request 2 needs a new connection") & NO_NEW_STREAM,
        bad={"ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-2",),
    ),
    Case(
        id="9113/6.8/goaway-nonzero-stream",
        level=MUST,
        requirement="§6.8: a GOAWAY frame on a stream other than 0 MUST be treated as a connection "
                    "error of type PROTOCOL_ERROR.",
        server="Sends GOAWAY(NO_ERROR, last=2^31-1) on stream 1, then a normal response.",
        scenario=lambda: Script(respond=seq(frames(F.goaway(MAX_STREAM, stream=1)), reply())),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.8-1",),
    ),
    Case(
        id="9113/6.8/goaway-two-step",
        level=MUST,
        requirement="§6.8: a graceful shutdown may send GOAWAY with last-stream-id 2^31-1 and then "
                    "GOAWAY with the real last stream; a stream at or below it completes normally, "
                    "and the next request goes on a new connection.",
        server="Mid-body on connection 0: GOAWAY(2^31-1), PING, GOAWAY(last=1), then the rest of the "
               "body; a second sequential request is answered on a new connection.",
        scenario=two_step,
        request=gets(2),
        expect=Ignored() & Connections(2, why="request 2 needs a new connection") & NO_NEW_STREAM,
        bad={"goaway-fails-inflight": "succeeds", "ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-6", "R-6.8-2"),
    ),
    Case(
        id="9113/6.8/goaway-debug-data",
        level=MUST,
        requirement="§6.8: GOAWAY may carry opaque debug data of any length and content; it does not "
                    "change the meaning of the frame, so the in-flight stream at or below "
                    "last-stream-id completes.",
        server="Mid-body sends GOAWAY(NO_ERROR, last=1) with 40 octets of debug data (with NUL and "
               "0xff bytes), then the rest of the body.",
        scenario=lambda: Script(respond=mid_response(
            goaway("stream", debug=b"draining for maintenance\x00\xff\xfe; bye!  "))),
        expect=Ignored() & NO_NEW_STREAM,
        bad={"goaway-fails-inflight": "succeeds"},
        covers=("R-6.8-7",),
    ),
    Case(
        id="9113/6.8/goaway-enhance-your-calm",
        level=MUST,
        requirement="§6.8 and §8.7: when every connection answers with GOAWAY(ENHANCE_YOUR_CALM, "
                    "last=0), retries MUST be bounded and the transfer ends in an error.",
        server="Every connection answers the request with GOAWAY(ENHANCE_YOUR_CALM, last=0) and closes.",
        scenario=lambda: refuse_every_connection("ENHANCE_YOUR_CALM"),
        request=get(timeout_ms=1000),
        expect=Fails(*REFUSED) & Connections(max=PER_TRANSFER, why="retries are bounded"),
        bad={"retry-forever": "transfer-fails"},
        covers=("R-6.8-9", "R-HYG-3"),
        level_note="R-6.8-9 and R-HYG-3 (what follows an error GOAWAY, and that retries end) have no "
                   "keyword; the MUST stands on the retry bound (§8.7 only allows retrying), the only "
                   "check retry-forever breaks.",
    ),
    Case(
        id="9113/6.8/goaway-enhance-your-calm-parallel",
        level=MUST,
        requirement="§6.8 and §8.7: with two streams open, GOAWAY(ENHANCE_YOUR_CALM, last=0) on every "
                    "connection ends both transfers in an error after a bounded number of retries.",
        server="Connection 0 waits for both parallel requests, then every connection answers with "
               "GOAWAY(ENHANCE_YOUR_CALM, last=0) and closes.",
        scenario=lambda: refuse_every_connection("ENHANCE_YOUR_CALM", wait_for=2),
        request=gets(2, mode="parallel", timeout_ms=1000),
        needs=PARALLEL,
        expect=Fails(*REFUSED, index=0) & Fails(*REFUSED, index=1)
        & Connections(max=2 * PER_TRANSFER, why="retries are bounded"),
        bad={"retry-forever": "transfer-fails"},
        regression="curl#5119",
        covers=("R-6.8-9", "R-HYG-3"),
        level_note="R-6.8-9 and R-HYG-3 (what follows an error GOAWAY, and that retries end) have no "
                   "keyword; the MUST stands on the retry bound (§8.7 only allows retrying), the only "
                   "check retry-forever breaks.",
    ),
    Case(
        id="9113/6.8/goaway-http-1-1-required",
        level=MUST,
        requirement="§7 HTTP_1_1_REQUIRED: the client may retry the request over HTTP/1.1 or fail it; "
                    "either way its retries are bounded and it never loops over HTTP/2.",
        server="Every h2 connection answers with GOAWAY(HTTP_1_1_REQUIRED, last=0) and closes; "
               "HTTP/1.1 connections are answered normally.",
        scenario=lambda: refuse_every_connection("HTTP_1_1_REQUIRED"),
        request=Job((Req(http_version="h2-or-http1.1"),), timeout_ms=1000),
        needs=frozenset({"h2", "http1.1"}),
        expect=AnyOf(Succeeds(body=HTTP1_BODY), Fails(*REFUSED),
                     why="§7: HTTP_1_1_REQUIRED invites a retry over HTTP/1.1, which a client may "
                         "make or not")
        & Connections(max=PER_TRANSFER, why="retries are bounded")
        & Report("retried_over_http1", lambda ev: any(c.http1_lines for c in ev.observations.connections))
        & Report("h2_connections", _h2_connections),
        bad={"h2-retry-forever": "connections"},
        regression="curl#22923",
        covers=("R-6.8-9", "R-HYG-3"),
        level_note="R-6.8-9 and R-HYG-3 (what follows an error GOAWAY, and that retries end) have no "
                   "keyword; the MUST stands on the retry bound (§8.7 only allows retrying), the only "
                   "check h2-retry-forever breaks.",
    ),
    Case(
        id="9113/6.8/goaway-inflight-retry",
        level=MUST,
        requirement="§6.8: after GOAWAY(NO_ERROR) with a last-stream-id below some in-flight streams, "
                    "the client MUST open no new stream on that connection. Whether the streams at or "
                    "below it complete (§6.8, no keyword) and whether those above it are retried on a "
                    "new connection (§8.7, MAY) is reported.",
        server="Connection 0 holds 4 parallel requests, sends GOAWAY(NO_ERROR, last=3), answers "
               "streams 1 and 3, and stays open; later connections answer normally.",
        scenario=lambda: goaway_below_inflight(4, close_after=False),
        request=gets(4, mode="parallel"),
        needs=PARALLEL,
        expect=NO_NEW_STREAM & AFTER_GOAWAY,
        good=("good", "no-retry", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
        regression="curl#11859",
        covers=("R-6.8-2", "R-6.8-3", "R-6.8-4"),
    ),
    Case(
        id="9113/6.8/goaway-max-requests",
        level=MUST,
        requirement="§6.8 and §9.1.1: a server that stops after N requests sends GOAWAY and closes; "
                    "the client's next request goes on a new connection and succeeds.",
        server="Connection 0 sends GOAWAY(NO_ERROR, last=3) with its 2nd response and closes; "
               "a 3rd sequential request must use a new connection.",
        scenario=lambda: max_requests(2),
        request=gets(3),
        expect=Succeeds() & Connections(2, why="request 3 needs a new connection") & NO_NEW_STREAM,
        bad={"ignore-goaway": "succeeds"},
        regression="curl#2416, curl#5611",
        covers=("R-6.8-2",),
    ),
    Case(
        id="9113/6.8/goaway-after-204",
        level=MUST,
        requirement="§6.8 and §8.1: a complete 204 response followed at once by GOAWAY and the "
                    "connection's close is delivered to the application as a success.",
        server="Sends a 204 (HEADERS with END_STREAM), GOAWAY(NO_ERROR, last=1) and closes, in one write.",
        scenario=lambda: Script(respond=seq(reply(fields=[(":status", "204")], body=b""),
                                            frames(goaway("stream")), close())),
        expect=Ignored(body=b"", status=204),
        bad={"close-fails-complete": "succeeds"},
        regression="curl#4267",
        covers=("R-6.8-5",),
    ),
    Case(
        id="9113/6.8/goaway-max-age",
        level=MUST,
        requirement="§6.8: at its maximum connection age the server sends GOAWAY(NO_ERROR), finishes "
                    "the processed stream and closes; the client MUST open no new stream on that "
                    "connection. Whether the processed response is delivered (no keyword) and the "
                    "unprocessed request retried (§8.7, MAY) is reported.",
        server="Connection 0 holds 2 parallel requests, sends GOAWAY(NO_ERROR, last=1), answers "
               "stream 1 and closes its side (close_notify, FIN) while still reading; later "
               "connections answer normally.",
        scenario=lambda: goaway_below_inflight(2, close_after=True),
        request=gets(2, mode="parallel"),
        needs=PARALLEL,
        expect=NO_NEW_STREAM & AFTER_GOAWAY,
        good=("good", "no-retry", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
        regression="curl#5389",
        covers=("R-6.8-2", "R-6.8-3", "R-6.8-4"),
    ),
    Case(
        id="9113/6.8/goaway-higher-last-stream-id",
        level=MUST,
        covers=("R-6.8-8", "R-6.8-2"),
        requirement="§6.8: a server MUST NOT raise last-stream-id in a later GOAWAY; a client may "
                    "ignore the increase or treat it as a connection error PROTOCOL_ERROR (reported). "
                    "Either way it opens no new stream on that connection, and the next request goes "
                    "on a new connection and completes.",
        server="Connection 0 follows the first response with GOAWAY(NO_ERROR, last=1), then "
               "GOAWAY(NO_ERROR, last=101), and stays open; later connections answer normally.",
        scenario=lambda: Script(respond=per_connection(
            seq(reply(), frames(goaway("stream"), goaway(101))), reply())),
        request=gets(2, timeout_ms=1000),
        expect=Succeeds() & Connections(2, why="request 2 needs a new connection") & NO_NEW_STREAM
        & Report("reaction", _goaway_reaction),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
    Case(
        id="9113/6.8/goaway-max-last-stream-id-alone",
        level=MUST,
        covers=("R-6.8-2", "R-6.8-4"),
        requirement="§6.8: a GOAWAY with last-stream-id 2^31-1 (the first step of a graceful "
                    "shutdown), even with no second GOAWAY after it, still means no new stream on "
                    "that connection: the next request goes on a new connection and completes. "
                    "Whether the stream in flight, which the server completes, is delivered is "
                    "reported (no keyword).",
        server="Mid-body on connection 0 sends GOAWAY(NO_ERROR, last=2^31-1), then the rest of the "
               "body, and stays open; a second sequential request is answered on a new connection.",
        scenario=lambda: Script(respond=per_connection(mid_response(goaway(MAX_STREAM)), reply())),
        request=gets(2, timeout_ms=1000),
        expect=TransferSucceeds(1) & Connections(2, why="request 2 needs a new connection")
        & NO_NEW_STREAM & Report("stream_below", _first_outcome),
        good=("good", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
    Case(
        id="9113/6.8/goaway-error-code-stream-below",
        level=MUST,
        covers=("R-6.8-4", "R-6.8-9", "R-6.8-2"),
        requirement="§6.8: after a GOAWAY with an error code the client opens no new stream on that "
                    "connection and the next request goes on a new connection. Whether the stream at "
                    "or below last-stream-id, which the server then completes, is delivered is "
                    "reported (no keyword).",
        server="Mid-body on connection 0 sends GOAWAY(INTERNAL_ERROR, last=1), then the rest of the "
               "body, and stays open; a second sequential request is answered on a new connection.",
        scenario=lambda: Script(respond=per_connection(mid_response(goaway("stream", "INTERNAL_ERROR")),
                                                       reply())),
        request=gets(2, timeout_ms=1000),
        expect=TransferSucceeds(1) & NO_NEW_STREAM & Report("stream_below", _first_outcome),
        good=("good", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
    Case(
        id="9113/6.8/goaway-mid-upload-below-last",
        level=MUST,
        covers=("R-6.8-2", "R-6.8-4", "R-8.7-3"),
        requirement="§6.8: a GOAWAY whose last-stream-id covers an upload in progress leaves that "
                    "stream to complete (whether it does is reported, no keyword); the client opens "
                    "no new stream on the connection, and does not send the POST again, since the "
                    "server may have processed it (RFC 9110 §9.2.2 SHOULD NOT).",
        server=f"Connection 0 answers the first DATA of a {len(UPLOAD)}-octet POST with GOAWAY(NO_ERROR, "
               f"last=that stream), keeps reading and crediting the body and answers it; a GET that "
               f"follows is answered on a new connection.",
        scenario=lambda: Script(on_frame=goaway_mid_upload),
        request=Job((Req("/upload", method="POST", body=UPLOAD), Req("/r/2")), timeout_ms=1000),
        expect=TransferSucceeds(1) & NO_NEW_STREAM
        & Custom("the POST is not sent again (RFC 9110 §9.2.2)", _post_sent_once, level=SHOULD,
                 name="post-not-repeated")
        & Report("upload", _first_outcome),
        good=("good", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
]
