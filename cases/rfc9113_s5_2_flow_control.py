"""RFC 9113 §5.2 and §6.9 flow control of the client's uploads (§6.9.1 windows, §6.9.2 initial
window changes), with two regressions: curl#22563 and curl_cffi#19 (§8.1.1); and a receiver the
application pauses (§5.2.2, curl#16955, curl#10988, curl#4939), which needs the adapter's `pause`.

The server scripts its credit. `window_kept` replays every connection from the server's side and
checks that no client DATA frame ever went beyond the credit the client could have had: the
initial window in force (any value the client may have applied: the one it last ACKed, or one
sent but not yet ACKed) plus every WINDOW_UPDATE sent before that DATA, per stream and for the
connection (65535 plus updates on stream 0).
"""
from conformance.case import MUST, Case, Job, Req, gets
from conformance.verdicts import AnyOf, ConnectionError, Custom, Exercised, Fails, Report, Sent, Succeeds
from servers import frames as F
from servers.scenario import Scenario, Script, body_for, reply

UPLOAD = bytes(i % 239 for i in range(100000))     # beyond the 65535 default window
STEP = 8192                                        # credit granted per WINDOW_UPDATE
DEFAULT_WINDOW = 65535
POST = Job((Req("/upload", method="POST", body=UPLOAD),), timeout_ms=1000)


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
            conn.send(F.window_update(0, 1 << 20))
        else:
            conn.state["last_seen"] = got
            self.ping(conn, stream)


class GoawayWhileBlocked(Upload):
    """Connection 0: IWS=16384 and no stream credit, ever. Once the client has ACKed the SETTINGS
    and a PING round trip has passed (it has used its window and is blocked on zero),
    GOAWAY(NO_ERROR, last-stream-id 0): the request was not processed (§6.8, §8.7). Later
    connections read uploads normally."""
    WINDOW = 16384

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: self.WINDOW})

    def on_upload(self, conn, f):
        if conn.index == 0 and f.length:
            conn.send(F.window_update(0, f.length))    # only the stream window closes

    def server_preface(self, conn):
        if conn.index == 0:
            return super().server_preface(conn)
        return Scenario.server_preface(self, conn)   # a plain server: default windows

    def _on_data(self, conn, f):
        if conn.index == 0:
            return Upload._on_data(self, conn, f)
        return Script.handlers["DATA"](self, conn, f)

    handlers = {**Upload.handlers, "DATA": _on_data}

    def on_ack(self, conn, n):
        if conn.index == 0 and n == 1:
            self.ping(conn, 0)

    def on_pong(self, conn, stream):
        if conn.index == 0:
            conn.send(F.goaway(0, "NO_ERROR"))


class Dribble(Upload):
    """IWS=2^20, so only the connection window (65535, whatever the client read first) limits the
    upload. Once a PING round trip passes with no new DATA (blocked), connection credit for the
    rest of the body in 1-octet WINDOW_UPDATEs, all in one write."""
    REST = 4000
    BODY = bytes(i % 241 for i in range(DEFAULT_WINDOW + REST))

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
            conn.send(F.window_update(0, 1) * (len(self.BODY) - got))
        else:
            conn.state["last_seen"] = got
            self.ping(conn, stream)


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


def _upload_on(index: int | None, expect: int = len(UPLOAD)) -> Custom:
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


def _blocked_at(ev):
    """For the report: what the client had sent on connection 0 when the GOAWAY went out."""
    c = ev.observations.connections[0] if ev.observations.connections else None
    g = next((f for f in c.sent if f.type == "GOAWAY"), None) if c else None
    if g is None:
        return None
    return sum(f.data_len or 0 for f in c.received if f.type == "DATA" and f.seq < g.seq)


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
        if not ok and not _window_kept(ev)[0]:
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


def _retried(ev):
    return len(ev.observations.connections) > 1


def _content_length_consistent(ev):
    """Every request the server saw: DATA never beyond content-length, and equal to it at
    END_STREAM (§8.1.1)."""
    problems, seen = [], []
    for c in ev.observations.connections:
        declared, total, ended = {}, {}, set()
        for f in c.received:
            if f.type == "HEADERS" and f.headers is not None and f.stream not in declared:
                declared[f.stream] = dict(f.headers).get("content-length")
            elif f.type == "DATA":
                total[f.stream] = total.get(f.stream, 0) + (f.data_len or 0)
            if f.type in ("DATA", "HEADERS") and f.has("END_STREAM"):
                ended.add(f.stream)
        for sid, cl in declared.items():
            n = total.get(sid, 0)
            seen.append(f"content-length {cl}, {n} octets of DATA{' (ended)' if sid in ended else ''}")
            if cl is None:
                continue
            if not cl.isdigit() or n > int(cl) or (sid in ended and n != int(cl)):
                problems.append(f"connection #{c.index} stream {sid}: content-length {cl} but "
                                f"{n} octets of DATA{' and END_STREAM' if sid in ended else ''}")
    return not problems, "; ".join(problems) or "; ".join(seen) or "no request reached the server"


BODY_1000 = bytes(i % 211 for i in range(1000))


def wrong_length(value: str) -> Job:
    return Job((Req("/upload", method="POST", body=BODY_1000, headers=(("content-length", value),)),),
               timeout_ms=1000)


DRIBBLE = Job((Req("/upload", method="POST", body=Dribble.BODY),), timeout_ms=1000)
EXACT = bytes(i % 233 for i in range(16384))
PARALLEL_UPLOADS = Job((Req("/a", method="POST", body=UPLOAD[:60000]),
                        Req("/b", method="POST", body=UPLOAD[:60000])), mode="parallel", timeout_ms=1000)
