"""RFC 9113 §6.9 WINDOW_UPDATE (§6.9.1 flow-control window limits), and the client as a receiver:
how it accounts for what the server sends (padding, dropped DATA, an overrun) and the credit it gives.

The receive-window cases have to send more than the client's window to show anything. Real
clients open windows of 1 to 1000 MiB, so a case spends at most SPEND octets of window: when the
client's window is larger, the case sends a short response and is NOT-EXERCISED.
"""
import struct

from conformance.case import MUST, Case, Job, Req, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Ignored, Report,
                                  StreamError, Succeeds, TransferSucceeds)
from conformance.verdicts.verdict import sha256
from servers import frames as F
from servers.scenario import Script, body_for, fault_then_reply, reply, response_fields

MAX_WINDOW = 2 ** 31 - 1
DEFAULT_WINDOW = 65535
SPEND = 1_200_000          # window octets a case may use to exercise the client's receive window
PATTERN = body_for("/window", SPEND)   # bodies of variable length are prefixes of this
PAD = 255                  # padding per DATA frame in the padded cases (§6.1)


# -- the client as a receiver ------------------------------------------------------------------
def window_of(conn, stream: int) -> int:
    """The client's receive window for DATA on `stream`, as the server sees it (§6.9)."""
    return min(conn.conn_window, conn.stream_window(stream))


class AfterPing(Script):
    """Holds each request for one PING round trip, so that the WINDOW_UPDATEs a client sends when
    it opens a stream are in before the case sizes its DATA; then `start(conn, req)`. Every client
    WINDOW_UPDATE calls `credit(conn)`."""

    def request_received(self, conn, req):
        conn.state.setdefault("held", {})[req.stream] = req
        conn.send(F.ping(b"wnd" + req.stream.to_bytes(5, "big")))

    def frame_received(self, conn, f):
        if f.type == "PING" and f.has("ACK") and f.ping and f.ping.startswith(b"wnd"):
            req = conn.state.get("held", {}).pop(int.from_bytes(f.ping[3:], "big"), None)
            if req is not None:
                self.start(conn, req)
        elif f.type == "WINDOW_UPDATE":
            self.credit(conn)

    def start(self, conn, req):
        reply()(conn, req)

    def credit(self, conn):
        pass


PADDED_COST = 1 + 1 + PAD   # window cost of a padded DATA frame carrying one octet (§6.1, §6.9.1)


class PaddedBeyondWindow(AfterPing):
    """A response of DATA frames that carry one octet and 255 octets of padding each, sent as the
    client's credit allows: W + 16384 octets of window in all, W being the client's window, when
    that is at most SPEND; otherwise 16 such frames (not exercised)."""

    def start(self, conn, req):
        w = window_of(conn, req.stream)
        n = (w + 16384) // PADDED_COST + 1 if w + 16384 <= SPEND else 16
        conn.state["padded"] = [req.stream, 0, n]          # stream, frames sent, frames in all
        conn.send_fields(req.stream, response_fields(n))
        self.credit(conn)

    def credit(self, conn):
        job = conn.state.get("padded")
        if not job:
            return
        sid, sent, n = job
        out = []
        while sent < n and window_of(conn, sid) - len(out) * PADDED_COST >= PADDED_COST:
            out.append(F.data(sid, PATTERN[sent:sent + 1], pad=PAD, end_stream=sent + 1 == n))
            sent += 1
        job[1] = sent
        if out:
            conn.send(b"".join(out))


DROP_TRIGGER = "a WINDOW_UPDATE that takes the stream's send window past 2^31-1 (§6.9.1)"
SECOND_BODY = body_for("/r/2", 32768)


