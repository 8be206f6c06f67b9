"""RFC 9113 §6.8 GOAWAY (with §8.7 on retrying unprocessed requests).

One scenario instance serves every connection of a case, so retries are
scripted with `per_connection(first, later)`. What the client does after an error GOAWAY, and
whether its retries end, has no keyword (R-6.8-9, R-HYG-3): reported, with the bound checked at
MAY level; that no stream opens on a GOAWAY'd connection is the MUST (R-6.8-2).
"""

from cases.rfc9113_s5_2_flow_control import POST, UPLOAD, WINDOW_KEPT, Upload, upload_on
from conformance.case import MAY, MUST, SHOULD, Case, Job, Req, get, gets
from conformance.verdicts import (ConnectionError, Connections, Custom, Exercised, Ignored, Report,
                                  Succeeds, TransferSucceeds)
from servers import frames as F
from servers.scenario import (BODY, Scenario, Script, body_for, close, frames, hold, per_connection,
                              reply, response_fields, seq)

HEAD = response_fields()
MAX_STREAM = 2 ** 31 - 1
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
NO_ERROR_SENT = Custom("no GOAWAY or RST_STREAM with an error code: the GOAWAY is not an error",
                       lambda ev: (not _errors_sent(ev), ", ".join(_errors_sent(ev)) or "none sent"),
                       name="no-error-sent")


def _errors_sent(ev) -> list[str]:
    return [f.describe() for f in ev.observations.frames() if f.type in ("GOAWAY", "RST_STREAM")
            and f.error_code not in ("NO_ERROR", "CANCEL")]


def _h2_connections(ev):
    return sum(1 for c in ev.observations.connections if c.tls and c.tls.alpn_selected == "h2")


def retries_bounded(limit: int) -> Custom:
    """R-HYG-3 (no keyword): retries end, within `limit` connections in all."""
    def check(ev):
        n = len(ev.observations.connections)
        return n <= limit, f"{n} connection(s)"
    return Custom(f"retries end: at most {limit} connections (R-HYG-3, reported)", check,
                  level=MAY, name="retries-bounded")


def retry_bound(limit: int) -> Report:
    """Whether the case came near its retry bound at all: a client that never retries does not."""
    def report(ev):
        n = len(ev.observations.connections)
        return (f"{'approached' if n > 1 else 'not approached'}: {n} connection(s) of at most "
                f"{limit}; transfers " + ", ".join(o.summary() for o in ev.outcomes))
    return Report("retry_bound", report)


def _in_flight(ev):
    """R-6.8-4 (no keyword): did the stream at or below the last-stream-id complete?"""
    return ev.outcome.summary()


# -- scenarios --------------------------------------------------------------------------
def refuse_then_answer():
    """Connection 0: GOAWAY(NO_ERROR, last=0) on the request and nothing more (no FIN);
    later connections answer normally."""
    return Script(respond=per_connection(frames(goaway(0)), reply()))


def graceful_after_response():
    """Like a server whose stream identifiers ran out (§5.1.1): on every connection each response
    is followed by GOAWAY(NO_ERROR, last=that stream), and the connection stays open."""
    return Script(respond=seq(reply(), frames(goaway("stream"))))


def _stream_ids(ev):
    return [c.streams_opened() for c in ev.observations.connections]


def two_step():
    """Connection 0: mid-body GOAWAY(2^31-1), PING, GOAWAY(last=stream), then the rest of the body."""
    return Script(respond=per_connection(
        mid_response(goaway(MAX_STREAM), F.ping(b"drain..."), goaway("stream")), reply()))


def refuse_every_connection(code, wait_for=1):
    """Every connection: GOAWAY(code, last=0) and FIN, still reading (a stream opened after the
    GOAWAY is seen). Connection 0 first waits until `wait_for` requests are open on it."""
    def refuse(conn, reqs):
        conn.send(F.goaway(0, code))
        conn.close(half=True)
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


