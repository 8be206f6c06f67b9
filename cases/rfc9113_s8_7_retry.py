"""RFC 9113 §8.7 request reliability: REFUSED_STREAM retries (allowed; whether they end is
reported), and a POST the server may have processed is not sent again (RFC 9110 §9.2.2)."""
from conformance.case import MAY, MUST, SHOULD, Case, Job, Req, get
from conformance.verdicts import AnyOf, Custom, Fails, Report, Retried, Succeeds
from conformance.verdicts.verdict import sha256
from servers import frames as F
from servers.scenario import BODY, Script, frames, per_connection, reply, response_fields

MAX_ATTEMPTS = 10   # "a small, bounded number": libcurl gives up after 6 attempts


def refuse(count=None):
    """RST_STREAM(REFUSED_STREAM) for the first `count` requests (all if None), then a 200.

    Counted per scenario instance, across its connections, so a retry on the same
    connection or on a new one sees the same sequence; every run starts at zero."""
    def scenario():
        seen = {"n": 0}

        def respond(conn, req):
            seen["n"] += 1
            if count is None or seen["n"] <= count:
                conn.send(F.rst_stream(req.stream, "REFUSED_STREAM"))
            else:
                reply()(conn, req)
        return Script(respond=respond)
    return scenario


def attempts(ev):
    """(connection index, stream) of every request the client sent."""
    return [(c.index, f.stream) for c in ev.observations.connections for f in c.frames("HEADERS")]


def bounded(limit):
    def check(ev):
        n = len(attempts(ev))
        return n <= limit, f"{n} request attempt(s) on {len(ev.observations.connections)} connection(s)"
    return Custom(f"at most {limit} request attempts", check, name="attempts-bounded")


def processed_then_closed(goaway: bool):
    """Connection 0 answers /r/1; once the POST /r/2 is complete it sends no response, only
    (with `goaway`) GOAWAY(NO_ERROR) whose last-stream-id is the POST's stream, and closes its side
    (FIN, still reading). Later connections answer normally, so a resent POST succeeds."""
    def first(conn, req):
        if req.path == "/r/1":
            return reply()(conn, req)
        if goaway:
            frames(lambda conn, req: F.goaway(req.stream, "NO_ERROR"))(conn, req)
        conn.close(half=True)
    return lambda: Script(respond=per_connection(first, reply()))


def closed_unanswered(conn, req):
    """Every connection: the request arrives, then the server closes its side with no response and
    no GOAWAY, so the request may have been processed (RFC 9110 §9.2.2)."""
    conn.close(half=True)


