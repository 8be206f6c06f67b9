"""Shared pieces of the stream-state cases (§5.1) and the field-block cases (§4.3): frames that
arrive on a stream after the client reset it, and the header-table check that shows whether the
client kept decoding field blocks on streams that were no longer open.

Not a case module (the leading underscore keeps it out of the catalog).
"""
from conformance.verdicts import Custom, Exercised, Report
from servers import frames as F
from servers.scenario import Script, reply, response_fields

NOT_AN_ERROR = ("NO_ERROR", "CANCEL")
SEQ = "x-seq"           # the field whose value tells whether the header tables agree


def by_path(first, other=None):
    """`first` answers /r/1, `other` (default: a plain reply) every other request."""
    def respond(conn, req):
        (first if req.path == "/r/1" else other or reply())(conn, req)
    return respond


def stream_of(ev, path: str):
    """(connection, stream) that carried the request for `path`."""
    for c in ev.observations.connections:
        for f in c.received:
            if f.type == "HEADERS" and f.headers and (":path", path) in f.headers:
                return c, f.stream
    return None, None


# -- frames just after the client reset a stream (§5.1) -------------------------------------

PROBES = (b"reset?\x00\x01", b"reset?\x00\x02")


def provoke_reset(conn, req) -> None:
    """A response HEADERS with an uppercase field name (malformed, §8.2.1), then two PING round
    trips; if the client has not reset the stream by then (it took the fields), a WINDOW_UPDATE
    that takes the stream's send window past 2^31-1 (§6.9.1), a stream error too. The round trips
    matter: a client that resets at the first error may keep the stream open until its
    RST_STREAM is out, and would meet the overflow as a connection error; and it may send the
    first PING ACK ahead of its RST_STREAM, but not the second."""
    conn.state["victim"] = req.stream
    conn.send(F.headers(req.stream, conn.block(response_fields() + [("X-Upper", "1")])), F.ping(PROBES[0]))


def after_client_reset(*late) -> Script:
    """/r/1 gets `provoke_reset`; once the client's RST_STREAM for it arrives the server sends the
    `late` frames (functions of conn and stream) on that stream, before anything else it sends;
    /r/2 gets a response with x-seq: two."""
    def on_frame(conn, f):
        victim, st = conn.state.get("victim"), conn.state
        if f.type == "RST_STREAM" and f.stream == victim:
            st["reset"] = True
            if not st.get("late"):
                st["late"] = True
                for make in late:
                    conn.send(make(conn, f.stream))
        elif f.type == "PING" and f.has("ACK") and f.ping == PROBES[0]:
            conn.send(F.ping(PROBES[1]))
        elif f.type == "PING" and f.has("ACK") and f.ping == PROBES[1] and not st.get("reset"):
            conn.send(F.window_update(victim, 2 ** 31 - 1))
    return Script(respond=by_path(provoke_reset, reply(headers=[(SEQ, "two")])), on_frame=on_frame)


def _reset_first(ev, path: str = "/r/1"):
    c, stream = stream_of(ev, path)
    if c is None:
        return False, f"no request for {path} arrived"
    rsts = [f for f in c.received if f.type == "RST_STREAM" and f.stream == stream]
    goaways = [f for f in c.received if f.type == "GOAWAY" and f.error_code not in NOT_AN_ERROR]
    if not rsts:
        return False, (f"the client never reset stream {stream} (it sent "
                       + (", ".join(f.describe() for f in goaways) or "no RST_STREAM or GOAWAY")
                       + "), so nothing arrived after a reset of its own")
    if goaways and goaways[0].seq < rsts[0].seq:
        return False, f"the client ended the connection ({goaways[0].describe()}) before resetting"
    if ev.outcomes and ev.outcomes[0].error_class == "timeout":
        return False, (f"the client took the malformed response and reset stream {stream} only "
                       f"when its own timeout ran out")
    return True, f"the client reset stream {stream} with RST_STREAM({rsts[0].error_code})"


CLIENT_RESET = Exercised("the client reset the malformed response's stream, keeping the "
                         "connection", _reset_first)


def _quiet(ev, path: str = "/r/1"):
    c, stream = stream_of(ev, path)
    if c is None:
        return False, f"no request for {path} arrived"
    first = next((f for f in c.received if f.type == "RST_STREAM" and f.stream == stream), None)
    if first is None:
        return True, "no reset to look after"
    noise = [f for f in c.received if f.seq > first.seq and (
        (f.type == "RST_STREAM" and f.stream == stream)
        or (f.type == "GOAWAY" and f.error_code not in NOT_AN_ERROR))]
    return not noise, ("client then sent " + ", ".join(f.describe() for f in noise[:3]) if noise
                       else "nothing more on the stream, no error GOAWAY")


QUIET_AFTER_RESET = Custom("after its RST_STREAM the client ignores the frames that follow on "
                           "that stream: no second RST_STREAM, no error GOAWAY (§5.1)", _quiet,
                           name="quiet-after-reset")


def same_connection(ev):
    """Did /r/2 go on the connection that carried /r/1?"""
    c1, _ = stream_of(ev, "/r/1")
    c2, _ = stream_of(ev, "/r/2")
    return c1 is not None and c1 is c2


SAME_CONNECTION = Report("request_2_on_same_connection", same_connection)


# -- the header table after a block on a stream that was no longer open (§4.3) ---------------

def _in_step(ev, index: int = 1):
    """/r/2's response carries x-seq: two, by reference to the entry the late block added."""
    o = ev.outcomes[index] if index < len(ev.outcomes) else None
    if o is None or not o.ok:
        return False, f"transfer {index + 1} " + (o.summary() if o else "has no outcome")
    shown = next((v for k, v in o.headers if k == SEQ), None)
    return shown == "two", f"transfer {index + 1} shows {SEQ}: {shown!r}"


TABLE_IN_STEP = Custom(f"the next response decodes to the fields the server encoded ({SEQ}: two), "
                       "on the same connection (the table stayed in step) or on a new one (the "
                       "client ended the first)", _in_step, name="table-in-step")


def late_block(end_stream: bool = True):
    """A HEADERS on the stream whose field block adds x-seq: two to the server's table."""
    return lambda conn, stream: F.headers(stream, conn.block([(SEQ, "two")]), end_stream=end_stream)
