"""RFC 9113 §6.7 PING."""
from conformance.case import MUST, Case
from conformance.verdicts import ConnectionError, NotSent, Sent, Succeeds
from servers import frames as F
from servers.scenario import fault_then_reply

PAYLOAD = b"\x01\x02\x03\x04h2cs"


CASES = [
    Case(
        id="9113/6.7/ping-ack",
        level=MUST,
        requirement="§6.7: a client MUST answer a PING with a PING ACK carrying the identical 8 octets.",
        server="Sends PING with an opaque payload before the response.",
        scenario=fault_then_reply(F.ping(PAYLOAD)),
        expect=Succeeds() & Sent("PING", "PING ACK with the same payload",
                                 lambda f: f.has("ACK") and f.ping == PAYLOAD),
        bad={"no-ping-ack": "sent-ping"},
        covers=("R-6.7-1",),
    ),
    Case(
        id="9113/6.7/ping-ack-not-answered",
        level=MUST,
        requirement="§6.7: a client MUST NOT respond to a PING frame that has the ACK flag set.",
        server="Sends an unsolicited PING ACK before the response.",
        scenario=fault_then_reply(F.ping(PAYLOAD, ack=True)),
        expect=Succeeds() & NotSent("PING", "a reply to the PING ACK", lambda f: f.ping == PAYLOAD),
        bad={"answer-ping-ack": "not-sent-ping"},
        covers=("R-6.7-2",),
    ),
    Case(
        id="9113/6.7/ping-nonzero-stream",
        level=MUST,
        requirement="§6.7: a PING on a stream other than 0 MUST be treated as a connection error "
                    "of type PROTOCOL_ERROR.",
        server="Sends PING on stream 1 before the response.",
        scenario=fault_then_reply(F.ping(PAYLOAD, stream=1)),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.7-3",),
    ),
    Case(
        id="9113/6.7/ping-bad-length",
        level=MUST,
        requirement="§6.7: a PING whose length is not 8 MUST be treated as a connection error "
                    "of type FRAME_SIZE_ERROR.",
        server="Sends a 6-octet PING before the response.",
        scenario=fault_then_reply(F.frame(F.PING, 0, 0, b"abcdef")),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.7-3",),
    ),
]
