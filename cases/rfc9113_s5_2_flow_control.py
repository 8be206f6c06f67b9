"""RFC 9113 §5.2 flow control: the client's receive windows (bodies beyond them), a receiver the
application pauses (§5.2.2; curl#16955, curl#10988, curl#4939; the adapter's `pause`) and its
uploads (§5.2.1). The upload server and its checks serve the §6.9 and §6.8 upload cases too.

Downloads: the server sizes the body from the windows the client opened, so only credit the
client gives back while it reads (a replenishing WINDOW_UPDATE) lets the body complete.

Uploads: the server scripts its credit. `window_kept` replays every connection from the server's
side and checks that no client DATA frame ever went beyond the credit the client could have had:
the initial window in force (any value the client may have applied: the one it last ACKed, or
one sent but not yet ACKed) plus every WINDOW_UPDATE sent before that DATA, per stream and for
the connection (65535 plus updates on stream 0).
"""
import hashlib

from conformance.case import MUST, Case, Job, Req, get
from conformance.verdicts import Custom, Exercised, Report, Sent, Succeeds
from servers import frames as F
from servers.reference import body_of_size
from servers.scenario import Script, body_for, cycle, reply

UPLOAD = cycle(100000, 239)     # beyond the 65535 default window
STEP = 8192                                        # credit granted per WINDOW_UPDATE
DEFAULT_WINDOW = 65535
POST = Job((Req("/upload", method="POST", body=UPLOAD),))


# -- the server side --------------------------------------------------------------------------
class Upload(Script):
    """A server that reads an upload with scripted credit. Subclasses decide, per event, what
    WINDOW_UPDATEs to send; `st(conn)` keeps the bookkeeping: octets received per stream and on
    the connection, stream credit granted by WINDOW_UPDATE, the IWS the client ACKed."""

    def __init__(self, settings: dict):
        super().__init__(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100, **settings})])
        self.initial = settings.get(F.INITIAL_WINDOW_SIZE, DEFAULT_WINDOW)

    @staticmethod
    def st(conn) -> dict:
        return conn.state.setdefault("flow", {"recv": {}, "credit": {}, "conn_recv": 0, "acks": 0,
                                              "ended": set()})

    def grant(self, conn, stream: int, n: int) -> None:
        if n > 0:
            self.st(conn)["credit"][stream] = self.st(conn)["credit"].get(stream, 0) + n
            conn.send(F.window_update(stream, n))

    def window(self, conn, stream: int, iws: int) -> int:
        """The stream's send window as the client sees it once it applied `iws` (§6.9.2)."""
        s = self.st(conn)
        return iws + s["credit"].get(stream, 0) - s["recv"].get(stream, 0)

    def _on_data(self, conn, f):
        s = self.st(conn)
        s["recv"][f.stream] = s["recv"].get(f.stream, 0) + f.length   # padding counts (§6.9.1)
        s["conn_recv"] += f.length
        req = conn.requests.get(f.stream)
        if req is not None:
            req.body += b"\0" * (f.data_len or 0)
        if f.has("END_STREAM"):
            s["ended"].add(f.stream)
        self.on_upload(conn, f)
        if req is not None and f.has("END_STREAM"):
            self._complete(conn, req)

    handlers = {**Script.handlers, "DATA": _on_data}

    def frame_received(self, conn, f):
        if f.type == "SETTINGS" and f.has("ACK"):
            self.st(conn)["acks"] += 1
            self.on_ack(conn, self.st(conn)["acks"])
        elif f.type == "HEADERS" and f.stream not in self.st(conn)["recv"]:
            self.st(conn)["recv"][f.stream] = 0
            self.on_request(conn, f.stream)
        elif f.type == "PING" and f.has("ACK") and f.ping and f.ping.startswith(b"flow"):
            self.on_pong(conn, int.from_bytes(f.ping[4:], "big"))

    def ping(self, conn, stream: int) -> None:
        conn.send(F.ping(b"flow" + stream.to_bytes(4, "big")))

    def open_streams(self, conn):
        s = self.st(conn)
        return [sid for sid in s["recv"] if sid not in s["ended"]]

    # hooks
    def on_request(self, conn, stream): pass
    def on_upload(self, conn, f): pass
    def on_ack(self, conn, n): pass
    def on_pong(self, conn, stream): pass


