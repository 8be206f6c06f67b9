"""RFC 9113 §4 HTTP frames: the frame header (§4.1), frame size (§4.2), field blocks (§4.3),
the header table size (§4.3.1)."""
import base64
import hashlib

from conformance.case import MUST, NAIVE, Case, Job, Req, gets
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Fails, Ignored, Report,
                                  StreamError, Succeeds, TransferSucceeds)
from servers import frames as F
from servers.hpack_raw import integer
from servers.scenario import BODY, Script, cycle, frames, hold, reply, response_fields

from cases._stream_faults import (CLIENT_RESET, NOT_AN_ERROR, QUIET_AFTER_RESET,
                                  SAME_CONNECTION, SEQ, TABLE_IN_STEP, after_client_reset, by_path,
                                  late_block, same_connection, stream_of)

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


MAX_BODY = cycle(F.DEFAULT_MAX_FRAME, 251)


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


def inside_block(*between, first_continuation: bool = False):
    """§4.3: HEADERS without END_HEADERS, the `between` frames (functions of conn and req), then
    the CONTINUATION ending the block, and the body. With `first_continuation` the frames come
    after a first CONTINUATION (also without END_HEADERS) instead of right after the HEADERS."""
    def respond(conn, req):
        block = conn.block(response_fields(len(BODY)))
        conn.send(F.headers(req.stream, block[:2], end_headers=False))
        if first_continuation:
            conn.send(F.continuation(req.stream, block[2:4], end_headers=False))
        conn.send(*(make(conn, req) for make in between))
        conn.send(F.continuation(req.stream, block[4 if first_continuation else 2:]))
        conn.send(F.data(req.stream, BODY, end_stream=True))
    return lambda: Script(respond=respond)


def headers_for_sibling(conn, held):
    """Two parallel requests: inside the open field block of the first, the complete response
    HEADERS of the second (§4.3), then the block's end and both bodies. Both blocks leave the
    dynamic table alone (PLAIN), so a decoder that inflates fragments as they come meets no
    reference to an entry of the other block."""
    first, second = held
    conn.send(F.headers(first.stream, PLAIN[:2], end_headers=False))
    conn.send(F.headers(second.stream, PLAIN))
    conn.send(F.continuation(first.stream, PLAIN[2:]))
    conn.send(F.data(first.stream, BODY, end_stream=True), F.data(second.stream, BODY, end_stream=True))


# §4.3: a HEADERS on a stream that is no longer open still updates the header table (x-seq: two),
# and the response to /r/2 refers to that entry.
def after_end_stream(conn, req):
    reply(headers=[(SEQ, "one")])(conn, req)
    conn.send(late_block()(conn, req.stream))


def after_trailers(conn, req):
    reply(headers=[(SEQ, "one")], trailers=[("x-trailer", "t")])(conn, req)
    conn.send(late_block()(conn, req.stream))


def after_server_reset(conn, req):
    conn.send(F.headers(req.stream, conn.block(response_fields() + [(SEQ, "one")])),
              F.rst_stream(req.stream, "CANCEL"), late_block()(conn, req.stream))


def table_scenario(first):
    return lambda: Script(respond=by_path(first, reply(headers=[(SEQ, "two")])))


def _late_reaction(ev):
    """R-5.1-3, R-5.1-4 (reported): what the client sent after the late HEADERS on /r/1's stream."""
    c, stream = stream_of(ev, "/r/1")
    if c is None:
        return None
    late = max((f.seq for f in c.sent if f.type == "HEADERS" and f.stream == stream), default=0)
    said = [f.describe() for f in c.received if f.seq > late and (
        (f.type == "RST_STREAM" and f.stream == stream)
        or (f.type == "GOAWAY" and f.error_code not in NOT_AN_ERROR))]
    if said:
        return said
    return "ignored" if same_connection(ev) else "dropped the connection without GOAWAY"


LATE_REACTION = Report("late_headers_reaction", _late_reaction)
SKIPS = {"hpack-skip-closed-blocks": "table-in-step"}


# §4.3.1: a client that advertises SETTINGS_HEADER_TABLE_SIZE=256. Blocks are written by hand
# (RFC 7541 §6): :status 200, content-type and content-length without indexing, then four
# 138-octet entries with incremental indexing (552 octets: more than 256, within 4096).
def _literal(name: str, value: str, flags: int = 0x00) -> bytes:
    return bytes([flags]) + integer(len(name), 7) + name.encode() + integer(len(value), 7) + value.encode()


