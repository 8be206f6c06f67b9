"""RFC 9113 §6.4 RST_STREAM (and §7 for unknown error codes)."""
import struct

from cases.rfc9113_s5_2_flow_control import DEFAULT_WINDOW, Upload
from conformance.case import MAY, MUST, WAIT_TIMEOUT_MS, Case, Job, Req, gets
from conformance.verdicts import (ConnectionError, Connections, Custom, Fails, NotSent, Report,
                                  TransferSucceeds)
from servers import frames as F
from servers.scenario import BODY, Script, cycle, fault_then_reply, reply, response_fields

from cases._stream_faults import SAME_CONNECTION, by_path, stream_of

HEAD = response_fields()
# A reset stream fails with a stream or connection-level protocol error; never "partial
# but fine", never a timeout.
RESET_FAILURES = ("stream", "http2", "recv", "partial")
UPLOAD = cycle(200000, 233)   # far beyond the default 65535 windows


def reset_first_mid_response(code):
    """/r/1: HEADERS (content-length of the whole body), half the body, then RST_STREAM(code);
    other requests: a normal response."""
    def respond(conn, req):
        if req.path != "/r/1":
            return reply()(conn, req)
        conn.send_fields(req.stream, HEAD)
        conn.send(F.data(req.stream, BODY[:len(BODY) // 2]), F.rst_stream(req.stream, code))
    return lambda: Script(respond=respond)


class ResetUpload(Upload):
    """A stream window of 2^20 but no connection credit: once the client has used up its
    65535-octet connection window, the response HEADERS, half the body, RST_STREAM(INTERNAL_ERROR),
    then connection credit for the whole upload and a PING. The stream window still has room, so
    DATA that uses the new credit was sent after the client read the reset (§6.4)."""

    def __init__(self):
        super().__init__({F.INITIAL_WINDOW_SIZE: 1 << 20})

    def on_upload(self, conn, f):
        if conn.state.get("reset") or self.st(conn)["conn_recv"] < DEFAULT_WINDOW:
            return
        conn.state["reset"] = True
        conn.send_fields(f.stream, HEAD)
        conn.send(F.data(f.stream, BODY[:len(BODY) // 2]), F.rst_stream(f.stream, "INTERNAL_ERROR"),
                  F.window_update(0, len(UPLOAD)), F.ping(b"after-rs"))


def _nothing_after_reset(ev):
    """§6.4: after the server's RST_STREAM the client sends nothing on that stream but PRIORITY."""
    late = []
    for c in ev.observations.connections:
        rst = {f.stream: f.seq for f in c.sent if f.type == "RST_STREAM"}
        late += [f.describe() for f in c.received if f.stream in rst and f.seq > rst[f.stream]
                 and f.type != "PRIORITY"]
    return not late, (f"client sent {late[0]} (and {len(late) - 1} more) after the reset" if late
                      else "nothing on the stream after the reset")


def stall_mid_body(conn, req):
    """HEADERS (content-length of the whole body) and 10 octets of it, then nothing more."""
    conn.send_fields(req.stream, HEAD)
    conn.send(F.data(req.stream, BODY[:10]))


def _not_complete(ev):
    o = ev.outcomes[0]
    return not o.ok, f"transfer 1 {o.summary()}"


def _own_reset(ev):
    """(connection, stream, the client's first RST_STREAM on /r/1's stream or None)."""
    c, stream = stream_of(ev, "/r/1")
    first = next((f for f in (c.received if c else [])
                  if f.type == "RST_STREAM" and f.stream == stream), None)
    return c, stream, first


def _nothing_after_own_reset(ev):
    """§5.1: after its RST_STREAM the stream is closed for the client: PRIORITY at most."""
    c, stream, first = _own_reset(ev)
    if first is None:
        return True, "the client sent no RST_STREAM on the stream"
    more = [f for f in c.received if f.seq > first.seq and f.stream == stream and f.type != "PRIORITY"]
    return not more, (f"client then sent {more[0].describe()}" if more else
                      f"nothing on stream {stream} after its {first.describe()}")


def _how_it_ended(ev):
    """R-6.4-4 (reported): the RST_STREAM code, or that the connection went instead."""
    c, stream, first = _own_reset(ev)
    if first is not None:
        return f"RST_STREAM({first.error_code})"
    goaways = [f.describe() for f in (c.frames("GOAWAY") if c else [])]
    return (f"no RST_STREAM; {', '.join(goaways) or 'no GOAWAY'}; "
            f"connection closed by {c.closed_by if c else None}")


NO_CONNECTION_ERROR = NotSent("GOAWAY", "a GOAWAY with an error code (a stream reset is not a "
                              "connection error)", lambda f: f.error_code not in ("NO_ERROR", "CANCEL"))

CASES = [
    Case(
        id="9113/6.4/rst-stream-0",
        level=MUST,
        requirement="§6.4: an RST_STREAM frame on stream 0 MUST be treated as a connection error of "
                    "type PROTOCOL_ERROR.",
        server="Sends RST_STREAM(CANCEL) on stream 0, then a normal response.",
        scenario=fault_then_reply(F.rst_stream(0, "CANCEL")),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.4-1",),
    ),
    Case(
        id="9113/6.4/rst-idle-stream",
        level=MUST,
        requirement="§6.4 and §5.1: an RST_STREAM frame on an idle stream MUST be treated as a "
                    "connection error of type PROTOCOL_ERROR.",
        server="Sends RST_STREAM(CANCEL) on the idle stream request+2, then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.rst_stream(req.stream + 2, "CANCEL")),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.4-1",),
    ),
    Case(
        id="9113/6.4/rst-bad-length",
        level=MUST,
        requirement="§6.4: an RST_STREAM frame whose length is not 4 octets MUST be treated as a "
                    "connection error of type FRAME_SIZE_ERROR.",
        server="Sends a 5-octet RST_STREAM(CANCEL) on the request stream, then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.frame(
            F.RST_STREAM, 0, req.stream, struct.pack(">I", F.ERROR_CODES["CANCEL"]) + b"\0")),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.4-1",),
    ),
    Case(
        id="9113/6.4/rst-mid-response",
        level=MUST,
        requirement="§6.4 and §8.1: RST_STREAM ends the stream at once: a response cut short by it "
                    "MUST NOT be reported as complete, and the client sends nothing more on the "
                    "stream but PRIORITY, not even the rest of its upload.",
        server="Sets INITIAL_WINDOW_SIZE=2^20; once a 200000-octet POST has used up the 65535-octet "
               "connection window, sends HEADERS with content-length, half the body, "
               "RST_STREAM(INTERNAL_ERROR) and, right behind it, connection credit for the whole "
               "upload.",
        scenario=ResetUpload,
        request=Job((Req("/upload", method="POST", body=UPLOAD),)),
        expect=Fails(*RESET_FAILURES)
        & Custom("no frame but PRIORITY on the stream after the server's RST_STREAM (§6.4)",
                 _nothing_after_reset, name="nothing-after-reset"),
        bad={"truncated-ok": "transfer-fails", "upload-after-reset": "nothing-after-reset"},
        covers=("R-6.4-2",),
    ),
    Case(
        id="9113/6.4/rst-unknown-error-code",
        level=MUST,
        requirement="§7: an unknown error code in RST_STREAM MUST NOT trigger special behaviour: "
                    "like any reset it ends only that stream, so no GOAWAY goes back and the next "
                    "request goes out on the same connection.",
        server="For /r/1 sends HEADERS with content-length, half the body, then RST_STREAM with "
               "code 0xbeef; /r/2 is answered normally.",
        scenario=reset_first_mid_response(0xBEEF),
        request=gets(2),
        expect=Fails(*RESET_FAILURES) & TransferSucceeds(1) & NO_CONNECTION_ERROR
        & Connections(1, why="the reset ended only its stream"),
        bad={"unknown-code-fatal": "not-sent-goaway"},
        covers=("R-7-1",),
    ),
    Case(
        id="9113/6.4/client-timeout-mid-response",
        level=MAY,
        covers=("R-6.4-4",),
        level_note="R-6.4-4 only reports how the client ends the stream (Y); two checks are MUST: "
                   "a response cut short is never reported complete (§8.1), and after its own "
                   "RST_STREAM the client sends nothing but PRIORITY on the stream (§5.1).",
        requirement="§6.4 and §5.1: when its own timeout ends a transfer mid-response, the client "
                    "may end the stream with RST_STREAM (CANCEL fits) and reuse the connection; the "
                    "code, and whether the next request reuses the connection, are reported.",
        server="Answers /r/1 with HEADERS (content-length 24) and 10 octets of body, then stalls; "
               "answers /r/2 normally.",
        scenario=lambda: Script(respond=by_path(stall_mid_body)),
        request=gets(2, timeout_ms=WAIT_TIMEOUT_MS),
        waits=True,
        expect=Custom("transfer 1 is not reported complete", _not_complete, level=MUST, name="transfer-fails")
        & Custom("after its RST_STREAM the client sends nothing but PRIORITY on the stream",
                 _nothing_after_own_reset, level=MUST, name="quiet-after-own-reset")
        & TransferSucceeds(1) & Report("stream_ended_with", _how_it_ended) & SAME_CONNECTION,
        bad={"ok-on-timeout": "transfer-fails"},
    ),
]
