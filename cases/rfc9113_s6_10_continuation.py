"""RFC 9113 §6.10 CONTINUATION (with §4.3 field-block rules)."""
import hashlib

from conformance.case import MUST, Case, gets
from conformance.verdicts import ConnectionError, Custom, Ignored, Report
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
        request=gets(2, timeout_ms=1000),
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
]
