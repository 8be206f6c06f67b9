"""RFC 9113 §6.5 SETTINGS: the frame (§6.5), its values (§6.5.2), synchronisation (§6.5.3)."""
import struct

from conformance.case import MAY, MUST, Case, Job, Req, get, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Ignored, Report,
                                  Succeeds, TransferSucceeds)
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


def acks_awaited():
    """After the request: an empty SETTINGS and SETTINGS(MAX_CONCURRENT_STREAMS=50); the response
    goes out once the client has ACKed all three SETTINGS frames (the preface's included)."""
    def respond(conn, req):
        conn.send(F.settings() + F.settings({F.MAX_CONCURRENT_STREAMS: 50}))
        conn.state["req"] = req

    def on_frame(conn, f):
        req = conn.state.get("req")
        if req is not None and len(_acks(conn.record)) >= 3:
            del conn.state["req"]
            reply()(conn, req)
    return Script(respond=respond, on_frame=on_frame)


def _acks(c):
    return [f for f in c.received if f.type == "SETTINGS" and f.has("ACK")]


def _own_settings_well_formed(ev):
    """§6.5, §6.5.2: the client's SETTINGS frames are on stream 0, made of 6-octet entries, and a
    MAX_FRAME_SIZE it announces lies in [2^14, 2^24-1]."""
    problems = []
    for c in ev.observations.connections:
        for f in c.received:
            if f.type != "SETTINGS" or f.has("ACK"):
                continue
            if f.stream != 0 or f.length % 6:
                problems.append(f"SETTINGS on stream {f.stream}, length {f.length}")
            for name, value in f.settings or []:
                if name == "MAX_FRAME_SIZE" and not 2 ** 14 <= value <= 2 ** 24 - 1:
                    problems.append(f"MAX_FRAME_SIZE={value}")
    return not problems, "; ".join(problems) or "every client SETTINGS frame is well formed"


def _acks_well_formed(ev):
    """§6.5: each ACK is on stream 0 with an empty payload; §6.5.3: one per server SETTINGS."""
    problems, counts = [], []
    for c in ev.observations.connections:
        acks = _acks(c)
        wanted = len([f for f in c.sent if f.type == "SETTINGS" and not f.has("ACK")])
        counts.append(f"{len(acks)} ACK(s) for {wanted} SETTINGS")
        problems += [f.describe() + f" length={f.length}" for f in acks if f.stream or f.length]
        if len(acks) != wanted:
            problems.append(f"connection #{c.index}: {len(acks)} ACK(s) for {wanted} SETTINGS frames")
    return not problems, "; ".join(problems) or "; ".join(counts)


def _advertised(ev):
    """R-6.5-3 (reported): what the client announces, frame by frame, and anything a server
    would have to refuse or that repeats within a frame."""
    out = []
    for c in ev.observations.connections:
        for f in c.received:
            if f.type == "SETTINGS" and not f.has("ACK"):
                names = [n for n, _ in f.settings or []]
                odd = sorted({n for n in names if names.count(n) > 1})
                odd += [f"{n}={v}" for n, v in f.settings or []
                        if (n == "ENABLE_PUSH" and v > 1) or (n == "INITIAL_WINDOW_SIZE" and v > 2 ** 31 - 1)]
                out.append({"connection": c.index, "settings": dict(f.settings or []), "odd": odd})
    return out


BIG_VALUE = "b" * 2000
HEADER_LIST_LIMIT = 1000


def _request_as_given(ev):
    """R-6.5.2-4: /r/2 goes out with the application's 2000-octet x-big field, or not at all (a
    local failure); a request with the field dropped is neither."""
    sent = [f for f in ev.observations.frames("HEADERS") if (":path", "/r/2") in (f.headers or [])]
    if not sent:
        return not ev.outcomes[1].ok, f"/r/2 never sent; transfer 2 {ev.outcomes[1].summary()}"
    whole = ("x-big", BIG_VALUE) in (sent[0].headers or [])
    return whole and ev.outcomes[1].ok, ("/r/2 sent with the whole x-big field" if whole else
                                         "/r/2 sent without the application's x-big field") + \
        f"; transfer 2 {ev.outcomes[1].summary()}"


def _header_list_reaction(ev):
    sent = any((":path", "/r/2") in (f.headers or []) for f in ev.observations.frames("HEADERS"))
    return "sent anyway" if sent else f"failed locally: {ev.outcomes[1].summary()}"


def _largest_frame(ev):
    """R-4.2-4 (reported): the largest frame the client sent once the server allowed 2^24-1."""
    return max((f.length for f in ev.observations.frames()), default=0)


