"""RFC 9113 §6.9 WINDOW_UPDATE (§6.9.1 flow-control window limits, §6.9.2 initial window changes
applied to uploads, served by the upload server of the §5.2 module)."""
import struct

from cases.rfc9113_s5_2_flow_control import (POST, STEP, UPLOAD, WINDOW_KEPT, NegativeWindow,
                                             ZeroWindow, upload_on)
from conformance.case import MUST, Case
from conformance.verdicts import ConnectionError, StreamError, Succeeds
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
]