class DroppedData(AfterPing):
    """/r/1: response HEADERS, then (one write) a WINDOW_UPDATE that takes the stream's send window
    past 2^31-1, so the client resets the stream (§6.9.1), and DATA on it that fills the client's
    whole connection window when that is at most SPEND and no larger than the stream window (else
    16384 octets, not exercised). /r/2: a 32768-octet body within the windows the server sees,
    which count the dropped DATA: only the client's credit for it lets /r/2 through."""

    def start(self, conn, req):
        if req.path != "/r/1":
            return reply(body=SECOND_BODY)(conn, req)
        w = window_of(conn, req.stream)
        n = w if conn.conn_window <= min(conn.stream_window(req.stream), SPEND) else 16384
        conn.send_fields(req.stream, response_fields(n))
        conn.send(F.window_update(req.stream, MAX_WINDOW))
        conn.send_body(req.stream, PATTERN[:n])


OVERRUN_SECOND = body_for("/r/2", 100000)


class Overrun(AfterPing):
    """/r/1: W + 16384 octets of DATA in one write, W being the client's window when that is at
    most SPEND (else 16384 octets, not exercised), whatever credit the client gives. /r/2: a
    100000-octet body within the windows the server sees, which count the overrun."""

    def start(self, conn, req):
        if req.path != "/r/1":
            return reply(body=OVERRUN_SECOND)(conn, req)
        w = window_of(conn, req.stream)
        n = w + 16384 if w + 16384 <= SPEND else 16384
        conn.send_fields(req.stream, response_fields(n))
        conn.send(b"".join(F.data(req.stream, PATTERN[i:min(i + 16384, n)], end_stream=i + 16384 >= n)
                           for i in range(0, n, 16384)))


def _stream_of(ev, path: str):
    for c in ev.observations.connections:
        for f in c.received:
            if f.type == "HEADERS" and (":path", path) in (f.headers or []):
                return c, f.stream
    return None, None


def _window_at_start(c, stream: int) -> tuple[int, int]:
    """The client's stream and connection windows when the server's first DATA on `stream` went
    out: its last INITIAL_WINDOW_SIZE and the WINDOW_UPDATEs before that DATA, less the DATA
    already sent on the connection."""
    first = next((f.seq for f in c.sent if f.type == "DATA" and f.stream == stream), None)
    iws, conn_w, credit = DEFAULT_WINDOW, DEFAULT_WINDOW, 0
    for f in c.received:
        if first is not None and f.seq > first:
            break
        if f.type == "SETTINGS" and not f.has("ACK"):
            iws = dict(f.settings or []).get("INITIAL_WINDOW_SIZE", iws)
        elif f.type == "WINDOW_UPDATE" and f.increment:
            conn_w += f.increment if f.stream == 0 else 0
            credit += f.increment if f.stream == stream else 0
    used = sum(f.length for f in c.sent if f.type == "DATA" and (first is None or f.seq < first))
    return iws + credit, conn_w - used


def small_window(path: str, fits) -> Exercised:
    """Exercised: when the server's DATA for `path` began, the client's windows were small enough
    for the case to go beyond them: `fits(stream window, connection window)`, the rule the
    scenario applied."""
    def check(ev):
        c, stream = _stream_of(ev, path)
        if c is None:
            return False, f"no request for {path}"
        stream_w, conn_w = _window_at_start(c, stream)
        return fits(stream_w, conn_w), (f"client windows: stream {stream_w}, connection {conn_w} "
                                        f"(the case spends at most {SPEND} octets of window)")
    return Exercised("the client's windows were small enough to go beyond", check)


def _one_stream(stream_w, conn_w):    # the padded and overrun responses: window + 16384
    return min(stream_w, conn_w) + 16384 <= SPEND


def _whole_connection(stream_w, conn_w):   # the dropped DATA takes the whole connection window
    return conn_w <= min(stream_w, SPEND)


def exact_body(path: str, index: int = 0) -> Custom:
    """Transfer `index` succeeds with exactly the DATA octets the server sent for `path` (a prefix
    of PATTERN)."""
    def check(ev):
        c, stream = _stream_of(ev, path)
        n = sum(f.data_len or 0 for f in c.sent if f.type == "DATA" and f.stream == stream) if c else 0
        o = ev.outcomes[index]
        ok = o.ok and o.status == 200 and o.body_len == n and o.body_sha256 == sha256(PATTERN[:n])
        return ok, f"transfer {index + 1} {o.summary()} (the server sent {n} octets of data)"
    return Custom(f"transfer {index + 1} succeeds with exactly the data the server sent", check,
                  name="succeeds")


