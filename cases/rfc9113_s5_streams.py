"""RFC 9113 §5 Streams and multiplexing: states (§5.1), identifiers (§5.1.1), concurrency (§5.1.2),
flow control (§5.2), error handling (§5.4.2), extending HTTP/2 (§5.5)."""
import struct

from conformance.case import MUST, SHOULD, Case, get, gets
from conformance.verdicts import (AnyOf, ConnectionError, Connections, Custom, Fails, Ignored,
                                  Report, Sent, StreamError, Succeeds, TransferSucceeds)
from servers import frames as F
from conformance.verdicts.verdict import sha256
from servers.scenario import BODY, Script, fault_then_reply, frames, reply, response_fields

UNKNOWN_TYPE = 0xEE  # no frame type registered with this code


def first_request(responder):
    """`responder` for /r/1; every other request gets a plain response."""
    def respond(conn, req):
        (responder if req.path == "/r/1" else reply())(conn, req)
    return respond


def _stream_of(ev, path: str):
    for c in ev.observations.connections:
        for f in c.received:
            if f.type == "HEADERS" and f.headers and (":path", path) in f.headers:
                return c, f.stream
    return None, None


def _closed_signal(ev, path: str) -> tuple[bool, str]:
    """RST_STREAM(STREAM_CLOSED) on the stream of `path`, or GOAWAY(STREAM_CLOSED) on its connection."""
    c, stream = _stream_of(ev, path)
    if c is None:
        return False, f"no request for {path} arrived"
    signals = [f for f in c.received if (f.type == "RST_STREAM" and f.stream == stream)
               or f.type == "GOAWAY"]
    right = [f for f in signals if f.error_code == "STREAM_CLOSED"]
    return bool(right), ("client sent " + (", ".join(f.describe() for f in (right or signals))
                                           or "neither RST_STREAM nor GOAWAY"))


def stream_closed_signal(path: str = "/r/1") -> Custom:
    return Custom("RST_STREAM(STREAM_CLOSED) on that stream, or GOAWAY(STREAM_CLOSED)",
                  lambda ev: _closed_signal(ev, path), name="stream-closed-code")


# -- scenarios ---------------------------------------------------------------------------

def data_after_end_stream(conn, req):
    reply()(conn, req)
    conn.send(F.data(req.stream, b"late", end_stream=True))


def data_after_reset(conn, req):
    conn.send(F.headers(req.stream, conn.block(response_fields())))
    conn.send(F.rst_stream(req.stream, "INTERNAL_ERROR"))
    conn.send(F.data(req.stream, BODY, end_stream=True))


def late_window_update_and_rst(conn, req):
    reply()(conn, req)
    conn.send(F.window_update(req.stream, 1024), F.rst_stream(req.stream, "NO_ERROR"))


def limit_one() -> Script:
    """MAX_CONCURRENT_STREAMS=1. Each response waits for one PING round trip, so a stream stays
    open while the client could open another: a client that knows the limit and opens a second
    stream anyway has it on the wire before the PING ACK."""
    def respond(conn, req):
        token = req.stream.to_bytes(8, "big")
        conn.state.setdefault("held", {})[token] = req
        conn.send(F.ping(token))

    def on_frame(conn, f):
        if f.type == "PING" and f.has("ACK"):
            req = conn.state.get("held", {}).pop(f.ping, None)
            if req is not None:
                reply()(conn, req)
    return Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 1})], respond=respond,
                  on_frame=on_frame)


def _token(req, round_: int) -> bytes:
    return req.stream.to_bytes(7, "big") + bytes([round_])


def _serve_next(conn) -> None:
    """Answer the next held request once the gate is open, one at a time, each after two PING round
    trips: the client answers the first PING in the same read that ended the previous response,
    so any stream it opens in reaction reaches us while this one is still open."""
    st = conn.state
    if st.get("gate") and st.get("serving") is None and st.get("queue"):
        st["serving"] = st["queue"].pop(0)
        conn.send(F.ping(_token(st["serving"], 1)))


def _pong(conn, f) -> None:
    req = conn.state.get("serving")
    if not (f.type == "PING" and f.has("ACK") and req is not None):
        return
    if f.ping == _token(req, 1):
        conn.send(F.ping(_token(req, 2)))
    elif f.ping == _token(req, 2):
        conn.state["serving"] = None
        reply()(conn, req)
        _serve_next(conn)