class ZeroWindow(Upload):
    """IWS=0. After the request HEADERS, a PING round trip (a client that sends without credit
    shows it now), then STEP octets of credit each time the client has used up its window."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 0})

    def refill(self, conn, stream):
        w = self.window(conn, stream, 0)
        if stream not in self.st(conn)["ended"] and w <= 0:
            self.grant(conn, stream, STEP - w)

    def on_request(self, conn, stream):
        self.ping(conn, stream)

    def on_pong(self, conn, stream):
        self.st(conn).setdefault("started", set()).add(stream)
        self.refill(conn, stream)

    def on_upload(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))        # the connection window stays open
        if f.stream in self.st(conn).get("started", ()):
            self.refill(conn, f.stream)

    def on_ack(self, conn, n):   # a client that sent early under the default window may be negative
        for sid in self.open_streams(conn):
            if sid in self.st(conn).get("started", ()):
                self.refill(conn, sid)


class NegativeWindow(Upload):
    """IWS=30000; once the client has ACKed it and sent 20000 octets, SETTINGS IWS=1000 makes the
    stream window negative (§6.9.2). After that ACK, a WINDOW_UPDATE brings the window back to
    exactly 0, a PING round trip follows (a client that treats the negative window as 0 sends
    now), then STEP octets of credit whenever the window is used up."""
    FIRST, SECOND, LOWER_AT = 30000, 1000, 20000

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: self.FIRST})

    def phase(self, conn, value=None):
        if value is not None:
            conn.state["phase"] = value
        return conn.state.get("phase", "first")

    def maybe_lower(self, conn):
        s = self.st(conn)
        if self.phase(conn) == "first" and s["acks"] >= 1 and any(
                s["recv"].get(sid, 0) >= self.LOWER_AT for sid in self.open_streams(conn)):
            self.phase(conn, "lowered")
            conn.send(F.settings({F.INITIAL_WINDOW_SIZE: self.SECOND}))

    def on_upload(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))
        self.maybe_lower(conn)
        if self.phase(conn) == "stepping":
            self.refill(conn, f.stream)

    def refill(self, conn, stream):
        w = self.window(conn, stream, self.SECOND)
        if stream not in self.st(conn)["ended"] and w <= 0:
            self.grant(conn, stream, STEP - w)

    def on_ack(self, conn, n):
        self.maybe_lower(conn)
        if n == 2 and self.phase(conn) == "lowered":      # the client applied IWS=1000
            self.phase(conn, "zeroed")
            for sid in self.open_streams(conn):
                self.grant(conn, sid, -self.window(conn, sid, self.SECOND))
                self.ping(conn, sid)

    def on_pong(self, conn, stream):
        if self.phase(conn) == "zeroed":
            self.phase(conn, "stepping")
            self.refill(conn, stream)


class ConnectionWindowOnly(Upload):
    """IWS=2^20 (plenty of stream credit), but no WINDOW_UPDATE on stream 0, so the connection
    window (65535) runs out first. PING round trips watch the upload: once one passes with no new
    DATA (the client is blocked), the connection gets credit for the rest."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 1 << 20})

    def on_request(self, conn, stream):
        self.ping(conn, stream)

    def on_pong(self, conn, stream):
        got = self.st(conn)["conn_recv"]
        if conn.state.get("granted") or stream in self.st(conn)["ended"]:
            return
        if got and got == conn.state.get("last_seen"):
            conn.state["granted"] = True
            conn.send(self.credit(got))
        else:
            conn.state["last_seen"] = got
            self.ping(conn, stream)

    def credit(self, got: int) -> bytes:
        """The connection credit once the client is blocked, `got` octets into the upload."""
        return F.window_update(0, 1 << 20)




# -- checks -----------------------------------------------------------------------------------
def _window_violations(c) -> list[str]:
    """Client DATA beyond the credit it could have had (see the module docstring)."""
    events = sorted([(f.seq, "client", f) for f in c.received] + [(f.seq, "server", f) for f in c.sent],
                    key=lambda e: e[0])
    acked_iws, unacked = DEFAULT_WINDOW, []      # unacked: IWS of each SETTINGS not yet ACKed (or None)
    credit, sent, conn_credit, conn_sent, found = {}, {}, DEFAULT_WINDOW, 0, []
    for _, who, f in events:
        if who == "server" and f.type == "SETTINGS" and not f.has("ACK"):
            unacked.append(dict(f.settings or []).get("INITIAL_WINDOW_SIZE"))
        elif who == "client" and f.type == "SETTINGS" and f.has("ACK") and unacked:
            value = unacked.pop(0)
            acked_iws = acked_iws if value is None else value
        elif who == "server" and f.type == "WINDOW_UPDATE" and f.increment:
            if f.stream == 0:
                conn_credit += f.increment
            else:
                credit[f.stream] = credit.get(f.stream, 0) + f.increment
        elif who == "client" and f.type == "DATA" and f.length:   # an empty frame takes no window
            sent[f.stream] = sent.get(f.stream, 0) + f.length
            conn_sent += f.length
            iws = max([acked_iws] + [v for v in unacked if v is not None])
            allowed = iws + credit.get(f.stream, 0)
            if sent[f.stream] > allowed:
                found.append(f"connection #{c.index}: stream {f.stream} had sent {sent[f.stream]} "
                             f"octets, beyond its credit of {allowed} (initial window {iws})")
            if conn_sent > conn_credit:
                found.append(f"connection #{c.index}: {conn_sent} octets sent on the connection, "
                             f"beyond its credit of {conn_credit}")
    return found


