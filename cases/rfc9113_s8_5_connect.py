"""RFC 9113 §8.5 The CONNECT method: the client tunnels an http:// request through the mock server
acting as an HTTPS proxy. The proxy answers CONNECT with 200 and then plays the target itself:
the tunnel carries one HTTP/1.1 exchange. A client that will not speak HTTP/2 to a proxy tunnels
over HTTP/1.1 instead; the proxy serves it too, and the case is not exercised."""
from conformance.case import MAY, MUST, NAIVE, WAIT_TIMEOUT_MS, Case, Job, Req
from conformance.verdicts import Custom, Exercised, Fails, Report, StreamError, Succeeds
from servers import frames as F
from servers.scenario import BODY, Script, reply

ALL_CODES = tuple(F.ERROR_CODES)    # §8.5: a HEADERS on a tunnel is a stream error of any type
HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n"
WITH_LENGTH = HEAD + b"content-length: %d\r\n\r\n" % len(BODY) + BODY
UNTIL_CLOSE = HEAD + b"connection: close\r\n\r\n" + BODY   # the body ends with the tunnel (FIN)
HALF = len(WITH_LENGTH) - len(BODY) // 2
TUNNEL = Job((Req("/through", via_proxy=True),))
NEEDS = frozenset()   # not h2: HTTP/1.1 to the proxy is NOT-EXERCISED; https-proxy is derived


class TunnelProxy(Script):
    """`answer(conn, stream)` writes the target's side once the tunnelled request arrives (on
    HTTP/2: its first DATA frame); the proxy answers the client's END_STREAM with its own."""

    def __init__(self, answer):
        super().__init__()
        self.answer = answer

    def frame_received(self, conn, f):
        tunnels = conn.state.setdefault("tunnels", set())
        if f.type == "HEADERS" and (":method", "CONNECT") in (f.headers or []) and f.stream not in tunnels:
            tunnels.add(f.stream)
            conn.send_fields(f.stream, [(":status", "200")])
        elif f.type == "DATA" and f.stream in tunnels and f.data_len and f.stream not in conn.state.setdefault(
                "answered", set()):
            conn.state["answered"].add(f.stream)
            self.answer(conn, f.stream)

    def request_received(self, conn, req):
        if req.stream not in conn.state.get("tunnels", ()):
            return reply()(conn, req)
        if req.stream not in conn.state.setdefault("ended", set()):   # §8.5: END_STREAM for END_STREAM
            conn.send(F.data(req.stream, b"", end_stream=True))

    def http1_received(self, conn, data):
        """A CONNECT over HTTP/1.1: 200, then the target's response to the tunnelled request."""
        buf = conn.state.setdefault("http1", bytearray())
        buf += data
        while b"\r\n\r\n" in buf:
            head, _, rest = bytes(buf).partition(b"\r\n\r\n")
            buf[:] = rest
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            conn.record.http1_lines.append(line)
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n" if line.startswith("CONNECT ")
                      else WITH_LENGTH)


def ended_by_proxy(conn, stream):
    conn.state.setdefault("ended", set()).add(stream)


def with_length(conn, stream):
    """The whole response, with content-length: the client closes the tunnel first."""
    conn.send_body(stream, WITH_LENGTH, end_stream=False)


def until_close(conn, stream):
    """A response without length, ended by the proxy's END_STREAM (the target's FIN)."""
    ended_by_proxy(conn, stream)
    conn.send_body(stream, UNTIL_CLOSE, end_stream=True)


def headers_mid_tunnel(conn, stream):
    """Half the response, a HEADERS frame on the tunnel (§8.5 forbids it), then the rest."""
    conn.send(F.data(stream, WITH_LENGTH[:HALF]))
    conn.send_fields(stream, [("x-tunnel", "1")])
    conn.send(F.data(stream, WITH_LENGTH[HALF:]))


def connect_error(conn, stream):
    """Half the response, then RST_STREAM(CONNECT_ERROR): the target's connection broke (§8.5)."""
    ended_by_proxy(conn, stream)
    conn.send(F.data(stream, WITH_LENGTH[:HALF]), F.rst_stream(stream, "CONNECT_ERROR"))


