"""RFC 9113 §10.5 denial-of-service floods, as a client meets them.

Each flood is built once, at import, and sent in one go after the request arrives: the
scenario's output is bounded (every case well under 2 MB). A client may absorb the flood and
complete the transfer, or refuse it as abuse, ENHANCE_YOUR_CALM (§10.5); either way it ends
within its own 1 s timeout.
"""
from hpack.hpack import encode_integer

from conformance.case import MUST, SHOULD, Case, get, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Fails, Report, Succeeds,
                                  TransferSucceeds)
from servers import frames as F
from servers.scenario import BODY, Script, frames, reply, response_fields, seq

from cases._stream_faults import SAME_CONNECTION, TABLE_IN_STEP, stream_of

TIMEOUT_MS = 1000
N_SETTINGS, N_PING, N_DATA, N_CONTINUATION = 2000, 2000, 5000, 5000
SETTINGS_FLOOD = F.settings() * N_SETTINGS                       # 18 000 octets
PING_FLOOD = b"".join(F.ping(i.to_bytes(8, "big")) for i in range(N_PING))   # 34 000 octets
HEAD = response_fields()
# The CONTINUATION flood's field block: :status 200 (indexed, 0x88), then a literal without
# indexing, new name x-flood, whose raw value announces 50 000 octets (RFC 7541 §6.2.2); each
# CONTINUATION carries one of them and none has END_HEADERS, so the block never ends.
FLOOD_VALUE = 50_000
FLOOD_HEAD = b"\x88\x00\x07x-flood" + bytes(encode_integer(FLOOD_VALUE, 7))


def continuation_flood(conn, req):
    return F.headers(req.stream, FLOOD_HEAD, end_headers=False) + \
        F.continuation(req.stream, b"a", end_headers=False) * N_CONTINUATION   # 50 000 octets


# An HPACK bomb (§10.5.1, RFC 7541 §7.3): one 4000-octet value inserted into the dynamic table,
# then 5000 one-octet references to it: a 9 KB field block that decodes to a 20 MB field list.
BOMB_VALUE, BOMB_REFS = 4000, 5000   # the entry (4038 octets) fits a 4096-octet table
BOMB = (b"\x88"                                                   # :status 200 (static 8)
        + b"\x40\x06x-bomb" + bytes(encode_integer(BOMB_VALUE, 7)) + b"b" * BOMB_VALUE  # -> 62
        + b"\xbe" * BOMB_REFS                                        # indexed 62, BOMB_REFS times
        + b"\x0f\x0d" + bytes(encode_integer(len(str(len(BODY))), 7)) + str(len(BODY)).encode())
#                                      content-length (static 28), literal without indexing


# §10.5.1: a field list over any client's limit (1.6 MB: one 4000-octet entry referred to 400
# times) whose block goes on after that point to insert x-seq: two, which /r/2 then refers to.
LENGTH_LITERAL = b"\x0f\x0d" + bytes(encode_integer(len(str(len(BODY))), 7)) + str(len(BODY)).encode()
OVERSIZED_REFS = 400
OVERSIZED = (b"\x88" + b"\x40\x05x-big" + bytes(encode_integer(BOMB_VALUE, 7)) + b"b" * BOMB_VALUE
             + b"\xbe" * OVERSIZED_REFS                               # indexed 62 (x-big)
             + b"\x40\x05x-seq\x03two"                                 # -> 62, x-big -> 63
             + LENGTH_LITERAL)
SEQ_BY_INDEX = b"\x88" + LENGTH_LITERAL + b"\xbe"                      # x-seq: two, as index 62
SEQ_LITERAL = b"\x88" + LENGTH_LITERAL + b"\x00\x05x-seq\x03two"      # the same, without the table


def oversized_then_reuse(conn, req):
    """/r/1 gets the OVERSIZED block; /r/2 refers to its last entry if it comes on the same
    connection, else carries x-seq: two as a literal."""
    if req.path == "/r/1":
        conn.state["oversized"] = True
        block = OVERSIZED
    else:
        block = SEQ_BY_INDEX if conn.state.get("oversized") else SEQ_LITERAL
    conn.send(F.headers(req.stream, block), F.data(req.stream, BODY, end_stream=True))


def _first_outcome(ev):
    """What became of the oversized response (reported: §10.5.1 lets the client discard it)."""
    o = ev.outcome
    c, stream = stream_of(ev, "/r/1")
    signals = [f.describe() for f in (c.received if c else []) if f.error_code not in (None, "NO_ERROR")
               and (f.type == "GOAWAY" or f.stream == stream)]
    return f"{o.summary()}; client sent {', '.join(signals) or 'no RST_STREAM or error GOAWAY'}"


