"""RFC 9113 §6.10 CONTINUATION (with §4.3 field-block rules)."""
import hashlib

from conformance.case import MUST, NAIVE, Case, get, gets
from conformance.verdicts import ConnectionError, Custom, Fails, Ignored, Report, TransferSucceeds
from servers import frames as F
from servers.scenario import BODY, Script, reply, response_fields


HEAD = response_fields()
FRAGMENTS = 20
# 56 KB of field values (hex, which Huffman only shrinks to ~40 KB), under the common 64 KiB
# header-list limits: the block needs HEADERS plus CONTINUATION frames of 16384 octets.
BIG = [(f"x-big-{i}", "".join(hashlib.sha256(f"{i}:{j}".encode()).hexdigest() for j in range(63))[:4000])
       for i in range(14)]


def response(header_frames):
    """`header_frames(conn, stream)` carries the response's field block, then BODY follows."""
    def respond(conn, req):
        conn.send(header_frames(conn, req.stream))
        conn.send_body(req.stream, BODY)
    return lambda: Script(respond=respond)


def split(fragments):
    """The ~40 KB block as HEADERS + CONTINUATION frames: `fragments` equal pieces, or pieces of
    the default maximum frame size (§4.2) when None."""
    def make(conn, stream):
        block = conn.block(HEAD + BIG)
        parts = F.split_block(block, -(-len(block) // fragments) if fragments else F.DEFAULT_MAX_FRAME)
        return F.headers(stream, parts[0], end_headers=False) + b"".join(
            F.continuation(stream, p, end_headers=i == len(parts) - 1) for i, p in enumerate(parts) if i)
    return make


def many_then_reuse(conn, req):
    """/r/1: the big block in FRAGMENTS pieces; every other request: a response carrying the last
    big field again, which the server's encoder now sends as a reference to its dynamic table."""
    if req.path == "/r/1":
        conn.send(split(FRAGMENTS)(conn, req.stream))
        return conn.send_body(req.stream, BODY)
    reply(fields=[(":status", "200"), BIG[-1], *HEAD[1:]])(conn, req)   # before new entries evict it


def _table_in_step(ev):
    """R-10.5.1-1: whatever became of the fragmented block, the next response decodes right."""
    o = ev.outcomes[1]
    got = dict((k, v) for k, v in o.headers)
    ok = o.ok and got.get(BIG[-1][0]) == BIG[-1][1]
    return ok, (f"transfer 2 {o.summary()}; {BIG[-1][0]} "
                + ("arrived intact" if ok else f"is {got.get(BIG[-1][0], 'missing')!r:.60}"))


def after_end_headers(conn, stream):
    """A complete HEADERS, then an empty CONTINUATION on the same stream (no block is open)."""
    return F.headers(stream, conn.block(HEAD)) + F.continuation(stream, b"")


def interleaved(conn, stream):
    """HEADERS with the whole block but no END_HEADERS, an empty CONTINUATION on another (idle)
    stream, then the empty CONTINUATION with END_HEADERS on the right stream."""
    return (F.headers(stream, conn.block(HEAD), end_headers=False)
            + F.continuation(stream + 2, b"", end_headers=False) + F.continuation(stream, b""))


def stream_0_then_headers(conn, stream):
    """An empty CONTINUATION on stream 0, then the response HEADERS."""
    return F.continuation(0, b"") + F.headers(stream, conn.block(HEAD))


def idle_then_headers(conn, stream):
    """An empty CONTINUATION (END_HEADERS) on stream request+2, which the client never opened."""
    return F.continuation(stream + 2, b"") + F.headers(stream, conn.block(HEAD))


def after_ended_block(conn, stream):
    """HEADERS and a CONTINUATION that ends the block, then a second, empty CONTINUATION."""
    block = conn.block(HEAD)
    return (F.headers(stream, block[:2], end_headers=False) + F.continuation(stream, block[2:])
            + F.continuation(stream, b""))


def end_stream_then_continuation(conn, req):
    """§6.2: END_STREAM on a HEADERS whose block goes on in a CONTINUATION: the stream ends with
    the block, a response without content."""
    block = conn.block(response_fields(0))
    conn.send(F.headers(req.stream, block[:2], end_stream=True, end_headers=False),
              F.continuation(req.stream, block[2:]))


def flag_0x1_on_continuation(conn, req):
    """§4.1 and §6.10: CONTINUATION defines only END_HEADERS, so 0x1 (END_STREAM on HEADERS and
    DATA) means nothing there and the stream stays open for the body."""
    block = conn.block(HEAD)
    conn.send(F.headers(req.stream, block[:2], end_headers=False),
              F.frame(F.CONTINUATION, F.END_HEADERS | 0x1, req.stream, block[2:]),
              F.data(req.stream, BODY, end_stream=True))


def data_then_continuation(conn, req):
    """A complete HEADERS, half the body, an empty CONTINUATION, the rest of the body."""
    half = len(BODY) // 2
    conn.send(F.headers(req.stream, conn.block(HEAD)), F.data(req.stream, BODY[:half]),
              F.continuation(req.stream, b""), F.data(req.stream, BODY[half:], end_stream=True))


def on_earlier_stream(end):
    """Sequential /r/1 and /r/2 on one connection: /r/1's stream is ended by `end` (a complete
    response, or HEADERS and RST_STREAM); /r/2's response starts with an empty CONTINUATION on
    /r/1's stream, where no field block is open."""
    def respond(conn, req):
        if req.path == "/r/1":
            conn.state["earlier"] = req.stream
            return end(conn, req)
        conn.send(F.continuation(conn.state.get("earlier", req.stream), b""))
        reply()(conn, req)
    return lambda: Script(respond=respond)


def headers_then_reset(conn, req):
    conn.send(F.headers(req.stream, conn.block(HEAD)), F.rst_stream(req.stream, "CANCEL"))


CASES = [
    Case(
        id="9113/6.10/continuation-many",
        level=MUST,
        requirement="§6.10 and §10.5: whether a client accepts a field block split over many "
                    "CONTINUATION frames is reported, since §10.5 lets it limit them. Whatever it "
                    "does, the header table stays in step (§10.5.1): a block it refuses is still "
                    "decoded, or the connection is closed, so the next response decodes right. "
                    "(The block is the one of continuation-full-frames; only the frame count "
                    "differs.)",
        server=f"Answers /r/1 with the ~40 KB field block in {FRAGMENTS} fragments of ~2 KB "
               f"(HEADERS + {FRAGMENTS - 1} CONTINUATION), whose fields enter the dynamic table, then "
               f"the body; answers /r/2 with a response that refers to the last of those entries.",
        scenario=lambda: Script(respond=many_then_reuse),
        request=gets(2),
        expect=Custom("the next response decodes right: the header table stayed in step, or the "
                      "connection was replaced", _table_in_step, name="table-in-step")
        & Report("many_continuations", lambda ev: ev.outcome.summary())
        & Report("connections", lambda ev: len(ev.observations.connections)),
        good=("good", "continuation-limit"),
        bad={"continuation-limit-undecoded": "table-in-step"},
        covers=("R-6.10-3", "R-10.5.1-1"),
    ),
    Case(
        id="9113/6.10/continuation-full-frames",
        level=MUST,
        requirement="§6.10 and §4.3: a large field block arrives as HEADERS plus CONTINUATION frames "
                    "of the maximum frame size; the client reassembles and decodes it.",
        server="Sends a ~40 KB response field block (14 fields of 4000 hex octets) as HEADERS and 2 "
               "CONTINUATION frames of up to 16384 octets, then the body.",
        scenario=response(split(None)),
        bad={"no-continuation": "no-error-sent"},
        expect=Ignored(),
        covers=("R-6.10-1",),
    ),
    Case(
        id="9113/6.10/continuation-stream-0",
        level=MUST,
        requirement="§6.10: a CONTINUATION frame on stream 0 MUST be treated as a connection error "
                    "of type PROTOCOL_ERROR.",
        server="Sends an empty CONTINUATION (END_HEADERS) on stream 0, then a normal response.",
        scenario=response(stream_0_then_headers),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-after-end-headers",
        level=MUST,
        requirement="§6.10: a CONTINUATION frame not preceded by a HEADERS, PUSH_PROMISE or "
                    "CONTINUATION frame without END_HEADERS MUST be treated as a connection error "
                    "of type PROTOCOL_ERROR.",
        server="Sends complete response HEADERS (END_HEADERS), an empty CONTINUATION on the same "
               "stream, then the body.",
        scenario=response(after_end_headers),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-other-stream",
        level=MUST,
        requirement="§6.10 and §4.3: a field block's CONTINUATION frames must be on the same stream; "
                    "a CONTINUATION on another stream inside an open block MUST be treated as a "
                    "connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS on the request stream, an empty CONTINUATION on "
               "stream request+2, the closing CONTINUATION on the request stream, then the body.",
        scenario=response(interleaved),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-on-idle-stream",
        level=MUST,
        requirement="§6.10 and §5.1: a CONTINUATION on a stream the client never opened, with no "
                    "field block open, MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends an empty CONTINUATION (END_HEADERS) on stream request+2, then a normal response.",
        scenario=response(idle_then_headers),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-6.10-2", "R-5.1-1"),
    ),
    Case(
        id="9113/6.10/continuation-after-ended-continuation",
        level=MUST,
        requirement="§6.10: once a CONTINUATION with END_HEADERS has ended the field block, another "
                    "CONTINUATION MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS, a CONTINUATION with END_HEADERS, a second, empty "
               "CONTINUATION on the same stream, then the body.",
        scenario=response(after_ended_block),
        request=get(),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-after-data",
        level=MUST,
        requirement="§6.10: a CONTINUATION after a DATA frame follows no open field block and MUST "
                    "be treated as a connection error of type PROTOCOL_ERROR.",
        server="Sends complete response HEADERS, half the body, an empty CONTINUATION on the stream, "
               "then the rest of the body.",
        scenario=lambda: Script(respond=data_then_continuation),
        request=get(),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-after-end-stream",
        level=MUST,
        requirement="§6.10: a CONTINUATION on a stream that END_STREAM closed follows no open field "
                    "block and MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Answers /r/1 completely; answers /r/2 (same connection) with an empty CONTINUATION "
               "on /r/1's stream, then a normal response.",
        scenario=on_earlier_stream(reply()),
        request=gets(2),
        expect=TransferSucceeds(0) & ConnectionError("PROTOCOL_ERROR", index=1),
        bad=NAIVE,
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/continuation-after-server-reset",
        level=MUST,
        requirement="§6.10: a CONTINUATION on a stream the server reset follows no open field block "
                    "and MUST be treated as a connection error of type PROTOCOL_ERROR.",
        server="Answers /r/1 with complete HEADERS then RST_STREAM(CANCEL); answers /r/2 (same "
               "connection) with an empty CONTINUATION on /r/1's stream, then a normal response.",
        scenario=on_earlier_stream(headers_then_reset),
        request=gets(2),
        expect=Fails() & ConnectionError("PROTOCOL_ERROR", index=1),
        bad=NAIVE,
        covers=("R-6.10-2",),
    ),
    Case(
        id="9113/6.10/end-stream-headers-then-continuation",
        level=MUST,
        requirement="§6.2 and §6.10: END_STREAM on a HEADERS whose field block continues in a "
                    "CONTINUATION is valid; the stream ends with the block, and the client accepts "
                    "the response (here one without content).",
        server="Sends HEADERS with END_STREAM but without END_HEADERS, then the CONTINUATION ending "
               "the block of a 200 with content-length 0.",
        scenario=lambda: Script(respond=end_stream_then_continuation),
        expect=Ignored(body=b""),
        bad={"end-stream-before-continuation": "succeeds"},
        covers=("R-6.10-1",),
    ),
    Case(
        id="9113/6.10/continuation-flag-0x1-ignored",
        level=MUST,
        requirement="§4.1 and §6.10: CONTINUATION defines only the END_HEADERS flag; the 0x1 bit "
                    "(END_STREAM on HEADERS and DATA) has no meaning on it and MUST be ignored, so "
                    "the body that follows belongs to the response.",
        server="Sends HEADERS without END_HEADERS, a CONTINUATION with flags END_HEADERS|0x1, then "
               "the body.",
        scenario=lambda: Script(respond=flag_0x1_on_continuation),
        expect=Ignored(),
        bad={"reject-unknown-flags": "no-error-sent"},
        covers=("R-4.1-1", "R-6.10-1"),
    ),
]
