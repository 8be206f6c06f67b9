"""RFC 9113 §8.1 HTTP message framing (a response ends only with END_STREAM: §5.4.3's close
mid-body too), §8.1.1 malformed messages and content-length, on both sides: the responses the
client accepts and the content-length of its own requests (curl_cffi#19); the Expect:
100-continue exchange of RFC 9110 §10.1.1 over HTTP/2."""
from conformance.case import MAY, MUST, NAIVE, SHOULD, Case, Job, Req, get
from conformance.verdicts import (AnyOf, ConnectionError, Custom, Exercised, Fails, Report, StreamError,
                                  Succeeds)
from servers import frames as F
from servers.scenario import BODY, Request, Script, cycle, reply, response_fields, seq


# -- responders: each is fn(conn, req) and sends part of a response ------------
def block(fields, *, end_stream=False):
    """One field block (HEADERS [+ CONTINUATION]) exactly as given."""
    return lambda conn, req: conn.send_fields(req.stream, list(fields), end_stream=end_stream)


def body(data=BODY, *, end_stream=True):
    return lambda conn, req: conn.send_body(req.stream, data, end_stream=end_stream)


def raw(make):
    """Raw frame bytes built from the request's stream id."""
    return lambda conn, req: conn.send(make(req.stream))


def head(status=200, length=len(BODY), extra=()):
    return [(":status", str(status)), ("content-type", "text/plain"),
            ("content-length", str(length)), *extra]


def script(*steps):
    return lambda: Script(respond=seq(*steps))


def split_block(fields, *, end_stream=False):
    """One field block cut in two: HEADERS without END_HEADERS, then a CONTINUATION (§4.3)."""
    def send(conn, req):
        octets = conn.block(fields)
        half = max(1, len(octets) // 2)
        conn.send(F.headers(req.stream, octets[:half], end_stream=end_stream, end_headers=False),
                  F.continuation(req.stream, octets[half:]))
    return send


def head_request(scenario_steps):
    return dict(scenario=script(*scenario_steps), request=Job((Req(method="HEAD"),)))


def outcome_of(ev):
    o = ev.outcome
    return f"accepted (status {o.status})" if o.ok else f"rejected ({o.error_class})"


MALFORMED = "§8.1.1: a malformed response is a stream error of type PROTOCOL_ERROR"
POST_BODY = bytes(range(256)) * 1024   # 256 KiB, far beyond the stream window below
HEAD_FIELDS = response_fields(1234)


UPLOAD = bytes(range(256)) * 20   # 5 KiB request body
EXPECT = (("expect", "100-continue"),)


class Expecting(Script):
    """RFC 9110 §10.1.1: `on_expect(conn, stream, nth)` runs when the HEADERS of a request carrying
    Expect: 100-continue arrive (nth counts them from 0); a complete request not answered
    by then gets a normal 200."""

    def __init__(self, on_expect):
        super().__init__()
        self.on_expect, self.seen = on_expect, 0

    def frame_received(self, conn, f):
        if f.type == "HEADERS" and f.headers and ("expect", "100-continue") in f.headers:
            self.seen += 1
            self.on_expect(conn, f.stream, self.seen - 1)

    def request_received(self, conn, req):
        if req.stream not in conn.state.setdefault("answered", set()):
            reply()(conn, req)


def answered(conn, stream):
    conn.state.setdefault("answered", set()).add(stream)


def continue_100(conn, stream, nth):
    conn.send_fields(stream, [(":status", "100")])


def refuse_first(conn, stream, nth):
    """417 to the first expectation (END_STREAM: the request is done with); 100 to any later one."""
    if nth:
        return continue_100(conn, stream, nth)
    answered(conn, stream)
    conn.send_fields(stream, [(":status", "417"), ("content-length", "0")], end_stream=True)


def answer_at_once(conn, stream, nth):
    """A complete 200 before any body (no RST_STREAM: the client chooses what to do)."""
    answered(conn, stream)
    reply()(conn, Request(conn, stream, []))


def _uploads(ev):
    """(carried Expect, DATA octets, ended) of every request stream, in wire order."""
    out = []
    for c in ev.observations.connections:
        for sid in c.streams_opened():
            heads = [f for f in c.received if f.type == "HEADERS" and f.stream == sid]
            data = [f for f in c.received if f.type == "DATA" and f.stream == sid]
            expect = any(("expect", "100-continue") in (f.headers or []) for f in heads)
            out.append((expect, sum(f.data_len or 0 for f in data), any(f.has("END_STREAM") for f in data)))
    return out


def _last_upload_whole(ev):
    ups = _uploads(ev)
    ok = bool(ups) and ups[-1][1:] == (len(UPLOAD), True)
    return ok, f"uploads (expect, octets, END_STREAM) per stream: {ups}"


def _retried_without_expect(ev):
    ups = _uploads(ev)
    retries = ups[1:]
    ok = bool(retries) and all(not e for e, _, _ in retries) and retries[-1][1:] == (len(UPLOAD), True)
    return ok, f"uploads (expect, octets, END_STREAM) per stream: {ups}"


def _body_octets_sent(ev):
    return [octets for _, octets, _ in _uploads(ev)]


EXPECT_WAIT_MS = 100   # the client's wait for a 100 (curl's default is 1 s)


def expect_post():
    return Job((Req("/upload", method="POST", body=UPLOAD, headers=EXPECT,
                    expect_timeout_ms=EXPECT_WAIT_MS),), timeout_ms=1000)


WHOLE_UPLOAD = Custom(f"the server receives the whole {len(UPLOAD)}-octet body, ended with END_STREAM",
                      _last_upload_whole, name="server-got-body")


class AnswerEarly(Script):
    """§8.1: answers as soon as the request HEADERS arrive, then RST_STREAM(NO_ERROR).

    Only the connection window is replenished, so the upload can never finish on
    its own and no frame goes out on the stream after the reset."""

    def _on_data(self, conn, f):
        if f.length:
            conn.send(F.window_update(0, f.length))

    handlers = {**Script.handlers, "DATA": _on_data}

    def __init__(self):
        super().__init__(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                              F.INITIAL_WINDOW_SIZE: 16384})])

    def frame_received(self, conn, f):
        if f.type == "HEADERS" and f.stream not in conn.state.setdefault("answered", set()):
            conn.state["answered"].add(f.stream)
            reply()(conn, Request(conn, f.stream, f.headers or []))
            conn.send(F.rst_stream(f.stream, "NO_ERROR"))


