"""RFC 9113 §4 HTTP frames: the frame header (§4.1), frame size (§4.2), field blocks (§4.3)."""
import base64
import hashlib

from conformance.case import MUST, Case, Job, Req
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Ignored, StreamError,
                                  Succeeds)
from servers import frames as F
from servers.hpack_raw import integer
from servers.scenario import BODY, Script, frames, response_fields

HEADERS_UNDEFINED = 0x02 | 0x10 | 0x40 | 0x80           # §6.2 defines 0x01, 0x04, 0x08, 0x20
DATA_UNDEFINED = 0x02 | 0x04 | 0x10 | 0x20 | 0x40 | 0x80  # §6.1 defines 0x01, 0x08


def filler(size: int) -> bytes:
    """A literal field 'x-fill: aaa...' without indexing (RFC 7541 §6.2.2), exactly `size` octets."""
    name = b"x-fill"
    head = b"\x00" + integer(len(name), 7) + name
    for n in range(1, 6):
        value_len = size - len(head) - n
        if value_len >= 0 and len(integer(value_len, 7)) == n:
            return head + integer(value_len, 7) + b"a" * value_len
    raise ValueError(f"no filler of {size} octets")


def sized_headers(conn, stream: int, block_fields, size: int) -> bytes:
    """HEADERS (END_HEADERS) whose payload is exactly `size` octets: the fields plus a filler."""
    block = conn.block(block_fields)
    return F.headers(stream, block + filler(size - len(block)))


# -- responders ----------------------------------------------------------------------

def odd_flags(conn, req):
    """§4.1: HEADERS and DATA carrying every flag their type does not define."""
    conn.send(F.frame(F.HEADERS, F.END_HEADERS | HEADERS_UNDEFINED, req.stream,
                      conn.block(response_fields(len(BODY)))))
    conn.send(F.frame(F.DATA, F.END_STREAM | DATA_UNDEFINED, req.stream, BODY))


def reserved_bit(conn, req):
    """§4.1: HEADERS and DATA with the reserved bit of the stream identifier set."""
    conn.send(F.frame(F.HEADERS, F.END_HEADERS, req.stream, conn.block(response_fields(len(BODY))),
                      reserved=True))
    conn.send(F.frame(F.DATA, F.END_STREAM, req.stream, BODY, reserved=True))


MAX_BODY = bytes(i % 251 for i in range(F.DEFAULT_MAX_FRAME))


def max_size_frames(conn, req):
    """§4.2: a HEADERS frame and a DATA frame of exactly 16384 octets each."""
    conn.send(sized_headers(conn, req.stream, response_fields(len(MAX_BODY)), F.DEFAULT_MAX_FRAME))
    conn.send(F.data(req.stream, MAX_BODY, end_stream=True))


def data_too_large(conn, req):
    n = conn.peer_max_frame() + 1
    conn.send(F.headers(req.stream, conn.block(response_fields(n))))
    conn.send(F.data(req.stream, b"d" * n, end_stream=True))


def headers_too_large(conn, req):
    conn.send(sized_headers(conn, req.stream, response_fields(len(BODY)), conn.peer_max_frame() + 1))
    conn.send(F.data(req.stream, BODY, end_stream=True))


# A truncated literal: :status 200 (static index 8), then a new-name literal that announces a
# 10-octet name and ends after 3 (RFC 7541 §6.2.1): no decoder can finish it.
UNDECODABLE = b"\x88\x40\x0aabc"


def ping_inside_block(conn, req):
    """§4.3: HEADERS without END_HEADERS, a PING, then the CONTINUATION that ends the block."""
    block = conn.block(response_fields(len(BODY)))
    conn.send(F.headers(req.stream, block[:2], end_headers=False))
    conn.send(F.ping(b"inblock!"))
    conn.send(F.continuation(req.stream, block[2:]))
    conn.send(F.data(req.stream, BODY, end_stream=True))


# -- checks ----------------------------------------------------------------------------