def _window_kept(ev):
    found = [v for c in ev.observations.connections for v in _window_violations(c)]
    data = [f.length for f in ev.observations.frames("DATA")]
    return not found, (found[0] if found else
                       f"{len(data)} DATA frames, {sum(data)} octets, all within the windows")


WINDOW_KEPT = Custom("no client DATA goes beyond the stream or connection window (§6.9)", _window_kept, name="window-kept")


def upload_on(index: int | None, expect: int = len(UPLOAD)) -> Custom:
    """The whole body arrived in one request: on connection `index` (None: the last one)."""
    def check(ev):
        conns = ev.observations.connections
        if not conns:
            return False, "no connection was made"
        c = conns[-1] if index is None else conns[index] if index < len(conns) else None
        if c is None:
            return False, f"no connection #{index}"
        per_stream = {}
        for f in c.frames("DATA"):
            per_stream[f.stream] = per_stream.get(f.stream, 0) + (f.data_len or 0)
        ended = {f.stream for f in c.frames("DATA") if f.has("END_STREAM")}
        ok = any(n == expect and s in ended for s, n in per_stream.items())
        return ok, f"connection #{c.index}: DATA octets per stream {per_stream}, ended {sorted(ended)}"
    where = "the last connection" if index is None else f"connection #{index}"
    return Custom(f"{where} receives the whole {expect}-octet body on one stream, ending with "
                  f"END_STREAM", check, name="body-arrived")



# -- downloads beyond the client's windows (R-5.2-1) -----------------------------------------
MARGIN = 65536          # octets beyond the window: the body cannot finish without new credit
CAP = 40 << 20          # the largest body sent; a client with a larger window is not exercised
OPENED = b"windows!"    # the PING whose ACK shows every opening move of the client is in
SHORT = b"short"        # the body when the window is beyond CAP (the case is not exercised)


class BeyondWindow(Script):
    """The request is held over PING round trips until one brings no new SETTINGS or
    WINDOW_UPDATE (a client may flush its opening updates only with its next write), so the
    client's opening moves are all in; then a 200 whose body is MARGIN octets beyond the client's
    `window` ("stream" or "connection") as it stands, sent within the windows. A window that
    would need a body above CAP gets a short body instead: the case is then not exercised."""
    ROUNDS = 4

    def __init__(self, window: str):
        super().__init__(respond=self.hold, on_frame=self.release)
        self.window = window

    @staticmethod
    def opening_moves(conn) -> int:
        return sum(f.type in ("SETTINGS", "WINDOW_UPDATE") for f in conn.record.received)

    def hold(self, conn, req):
        conn.state.update(held=req, moves=self.opening_moves(conn), rounds=1)
        conn.send(F.ping(OPENED))

    def release(self, conn, f):
        req = conn.state.get("held")
        if req is None or not (f.type == "PING" and f.has("ACK") and f.ping == OPENED):
            return
        moves = self.opening_moves(conn)
        if moves != conn.state["moves"] and conn.state["rounds"] < self.ROUNDS:
            conn.state.update(moves=moves, rounds=conn.state["rounds"] + 1)
            return conn.send(F.ping(OPENED))
        del conn.state["held"]
        room = conn.stream_window(req.stream) if self.window == "stream" else conn.conn_window
        size = room + MARGIN
        reply(body=body_of_size(size) if size <= CAP else SHORT)(conn, req)


def _opening_window(c, stream: int, which: str, before: int) -> int:
    """The client's receive window (§6.9.2) as it stood at wire position `before`: its initial
    window (its last SETTINGS) or 65535 for the connection, plus its WINDOW_UPDATEs so far."""
    window = 65535
    if which == "stream":
        for f in c.received:
            if f.seq < before and f.type == "SETTINGS" and not f.has("ACK"):
                window = dict(f.settings or []).get("INITIAL_WINDOW_SIZE", window)
    target = stream if which == "stream" else 0
    return window + sum(f.increment or 0 for f in c.received
                        if f.type == "WINDOW_UPDATE" and f.stream == target and f.seq < before)