# -- the client's own content-length (curl_cffi#19, R-8.1.1-6: reported) ------------------------
def _content_length_consistent(ev):
    """Every request the server saw: DATA never beyond content-length, and equal to it at
    END_STREAM (§8.1.1)."""
    problems, seen = [], []
    for c in ev.observations.connections:
        declared, total, ended = {}, {}, set()
        for f in c.received:
            if f.type == "HEADERS" and f.headers is not None and f.stream not in declared:
                declared[f.stream] = dict(f.headers).get("content-length")
            elif f.type == "DATA":
                total[f.stream] = total.get(f.stream, 0) + (f.data_len or 0)
            if f.type in ("DATA", "HEADERS") and f.has("END_STREAM"):
                ended.add(f.stream)
        for sid, cl in declared.items():
            n = total.get(sid, 0)
            seen.append(f"content-length {cl}, {n} octets of DATA{' (ended)' if sid in ended else ''}")
            if cl is None:
                continue
            if not cl.isdigit() or n > int(cl) or (sid in ended and n != int(cl)):
                problems.append(f"connection #{c.index} stream {sid}: content-length {cl} but "
                                f"{n} octets of DATA{' and END_STREAM' if sid in ended else ''}")
    return not problems, "; ".join(problems) or "; ".join(seen) or "no request reached the server"


BODY_1000 = cycle(1000, 211)


def wrong_length(value: str) -> Job:
    return Job((Req("/upload", method="POST", body=BODY_1000, headers=(("content-length", value),)),))


LOCAL_FAILURE = ("other", "send", "protocol-mismatch")   # refused before anything went out
CL_WHY = "the regression allows a consistent request (the real length wins) or a local failure"


# -- §8.1 and §5.4.3: a response cut off by a TCP close -------------------------------------------
# How a transfer whose connection died before END_STREAM may fail: the body was cut short, the
# read failed, or the client's HTTP/2 layer saw the stream end early. Never ok, never a timeout.
TRUNCATED = ("partial", "recv", "http2", "stream")
LONG_BODY = cycle(20000, 251)