def lowered_limit() -> Script:
    """§5.1.2 mid-connection: MAX_CONCURRENT_STREAMS=2 in the preface. The first request is answered
    at once and followed by SETTINGS(MAX_CONCURRENT_STREAMS=1); the others wait for the client's
    ACK of it (its second SETTINGS ACK), then are answered one at a time (`_serve_next`).
    It starts at 2, not 100: in one parallel job an eager client opens every stream as soon as it
    learns a limit of 100, before any response, and nothing would be left to open under the new one."""
    def respond(conn, req):
        if not conn.state.get("lowered"):
            conn.state["lowered"] = True
            reply()(conn, req)
            conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 1}))
            return
        conn.state.setdefault("queue", []).append(req)
        _serve_next(conn)

    def on_frame(conn, f):
        if f.type == "SETTINGS" and f.has("ACK"):
            conn.state["acks"] = conn.state.get("acks", 0) + 1
            if conn.state["acks"] == 2:
                conn.state["gate"] = True
                _serve_next(conn)
        _pong(conn, f)
    return Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 2})], respond=respond,
                  on_frame=on_frame)


RAISE = b"raise!!!"


def zero_limit() -> Script:
    """curl#4779: connection 0 starts with MAX_CONCURRENT_STREAMS=0 and holds every request. When
    the client ACKs that SETTINGS the server sends a PING, and only on its ACK raises the limit to
    100 and answers what it holds: the round trip is a window in which the client has acknowledged
    a limit of 0 (a server that kept 0 forever would deadlock a client that queues correctly).
    Later connections get a normal preface (limit 100), so a client may also go elsewhere."""
    def preface(conn):
        return F.settings({F.MAX_CONCURRENT_STREAMS: 100 if conn.index else 0})

    def respond(conn, req):
        if conn.index or conn.state.get("raised"):
            return reply()(conn, req)
        conn.state.setdefault("held", []).append(req)

    def on_frame(conn, f):
        if conn.index or conn.state.get("raised"):
            return
        if f.type == "SETTINGS" and f.has("ACK"):   # the first ACK: the preface is the only SETTINGS
            conn.send(F.ping(RAISE))
        elif f.type == "PING" and f.has("ACK") and f.ping == RAISE:
            conn.state["raised"] = True
            conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 100}))
            for req in conn.state.pop("held", []):
                reply()(conn, req)
    return Script(preface=[preface], respond=respond, on_frame=on_frame)


def goaway_after_each_response(conn, req):
    """Like a server whose stream identifiers ran out (§5.1.1): GOAWAY(NO_ERROR, last=this stream)
    right after each response; the connection stays open."""
    reply()(conn, req)
    conn.send(F.goaway(req.stream, "NO_ERROR"))


def self_dependent_headers(conn, req):
    """§5.3: response HEADERS with the PRIORITY flag, depending on its own stream (weight 16)."""
    priority = struct.pack(">IB", req.stream, 15)
    conn.send(F.frame(F.HEADERS, F.END_HEADERS | F.PRIORITY_FLAG, req.stream,
                      priority + conn.block(response_fields())))
    conn.send(F.data(req.stream, BODY, end_stream=True))


def unknown_frames(conn, req):
    """§5.5: unknown frames on stream 0 and on the request stream, around the response HEADERS."""
    conn.send(F.frame(UNKNOWN_TYPE, 0, 0, b"extension on stream 0"))
    conn.send(F.headers(req.stream, conn.block(response_fields())))
    conn.send(F.frame(UNKNOWN_TYPE, 0xFF, req.stream, b"extension on the stream"))
    conn.send(F.data(req.stream, BODY, end_stream=True))


def unknown_inside_block(conn, req):
    block = conn.block(response_fields())
    conn.send(F.headers(req.stream, block[:2], end_headers=False))
    conn.send(F.frame(UNKNOWN_TYPE, 0, req.stream, b"inside"))
    conn.send(F.continuation(req.stream, block[2:]))
    conn.send(F.data(req.stream, BODY, end_stream=True))


