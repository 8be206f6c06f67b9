"""RFC 9113 §5 Streams and multiplexing: states (§5.1), identifiers (§5.1.1), concurrency (§5.1.2),
priority (§5.3), error handling (§5.4.2), extending HTTP/2 (§5.5). Flow control (§5.2) has its own
module."""
import struct

from cases.rfc9113_s5_2_flow_control import Upload
from conformance.case import MAY, MUST, NAIVE, SHOULD, Case, Job, Req, get, gets
from conformance.verdicts import (ConnectionError, Custom, Exercised, Fails,
                                  Ignored, Report, StreamError, Succeeds, TransferSucceeds)
from servers import frames as F
from servers.scenario import BODY, Script, cycle, fault_then_reply, frames, reply, response_fields

from cases._stream_faults import (CLIENT_RESET, NOT_AN_ERROR, QUIET_AFTER_RESET, SAME_CONNECTION,
                                  after_client_reset, stream_of)

UNKNOWN_TYPE = 0xEE  # no frame type registered with this code
# §5.1.2 (R-5.1.2-1): one transfer first, so the client has read the server's SETTINGS before
# the parallel ones start on the same client
WARM_UP_THEN_3 = (("sequential", 1), ("parallel", 3))


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


def _half_closed_signal(ev):
    """RST_STREAM(STREAM_CLOSED or a generic code) on the upload's stream, or an error GOAWAY."""
    c, stream = stream_of(ev, "/upload")
    if c is None:
        return False, "no upload request arrived"
    signals = [f for f in c.received if (f.type == "RST_STREAM" and f.stream == stream)
               or (f.type == "GOAWAY" and f.error_code not in NOT_AN_ERROR)]
    right = [f for f in signals if f.error_code in ("STREAM_CLOSED", "PROTOCOL_ERROR", "INTERNAL_ERROR")]
    return bool(right), "client sent " + (", ".join(f.describe() for f in (right or signals))
                                          or "neither RST_STREAM nor an error GOAWAY")


def _still_half_closed(ev):
    """R-5.1-2 applies only while the client still uploads; a client that reset the stream itself
    when the response ended (NO_ERROR or CANCEL) saw the HEADERS on a stream it reset (R-5.1-5)."""
    c, stream = stream_of(ev, "/upload")
    first = next((f for f in (c.received if c else [])
                  if f.type == "RST_STREAM" and f.stream == stream), None)
    if first is not None and first.error_code in NOT_AN_ERROR:
        return False, f"the client reset the stream itself with {first.describe()} when the response ended"
    return c is not None, "the stream was half-closed (remote) when the HEADERS arrived"


def _upload_octets(ev):
    c, stream = stream_of(ev, "/upload")
    return sum(f.data_len or 0 for f in (c.received if c else []) if f.type == "DATA" and f.stream == stream)


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


def late_window_update(conn, req):
    reply()(conn, req)
    conn.send(F.window_update(req.stream, 1024))


def late_rst(conn, req):
    reply()(conn, req)
    conn.send(F.rst_stream(req.stream, "NO_ERROR"))


def late_frames(conn, req):
    """/r/1: a late WINDOW_UPDATE; /r/2: a late RST_STREAM (each after a complete response)."""
    (late_window_update if req.path == "/r/1" else late_rst)(conn, req)


HALF_CLOSED_PROBE = b"halfclsd"


class AnswerUploadAtOnce(Upload):
    """Default windows and no credit, so an upload beyond 65535 octets cannot finish. On the
    request HEADERS: a complete response, then DATA on the same stream (half-closed (remote) for
    the client, which is still uploading), then a PING."""

    def __init__(self):
        super().__init__({})

    def on_request(self, conn, stream):
        reply()(conn, conn.requests[stream])
        conn.send(F.data(stream, b"after END_STREAM"), F.ping(HALF_CLOSED_PROBE))


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
    """§5.1.2 mid-connection: MAX_CONCURRENT_STREAMS=2 in the preface. The first request (the
    job's warm-up) makes the server send SETTINGS(MAX_CONCURRENT_STREAMS=1) and is answered once
    the client ACKs it (its second SETTINGS ACK), so the client knows the lowered limit before
    its next transfers start; those are answered one at a time (`_serve_next`)."""
    def respond(conn, req):
        if not conn.state.get("lowered"):
            conn.state["lowered"] = True
            conn.state["warm_up"] = req
            conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 1}))
            return
        conn.state.setdefault("queue", []).append(req)
        _serve_next(conn)

    def on_frame(conn, f):
        if f.type == "SETTINGS" and f.has("ACK"):
            conn.state["acks"] = conn.state.get("acks", 0) + 1
            if conn.state["acks"] == 2:
                conn.state["gate"] = True
                reply()(conn, conn.state.pop("warm_up"))
                _serve_next(conn)
        _pong(conn, f)
    return Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 2})], respond=respond,
                  on_frame=on_frame)