class GoawayWhileBlocked(Upload):
    """Connection 0: IWS=16384 and no stream credit, ever. A warm-up GET comes first, so the
    client has applied the SETTINGS before the upload starts (without it, whether a client's first
    DATA left before or after its ACK decided the verdict). Once the upload has used the window
    and a PING round trip has passed (the client is blocked on zero), GOAWAY(NO_ERROR,
    last-stream-id 0): the upload was not processed (§6.8, §8.7). Later connections read
    uploads normally."""
    WINDOW = 16384

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: self.WINDOW})

    def on_upload(self, conn, f):
        if conn.index == 0 and f.length:
            conn.send(F.window_update(0, f.length))    # only the stream window closes
            if self.st(conn)["recv"][f.stream] >= self.WINDOW and not conn.state.get("probed"):
                conn.state["probed"] = True            # the window is used up: is the client blocked?
                self.ping(conn, f.stream)

    def server_preface(self, conn):
        if conn.index == 0:
            return super().server_preface(conn)
        return Scenario.server_preface(self, conn)   # a plain server: default windows

    def _on_data(self, conn, f):
        if conn.index == 0:
            return Upload._on_data(self, conn, f)
        return Script.handlers["DATA"](self, conn, f)

    handlers = {**Upload.handlers, "DATA": _on_data}

    def on_pong(self, conn, stream):
        if conn.index == 0:
            conn.send(F.goaway(0, "NO_ERROR"))


