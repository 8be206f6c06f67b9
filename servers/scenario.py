"""Scenarios: sans-IO scripts that play the server's side of one case.

A scenario never touches a socket. The transport calls `connection_made`,
`data_received` and `connection_lost`; the scenario answers by calling
`conn.send(...)` and `conn.close()` on the `Conn` it was given, and the
transport flushes that. One scenario instance serves every connection of its
case, so it can behave differently on a retry (`conn.index`).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Callable, Iterable, Union

from hpack import Encoder

from . import frames as F
from .observations import Connection
from .wire import Frame, FrameReader

Fields = list[tuple[str, str]]


@dataclass
class Request:
    """A request as the server received it."""
    conn: "Conn"
    stream: int
    headers: Fields
    body: bytearray = field(default_factory=bytearray)
    complete: bool = False

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def path(self) -> str:
        return self.header(":path") or ""


class Conn:
    """One connection as the scenario sees it. Output is buffered for the transport."""

    def __init__(self, record: Connection):
        self.record = record
        self.index = record.index
        self.encoder = Encoder()
        self.state: dict = {}               # scratch space for the scenario
        self.requests: dict[int, Request] = {}
        self.protocol: str | None = None    # "h2" or "http/1.1" once known
        self.out = bytearray()
        self.tls_actions: list[tuple[int, str]] = []   # (offset in out, action): see tls_action
        self.closing = False
        self.half_close = False
        self.wake: Callable[[], None] = lambda: None   # the transport writes out (and closes) now,
        #                                     for a change made from another connection's callback
        self.peer_settings: dict[str, int] = {}
        self.conn_window = 65535            # client's receive windows (§6.9)
        self.stream_windows: dict[int, int] = {}
        self._pending: dict[int, list] = {}  # stream -> [body bytes, end_stream] waiting for window
        self._seq = 0
        self._in = FrameReader(expect_preface=True)
        self._out = FrameReader()

    # -- output ---------------------------------------------------------
    def send(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.out += chunk
            for f in self._out.feed(chunk):
                self._stamp(f)
                self.record.sent.append(f)
                if f.type == "DATA":
                    self.conn_window -= f.length
                    self.stream_windows[f.stream] = self.stream_window(f.stream) - f.length

    def block(self, fields: Iterable[tuple[str, str]]) -> bytes:
        """Encode a field list with this connection's HPACK encoder, as given (no checks)."""
        return self.encoder.encode([(k.encode(), v.encode()) for k, v in fields], huffman=True)

    def send_fields(self, stream: int, fields: Fields, *, end_stream: bool = False) -> None:
        block = self.block(fields)
        size = self.peer_max_frame()
        parts = F.split_block(block, size)
        self.send(F.headers(stream, parts[0], end_stream=end_stream, end_headers=len(parts) == 1))
        for i, part in enumerate(parts[1:], 2):
            self.send(F.continuation(stream, part, end_headers=i == len(parts)))

    def send_body(self, stream: int, body: bytes, *, end_stream: bool = True) -> None:
        """DATA within the client's flow-control windows; the rest waits for WINDOW_UPDATE."""
        self._pending[stream] = [memoryview(bytes(body)), end_stream]   # sliced without copying
        self._drain(stream)

    def tls_action(self, action: str) -> None:
        """A TLS message after what is buffered so far (needs Scenario.tls): "renegotiate" (a TLS
        1.2 HelloRequest) or "certificate-request" (a TLS 1.3 post-handshake CertificateRequest)."""
        self.tls_actions.append((len(self.out), action))

    def close(self, *, half: bool = False) -> None:
        """Close after everything buffered has been written. `half`: send FIN (and TLS
        close_notify) but keep reading, so what the client sends after it is still seen."""
        self.closing = True
        self.half_close = half

    # -- windows ----------------------------------------------------------
    def stream_window(self, stream: int) -> int:
        return self.stream_windows.get(stream, self.peer_settings.get("INITIAL_WINDOW_SIZE", 65535))

    def peer_max_frame(self) -> int:
        return self.peer_settings.get("MAX_FRAME_SIZE", F.DEFAULT_MAX_FRAME)

    def _drain(self, stream: int) -> None:
        body, end = self._pending.get(stream, (None, None))
        if body is None:
            return
        while True:
            room = min(self.conn_window, self.stream_window(stream), self.peer_max_frame())
            if len(body) > room and room <= 0:
                break
            chunk, body = body[:max(room, 0)], body[max(room, 0):]
            self.send(F.data(stream, bytes(chunk), end_stream=end and not body))
            if not body:
                del self._pending[stream]
                return
        self._pending[stream][0] = body

    def window_opened(self, stream: int, increment: int) -> None:
        if stream == 0:
            self.conn_window += increment
            for sid in list(self._pending):
                self._drain(sid)
        else:
            self.stream_windows[stream] = self.stream_window(stream) + increment
            self._drain(stream)

    # -- input ------------------------------------------------------------
    def feed(self, data: bytes) -> list[Frame]:
        frames = self._in.feed(data)
        if self._in.preface_problem and not self.record.preface_problem:
            self.record.preface_problem = self._in.preface_problem
        for f in frames:
            self._stamp(f)
            self.record.received.append(f)
        return frames

    def _stamp(self, f: Frame) -> None:
        self._seq += 1
        f.seq = self._seq


