"""RFC 9113 §6.9 WINDOW_UPDATE (§6.9.1 flow-control window limits, §6.9.2 initial window changes)
and the client's windows both ways.

Uploads are served by the upload server of the §5.2 module, with scripted credit. As a
receiver, the client's accounting (padding, dropped DATA, an overrun) shows only once the server
sends more than the client's window; real clients open windows of 1 to 1000 MiB, so those cases
spend at most SPEND octets of window: when the client's window is larger, the case sends a
short response and is NOT-EXERCISED.
"""
import struct

from cases.rfc9113_s5_2_flow_control import (DEFAULT_WINDOW, POST, STEP, UPLOAD, WINDOW_KEPT,
                                             ConnectionWindowOnly, NegativeWindow, Upload,
                                             ZeroWindow, upload_on)
from conformance.case import MUST, WAIT_TIMEOUT_MS, Case, Job, Req, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Fails, Ignored, Report,
                                  StreamError, Succeeds, TransferSucceeds)
from conformance.verdicts.verdict import sha256
from servers import frames as F
from servers.scenario import Script, body_for, cycle, fault_then_reply, reply, response_fields

MAX_WINDOW = 2 ** 31 - 1
SPEND = 1_200_000          # window octets a case may use to exercise the client's receive window
PATTERN = body_for("/window", SPEND)   # bodies of variable length are prefixes of this
PAD = 255                  # padding per DATA frame in the padded cases (§6.1)


# -- uploads: scripted credit -----------------------------------------------------------------
class Dribble(ConnectionWindowOnly):
    """IWS=2^20, so only the connection window (65535, whatever the client read first) limits the
    upload. Once a PING round trip passes with no new DATA (blocked), connection credit for the
    rest of the body in 1-octet WINDOW_UPDATEs, all in one write."""
    REST = 4000
    BODY = cycle(DEFAULT_WINDOW + REST, 241)

    def credit(self, got: int) -> bytes:
        return F.window_update(0, 1) * (len(self.BODY) - got)


class RaisedMidUpload(Upload):
    """IWS=1000 and no stream credit, ever. Once the client has ACKed the SETTINGS and used up its
    stream window (blocked), SETTINGS raise IWS to 2^17, enough for the rest of the body (§6.9.2).
    The connection window stays open."""
    FIRST, RAISED = 1000, 1 << 17

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: self.FIRST})

    def maybe_raise(self, conn):
        s = self.st(conn)
        if conn.state.get("raised") or not s["acks"]:
            return
        if any(self.window(conn, sid, self.FIRST) <= 0 for sid in self.open_streams(conn)):
            conn.state["raised"] = True
            conn.send(F.settings({F.INITIAL_WINDOW_SIZE: self.RAISED}))

    def on_upload(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))
        self.maybe_raise(conn)

    def on_ack(self, conn, n):
        self.maybe_raise(conn)


class SharedConnectionWindow(Upload):
    """IWS=2^20 for two parallel uploads, no connection credit until a PING round trip passes with
    no new DATA on the connection (both blocked on the shared 65535); then 2^20 of it."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 1 << 20})

    def on_request(self, conn, stream):
        if not conn.state.get("watching"):
            conn.state["watching"] = True
            self.ping(conn, 0)

    def on_pong(self, conn, stream):
        got = self.st(conn)["conn_recv"]
        if conn.state.get("granted"):
            return
        if got and got == conn.state.get("last_seen"):
            conn.state["granted"] = True
            conn.send(F.window_update(0, 1 << 20))
        else:
            conn.state["last_seen"] = got
            self.ping(conn, 0)


class CarriedOver(Upload):
    """IWS=2^20 and no connection credit while two sequential 40000-octet uploads share the
    connection's 65535 octets: the second is blocked after 25535 until a PING round trip passes
    with no new DATA; then 2^20 of connection credit."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 1 << 20})

    def on_request(self, conn, stream):
        if len(self.st(conn)["recv"]) == 2:      # the second upload
            self.ping(conn, stream)

    def on_pong(self, conn, stream):
        got = self.st(conn)["conn_recv"]
        if conn.state.get("granted") or stream in self.st(conn)["ended"]:
            return
        if got == conn.state.get("last_seen"):
            conn.state["granted"] = True
            conn.send(F.window_update(0, 1 << 20))
        else:
            conn.state["last_seen"] = got
            self.ping(conn, stream)