def _download(ev, which: str):
    """(connection, stream, the client's window just before the body, the body's size, the
    server's first DATA frame). The size is what BeyondWindow chose at the last PING ACK."""
    for c in ev.observations.connections:
        stream = next((f.stream for f in c.received if f.type == "HEADERS"), None)
        acks = [f.seq for f in c.received if f.type == "PING" and f.has("ACK") and f.ping == OPENED]
        first = next((f for f in c.sent if f.type == "DATA" and f.stream == stream), None)
        if stream is None or not acks or first is None:
            continue
        chosen = _opening_window(c, stream, which, acks[-1]) + MARGIN
        size = chosen if chosen <= CAP else len(SHORT)
        return c, stream, _opening_window(c, stream, which, first.seq), size, first
    return None, None, 0, 0, None


def beyond(which: str):
    def check(ev):
        c, _, window, size, first = _download(ev, which)
        if first is None:
            return False, "the server never sent the response body"
        if size > window:
            return True, f"a {size}-octet body against a {which} window of {window} octets"
        return False, (f"the client opened a {which} window of {window} octets; this case sends "
                       f"bodies of at most {CAP} octets, so it never needs new credit")
    return Exercised(f"the body is larger than the client's {which} window", check)


def replenished(which: str) -> Custom:
    """A WINDOW_UPDATE for that window sent after the body started: credit given back while
    reading, not the opening one (§5.2.1 leaves its timing and size to the client)."""
    def check(ev):
        c, stream, _, _, first = _download(ev, which)
        target = stream if which == "stream" else 0
        updates = [f for f in (c.received if c else []) if f.type == "WINDOW_UPDATE"
                   and f.stream == target and first is not None and f.seq > first.seq]
        return bool(updates), (f"{len(updates)} WINDOW_UPDATE(s) on stream {target} after the body "
                               f"started, {sum(f.increment or 0 for f in updates)} octets in all")
    return Custom(f"the client gives back {which} credit while the body arrives (a WINDOW_UPDATE "
                  f"on stream {'0' if which == 'connection' else 'of the response'} after its "
                  f"first DATA)", check, name=f"{which}-window-replenished")


def body_intact(which: str) -> Custom:
    def check(ev):
        o, size = ev.outcome, _download(ev, which)[3]
        body = body_of_size(size) if size > len(SHORT) else SHORT
        ok = o.ok and o.status == 200 and o.body_len == size and o.body_sha256 == hashlib.sha256(body).hexdigest()
        return ok, f"transfer {o.summary()}" + ("" if ok or not o.ok else f" (expected {size} octets)")
    return Custom("the transfer succeeds with the exact body", check, name="succeeds")


def download_case(which: str, cid: str, variant: str) -> Case:
    return Case(
        id=cid,
        level=MUST,
        covers=("R-5.2-1",),
        requirement=f"§5.2 and §6.9: a response body larger than the client's {which} window "
                    f"arrives byte-exact; the client gives back credit with WINDOW_UPDATE as it "
                    f"reads ({variant}). Only credit given after the body started counts.",
        server=f"Holds the request for a PING round trip, then sends a 200 whose body is {MARGIN} "
               f"octets beyond the {which} window the client opened (at most {CAP} octets), "
               f"never beyond the client's windows.",
        scenario=lambda: BeyondWindow(which),
        request=get("/download", timeout_ms=10000),   # 33 MB for a 32 MiB window, traced: ~6 s
        expect=beyond(which) & body_intact(which) & replenished(which),
        bad={"no-window-update": f"{which}-window-replenished"},
    )


# -- a receiver the application pauses (R-5.2-2, R-5.2-3) ---------------------------------
class PausedReceiver(Script):
    """Two parallel GETs. /a: its response at once, as far as the windows allow, then a PING. /b:
    answered once that PING is ACKed (`gate`), else at once."""
    PING = b"paused!!"

    def __init__(self, a_body: bytes, b_body: bytes, gate: bool):
        super().__init__()
        self.a_body, self.b_body, self.gate = a_body, b_body, gate

    def request_received(self, conn, req):
        conn.state.setdefault("reqs", {})[req.path] = req
        if req.path == "/a":
            reply(body=self.a_body)(conn, req)
            conn.send(F.ping(self.PING))
        self.answer_b(conn)

    def frame_received(self, conn, f):
        if f.type == "PING" and f.has("ACK") and f.ping == self.PING:
            conn.state["acked"] = True
            self.answer_b(conn)

    def answer_b(self, conn):
        b = conn.state.get("reqs", {}).get("/b")
        if b is not None and not conn.state.get("b_answered") and (conn.state.get("acked") or not self.gate):
            conn.state["b_answered"] = True
            reply(body=self.b_body)(conn, b)


