"""RFC 9113 §6.1 DATA."""

from conformance.case import MUST, Case, gets
from conformance.verdicts import ConnectionError, Ignored, Succeeds
from servers import frames as F
from servers.scenario import BODY, Script, body_for, fault_then_reply, response_fields

HEAD = response_fields()


def body_frames(*make):
    """Response HEADERS, then the DATA frames `make(stream)` returns (the body is BODY)."""
    def respond(conn, req):
        conn.send_fields(req.stream, HEAD)
        for m in make:
            conn.send(m(req.stream))
    return lambda: Script(respond=respond)


def chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def one_byte_frames(stream: int) -> bytes:
    parts = chunks(BODY, 1)
    return b"".join(F.data(stream, p, end_stream=i == len(parts) - 1) for i, p in enumerate(parts))


def bad_padding(stream: int) -> bytes:
    """A 5-octet padded DATA payload whose Pad Length says 5: padding >= payload (§6.1)."""
    return F.frame(F.DATA, F.PADDED, stream, b"\x05abcd")


# -- curl#10525: many parallel streams, 1024-octet DATA frames interleaved --------------
STREAMS, BODY_SIZE, FRAME = 4, 48 * 1024, 1024


def interleaved():
    """Holds the responses until all requests arrived, then sends their bodies
    round-robin in 1024-octet DATA frames; whatever the client's windows do not
    allow yet goes out through send_body once WINDOW_UPDATE arrives."""
    pending = []

    def respond(conn, req):
        pending.append((conn, req))
        if len(pending) < STREAMS:
            return
        batch, left = list(pending), {}
        pending.clear()
        for c, r in batch:
            c.send_fields(r.stream, [(":status", "200"), ("content-type", "application/octet-stream"),
                                     ("content-length", str(BODY_SIZE))])
            left[(c, r.stream)] = body_for(r.path, BODY_SIZE)
        while left:
            for (c, sid), body in list(left.items()):
                piece = body[:FRAME]
                if min(c.conn_window, c.stream_window(sid)) < len(piece):
                    c.send_body(sid, body)  # waits for the client's WINDOW_UPDATE
                    del left[(c, sid)]
                    continue
                c.send(F.data(sid, piece, end_stream=len(body) <= FRAME))
                if len(body) <= FRAME:
                    del left[(c, sid)]
                else:
                    left[(c, sid)] = body[FRAME:]
    return Script(respond=respond)


CASES = [
    Case(
        id="9113/6.1/data-stream-0",
        level=MUST,
        requirement="§6.1: DATA frames belong to a stream; a DATA frame on stream 0 MUST be treated as "
                    "a connection error of type PROTOCOL_ERROR.",
        server="Sends a 5-octet DATA frame on stream 0, then a normal response.",
        scenario=fault_then_reply(F.frame(F.DATA, 0, 0, b"hello")),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.1-1",),
    ),
    Case(
        id="9113/6.1/data-padding-exceeds-payload",
        level=MUST,
        requirement="§6.1: when the Pad Length of a DATA frame is the length of the frame payload or "
                    "more, the client MUST treat it as a connection error of type PROTOCOL_ERROR.",
        server="Sends response HEADERS, a 5-octet padded DATA frame whose Pad Length is 5, then the body.",
        scenario=body_frames(bad_padding, lambda s: F.data(s, BODY, end_stream=True)),
        expect=ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.1-1",),
    ),
    Case(
        id="9113/6.1/data-padded",
        level=MUST,
        requirement="§6.1: padded DATA frames are valid; the padding is discarded and the body is "
                    "what remains (including a frame that is all padding).",
        server="Sends the body in padded DATA frames (pad 0, 1, 255 and an all-padding frame).",
        scenario=body_frames(lambda s: F.data(s, BODY[:5], pad=0),
                             lambda s: F.data(s, BODY[5:10], pad=1),
                             lambda s: F.data(s, b"", pad=40),
                             lambda s: F.data(s, BODY[10:], pad=255, end_stream=True)),
        expect=Ignored(),
        bad={"no-padding": "no-error-sent"},
        covers=("R-6.1-2",),
    ),
    Case(
        id="9113/6.1/data-empty",
        level=MUST,
        requirement="§6.1: empty DATA frames are valid, including an empty one that only carries "
                    "END_STREAM; the body is unaffected.",
        server="Sends two empty DATA frames, the body, then an empty DATA frame with END_STREAM.",
        scenario=body_frames(lambda s: F.data(s), lambda s: F.data(s), lambda s: F.data(s, BODY),
                             lambda s: F.data(s, end_stream=True)),
        expect=Ignored(),
        bad={"reject-empty-data": "no-error-sent"},
        covers=("R-6.1-2", "R-6.1-3"),
    ),
    Case(
        id="9113/6.1/data-many-small",
        level=MUST,
        requirement="§6.1: a body may be split over any number of DATA frames; the client "
                    "reassembles it exactly.",
        server="Sends the body one octet per DATA frame.",
        scenario=body_frames(one_byte_frames),
        expect=Ignored(),
        bad={"small-frame-limit": "no-error-sent"},
        covers=("R-6.1-3",),
    ),
    Case(
        id="9113/6.1/parallel-small-frames",
        level=MUST,
        requirement="§6.1 with §5: DATA frames of several streams may interleave in any order; the "
                    "client delivers each stream's body intact to its own transfer.",
        server="Holds 4 parallel requests, then interleaves their distinct 48 KiB bodies "
               "round-robin in 1024-octet DATA frames.",
        scenario=interleaved,
        request=gets(STREAMS, mode="parallel"),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds(bodies=[body_for(f"/r/{i}", BODY_SIZE) for i in range(1, STREAMS + 1)]),
        bad={"mix-streams": "succeeds"},
        regression="curl#10525",
        covers=("R-6.1-3",),
    ),
]