PLAIN = (b"\x88" + b"\x0f\x10" + integer(len("text/plain"), 7) + b"text/plain"
         + b"\x0f\x0d" + integer(len(str(len(BODY))), 7) + str(len(BODY)).encode())
FILLERS = [(f"x-fill-{c}", c * 100) for c in "abcd"]
BIG_TABLE = PLAIN + b"".join(_literal(n, v, 0x40) for n, v in FILLERS) + integer(65, 7, 0x80)
#                                                   index 65: x-fill-a, the oldest of the four


def table_then_ack(second: bytes | None = None):
    """Never ACKs the client's SETTINGS on its own. Response 1 on a connection uses BIG_TABLE (a
    4096-octet table, as before the ACK) and is followed by the SETTINGS ACK; response 2 carries
    `second` (default: BIG_TABLE's plain fields again)."""
    def respond(conn, req):
        n = conn.state["responses"] = conn.state.get("responses", 0) + 1
        conn.send(F.headers(req.stream, BIG_TABLE if n == 1 else second or PLAIN),
                  F.data(req.stream, BODY, end_stream=True))
        if n == 1:
            conn.send(F.settings_ack())
    return lambda: Script(respond=respond, ack=False)


def _small_table(ev):
    sizes = [v for f in ev.observations.frames("SETTINGS") if not f.has("ACK")
             for k, v in f.settings or [] if k == "HEADER_TABLE_SIZE"]
    low = [v for v in sizes if v < 4096]
    return bool(low), (f"the client advertised HEADER_TABLE_SIZE {low[0]}" if low else
                       "the client keeps the default 4096-octet table (advertised "
                       + (str(sizes) if sizes else "nothing") + "), so no lower limit to apply")


SMALL_TABLE = Exercised("the client advertised a SETTINGS_HEADER_TABLE_SIZE below 4096", _small_table)