class OneBlocked(Upload):
    """IWS=0 for two parallel uploads: /b gets its whole stream credit after a PING round trip; /a
    gets none until /b's body has ended, so /a's upload waits while /b's goes on."""
    SIZE = 20000

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 0})

    def on_request(self, conn, stream):
        self.ping(conn, stream)

    def on_pong(self, conn, stream):
        req = conn.requests.get(stream)
        if req is not None and req.path == "/b":
            self.grant(conn, stream, self.SIZE)

    def on_upload(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))
        req = conn.requests.get(f.stream)
        if req is not None and req.path == "/b" and f.has("END_STREAM"):
            for sid, other in conn.requests.items():
                if other.path == "/a":
                    self.grant(conn, sid, self.SIZE)


class ExactWindow(Upload):
    """IWS=16384 and a 16384-octet body: the window holds the body exactly, and no stream credit
    ever comes. The connection window stays open."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 16384})

    def on_upload(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))


class IwsOverflow(Script):
    """After the first request on connection 0: WINDOW_UPDATE(stream, 2^31-1-65535) takes the
    stream's send window to exactly 2^31-1, then SETTINGS(INITIAL_WINDOW_SIZE=65536) adds one more
    octet (§6.9.2), then a normal response. Other requests are answered normally."""

    def request_received(self, conn, req):
        if conn.index == 0 and not conn.state.get("overflowed"):
            conn.state["overflowed"] = True
            conn.send(F.window_update(req.stream, 2 ** 31 - 1 - DEFAULT_WINDOW)
                      + F.settings({F.INITIAL_WINDOW_SIZE: DEFAULT_WINDOW + 1}))
        super().request_received(conn, req)


class NeverCredit(Upload):
    """IWS=0 and no stream credit, ever: an upload waits until the client gives up. Other
    requests (bodiless) are answered normally."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 0})


def _uploads_arrived(*paths: str, size: int) -> Custom:
    """Each upload's whole body arrived on its stream, ending with END_STREAM."""
    def check(ev):
        got = {}
        for c in ev.observations.connections:
            sids = {f.stream: dict(f.headers or []).get(":path") for f in c.received if f.type == "HEADERS"}
            for f in c.frames("DATA"):
                p = sids.get(f.stream)
                n, ended = got.get((c.index, p), (0, False))
                got[(c.index, p)] = (n + (f.data_len or 0), ended or f.has("END_STREAM"))
        done = {p for (_, p), (n, ended) in got.items() if n == size and ended}
        return set(paths) <= done, f"octets per path: { {p: v for (_, p), v in got.items()} }"
    return Custom(f"the server receives {size} octets and END_STREAM for each of {', '.join(paths)}",
                  check, name="body-arrived")


def _or_beyond_window(reached):
    """A precondition that also holds when the client sent DATA beyond its windows: such a client
    never had to wait, and window-kept judges it."""
    def check(ev):
        ok, text = reached(ev)
        if not ok and not WINDOW_KEPT.fn(ev)[0]:
            return True, text + ", beyond the windows"
        return ok, text
    return check