def hpack_bomb(conn, req):
    conn.send(F.headers(req.stream, BOMB))
    conn.send(F.data(req.stream, BODY, end_stream=True))


PROBE = b"h2cs-one"   # the PING that proves the client read past the first empty DATA


def data_flood_start(conn, req):
    """Response HEADERS, one empty DATA and a PING; the flood follows the PING's ACK."""
    conn.state["flood_stream"] = req.stream
    conn.send_fields(req.stream, HEAD)
    conn.send(F.data(req.stream, b"") + F.ping(PROBE))


def data_flood_rest(conn, f):
    """Once the client has ACKed the PING (so it took the single empty DATA in its stride),
    5000 more empty DATA frames (45 000 octets of flood), then the body."""
    if f.type == "PING" and f.has("ACK") and f.ping == PROBE:
        sid = conn.state["flood_stream"]
        conn.send(F.data(sid, b"") * N_DATA)
        conn.send_body(sid, BODY)


def _single_empty_data_taken(ev):
    """§6.1: one empty DATA frame is legal; the client must get past it (ACK the PING behind it)
    before any refusal of the flood."""
    acked = any(f.has("ACK") and f.ping == PROBE for f in ev.observations.frames("PING"))
    return acked, ("client ACKed the PING that followed the first empty DATA" if acked else
                   "client never got past the first empty DATA (no ACK of the PING behind it)")


# -- checks ------------------------------------------------------------------------------------
CALM = ConnectionError("ENHANCE_YOUR_CALM")
WHY = "§10.5: a client may absorb a flood of legal frames or refuse it as ENHANCE_YOUR_CALM"


def in_time(ev):
    """Bounded: the transfer ended (either way) within the client's own timeout plus slack."""
    o = ev.outcome
    total = (o.timings or {}).get("total_ms")
    if total is None:
        return True, "the client reported no timing"
    return total <= TIMEOUT_MS + 500, f"transfer ended after {total:.0f} ms"


IN_TIME = Custom(f"the transfer ends within {TIMEOUT_MS + 500} ms", in_time, name="ends-in-time")


def answered(ftype: str, n: int, what: str, level=None):
    """The client answered all `n` frames of the flood (plus the preface SETTINGS for SETTINGS)."""
    def check(ev):
        got = [f for f in ev.observations.frames(ftype) if f.has("ACK")]
        return len(got) >= n, f"client sent {len(got)} {ftype} ACK(s)"
    return Custom(f"the client acknowledges every {what} ({n} {ftype} ACKs) (§6.5.3, §6.7)", check,
                  level=level, name="acks-every-frame")


def reaction(ev):
    """Which way it went, for the report."""
    o = ev.outcome
    goaways = [f.error_code for f in ev.observations.frames("GOAWAY") if f.error_code != "NO_ERROR"]
    rsts = [f.error_code for f in ev.observations.frames("RST_STREAM")]
    if o.ok:
        return "absorbed the flood and completed"
    return (f"failed ({o.error_class}) after {(o.timings or {}).get('total_ms')} ms; "
            f"GOAWAY {goaways or 'none'}; RST_STREAM {rsts or 'none'}")


REACTION = Report("reaction", reaction)


def _undefined_codes(ev):
    """R-7-2 (reported): RST_STREAM and GOAWAY frames whose code RFC 9113 §7 does not define."""
    sent = ev.observations.frames("RST_STREAM") + ev.observations.frames("GOAWAY")
    return [f.describe() for f in sent if f.error_code not in F.ERROR_CODES][:3]


UNDEFINED_CODES = Report("undefined_error_codes", _undefined_codes)
LIST_BOUND = 1 << 20   # far below the bomb's 20 MB: a client that kept it all set no limit


def _ended(ev):
    o = ev.outcome
    ok = (o.ok and o.body_len == len(BODY)) or (not o.ok and o.error_class != "timeout")
    return ok, f"transfer {o.summary()}"


def _field_list_bounded(ev):
    size = sum(len(k) + len(v) for k, v in ev.outcome.headers)
    return size < LIST_BOUND, f"the application got {len(ev.outcome.headers)} fields, {size} octets"
REFUSED = ("stream", "http2", "recv", "weird-reply")   # the response was refused, not lost