# -- checks ------------------------------------------------------------------------------

def _odd_increasing(ev):
    for c in ev.observations.connections:
        ids = [f.stream for f in c.received if f.type == "HEADERS"]
        if any(i % 2 == 0 for i in ids) or any(b <= a for a, b in zip(ids, ids[1:])):
            return False, f"connection #{c.index}: HEADERS on streams {ids}"
    return True, "streams " + "; ".join(
        str([f.stream for f in c.received if f.type == "HEADERS"]) for c in ev.observations.connections)


def _shared(ev):
    counts = [len(c.streams_opened()) for c in ev.observations.connections]
    return max(counts, default=0) == 3, f"requests per connection: {counts}"


def held_until(n):
    """A scenario that answers nothing until `n` requests are in, whatever connections they
    came on, then answers them all: every stream is open at once."""
    def scenario():
        held = []

        def respond(conn, req):
            held.append(req)
            if len(held) == n:
                for r in held:
                    reply()(r.conn, r)
        return Script(respond=respond)
    return scenario


def _concurrency(ev) -> tuple[int, int, list[int]]:
    """(most streams open when the client opened another one after ACKing the server's SETTINGS,
    streams opened before that ACK, streams per connection). A stream is open from the client's
    HEADERS until the server's END_STREAM or an RST_STREAM from either side."""
    worst, early, per_conn = 0, 0, []
    for c in ev.observations.connections:
        events = sorted([(f.seq, True, f) for f in c.received] + [(f.seq, False, f) for f in c.sent],
                        key=lambda t: t[0])
        acked, seen, open_ = False, set(), set()
        for _, from_client, f in events:
            ends = f.type == "RST_STREAM" or (not from_client and f.type in ("HEADERS", "DATA")
                                              and f.has("END_STREAM"))
            if ends:
                open_.discard(f.stream)
            elif from_client and f.type == "SETTINGS" and f.has("ACK"):
                acked = True
            elif from_client and f.type == "HEADERS" and f.stream not in seen:
                seen.add(f.stream)
                if acked:
                    worst = max(worst, len(open_) + 1)
                else:
                    early += 1
                open_.add(f.stream)
        per_conn.append(len(seen))
    return worst, early, per_conn


def _one_at_a_time(ev):
    worst, early, per_conn = _concurrency(ev)
    return worst <= 1, (f"at most {worst} stream(s) open at once after the SETTINGS ACK; "
                        f"{early} opened before it; streams per connection {per_conn}")


INF = float("inf")


def _limits(ev) -> list[dict]:
    """Per new client stream: how many streams were open with it, and the limit the client was
    bound by. A limit binds from the client's ACK of the SETTINGS that carried it (§6.5.3), but a
    raised limit may be used as soon as the server sent it: so the binding limit is the larger of
    the last acknowledged and the last sent value (none acknowledged yet: no limit, §5.1.2)."""
    out = []
    for c in ev.observations.connections:
        events = sorted([(f.seq, True, f) for f in c.received] + [(f.seq, False, f) for f in c.sent],
                        key=lambda t: t[0])
        pending: list = []                   # MAX_CONCURRENT_STREAMS per server SETTINGS, in order
        acked, sent, seen, open_ = INF, -1, set(), set()
        for _, from_client, f in events:
            if f.type == "SETTINGS" and not f.has("ACK") and not from_client:
                value = dict(f.settings or []).get("MAX_CONCURRENT_STREAMS")
                pending.append(value)
                sent = sent if value is None else value
            elif f.type == "SETTINGS" and f.has("ACK") and from_client and pending:
                value = pending.pop(0)
                acked = acked if value is None else value
            elif f.type == "RST_STREAM" or (not from_client and f.type in ("HEADERS", "DATA")
                                            and f.has("END_STREAM")):
                open_.discard(f.stream)
            elif from_client and f.type == "HEADERS" and f.stream not in seen:
                seen.add(f.stream)
                open_.add(f.stream)
                out.append({"conn": c.index, "stream": f.stream, "open": len(open_),
                            "limit": max(acked, sent), "acked": acked})
    return out