UPLOAD = bytes(i % 253 for i in range(100000))


def _client_frames_fit(ev):
    frames_ = ev.observations.frames()
    too_big = [f for f in frames_ if f.length > F.DEFAULT_MAX_FRAME]
    if too_big:
        return False, f"client sent {too_big[0].describe()} (length {too_big[0].length})"
    data = [f.length for f in frames_ if f.type == "DATA"]
    return True, f"{len(frames_)} frames, largest DATA {max(data, default=0)} octets"


def _upload_arrived(ev):
    got = sum(f.data_len or 0 for f in ev.observations.frames("DATA"))
    return got == len(UPLOAD), f"server received {got} octets of DATA"


# About 40 KiB of request fields that Huffman coding barely shrinks: base64 of hashes.
BIG_FIELDS = tuple((f"x-big-{i}", base64.b64encode(b"".join(
    hashlib.sha256(f"{i}:{j}".encode()).digest() for j in range(96))).decode()) for i in range(10))


def _big_block(ev):
    """The request's field block and the frames that carried it."""
    for c in ev.observations.connections:
        frames_ = [f for f in c.received if f.type in ("HEADERS", "CONTINUATION")]
        if frames_ and frames_[0].type == "HEADERS":
            n = next((i for i, f in enumerate(frames_) if f.has("END_HEADERS")), len(frames_) - 1)
            return frames_[0], frames_[:n + 1]
    return None, []


def _needed_continuation(ev):
    first, _ = _big_block(ev)
    size = len(first.block) if first is not None and first.block is not None else 0
    return size > F.DEFAULT_MAX_FRAME, f"the request's field block is {size} octets"


def _big_fields_intact(ev):
    first, parts = _big_block(ev)
    if first is None:
        return False, "no request HEADERS reached the server"
    shape = "+".join(f"{f.type}({f.length})" for f in parts)
    got = {k: v for k, v in first.headers or []}
    missing = [k for k, v in BIG_FIELDS if got.get(k) != v]
    return not missing and not first.problem, (f"{shape}; fields missing or changed: {missing}"
                                               if missing or first.problem else shape)


FRAME_SIZE_WHY = ("§4.2: an oversized frame that cannot change connection state (DATA) may be "
                  "treated as a stream error; a connection error is always allowed")

