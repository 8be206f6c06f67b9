"""RFC 9113 §6.4 RST_STREAM (and §7 for unknown error codes)."""
import struct

from conformance.case import MUST, Case, get
from conformance.verdicts import ConnectionError, Fails, NotSent
from servers import frames as F
from servers.scenario import BODY, Script, fault_then_reply, response_fields

HEAD = response_fields()
# A reset stream fails with a stream or connection-level protocol error; never "partial
# but fine", never a timeout.
RESET_FAILURES = ("stream", "http2", "recv", "partial")


def reset_mid_response(code):
    """HEADERS (content-length of the whole body), half the body, then RST_STREAM(code)."""
    def respond(conn, req):
        conn.send_fields(req.stream, HEAD)
        conn.send(F.data(req.stream, BODY[:len(BODY) // 2]), F.rst_stream(req.stream, code))
    return lambda: Script(respond=respond)


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
        requirement="§6.4 and §8.1: RST_STREAM ends the stream at once; a response cut short by "
                    "it MUST NOT be reported to the application as complete.",
        server="Sends HEADERS with content-length, half the body, then RST_STREAM(INTERNAL_ERROR).",
        scenario=reset_mid_response("INTERNAL_ERROR"),
        request=get(timeout_ms=1000),
        expect=Fails(*RESET_FAILURES),
        bad={"truncated-ok": "transfer-fails"},
        covers=("R-6.4-2",),
    ),
    Case(
        id="9113/6.4/rst-unknown-error-code",
        level=MUST,
        requirement="§7: an unknown error code in RST_STREAM MUST NOT trigger special behaviour; the "
                    "reset fails the transfer like any other reset, and only that stream.",
        server="Sends HEADERS with content-length, half the body, then RST_STREAM with code 0xbeef.",
        scenario=reset_mid_response(0xBEEF),
        request=get(timeout_ms=1000),
        expect=Fails(*RESET_FAILURES) & NO_CONNECTION_ERROR,
        bad={"truncated-ok": "transfer-fails"},
        covers=("R-7-1", "R-6.4-2"),
    ),
]