RAISE_AFTER = 5   # PING round trips after the warm-up's response before the limit rises


def _raise_token(round_: int) -> bytes:
    return b"raise!!" + bytes([round_])


def zero_limit() -> Script:
    """curl#4779: connection 0 starts with the usual limit of 100; the first request (the job's
    warm-up) makes the server send SETTINGS(MAX_CONCURRENT_STREAMS=0) and is answered once the
    client ACKs it, so the client holds an acknowledged limit of 0 when its next transfers start.
    The server then raises the limit to 100 and answers what it holds after RAISE_AFTER PING
    round trips, one after another. A client advances that chain by one step per read of the
    connection: one that opens streams there as soon as its next transfers start has read it
    once with the warm-up's response and about once per new transfer (the scripted client
    looks once per transfer), so its streams are on the wire before the raise; one that waits,
    as it should, keeps reading and sees the raise (a server that kept 0 forever would deadlock
    it). Later connections start with 100."""
    def respond(conn, req):
        st = conn.state
        if conn.index or st.get("raised"):
            return reply()(conn, req)
        if not st.get("lowered"):
            st["lowered"], st["warm_up"] = True, req
            return conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 0}))
        st.setdefault("held", []).append(req)

    def on_frame(conn, f):
        st = conn.state
        if conn.index or st.get("raised"):
            return
        if f.type == "SETTINGS" and f.has("ACK"):
            st["acks"] = st.get("acks", 0) + 1
            if st["acks"] == 2:                 # the ACK of the lowering to 0
                reply()(conn, st.pop("warm_up"))
                conn.send(F.ping(_raise_token(1)))
        elif f.type == "PING" and f.has("ACK") and f.ping and f.ping[:7] == b"raise!!":
            if f.ping[7] < RAISE_AFTER:
                return conn.send(F.ping(_raise_token(f.ping[7] + 1)))
            st["raised"] = True
            conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 100}))
            for req in st.pop("held", []):
                reply()(conn, req)
    return Script(respond=respond, on_frame=on_frame)


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


UPLOAD = cycle(200000, 251)


def answer_before_upload_ends() -> Script:
    """§5.1 half-closed (remote): on the request HEADERS of a 200000-octet upload, before any of
    its DATA got credit beyond the initial windows (so the client is still sending), a complete
    response, then a second HEADERS (END_STREAM) on the same stream."""
    def on_frame(conn, f):
        req = conn.requests.get(f.stream)
        if f.type == "HEADERS" and req is not None and not req.complete and not conn.state.get("early"):
            conn.state["early"] = f.stream
            reply()(conn, req)
            conn.send(F.headers(f.stream, conn.block([("x-late", "1")]), end_stream=True))

    def respond(conn, req):
        if conn.state.get("early") != req.stream:
            reply()(conn, req)
    return Script(respond=respond, on_frame=on_frame)


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


def _warm_up_under(limit: int) -> Exercised:
    """Precondition: the warm-up (the first stream of connection 0) ended after the client had
    acknowledged MAX_CONCURRENT_STREAMS=limit there, so the job's later transfers started
    under that limit (§6.5.3: it binds from the ACK)."""
    def check(ev):
        if not ev.observations.connections:
            return False, "no connection"
        c = ev.observations.connections[0]
        events = sorted([(f.seq, True, f) for f in c.received] + [(f.seq, False, f) for f in c.sent],
                        key=lambda t: t[0])
        pending, acked_at, first, ended_at = [], None, None, None
        for seq, from_client, f in events:
            if f.type == "SETTINGS" and not f.has("ACK") and not from_client:
                pending.append(dict(f.settings or []).get("MAX_CONCURRENT_STREAMS"))
            elif f.type == "SETTINGS" and f.has("ACK") and from_client and pending:
                if pending.pop(0) == limit and acked_at is None:
                    acked_at = seq
            elif from_client and f.type == "HEADERS" and first is None:
                first = f.stream
            elif not from_client and f.stream == first and f.has("END_STREAM") and ended_at is None:
                ended_at = seq
        return (acked_at is not None and ended_at is not None and acked_at < ended_at,
                f"connection #0: limit {limit} acknowledged at wire position {acked_at}, the "
                f"warm-up (stream {first}) ended at {ended_at}")
    return Exercised(f"the warm-up transfer ended after the client acknowledged "
                     f"MAX_CONCURRENT_STREAMS={limit}", check)