A_BODY, B_SMALL, B_LARGE = body_for("/a", 200000), body_for("/b", 2000), body_for("/b", 200000)
PAUSE_MS = 100
PARALLEL = frozenset({"h2", "parallel"})
PAUSE_REGRESSIONS = "curl#16955, curl#10988, curl#4939"


def paused_pair(pause: dict) -> Job:
    """/a paused as `pause` says, /b beside it on the same connection."""
    return Job((Req("/a", **pause), Req("/b")), mode="parallel", timeout_ms=1000)


def _flowed_while_paused(ev):
    """R-5.2-3 (reported): /b ended before /a's pause could have (it started with /a)."""
    b = ev.outcomes[1]
    total = (b.timings or {}).get("total_ms")
    if not b.ok or total is None:
        return f"/b {b.summary()}"
    return "yes" if total < PAUSE_MS else f"no: /b took {total:.0f} ms, /a was paused {PAUSE_MS} ms"


CASES = [
    download_case("stream", "9113/5.2/body-beyond-initial-window",
                  "a body beyond the stream window"),
    download_case("connection", "9113/5.2/body-beyond-connection-window",
                  "a body beyond the connection window"),
    Case(
        id="9113/5.2.1/connection-window-separate",
        level=MUST,
        covers=("R-6.9.1-1",),
        requirement="§5.2.1 and §6.9.1: the connection window and each stream window limit DATA "
                    "independently; with ample stream credit but an exhausted connection window the "
                    "client waits for connection-level WINDOW_UPDATE.",
        server="Sets INITIAL_WINDOW_SIZE=2^20 but sends no connection WINDOW_UPDATE until a PING "
               "round trip passes without new DATA (the 65535-octet connection window is used "
               f"up); then credits the connection for the rest of a {len(UPLOAD)}-octet POST.",
        scenario=ConnectionWindowOnly,
        request=POST,
        expect=Succeeds() & WINDOW_KEPT & upload_on(0),
        bad={"ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/5.2/paused-transfer-keeps-reading",
        level=MUST,
        covers=("R-5.2-2", "R-5.2-1"),
        regression=PAUSE_REGRESSIONS,
        requirement="§5.2.2: while the application has paused one transfer, the client keeps "
                    "reading and processing the connection's frames: a PING is answered and another "
                    "stream's response arrives; after the unpause the paused stream gets credit "
                    "again and its body, beyond the window, arrives byte-exact (no deadlock).",
        server=f"Two parallel GETs: /a's {len(A_BODY)}-octet response (within the windows) and a PING "
               f"right after it; /b is answered only once that PING is ACKed. The application pauses "
               f"/a at its first body octets and resumes it when /b has ended.",
        scenario=lambda: PausedReceiver(A_BODY, B_SMALL, gate=True),
        request=paused_pair({"pause_after": 0, "resume_after": 1}),
        needs=PARALLEL,
        expect=Succeeds(bodies=[A_BODY, B_SMALL])
        & Sent("PING", "a PING ACK while /a is paused", lambda f: f.has("ACK") and f.ping == PausedReceiver.PING),
        bad={"stop-reading-while-paused": "succeeds", "window-stays-closed-after-pause": "succeeds"},
    ),
    Case(
        id="9113/5.2/paused-transfer-other-streams-flow",
        level=MUST,
        covers=("R-5.2-3", "R-5.2-2"),
        regression=PAUSE_REGRESSIONS,
        level_note="Whether /b flows while /a is paused is reported (R-5.2-3, Y); the MUST is that "
                   "both bodies arrive byte-exact once /a resumes (R-5.2-2).",
        requirement="§5.2.2: flow control lets other streams carry on while one receiver is paused "
                    "(reported: did /b, which needs credit, end during /a's pause?); after the "
                    "unpause both bodies arrive byte-exact.",
        server=f"Two parallel GETs answered at once within the windows: /a {len(A_BODY)} octets, /b "
               f"{len(B_LARGE)} octets. The application pauses /a at its first body octets for "
               f"{PAUSE_MS} ms.",
        scenario=lambda: PausedReceiver(A_BODY, B_LARGE, gate=False),
        request=paused_pair({"pause_after": 0, "pause_ms": PAUSE_MS}),
        needs=PARALLEL,
        expect=Succeeds(bodies=[A_BODY, B_LARGE]) & Report("flowed_while_paused", _flowed_while_paused),
        bad={"window-stays-closed-after-pause": "succeeds"},
    ),
]
