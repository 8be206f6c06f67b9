"""RFC 9113 §6.4 RST_STREAM (and §7 for unknown error codes)."""
import struct

from cases.rfc9113_s5_2_flow_control import DEFAULT_WINDOW, Upload
from conformance.case import MUST, Case, Job, Req, gets
from conformance.verdicts import (ConnectionError, Connections, Custom, Fails, NotSent,
                                  TransferSucceeds)
from servers import frames as F
from servers.scenario import BODY, Script, fault_then_reply, reply, response_fields

HEAD = response_fields()
# A reset stream fails with a stream or connection-level protocol error; never "partial
# but fine", never a timeout.
RESET_FAILURES = ("stream", "http2", "recv", "partial")
UPLOAD = bytes(i % 233 for i in range(200000))   # far beyond the default 65535 windows


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
        request=Job((Req("/upload", method="POST", body=UPLOAD),), timeout_ms=1000),
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
        request=gets(2, timeout_ms=1000),
        expect=Fails(*RESET_FAILURES) & TransferSucceeds(1) & NO_CONNECTION_ERROR
        & Connections(1, why="the reset ended only its stream"),
        bad={"unknown-code-fatal": "not-sent-goaway"},
        covers=("R-7-1",),
    ),
]
