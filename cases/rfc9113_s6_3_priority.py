"""RFC 9113 §6.3 PRIORITY (deprecated signalling, §5.3.2; the frame format still holds)."""
import struct

from conformance.case import MUST, Case, gets
from conformance.verdicts import ConnectionError, Ignored, StreamError
from servers import frames as F
from servers.scenario import BODY, Script, fault_then_reply, reply, response_fields

HEAD = response_fields()


def mid_response(*faults):
    """HEADERS and half the body, the frames `fault(stream)`, then the rest of the body."""
    def respond(conn, req):
        half = len(BODY) // 2
        conn.send_fields(req.stream, HEAD)
        conn.send(F.data(req.stream, BODY[:half]))
        for fault in faults:
            conn.send(fault(req.stream))
        conn.send(F.data(req.stream, BODY[half:], end_stream=True))
    return lambda: Script(respond=respond)


def priority_after_close(conn, req):
    """§5.1: a complete response (both sides have ended the stream), then PRIORITY on it."""
    reply()(conn, req)
    conn.send(F.priority(req.stream, depends_on=0, weight=32))


CASES = [
    Case(
        id="9113/6.3/priority-stream-0",
        level=MUST,
        requirement="§6.3: a PRIORITY frame on stream 0 MUST be treated as a connection error of "
                    "type PROTOCOL_ERROR.",
        server="Sends a well-formed PRIORITY frame on stream 0, then a normal response.",
        scenario=fault_then_reply(F.frame(F.PRIORITY, 0, 0, struct.pack(">IB", 0, 15))),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.3-1",),
    ),
    Case(
        id="9113/6.3/priority-bad-length",
        level=MUST,
        requirement="§6.3: a PRIORITY frame whose length is not 5 octets MUST be treated as a stream "
                    "error of type FRAME_SIZE_ERROR (§5.4.2 lets the client escalate to a connection "
                    "error with the same code).",
        server="Sends a 4-octet PRIORITY frame on the request stream, then a normal response.",
        scenario=fault_then_reply(lambda conn, req: F.frame(F.PRIORITY, 0, req.stream, b"\0\0\0\0")),
        expect=StreamError("FRAME_SIZE_ERROR"),
        good=("good", "stream-as-connection"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.3-1",),
    ),
    Case(
        id="9113/6.3/priority-mid-response",
        level=MUST,
        requirement="§5.3.2 and §6.3: PRIORITY frames are accepted on an open stream and ignored; "
                    "the response is unaffected.",
        server="Sends two PRIORITY frames on the request stream in the middle of the body.",
        scenario=mid_response(lambda s: F.priority(s, depends_on=0, weight=200),
                              lambda s: F.priority(s, depends_on=0, weight=1, exclusive=True)),
        expect=Ignored(),
        bad={"reject-priority": "no-error-sent"},
        covers=("R-5.3-1",),
    ),
    Case(
        id="9113/6.3/priority-idle-stream",
        level=MUST,
        requirement="§5.1 and §6.3: a PRIORITY frame may arrive on an idle stream; it does not open "
                    "the stream and is not an error.",
        server="Sends PRIORITY on the idle streams 2 and request+2 in the middle of the body.",
        scenario=mid_response(lambda s: F.priority(2, depends_on=0),
                              lambda s: F.priority(s + 2, depends_on=s)),
        expect=Ignored(),
        bad={"reject-priority": "no-error-sent"},
        covers=("R-5.3-1",),
    ),
    Case(
        id="9113/6.3/priority-closed-stream",
        level=MUST,
        requirement="§5.1 and §6.3: PRIORITY is the one frame allowed on a closed stream; it is "
                    "ignored and the connection carries the next request.",
        server="Follows each complete response with a PRIORITY frame on its stream.",
        scenario=lambda: Script(respond=priority_after_close),
        request=gets(2),
        expect=Ignored(),
        bad={"reject-priority": "no-error-sent"},
        covers=("R-5.3-1",),
    ),
]