def refused_after_headers():
    """Connection 0: response HEADERS and half the body, then RST_STREAM(REFUSED_STREAM) (the
    server breaks §8.7's MUST NOT: the response had started). Later connections answer normally."""
    def first(conn, req):
        conn.send_fields(req.stream, response_fields(len(BODY)))
        conn.send(F.data(req.stream, BODY[:len(BODY) // 2]), F.rst_stream(req.stream, "REFUSED_STREAM"))
    return lambda: Script(respond=per_connection(first, reply()))


def _failed_or_exact(ev):
    o = ev.outcome
    exact = o.ok and o.status == 200 and o.body_len == len(BODY) and o.body_sha256 == sha256(BODY)
    return (not o.ok) or exact, f"transfer 1 {o.summary()}"


def replayed(ev):
    """R-8.7-4 (reported): did the client send the refused request again, and what came of it."""
    return {"attempts": len(attempts(ev)), "outcome": ev.outcome.summary()}


def _posts(ev):
    return [(c.index, f.stream) for c in ev.observations.connections for f in c.frames("HEADERS")
            if dict(f.headers or []).get(":method") == "POST"]


SENT_ONCE = Custom("the POST reaches the server once: it is not sent again automatically "
                   "(RFC 9110 §9.2.2 SHOULD NOT)",
                   lambda ev: (len(_posts(ev)) <= 1, f"POST sent as (connection, stream) {_posts(ev)}"),
                   name="post-sent-once")
GET_THEN_POST = Job((Req("/r/1"), Req("/r/2", method="POST", body=b"order #1: one of everything\n")))


def how_retried(ev):
    sent = attempts(ev)
    if len(sent) < 2:
        return "not retried"
    where = "a new connection" if sent[1][0] != sent[0][0] else "the same connection"
    return f"retried {len(sent) - 1} time(s); first retry on {where}"


CASES = [
    Case(
        id="9113/8.7/refused-stream-retry",
        level=MUST,
        requirement="§8.7: REFUSED_STREAM means the request was not processed, so the client MAY "
                    "retry it (reported, with the number of attempts). §6.4: the RST_STREAM ends the "
                    "transfer with an error unless a retry brings the exact response; it MUST NOT "
                    "be reported as a success without one.",
        server="Answers the first request with RST_STREAM(REFUSED_STREAM) and any later one with a 200.",
        scenario=refuse(1),
        request=get(),
        expect=AnyOf(Succeeds(), Fails("stream"),
                     why="§8.7 allows an automatic retry of a refused request but does not require it")
        & Report("retry", how_retried),
        good=("good", "no-retry"),
        bad={"refused-ok": "succeeds"},
        regression="curl#804",
        covers=("R-8.7-1", "R-6.4-2"),
    ),
    Case(
        id="9113/8.7/refused-every-stream",
        level=MAY,
        requirement="§8.7: retrying refused requests is allowed; against a server that refuses every "
                    "stream, how many attempts the client makes before it reports an error is "
                    "reported (no keyword bounds them: a refused request has not failed).",
        server="Answers every request, on every connection, with RST_STREAM(REFUSED_STREAM).",
        scenario=refuse(),
        request=get(),
        expect=Fails() & bounded(MAX_ATTEMPTS) & Retried(MAX_ATTEMPTS - 1)
        & Report("retry", how_retried),
        good=("good", "no-retry"),
        bad={"retry-forever": "retries-bounded"},
        regression="curl#5794",
        covers=("R-HYG-3",),
    ),
    Case(
        id="9113/8.7/post-not-resent-after-goaway",
        level=SHOULD,
        requirement="§6.8 and RFC 9110 §9.2.2: a POST on a stream at or below a GOAWAY's "
                    "last-stream-id may have been processed; when the connection then closes "
                    "without a response, the client SHOULD NOT send it again automatically.",
        server="Answers GET /r/1; once POST /r/2 is complete on the same connection, sends "
               "GOAWAY(NO_ERROR, last-stream-id = the POST's stream) and closes its side without a "
               "response; later connections answer normally.",
        scenario=processed_then_closed(goaway=True),
        request=GET_THEN_POST,
        expect=SENT_ONCE & Report("post", lambda ev: ev.outcomes[1].summary()),
        bad={"resend-processed": "post-sent-once"},
        covers=("R-8.7-3",),
    ),
    Case(
        id="9113/8.7/post-not-resent-after-close",
        level=SHOULD,
        requirement="RFC 9110 §9.2.2: a POST whose connection closes, with no GOAWAY, after the "
                    "server received all of it and before any response may have been processed; "
                    "the client SHOULD NOT send it again automatically, even on a reused "
                    "connection.",
        server="Answers GET /r/1; once POST /r/2 is complete on the same connection, closes its "
               "side (FIN) with no GOAWAY and no response; later connections answer normally.",
        scenario=processed_then_closed(goaway=False),
        request=GET_THEN_POST,
        expect=SENT_ONCE & Report("post", lambda ev: ev.outcomes[1].summary()),
        bad={"resend-processed": "post-sent-once"},
        covers=("R-8.7-3",),
    ),
    Case(
        id="9113/8.7/failed-retry-not-retried",
        level=SHOULD,
        requirement="RFC 9110 §9.2.2: a GET whose connection closes with no response may have been "
                    "processed; one automatic retry is allowed for an idempotent request, but a retry "
                    "that failed too SHOULD NOT be retried again.",
        server="Every connection: once the GET is in, closes its side (FIN) with no response and "
               "no GOAWAY.",
        scenario=lambda: Script(respond=closed_unanswered),
        request=get(),
        expect=Fails() & Retried(1) & Report("retry", how_retried),
        good=("good", "resend-processed"),
        bad={"resend-processed-forever": "retries-bounded"},
        covers=("R-8.7-2",),
    ),
    Case(
        id="9113/8.7/refused-after-response-started",
        level=MUST,
        requirement="§8.7 forbids REFUSED_STREAM once a response has started; when a server does it "
                    "anyway the client may fail the transfer or replay the request, but never reports "
                    "the partial body, or the response twice, as a success (§6.4); which one it did "
                    "is reported.",
        server="Connection 0: response HEADERS and half the body, then RST_STREAM(REFUSED_STREAM); "
               "later connections answer normally.",
        scenario=refused_after_headers(),
        request=get(),
        expect=Custom("the transfer fails, or succeeds with exactly one copy of the body (a replay "
                      "is allowed: §8.7 says REFUSED_STREAM means not processed)", _failed_or_exact,
                      name="no-partial-success")
        & Report("replay", replayed),
        bad={"keep-partial-on-retry": "no-partial-success"},
        covers=("R-8.7-4", "R-6.4-2"),
        level_note="R-8.7-4 itself is only reported (no keyword for the client); the MUST is "
                   "R-6.4-2's: no partial or doubled body reported as a success.",
    ),
]