ONE_BLOCKED = Job((Req("/a", method="POST", body=UPLOAD[:OneBlocked.SIZE]),
                   Req("/b", method="POST", body=UPLOAD[:OneBlocked.SIZE])), mode="parallel", timeout_ms=1000)
TWO_UPLOADS = Job((Req("/a", method="POST", body=UPLOAD[:40000]),
                   Req("/b", method="POST", body=UPLOAD[:40000])), timeout_ms=1000)
PARALLEL = frozenset({"h2", "parallel"})
UPLOAD_TIMEOUT_MS = 300

A_BODY, B_SMALL, B_LARGE = body_for("/a", 200000), body_for("/b", 2000), body_for("/b", 200000)
PAUSE_MS = 200
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


LOCAL_FAILURE = ("other", "send", "protocol-mismatch")   # refused before anything went out
CL_WHY = "the regression allows a consistent request (the real length wins) or a local failure"

CASES = [
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
        expect=Succeeds() & WINDOW_KEPT & _upload_on(0),
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
        expect=Succeeds() & WINDOW_KEPT & _upload_on(0),
        bad={"ignore-flow-control": "window-kept"},
    ),
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
        expect=Succeeds() & WINDOW_KEPT & _upload_on(0),
        bad={"ignore-flow-control": "window-kept"},
    ),
    Case(
        id="9113/6.8/goaway-upload-blocked-retry",
        level=MUST,
        covers=("R-6.8-3", "R-8.7-1", "R-6.9.1-1"),
        level_note="R-6.8-3 and R-8.7-1 leave the retry and its body unjudged (Y), but both controls "
                   "(and curl#22563) fail only the retry-or-fail and whole-body checks.",
        requirement="§6.8 and §8.7: a request above GOAWAY's last-stream-id was not processed and "
                    "may be retried (reported); a retried upload that was blocked on flow control "
                    "sends its whole body again from the first octet, or the transfer fails; it "
                    "never sends a corrupted remainder.",
        server=f"Connection 0 sets INITIAL_WINDOW_SIZE=16384 and never grants stream credit; once "
               f"the client has ACKed and answered a PING (blocked on a zero window), sends "
               f"GOAWAY(NO_ERROR, last-stream-id 0). Later connections read the {len(UPLOAD)}-octet "
               f"POST normally.",
        scenario=GoawayWhileBlocked,
        request=POST,
        expect=AnyOf(Succeeds() & _upload_on(None),
                     Fails("http2", "stream", "recv", "send"),
                     why="§8.7 allows but does not require the client to retry an unprocessed "
                         "request")
        & WINDOW_KEPT & Report("retried", _retried) & Report("octets_sent_before_goaway", _blocked_at),
        bad={"ignore-goaway": "transfer-fails", "partial-upload-retry": "body-arrived"},
        regression="curl#22563",
    ),
    Case(
        id="9113/8.1.1/request-content-length-smaller",
        level=MUST,
        covers=("R-8.1.1-6",),
        level_note="R-8.1.1-6 is Y (no keyword binds the sender), but reporting the consistency "
                   "check would leave trust-app-content-length (and curl_cffi#19) nothing to fail.",
        requirement="§8.1.1: a request whose content-length differs from its DATA is malformed; "
                    "when the application sets a content-length smaller than the body, the client "
                    "sends a consistent request or fails locally, never the malformed message.",
        server="Reads the request (the application asks for content-length 500 on a 1000-octet "
               "POST body) and answers 200 once it is complete.",
        scenario=lambda: Script(),
        request=wrong_length("500"),
        expect=Custom("content-length matches the DATA of every request the server sees",
                      _content_length_consistent, name="content-length-matches")
        & AnyOf(Succeeds(), Fails(*LOCAL_FAILURE), why=CL_WHY),
        bad={"trust-app-content-length": "content-length-matches"},
        regression="curl_cffi#19",
    ),
    Case(
        id="9113/8.1.1/request-content-length-larger",
        level=MUST,
        covers=("R-8.1.1-6",),
        level_note="R-8.1.1-6 is Y (no keyword binds the sender), but reporting the consistency "
                   "check would leave trust-app-content-length (and curl_cffi#19) nothing to fail.",
        requirement="§8.1.1: when the application sets a content-length larger than the body, the "
                    "client sends a consistent request or fails locally; it never ends the stream "
                    "short of the declared length.",
        server="Reads the request (the application asks for content-length 2000 on a 1000-octet "
               "POST body) and answers 200 once it is complete.",
        scenario=lambda: Script(),
        request=wrong_length("2000"),
        expect=Custom("content-length matches the DATA of every request the server sees",
                      _content_length_consistent, name="content-length-matches")
        & AnyOf(Succeeds(), Fails(*LOCAL_FAILURE), why=CL_WHY),
        bad={"trust-app-content-length": "content-length-matches"},
        regression="curl_cffi#19",
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
        & Succeeds() & WINDOW_KEPT & _upload_on(0, len(Dribble.BODY))
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
        & Succeeds() & WINDOW_KEPT & _upload_on(0),
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
        request=Job((Req("/upload", method="POST", body=EXACT),), timeout_ms=1000),
        expect=Succeeds() & WINDOW_KEPT & _upload_on(0, len(EXACT)),
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
        request=gets(2, timeout_ms=1000),
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
                    timeout_ms=UPLOAD_TIMEOUT_MS),
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