# -- what the client sent --------------------------------------------------------------------
def _connect(ev):
    """(connection, the client's CONNECT HEADERS frame) over HTTP/2, or (None, None)."""
    for c in ev.observations.connections:
        for f in c.received:
            if f.type == "HEADERS" and (":method", "CONNECT") in (f.headers or []):
                return c, f
    return None, None


def _over_h2(ev):
    c, f = _connect(ev)
    if f is not None:
        return True, f"CONNECT on stream {f.stream} over HTTP/2"
    lines = [line for c in ev.observations.connections for line in c.http1_lines]
    return False, f"no CONNECT over HTTP/2; HTTP/1.1 request lines: {lines}"


def _connect_fields(ev):
    """§8.5: :method CONNECT and :authority host:port; no :scheme, :path (nor :protocol)."""
    c, f = _connect(ev)
    if f is None:
        return False, "no CONNECT over HTTP/2"
    pseudo = [(k, v) for k, v in f.headers if k.startswith(":")]
    names = [k for k, _ in pseudo]
    authority = dict(pseudo).get(":authority", "")
    ok = sorted(names) == [":authority", ":method"] and authority.rpartition(":")[2].isdigit() \
        and authority.startswith("127.0.0.1:")
    return ok, f"pseudo-header fields {pseudo}"


def _tunnel_frames(ev):
    """§8.5: once the tunnel is up, only DATA and stream management frames on its stream."""
    c, f = _connect(ev)
    if f is None:
        return False, "no CONNECT over HTTP/2"
    up = next((s.seq for s in c.sent if s.type == "HEADERS" and s.stream == f.stream), None)
    sent = [x for x in c.received if x.stream == f.stream and up is not None and x.seq > up]
    bad = [x.describe() for x in sent if x.type not in ("DATA", "RST_STREAM", "WINDOW_UPDATE", "PRIORITY")]
    return not bad, (f"sent on the tunnel: {bad[:2]}" if bad else
                     "on the tunnel: " + ", ".join(sorted({x.type for x in sent})) or "nothing")


def _how_closed(ev):
    """R-8.5-3 (reported): how the client ended its side of the tunnel."""
    c, f = _connect(ev)
    if f is None:
        return None
    mine = [x for x in c.received if x.stream == f.stream]
    if any(x.has("END_STREAM") for x in mine if x.type in ("DATA", "HEADERS")):
        return "END_STREAM"
    rst = [x.error_code for x in mine if x.type == "RST_STREAM"]
    return f"RST_STREAM({rst[0]})" if rst else f"neither; connection closed by {c.closed_by}"


def _answered(ev):
    """R-8.5-3: after the proxy's END_STREAM, the client's own END_STREAM on the tunnel."""
    c, f = _connect(ev)
    if f is None:
        return False, "no CONNECT over HTTP/2"
    fin = next((x.seq for x in c.sent if x.stream == f.stream and x.has("END_STREAM")), None)
    answer = [x for x in c.received if x.stream == f.stream and fin is not None and x.seq > fin
              and x.type in ("DATA", "HEADERS") and x.has("END_STREAM")]
    return bool(answer), f"the client closed its side with {_how_closed(ev)}" + \
        ("" if fin is not None else " (the proxy sent no END_STREAM)")


def _quiet_after_reset(ev):
    """§6.4: after the proxy's RST_STREAM the client sends nothing on that stream but PRIORITY."""
    c, f = _connect(ev)
    if f is None:
        return False, "no CONNECT over HTTP/2"
    rst = next((x.seq for x in c.sent if x.type == "RST_STREAM" and x.stream == f.stream), None)
    late = [x.describe() for x in c.received
            if x.stream == f.stream and rst is not None and x.seq > rst and x.type != "PRIORITY"]
    return not late, f"after the RST_STREAM: {late[:2]}" if late else "nothing after the RST_STREAM"