def _opened_under(limit: int):
    """Report: streams opened after the client ACKed a limit of `limit` (did the case exercise it?)."""
    return lambda ev: [(o["conn"], o["stream"]) for o in _limits(ev) if o["acked"] == limit]


def _errors(frames) -> list:
    return [f for f in frames if f.type in ("RST_STREAM", "GOAWAY") and f.error_code not in ("NO_ERROR", "CANCEL")]


def _priority_fields_skipped(ev):
    """§6.2: the 5 octets of the PRIORITY flag are skipped, so the field block decodes and the
    response arrives exactly. RFC 7540 §5.3.1's stream error PROTOCOL_ERROR for a stream that
    depends on itself (or that error escalated, §5.4.1) is the one other outcome: no other code,
    which would show the block misread."""
    o, sent = ev.outcome, _errors(ev.observations.frames())
    accepted = o.ok and o.status == 200 and o.body_len == len(BODY) and not sent
    refused = not o.ok and all(f.error_code == "PROTOCOL_ERROR" for f in sent)
    return accepted or refused, (f"transfer {o.summary()}; client sent "
                                 + (", ".join(f.describe() for f in sent) or "no error frame"))


def _refusal_signalled(ev):
    """A refusal goes out as RST_STREAM or GOAWAY (a connection error without GOAWAY: SHOULD)."""
    sent = _errors(ev.observations.frames())
    return ev.outcome.ok or bool(sent), ("accepted" if ev.outcome.ok else
                                         ", ".join(f.describe() for f in sent) or "client sent neither")


def _late_errors(ev):
    """Error frames the client sent about the late WINDOW_UPDATE (on /r/1's connection, before
    the server's late RST_STREAM) and about the late RST_STREAM (everything after it)."""
    on_update, on_rst = [], []
    c1, s1 = _stream_of(ev, "/r/1")
    for c in ev.observations.connections:
        rst = min((f.seq for f in c.sent if f.type == "RST_STREAM"), default=None)
        for f in _errors(c.received):
            about_update = c is c1 and (rst is None or f.seq < rst) and f.stream in (0, s1)
            (on_update if about_update else on_rst).append(f.describe())
    return on_update, on_rst


def _half_closed_exercised(ev):
    """R-5.1-5 instead: the client reset the stream itself (NO_ERROR, CANCEL) as the response ended."""
    c, stream = _stream_of(ev, "/upload")
    if c is None:
        return False, "the upload never reached the server"
    own = [f for f in c.received if f.type == "RST_STREAM" and f.stream == stream]
    if own and own[0].error_code in ("NO_ERROR", "CANCEL"):
        return False, (f"the client reset stream {stream} itself ({own[0].error_code}) when the response "
                       f"ended, so the DATA met a closed stream (R-5.1-5)")
    return True, f"stream {stream} was half-closed (remote) when the DATA arrived"


def _half_closed_not_ignored(ev):
    """A client that answered the PING behind the DATA without any error frame ignored it."""
    c, stream = _stream_of(ev, "/upload")
    if c is None:
        return False, "the upload never reached the server"
    acked = [f.seq for f in c.received if f.type == "PING" and f.has("ACK") and f.ping == HALF_CLOSED_PROBE]
    sent = [f for f in _errors(c.received) if f.stream in (0, stream)]
    if sent:
        return True, f"client sent {sent[0].describe()}"
    return not acked, ("client answered the PING behind the DATA and never signalled an error" if acked
                       else "client sent no error frame and closed without answering the PING")


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