CASES = [
    # §4.1: the frame header
    Case(
        id="9113/4.1/unknown-flags-ignored",
        level=MUST,
        covers=("R-4.1-1",),
        requirement="§4.1: flags a frame type does not define have no meaning and MUST be ignored.",
        server="Sends the response HEADERS and DATA with every undefined flag bit set.",
        scenario=lambda: Script(respond=odd_flags),
        expect=Ignored(),
        bad={"reject-unknown-flags": "no-error-sent"},
    ),
    Case(
        id="9113/4.1/reserved-bit-ignored",
        level=MUST,
        covers=("R-4.1-1",),
        requirement="§4.1: the reserved bit before the stream identifier MUST be ignored on receipt.",
        server="Sends the response HEADERS and DATA with the reserved bit set in the stream identifier.",
        scenario=lambda: Script(respond=reserved_bit),
        expect=Ignored(),
        bad={"reject-reserved-bit": "no-error-sent"},
    ),
    # §4.2: frame size
    Case(
        id="9113/4.2/frames-of-16384-octets",
        level=MUST,
        covers=("R-4.2-1",),
        requirement="§4.2: every endpoint MUST accept frames of up to 16384 octets, the initial "
                    "SETTINGS_MAX_FRAME_SIZE.",
        server="Sends a 16384-octet HEADERS frame (a filler field) and a 16384-octet DATA frame.",
        scenario=lambda: Script(respond=max_size_frames),
        expect=Ignored(body=MAX_BODY),
        bad={"max-frame-off-by-one": "no-error-sent"},
    ),
    Case(
        id="9113/4.2/data-over-max-frame-size",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-4.2-2",),
        requirement="§4.2: a DATA frame longer than the client's SETTINGS_MAX_FRAME_SIZE is a "
                    "FRAME_SIZE_ERROR, as a stream or a connection error.",
        server="Sends response HEADERS, then one DATA frame of the client's MAX_FRAME_SIZE + 1 octets.",
        scenario=lambda: Script(respond=data_too_large),
        expect=AnyOf(StreamError("FRAME_SIZE_ERROR"), ConnectionError("FRAME_SIZE_ERROR"),
                     why=FRAME_SIZE_WHY),
        good=("good", "stream-as-connection"),
    ),
    Case(
        id="9113/4.2/headers-over-max-frame-size",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-4.2-2",),
        requirement="§4.2: an oversized frame carrying a field block changes connection state (HPACK), "
                    "so it MUST be a connection error of type FRAME_SIZE_ERROR.",
        server="Sends a response HEADERS frame of the client's MAX_FRAME_SIZE + 1 octets, then the body.",
        scenario=lambda: Script(respond=headers_too_large),
        expect=ConnectionError("FRAME_SIZE_ERROR"),
    ),
    Case(
        id="9113/4.2/client-respects-max-frame-size",
        level=MUST,
        covers=("R-4.2-3",),
        requirement="§4.2: the client MUST NOT send a frame longer than the server's "
                    "SETTINGS_MAX_FRAME_SIZE (16384 octets when the server leaves it at its default).",
        server="Leaves MAX_FRAME_SIZE at its default and reads a 100000-octet POST body, opening "
               "windows as it goes.",
        scenario=lambda: Script(),
        request=Job((Req("/upload", method="POST", body=UPLOAD),)),
        expect=Succeeds() & Custom("the server receives the whole 100000-octet body", _upload_arrived, name="upload-arrived")
        & Custom("no client frame is longer than 16384 octets", _client_frames_fit, name="frames-fit-16384"),
        bad={"ignore-max-frame-size": "frames-fit-16384"},
    ),
    Case(
        id="9113/4.2/large-request-headers-continuation",
        level=MUST,
        covers=("R-4.2-3",),
        requirement="§4.2 and §4.3: about 40 KiB of request fields do not fit one frame of the "
                    "server's default SETTINGS_MAX_FRAME_SIZE (16384); the client MUST split the "
                    "field block over HEADERS and CONTINUATION frames that each fit, and the block "
                    "MUST decode to the fields as given.",
        server="Leaves MAX_FRAME_SIZE at its default, decodes the request's field block and answers 200.",
        scenario=lambda: Script(),
        request=Job((Req(headers=BIG_FIELDS),)),
        expect=Exercised("the request's field block is larger than one 16384-octet frame",
                         _needed_continuation)
        & Succeeds() & Custom("no client frame is longer than 16384 octets", _client_frames_fit,
                              name="frames-fit-16384")
        & Custom("the block, over HEADERS and CONTINUATION, decodes to all ten 4 KiB fields",
                 _big_fields_intact, name="fields-intact"),
        bad={"ignore-max-frame-size": "frames-fit-16384"},
    ),
    # §4.3: field blocks
    Case(
        id="9113/4.3/undecodable-field-block",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-4.3-1",),
        requirement="§4.3: a field block that cannot be decompressed MUST be treated as a connection "
                    "error of type COMPRESSION_ERROR.",
        server="Sends response HEADERS whose field block ends inside a literal, then the body.",
        scenario=lambda: Script(respond=frames(
            lambda conn, req: F.headers(req.stream, UNDECODABLE),
            lambda conn, req: F.data(req.stream, BODY, end_stream=True))),
        expect=ConnectionError("COMPRESSION_ERROR"),
    ),
    Case(
        id="9113/4.3/frame-inside-field-block",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-4.3-2",),
        requirement="§4.3: a field block is a contiguous sequence of frames; any other frame "
                    "interleaved before END_HEADERS is a connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS, a PING, then the CONTINUATION ending the block, "
               "and the body.",
        scenario=lambda: Script(respond=ping_inside_block),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
]
