"""RFC 9113 §6.5 SETTINGS: the frame (§6.5), its values (§6.5.2), synchronisation (§6.5.3)."""
import struct

from conformance.case import MAY, MUST, Case, Job, Req, get
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Ignored, Report,
                                  Succeeds)
from conformance.verdicts.verdict import sha256
from servers import frames as F
from servers.scenario import BODY, Script, fault_then_reply, reply

SERVER_SETTINGS = {F.MAX_CONCURRENT_STREAMS: 100}


def preface(values):
    """The server's preface is a SETTINGS frame with `values` (a dict, or pairs in order)."""
    return lambda: Script(preface=[F.settings(values)])


def ack_with_payload():
    """The only ACK the client gets for its SETTINGS carries a 6-octet payload."""
    def on_frame(conn, f):
        if f.type == "SETTINGS" and not f.has("ACK"):
            conn.send(F.frame(F.SETTINGS, F.ACK, 0, b"\0\x03\0\0\0\x64"))
    return Script(ack=False, on_frame=on_frame)


def window_last_wins():
    """Before the first response, one SETTINGS frame lowers INITIAL_WINDOW_SIZE to 0 and then
    restores it to 65535. The second request uploads a body: only a client that applied the
    last value may send it; one that kept 0 stalls until its timeout."""
    repeated = F.settings([(F.INITIAL_WINDOW_SIZE, 0), (F.INITIAL_WINDOW_SIZE, 65535)])

    def respond(conn, req):
        if not conn.state.get("sent"):
            conn.state["sent"] = True
            conn.send(repeated)
        reply()(conn, req)
    return Script(respond=respond)


UPLOAD = b"u" * 4000
BOUNDED = ("§6.5.3: the client MAY end the connection with SETTINGS_TIMEOUT when its "
           "SETTINGS are never acknowledged, or carry on; either way it must not hang")

LIST_LIMIT = 1024
OVER_LIMIT = (("x-large", "L" * 4096),)   # far above LIST_LIMIT on its own (§6.5.2: name + value + 32)
LIST_PATHS = ("/r/1", "/r/2")


def _sent_paths(ev):
    return [dict(f.headers or []).get(":path") for f in ev.observations.frames("HEADERS")]


def _after_ack(ev):
    """The last request went out after the client ACKed the server's SETTINGS, or never did."""
    for c in ev.observations.connections:
        acks = [f.seq for f in c.received if f.type == "SETTINGS" and f.has("ACK")]
        last = [f.seq for f in c.received if f.type == "HEADERS"
                and (":path", LIST_PATHS[-1]) in (f.headers or [])]
        if last:
            return bool(acks) and acks[0] < last[0], f"ACK at #{acks[:1]}, last request at #{last[0]}"
    sent = _sent_paths(ev)
    return LIST_PATHS[-1] not in sent, f"requests sent: {sent}"


def _definite(ev):
    """Each transfer either went out with the application's fields and came back whole, or
    failed without being sent."""
    sent, bad = _sent_paths(ev), []
    intact = [dict(f.headers or []).get(":path") for f in ev.observations.frames("HEADERS")
              if OVER_LIMIT[0] in (f.headers or [])]
    for path, o in zip(LIST_PATHS, ev.outcomes):
        whole = o.ok and o.status == 200 and o.body_sha256 == sha256(BODY) and path in intact
        if not (whole if path in sent else not o.ok):
            bad.append(f"{path}: {'sent' if path in sent else 'not sent'}, {o.summary()}")
    return not bad, "; ".join(bad) or f"requests sent: {sent}; " + "; ".join(o.summary() for o in ev.outcomes)


