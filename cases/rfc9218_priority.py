"""RFC 9218 Extensible Prioritization: SETTINGS_NO_RFC7540_PRIORITIES (§2.1, §2.1.1) and the
PRIORITY_UPDATE frame (§7.1), as a client meets them. A client that does not implement RFC 9218
sees an unknown setting and an unknown frame type, which RFC 9113 §5.5 tells it to ignore."""
import struct

from conformance.case import MUST, SHOULD, Case, gets
from conformance.verdicts import AnyOf, ConnectionError, Custom, Exercised, Ignored, Report
from servers import frames as F
from servers.scenario import Script, frames, reply, seq

NO_RFC7540_PRIORITIES = 0x9   # §2.1
PRIORITY_UPDATE = 0x10        # §7.1
EITHER = ("RFC 9218 makes it a connection error PROTOCOL_ERROR for a client that implements it; "
          "RFC 9113 §5.5 makes a client that does not ignore it")
KEEP_OPEN = {"rfc9218-keep-open": "closes-after-goaway"}


def preface(value):
    return [F.settings([(F.MAX_CONCURRENT_STREAMS, 100), (NO_RFC7540_PRIORITIES, value)])]


def either(reported):
    return AnyOf(Ignored(), ConnectionError("PROTOCOL_ERROR"), why=EITHER) \
        & Report(reported, lambda ev: "connection error" if ev.observations.frames("GOAWAY") and
                 not ev.outcome.ok else "ignored" if ev.outcome.ok else ev.outcome.summary())


def priority_update(conn, req):
    """§7.1: PRIORITY_UPDATE on stream 0 for the request's stream, urgency 0."""
    return F.frame(PRIORITY_UPDATE, 0, 0, struct.pack(">I", req.stream) + b"u=0")


class AfterAck(Script):
    """Answers a request only once the client has ACKed the server's preface, with `then` (a
    SETTINGS frame) before the response: the fault meets a client that has read the preface,
    never one still reading it, so it always takes the client on the same path."""

    def __init__(self, first, then):
        super().__init__(preface=preface(first) if first is not None else None)
        self.then, self.waiting = then, []

    def request_received(self, conn, req):
        self.waiting.append(req)
        self._answer(conn)

    def frame_received(self, conn, f):
        if f.type == "SETTINGS" and f.has("ACK"):
            conn.state["acked"] = True
            self._answer(conn)

    def _answer(self, conn):
        while conn.state.get("acked") and self.waiting:
            req = self.waiting.pop(0)
            if not conn.state.get("sent"):
                conn.state["sent"] = True
                conn.send(F.settings([(NO_RFC7540_PRIORITIES, self.then)]))
            reply()(conn, req)


def _after_ack(ev):
    """(client frames after its first SETTINGS ACK, on each connection)."""
    out = []
    for c in ev.observations.connections:
        acks = [f.seq for f in c.received if f.type == "SETTINGS" and f.has("ACK")]
        out += [f for f in c.received if acks and f.seq > acks[0]]
    return out


def _rfc9218_signals(ev):
    """§4, §5, §7: a priority field or a PRIORITY_UPDATE shows the client implements RFC 9218."""
    fields = [v for f in ev.observations.frames("HEADERS") for k, v in f.headers or [] if k == "priority"]
    updates = ev.observations.frames(f"UNKNOWN_0x{PRIORITY_UPDATE:02x}")
    return fields, updates


def _implements_9218(ev):
    fields, updates = _rfc9218_signals(ev)
    later = [f for f in _after_ack(ev) if f.type == "HEADERS"]
    shown = bool(fields or updates)
    return shown and bool(later), (f"priority fields {fields}, {len(updates)} PRIORITY_UPDATE; "
                                   f"{len(later)} request(s) after the ACK")


def _no_7540_signals(ev):
    late = [f.describe() for f in _after_ack(ev)
            if f.type == "PRIORITY" or (f.type == "HEADERS" and f.has("PRIORITY"))]
    return not late, f"after the ACK: {late[:2]}" if late else "no PRIORITY frame or flag after the ACK"