def _reset_by_client(path: str):
    def check(ev):
        c, stream = _stream_of(ev, path)
        rst = [f for f in c.received if f.type == "RST_STREAM" and f.stream == stream] if c else []
        return bool(rst), (f"client sent {rst[0].describe()}" if rst else
                           f"client did not reset the stream of {path} (no stream to drop DATA on)")
    return check


def _reaction(ev):
    """R-6.9.1-3 (reported): what the client did with the DATA beyond its window."""
    o = ev.outcomes[0]
    codes = [f.describe() for f in ev.observations.frames()
             if f.type in ("RST_STREAM", "GOAWAY") and f.error_code != "NO_ERROR"]
    return "accepted the data" if o.ok else f"refused it: {', '.join(codes) or o.summary()}"


def _own_window_updates(ev):
    """R-6.9-4 (reported): the client's WINDOW_UPDATEs per connection and anything odd about them:
    an increment of 0, a window taken past 2^31-1, the same update twice with no DATA between."""
    out = []
    for c in ev.observations.connections:
        iws, sizes, last, odd = DEFAULT_WINDOW, {}, {}, []
        for _, server, f in sorted([(f.seq, False, f) for f in c.received]
                                   + [(f.seq, True, f) for f in c.sent], key=lambda e: e[0]):
            if server:
                if f.type == "DATA":
                    for sid in (0, f.stream):
                        sizes[sid] = sizes.get(sid, DEFAULT_WINDOW if sid == 0 else iws) - f.length
                        last.pop(sid, None)
                continue
            if f.type == "SETTINGS" and not f.has("ACK"):
                iws = dict(f.settings or []).get("INITIAL_WINDOW_SIZE", iws)
            if f.type != "WINDOW_UPDATE":
                continue
            sid, inc = f.stream, f.increment or 0
            sizes[sid] = sizes.get(sid, DEFAULT_WINDOW if sid == 0 else iws) + inc
            if inc == 0:
                odd.append(f"increment 0 on stream {sid}")
            if sizes[sid] > MAX_WINDOW:
                odd.append(f"stream {sid} window {sizes[sid]} past 2^31-1")
            if last.get(sid) == inc:
                odd.append(f"the same WINDOW_UPDATE(+{inc}) twice on stream {sid} with no DATA between")
            last[sid] = inc
        updates = [f"{f.stream}:+{f.increment}" for f in c.received if f.type == "WINDOW_UPDATE"]
        out.append({"connection": c.index, "updates": updates[:12], "count": len(updates), "odd": odd[:6]})
    return out


