"""RFC 9113 §6.6 PUSH_PROMISE (and §8.4 server push).

With push disabled (the client's default) any promise is a connection error. The other cases
enable push through the application (docs/clients.md `push`), so they need the adapter's `push`
capability: the promise then has to pass §6.6 and §8.4 on its own merits.
"""
from conformance.case import MUST, SHOULD, Case, Job, Req, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Report, Sent, Succeeds,
                                  TransferSucceeds)
from servers import frames as F
from servers.scenario import BODY, Script, body_for, reply, response_fields


def disabled_push(f) -> bool:
    return not f.has("ACK") and ("ENABLE_PUSH", 0) in (f.settings or [])


def promise_then_reply():
    """Before the response: PUSH_PROMISE on the request stream promising stream 2 for a GET."""
    def respond(conn, req):
        authority = req.header(":authority") or "localhost"
        block = conn.block([(":method", "GET"), (":scheme", req.header(":scheme") or "https"),
                            (":authority", authority), (":path", "/pushed.css")])
        conn.send(F.push_promise(req.stream, 2, block))
        reply()(conn, req)
    return Script(respond=respond)


PUSHED_BODY = body_for("/pushed.css", 3000)
NOT_ERRORS = {"NO_ERROR", "CANCEL", "REFUSED_STREAM"}   # §8.4.2: how a client declines a push


def promised_request(req, path="/pushed.css", **change):
    """The field list of a promised GET for `path` on the parent's origin; `change` replaces
    pseudo-headers (None drops one), `extra` adds regular fields."""
    extra = change.pop("extra", [])
    fields = {":method": "GET", ":scheme": req.header(":scheme") or "https",
              ":authority": req.header(":authority") or "localhost", ":path": path}
    fields.update(change)
    return [(k, v) for k, v in fields.items() if v is not None] + list(extra)


def push_then_reply(*promises, pushed_response=True):
    """A responder: PUSH_PROMISE on the request stream for each (promised id, fields of req), then
    the response, then (`pushed_response`) each promised response, 3000 octets, within windows."""
    def respond(conn, req):
        for promised, fields in promises:
            conn.send(F.push_promise(req.stream, promised, conn.block(fields(req))))
        reply()(conn, req)
        if pushed_response:
            for promised, _ in promises:
                conn.send_fields(promised, response_fields(len(PUSHED_BODY), extra=[("content-type", "text/css")]))
                conn.send_body(promised, PUSHED_BODY)
    return respond


def _promised(ev):
    """The server's PUSH_PROMISE frames: promised stream id -> connection index."""
    return {f.promised: c.index for c in ev.observations.connections for f in c.sent
            if f.type == "PUSH_PROMISE"}


def _client_rst(ev, stream):
    return [f for c in ev.observations.connections for f in c.received
            if f.type == "RST_STREAM" and f.stream == stream]


def _error_goaways(ev):
    return [f for f in ev.observations.frames("GOAWAY") if f.error_code != "NO_ERROR"]


def _taken_or_refused(ev):
    """R-6.6-4: the promised stream is taken (the pushed response delivered whole) or refused
    with RST_STREAM(CANCEL or REFUSED_STREAM); nothing else."""
    taken = [p for p in ev.pushed if p.get("accepted")]
    rst = _client_rst(ev, 2)
    if taken:
        p = taken[0]
        whole = p.get("ok") and p.get("body_len") == len(PUSHED_BODY)
        return whole, f"taken: pushed response {'complete' if whole else 'incomplete'} ({p.get('body_len')} octets)"
    if rst:
        return rst[0].error_code in NOT_ERRORS, f"refused with {rst[0].describe()}"
    return False, "neither taken nor refused: promised stream 2 left reserved"


def _how_handled(ev):
    taken = [p for p in ev.pushed if p.get("accepted")]
    rst = _client_rst(ev, 2)
    return ("taken by the application" if taken else
            f"refused: {rst[0].error_code}" if rst else "left reserved")