CASES = [
    Case(
        id="9218/2.1/no-rfc7540-priorities-invalid",
        level=MUST,
        requirement="RFC 9218 §2.1: SETTINGS_NO_RFC7540_PRIORITIES with a value other than 0 or 1 is "
                    "a connection error PROTOCOL_ERROR for a client that implements RFC 9218; one that "
                    "does not MUST ignore the unknown setting (RFC 9113 §5.5). Which one is reported.",
        server="Once the client has ACKed its preface, sends SETTINGS_NO_RFC7540_PRIORITIES=2, then "
               "the response.",
        scenario=lambda: AfterAck(None, 2),
        request=gets(1),
        expect=either("reaction"),
        good=("good", "rfc9218"),
        bad=KEEP_OPEN,
        covers=("R-9218-2.1-1",),
    ),
    Case(
        id="9218/2.1/no-rfc7540-priorities-changed",
        level=MUST,
        requirement="RFC 9218 §2.1: a server MUST NOT change SETTINGS_NO_RFC7540_PRIORITIES after "
                    "its first SETTINGS; a client MAY treat a change as a connection error "
                    "PROTOCOL_ERROR or ignore it (reported), and either reaction is carried out in full.",
        server="Sends SETTINGS_NO_RFC7540_PRIORITIES=1 in its preface; once the client has ACKed it, "
               "a SETTINGS with it at 0, then the response.",
        scenario=lambda: AfterAck(1, 0),
        request=gets(1),
        expect=either("reaction"),
        good=("good", "rfc9218"),
        bad=KEEP_OPEN,
        covers=("R-9218-2.1-2",),
        level_note="R-9218-2.1-2 is Y (either reaction is allowed); the MUST stands on the "
                   "reaction chosen being complete (the exact response, or the CE legend's close), "
                   "which rfc9218-keep-open breaks.",
    ),
    Case(
        id="9218/2.1.1/no-rfc7540-signals-after-setting",
        level=SHOULD,
        requirement="RFC 9218 §2.1.1: after the server's SETTINGS_NO_RFC7540_PRIORITIES=1, a client "
                    "that implements RFC 9218 SHOULD NOT send RFC 7540 priority signals: no PRIORITY "
                    "frame, no PRIORITY flag on HEADERS (the priority field it sends is reported).",
        server="Sends SETTINGS_NO_RFC7540_PRIORITIES=1 in its preface and answers two sequential "
               "requests.",
        scenario=lambda: Script(preface=preface(1)),
        request=gets(2),
        expect=Exercised("the client shows RFC 9218 signals (a priority field or PRIORITY_UPDATE) "
                         "and sends a request after ACKing the setting", _implements_9218)
        & Custom("no RFC 7540 priority signal after the client ACKed the setting", _no_7540_signals,
                 name="no-7540-signals")
        & Report("priority_fields", lambda ev: _rfc9218_signals(ev)[0]),
        good=("rfc9218",),
        bad={"rfc9218-keeps-7540-signals": "no-7540-signals"},
        covers=("R-9218-2.1.1-1",),
    ),
    Case(
        id="9218/7.1/priority-update-from-server",
        level=MUST,
        requirement="RFC 9218 §7.1: a client that implements RFC 9218 treats a PRIORITY_UPDATE from "
                    "the server as a connection error PROTOCOL_ERROR; one that does not MUST ignore "
                    "the unknown frame type (RFC 9113 §5.5). Either passes; which one is reported.",
        server="Before each response, sends PRIORITY_UPDATE (type 0x10, stream 0) naming the "
               "request's stream with urgency u=0.",
        scenario=lambda: Script(respond=seq(frames(priority_update), reply())),
        request=gets(1),
        expect=either("reaction"),
        good=("good", "rfc9218"),
        bad=KEEP_OPEN,
        covers=("R-9218-7.1-1",),
    ),
]