UPLOAD_BODY = bytes(range(256)) * 1024   # 256 KiB, far beyond the default windows
TRANSFER_1 = Report("transfer_1_ok", lambda ev: ev.outcomes[0].ok)
TWO = gets(2)
LATE_AFTER_RESET = (CLIENT_RESET & Fails() & QUIET_AFTER_RESET & TransferSucceeds(1) & SAME_CONNECTION)
ANSWERS_LATE = {"answer-frames-after-reset": "quiet-after-reset"}

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
        id="9113/5.1/window-update-on-idle-stream",
        level=MUST,
        bad=NAIVE,
        covers=("R-5.1-1",),
        requirement="§5.1: a WINDOW_UPDATE on an idle stream (an odd stream the client never opened) "
                    "MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends WINDOW_UPDATE(1024) on stream request+2 (never opened), then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.window_update(req.stream + 2, 1024)),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/5.1.1/headers-on-unopened-odd-stream",
        level=MUST,
        bad=NAIVE,
        covers=("R-5.1.1-2",),
        requirement="§5.1 and §5.1.1: HEADERS on an odd stream the client never opened is on an idle "
                    "stream that only the client may open, a connection error of type PROTOCOL_ERROR.",
        server="Sends a complete response HEADERS (END_STREAM) on stream request+100 (odd, never "
               "opened), then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.headers(req.stream + 100, conn.block(
            [(":status", "200"), ("content-length", "0")]), end_stream=True)),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/5.1/headers-on-half-closed-remote",
        level=MUST,
        covers=("R-5.1-2",),
        requirement="§5.1: once the server ended its side with END_STREAM while the client is still "
                    "uploading, the stream is half-closed (remote) for the client, and a HEADERS on "
                    "it MUST be a stream error of type STREAM_CLOSED (a connection error is allowed). "
                    "What the transfer reports and how much more the client uploads are reported.",
        server="On the request HEADERS of a 200000-octet POST, before granting any credit, sends a "
               "complete response, then a HEADERS (END_STREAM) on the same stream.",
        scenario=answer_before_upload_ends,
        request=Job((Req("/upload", method="POST", body=UPLOAD),)),
        expect=Exercised("the client was still uploading, not resetting the stream itself, when "
                         "the HEADERS arrived", _still_half_closed)
        & Custom("RST_STREAM(STREAM_CLOSED, or a generic code) on the stream, or a connection error",
                 _half_closed_signal, name="stream-closed-code")
        & TRANSFER_1 & Report("upload_octets_sent", _upload_octets),
        bad={"naive": "stream-closed-code"},
    ),
    Case(
        id="9113/5.1/data-after-client-reset",
        level=MUST,
        covers=("R-5.1-5",),
        requirement="§5.1: DATA that arrives on a stream just after the client reset it MUST be "
                    "ignored: the transfer stays failed, nothing answers the DATA, and the connection "
                    "carries the next request.",
        server="Answers /r/1 with a malformed response (uppercase field name) and a WINDOW_UPDATE "
               "overflowing the stream window; on the client's RST_STREAM sends DATA (END_STREAM) "
               "on that stream; answers /r/2 normally.",
        scenario=lambda: after_client_reset(lambda conn, s: F.data(s, BODY, end_stream=True)),
        request=TWO,
        expect=LATE_AFTER_RESET,
        bad=ANSWERS_LATE,
    ),
    Case(
        id="9113/5.1/window-update-after-client-reset",
        level=MUST,
        covers=("R-5.1-5",),
        requirement="§5.1: a WINDOW_UPDATE that arrives on a stream just after the client reset it "
                    "MUST be ignored, and the connection carries the next request.",
        server="Answers /r/1 with a malformed response (uppercase field name) and a WINDOW_UPDATE "
               "overflowing the stream window; on the client's RST_STREAM sends WINDOW_UPDATE(1024) "
               "on that stream; answers /r/2 normally.",
        scenario=lambda: after_client_reset(lambda conn, s: F.window_update(s, 1024)),
        request=TWO,
        expect=LATE_AFTER_RESET,
        bad={**ANSWERS_LATE, "reject-closed-stream-frames": "quiet-after-reset"},
    ),
    Case(
        id="9113/5.1/rst-after-client-reset",
        level=MUST,
        covers=("R-5.1-5",),
        requirement="§5.1: an RST_STREAM that arrives on a stream just after the client reset it "
                    "(the server's reset crossing the client's) MUST be ignored, and the connection "
                    "carries the next request.",
        server="Answers /r/1 with a malformed response (uppercase field name) and a WINDOW_UPDATE "
               "overflowing the stream window; on the client's RST_STREAM sends RST_STREAM(CANCEL) "
               "on that stream; answers /r/2 normally.",
        scenario=lambda: after_client_reset(lambda conn, s: F.rst_stream(s, "CANCEL")),
        request=TWO,
        expect=LATE_AFTER_RESET,
        bad={**ANSWERS_LATE, "reject-closed-stream-frames": "quiet-after-reset"},
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
        level=MAY,
        covers=("R-5.1-3",),
        requirement="§5.1 and §6.1: DATA on a stream closed in both directions may be ignored or "
                    "answered with STREAM_CLOSED, as a stream or a connection error (§5.1 makes the "
                    "connection error a MAY and §6.1 the stream error a MUST: the weaker level); "
                    "which is reported, and whether the extra octets reach the application.",
        server="Answers /r/1 completely, then sends a DATA frame with END_STREAM on it; /r/2 is "
               "answered normally.",
        scenario=lambda: Script(respond=first_request(data_after_end_stream)),
        request=TWO,
        expect=Custom("the octets after END_STREAM never join the response of /r/1",
                      lambda ev: (ev.outcome.body_len <= len(BODY), f"transfer 1 {ev.outcome.summary()}"),
                      name="late-data-not-delivered")
        & TransferSucceeds(1) & TRANSFER_1
        & Report("stream_closed_signal", lambda ev: _closed_signal(ev, "/r/1")[1]),
        good=("good", "stream-as-connection", "naive"),
        bad={"deliver-late-data": "late-data-not-delivered"},
    ),
    Case(
        id="9113/5.1/frame-on-half-closed-remote",
        level=MUST,
        covers=("R-5.1-2",),
        requirement="§5.1: once the server has ended its side with END_STREAM while the client is "
                    "still uploading, the stream is half-closed (remote) for the client, and a DATA "
                    "frame on it MUST be treated as a stream error STREAM_CLOSED (a connection error "
                    "is allowed). A client that resets the stream itself as the response ends meets "
                    "the DATA on a closed stream instead (R-5.1-5): then this is not exercised.",
        server="Grants no credit beyond the default windows and answers a 256 KiB POST on its "
               "HEADERS with a complete response, then at once DATA on the same stream and a PING.",
        scenario=AnswerUploadAtOnce,
        request=Job((Req("/upload", method="POST", body=UPLOAD_BODY),)),
        expect=Exercised("the stream was half-closed (remote) when the DATA arrived",
                         _half_closed_exercised)
        & StreamError("STREAM_CLOSED", fails=False)
        & Custom("the DATA is not ignored: the client does not carry on (answering the PING behind "
                 "it) without an error frame", _half_closed_not_ignored, name="not-ignored")
        & Report("transfer", lambda ev: ev.outcome.summary()),
        good=("good", "stream-as-connection"),
        bad={"naive": "not-ignored"},
    ),
    Case(
        id="9113/5.1/frames-after-server-reset",
        level=MAY,
        covers=("R-5.1-4",),
        requirement="§5.1 and §6.1: DATA on a stream the server reset may be ignored or answered "
                    "with STREAM_CLOSED, as a stream or a connection error (RFC 7540's MUST is gone, "
                    "and §5.1's MAY and §6.1's MUST disagree); which is reported, and whether its "
                    "octets reach the application. That the reset fails the transfer is "
                    "6.4/rst-mid-response.",
        server="For /r/1 sends HEADERS, RST_STREAM(INTERNAL_ERROR), then DATA with END_STREAM on "
               "the same stream; /r/2 is answered normally.",
        scenario=lambda: Script(respond=first_request(data_after_reset)),
        request=TWO,
        expect=Custom("no octet of the DATA after the reset reaches the application",
                      lambda ev: (ev.outcome.body_len == 0, f"transfer 1 {ev.outcome.summary()}, "
                                  f"{ev.outcome.body_len} body octets"), name="reset-data-not-delivered")
        & TransferSucceeds(1)
        & Report("stream_closed_signal", lambda ev: _closed_signal(ev, "/r/1")[1]),
        good=("good", "stream-as-connection", "naive"),
        bad={"deliver-late-data": "reset-data-not-delivered"},
    ),
    Case(
        id="9113/5.1/late-window-update-and-rst",
        level=MUST,
        covers=("R-5.1-6", "R-5.1-7"),
        requirement="§6.9 and §5.1: a WINDOW_UPDATE just after a stream closed is not an error "
                    "(MUST); a late RST_STREAM on a closed stream is expected and tolerated, with no "
                    "keyword (reported).",
        server="Answers /r/1 completely, then sends WINDOW_UPDATE(1024) on its stream; answers /r/2 "
               "completely, then sends RST_STREAM(NO_ERROR) on its stream.",
        scenario=lambda: Script(respond=late_frames),
        request=TWO,
        expect=Succeeds()
        & Custom("no error frame about the late WINDOW_UPDATE", lambda ev: (
            not _late_errors(ev)[0], "; ".join(_late_errors(ev)[0]) or "none"), name="late-window-update-ignored")
        & Custom("no error frame about the late RST_STREAM", lambda ev: (
            not _late_errors(ev)[1], "; ".join(_late_errors(ev)[1]) or "none"), level=MAY,
            name="late-rst-ignored")
        & Report("connections", lambda ev: len(ev.observations.connections)),
        bad={"reject-closed-stream-frames": "late-window-update-ignored"},
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
        request=gets(3),
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
        request=gets(10, mode="parallel"),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds() & Custom("odd stream ids, strictly increasing in wire order on each connection",
                              _odd_increasing, name="stream-ids-increase"),
        bad={"ids-out-of-order": "stream-ids-increase"},
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
               "PING round trip. The job's warm-up transfer ends before three parallel ones start.",
        scenario=limit_one,
        needs=frozenset({"h2", "parallel"}),
        request=gets(4, phases=WARM_UP_THEN_3),
        expect=_warm_up_under(1) & Succeeds()
        & Custom("at most one open stream per connection once the limit is acknowledged",
                 _one_at_a_time, name="within-concurrency-limit")
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
        server="Limit 2 in its preface; on the warm-up request sends SETTINGS(MAX_CONCURRENT_STREAMS=1) "
               "and answers it after the client's ACK; then answers the three parallel requests "
               "one at a time, each after two PING round trips.",
        scenario=lowered_limit,
        needs=frozenset({"h2", "parallel"}),
        request=gets(4, phases=WARM_UP_THEN_3),
        expect=_warm_up_under(1) & Succeeds()
        & Custom("no stream opened above the acknowledged limit (1 after the ACK of the lowering)",
                 _within_limits, name="within-concurrency-limit")
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
        server="Connection 0: on the warm-up request sends SETTINGS(MAX_CONCURRENT_STREAMS=0) and "
               "answers it after the client's ACK; five PING round trips later raises the limit to "
               "100 and answers the two parallel requests it holds. Later connections: limit 100.",
        scenario=zero_limit,
        needs=frozenset({"h2", "parallel"}),
        request=gets(3, phases=(("sequential", 1), ("parallel", 2))),
        expect=_warm_up_under(0)
        & Custom("no stream opened while the acknowledged limit is 0", _within_limits, name="within-concurrency-limit")
        & Succeeds(level=SHOULD)
        & Report("opened_under_limit_0", _opened_under(0))
        & Report("connections", lambda ev: len(ev.observations.connections)),
        bad={"ignore-max-concurrent": "within-concurrency-limit"},
        regression="curl#4779",
    ),
    # §5.3: priority signalling (deprecated)
    Case(
        id="9113/5.3/headers-self-dependency",
        level=MUST,
        covers=("R-6.2-2", "R-5.3-2"),
        requirement="§6.2 and §5.3.2: a client skips the 5 priority octets of a HEADERS with the "
                    "PRIORITY flag and may ignore what they say; RFC 7540 §5.3.1 made a stream "
                    "depending on itself a stream error PROTOCOL_ERROR, which RFC 9113 dropped "
                    "(reported). Either way the outcome is definite: the exact body, or that stream "
                    "error; never a field block misread from the priority octets.",
        server="Sends the response HEADERS with the PRIORITY flag and a stream dependency on its "
               "own stream, then the body.",
        scenario=lambda: Script(respond=self_dependent_headers),
        request=get(),
        expect=Custom("the response arrives exactly, or is refused with PROTOCOL_ERROR (RFC 7540 "
                      "§5.3.1); no other error", _priority_fields_skipped,
                      name="priority-fields-skipped")
        & Custom("a refusal is signalled with RST_STREAM or GOAWAY (§5.4.1)", _refusal_signalled,
                 level=SHOULD, name="refusal-signalled")
        & Report("self_dependency", lambda ev: _priority_fields_skipped(ev)[1]),
        good=("good", "reject-self-dependency"),
        bad={"no-priority-flag": "priority-fields-skipped"},
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