def cut_off(content_length: bool):
    """HEADERS, DATA with the first half of a 20000-octet body (no END_STREAM), then a TCP close."""
    head = [(":status", "200"), ("content-type", "application/octet-stream")] + (
        [("content-length", str(len(LONG_BODY)))] if content_length else [])

    def respond(conn, req):
        conn.send_fields(req.stream, head)
        conn.send(F.data(req.stream, LONG_BODY[:len(LONG_BODY) // 2]))
        conn.close()
    return lambda: Script(respond=respond)


def how_it_failed(ev):
    o = ev.outcome
    return "reported ok" if o.ok else f"{o.error_class}: {(o.error or {}).get('message', '')[:120]}"


TRAILERS = (("x-checksum", "abc"),)
WITH_TRAILERS = Job((Req("/upload", method="POST", body=UPLOAD, trailers=TRAILERS),))


def _upload_frames(ev):
    """(the client's frames on the /upload stream, the field blocks after its request HEADERS)."""
    for c in ev.observations.connections:
        for h in c.frames("HEADERS"):
            if (":path", "/upload") in (h.headers or []):
                mine = [f for f in c.received if f.stream == h.stream]
                return mine, [f for f in mine if f.type == "HEADERS" and f is not h]
    return [], []


def _sent_trailers(ev):
    frames, blocks = _upload_frames(ev)
    return bool(blocks), (f"{len(blocks)} field block(s) after the request's" if blocks else
                          "no field block after the request's; on the stream: "
                          + ", ".join(f.describe() for f in frames[:4]))


def _trailers_well_formed(ev):
    """§8.1: one trailer block, the application's fields and no pseudo-header, ending the stream."""
    frames, blocks = _upload_frames(ev)
    if not blocks:
        return False, "no trailer block"
    last, problems = blocks[-1], []
    pseudo = [n for n, _ in last.headers or [] if n.startswith(":")]
    if len(blocks) > 1:
        problems.append(f"{len(blocks)} field blocks after the request's")
    if pseudo:
        problems.append(f"pseudo-header fields {pseudo} in the trailers")
    if not set(TRAILERS) <= set(last.headers or []):
        problems.append(f"trailers {last.headers}, not the application's {list(TRAILERS)}")
    if not last.has("END_STREAM"):
        problems.append("the trailer block does not end the stream")
    after = [f.describe() for f in frames if f.seq > last.seq and f.type in ("DATA", "HEADERS")]
    if after:
        problems.append(f"{after[:2]} after the trailers")
    return not problems, "; ".join(problems) or f"trailers {last.headers} with END_STREAM"


CASES = [
    # -- §8.1: interim responses and trailers are part of a valid exchange ------
    Case(
        id="9113/8.1/informational-100",
        level=MUST,
        requirement="§8.1: a response may start with any number of informational (1xx) field "
                    "blocks before the final one; a client MUST accept a 100 and use the final response.",
        server="Sends HEADERS :status 100, then a normal 200 response.",
        scenario=script(block([(":status", "100")]), reply()),
        expect=Succeeds(),
        bad={"final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/informational-103",
        level=MUST,
        requirement="§8.1: an informational 103 (Early Hints) block with its own fields before the "
                    "final response MUST be accepted; the final response is the one delivered.",
        server="Sends HEADERS :status 103 with a link field, then a normal 200 response.",
        scenario=script(block([(":status", "103"), ("link", "</app.css>; rel=preload; as=style")]),
                        reply()),
        expect=Succeeds(),
        bad={"final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/informational-several",
        level=MUST,
        requirement="§8.1 and RFC 9110 §15.2: any number of 1xx field blocks may precede the final "
                    "response; a client MUST skip them all (here 103, 103, 100) and use the final one.",
        server="Sends HEADERS :status 103, another 103, then 100, then a normal 200 response.",
        scenario=script(block([(":status", "103"), ("link", "</a.css>; rel=preload")]),
                        block([(":status", "103"), ("link", "</b.js>; rel=preload")]),
                        block([(":status", "100")]), reply()),
        expect=Succeeds(),
        bad={"final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/informational-continuation",
        level=MUST,
        requirement="§8.1 and §4.3: an informational field block may be split over HEADERS and "
                    "CONTINUATION like any other; a client MUST reassemble it, skip the 1xx and use the "
                    "final response.",
        server="Sends a 103 field block cut in two (HEADERS without END_HEADERS, then CONTINUATION), "
               "then a normal 200 response.",
        scenario=script(split_block([(":status", "103"), ("link", "</app.css>; rel=preload; as=style"),
                                     ("x-hint", "h" * 64)]), reply()),
        expect=Succeeds(),
        bad={"no-continuation": "succeeds", "final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/informational-to-head",
        level=MUST,
        requirement="§8.1 and RFC 9110 §15.2: a 1xx may precede the final response to a HEAD "
                    "request too; the client skips it and delivers the final 200 with no content.",
        server="Answers HEAD with HEADERS :status 103, then :status 200 with content-length 1234 and "
               "END_STREAM.",
        **head_request([block([(":status", "103"), ("link", "</app.css>; rel=preload")]),
                        block(HEAD_FIELDS, end_stream=True)]),
        expect=Succeeds(body=b""),
        bad={"final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/trailers",
        level=MUST,
        requirement="§8.1: a response may end with a trailer field block carrying END_STREAM; a "
                    "client MUST accept it.",
        server="Sends HEADERS, DATA, then a trailer block (x-checksum) with END_STREAM.",
        scenario=lambda: Script(respond=reply(trailers=[("x-checksum", "abc123")])),
        expect=Succeeds(),
        bad={"reject-trailers": "succeeds"},
        covers=("R-8.1-2",),
    ),
    Case(
        id="9113/8.1/trailers-without-body",
        level=MUST,
        requirement="§8.1: trailers may follow the response header block directly, with no DATA "
                    "in between; a client MUST accept an empty body ended by trailers.",
        server="Sends HEADERS (content-length 0) then a trailer block with END_STREAM, no DATA.",
        scenario=lambda: Script(respond=reply(body=b"", trailers=[("x-checksum", "abc123")])),
        expect=Succeeds(body=b""),
        bad={"reject-trailers": "succeeds"},
        covers=("R-8.1-2",),
    ),
    # -- §8.1: field blocks in the wrong place -----------------------------------
    Case(
        id="9113/8.1/trailers-continuation",
        level=MUST,
        requirement="§8.1 and §4.3: a trailer block may be split over HEADERS (with END_STREAM) and "
                    "CONTINUATION; a client MUST reassemble it and accept the response.",
        server="Sends HEADERS, DATA, then a trailer block cut in two: HEADERS with END_STREAM but "
               "without END_HEADERS, then CONTINUATION.",
        scenario=script(block(head()), body(end_stream=False),
                        split_block([("x-checksum", "abc123"), ("x-trailer-note", "t" * 64)],
                                    end_stream=True)),
        expect=Succeeds(),
        bad={"no-continuation": "succeeds", "reject-trailers": "succeeds"},
        covers=("R-8.1-2",),
    ),
    Case(
        id="9113/8.1/second-final-headers",
        level=MUST,
        requirement="§8.1: a HEADERS frame without END_STREAM after the final response header "
                    "block is neither trailers nor a response: the response is malformed, "
                    "a stream error of type PROTOCOL_ERROR.",
        server="Sends HEADERS 200, a second HEADERS 200 without END_STREAM, then DATA with END_STREAM.",
        scenario=script(block(head()), block(head()), body()),
        expect=StreamError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1-3",),
    ),
    Case(
        id="9113/8.1/trailers-without-end-stream",
        level=MUST,
        requirement="§8.1: a trailer block MUST carry END_STREAM; a HEADERS after the body "
                    "without it makes the response malformed (stream error PROTOCOL_ERROR).",
        server="Sends HEADERS, DATA, a trailer block without END_STREAM, then an empty DATA with END_STREAM.",
        scenario=script(block(head()), body(end_stream=False), block([("x-checksum", "abc123")]),
                        raw(lambda s: F.data(s, b"", end_stream=True))),
        expect=StreamError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1-3",),
    ),
    Case(
        id="9113/8.1/informational-after-data",
        level=MUST,
        requirement="§8.1: once DATA has followed the final response, a HEADERS without END_STREAM "
                    "(here a 103) is neither trailers nor an interim response: the response is "
                    "malformed, a stream error of type PROTOCOL_ERROR.",
        server="Sends HEADERS 200 (content-length 24), 12 octets of DATA, HEADERS :status 103, "
               "then the other 12 octets with END_STREAM.",
        scenario=script(block(head()), body(BODY[:12], end_stream=False),
                        block([(":status", "103"), ("link", "</late.css>; rel=preload")]),
                        body(BODY[12:])),
        expect=StreamError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-8.1-3",),
    ),
    Case(
        id="9113/8.1/informational-end-stream",
        level=MUST,
        requirement="§8.1: a HEADERS frame with END_STREAM that carries an informational (1xx) "
                    "status is malformed: a stream error of type PROTOCOL_ERROR, not a final response.",
        server="Sends HEADERS :status 100 with END_STREAM and nothing else on the stream.",
        scenario=script(block([(":status", "100")], end_stream=True)),
        request=get(),
        expect=StreamError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1-3",),
    ),
    Case(
        id="9113/8.1/data-before-headers",
        level=MUST,
        requirement="§8.1: a response starts with a HEADERS frame; DATA before it is malformed "
                    "(stream error PROTOCOL_ERROR, or a connection error of that type).",
        server="Sends a DATA frame on the request stream before any HEADERS, then a normal response.",
        scenario=script(raw(lambda s: F.data(s, b"early")), reply()),
        expect=AnyOf(StreamError("PROTOCOL_ERROR"), ConnectionError("PROTOCOL_ERROR"),
                     why="§8.1.1 makes it a stream error and §5.4.1 lets a client escalate "
                         "any stream error to a connection error"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1-4",),
    ),
    # -- §8.1.1: content-length ---------------------------------------------------
    Case(
        id="9113/8.1.1/content-length-larger",
        level=MUST,
        requirement=MALFORMED + " when content-length is larger than the DATA received before "
                    "END_STREAM; the short body MUST NOT be delivered as a success.",
        server="Sends content-length 124 but only a 24-byte body, then END_STREAM.",
        scenario=script(block(head(length=len(BODY) + 100)), body()),
        expect=StreamError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1.1-1",),
    ),
    Case(
        id="9113/8.1.1/content-length-smaller",
        level=MUST,
        requirement=MALFORMED + " when the DATA received exceeds the content-length.",
        server="Sends content-length 10 but a 24-byte body.",
        scenario=script(block(head(length=10)), body()),
        expect=StreamError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-8.1.1-1",),
    ),
    Case(
        id="9113/8.1.1/content-length-larger-several-frames",
        level=MUST,
        requirement=MALFORMED + " when the DATA frames together fall short of content-length; "
                    "each frame is small, only their sum at END_STREAM shows it.",
        server="Sends content-length 48, then the 24-octet body in three DATA frames of 8, the last "
               "with END_STREAM.",
        scenario=script(block(head(length=2 * len(BODY))),
                        *[raw(lambda s, i=i: F.data(s, BODY[i:i + 8], end_stream=i == 16))
                          for i in (0, 8, 16)]),
        expect=StreamError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-8.1.1-1", "R-8.1.1-5"),
    ),
    Case(
        id="9113/8.1.1/content-length-conflicting",
        level=MUST,
        requirement=MALFORMED + " when two content-length fields disagree (24 and 30): no single "
                    "length can match the DATA, so the response MUST NOT be delivered as valid.",
        server="Sends content-length 24 and content-length 30 in one field block, then the 24-octet body.",
        scenario=script(block(head(extra=[("content-length", "30")])), body()),
        expect=StreamError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-8.1.1-1", "R-8.1.1-5"),
    ),
    *[Case(
        id=f"9113/8.1.1/content-length-{name}",
        level=MAY,
        requirement="§8.1.1 and RFC 9110 §8.6: a recipient MAY reject a content-length that repeats "
                    f"one value ({how}) or use the value once: whether the client used it (the "
                    "exact body delivered) is reported.",
        server=f"Sends {how} with the 24-octet body.",
        scenario=script(block(fields), body()),
        expect=Succeeds() & Report("repeated_content_length", outcome_of),
        bad={"reject-length-repeats": "succeeds"},
        covers=("R-8.1.1-3",),
    ) for name, how, fields in (
        ("repeated", "two content-length fields of 24",
         head(extra=[("content-length", str(len(BODY)))])),
        ("list", "one content-length field '24, 24'",
         [(":status", "200"), ("content-type", "text/plain"),
          ("content-length", f"{len(BODY)}, {len(BODY)}")]),
    )],
    # -- §8.1.1 with RFC 9110 §6.4.1: responses that have no content -------------------
    *[Case(
        id=f"9113/8.1.1/{name}-with-data",
        level=MUST,
        requirement=f"§8.1.1 with RFC 9110 §6.4.1: {what} has no content, so non-empty DATA on it "
                    "is malformed (stream error PROTOCOL_ERROR) and never delivered as its body.",
        server=f"Answers with {fields[0][1]} ({'to HEAD, ' if name == 'head' else ''}no END_STREAM "
               "on the HEADERS), then 24 octets of DATA with END_STREAM.",
        scenario=script(block(fields), body()),
        request=Job((Req(method="HEAD" if name == "head" else "GET"),)),
        expect=StreamError("PROTOCOL_ERROR"),
        bad=NAIVE,
        covers=("R-8.1.1-4", "R-8.1.1-5"),
    ) for name, what, fields in (
        ("head", "a response to HEAD", head()),
        ("204", "a 204 (No Content)", [(":status", "204")]),
        ("304", "a 304 (Not Modified)", [(":status", "304"), ("etag", '"v1"')]),
    )],
    Case(
        id="9113/8.1.1/head-empty-data",
        level=MUST,
        requirement="§8.1.1: a response to HEAD has no content, but an empty DATA frame carrying "
                    "END_STREAM adds none, so the response is valid and MUST be accepted.",
        server="Answers HEAD with :status 200 and content-length 1234 (no END_STREAM), then an empty "
               "DATA frame with END_STREAM.",
        **head_request([block(HEAD_FIELDS), raw(lambda s: F.data(s, b"", end_stream=True))]),
        expect=Succeeds(body=b""),
        bad={"strict-no-body": "succeeds"},
        covers=("R-8.1.1-4",),
    ),
    Case(
        id="9113/8.1.1/head-content-length",
        level=MUST,
        requirement="§8.1.1: a response to HEAD has no content, so a non-zero content-length "
                    "with no DATA is valid and MUST be accepted.",
        server="Answers HEAD with :status 200, content-length 1234 and END_STREAM on the HEADERS.",
        scenario=script(block(HEAD_FIELDS, end_stream=True)),
        request=Job((Req(method="HEAD"),)),
        expect=Succeeds(body=b""),
        bad={"content-length-always": "succeeds"},
        covers=("R-8.1.1-2",),
    ),
    Case(
        id="9113/8.1.1/304-content-length",
        level=MUST,
        requirement="§8.1.1: a 304 has no content, so a content-length (the size of the selected "
                    "representation) with no DATA is valid and MUST be accepted.",
        server="Answers a conditional GET with 304, etag and content-length 1234, END_STREAM on the HEADERS.",
        scenario=script(block([(":status", "304"), ("etag", '"v1"'), ("content-length", "1234")],
                              end_stream=True)),
        request=Job((Req(headers=(("if-none-match", '"v1"'),)),)),
        expect=Succeeds(body=b"", status=304),
        bad={"content-length-always": "succeeds"},
        covers=("R-8.1.1-2",),
    ),
    Case(
        id="9113/8.1.1/204-content-length-zero",
        level=MUST,
        requirement="§8.1.1: a 204 has no content; with content-length 0 and no DATA it is a "
                    "valid response and MUST be accepted.",
        server="Answers with 204 and content-length 0, END_STREAM on the HEADERS.",
        scenario=script(block([(":status", "204"), ("content-length", "0")], end_stream=True)),
        expect=Succeeds(body=b"", status=204),
        bad={"strict-204": "succeeds"},
        covers=("R-8.1.1-2",),
    ),
    Case(
        id="9113/8.1.1/204-content-length-nonzero",
        level=MAY,
        level_note="R-8.1.1-2 is M, but for a 204 two RFC sentences disagree: RFC 9113 §8.1.1 lets "
                   "a no-content response carry a non-zero content-length (MAY), RFC 9110 §8.6 "
                   "forbids a server any Content-Length in a 204 (MUST NOT); the catalog takes the "
                   "weaker level where sentences disagree.",
        requirement="§8.1.1 lets a response defined to have no content carry a non-zero "
                    "content-length with no DATA, while RFC 9110 §8.6 forbids Content-Length in a "
                    "204: whether the client delivers the 204 with content-length 42 as an empty 204 "
                    "is reported.",
        server="Answers with 204 and content-length 42, END_STREAM on the HEADERS.",
        scenario=script(block([(":status", "204"), ("content-length", "42")], end_stream=True)),
        expect=Succeeds(body=b"", status=204) & Report("nonzero_204_content_length", outcome_of),
        bad={"content-length-always": "succeeds"},
        covers=("R-8.1.1-2",),
    ),
    # -- RFC 9110 §10.1.1: Expect: 100-continue over HTTP/2 ---------------------------
    Case(
        id="9113/8.1/expect-100-continue",
        level=MUST,
        requirement="§8.1 with RFC 9110 §10.1.1: a 100 (Continue) answering Expect: 100-continue is "
                    "an interim response: the client MUST send the body and take the final response.",
        server="Answers the HEADERS of a POST carrying Expect: 100-continue with :status 100, then "
               "the complete request with a normal 200.",
        scenario=lambda: Expecting(continue_100),
        request=expect_post(),
        expect=Succeeds() & WHOLE_UPLOAD,
        bad={"final-1xx": "succeeds"},
        covers=("R-8.1-1",),
    ),
    Case(
        id="9113/8.1/expect-417-retry",
        level=SHOULD,
        requirement="RFC 9110 §10.1.1: a client that gets 417 (Expectation Failed) to a request "
                    "carrying Expect: 100-continue SHOULD repeat it without the expectation.",
        server="Answers the first POST carrying Expect: 100-continue with 417 and END_STREAM on its "
               "HEADERS; answers any later one (100 if it expects it) with a normal 200.",
        scenario=lambda: Expecting(refuse_first),
        request=expect_post(),
        expect=Succeeds() & Custom("a repeated request without the expectation carries the whole "
                                   "body", _retried_without_expect, name="retried-without-expectation")
        & Report("uploads", _uploads),
        bad={"expect-417-final": "retried-without-expectation"},
        covers=("R-8.1-5",),
    ),
    Case(
        id="9113/8.1/expect-no-100",
        level=SHOULD,
        requirement="RFC 9110 §10.1.1: a client that sent Expect: 100-continue SHOULD NOT wait "
                    "forever for the 100: with no answer it sends the body after a while.",
        server="Never answers the expectation; answers the complete request with a normal 200.",
        scenario=lambda: Expecting(lambda conn, stream, nth: None),
        request=expect_post(),
        expect=Succeeds() & WHOLE_UPLOAD,
        bad={"expect-wait-forever": "server-got-body"},
        covers=("R-8.1-6",),
    ),
    Case(
        id="9113/8.1/expect-final-without-100",
        level=MUST,
        requirement="RFC 9110 §10.1.1 and §8.1: a final status may answer Expect: 100-continue "
                    "before any body; it is the response, and the client MUST deliver it (whether "
                    "it still sends the body is reported).",
        server="Answers the HEADERS of a POST carrying Expect: 100-continue with a complete 200 at "
               "once (END_STREAM on its DATA), and nothing else on the stream.",
        scenario=lambda: Expecting(answer_at_once),
        request=expect_post(),
        expect=Succeeds() & Report("body_octets_sent", _body_octets_sent),
        bad={"expect-final-waits": "succeeds"},
        covers=("R-8.1-7",),
        level_note="R-8.1-7 (whether the body still goes out) is Y and only reported; the MUST is "
                   "delivering the final response (RFC 9110 §2.4, §8.1), which expect-final-waits "
                   "breaks by waiting on for a 100.",
    ),
    # -- §8.1: an early complete response ends the upload ---------------------------
    Case(
        id="9113/8.1/rst-no-error-during-upload",
        level=MUST,
        requirement="§8.1: a server may send a complete response before the request body is done "
                    "and then RST_STREAM(NO_ERROR); the client stops uploading and MUST NOT discard "
                    "the response.",
        server="With INITIAL_WINDOW_SIZE 16384, answers a 256 KiB POST on its HEADERS, then RST_STREAM(NO_ERROR).",
        scenario=AnswerEarly,
        request=Job((Req("/upload", method="POST", body=POST_BODY),)),
        expect=Succeeds(),
        bad={"upload-reset-fails": "succeeds"},
        covers=("R-6.4-3",),
    ),
    Case(
        id="9113/8.1/request-trailers",
        level=MUST,
        covers=("R-8.1-8",),
        requirement="§8.1: request trailers go in one field block after the body that ends the "
                    "stream (END_STREAM on its HEADERS frame), with the application's fields and no "
                    "pseudo-header field. Not exercised when the client sends no trailers.",
        server="Reads the POST (5 KiB body, the application hands over the trailer x-checksum: abc) "
               "and answers 200 once the stream has ended.",
        scenario=lambda: Script(),
        request=WITH_TRAILERS,
        expect=Exercised("the client sent a field block after the request's HEADERS", _sent_trailers)
        & Succeeds()
        & Custom("one trailer block, the application's fields, no pseudo-header, with END_STREAM",
                 _trailers_well_formed, name="trailers-well-formed"),
        bad={"trailers-then-data": "trailers-well-formed", "pseudo-in-trailers": "trailers-well-formed"},
    ),
    # -- the client's own content-length -------------------------------------------
    Case(
        id="9113/8.1.1/request-content-length-smaller",
        level=MAY,
        covers=("R-8.1.1-6",),
        requirement="§8.1.1 makes a request whose content-length differs from its DATA malformed "
                    "for the server, but no keyword binds a client handed that value by its "
                    "application: whether it corrects a content-length smaller than the body, "
                    "refuses locally or sends it as given is reported.",
        server="Reads the request (the application asks for content-length 500 on a 1000-octet "
               "POST body) and answers 200 once it is complete.",
        scenario=lambda: Script(),
        request=wrong_length("500"),
        expect=Custom("content-length matches the DATA of every request the server sees",
                      _content_length_consistent, name="content-length-matches")
        & AnyOf(Succeeds(), Fails(*LOCAL_FAILURE), why=CL_WHY),
        bad={"trust-app-content-length": "content-length-matches"},
        regression="curl_cffi#19",
    ),
    Case(
        id="9113/8.1.1/request-content-length-larger",
        level=MAY,
        covers=("R-8.1.1-6",),
        requirement="§8.1.1: when the application sets a content-length larger than the body, "
                    "whether the client corrects it, refuses locally or ends the stream short of "
                    "the declared length is reported (no keyword binds the client).",
        server="Reads the request (the application asks for content-length 2000 on a 1000-octet "
               "POST body) and answers 200 once it is complete.",
        scenario=lambda: Script(),
        request=wrong_length("2000"),
        expect=Custom("content-length matches the DATA of every request the server sees",
                      _content_length_consistent, name="content-length-matches")
        & AnyOf(Succeeds(), Fails(*LOCAL_FAILURE), why=CL_WHY),
        bad={"trust-app-content-length": "content-length-matches"},
        regression="curl_cffi#19",
    ),
    # §5.4.3 and §8.1: a response cut off by a TCP close
    Case(
        id="9113/8.1/close-mid-body",
        level=MUST,
        requirement="§8.1 and §5.4.3: a response ends only with END_STREAM; when the server closes "
                    "the TCP connection mid-body the transfer MUST fail, never be reported as a "
                    "success with a short body.",
        server="Sends HEADERS with content-length 20000, DATA with the first 10000 octets (no "
               "END_STREAM), then closes the TCP connection.",
        scenario=cut_off(content_length=True),
        request=get(),
        expect=Fails(*TRUNCATED) & Report("failure", how_it_failed),
        bad={"truncated-ok": "transfer-fails"},
        covers=("R-5.4.3-1",),
    ),
    Case(
        id="9113/8.1/close-mid-body-no-content-length",
        level=MUST,
        requirement="§8.1 and §5.4.3: without content-length only END_STREAM marks the end of a "
                    "response; a TCP close mid-body MUST fail the transfer, not end it as a success.",
        server="Sends HEADERS without content-length, DATA with the first 10000 octets of 20000 "
               "(no END_STREAM), then closes the TCP connection.",
        scenario=cut_off(content_length=False),
        request=get(),
        expect=Fails(*TRUNCATED) & Report("failure", how_it_failed),
        bad={"truncated-ok": "transfer-fails"},
        covers=("R-5.4.3-1",),
    ),
]