def _fill(name: str, size: int = 4000) -> str:
    return "".join(hashlib.sha256(f"{name}:{i}".encode()).hexdigest() for i in range(size // 64 + 1))[:size]


def big_requests(n: int) -> Job:
    """`n` parallel GETs, each with ten 4000-octet hex fields of its own: ~26 KB of field block
    after Huffman coding, more than one 16384-octet frame."""
    return Job(tuple(Req(f"/r/{i}", headers=tuple((f"x-big-{j}", _fill(f"{i}-{j}")) for j in range(10)))
                     for i in range(1, n + 1)), mode="parallel")


def _contiguous(ev):
    """§4.3: each client field block is HEADERS then CONTINUATIONs on the same stream, nothing
    between them, END_HEADERS on the last."""
    split = 0
    for c in ev.observations.connections:
        open_on = None
        for f in c.received:
            if open_on is not None and not (f.type == "CONTINUATION" and f.stream == open_on):
                return False, (f"connection #{c.index}: {f.describe()} inside the field block of "
                               f"stream {open_on}")
            if f.type == "HEADERS" and not f.has("END_HEADERS"):
                open_on, split = f.stream, split + 1
            elif f.type == "CONTINUATION" and f.has("END_HEADERS"):
                open_on = None
        if open_on is not None:
            return False, f"connection #{c.index}: the field block of stream {open_on} never ended"
    return True, f"{split} field block(s) split over CONTINUATION, each one contiguous"


def _large_blocks(ev):
    sizes: dict = {}
    for c in ev.observations.connections:
        for f in c.received:
            if f.type in ("HEADERS", "CONTINUATION"):
                sizes[c.index, f.stream] = sizes.get((c.index, f.stream), 0) + f.length
    n = sum(1 for size in sizes.values() if size > F.DEFAULT_MAX_FRAME)
    return n >= 2, f"{n} of the client's field blocks are larger than one 16384-octet frame"


RAISED_MAX_FRAME = 20000


def _within_raised(ev):
    frames_ = ev.observations.frames()
    too_big = [f for f in frames_ if f.length > RAISED_MAX_FRAME]
    if too_big:
        return False, f"client sent {too_big[0].describe()} (length {too_big[0].length})"
    return True, f"{len(frames_)} frames, none longer than {RAISED_MAX_FRAME} octets"


def _largest_data(ev):
    return max((f.length for f in ev.observations.frames("DATA")), default=0)


# -- checks ----------------------------------------------------------------------------

UPLOAD = cycle(100000, 253)


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
    Case(
        id="9113/4.3/data-inside-field-block",
        level=MUST,
        bad=NAIVE,
        covers=("R-4.3-2",),
        requirement="§4.3 and §6.2: a DATA frame on the same stream while its field block is open "
                    "is a connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS, a DATA frame (8 octets) on the same stream, then "
               "the CONTINUATION ending the block and the body.",
        scenario=inside_block(lambda conn, req: F.data(req.stream, b"in-block")),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/4.3/priority-inside-field-block",
        level=MUST,
        bad=NAIVE,
        covers=("R-4.3-2",),
        requirement="§4.3: even a PRIORITY frame, allowed in every stream state, breaks an open "
                    "field block: a connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS without END_HEADERS, a PRIORITY frame on the same stream, then the "
               "CONTINUATION ending the block and the body.",
        scenario=inside_block(lambda conn, req: F.priority(req.stream)),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/4.3/frame-after-first-continuation",
        level=MUST,
        bad=NAIVE,
        covers=("R-4.3-2",),
        requirement="§4.3 and §6.10: a field block stays open across CONTINUATION frames until "
                    "END_HEADERS; a PING after a first CONTINUATION (without END_HEADERS) is a "
                    "connection error of type PROTOCOL_ERROR.",
        server="Sends HEADERS and a first CONTINUATION, both without END_HEADERS, a PING, then the "
               "CONTINUATION ending the block and the body.",
        scenario=inside_block(lambda conn, req: F.ping(b"2nd-frag"), first_continuation=True),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/4.3/headers-for-other-stream-inside-field-block",
        level=MUST,
        bad=NAIVE,
        covers=("R-4.3-2",),
        requirement="§4.3: a field block is contiguous, so the HEADERS of another open stream "
                    "inside it is a connection error of type PROTOCOL_ERROR.",
        server="Holds two parallel requests; sends HEADERS without END_HEADERS for the first, the "
               "complete response HEADERS of the second, then the first block's CONTINUATION and "
               "both bodies.",
        scenario=lambda: Script(respond=hold(2, headers_for_sibling)),
        needs=frozenset({"h2", "parallel"}),
        request=gets(2, mode="parallel"),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/4.3/decode-after-end-stream",
        level=MUST,
        covers=("R-4.3-3", "R-5.1-3"),
        requirement="§4.3 and §5.1: a HEADERS on a stream both sides ended is still decoded, so the "
                    "header table stays in step with the server's (ending the connection instead "
                    "is allowed); how the client answers it is reported.",
        server="Answers /r/1 completely (x-seq: one), then sends a HEADERS (END_STREAM) on its "
               "stream that adds x-seq: two to the table; /r/2's response refers to that entry.",
        scenario=table_scenario(after_end_stream),
        request=gets(2),
        expect=TABLE_IN_STEP & LATE_REACTION & SAME_CONNECTION,
        bad=SKIPS,
    ),
    Case(
        id="9113/4.3/decode-after-trailers",
        level=MUST,
        covers=("R-4.3-3", "R-5.1-3"),
        requirement="§4.3 and §5.1: a HEADERS after the trailers that ended a stream is still "
                    "decoded, so the header table stays in step (ending the connection instead is "
                    "allowed); how the client answers it is reported.",
        server="Answers /r/1 with x-seq: one, the body and trailers (END_STREAM), then sends a "
               "HEADERS on its stream that adds x-seq: two to the table; /r/2's response refers "
               "to that entry.",
        scenario=table_scenario(after_trailers),
        request=gets(2),
        expect=TABLE_IN_STEP & LATE_REACTION & SAME_CONNECTION,
        bad=SKIPS,
    ),
    Case(
        id="9113/4.3/decode-after-server-reset",
        level=MUST,
        covers=("R-4.3-3", "R-5.1-4"),
        requirement="§4.3 and §5.1: a HEADERS on a stream the server has reset is still decoded, "
                    "so the header table stays in step (ending the connection instead is allowed); "
                    "the reset transfer fails, and how the client answers the HEADERS is reported.",
        server="Answers /r/1 with HEADERS (x-seq: one), RST_STREAM(CANCEL), then a HEADERS on the "
               "same stream that adds x-seq: two to the table; /r/2's response refers to that entry.",
        scenario=table_scenario(after_server_reset),
        request=gets(2),
        expect=Fails() & TABLE_IN_STEP & LATE_REACTION & SAME_CONNECTION,
        bad=SKIPS,
    ),
    Case(
        id="9113/4.3/decode-after-client-reset",
        level=MUST,
        covers=("R-4.3-3", "R-5.1-5"),
        requirement="§4.3 and §5.1: a HEADERS that arrives just after the client reset its stream is "
                    "decoded and dropped: the header table stays in step, nothing answers it, and "
                    "the connection carries the next request.",
        server="Answers /r/1 with a malformed response (uppercase field name) and a WINDOW_UPDATE "
               "overflowing the stream window; on the client's RST_STREAM sends a HEADERS "
               "(END_STREAM) there that adds x-seq: two to the table; /r/2's response refers to it.",
        scenario=lambda: after_client_reset(late_block()),
        request=gets(2),
        expect=CLIENT_RESET & Fails() & QUIET_AFTER_RESET & TABLE_IN_STEP & SAME_CONNECTION,
        bad={**SKIPS, "answer-frames-after-reset": "quiet-after-reset"},
    ),
    Case(
        id="9113/4.3/client-field-blocks-contiguous",
        level=MUST,
        covers=("R-4.3-4", "R-4.2-3"),
        requirement="§4.3 and §4.2: each field block the client sends is one contiguous run, HEADERS "
                    "then CONTINUATION frames on the same stream with nothing between them, even "
                    "with several large requests opening at once; no frame exceeds 16384 octets.",
        server="Answers three parallel GETs, each carrying ~26 KB of header block (ten 4000-octet "
               "hex fields of its own), normally.",
        scenario=lambda: Script(),
        needs=frozenset({"h2", "parallel"}),
        request=big_requests(3),
        expect=Exercised("the client's field blocks need more than one frame", _large_blocks)
        & Succeeds() & Custom("every client field block is contiguous", _contiguous,
                              name="field-blocks-contiguous")
        & Custom("no client frame is longer than 16384 octets", _client_frames_fit, name="frames-fit-16384"),
        bad={"interleave-field-blocks": "field-blocks-contiguous",
             "ignore-max-frame-size": "frames-fit-16384"},
    ),
    Case(
        id="9113/4.2/raised-max-frame-size",
        level=MUST,
        covers=("R-4.2-3", "R-4.2-4"),
        requirement=f"§4.2: after the server raises SETTINGS_MAX_FRAME_SIZE to {RAISED_MAX_FRAME}, "
                    f"the client MUST NOT send a frame longer than that; whether it uses frames "
                    f"above 16384 octets is reported.",
        server=f"Sets MAX_FRAME_SIZE={RAISED_MAX_FRAME} in its preface and reads a 100000-octet "
               f"POST body, opening windows as it goes.",
        scenario=lambda: Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                                     F.MAX_FRAME_SIZE: RAISED_MAX_FRAME})]),
        request=Job((Req("/upload", method="POST", body=UPLOAD),)),
        expect=Succeeds() & Custom("the server receives the whole 100000-octet body", _upload_arrived,
                                   name="upload-arrived")
        & Custom(f"no client frame is longer than {RAISED_MAX_FRAME} octets", _within_raised,
                 name="frames-fit-limit")
        & Report("largest_data_frame", _largest_data),
        bad={"ignore-max-frame-size": "frames-fit-limit"},
    ),
    # §4.3.1: the client's own SETTINGS_HEADER_TABLE_SIZE
    Case(
        id="9113/4.3.1/table-size-before-ack",
        level=MUST,
        covers=("R-4.3.1-1",),
        requirement="§4.3.1: a lower SETTINGS_HEADER_TABLE_SIZE the client advertises binds only once "
                    "the server has acknowledged it; before that a block that uses the default "
                    "4096-octet table MUST be accepted. Not exercised for a client that keeps 4096.",
        server="Withholds its SETTINGS ACK; answers with a field block that inserts 560 octets of "
               "entries and refers to the oldest (index 65), then the body, then the ACK.",
        scenario=table_then_ack(),
        expect=SMALL_TABLE & Succeeds(),
        good=("small-header-table",),
        bad={"small-table-early": "succeeds"},
    ),
    Case(
        id="9113/4.3.1/table-size-after-ack",
        level=MUST,
        covers=("R-4.3.1-1",),
        requirement="§4.3.1: once the server has acknowledged a lower SETTINGS_HEADER_TABLE_SIZE, a "
                    "field block that does not start with a size update within it MUST be a "
                    "connection error of type COMPRESSION_ERROR. Not exercised for a client that "
                    "keeps 4096.",
        server="Withholds its SETTINGS ACK; response 1 fills the table with 560 octets (valid before "
               "the ACK) and is followed by the ACK; response 2 on the same connection has no size "
               "update.",
        scenario=table_then_ack(),
        request=gets(2),
        expect=SMALL_TABLE & TransferSucceeds(0) & ConnectionError("COMPRESSION_ERROR", index=1),
        good=("small-header-table",),
        bad={"small-table-unenforced": "transfer-fails"},
    ),
]
