"""RFC 9113 §6.9 WINDOW_UPDATE (§6.9.1 flow-control window limits)."""
import struct

from conformance.case import MUST, Case
from conformance.verdicts import ConnectionError, StreamError
from servers import frames as F
from servers.scenario import fault_then_reply

MAX_WINDOW = 2 ** 31 - 1


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
]