def _waited_for_dribble(ev):
    """The client still had body to send when the 1-octet credits went out."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    first = next((f.seq for f in c.sent if f.type == "WINDOW_UPDATE" and f.increment == 1), None) if c else None
    if first is None:
        return False, "the server never sent its 1-octet WINDOW_UPDATEs"
    before = sum(f.data_len or 0 for f in c.received if f.type == "DATA" and f.seq < first)
    return before < len(Dribble.BODY), f"{before} body octets sent before the credit went out"


def _sent_settings(value: int):
    def check(ev):
        sent = any(f.type == "SETTINGS" and ("INITIAL_WINDOW_SIZE", value) in (f.settings or [])
                   for c in ev.observations.connections for f in c.sent)
        return sent, ("the server raised INITIAL_WINDOW_SIZE while the client was blocked" if sent
                      else "the body went out before the client was ever blocked (nothing to raise)")
    return check


def _b_before_a(ev):
    """/b's body ended while /a had had no stream credit (the server credits /a only after)."""
    for c in ev.observations.connections:
        paths = {f.stream: dict(f.headers or []).get(":path") for f in c.received if f.type == "HEADERS"}
        b_end = next((f.seq for f in c.received if f.type == "DATA" and f.has("END_STREAM")
                      and paths.get(f.stream) == "/b"), None)
        a_credit = next((f.seq for f in c.sent if f.type == "WINDOW_UPDATE"
                         and paths.get(f.stream) == "/a"), None)
        if b_end is not None:
            return a_credit is None or b_end < a_credit, "/b's upload ended while /a was blocked"
    return False, "/b's upload never ended"