def _within_limits(ev):
    over = [o for o in _limits(ev) if o["open"] > o["limit"]]
    if over:
        o = over[0]
        return False, (f"connection #{o['conn']}: stream {o['stream']} opened with {o['open']} "
                       f"open while the acknowledged limit was {o['limit']}")
    return True, f"{len(_limits(ev))} stream(s) opened, none above the acknowledged limit"


def _opened_under(limit: int):
    """Report: streams opened after the client ACKed a limit of `limit` (did the case exercise it?)."""
    return lambda ev: [(o["conn"], o["stream"]) for o in _limits(ev) if o["acked"] == limit]


def _none_after_goaway(ev):
    late, per_conn = [], []
    for c in ev.observations.connections:
        goaway = min((f.seq for f in c.sent if f.type == "GOAWAY"), default=None)
        per_conn.append(len(c.streams_opened()))
        if goaway is not None:
            late += [(c.index, f.stream) for f in c.headers_after(goaway)]
    if late:
        return False, f"(connection, stream) opened after that connection's GOAWAY: {late}"
    return True, f"streams per connection {per_conn}"


def _self_dependency(ev):
    o = ev.outcome
    if o.ok:
        return "ignored" if o.body_sha256 == sha256(BODY) else "reported ok with a wrong body"
    return f"failed ({o.error_class}); client sent " + (", ".join(
        f"{f.type}({f.error_code})" for f in ev.observations.frames() if f.type in
        ("RST_STREAM", "GOAWAY")) or "no RST_STREAM or GOAWAY")


def _no_rst_after_rst(ev):
    for c in ev.observations.connections:
        resets = {f.stream: f.seq for f in c.sent if f.type == "RST_STREAM"}
        answers = [f for f in c.received if f.type == "RST_STREAM" and f.stream in resets
                   and f.seq > resets[f.stream]]
        if answers:
            return False, f"client answered with {answers[0].describe()}"
    return True, "no RST_STREAM on the reset stream"


def _settings_acks(n: int) -> Custom:
    def check(ev):
        acks = [f for f in ev.observations.frames("SETTINGS") if f.has("ACK")]
        return len(acks) >= n, f"client sent {len(acks)} SETTINGS ACK(s)"
    return Custom(f"the client acknowledges both SETTINGS frames ({n} ACKs)", check, name="acks-both-settings")


LARGE = bytes(i % 241 for i in range(200000))
TRANSFER_1 = Report("transfer_1_ok", lambda ev: ev.outcomes[0].ok)
TWO = gets(2, timeout_ms=1000)