def _blocked_at(ev):
    """For the report: what the client had sent on connection 0 when the GOAWAY went out."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    g = next((f for f in c.sent if f.type == "GOAWAY"), None) if c else None
    if g is None:
        return None
    return sum(f.data_len or 0 for f in c.received if f.type == "DATA" and f.seq < g.seq)


def _retried(ev):
    return len(ev.observations.connections) > 1


UPLOAD_ARRIVED = upload_on(None)


WARM_THEN_POST = Job((Req("/r/1"), *POST.requests), timeout_ms=POST.timeout_ms)


def _whole_retry(ev):
    """R-8.7-1 (reported): a successful retry delivered the whole body on one stream."""
    upload = ev.outcomes[-1]
    if not upload.ok:
        return True, f"not completed: transfer {upload.summary()}"
    (check,) = UPLOAD_ARRIVED.judge(ev)
    return check.passed, check.actual


def _goaway_reaction(ev):
    """R-6.8-8 (reported): what the client did on connection 0 after the higher GOAWAY."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    errors = [f.describe() for f in c.received if f.type == "GOAWAY" and f.error_code != "NO_ERROR"] if c else []
    return f"connection error: {errors[0]}" if errors else "ignored the increase"


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
        request=gets(1),
        expect=NO_NEW_STREAM & AFTER_GOAWAY,
        good=("good", "no-retry"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-2", "R-6.8-3"),
    ),
    Case(
        id="9113/6.8/goaway-graceful-new-connection",
        level=MUST,
        requirement="§6.8: after GOAWAY the client MUST NOT open new streams on that connection; each "
                    "later request to the same origin goes on a new connection, whose stream ids "
                    "start afresh (§5.1.1). The GOAWAY stands in for identifiers running out "
                    "(§5.1.1 says a client can then move to a new connection, no keyword).",
        server="On every connection, follows each response with GOAWAY(NO_ERROR, last=that "
               "stream) and stays open; three sequential requests.",
        scenario=graceful_after_response,
        request=gets(3),
        expect=Succeeds() & Connections(3, why="one new connection per request") & NO_NEW_STREAM
        & Report("stream_ids_per_connection", _stream_ids),
        bad={"ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-2", "R-5.1.1-3"),
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
                    "GOAWAY with the real last stream; the second GOAWAY is not an error, no stream "
                    "opens on the connection after the first, and the next request goes on a new "
                    "connection and succeeds. Whether the stream at or below the last-stream-id "
                    "completes is reported (it \"might still complete\", no keyword).",
        server="Mid-body on connection 0: GOAWAY(2^31-1), PING, GOAWAY(last=1), then the rest of the "
               "body; a second sequential request is answered on a new connection.",
        scenario=two_step,
        request=gets(2),
        expect=NO_ERROR_SENT & NO_NEW_STREAM & Connections(2, why="request 2 needs a new connection")
        & Custom("request 2 succeeds on the new connection",
                 lambda ev: (ev.outcomes[1].ok and ev.outcomes[1].status == 200,
                             f"transfer 2 {ev.outcomes[1].summary()}"), name="next-request-succeeds")
        & Report("in_flight_stream", _in_flight),
        good=("good", "goaway-fails-inflight"),
        bad={"reject-second-goaway": "no-error-sent", "ignore-goaway": "no-stream-after-goaway"},
        covers=("R-6.8-6", "R-6.8-2"),
    ),
    Case(
        id="9113/6.8/goaway-debug-data",
        level=MUST,
        requirement="§6.8: GOAWAY may carry opaque debug data of any length and content; the client "
                    "accepts it (no error goes back) and handles the frame like any GOAWAY. Whether "
                    "the in-flight stream at or below last-stream-id completes is reported (no "
                    "keyword).",
        server="Mid-body sends GOAWAY(NO_ERROR, last=1) with 40 octets of debug data (with NUL and "
               "0xff bytes), then the rest of the body.",
        scenario=lambda: Script(respond=mid_response(
            goaway("stream", debug=b"draining for maintenance\x00\xff\xfe; bye!  "))),
        expect=NO_ERROR_SENT & NO_NEW_STREAM & Report("in_flight_stream", _in_flight),
        good=("good", "goaway-fails-inflight"),
        bad={"reject-goaway-debug-data": "no-error-sent"},
        covers=("R-6.8-7",),
    ),
    Case(
        id="9113/6.8/goaway-enhance-your-calm",
        level=MUST,
        requirement="§6.8: after GOAWAY(ENHANCE_YOUR_CALM, last=0) the client opens no new stream on "
                    "that connection. What it does next (fail, or retry the unprocessed request, "
                    "§8.7) and whether its retries end against a server that refuses every time is "
                    "reported (no keyword).",
        server="Every connection answers the request with GOAWAY(ENHANCE_YOUR_CALM, last=0) and "
               "closes its side (FIN), still reading.",
        scenario=lambda: refuse_every_connection("ENHANCE_YOUR_CALM"),
        request=get(),
        expect=NO_NEW_STREAM & retries_bounded(PER_TRANSFER) & retry_bound(PER_TRANSFER),
        good=("good", "no-retry"),
        bad={"ignore-goaway": "no-stream-after-goaway", "retry-forever": "retries-bounded"},
        covers=("R-6.8-2", "R-6.8-9", "R-HYG-3"),
    ),
    Case(
        id="9113/6.8/goaway-enhance-your-calm-parallel",
        level=MUST,
        requirement="§6.8: with two streams open, after GOAWAY(ENHANCE_YOUR_CALM, last=0) the client "
                    "opens no new stream on that connection. How both transfers end, and whether "
                    "retries against a server that refuses every time end, is reported (no keyword).",
        server="Connection 0 waits for both parallel requests, then every connection answers with "
               "GOAWAY(ENHANCE_YOUR_CALM, last=0) and closes its side (FIN), still reading.",
        scenario=lambda: refuse_every_connection("ENHANCE_YOUR_CALM", wait_for=2),
        request=gets(2, mode="parallel"),
        needs=PARALLEL,
        expect=NO_NEW_STREAM & retries_bounded(2 * PER_TRANSFER) & retry_bound(2 * PER_TRANSFER),
        good=("good", "no-retry"),
        bad={"ignore-goaway": "no-stream-after-goaway", "retry-forever": "retries-bounded"},
        regression="curl#5119",
        covers=("R-6.8-2", "R-6.8-9", "R-HYG-3"),
    ),
    Case(
        id="9113/6.8/goaway-http-1-1-required",
        level=MUST,
        requirement="§6.8 and §7 HTTP_1_1_REQUIRED: the client opens no new stream on the connection "
                    "after the GOAWAY; whether it retries over HTTP/1.1 or fails, and whether its "
                    "retries end, is reported (no keyword makes the client switch).",
        server="Every h2 connection answers with GOAWAY(HTTP_1_1_REQUIRED, last=0) and closes its "
               "side (FIN), still reading; HTTP/1.1 connections are answered normally.",
        scenario=lambda: refuse_every_connection("HTTP_1_1_REQUIRED"),
        request=Job((Req(http_version="h2-or-http1.1"),)),
        needs=frozenset({"h2", "http1.1"}),
        expect=NO_NEW_STREAM & retries_bounded(PER_TRANSFER) & retry_bound(PER_TRANSFER)
        & Report("retried_over_http1", lambda ev: any(c.http1_lines for c in ev.observations.connections))
        & Report("h2_connections", _h2_connections),
        bad={"h2-retry-forever": "retries-bounded"},
        regression="curl#22923",
        covers=("R-6.8-2", "R-6.8-9", "R-HYG-3"),
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
        id="9113/6.8/goaway-upload-blocked-retry",
        level=MUST,
        covers=("R-6.9.1-1", "R-6.8-2", "R-6.8-3", "R-8.7-1"),
        requirement="§6.9.1 and §6.8: an upload blocked on a zero window sends no DATA beyond it, and "
                    "after GOAWAY(last-stream-id 0) no new stream opens on that connection. The "
                    "request was not processed, so it may be retried (§8.7, MAY); whether it is, and "
                    "whether a retry sends the whole body again from the first octet rather than a "
                    "corrupted remainder (no keyword of its own), is reported.",
        server=f"Connection 0 sets INITIAL_WINDOW_SIZE=16384 and never grants stream credit; answers "
               f"a warm-up GET; once the POST has used the window and the client answered a PING "
               f"(blocked on a zero window), sends GOAWAY(NO_ERROR, last-stream-id 0). Later connections read the {len(UPLOAD)}-octet "
               f"POST normally.",
        scenario=GoawayWhileBlocked,
        request=WARM_THEN_POST,
        expect=WINDOW_KEPT   # exercised whether or not the GOAWAY went out, so no precondition here
        & Custom("no new stream on a connection after its GOAWAY (§6.8)", _no_new_stream,
                 name="no-stream-after-goaway")
        & Custom("a retry carries the whole body from the first octet (or the transfer fails)",
                 _whole_retry, level=MAY, name="body-arrived")
        & Report("retried", _retried) & Report("octets_sent_before_goaway", _blocked_at)
        & Report("goaway_sent", lambda ev: _goaway_sent(ev)[1]),
        good=("good", "no-retry"),
        bad={"ignore-goaway": "no-stream-after-goaway", "partial-upload-retry": "body-arrived"},
        regression="curl#22563",
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
        request=gets(2),
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
        request=gets(2),
        expect=TransferSucceeds(1) & Connections(2, why="request 2 needs a new connection")
        & NO_NEW_STREAM & Report("stream_below", _in_flight),
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
        request=gets(2),
        expect=TransferSucceeds(1) & NO_NEW_STREAM & Report("stream_below", _in_flight),
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
        request=Job((Req("/upload", method="POST", body=UPLOAD), Req("/r/2"))),
        expect=TransferSucceeds(1) & NO_NEW_STREAM
        & Custom("the POST is not sent again (RFC 9110 §9.2.2)", _post_sent_once, level=SHOULD,
                 name="post-not-repeated")
        & Report("upload", _in_flight),
        good=("good", "goaway-fails-inflight"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
]