CASES = [
    Case(
        id="9113/6.9/window-update-zero-connection",
        level=MUST,
        requirement="§6.9: a WINDOW_UPDATE with an increment of 0 on stream 0 MUST be treated as a "
                    "connection error of type PROTOCOL_ERROR.",
        server="Sends WINDOW_UPDATE(stream 0, increment 0), then a normal response.",
        scenario=fault_then_reply(F.window_update(0, 0)),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9-1",),
    ),
    Case(
        id="9113/6.9/window-update-zero-stream",
        level=MUST,
        requirement="§6.9: a WINDOW_UPDATE with an increment of 0 on a stream MUST be treated as a "
                    "stream error of type PROTOCOL_ERROR (§5.4.2 lets the client escalate to a "
                    "connection error with the same code).",
        server="Sends WINDOW_UPDATE(request stream, increment 0), then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.window_update(req.stream, 0)),
        expect=StreamError("PROTOCOL_ERROR"),
        good=("good", "stream-as-connection"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9-1",),
    ),
    Case(
        id="9113/6.9/window-update-bad-length",
        level=MUST,
        requirement="§6.9: a WINDOW_UPDATE frame whose length is not 4 octets MUST be treated as a "
                    "connection error of type FRAME_SIZE_ERROR.",
        server="Sends a 5-octet WINDOW_UPDATE(stream 0, increment 1000), then a normal response.",
        scenario=fault_then_reply(F.frame(F.WINDOW_UPDATE, 0, 0, struct.pack(">I", 1000) + b"\0")),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9-1",),
    ),
    Case(
        id="9113/6.9/window-update-connection-overflow",
        level=MUST,
        requirement="§6.9.1: a WINDOW_UPDATE that takes the connection's send window above 2^31-1 "
                    "MUST be treated as a connection error of type FLOW_CONTROL_ERROR.",
        server="Sends WINDOW_UPDATE(stream 0, 2^31-1) on top of the initial 65535 window, then a "
               "normal response.",
        scenario=fault_then_reply(F.window_update(0, MAX_WINDOW)),
        expect=ConnectionError("FLOW_CONTROL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9.1-2",),
    ),
    Case(
        id="9113/6.9/window-update-stream-overflow",
        level=MUST,
        requirement="§6.9.1: a WINDOW_UPDATE that takes a stream's send window above 2^31-1 MUST be "
                    "treated as a stream error of type FLOW_CONTROL_ERROR (§5.4.2 lets the client "
                    "escalate to a connection error with the same code).",
        server="Sends WINDOW_UPDATE(request stream, 2^31-1) on top of the initial 65535 window, then "
               "a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.window_update(req.stream, MAX_WINDOW)),
        expect=StreamError("FLOW_CONTROL_ERROR"),
        good=("good", "stream-as-connection"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9.1-2",),
    ),
    Case(
        id="9113/6.9.1/window-update-sum-overflows-connection",
        level=MUST,
        requirement="§6.9.1: WINDOW_UPDATEs that together take the connection's send window above "
                    "2^31-1 MUST be treated as a connection error of type FLOW_CONTROL_ERROR, though "
                    "each alone is valid.",
        server="Sends WINDOW_UPDATE(stream 0, 2^30) twice on top of the initial 65535 window, then a "
               "normal response.",
        scenario=fault_then_reply(F.window_update(0, 2 ** 30), F.window_update(0, 2 ** 30)),
        expect=ConnectionError("FLOW_CONTROL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9.1-2",),
    ),
    Case(
        id="9113/6.9.1/window-update-sum-overflows-stream",
        level=MUST,
        requirement="§6.9.1: WINDOW_UPDATEs that together take a stream's send window above 2^31-1 "
                    "MUST be treated as a stream error of type FLOW_CONTROL_ERROR (§5.4.2 lets the "
                    "client escalate to a connection error), though each alone is valid.",
        server="Sends WINDOW_UPDATE(request stream, 2^30) twice on top of the initial 65535 window, "
               "then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.window_update(req.stream, 2 ** 30) * 2),
        expect=StreamError("FLOW_CONTROL_ERROR"),
        good=("good", "stream-as-connection"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9.1-2",),
    ),
    Case(
        id="9113/6.9.1/window-update-to-maximum",
        level=MUST,
        requirement="§6.9.1: a window may reach 2^31-1 exactly; WINDOW_UPDATEs that take the "
                    "connection's and a stream's send windows to exactly 2^31-1 are not an error.",
        server="Sends WINDOW_UPDATE(stream 0, 2^31-1-65535) and WINDOW_UPDATE(request stream, "
               "2^31-1-65535), then a normal response.",
        scenario=fault_then_reply(F.window_update(0, MAX_WINDOW - DEFAULT_WINDOW),
                                  lambda conn, req: F.window_update(req.stream, MAX_WINDOW - DEFAULT_WINDOW)),
        expect=Ignored(),
        bad={"strict-bounds": "no-error-sent"},
        covers=("R-6.9.1-2",),
    ),
    Case(
        id="9113/6.9/window-update-bad-length-stream",
        level=MUST,
        requirement="§6.9: a WINDOW_UPDATE whose length is not 4 octets MUST be treated as a "
                    "connection error of type FRAME_SIZE_ERROR, on a stream as on stream 0.",
        server="Sends a 3-octet WINDOW_UPDATE on the request stream, then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.frame(F.WINDOW_UPDATE, 0, req.stream, b"\0\x10\0")),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.9-1",),
    ),
    Case(
        id="9113/6.9/padding-counts-against-window",
        level=MUST,
        requirement="§6.1 and §6.9.1: the whole DATA payload, Pad Length and padding included, "
                    "counts against the windows, so the client's credit covers the padding and a "
                    "heavily padded response beyond its windows completes.",
        server="After a PING round trip, DATA frames of 1 octet and 255 octets of padding each, "
               "the client's window plus 16384 octets in all (at most 1.2 MB; else 16 frames, "
               "not exercised), sent as the client's credit allows.",
        scenario=PaddedBeyondWindow,
        request=Job((Req("/r/1"),), timeout_ms=1000),
        expect=small_window("/r/1", _one_stream) & exact_body("/r/1"),
        bad={"padding-not-counted": "succeeds", "no-padding": "succeeds"},
        covers=("R-6.9-2",),
    ),
    Case(
        id="9113/6.9/dropped-data-counts-against-connection",
        level=MUST,
        requirement="§6.9 and §5.1: DATA on a stream the client has reset still counts against the "
                    "connection window, so the client's connection credit covers it and a later "
                    "response on the connection does not stall.",
        server=f"/r/1: after a PING round trip, response HEADERS, {DROP_TRIGGER} and DATA on that "
               "stream that fill the client's connection window (at most 1.2 MB; else 16384 octets, "
               "not exercised); /r/2: 32768 octets within the windows.",
        scenario=DroppedData,
        request=Job((Req("/r/1"), Req("/r/2")), timeout_ms=1000),
        expect=Exercised("the client reset /r/1's stream", _reset_by_client("/r/1"))
        & small_window("/r/1", _whole_connection)
        & TransferSucceeds(1, body=SECOND_BODY),
        bad={"dropped-data-not-counted": "succeeds"},
        covers=("R-6.9-3",),
    ),
    Case(
        id="9113/6.9.1/server-overruns-window",
        level=MUST,
        covers=("R-6.9.1-3", "R-5.2-1"),
        level_note="R-6.9.1-3 leaves the reaction to an overrun open (Y, reported); the MUST is "
                   "that either reaction ends cleanly and the next response, within the windows, "
                   "completes (R-5.2-1).",
        requirement="§6.9: a server that sends more DATA than the client's window allows: the client "
                     "may accept the data or answer FLOW_CONTROL_ERROR (reported). Either way the "
                     "outcome is definite, and a later response within the windows completes.",
        server="/r/1: after a PING round trip, 16384 octets more DATA than the client's window in one "
               "write (at most 1.2 MB; else 16384 octets, not exercised); /r/2: 100000 octets within "
               "the windows the server sees, which count the overrun.",
        scenario=Overrun,
        request=Job((Req("/r/1"), Req("/r/2")), timeout_ms=1000),
        expect=small_window("/r/1", _one_stream)
        & AnyOf(exact_body("/r/1"), StreamError("FLOW_CONTROL_ERROR"),
                why="§6.9 lets the client accept the data or treat it as FLOW_CONTROL_ERROR")
        & TransferSucceeds(1, body=OVERRUN_SECOND) & Report("reaction", _reaction),
        good=("good", "enforce-receive-window"),
        bad={"no-window-update": "succeeds"},
    ),
    Case(
        id="9113/6.9/client-window-updates-sane",
        level=MUST,
        covers=("R-6.9-4", "R-5.2-1"),
        requirement="§6.9 and §5.2.1: two parallel 100000-octet responses arrive byte-exact, the "
                    "client giving back credit as it reads. Its WINDOW_UPDATEs are reported: an "
                    "increment of 0, a window past 2^31-1, the same update sent twice.",
        server="Answers two parallel GETs with 100000-octet bodies, within the client's windows.",
        scenario=lambda: Script(respond=lambda conn, req: reply(body=body_for(req.path, 100000))(conn, req)),
        request=gets(2, mode="parallel", timeout_ms=1000),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds(bodies=[body_for("/r/1", 100000), body_for("/r/2", 100000)])
        & Report("own_window_updates", _own_window_updates),
        bad={"no-window-update": "succeeds"},
    ),
]