CASES = [
    # §5.1: stream states
    Case(
        id="9113/5.1/data-on-idle-stream",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-5.1-1",),
        requirement="§5.1: a DATA frame on an idle stream (an odd stream the client never opened) "
                    "MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends DATA on stream request+2 (never opened), then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.data(req.stream + 2, b"idle")),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/5.1.1/headers-on-unpromised-even-stream",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-5.1.1-2",),
        requirement="§5.1 and §5.1.1: a server opens streams only by PUSH_PROMISE; HEADERS on an even "
                    "stream it never promised is on an idle stream, a connection error of type "
                    "PROTOCOL_ERROR.",
        server="Sends a complete response HEADERS on stream request+1 (even, never promised), then "
               "a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.headers(req.stream + 1, conn.block(
            [(":status", "200"), ("content-length", "0")]), end_stream=True)),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/5.1/data-after-end-stream",
        level=MUST,
        bad={"naive": "stream-closed-code"},
        covers=("R-5.1-3",),
        level_note="R-5.1-3 is Y (§5.1 MAY vs §6.1 MUST); this case judges §6.1's STREAM_CLOSED, "
                   "and reporting it would leave nothing for the naive control to fail.",
        requirement="§5.1 and §6.1: DATA on a stream the server already ended with END_STREAM MUST "
                    "get a stream error of type STREAM_CLOSED (a connection error is allowed).",
        server="Answers /r/1 completely, then sends a DATA frame with END_STREAM on it; /r/2 is "
               "answered normally.",
        scenario=lambda: Script(respond=first_request(data_after_end_stream)),
        request=TWO,
        expect=stream_closed_signal() & TransferSucceeds(1) & TRANSFER_1,
        good=("good", "stream-as-connection"),
    ),
    Case(
        id="9113/5.1/frames-after-server-reset",
        level=MUST,
        covers=("R-5.1-4", "R-6.4-2"),
        requirement="§6.4: a server's RST_STREAM mid-response ends the transfer with an error. DATA "
                    "that follows on the reset stream may be ignored or answered with "
                    "STREAM_CLOSED (§5.1 and §6.1 disagree); which is reported.",
        server="For /r/1 sends HEADERS, RST_STREAM(INTERNAL_ERROR), then DATA with END_STREAM on "
               "the same stream; /r/2 is answered normally.",
        scenario=lambda: Script(respond=first_request(data_after_reset)),
        request=TWO,
        expect=Fails("stream", "http2") & TransferSucceeds(1)
        & Report("stream_closed_signal", lambda ev: _closed_signal(ev, "/r/1")[1]),
        good=("good", "stream-as-connection"),
        bad={"truncated-ok": "transfer-fails"},
    ),
    Case(
        id="9113/5.1/late-window-update-and-rst",
        level=MUST,
        covers=("R-5.1-6", "R-5.1-7"),
        level_note="The late RST_STREAM (R-5.1-7, Y) shares the scenario with the late WINDOW_UPDATE "
                   "(R-5.1-6, M, §6.9), so an error on either fails at MUST.",
        requirement="§5.1: WINDOW_UPDATE or RST_STREAM arriving on a stream just after it closed "
                    "MUST be tolerated: no error, and the connection stays usable.",
        server="Answers each request completely, then sends WINDOW_UPDATE(1024) and "
               "RST_STREAM(NO_ERROR) on its stream.",
        scenario=lambda: Script(respond=late_window_update_and_rst),
        request=TWO,
        expect=Ignored() & Report("connections", lambda ev: len(ev.observations.connections)),
        bad={"reject-closed-stream-frames": "no-error-sent"},
    ),
    # §5.1.1: stream identifiers
    Case(
        id="9113/5.1.1/stream-ids-odd-increasing",
        level=MUST,
        covers=("R-5.1.1-1", "R-9.1-1"),
        requirement="§5.1.1: the client opens streams with odd identifiers, each greater than all "
                    "it used before on the connection.",
        server="Answers three sequential requests normally.",
        scenario=lambda: Script(),
        request=gets(3, timeout_ms=1000),
        expect=Succeeds() & Custom("odd stream ids, strictly increasing on each connection",
                                   _odd_increasing, name="stream-ids-increase")
        & Custom("the three requests share one connection, so their ids can be compared "
                 "(§9.1 SHOULD)", _shared, level=SHOULD, name="one-connection"),
        bad={"reuse-stream-id": "stream-ids-increase"},
    ),
    Case(
        id="9113/5.1.1/stream-ids-parallel-wire-order",
        level=MUST,
        covers=("R-5.1.1-1",),
        requirement="§5.1.1: a new stream's identifier MUST be greater than every identifier the "
                    "client opened before; with ten transfers started at once, the HEADERS frames "
                    "carry odd identifiers that increase in the order they reach the wire.",
        server="Answers nothing until all ten parallel requests are in (on any connections), then "
               "answers them all: every stream is open at once.",
        scenario=held_until(10),
        request=gets(10, mode="parallel", timeout_ms=2000),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds() & Custom("odd stream ids, strictly increasing in wire order on each connection",
                              _odd_increasing, name="stream-ids-increase"),
        bad={"ids-out-of-order": "stream-ids-increase"},
    ),
    Case(
        id="9113/5.1.1/stream-ids-exhausted-new-connection",
        level=MUST,
        covers=("R-6.8-2", "R-5.1.1-3"),
        requirement="§6.8: after a GOAWAY the client opens no stream on that connection again; each "
                    "further request goes on a new connection and completes. The GOAWAY stands in "
                    "for identifiers running out (§5.1.1, no keyword).",
        server="On every connection, follows each response with GOAWAY(NO_ERROR, last-stream-id = "
               "that stream) and keeps the connection open.",
        scenario=lambda: Script(respond=goaway_after_each_response),
        request=gets(3, timeout_ms=1000),
        expect=Succeeds() & Custom("no stream opened on a connection after its GOAWAY",
                                   _none_after_goaway, name="no-stream-after-goaway")
        & Connections(3, why="one new connection per request"),
        bad={"ignore-goaway": "no-stream-after-goaway"},
    ),
    # §5.1.2: concurrency
    Case(
        id="9113/5.1.2/max-concurrent-streams-1",
        level=MUST,
        covers=("R-5.1.2-1",),
        requirement="§5.1.2: once it has the server's SETTINGS_MAX_CONCURRENT_STREAMS=1 (it may open "
                    "streams before the SETTINGS arrives), the client never has two streams open "
                    "on that connection; extra transfers wait or use another connection, and all "
                    "succeed.",
        server="Sets MAX_CONCURRENT_STREAMS=1 in its preface; answers each request after one "
               "PING round trip.",
        scenario=limit_one,
        needs=frozenset({"h2", "parallel"}),
        request=gets(3, mode="parallel", timeout_ms=1000),
        expect=Succeeds() & Custom("at most one open stream per connection once the limit is "
                                   "acknowledged", _one_at_a_time, name="within-concurrency-limit")
        & Report("concurrency", lambda ev: dict(zip(("most_open", "before_ack", "streams_per_conn"),
                                                   _concurrency(ev)))),
        bad={"ignore-max-concurrent": "within-concurrency-limit"},
        regression="curl#6826",
    ),
    Case(
        id="9113/5.1.2/max-concurrent-streams-lowered",
        level=MUST,
        covers=("R-5.1.2-2",),
        requirement="§5.1.2 and §6.5.3: a MAX_CONCURRENT_STREAMS lowered mid-connection binds the "
                    "client from its ACK of the new SETTINGS: it opens no stream that would put it "
                    "above the new limit (streams already open may finish), and all transfers succeed.",
        server="Limit 2 in its preface; answers the first request at once, then sends "
               "SETTINGS(MAX_CONCURRENT_STREAMS=1); after the client's ACK answers the other "
               "requests one at a time, each after two PING round trips.",
        scenario=lowered_limit,
        needs=frozenset({"h2", "parallel"}),
        request=gets(4, mode="parallel", timeout_ms=1000),
        expect=Succeeds() & Custom("no stream opened above the acknowledged limit (1 after the "
                                   "ACK of the lowering)", _within_limits, name="within-concurrency-limit")
        & Report("opened_after_lowering_acked", _opened_under(1)),
        bad={"ignore-lowered-max-concurrent": "within-concurrency-limit"},
        regression="curl#6826",
    ),
    Case(
        id="9113/5.1.2/max-concurrent-streams-0",
        level=MUST,
        covers=("R-5.1.2-1", "R-5.1.2-3"),
        requirement="§5.1.2: with MAX_CONCURRENT_STREAMS=0 acknowledged the client MUST NOT open a "
                    "stream on that connection (streams sent before its ACK are allowed); the "
                    "transfers SHOULD wait or use another connection rather than fail outright.",
        server="Connection 0 starts with limit 0 and holds requests; after the client's SETTINGS "
               "ACK and one PING round trip raises the limit to 100 and answers them; later "
               "connections start with 100.",
        scenario=zero_limit,
        needs=frozenset({"h2", "parallel"}),
        request=gets(2, mode="parallel", timeout_ms=1000),
        expect=Custom("no stream opened while the acknowledged limit is 0", _within_limits, name="within-concurrency-limit")
        & Succeeds(level=SHOULD)
        & Report("opened_under_limit_0", _opened_under(0))
        & Report("connections", lambda ev: len(ev.observations.connections)),
        bad={"ignore-max-concurrent": "within-concurrency-limit"},
        regression="curl#4779",
    ),
    # §5.2 / §6.9: flow control
    Case(
        id="9113/5.2/body-beyond-initial-window",
        level=MUST,
        covers=("R-5.2-1",),
        requirement="§5.2 and §6.9: a 200000-octet body exceeds the 65535-octet initial connection "
                    "window, so the client MUST grant credit with WINDOW_UPDATE for it to complete.",
        server="Sends a 200000-octet body, never exceeding the client's windows.",
        scenario=lambda: Script(respond=reply(body=LARGE)),
        request=get(timeout_ms=1000),
        expect=Succeeds(body=LARGE) & Sent("WINDOW_UPDATE", "a connection-level WINDOW_UPDATE",
                                           lambda f: f.stream == 0 and bool(f.increment)),
        bad={"no-window-update": "sent-window-update"},
    ),
    # §5.3: priority signalling (deprecated)
    Case(
        id="9113/5.3/headers-self-dependency",
        level=MUST,
        covers=("R-6.2-2", "R-5.3-2"),
        level_note="The self-dependency (R-5.3-2) is Y, but a client must still skip the PRIORITY "
                   "flag's 5 octets (R-6.2-2, §6.2), which only the RFC 7540 §5.3.1 stream error "
                   "excuses.",
        requirement="§5.3.2: priority signalling is deprecated and a client may ignore the priority "
                    "fields of HEADERS; RFC 7540 §5.3.1 made a stream depending on itself a stream "
                    "error PROTOCOL_ERROR. Either way the outcome is definite: the exact body, or "
                    "that stream error (which reaction is reported).",
        server="Sends the response HEADERS with the PRIORITY flag and a stream dependency on its "
               "own stream, then the body.",
        scenario=lambda: Script(respond=self_dependent_headers),
        request=get(timeout_ms=1000),
        expect=AnyOf(Ignored(), StreamError("PROTOCOL_ERROR"),
                     why="RFC 9113 §5.3.2 lets priority fields be ignored; RFC 7540 §5.3.1 "
                         "required a stream error PROTOCOL_ERROR")
        & Report("self_dependency", _self_dependency),
        good=("good", "reject-self-dependency"),
        bad={"no-priority-flag": "goaway-code", "corrupt-body": "succeeds"},
    ),
    # §5.4.2: stream errors
    Case(
        id="9113/5.4.2/rst-not-answered",
        level=MUST,
        covers=("R-5.4.2-1", "R-6.4-2"),
        requirement="§5.4.2: the client MUST NOT answer an RST_STREAM with an RST_STREAM; the "
                    "reset transfer fails.",
        server="Sends response HEADERS, then RST_STREAM(CANCEL) on the stream.",
        scenario=lambda: Script(respond=frames(
            lambda conn, req: F.headers(req.stream, conn.block(response_fields())),
            lambda conn, req: F.rst_stream(req.stream, "CANCEL"))),
        expect=Fails("stream", "http2") & Custom("no RST_STREAM sent back on the reset stream",
                                                 _no_rst_after_rst, name="no-rst-answer"),
        bad={"rst-answer-rst": "no-rst-answer"},
    ),
    # §5.5: extensions
    Case(
        id="9113/5.5/unknown-frame-ignored",
        level=MUST,
        covers=("R-5.5-1",),
        requirement="§5.5: frames of an unknown type outside a field block MUST be ignored.",
        server="Sends frames of unknown type 0xee on stream 0 and on the request stream (all flags "
               "set) around the response HEADERS.",
        scenario=lambda: Script(respond=unknown_frames),
        expect=Ignored(),
        bad={"reject-unknown-frame": "no-error-sent"},
    ),
    Case(
        id="9113/5.5/unknown-setting-mid-connection",
        level=MUST,
        covers=("R-5.5-2",),
        requirement="§5.5 and §6.5.3: a SETTINGS frame holding only unknown settings is ignored "
                    "apart from being acknowledged.",
        server="After the request, sends SETTINGS with identifiers 0x5a5a=1 and 0xf00d=2^32-1, "
               "then a normal response.",
        scenario=fault_then_reply(F.settings([(0x5A5A, 1), (0xF00D, 2 ** 32 - 1)])),
        expect=Ignored() & _settings_acks(2),
        bad={"reject-unknown-setting": "acks-both-settings", "no-settings-ack": "acks-both-settings"},
    ),
    Case(
        id="9113/5.5/unknown-frame-inside-field-block",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-5.5-3", "R-4.3-2"),
        requirement="§5.5 and §4.3: an unknown frame in the middle of a field block MUST be treated "
                    "as a connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS, an unknown 0xee frame, the CONTINUATION, then the body.",
        scenario=lambda: Script(respond=unknown_inside_block),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
]
