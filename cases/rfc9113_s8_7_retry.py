"""RFC 9113 §8.7 request reliability: REFUSED_STREAM retries, allowed but bounded."""
from conformance.case import MUST, Case, get
from conformance.verdicts import AnyOf, Custom, Fails, Report, Retried, Succeeds
from servers import frames as F
from servers.scenario import Script, reply

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
        request=get(timeout_ms=2000),
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
        level=MUST,
        requirement="§8.7: retrying refused requests is allowed, but a server that refuses every "
                    "stream MUST end in an error after a bounded number of attempts, not a loop.",
        server="Answers every request, on every connection, with RST_STREAM(REFUSED_STREAM).",
        scenario=refuse(),
        request=get(timeout_ms=2000),
        expect=Fails() & bounded(MAX_ATTEMPTS) & Retried(MAX_ATTEMPTS - 1)
        & Report("retry", how_retried),
        good=("good", "no-retry"),
        bad={"retry-forever": "retries-bounded"},
        regression="curl#5794",
        covers=("R-HYG-3",),
        level_note="R-HYG-3 (retries end) has no keyword; the MUST stands on the retry bound "
                   "(§8.7 only allows retrying), the only check retry-forever breaks.",
    ),
]