OVER_H2 = Exercised("the client tunnels over HTTP/2 (CONNECT as an HTTP/2 request)", _over_h2)
FRAMES = Custom("after the 200, only DATA, RST_STREAM, WINDOW_UPDATE or PRIORITY on the tunnel",
                _tunnel_frames, name="tunnel-frames")
CLOSED = Report("client_closed_tunnel_with", _how_closed)

CASES = [
    Case(
        id="9113/8.5/connect-pseudo-headers",
        level=MUST,
        requirement="§8.5: a CONNECT over HTTP/2 carries :method CONNECT and :authority host:port, "
                    "and no :scheme or :path; on the open tunnel the client sends only DATA and "
                    "stream management frames (how it closes its side is reported).",
        server="An HTTPS proxy: answers CONNECT with 200, then, as the target, the tunnelled GET "
               "with a 200 that has a content-length; ends the stream after the client does.",
        scenario=lambda: TunnelProxy(with_length),
        request=TUNNEL,
        needs=NEEDS,
        expect=OVER_H2 & Succeeds()
        & Custom(":method CONNECT and :authority 127.0.0.1:<port>, no other pseudo-header",
                 _connect_fields, name="connect-pseudo-headers")
        & FRAMES & CLOSED,
        bad={"connect-with-path": "connect-pseudo-headers", "tunnel-trailers": "tunnel-frames"},
        covers=("R-8.5-1", "R-8.5-2"),
    ),
    Case(
        id="9113/8.5/tunnel-closed-by-proxy",
        level=MAY,
        requirement="§8.5: END_STREAM on a tunnel stands for the TCP FIN, and the client \"is "
                    "expected\" (no keyword) to answer the proxy's END_STREAM with its own; reported: "
                    "whether it does, whether the tunnelled response without a length ends there and "
                    "is delivered whole, and whether only DATA and stream management went on the tunnel.",
        server="An HTTPS proxy: answers CONNECT with 200, then the tunnelled GET with a 200 that has "
               "no content-length (connection: close), then END_STREAM.",
        scenario=lambda: TunnelProxy(until_close),
        request=Job(TUNNEL.requests, timeout_ms=WAIT_TIMEOUT_MS),   # libcurl 8 runs into its timeout here
        needs=NEEDS,
        expect=OVER_H2 & Succeeds() & FRAMES
        & Custom("the client answers the proxy's END_STREAM with its own", _answered, name="end-stream-answered")
        & CLOSED,
        bad={"tunnel-reset-on-fin": "end-stream-answered", "tunnel-trailers": "tunnel-frames"},
        covers=("R-8.5-3",),
    ),
    Case(
        id="9113/8.5/headers-on-tunnel",
        level=MUST,
        requirement="§8.5: frames other than DATA and stream management on an established tunnel "
                    "MUST be treated as a stream error (any code): a HEADERS from the proxy ends "
                    "the tunnel and its transfer.",
        server="An HTTPS proxy: answers CONNECT with 200, then half the tunnelled response, a HEADERS "
               "frame on the tunnel stream, and the rest of the response.",
        scenario=lambda: TunnelProxy(headers_mid_tunnel),
        request=TUNNEL,
        needs=NEEDS,
        expect=OVER_H2 & StreamError(*ALL_CODES),
        bad=NAIVE,
        covers=("R-8.5-2",),
    ),
    Case(
        id="9113/8.5/connect-error-reset",
        level=MUST,
        requirement="§8.5 and §6.4: RST_STREAM(CONNECT_ERROR) mid-tunnel reports a broken connection "
                    "to the target; the transfer MUST fail, never succeed with the partial response, "
                    "and the client sends nothing more on the stream.",
        server="An HTTPS proxy: answers CONNECT with 200, then half the tunnelled response, then "
               "RST_STREAM(CONNECT_ERROR).",
        scenario=lambda: TunnelProxy(connect_error),
        request=TUNNEL,
        needs=NEEDS,
        expect=OVER_H2 & Fails()
        & Custom("nothing but PRIORITY on the stream after the RST_STREAM", _quiet_after_reset,
                 name="quiet-after-reset"),
        bad={"truncated-ok": "transfer-fails"},
        covers=("R-6.4-2",),
    ),
]