def _connection_dropped(ev):
    """§6.9.2: the overflow ends the connection; no request goes on it after the client's ACK of
    the SETTINGS that caused it."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    fault = next((f.seq for f in c.sent if f.type == "SETTINGS" and f.settings
                  and f.settings[0][0] == "INITIAL_WINDOW_SIZE"), None) if c else None
    if fault is None:
        return False, "the server never sent the overflowing SETTINGS"
    late = [f.stream for f in c.headers_after(fault)]
    return not late, (f"stream(s) {late} opened on connection #0 after the overflow" if late else
                      "no stream opened on connection #0 after the overflow")


def _reset_code(ev):
    """R-6.4-4 (reported): how the client ended the upload it gave up on, and where /r/2 went."""
    conns = ev.observations.connections
    rst = [f.describe() for c in conns for f in c.received if f.type == "RST_STREAM"]
    where = [c.index for c in conns for f in c.received
             if f.type == "HEADERS" and (":path", "/r/2") in (f.headers or [])]
    return {"rst_stream": rst or None, "r2_on_connection": where[0] if where else None,
            "connections": len(conns)}


DRIBBLE = Job((Req("/upload", method="POST", body=Dribble.BODY),), timeout_ms=1000)
EXACT = cycle(16384, 233)
PARALLEL_UPLOADS = Job((Req("/a", method="POST", body=UPLOAD[:60000]),
                        Req("/b", method="POST", body=UPLOAD[:60000])), mode="parallel")
ONE_BLOCKED = Job((Req("/a", method="POST", body=UPLOAD[:OneBlocked.SIZE]),
                   Req("/b", method="POST", body=UPLOAD[:OneBlocked.SIZE])), mode="parallel")
TWO_UPLOADS = Job((Req("/a", method="POST", body=UPLOAD[:40000]),
                   Req("/b", method="POST", body=UPLOAD[:40000])))
PARALLEL = frozenset({"h2", "parallel"})


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
        id="9113/6.9.2/upload-zero-initial-window",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§5.2 and §6.9.2: with the server's SETTINGS_INITIAL_WINDOW_SIZE=0 the client "
                    "waits for WINDOW_UPDATE credit before sending request DATA and never sends more "
                    "than it was granted.",
        server=f"Sets INITIAL_WINDOW_SIZE=0; after the request HEADERS and a PING round trip grants "
               f"{STEP} octets of stream credit, then {STEP} more each time the client has used it "
               f"up, for a {len(UPLOAD)}-octet POST.",
        scenario=ZeroWindow,
        request=POST,
        expect=Succeeds() & WINDOW_KEPT & upload_on(0),
        bad={"ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.9.2/initial-window-made-negative",
        level=MUST,
        covers=("R-6.9.2-1",),
        requirement="§6.9.2: a SETTINGS_INITIAL_WINDOW_SIZE change applies to open streams and can "
                    "make a stream's window negative; the client then sends no DATA on it until "
                    "WINDOW_UPDATEs make the window positive again.",
        server="Sets INITIAL_WINDOW_SIZE=30000; after 20000 uploaded octets lowers it to 1000 "
               "(window negative), then a WINDOW_UPDATE brings the window to exactly 0, a PING round "
               f"trip passes, and {STEP}-octet credits follow as the window is used up.",
        scenario=NegativeWindow,
        request=POST,
        expect=Succeeds() & WINDOW_KEPT & upload_on(0),
        bad={"ignore-flow-control": "window-kept"},
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
        request=Job((Req("/r/1"),)),
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
        request=Job((Req("/r/1"), Req("/r/2"))),
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
        request=Job((Req("/r/1"), Req("/r/2"))),
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
        request=gets(2, mode="parallel"),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds(bodies=[body_for("/r/1", 100000), body_for("/r/2", 100000)])
        & Report("own_window_updates", _own_window_updates),
        bad={"no-window-update": "succeeds"},
    ),
    Case(
        id="9113/6.9.1/upload-window-update-dribble",
        level=MUST,
        covers=("R-6.9.1-1", "R-10.5-1"),
        level_note="The dribble is a flood of legal frames (R-10.5-1, S); what is judged is the "
                   "window accounting and the upload completing (R-6.9.1-1, M).",
        requirement="§6.9.1: connection credit given in 1-octet WINDOW_UPDATEs adds up like any "
                    "other; the client sends no DATA beyond it and the upload completes.",
        server=f"Sets INITIAL_WINDOW_SIZE=2^20; a {len(Dribble.BODY)}-octet POST uses up the "
               f"65535-octet connection window; once a PING round trip passes without new DATA, "
               f"{Dribble.REST} WINDOW_UPDATE(stream 0, 1) frames in one write.",
        scenario=Dribble,
        request=DRIBBLE,
        expect=Exercised("the upload waited for the 1-octet credits", _or_beyond_window(_waited_for_dribble))
        & Succeeds() & WINDOW_KEPT & upload_on(0, len(Dribble.BODY))
        & Report("data_frames", lambda ev: len(ev.observations.frames("DATA"))),
        bad={"ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.9.2/initial-window-raised-mid-upload",
        level=MUST,
        covers=("R-6.9.2-1",),
        requirement="§6.9.2: an INITIAL_WINDOW_SIZE raised mid-upload enlarges the window of the open "
                    "stream by the difference; the client uses that credit, with no WINDOW_UPDATE "
                    "for the stream.",
        server=f"Sets INITIAL_WINDOW_SIZE=1000 and never sends stream credit; once the client is "
               f"blocked (its ACK in, its stream window used up) raises it to "
               f"{RaisedMidUpload.RAISED}, enough for the rest of a {len(UPLOAD)}-octet POST.",
        scenario=RaisedMidUpload,
        request=POST,
        expect=Exercised("the client was blocked before the raise",
                         _or_beyond_window(_sent_settings(RaisedMidUpload.RAISED)))
        & Succeeds() & WINDOW_KEPT & upload_on(0),
        bad={"iws-new-streams-only": "body-arrived", "ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.9.1/parallel-uploads-share-connection-window",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§5.2.1 and §6.9.1: the connection window is shared by every stream; two "
                    "parallel uploads with ample stream credit together send no more than it "
                    "allows, then wait for connection credit.",
        server="Sets INITIAL_WINDOW_SIZE=2^20; two parallel 60000-octet POSTs; no connection "
               "WINDOW_UPDATE until a PING round trip passes with no new DATA, then 2^20.",
        scenario=SharedConnectionWindow,
        request=PARALLEL_UPLOADS,
        needs=PARALLEL,
        expect=Succeeds() & WINDOW_KEPT & _uploads_arrived("/a", "/b", size=60000),
        bad={"ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.9.1/blocked-upload-does-not-block-others",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§5.2 and §6.9.1: flow control is per stream; an upload waiting for stream credit "
                    "does not hold back another stream's upload that has credit.",
        server=f"Sets INITIAL_WINDOW_SIZE=0; of two parallel {OneBlocked.SIZE}-octet POSTs, /b gets "
               f"its whole credit after a PING round trip, /a only once /b's body has ended.",
        scenario=OneBlocked,
        request=ONE_BLOCKED,
        needs=PARALLEL,
        expect=Succeeds() & WINDOW_KEPT & _uploads_arrived("/a", "/b", size=OneBlocked.SIZE)
        & Custom("/b's upload ends while /a waits for credit", _b_before_a, name="other-stream-flows"),
        bad={"serial-uploads": "succeeds"},
    ),
    Case(
        id="9113/6.9.1/upload-fills-window-exactly",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§6.9.1: a body that exactly fills the stream window is complete once sent; the "
                    "client ends the stream without credit it does not need (END_STREAM on the last "
                    "DATA, or an empty DATA frame with END_STREAM, which needs no window).",
        server=f"Sets INITIAL_WINDOW_SIZE=16384 and never sends stream credit; answers a "
               f"{len(EXACT)}-octet POST once its END_STREAM arrives.",
        scenario=ExactWindow,
        request=Job((Req("/upload", method="POST", body=EXACT),)),
        expect=Succeeds() & WINDOW_KEPT & upload_on(0, len(EXACT)),
        bad={"end-stream-waits-for-window": "succeeds"},
    ),
    Case(
        id="9113/6.9.2/initial-window-overflows-open-stream",
        level=MUST,
        covers=("R-6.9.2-1",),
        requirement="§6.9.2: a change of SETTINGS_INITIAL_WINDOW_SIZE that takes an open stream's "
                    "send window above 2^31-1 MUST be treated as a connection error of type "
                    "FLOW_CONTROL_ERROR.",
        server="After the first of two sequential GETs: WINDOW_UPDATE takes the stream's window to "
               "exactly 2^31-1, then SETTINGS(INITIAL_WINDOW_SIZE=65536) adds one octet, then a "
               "normal response; the second GET is answered normally on any connection.",
        scenario=IwsOverflow,
        request=gets(2),
        expect=ConnectionError("FLOW_CONTROL_ERROR")
        & Custom("the connection is not used after the overflow (a connection error, not a stream "
                 "error)", _connection_dropped, name="connection-dropped"),
        bad={"naive": "transfer-fails"},
    ),
    Case(
        id="9113/6.9.1/upload-blocked-timeout-then-reuse",
        level=MUST,
        covers=("R-6.4-4", "R-6.9.1-1"),
        level_note="How the client ends the upload it gave up on, whether it reuses the connection "
                   "and how the next request ends are reported (R-6.4-4, Y); the MUST is that the "
                   "timed-out upload is never reported as a success and stays within its window.",
        requirement="§6.9.1 and §6.4: an upload blocked on a zero window until the client's own "
                    "timeout fails as a timeout, within its window; the client may reset the stream "
                    "(CANCEL fits) and reuse the connection. The code, the reuse and the outcome of "
                    "the next request are reported.",
        server=f"Sets INITIAL_WINDOW_SIZE=0 and never sends stream credit; a {len(UPLOAD)}-octet POST "
               f"(beyond the default window, in case DATA goes before the SETTINGS) waits forever; "
               f"the GET that follows is answered normally.",
        scenario=NeverCredit,
        request=Job((Req("/upload", method="POST", body=UPLOAD), Req("/r/2")),
                    timeout_ms=WAIT_TIMEOUT_MS),
        waits=True,
        expect=Fails("timeout", allow_timeout=True) & WINDOW_KEPT & Report("ending", _reset_code)
        & Report("next_request", lambda ev: ev.outcomes[1].summary()),
        bad={"ok-on-timeout": "transfer-fails", "ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.9.1/connection-window-carries-over",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§6.9.1: the connection window belongs to the connection, not to a request; "
                    "a second upload on the same connection starts from what the first one left, "
                    "and waits for connection credit when that runs out.",
        server="Sets INITIAL_WINDOW_SIZE=2^20 and sends no connection credit while two sequential "
               "40000-octet POSTs share the 65535-octet connection window; once the second is "
               "blocked (a PING round trip without new DATA), credits the connection with 2^20.",
        scenario=CarriedOver,
        request=TWO_UPLOADS,
        expect=Succeeds() & WINDOW_KEPT & _uploads_arrived("/a", "/b", size=40000),
        bad={"ignore-flow-control": "window-kept"},
    ),
]