def _promise_rejected(stream: int = 2):
    """R-6.6-3: a stream error PROTOCOL_ERROR (or a generic code) on the promised stream, and the
    promised response never delivered as a push."""
    def check(ev):
        rst = _client_rst(ev, stream)
        delivered = [p for p in ev.pushed if p.get("accepted") and p.get("ok")]
        if delivered:
            return False, f"the promised response reached the application ({delivered[0].get('body_len')} octets)"
        if not rst:
            return False, f"no RST_STREAM on promised stream {stream}"
        code = rst[0].error_code
        return code in ("PROTOCOL_ERROR", "INTERNAL_ERROR"), f"client sent {rst[0].describe()}"
    return check


PROMISE_SE = Custom("RST_STREAM(PROTOCOL_ERROR, or a generic code) on the promised stream, and no "
                    "pushed response for it", _promise_rejected(), name="rst-code")
SE_WHY = "§5.4.2 lets the client turn the stream error on the promised stream into a connection error"


def invalid_promise(**change):
    """One promise of stream 2 whose request breaks §8.4/§8.4.1, then the response; the server
    also sends the promised response, which the client has to drop."""
    return lambda: Script(respond=push_then_reply((2, lambda req: promised_request(req, **change))))


def _reserved_left(ev):
    """R-6.6-5: promised streams the client had not refused when the response that carried the
    promises began (two PING round trips after them)."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    if c is None:
        return []
    start = next((f.seq for f in c.sent if f.type == "HEADERS" and f.stream == 1), float("inf"))
    refused = {f.stream for f in c.received if f.type == "RST_STREAM" and f.seq < start}
    return [sid for sid in _promised(ev) if sid not in refused]


MANY = 300    # promises on one request: past nghttp2's default limit (200) and the scripted one (32)


def many_promises():
    """MANY PUSH_PROMISEs (streams 2, 4, ...) on the request stream, none ever answered; the
    response follows two PING round trips later, once the client has had every chance to refuse
    the excess; then the server cancels the promises itself, so that pushes the client took end."""
    def respond(conn, req):
        conn.state["req"] = req
        conn.send(b"".join(F.push_promise(req.stream, 2 * i, conn.block(promised_request(req, f"/p/{i}")))
                           for i in range(1, MANY + 1)) + F.ping(b"reserve1"))

    def on_frame(conn, f):
        if f.type == "PING" and f.has("ACK") and f.ping == b"reserve1":
            conn.send(F.ping(b"reserve2"))
        elif f.type == "PING" and f.has("ACK") and f.ping == b"reserve2":
            reply()(conn, conn.state["req"])
            conn.send(b"".join(F.rst_stream(2 * i, "CANCEL") for i in range(1, MANY + 1)))
    return Script(respond=respond, on_frame=on_frame)


def promise_on(stream_of):
    """A responder: PUSH_PROMISE(stream 2) on the stream `stream_of(req)` names (None: no
    promise), then the response."""
    def respond(conn, req):
        stream = stream_of(req)
        if stream is not None:
            conn.send(F.push_promise(stream, 2, conn.block(promised_request(req))))
        reply()(conn, req)
    return respond


MARKER = ("x-promise-marker", "hpack-state-" + "m" * 40)


def promise_after_reset():
    """/r/1: HEADERS, one octet of DATA (the application cancels there), then, before any RST_STREAM
    could arrive, a PUSH_PROMISE on that stream whose field block adds MARKER to the header table.
    /r/2: a response that carries MARKER, which the encoder sends as a reference to that entry."""
    def respond(conn, req):
        if req.path != "/r/1":
            return reply(headers=[MARKER])(conn, req)
        conn.send_fields(req.stream, response_fields(len(BODY)))
        conn.send(F.data(req.stream, BODY[:1]))
        conn.send(F.push_promise(req.stream, 2, conn.block(promised_request(req, extra=[MARKER]))))
        conn.send(F.data(req.stream, BODY[1:], end_stream=True))
    return Script(respond=respond)


def _reset_then_same_connection(ev):
    c = ev.observations.connections[0] if ev.observations.connections else None
    if c is None:
        return False, "no connection"
    rst = [f for f in c.received if f.type == "RST_STREAM" and f.stream == 1]
    second = [f for f in c.received if f.type == "HEADERS" and (":path", "/r/2") in (f.headers or [])]
    return bool(rst and second), (f"client reset stream 1 ({rst[0].error_code}) and sent /r/2 on the same "
                                  f"connection" if rst and second else
                                  f"reset of stream 1: {bool(rst)}; /r/2 on connection #0: {bool(second)}")


def _marker_delivered(ev):
    o = ev.outcomes[1]
    got = dict((k, v) for k, v in o.headers)
    ok = o.ok and got.get(MARKER[0]) == MARKER[1]
    return ok, f"transfer 2 {o.summary()}, {MARKER[0]}: {got.get(MARKER[0])!r}"


PUSH_ACCEPT = Job((Req("/"),), push="accept")
# What the invalid-promise cases share (§8.4.1): push accepted; the client refuses the promised
# stream, or escalates to a connection error; one that takes the promise fails on rst-code.
INVALID_PROMISE = dict(request=PUSH_ACCEPT,
                       expect=AnyOf(PROMISE_SE, ConnectionError("PROTOCOL_ERROR"), why=SE_WHY),
                       good=("good", "generic-code"), bad={"naive": "rst-code"})


CASES = [
    Case(
        id="9113/6.6/push-promise-push-disabled",
        level=MUST,
        requirement="§6.6 and §8.4: a client that announced SETTINGS_ENABLE_PUSH=0 MUST treat a "
                    "PUSH_PROMISE as a connection error of type PROTOCOL_ERROR. A client that left "
                    "push enabled is not exercised (R-6.6-4 judges a push it accepts).",
        server="Sends a valid PUSH_PROMISE (stream 2, GET /pushed.css) on the request stream, then a "
               "normal response.",
        scenario=promise_then_reply,
        expect=Exercised("the client sent SETTINGS_ENABLE_PUSH=0", lambda ev: (
            any(disabled_push(f) for f in ev.observations.frames("SETTINGS")),
            "client SETTINGS: " + "; ".join(f.describe() for f in ev.observations.frames("SETTINGS")
                                            if not f.has("ACK"))))
        & ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.6-1",),
    ),
    Case(
        id="9113/6.6/push-accepted",
        level=MUST,
        covers=("R-6.6-4",),
        requirement="§8.4 and §8.4.2: with push enabled by the application, a valid promise is "
                    "either taken (the pushed response delivered whole) or refused with "
                    "RST_STREAM(CANCEL or REFUSED_STREAM), and the response that carried the promise "
                    "completes either way. Which one is reported.",
        server="Sends PUSH_PROMISE(stream 2, GET /pushed.css) on the request stream, the response, "
               "then the 3000-octet pushed response.",
        scenario=lambda: Script(respond=push_then_reply((2, promised_request))),
        request=PUSH_ACCEPT,
        expect=Succeeds() & Custom("the promise is taken whole or refused with CANCEL or "
                                   "REFUSED_STREAM", _taken_or_refused, name="push-handled")
        & Report("push", _how_handled),
        bad={"mix-streams": "succeeds"},
    ),
    Case(
        id="9113/6.6/push-refused-by-application",
        level=MUST,
        covers=("R-6.6-4",),
        requirement="§8.4.2: when the application refuses a push, the client refuses the promised "
                    "stream with RST_STREAM (CANCEL or REFUSED_STREAM) rather than leave it reserved, "
                    "drops what the server already sent on it, and the response that carried the "
                    "promise completes.",
        server="Sends PUSH_PROMISE(stream 2, GET /pushed.css) on the request stream, the response, "
               "then the 3000-octet pushed response.",
        scenario=lambda: Script(respond=push_then_reply((2, promised_request))),
        request=Job((Req("/"),), push="refuse"),
        expect=Succeeds() & Sent("RST_STREAM", "RST_STREAM(CANCEL or REFUSED_STREAM) on promised stream 2",
                                 lambda f: f.stream == 2 and f.error_code in NOT_ERRORS)
        & Custom("no pushed response reaches the application",
                 lambda ev: (not [p for p in ev.pushed if p.get("accepted")],
                             f"pushed: {[p.get('accepted') for p in ev.pushed]}"), name="not-taken"),
        bad={"refuse-push-silently": "sent-rst-stream"},
    ),
    Case(
        id="9113/6.6/push-promise-unsafe-method",
        level=MUST,
        covers=("R-6.6-3",),
        requirement="§8.4 and §8.4.1: a promised request must be safe and cacheable; a promised POST "
                    "MUST be treated as a stream error PROTOCOL_ERROR on the promised stream.",
        server="Sends PUSH_PROMISE(stream 2) of a POST /pushed.css, the response, then the promised "
               "response.",
        scenario=invalid_promise(**{":method": "POST"}),
        **INVALID_PROMISE,
    ),
    Case(
        id="9113/6.6/push-promise-with-content",
        level=MUST,
        covers=("R-6.6-3",),
        requirement="§8.4 and §8.4.1: a promised request must not announce content; a promised GET "
                    "with content-length 10 MUST be treated as a stream error PROTOCOL_ERROR on the "
                    "promised stream.",
        server="Sends PUSH_PROMISE(stream 2) of a GET /pushed.css with content-length: 10, the "
               "response, then the promised response.",
        scenario=invalid_promise(extra=[("content-length", "10")]),
        **INVALID_PROMISE,
    ),
    Case(
        id="9113/6.6/push-promise-missing-path",
        level=MUST,
        covers=("R-6.6-3",),
        requirement="§8.4.1 and §8.3.1: a promised request is a complete request; one without :path "
                    "MUST be treated as a stream error PROTOCOL_ERROR on the promised stream.",
        server="Sends PUSH_PROMISE(stream 2) of a GET without :path, the response, then the promised "
               "response.",
        scenario=invalid_promise(**{":path": None}),
        **INVALID_PROMISE,
    ),
    Case(
        id="9113/6.6/push-promise-foreign-authority",
        level=MUST,
        covers=("R-6.6-3",),
        requirement="§8.4 and §8.4.1: the server must be authoritative for what it pushes; a promise "
                    "for another origin (:authority other.example) MUST be treated as a stream error "
                    "PROTOCOL_ERROR on the promised stream.",
        server="Sends PUSH_PROMISE(stream 2) of GET https://other.example/pushed.css, the response, "
               "then the promised response.",
        scenario=invalid_promise(**{":authority": "other.example"}),
        **INVALID_PROMISE,
    ),
    Case(
        id="9113/6.6/push-promise-stream-0",
        level=MUST,
        covers=("R-6.6-2",),
        requirement="§6.6: with push enabled, a PUSH_PROMISE on stream 0 MUST be treated as a "
                    "connection error of type PROTOCOL_ERROR.",
        server="Sends a PUSH_PROMISE(stream 2, GET /pushed.css) on stream 0, then the response.",
        scenario=lambda: Script(respond=promise_on(lambda req: 0)),
        request=PUSH_ACCEPT,
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
    ),
    Case(
        id="9113/6.6/push-promise-odd-promised-id",
        level=MUST,
        covers=("R-6.6-2",),
        requirement="§5.1.1 and §6.6: a promised stream id must be a new even id; a promise of the "
                    "odd stream 3 MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends PUSH_PROMISE(stream 3, GET /pushed.css) on the request stream, then the "
               "response.",
        scenario=lambda: Script(respond=push_then_reply((3, promised_request), pushed_response=False)),
        request=PUSH_ACCEPT,
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
    ),
    Case(
        id="9113/6.6/push-promise-promised-id-reused",
        level=MUST,
        covers=("R-6.6-2",),
        requirement="§5.1.1 and §6.6: a promise of a stream id used before (not idle) MUST be "
                    "treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends PUSH_PROMISE(stream 2, GET /a.css), then PUSH_PROMISE(stream 2, GET /b.css) on "
               "the request stream, then the response.",
        scenario=lambda: Script(respond=push_then_reply(
            (2, lambda req: promised_request(req, "/a.css")), (2, lambda req: promised_request(req, "/b.css")),
            pushed_response=False)),
        request=PUSH_ACCEPT,
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
    ),
    Case(
        id="9113/6.6/push-promise-on-closed-stream",
        level=MUST,
        covers=("R-6.6-2",),
        requirement="§6.6: a PUSH_PROMISE on a stream that is neither open nor half-closed (local), "
                    "here one both sides have ended, MUST be treated as a connection error "
                    "(PROTOCOL_ERROR; §5.1 also allows STREAM_CLOSED on a closed stream).",
        server="Answers /r/1; with /r/2 on the same connection sends PUSH_PROMISE(stream 2) on "
               "/r/1's closed stream, then answers /r/2.",
        scenario=lambda: Script(respond=promise_on(lambda req: 1 if req.path == "/r/2" else None)),
        request=Job(gets(2).requests, push="accept"),
        expect=Exercised("/r/2 went on the connection of /r/1",
                         lambda ev: (len(ev.observations.connections) == 1,
                                     f"{len(ev.observations.connections)} connection(s)"))
        & ConnectionError("PROTOCOL_ERROR", "STREAM_CLOSED", index=1),
        bad={"naive": "transfer-fails"},
    ),
    Case(
        id="9113/6.6/push-promise-after-client-reset",
        level=MUST,
        covers=("R-6.6-2", "R-4.3-3"),
        requirement="§6.6 and §4.3: a PUSH_PROMISE on a stream the client has just reset (sent before "
                    "the server could see the RST_STREAM) MUST be handled, not treated as a "
                    "connection error, and its field block decoded, so that the header table stays "
                    "in step for the next response on the connection.",
        server="/r/1: HEADERS and one octet of DATA (the application cancels there), then a "
               "PUSH_PROMISE on that stream whose field block adds a header-table entry, then the "
               "rest; /r/2: a response whose x-promise-marker field refers to that entry.",
        scenario=promise_after_reset,
        request=Job((Req("/r/1", cancel_after_bytes=0), Req("/r/2")), push="accept"),
        expect=Exercised("the client reset stream 1 and kept the connection for /r/2",
                         _reset_then_same_connection)
        & Custom("no connection error for the promise", lambda ev: (
            not _error_goaways(ev), ", ".join(f.describe() for f in _error_goaways(ev)) or "none"),
                 name="no-connection-error")
        & Custom("/r/2 succeeds with the x-promise-marker field the promise put in the table",
                 _marker_delivered, name="succeeds"),
        bad={"skip-promise-on-reset-stream": "succeeds"},
    ),
    Case(
        id="9113/6.6/push-too-many-reserved",
        level=SHOULD,
        covers=("R-6.6-5",),
        requirement=f"§10.5: the client limits how many streams sit in reserved (remote); of {MANY} "
                    f"promises never answered, it refuses some (ENHANCE_YOUR_CALM, REFUSED_STREAM or "
                    f"CANCEL), and the response that carried them completes.",
        server=f"Sends {MANY} PUSH_PROMISEs (streams 2 to {2 * MANY}) on the request stream and never "
               f"answers them; sends the response after two PING round trips, then RST_STREAM(CANCEL) "
               f"on every promised stream.",
        scenario=many_promises,
        request=PUSH_ACCEPT,
        expect=TransferSucceeds(0)
        & Custom(f"fewer than {MANY} promised streams left reserved",
                 lambda ev: (len(_reserved_left(ev)) < MANY,
                             f"{len(_reserved_left(ev))} of {len(_promised(ev))} promised streams left reserved"),
                 name="reserved-limited")
        & Report("left_reserved", lambda ev: len(_reserved_left(ev))),
        bad={"no-reserved-limit": "reserved-limited"},
    ),
]
