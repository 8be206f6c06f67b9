"""RFC 9113 §5.2 and §6.9 flow control of the client's uploads (§6.9.1 windows, §6.9.2 initial
window changes), with two regressions: curl#22563 and curl_cffi#19 (§8.1.1).

The server scripts its credit. `window_kept` replays every connection from the server's side and
checks that no client DATA frame ever went beyond the credit the client could have had: the
initial window in force (any value the client may have applied: the one it last ACKed, or one
sent but not yet ACKed) plus every WINDOW_UPDATE sent before that DATA, per stream and for the
connection (65535 plus updates on stream 0).
"""
from conformance.case import MUST, Case, Job, Req
from conformance.verdicts import AnyOf, Custom, Fails, Report, Succeeds
from servers import frames as F
from servers.scenario import Scenario, Script

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
        elif who == "client" and f.type == "DATA":
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
]