def _frames_within(limit: int):
    def check(ev):
        big = [f.describe() for f in ev.observations.frames() if f.length > limit]
        return not big, big[0] if big else f"largest client frame {_largest_frame(ev)} octets"
    return check


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
        request=Job(tuple(Req(path, headers=OVER_LIMIT) for path in LIST_PATHS)),
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
        request=Job((Req("/r/1"), Req("/r/2", method="POST", body=UPLOAD))),
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
        request=get(),
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
        request=get(http_version="h2-prior-knowledge"),
        expect=AnyOf(Succeeds(), ConnectionError("SETTINGS_TIMEOUT"), why=BOUNDED)
        & Report("succeeded", lambda ev: ev.outcome.ok),
        bad={"wait-for-settings-ack": "succeeds"},
        regression="curl#192",
        covers=("R-6.5.3-2", "R-HYG-2"),
    ),
    Case(
        id="9113/6.5/client-settings-well-formed",
        level=MUST,
        covers=("R-6.5-2", "R-6.5-3"),
        requirement="§6.5 and §6.5.2: the client's SETTINGS frames are on stream 0, a whole number "
                    "of 6-octet entries, and any MAX_FRAME_SIZE it announces lies in [2^14, 2^24-1]. "
                    "The values it announces are reported, with repeats, later changes and values a "
                    "server would have to refuse.",
        server="Answers three sequential GETs normally.",
        scenario=lambda: Script(),
        request=gets(3),
        expect=Succeeds() & Custom("every client SETTINGS frame is well formed (§6.5, §6.5.2)",
                                   _own_settings_well_formed, name="own-settings-well-formed")
        & Report("advertised", _advertised),
        bad={"advertise-max-frame-16383": "own-settings-well-formed"},
    ),
    Case(
        id="9113/6.5/client-settings-acks-well-formed",
        level=MUST,
        covers=("R-6.5-2", "R-6.5.3-1"),
        requirement="§6.5 and §6.5.3: the client ACKs every SETTINGS frame, an empty one too, once "
                    "each, with an ACK on stream 0 and no payload.",
        server="After the request sends an empty SETTINGS and SETTINGS(MAX_CONCURRENT_STREAMS=50); "
               "answers once all three SETTINGS frames (the preface's too) are ACKed.",
        scenario=acks_awaited,
        request=get(),
        expect=Succeeds() & Custom("one empty ACK on stream 0 for each server SETTINGS frame",
                                   _acks_well_formed, name="acks-well-formed"),
        bad={"settings-ack-payload": "acks-well-formed", "no-settings-ack": "succeeds"},
    ),
    Case(
        id="9113/6.5.2/max-header-list-size-small",
        level=MAY,
        covers=("R-6.5.2-4",),
        requirement="§6.5.2 and §10.5.1: SETTINGS_MAX_HEADER_LIST_SIZE is advisory; against a limit "
                    "smaller than a request's fields the client sends the request as the application "
                    "gave it or fails locally (which is reported), never a request with fields "
                    "dropped.",
        server=f"Announces MAX_HEADER_LIST_SIZE={HEADER_LIST_LIMIT}; answers a warm-up GET, then a GET "
               f"carrying a {len(BIG_VALUE)}-octet x-big field, normally.",
        scenario=preface({F.MAX_CONCURRENT_STREAMS: 100, F.MAX_HEADER_LIST_SIZE: HEADER_LIST_LIMIT}),
        request=Job((Req("/r/1"), Req("/r/2", headers=(("x-big", BIG_VALUE),)))),
        expect=TransferSucceeds(0)
        & Custom("the request goes out as the application gave it, or not at all", _request_as_given,
                 name="request-as-given")
        & Report("reaction", _header_list_reaction),
        bad={"trim-to-header-list-size": "request-as-given"},
    ),
    Case(
        id="9113/6.5.2/initial-window-size-maximum",
        level=MUST,
        covers=("R-6.5.2-2",),
        requirement="§6.5.2: SETTINGS_INITIAL_WINDOW_SIZE may be 2^31-1 exactly; that value is not "
                    "an error, and an upload under it completes.",
        server="Sends SETTINGS_INITIAL_WINDOW_SIZE=2^31-1 in its preface; reads a 4000-octet POST.",
        scenario=preface({F.MAX_CONCURRENT_STREAMS: 100, F.INITIAL_WINDOW_SIZE: 2 ** 31 - 1}),
        request=Job((Req("/upload", method="POST", body=UPLOAD),)),
        expect=Ignored(),
        bad={"strict-bounds": "no-error-sent"},
    ),
    Case(
        id="9113/6.5.2/max-frame-size-maximum",
        level=MUST,
        covers=("R-6.5.2-3", "R-4.2-3", "R-4.2-4"),
        requirement="§6.5.2 and §4.2: SETTINGS_MAX_FRAME_SIZE may be 2^24-1 exactly; the value is "
                    "not an error and the client's frames stay within it. Whether it then sends "
                    "frames above 16384 octets is reported.",
        server="Sends SETTINGS_MAX_FRAME_SIZE=2^24-1 in its preface; reads a 40000-octet POST, "
               "crediting what it reads.",
        scenario=preface({F.MAX_CONCURRENT_STREAMS: 100, F.MAX_FRAME_SIZE: 2 ** 24 - 1}),
        request=Job((Req("/upload", method="POST", body=UPLOAD * 10),), timeout_ms=1000),
        expect=Ignored() & Custom("every client frame within 2^24-1 octets", _frames_within(2 ** 24 - 1),
                                  name="frames-within-limit")
        & Report("largest_frame", _largest_frame),
        bad={"strict-bounds": "no-error-sent"},
    ),
    Case(
        id="9113/6.5.2/enable-push-0",
        level=MUST,
        covers=("R-6.5.2-1",),
        requirement="§6.5.2: a server may send SETTINGS_ENABLE_PUSH=0; only other values are an "
                    "error.",
        server="Sends SETTINGS_ENABLE_PUSH=0 in its preface, then answers normally.",
        scenario=preface({F.MAX_CONCURRENT_STREAMS: 100, F.ENABLE_PUSH: 0}),
        expect=Ignored(),
        bad={"reject-server-enable-push": "no-error-sent"},
    ),
]