Responder = Callable[[Conn, Request], None]
Step = Union[bytes, Callable[[Conn], Union[bytes, None]]]


class Scenario:
    """Base: a conforming HTTP/2 server. Subclasses and `Script` change pieces.

    Class attributes configure the transport:
    - `alpn`: ALPN protocols the server accepts, in preference order; None = no ALPN.
    - `rotate_ticket_keys`: a fresh TLS context (so fresh ticket keys) per connection.
    - `tls_max_version`: cap the TLS version, e.g. "TLSv1_2".
    - `tls`: a servers.openssl_tls.ServerTls; the connection is then played by pyOpenSSL, with
      the TLS faults it names (the two knobs above are then unused).
    """
    alpn: tuple[str, ...] | None = ("h2", "http/1.1")
    rotate_ticket_keys: bool = False
    tls_max_version: str | None = None   # e.g. "TLSv1_2"
    tls = None                           # a ServerTls (servers/openssl_tls.py)
    narrow_cert: bool = False            # SNI localhost gets a certificate for localhost only
    close_on_client_goaway: bool = False  # §5.4.1: the client has to close; True closes for it

    # -- transport callbacks ----------------------------------------------
    def connection_made(self, conn: Conn) -> None:
        # With ALPN the protocol is known now; otherwise data_received sniffs it.
        conn.protocol = conn.record.tls.alpn_selected if conn.record.tls else None
        if conn.protocol == "h2":
            self.server_preface(conn)

    def data_received(self, conn: Conn, data: bytes) -> None:
        if conn.protocol is None:  # cleartext or no ALPN: sniff (§3.3)
            conn.protocol = "h2" if F.PREFACE.startswith(data[:4]) else "http/1.1"
            if conn.protocol == "h2":
                self.server_preface(conn)
        if conn.protocol == "http/1.1":
            self.http1_received(conn, data)
            return
        for f in conn.feed(data):
            handler = self.handlers.get(f.type)
            if handler:
                handler(self, conn, f)
            self.frame_received(conn, f)

    def connection_lost(self, conn: Conn) -> None:
        pass

    # -- hooks for subclasses ---------------------------------------------
    def server_preface(self, conn: Conn) -> None:
        """§3.4: the server's preface is a SETTINGS frame."""
        conn.send(F.settings({F.MAX_CONCURRENT_STREAMS: 100}))

    def frame_received(self, conn: Conn, f: Frame) -> None:
        """Called after the default handling of every client frame."""

    def request_received(self, conn: Conn, req: Request) -> None:
        """The request is complete (END_STREAM seen). Default: 200 with a small body."""
        reply()(conn, req)

    def http1_received(self, conn: Conn, data: bytes) -> None:
        """A minimal HTTP/1.1 server for ALPN fallback cases."""
        buf = conn.state.setdefault("http1", bytearray())
        buf += data
        while b"\r\n\r\n" in buf:
            head, _, rest = bytes(buf).partition(b"\r\n\r\n")
            buf[:] = rest
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            conn.record.http1_lines.append(line)
            body = HTTP1_BODY
            conn.send(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)

    # -- default frame handling (a dispatch table, not an if-chain) ----------
    def _on_settings(self, conn: Conn, f: Frame) -> None:
        if f.has("ACK") or f.problem:
            return
        for name, value in f.settings or []:
            conn.peer_settings[name] = value
        self.ack_settings(conn, f)

    def ack_settings(self, conn: Conn, f: Frame) -> None:
        """ACK, and only then let our encoder use the client's HEADER_TABLE_SIZE: until the
        client has our ACK it cannot know the new size is in force (RFC 9113 §6.5.3)."""
        conn.send(F.settings_ack())
        size = dict(f.settings or []).get("HEADER_TABLE_SIZE")
        if size is not None:
            conn.encoder.header_table_size = size

    def _on_ping(self, conn: Conn, f: Frame) -> None:
        if not f.has("ACK") and f.ping is not None:
            conn.send(F.ping(f.ping, ack=True))

    def _on_headers(self, conn: Conn, f: Frame) -> None:
        if f.headers is None and not f.has("END_HEADERS"):
            conn.state["continuing"] = f
            return
        self._headers_done(conn, f, f)

    def _on_continuation(self, conn: Conn, f: Frame) -> None:
        first = conn.state.get("continuing")
        if first is not None and f.has("END_HEADERS"):
            del conn.state["continuing"]
            self._headers_done(conn, first, f)

    def _headers_done(self, conn: Conn, first: Frame, last: Frame) -> None:
        req = conn.requests.get(first.stream)
        if req is None:
            req = conn.requests[first.stream] = Request(conn, first.stream, first.headers or [])
        if first.has("END_STREAM"):
            self._complete(conn, req)

    def _on_data(self, conn: Conn, f: Frame) -> None:
        req = conn.requests.get(f.stream)
        if f.length:  # keep the client's send windows open: §6.9
            conn.send(F.window_update(0, f.length))
            if not f.has("END_STREAM"):
                conn.send(F.window_update(f.stream, f.length))
        if req is not None:
            req.body += b"\0" * (f.data_len or 0)
            if f.has("END_STREAM"):
                self._complete(conn, req)

    def _on_window_update(self, conn: Conn, f: Frame) -> None:
        if f.increment:
            conn.window_opened(f.stream, f.increment)

    def _on_goaway(self, conn: Conn, f: Frame) -> None:
        # The client gave up on the connection with an error: §5.4.1 makes it close the
        # connection, so by default the server waits for that close instead of doing it.
        if f.error_code != "NO_ERROR" and self.close_on_client_goaway:
            conn.close()

    def _complete(self, conn: Conn, req: Request) -> None:
        if not req.complete:
            req.complete = True
            self.request_received(conn, req)

    handlers = {
        "SETTINGS": _on_settings, "PING": _on_ping, "HEADERS": _on_headers,
        "CONTINUATION": _on_continuation, "DATA": _on_data, "WINDOW_UPDATE": _on_window_update,
        "GOAWAY": _on_goaway,
    }