CASES = [
    # §6.5: the frame itself
    Case(
        id="9113/6.5/settings-ack-with-payload",
        level=MUST,
        requirement="§6.5: a SETTINGS frame with the ACK flag and a non-empty payload MUST be "
                    "treated as a connection error of type FRAME_SIZE_ERROR.",
        server="Acknowledges the client's SETTINGS with an ACK carrying 6 octets, then answers normally.",
        scenario=ack_with_payload,
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5-1",),
    ),
    Case(
        id="9113/6.5/settings-nonzero-stream",
        level=MUST,
        requirement="§6.5: a SETTINGS frame on a stream other than 0 MUST be treated as a connection "
                    "error of type PROTOCOL_ERROR.",
        server="Sends SETTINGS(MAX_CONCURRENT_STREAMS=100) on stream 1, then a normal response.",
        scenario=fault_then_reply(F.settings(SERVER_SETTINGS, stream=1)),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5-1",),
    ),
    Case(
        id="9113/6.5/settings-bad-length",
        level=MUST,
        requirement="§6.5: a SETTINGS frame whose length is not a multiple of 6 octets MUST be "
                    "treated as a connection error of type FRAME_SIZE_ERROR.",
        server="Sends a 7-octet SETTINGS frame, then a normal response.",
        scenario=fault_then_reply(F.frame(F.SETTINGS, 0, 0, struct.pack(">HI", F.MAX_CONCURRENT_STREAMS,
                                                                        100) + b"\0")),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5-1",),
    ),
    # §6.5.2: values
    Case(
        id="9113/6.5.2/enable-push-1",
        level=MUST,
        requirement="§6.5.2: only clients may enable push; a client MUST treat SETTINGS_ENABLE_PUSH=1 "
                    "from a server as a connection error of type PROTOCOL_ERROR.",
        server="Sends SETTINGS_ENABLE_PUSH=1 in its preface, then answers normally.",
        scenario=preface({F.ENABLE_PUSH: 1}),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5.2-1",),
    ),
    Case(
        id="9113/6.5.2/enable-push-2",
        level=MUST,
        requirement="§6.5.2: SETTINGS_ENABLE_PUSH other than 0 or 1 MUST be treated as a connection "
                    "error of type PROTOCOL_ERROR.",
        server="Sends SETTINGS_ENABLE_PUSH=2 in its preface, then answers normally.",
        scenario=preface({F.ENABLE_PUSH: 2}),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5.2-1",),
    ),
    Case(
        id="9113/6.5.2/initial-window-too-large",
        level=MUST,
        requirement="§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 MUST be treated as a "
                    "connection error of type FLOW_CONTROL_ERROR.",
        server="Sends SETTINGS_INITIAL_WINDOW_SIZE=2^31 in its preface, then answers normally.",
        scenario=preface({F.INITIAL_WINDOW_SIZE: 2 ** 31}),
        expect=ConnectionError("FLOW_CONTROL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5.2-2",),
    ),
    Case(
        id="9113/6.5.2/max-frame-size-too-small",
        level=MUST,
        requirement="§6.5.2: SETTINGS_MAX_FRAME_SIZE below 16384 MUST be treated as a connection "
                    "error of type PROTOCOL_ERROR.",
        server="Sends SETTINGS_MAX_FRAME_SIZE=16383 in its preface, then answers normally.",
        scenario=preface({F.MAX_FRAME_SIZE: 16383}),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5.2-3",),
    ),
    Case(
        id="9113/6.5.2/max-frame-size-too-large",
        level=MUST,
        requirement="§6.5.2: SETTINGS_MAX_FRAME_SIZE above 2^24-1 MUST be treated as a connection "
                    "error of type PROTOCOL_ERROR.",
        server="Sends SETTINGS_MAX_FRAME_SIZE=2^24 in its preface, then answers normally.",
        scenario=preface({F.MAX_FRAME_SIZE: 2 ** 24}),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.5.2-3",),
    ),
    Case(
        id="9113/6.5.2/unknown-setting",
        level=MUST,
        requirement="§6.5.2 and §5.5: a setting with an unknown identifier MUST be ignored.",
        server="Sends settings 0x7f3a=1 and 0xffff=2^32-1 next to MAX_CONCURRENT_STREAMS in its preface.",
        scenario=preface([(0x7F3A, 1), (F.MAX_CONCURRENT_STREAMS, 100), (0xFFFF, 2 ** 32 - 1)]),
        expect=Ignored(),
        bad={"reject-unknown-setting": "no-error-sent"},
        covers=("R-5.5-2",),
    ),
    Case(
        id="9113/6.5.2/max-header-list-size-advisory",
        level=MAY,
        requirement="§6.5.2 and §10.5.1: SETTINGS_MAX_HEADER_LIST_SIZE is advisory; a client may send "
                    "a larger field list anyway or refuse the request locally: which is reported, and "
                    "whether each transfer ended as one of the two (sent with the application's fields "
                    "and answered whole, or failed without being sent).",
        server=f"Sets SETTINGS_MAX_HEADER_LIST_SIZE={LIST_LIMIT} in its preface and answers two "
               "sequential requests carrying a 4 KiB field with a normal 200.",
        scenario=lambda: Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                                           F.MAX_HEADER_LIST_SIZE: LIST_LIMIT})]),
        request=Job(tuple(Req(path, headers=OVER_LIMIT) for path in LIST_PATHS), timeout_ms=1000),
        expect=Exercised("the second request came after the client had ACKed the limit",
                         _after_ack)
        & Custom("each transfer is sent and answered whole, or fails without being sent",
                 _definite, name="definite-outcome")
        & Report("requests_sent", _sent_paths),
        bad={"trim-to-header-list": "definite-outcome"},
        covers=("R-6.5.2-4",),
    ),
    # §6.5.3: synchronisation
    Case(
        id="9113/6.5.3/repeated-setting-last-wins",
        level=MUST,
        requirement="§6.5.3: the values of one SETTINGS frame are processed in order, so a setting "
                    "repeated within one frame takes its last value.",
        server="Before the first response sends one SETTINGS with INITIAL_WINDOW_SIZE=0 then =65535; "
               "the second request is a 4000-octet upload.",
        scenario=window_last_wins,
        request=Job((Req("/r/1"), Req("/r/2", method="POST", body=UPLOAD)), timeout_ms=1000),
        expect=Succeeds(),
        bad={"first-setting-wins": "succeeds"},
        covers=("R-6.5.3-1",),
    ),
    Case(
        id="9113/6.5.3/settings-never-acked",
        level=MAY,
        requirement="§6.5.3: a client whose SETTINGS are never acknowledged MAY end the connection "
                    "with SETTINGS_TIMEOUT or carry on; which is reported, and that it does not "
                    "hang (R-HYG-2, no keyword).",
        server="Never sends a SETTINGS ACK; otherwise answers normally (TLS).",
        scenario=lambda: Script(ack=False),
        request=get(timeout_ms=1000),
        expect=AnyOf(Succeeds(), ConnectionError("SETTINGS_TIMEOUT"), why=BOUNDED)
        & Report("succeeded", lambda ev: ev.outcome.ok),
        bad={"wait-for-settings-ack": "succeeds"},
        covers=("R-6.5.3-2", "R-HYG-2"),
    ),
    Case(
        id="9113/6.5.3/settings-never-acked-h2c",
        level=MAY,
        requirement="§6.5.3: over cleartext with prior knowledge, a client whose SETTINGS are never "
                    "acknowledged MAY end the connection with SETTINGS_TIMEOUT or carry on; which is "
                    "reported, and that it does not hang (R-HYG-2, no keyword).",
        server="h2c prior knowledge: never sends a SETTINGS ACK; otherwise answers normally.",
        scenario=lambda: Script(ack=False),
        transport="h2c",
        needs=frozenset({"h2c"}),
        request=get(timeout_ms=1000, http_version="h2-prior-knowledge"),
        expect=AnyOf(Succeeds(), ConnectionError("SETTINGS_TIMEOUT"), why=BOUNDED)
        & Report("succeeded", lambda ev: ev.outcome.ok),
        bad={"wait-for-settings-ack": "succeeds"},
        regression="curl#192",
        covers=("R-6.5.3-2", "R-HYG-2"),
    ),
]