def _no_stream_after_refusal(ev):
    """If transfer 1 failed, the client gave up on connection #0: no stream opens there after the
    flood (§9.1.1, §5.4.1)."""
    if ev.outcome.ok or not ev.observations.connections:
        return True, "transfer 1 completed, so connection #0 stays usable"
    c = ev.observations.connections[0]
    flood = [f.seq for f in c.sent if f.type == "SETTINGS" and not f.has("ACK")]
    start = flood[1] if len(flood) > 1 else 0
    late = [f.stream for f in c.headers_after(start)]
    return not late, (f"after refusing the flood, the client opened stream(s) {late} on connection #0"
                      if late else f"streams per connection "
                      f"{[len(x.streams_opened()) for x in ev.observations.connections]}")


CASES = [
    Case(
        id="9113/10.5/settings-flood",
        level=SHOULD,
        covers=("R-10.5-1", "R-6.5.3-1"),
        requirement="§10.5: a client SHOULD bound a flood of SETTINGS frames: it either ACKs each "
                    "one (a MUST, §6.5.3) and completes the transfer, or treats the flood as a "
                    "connection error ENHANCE_YOUR_CALM; it never hangs.",
        server=f"After the request, sends {N_SETTINGS} empty SETTINGS frames in one burst, then a "
               f"normal response.",
        scenario=lambda: Script(respond=seq(frames(SETTINGS_FLOOD), reply())),
        request=get(timeout_ms=TIMEOUT_MS),
        expect=AnyOf(Succeeds() & answered("SETTINGS", N_SETTINGS + 1, "SETTINGS frame", MUST),
                     CALM, why=WHY) & IN_TIME & REACTION,
        bad={"no-settings-ack": "acks-every-frame"},
    ),
    Case(
        id="9113/10.5/settings-flood-next-request",
        level=MUST,
        covers=("R-9.1.1-3", "R-10.5-1"),
        requirement="§10.5, §9.1.1 and §5.4.1: however the client handled a SETTINGS flood, the "
                    "next request succeeds: on the same connection if it absorbed the flood, on a "
                    "new one if it refused it (a refused connection is never reused).",
        server=f"Answers request 1 after {N_SETTINGS} empty SETTINGS frames; request 2, on "
               f"whichever connection it comes, gets a normal response.",
        scenario=lambda: Script(respond=lambda conn, req: (
            seq(frames(SETTINGS_FLOOD), reply()) if req.path == "/r/1" else reply())(conn, req)),
        request=gets(2, timeout_ms=TIMEOUT_MS),
        expect=AnyOf(TransferSucceeds(0)
                     & answered("SETTINGS", N_SETTINGS + 1, "SETTINGS frame"), Fails(*REFUSED),
                     why=WHY + " (settings-flood judges the error code)")
        & TransferSucceeds(1)
        & Custom("no new stream on a connection whose flood the client refused",
                 _no_stream_after_refusal, name="no-stream-after-refusing-flood") & REACTION,
        good=("good", "settings-limit"),
        bad={"settings-limit-reuse": "no-stream-after-refusing-flood"},
    ),
    Case(
        id="9113/10.5/ping-flood",
        level=SHOULD,
        covers=("R-10.5-1", "R-6.7-1"),
        requirement="§10.5: a client SHOULD bound a flood of PING frames: it either answers each "
                    "with a PING ACK (a MUST, §6.7) and completes the transfer, or treats the flood "
                    "as a connection error ENHANCE_YOUR_CALM; it never hangs.",
        server=f"After the request, sends {N_PING} PING frames (distinct payloads) in one burst, "
               f"then a normal response.",
        scenario=lambda: Script(respond=seq(frames(PING_FLOOD), reply())),
        request=get(timeout_ms=TIMEOUT_MS),
        expect=AnyOf(Succeeds() & answered("PING", N_PING, "PING", MUST), CALM, why=WHY) & IN_TIME
        & REACTION,
        bad={"no-ping-ack": "acks-every-frame"},
    ),
    Case(
        id="9113/10.5/empty-data-flood",
        level=SHOULD,
        covers=("R-10.5-1",),
        requirement="§10.5 and §6.1: empty DATA frames are legal; a client SHOULD bound a flood of "
                    "them: it absorbs it (the transfer completes with the exact body) or refuses "
                    "it as a connection error ENHANCE_YOUR_CALM; never a hang, never another error.",
        server=f"Sends response HEADERS, one empty DATA and a PING; after the PING's ACK, "
               f"{N_DATA} more empty DATA frames (no END_STREAM), then the body.",
        scenario=lambda: Script(respond=data_flood_start, on_frame=data_flood_rest),
        request=get(timeout_ms=TIMEOUT_MS),
        expect=AnyOf(Succeeds(), CALM, why=WHY) & IN_TIME & REACTION
        & Custom("the client gets past a single empty DATA frame (§6.1 makes it legal)",
                 _single_empty_data_taken, level=MUST, name="single-empty-data-taken"),
        bad={"reject-empty-data": "single-empty-data-taken"},
    ),
    Case(
        id="9113/10.5.1/continuation-flood",
        level=SHOULD,
        covers=("R-10.5-1",),
        requirement="§10.5 and §10.5.1: a client SHOULD bound a field block that never ends "
                    "(one-octet CONTINUATION frames without END_HEADERS): it refuses the flood "
                    "as a connection error or keeps reading until its own timeout; it never "
                    "reports success.",
        server=f"Sends HEADERS (no END_HEADERS) with :status 200 and the start of a "
               f"{FLOOD_VALUE}-octet x-flood value, then {N_CONTINUATION} one-octet "
               f"CONTINUATION frames without END_HEADERS, then nothing.",
        scenario=lambda: Script(respond=frames(continuation_flood)),
        request=get(timeout_ms=TIMEOUT_MS),
        waits=True,
        expect=AnyOf(ConnectionError("ENHANCE_YOUR_CALM", "COMPRESSION_ERROR"),
                     Fails("timeout", allow_timeout=True),
                     why="§10.5.1 and §4.3: a client may refuse the block, closing the connection "
                         "as abuse (ENHANCE_YOUR_CALM, §10.5) or as a block it will not decode "
                         "(COMPRESSION_ERROR, §4.3), or wait for the rest until its timeout")
        & IN_TIME & REACTION,
        bad={"ok-on-timeout": "transfer-fails"},
    ),
    Case(
        id="9113/10.5.1/hpack-bomb",
        level=SHOULD,
        bad={"no-header-list-limit": "field-list-bounded"},
        covers=("R-10.5-1", "R-7-2"),
        requirement="§10.5 and §10.5.1 (RFC 7541 §7.3): a client SHOULD bound a small field block "
                    "that decodes to a huge field list: it limits what it decodes (refusing the "
                    "response as a stream or connection error) or caps what it keeps, so the 20 MB "
                    "list never reaches the application, and the transfer ends either way, never "
                    "by its timeout. Whether its RST_STREAM or GOAWAY carries a code §7 defines is "
                    "reported.",
        server=f"Sends a {len(BOMB) // 1000} KB response field block that inserts one "
               f"{BOMB_VALUE}-octet x-bomb value and then refers to it {BOMB_REFS} times (a 20 MB "
               f"field list), then the body.",
        scenario=lambda: Script(respond=hpack_bomb),
        request=get(timeout_ms=TIMEOUT_MS),
        expect=Custom("the transfer ends (the exact body, or a refusal), not by its timeout",
                      _ended, name="ends-without-timeout")
        & Custom(f"the field list the application gets stays under {LIST_BOUND} octets",
                 _field_list_bounded, name="field-list-bounded")
        & UNDEFINED_CODES & IN_TIME & REACTION,
    ),
    Case(
        id="9113/10.5.1/oversized-block-keeps-table",
        level=MUST,
        covers=("R-10.5.1-1",),
        requirement=f"§10.5.1: a field block the client will not accept (its field list, "
                    f"{OVERSIZED_REFS * (BOMB_VALUE + 37) // 100000 / 10} MB, is over any client's "
                    f"limit) MUST still be decoded to the end, keeping the header table in step, "
                    f"unless the client ends the connection; the response itself may be discarded.",
        server=f"Answers /r/1 with a field block that inserts a {BOMB_VALUE}-octet x-big, refers to "
               f"it {OVERSIZED_REFS} times, then inserts x-seq: two; /r/2's response on the same "
               f"connection refers to x-seq by index (on a new connection, a literal).",
        scenario=lambda: Script(respond=oversized_then_reuse),
        request=gets(2, timeout_ms=TIMEOUT_MS),
        expect=TABLE_IN_STEP & Report("oversized_response", _first_outcome) & SAME_CONNECTION
        & UNDEFINED_CODES,
        bad={"oversized-stream-error": "table-in-step"},
    ),
]