HTTP1_BODY = b"hello over http/1.1\n"
BODY = b"hello from h2clientspec\n"


def response_fields(length: int = len(BODY), status: int | str = 200, extra: Fields = ()) -> Fields:
    """The field list of a plain text response with a content-length of `length`."""
    return [(":status", str(status)), ("content-type", "text/plain"),
            ("content-length", str(length))] + list(extra)


def cycle(size: int, period: int) -> bytes:
    """Octets 0, 1, ..., period - 1, over and over: `size` of them (an upload body whose
    every octet is predictable)."""
    return (bytes(range(period)) * (size // period + 1))[:size]


@functools.lru_cache(maxsize=64)
def body_for(path: str, size: int) -> bytes:
    """A body unique to `path` in every 32-octet block, so a misplaced frame shows."""
    blocks = (hashlib.sha256(f"{path}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def reply(status: int | str = 200, body: bytes = BODY, headers: Fields = (), *,
          fields: Fields | None = None, trailers: Fields | None = None) -> Responder:
    """A response: HEADERS (+CONTINUATION), DATA within windows, optional trailers.

    `fields` replaces the whole field list, pseudo-headers included, as given.
    """
    def respond(conn: Conn, req: Request) -> None:
        block = fields if fields is not None else response_fields(len(body), status, headers)
        only_headers = not body and trailers is None
        conn.send_fields(req.stream, block, end_stream=only_headers)
        if body:
            conn.send_body(req.stream, body, end_stream=trailers is None)
        if trailers is not None:
            conn.send_fields(req.stream, trailers, end_stream=True)
    return respond


def frames(*steps: Callable[[Conn, Request], bytes] | bytes) -> Responder:
    """Send raw frames; each step is bytes or a function of (conn, req) giving bytes."""
    def respond(conn: Conn, req: Request) -> None:
        for step in steps:
            conn.send(step(conn, req) if callable(step) else step)
    return respond


def seq(*responders: Responder) -> Responder:
    def respond(conn: Conn, req: Request) -> None:
        for r in responders:
            r(conn, req)
    return respond


def per_connection(*responders: Responder) -> Responder:
    """The n-th connection gets the n-th responder; the last one repeats."""
    def respond(conn: Conn, req: Request) -> None:
        responders[min(conn.index, len(responders) - 1)](conn, req)
    return respond


def hold(n: int, then: Callable[[Conn, list[Request]], None]) -> Responder:
    """Answer nothing until `n` requests are in on a connection, then `then(conn, requests)`
    with them in stream order."""
    def respond(conn: Conn, req: Request) -> None:
        held = conn.state.setdefault("held", [])
        held.append(req)
        if len(held) == n:
            then(conn, sorted(held, key=lambda r: r.stream))
    return respond


def fault_then_reply(*faults: Callable[[Conn, Request], bytes] | bytes) -> Callable[[], "Script"]:
    """A scenario factory: after each request, the fault frames, then a valid response."""
    return lambda: Script(respond=seq(frames(*faults), reply()))


def close() -> Responder:
    def respond(conn: Conn, req: Request) -> None:
        conn.close()
    return respond


class Script(Scenario):
    """A scenario assembled from parts, so most cases need no subclass.

    - `preface`: what the server sends first instead of its SETTINGS (bytes or
      functions of conn); `[]` sends nothing at all.
    - `respond`: what to do with each complete request.
    - `on_frame`: extra reaction to each client frame, `(conn, frame) -> None`.
    - `ack`: False to never ACK the client's SETTINGS.
    """

    def __init__(self, *, preface: list[Step] | None = None, respond: Responder | None = None,
                 on_frame: Callable[[Conn, Frame], None] | None = None, ack: bool = True,
                 alpn: tuple[str, ...] | None | str = "default", rotate_ticket_keys: bool = False,
                 tls_max_version: str | None = None, close_on_client_goaway: bool = False,
                 tls=None):
        self.preface, self.respond, self.on_frame, self.ack = preface, respond, on_frame, ack
        if alpn != "default":
            self.alpn = alpn
        self.rotate_ticket_keys = rotate_ticket_keys
        self.tls_max_version = tls_max_version
        self.close_on_client_goaway = close_on_client_goaway
        self.tls = tls

    def server_preface(self, conn: Conn) -> None:
        if self.preface is None:
            return super().server_preface(conn)
        for step in self.preface:
            chunk = step(conn) if callable(step) else step
            if chunk:
                conn.send(chunk)

    def ack_settings(self, conn: Conn, f: Frame) -> None:
        if self.ack:
            super().ack_settings(conn, f)

    def request_received(self, conn: Conn, req: Request) -> None:
        (self.respond or reply())(conn, req)

    def frame_received(self, conn: Conn, f: Frame) -> None:
        if self.on_frame:
            self.on_frame(conn, f)
