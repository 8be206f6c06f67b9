"""One HTTP/2 connection of the scripted client: frame parsing, stream states,
flow control and a dispatch table from frame type to handler.

Errors travel as `Violation`: without `stream` it is a connection error (§5.4.1),
with it a stream error (§5.4.2). `_check` raises one when the client validates,
and just reports the problem (False) when it is naive.
"""
from __future__ import annotations

import socket
import ssl
import struct
import time

from h2.errors import ErrorCodes
from hpack import Decoder, Encoder
from hpack.exceptions import HPACKDecodingError, HPACKError, OversizedHeaderListError
from hpack.hpack import decode_integer
from hpack.table import HeaderTable, table_entry_size
from hyperframe.frame import (ContinuationFrame, DataFrame, GoAwayFrame, HeadersFrame, PingFrame,
                              RstStreamFrame, SettingsFrame, WindowUpdateFrame)

from . import checks
from .push import MAX_RESERVED, promise_problem
from .transport import close_socket, wait_readable

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PRIORITY_UPDATE = 0x10                 # RFC 9218 §7.1
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
TYPE_NAMES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY",
              "WINDOW_UPDATE", "CONTINUATION"]
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
# §6: the flags each frame type defines; any other bit is undefined and ignored (§4.1)
DEFINED_FLAGS = {DATA: END_STREAM | PADDED, HEADERS: END_STREAM | END_HEADERS | PADDED | PRIORITY_FLAG,
                 SETTINGS: ACK, PUSH_PROMISE: END_HEADERS | PADDED, PING: ACK, CONTINUATION: END_HEADERS}
OUR_MAX_FRAME = 16384                  # we never raise SETTINGS_MAX_FRAME_SIZE (§4.2)
OUR_TABLE_SIZE = 4096                  # nor SETTINGS_HEADER_TABLE_SIZE
MAX_WINDOW = checks.MAX_WINDOW
MAX_STREAM_ID = 2**31 - 1
MAX_FIELD_BLOCK = 256 * 1024           # §10.5.1: a field block beyond this is ENHANCE_YOUR_CALM
TRACE_CAP = 64 * 1024
NOT_ERRORS = {"NO_ERROR", "CANCEL"}


def code_name(code: int) -> str:
    try:
        return ErrorCodes(code).name
    except ValueError:
        return f"0x{code:x}"           # §7: unknown codes get no special treatment


def describe(raw: bytes) -> str:
    """One trace line for a serialized frame."""
    length, ftype, flags, sid = struct.unpack("!L", b"\0" + raw[:3])[0], raw[3], raw[4], \
        struct.unpack("!L", raw[5:9])[0] & 0x7fffffff
    p = raw[9:9 + length]
    name = TYPE_NAMES[ftype] if ftype < len(TYPE_NAMES) else f"UNKNOWN(0x{ftype:x})"
    extra = ""
    if ftype in (RST_STREAM, GOAWAY) and len(p) >= 4:
        extra = " " + code_name(struct.unpack_from("!L", p, 4 if ftype == GOAWAY and len(p) >= 8 else 0)[0])
        if ftype == GOAWAY and len(p) >= 8:
            extra = f" last={struct.unpack_from('!L', p)[0] & 0x7fffffff}{extra}"
    elif ftype == SETTINGS and not flags & ACK and len(p) % 6 == 0:
        extra = " " + ",".join(f"{i}={v}" for i, v in (struct.unpack_from("!HL", p, o) for o in range(0, len(p), 6)))
    elif ftype == WINDOW_UPDATE and len(p) == 4:
        extra = f" +{struct.unpack('!L', p)[0] & 0x7fffffff}"
    elif ftype == PING:
        extra = f" {p.hex()}"
    return f"{name} s={sid} f=0x{flags:x} len={length}{extra}"


def huffman_coded(literal: bytes, prefix: int) -> bool:
    """Whether a string of the literal field line at literal[0] is Huffman-coded (RFC 7541 §5.2,
    §6.2); `prefix` is the width of its name index, 6 or 4."""
    if literal[0] & ((1 << prefix) - 1):          # indexed name: the value is the only string
        _, at = decode_integer(literal, prefix)
    elif literal[1] & 0x80:                       # the H bit of the literal name
        return True
    else:
        length, n = decode_integer(literal[1:], 7)
        at = 1 + n + length
    return bool(literal[at] & 0x80)


class _NoInsertTable(HeaderTable):
    def add(self, name: bytes, value: bytes) -> None:
        pass                                      # misbehaviour hpack-no-dynamic-table: nothing enters


class _QuirkTable(HeaderTable):
    """Misbehaviours that refuse valid insertions (RFC 7541 §4.4, §2.3.2)."""

    def __init__(self, quirk: str):
        super().__init__()
        self.quirk = quirk

    def add(self, name: bytes, value: bytes) -> None:
        if self.quirk == "reject-oversize-entry" and table_entry_size(name, value) > self.maxsize:
            raise HPACKDecodingError("misbehaviour: an entry larger than the table is an error")
        if self.quirk == "reject-duplicates" and (name, value) in self.dynamic_entries:
            raise HPACKDecodingError("misbehaviour: a duplicate table entry is an error")
        super().add(name, value)


class FieldDecoder(Decoder):
    """hpack's Decoder with the HPACK knobs of a Behaviour (hpack_inserts, accept_huffman)."""

    def __init__(self, behaviour):
        super().__init__(max_header_list_size=behaviour.max_header_list)
        self.max_allowed_table_size = OUR_TABLE_SIZE
        self.inserts, self.huffman = behaviour.hpack_inserts, behaviour.accept_huffman
        self.quirk = behaviour.hpack_quirk
        if self.inserts == "nothing":
            self.header_table = _NoInsertTable()
        elif self.quirk:
            self.header_table = _QuirkTable(self.quirk)
        if behaviour.table_limit == "early":      # misbehaviour: our lower size binds before the ACK
            self.bind_table_size(behaviour.header_table_size)
            self.header_table_size = behaviour.header_table_size

    def bind_table_size(self, size: int) -> None:
        """§4.3.1: our SETTINGS_HEADER_TABLE_SIZE holds from the server's ACK; a lower one must be
        signalled at the start of the next block (hpack checks the table ends within the limit)."""
        self.max_allowed_table_size = min(size, self.max_allowed_table_size)

    def _decode_literal(self, data, should_index):
        if not self.huffman and huffman_coded(bytes(data), 6 if should_index else 4):
            raise HPACKDecodingError("misbehaviour: rejecting a Huffman-coded string literal")
        result = super()._decode_literal(data, should_index)
        if self.quirk == "evict-before-name" and should_index and data[0] & 0x3F:
            index = decode_integer(bytes(data), 6)[0]   # now one further down, after the insert
            if index > len(HeaderTable.STATIC_TABLE) and \
                    index - len(HeaderTable.STATIC_TABLE) >= len(self.header_table.dynamic_entries):
                raise HPACKDecodingError(f"misbehaviour: evicted first, so name index {index} is gone")
        return result

    def _decode_literal_no_index(self, data):
        header, consumed = super()._decode_literal_no_index(data)
        if self.inserts == "all":                 # misbehaviour: §6.2.2 and §6.2.3 leave the table alone
            self.header_table.add(header[0], header[1])
        return header, consumed


class Violation(Exception):
    def __init__(self, code: str, message: str, stream: int | None = None):
        super().__init__(message)
        self.code, self.message, self.stream = code, message, stream


class Stream:
    def __init__(self, sid: int, transfer, window: int):
        self.id, self.transfer = sid, transfer
        # request body not yet sent; a tunnel's goes out once the CONNECT is answered (§8.5)
        self.to_send = memoryview(b"" if transfer.tunnel else transfer.body)[transfer.body_from:]
        self.local_ended = False         # we sent END_STREAM
        self.window = window             # peer's stream window for our DATA (§6.9)
        self.unacked = 0                 # DATA octets to give back with WINDOW_UPDATE
        self.got_final = False
        self.response_done = False       # server END_STREAM seen; settled after the read batch
        self.content_length: int | None = None
        self.no_body = transfer.method == "HEAD"
        self.received = 0
        self.small_run = 0               # consecutive DATA frames under 16 octets (small-frame-limit)
        self.recv_window = 65535         # our stream window for the server's DATA (enforce-receive-window)
        # RFC 9110 §10.1.1: with Expect: 100-continue the body waits for a 100 until this time
        self.expect_until: float | None = None
        self.abandoned = False           # a final status came before the body: it never goes out


class H2Connection:
    """States per stream id: open, closed (server END_STREAM), reset-remote, reset-local.
    A stream id we never opened is idle (§5.1)."""

    def __init__(self, sock, behaviour, origin, label: str, remember=None, tls_fault=None, push=None):
        self.sock, self.b, self.v = sock, behaviour, behaviour.validate
        self.origin, self.label, self.remember = origin, label, remember
        self.tls_fault = tls_fault               # transport.TLS.fault: §9.2 connection errors
        self.push = push                         # None: push disabled; else push(parent, fields) -> transfer or None
        self.last_promised = self.last_taken = 0   # highest promised stream id; highest one we took (§6.8)
        self.trace: list[str] = []
        self._trace_len = 0
        self.encoder = Encoder()
        self.decoder = FieldDecoder(behaviour)
        self.inbuf, self.out = bytearray(), bytearray()
        self.streams: dict[int, Stream] = {}
        self.state: dict[int, str] = {}
        self.queue: list = []                    # transfers waiting for a stream
        self.next_id = 1
        self.max_concurrent: int | None = None
        self.initial_window = 65535
        self.max_frame = 16384
        self.conn_window = 65535
        self.unacked = 0
        self.recv_window = 65535                 # our connection window for the server's DATA
        self.peer_header_list: int | None = None  # the server's SETTINGS_MAX_HEADER_LIST_SIZE
        self.block: list | None = None           # [stream, fragments, end_stream, kind] inside a field block
        self.deferred: list = []                 # interleave-field-blocks: CONTINUATIONs held back
        self.seen_first = self.got_settings = self.settings_acked = False
        self.continuations = 0                   # CONTINUATION frames in the current field block
        self.settings_frames = 0                 # SETTINGS frames received (max_settings_frames)
        self.goaway: int | None = None
        self.no_7540_priorities: int | None = None   # RFC 9218 §2.1, once the server sent it
        self.connect_protocol = 0                # RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL
        self.dead = self.send_failed = self.gave_up = False
        if behaviour.send_preface:               # §3.4: the magic, then SETTINGS
            self.out += PREFACE
            self.note("> PREFACE")
            ours = {checks.ENABLE_PUSH: 0 if push is None else 1, **dict(self.b.own_settings)}
            if behaviour.header_table_size != OUR_TABLE_SIZE:
                ours[checks.HEADER_TABLE_SIZE] = behaviour.header_table_size
            self._send(SettingsFrame(0, settings=ours))
        self.flush()

    # -- bookkeeping -----------------------------------------------------------------
    def note(self, line: str) -> None:
        if self._trace_len < TRACE_CAP:
            line = f"{time.monotonic() % 1000:8.3f} {self.label} {line}"
            self.trace.append(line)
            self._trace_len += len(line) + 1
            if self._trace_len >= TRACE_CAP:
                self.trace.append(f"{self.label} ... trace capped")

    def _check(self, ok: bool, code: str, message: str, stream: int | None = None) -> bool:
        if ok:
            return True
        if self.v:
            raise Violation(code, message, stream)
        self.note(f"naive: ignoring {message}")
        return False

    def _state(self, sid: int) -> str:
        return self.state.get(sid, "idle")

    def _closed(self, sid: int) -> bool:
        """§5.1 closed: reset by either side, or ended by both."""
        st = self.state[sid]
        return st not in ("open", "closed") or (st == "closed" and self.streams[sid].local_ended)

    def _late(self, sid: int, what: str) -> None:
        """§5.1: WINDOW_UPDATE or RST_STREAM just after a stream closed is ignored."""
        if self.b.reject_closed_stream_frames:    # misbehaviour
            raise Violation("STREAM_CLOSED", f"misbehaviour: rejecting {what} on closed stream {sid}")
        self._dropped(sid, what)

    def _dropped(self, sid: int, what: str) -> None:
        """§5.1: frames on a stream we reset are ignored; answer-frames-after-reset answers them."""
        if self.b.answer_after_reset and self._state(sid) == "reset-local":
            self.note(f"misbehaviour: answering {what} on stream {sid}, which we reset")
            self._send(RstStreamFrame(sid, error_code=ErrorCodes.STREAM_CLOSED))

    def _mine(self, t) -> bool:
        return t.conn is self and not t.done

    def accepting(self) -> bool:
        """May a new stream go on this connection? (§6.8, §9.1.1, §5.1.1)"""
        stale = self.send_failed and self.b.stale_reuse_check   # reuse-stale-connection does not look
        return not (self.dead or self.gave_up or stale or self.next_id > MAX_STREAM_ID
                    or (self.goaway is not None and self.b.honour_goaway))

    def _active(self) -> int:
        """Streams that count against SETTINGS_MAX_CONCURRENT_STREAMS (§5.1.2)."""
        return sum(1 for sid, s in self.streams.items() if sid % 2 and (
            self.state[sid] == "open" or (self.state[sid] == "closed" and not s.local_ended)))

    def _io_timeout(self) -> float:
        deadlines = [t.deadline for t in self.queue + [s.transfer for s in self.streams.values()]
                     if self._mine(t)]
        return max(0.001, min(deadlines) - time.monotonic()) if deadlines else 1.0

    # -- output ------------------------------------------------------------------------
    def _send(self, frame) -> None:
        raw = frame.serialize()
        self.note("> " + describe(raw))
        self.out += raw

    def _err(self, code: str) -> int:
        """The code we put in GOAWAY/RST_STREAM; the error_code knob replaces error codes."""
        if self.b.error_code and code not in NOT_ERRORS:
            code = self.b.error_code
        return ErrorCodes[code]

    def flush(self) -> None:
        if not self.out or self.dead or self.send_failed:
            self.out.clear()
            return
        try:
            self.sock.settimeout(self._io_timeout())
            self.sock.sendall(self.out)
        except OSError as exc:                    # read what is left; EOF or the deadline ends it
            self.note(f"send failed: {exc}")
            self.send_failed = True
        self.out.clear()

    def enqueue(self, t) -> None:
        t.attach(self, None)
        self.queue.append(t)

    def body_grew(self, t, before: int) -> None:
        """The application added to a streamed request body, which held `before` octets."""
        s = self.streams.get(t.stream) if t.stream is not None else None
        if s is not None and s.transfer is t:
            s.to_send = memoryview(t.body)[before - len(s.to_send):]

    def resumed(self) -> None:
        """A paused receiver took what it held: its stream's window and completion catch up."""
        if not self.dead:
            self._settle()
            self._give_back()
            self.flush()

    def cancel(self, t) -> None:
        """The transfer gave up (timeout, or the application cancelled it): RST_STREAM(CANCEL)
        if its stream is open."""
        if t in self.queue:
            self.queue.remove(t)
        if t.stream is not None and self._state(t.stream) in ("open", "closed") and not self.dead:
            self._send(RstStreamFrame(t.stream, error_code=ErrorCodes.CANCEL))
            self.state[t.stream] = "reset-local"
            self.flush()

    def pump(self) -> None:
        """Open queued streams as limits allow and send request bodies within the windows."""
        if self.dead:
            return
        if not self.accepting():
            self._release_queue()
        limit = self.max_concurrent if self.b.respect_max_concurrent and self.max_concurrent is not None else 1 << 31
        if not self.got_settings:
            # §3.4 lets the first request go before the server's SETTINGS; until they arrive the
            # server's limits are unknown, so one stream and no DATA (§6.5.2, §6.9.2).
            limit = 0 if self.b.wait_server_settings else 1
        if self.b.wait_settings_ack and not self.settings_acked:
            limit = 0                             # misbehaviour: §6.5.3 does not ask to wait for the ACK
        if not self.got_settings and any(t.tunnel and t.tunnel.needs_settings for t in self.queue):
            limit = 0                             # RFC 8441 §3: the server's SETTINGS decide
        batch = []
        while self.queue and self._active() + len(batch) < limit:
            t = self.queue.pop(0)
            if t.tunnel and t.tunnel.needs_settings and self.connect_protocol != 1 \
                    and not self.b.ignore_connect_setting:
                t.fail("other", "NO_EXTENDED_CONNECT", "the server did not send "
                       "SETTINGS_ENABLE_CONNECT_PROTOCOL=1 (RFC 8441 §3): nothing sent")
                continue
            batch.append(t)
        sids = [self._next_sid() for _ in batch]
        if self.b.reverse_open_order:             # misbehaviour: HEADERS leave in descending id order
            batch, sids = batch[::-1], sids[::-1]
        for t, sid in zip(batch, sids):
            self._open(t, sid)
        for frame in self.deferred:              # interleave-field-blocks: after every new HEADERS
            self._send(frame)
        self.deferred.clear()
        sending = ("open", "closed", "reset-remote") if self.b.upload_after_reset else ("open", "closed")
        for s in self.streams.values():
            if (s.to_send or s.transfer.body_complete) and not s.local_ended and self.got_settings \
                    and self.state[s.id] in sending and not self._awaiting_100(s):
                self._send_body(s)
                if self.b.serial_uploads and s.to_send:   # misbehaviour: the next body waits for this one
                    break
        self.flush()

    def _release_queue(self) -> None:
        """Queued transfers were never sent: they move to another connection, a bounded number of times."""
        for t in self.queue:
            if self._mine(t):
                t.moves += 1
                if t.moves > 5:
                    t.fail("http2", "NO_USABLE_CONNECTION", "every connection went away before the request was sent")
                t.detach()
        self.queue.clear()

    def _next_sid(self) -> int:
        sid, self.next_id = self.next_id, self.next_id + self.b.stream_id_step   # §5.1.1: odd, increasing
        return sid

    def _awaiting_100(self, s: Stream) -> bool:
        return s.expect_until is not None and time.monotonic() < s.expect_until

    def timer(self) -> float | None:
        """When a body held for a 100 (Continue) goes out anyway, if any is held."""
        held = [s.expect_until for s in self.streams.values() if self._awaiting_100(s)]
        return min(held) if held else None

    def _open(self, t, sid: int) -> None:
        fields = t.tunnel.fields(self.b) if t.tunnel else checks.request_fields(
            t.method, t.url, t.headers, t.body if t.length_known else b"",
            self.b.strip_connection_headers, self.b.lowercase_names, t.target)
        if self.b.edit_request:
            fields = self.b.edit_request(fields)
        if self.b.trim_headers_to_limit and self.peer_header_list is not None:   # misbehaviour
            fields = checks.trimmed(fields, self.peer_header_list)
        if self.b.authority_from_dial and t.connect_to:   # misbehaviour
            fields = [(n, t.connect_to if n == ":authority" else v) for n, v in fields]
        if self.b.rfc9218:                        # RFC 9218 §5: its own signal, a priority field
            fields = fields + [("priority", "u=2")]
        if self.b.trim_to_header_list and self.peer_header_list is not None:   # misbehaviour
            while len(fields) > 4 and checks.field_list_size(fields) > self.peer_header_list:
                self.note(f"misbehaviour: {fields.pop()[0]} dropped to fit MAX_HEADER_LIST_SIZE")
        block = self.encoder.encode(checks.mark_sensitive(fields))   # RFC 7541 §7.1.3
        if self.b.never_index_inserted:          # misbehaviour: our table drifts from the server's
            for name, value, sensitive in checks.mark_sensitive(fields):
                if sensitive:
                    self.encoder.header_table.add(name.encode(), value.encode())
        s = self.streams[sid] = Stream(sid, t, self.initial_window)
        self.state[sid] = "open"
        if s.to_send and checks.expects_100(t.headers):   # RFC 9110 §10.1.1: wait, but not forever
            s.expect_until = time.monotonic() + (self.b.expect_wait if self.b.expect_wait is not None
                                                 else float("inf"))
        t.attach(self, sid)
        s.local_ended = not s.to_send and self._request_ends(s)
        self._send_block(sid, block, s.local_ended,
                         self.b.rfc9218 and (self.no_7540_priorities != 1 or self.b.keep_7540_signals))

    def _request_ends(self, s: Stream) -> bool:
        """Does the request end once what it holds is sent? Not while the application may add to
        the body or trailers follow it, nor on a tunnel (§8.5: we close it ourselves), nor for a
        body a final status abandoned (RST_STREAM ends that stream)."""
        t = s.transfer
        return t.body_complete and t.request_trailers is None and not t.tunnel and not s.abandoned

    def _send_block(self, sid: int, block: bytes, end_stream: bool, priority: bool = False) -> None:
        """HEADERS, and CONTINUATION for what does not fit the peer's MAX_FRAME_SIZE; `priority`:
        with RFC 7540 priority signals (RFC 9218 §2.1.1 stops them)."""
        limit = self.max_frame if self.b.respect_max_frame_size else max(len(block), 1)
        parts = [block[i:i + limit] for i in range(0, len(block), limit)] or [b""]
        flags = ["END_STREAM"] if end_stream else []
        head = HeadersFrame(sid, data=parts[0], flags=flags + (["END_HEADERS"] if len(parts) == 1 else []))
        if priority:
            head.flags.add("PRIORITY")
            head.depends_on, head.stream_weight, head.exclusive = 0, 31, False
        self._send(head)
        for i, part in enumerate(parts[1:], 2):
            frame = ContinuationFrame(sid, data=part, flags=["END_HEADERS"] if i == len(parts) else [])
            if self.b.interleave_blocks:
                self.deferred.append(frame)
            else:
                self._send(frame)

    def _send_body(self, s: Stream) -> None:
        t = s.transfer
        while s.to_send:
            n = len(s.to_send)
            if self.b.respect_flow_control:      # §6.9: never beyond either window
                n = min(n, self.conn_window, s.window)
            n = min(n, self.max_frame if self.b.respect_max_frame_size else 2**24 - 1)   # §4.2
            if n <= 0:
                return                            # wait for WINDOW_UPDATE
            chunk, s.to_send = s.to_send[:n], s.to_send[n:]
            t.body_sent = len(t.body) - len(s.to_send)
            self.conn_window -= n
            s.window -= n
            s.local_ended = not s.to_send and self._request_ends(s) and not self.b.end_stream_waits
            self._send(DataFrame(s.id, data=bytes(chunk), flags=["END_STREAM"] if s.local_ended else []))
        if t.body_complete and not (s.local_ended or t.tunnel or s.abandoned):
            if self.b.end_stream_waits and t.request_trailers is None and min(self.conn_window, s.window) <= 0:
                return                            # misbehaviour: the empty END_STREAM waits for window (§6.9.1)
            s.local_ended = True                  # a streamed body ended, or trailers follow it
            if t.request_trailers is None:
                self._send(DataFrame(s.id, data=b"", flags=["END_STREAM"]))
            else:                                    # §8.1: trailers end the request
                self._send_trailers(s)

    def _send_trailers(self, s: Stream) -> None:
        t, end = s.transfer, self.b.trailers_end_stream
        fields = ([(":path", t.target)] if self.b.pseudo_in_trailers else []) + list(t.request_trailers)
        self._send_block(s.id, self.encoder.encode(fields), end)
        if not end:                               # misbehaviour: an empty DATA ends the stream instead
            self._send(DataFrame(s.id, data=b"", flags=["END_STREAM"]))

    # -- input -------------------------------------------------------------------------
    def poll(self) -> None:
        """Read whatever already arrived (GOAWAY, EOF) before reusing an idle connection."""
        if not self.dead and wait_readable([self.sock], 0):
            self.receive()

    def receive(self) -> None:
        if self.dead:
            return
        eof = None
        try:
            self.sock.settimeout(self._io_timeout())
            data = self.sock.recv(65536)
            while data and isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                data += self.sock.recv(self.sock.pending())
            if not data:
                eof = "the server closed the connection"
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            data = b""
        except ssl.SSLError as exc:
            return self._shutdown("tls", "TLS_ERROR", f"TLS error while reading: {exc}")
        except OSError as exc:
            data, eof = b"", f"receive failed: {exc}"
        fault = self.tls_fault(self.sock) if self.tls_fault else None
        if fault:                                 # a TLS event §9.2 makes a connection error
            return self._connection_error(*fault)
        if data:
            self.inbuf += data
            self._process()
            if not (eof or self.b.settle_before_eof or self.dead):
                eof = self._eof_follows()
        if not self.dead:
            if eof and not self.b.settle_before_eof:
                return self._on_eof(eof)          # misbehaviour: the close wins over a complete response
            self._settle()
            if eof:
                return self._on_eof(eof)
            self._give_back()
            self.flush()

    def _eof_follows(self) -> str | None:
        """Read on while more arrives right behind the last read; say whether it ended in EOF."""
        while wait_readable([self.sock], 0.5):
            try:
                data = self.sock.recv(65536)
            except (OSError, ssl.SSLError) as exc:
                return f"receive failed: {exc}"
            if not data:
                return "the server closed the connection"
            self.inbuf += data
            self._process()
            if self.dead:
                return None
        return None

    def _process(self) -> None:
        while not self.dead:
            if not self.seen_first and self.v and self.inbuf[:5] == b"HTTP/":
                return self._connection_error("PROTOCOL_ERROR", "server answered in HTTP/1.x instead of "
                                              "the HTTP/2 connection preface (§3.3, §3.4)")
            if len(self.inbuf) < 9:
                return
            length = int.from_bytes(self.inbuf[:3], "big")
            ftype, flags = self.inbuf[3], self.inbuf[4]
            sid = int.from_bytes(self.inbuf[5:9], "big") & 0x7fffffff   # §4.1: reserved bit ignored
            limit = self.b.frame_size_limit
            if self.v and length > limit and (ftype in (HEADERS, SETTINGS, PUSH_PROMISE, CONTINUATION) or sid == 0):
                return self._connection_error("FRAME_SIZE_ERROR", f"{length}-octet frame of type {ftype} above "
                                              f"our SETTINGS_MAX_FRAME_SIZE {limit} (§4.2)")
            if len(self.inbuf) < 9 + length:
                return
            raw = bytes(self.inbuf[:9 + length])
            del self.inbuf[:9 + length]
            self.note("< " + describe(raw))
            try:
                self._frame(ftype, flags, sid, raw[9:], reserved=bool(raw[5] & 0x80))
            except Violation as v:
                if v.stream is None:
                    return self._connection_error(v.code, v.message)
                self._stream_error(v.stream, v.code, v.message)
            except (struct.error, IndexError, ValueError) as exc:    # naive: skip what cannot be parsed
                if self.v:
                    return self._connection_error("PROTOCOL_ERROR", f"unparseable frame: {exc}")
                self.note(f"naive: skipped unparseable frame ({exc})")

    def _frame(self, ftype: int, flags: int, sid: int, payload: bytes, reserved: bool = False) -> None:
        if not self.seen_first:
            self.seen_first = True
            name = TYPE_NAMES[ftype] if ftype < len(TYPE_NAMES) else f"type 0x{ftype:x}"
            self._check(ftype == SETTINGS and not flags & ACK, "PROTOCOL_ERROR",
                        f"first server frame is {name}{' ACK' if flags & ACK else ''}, not SETTINGS (§3.4)")
        if self.block is not None and ftype != CONTINUATION:
            self._check(False, "PROTOCOL_ERROR", f"frame type {ftype} inside the field block of stream "
                        f"{self.block[0]} (§4.3, §6.10)")
        if self.v and len(payload) > self.b.frame_size_limit:   # §4.2: on a stream of ours a stream error does
            if ftype == DATA:
                self.unacked += len(payload)              # the octets still count for flow control
            raise Violation("FRAME_SIZE_ERROR", f"{len(payload)}-octet frame above our SETTINGS_MAX_FRAME_SIZE "
                            f"{self.b.frame_size_limit} (§4.2)", sid if sid in self.state else None)
        self._reject_ignorable(ftype, flags, reserved)
        if ftype == PRIORITY_UPDATE and self.b.rfc9218:   # RFC 9218 §7.1: only clients send it
            raise Violation("PROTOCOL_ERROR", "PRIORITY_UPDATE from the server (RFC 9218 §7.1)")
        handler = self.HANDLERS.get(ftype)
        if handler is not None:                   # §5.5: unknown frame types are ignored
            handler(self, flags, sid, payload)

    def _reject_ignorable(self, ftype: int, flags: int, reserved: bool) -> None:
        """Misbehaviours: a connection error for what §4.1 and §5.5 say to ignore."""
        name = TYPE_NAMES[ftype] if ftype < len(TYPE_NAMES) else "UNKNOWN"
        undefined = flags & ~DEFINED_FLAGS.get(ftype, 0) if ftype < len(TYPE_NAMES) else 0
        for bad, what in ((name in self.b.rejected_frames, f"a {name} frame"),
                          (self.b.reject_undefined_flags and undefined, f"undefined flags 0x{undefined:x} on {name}"),
                          (self.b.reject_reserved_bit and reserved, "the reserved bit of a stream identifier")):
            if bad:
                raise Violation("PROTOCOL_ERROR", f"misbehaviour: rejecting {what}")

    def _unpad(self, flags: int, payload: bytes, skip: int = 0) -> bytes | None:
        """Payload without padding (§6.1, §6.2) and `skip` octets after the pad length."""
        padded = flags & PADDED and self.b.strip_padding   # misbehaviour: padding kept as content
        pad = payload[0] if padded and payload else 0
        start = (1 if padded else 0) + skip
        if not self._check(start + pad <= len(payload), "PROTOCOL_ERROR",
                           f"padding of {pad} octets does not fit a {len(payload)}-octet payload (§6.1, §6.2)"):
            return None
        return payload[start:len(payload) - pad]

    def _on_data(self, flags, sid, payload):
        if not self._check(sid != 0, "PROTOCOL_ERROR", "DATA on stream 0 (§6.1)"):
            return
        data = self._unpad(flags, payload)
        # §6.9.1: padding counts toward flow control (misbehaviour padding-not-counted: only the data)
        counted = len(payload) if self.b.count_padding or data is None else len(data)
        if self.b.reject_empty_data and not payload and not flags & END_STREAM:
            raise Violation("PROTOCOL_ERROR", f"misbehaviour: rejecting an empty DATA frame on stream {sid}")
        st = self._state(sid)
        if self.b.count_dropped_data or st != "reset-local":   # §6.9: dropped DATA counts too
            self.unacked += counted
        if self.b.enforce_receive_window:         # §6.9.1 MAY: DATA beyond our windows is an error
            self._take_window(sid, counted)
        if not self._check(st != "idle", "PROTOCOL_ERROR", f"DATA on idle stream {sid} (§5.1)"):
            return
        if st == "reset-local":                   # §5.1: frames on streams we reset are ignored
            return self._dropped(sid, "DATA")
        if self.b.deliver_late_data and st in ("closed", "reset-remote") and data is not None:
            self.note(f"misbehaviour: DATA on closed stream {sid} joins its body")
            return self.streams[sid].transfer.add_body(data)
        if not self._check(st == "open", "STREAM_CLOSED", f"DATA on closed stream {sid} (§5.1)", sid) \
                or data is None:
            return
        s = self.streams[sid]
        s.unacked += counted
        self._check(s.got_final, "PROTOCOL_ERROR", "DATA before the response HEADERS (§8.1)", sid)
        s.received += len(data)
        if s.no_body and (data or self.b.strict_no_body):   # §8.1.1, RFC 9110 §6.4.1: no content
            self._check(False, "PROTOCOL_ERROR", f"{len(data)} octets of DATA in a response that has "
                        "no content (HEAD, 204 or 304; §8.1.1)", sid)
        s.small_run = s.small_run + 1 if len(data) < 16 else 0
        if self.b.small_data_limit is not None and s.small_run > self.b.small_data_limit:
            raise Violation("ENHANCE_YOUR_CALM", f"misbehaviour: more than {self.b.small_data_limit} "
                            "consecutive DATA frames under 16 octets", sid)
        if s.transfer.tunnel is not None:
            if s.transfer.tunnel.received(data) and not s.local_ended:
                self._close_tunnel(s)             # the target's response is whole: we close first
                s.response_done = True
            if flags & END_STREAM:
                self._end_remote(s)
            return
        # misbehaviour mix-streams: the body goes to the most recently opened transfer
        target = (self.streams[max(self.streams)] if self.b.mix_streams else s).transfer
        if not self.b.reassemble_data:            # misbehaviour: only the last DATA frame counts
            target.drop_body()
        target.add_body(data)
        if s.content_length is not None and not s.no_body:
            self._check(s.received <= s.content_length, "PROTOCOL_ERROR",
                        f"more DATA than content-length {s.content_length} (§8.1.1)", sid)
        if flags & END_STREAM:
            self._end_remote(s)

    def _on_headers(self, flags, sid, payload):
        if not self._check(sid != 0, "PROTOCOL_ERROR", "HEADERS on stream 0 (§6.2)"):
            return
        # §5.3.2: the priority block of the PRIORITY flag is skipped and ignored
        fragment = self._unpad(flags, payload, 5 if flags & PRIORITY_FLAG and self.b.skip_priority_fields else 0)
        if fragment is None:
            return
        self._check(sid in self.state, "PROTOCOL_ERROR", f"HEADERS on idle stream {sid}"
                    + (" (even id, never promised: §5.1.1, §8.4)" if sid % 2 == 0 else " (§5.1)"))
        if self.b.self_dependency_error and flags & PRIORITY_FLAG and sid in self.state:
            at = 1 if flags & PADDED else 0       # RFC 7540 §5.3.1: a stream cannot depend on itself
            if struct.unpack_from("!L", payload, at)[0] & 0x7fffffff == sid:
                self._stream_error(sid, "PROTOCOL_ERROR", f"stream {sid} depends on itself (RFC 7540 §5.3.1)")
        self._start_block(sid, fragment, flags, "headers")   # decoded even on a reset stream (§4.3)

    def _on_priority(self, flags, sid, payload):
        if self._check(sid != 0, "PROTOCOL_ERROR", "PRIORITY on stream 0 (§6.3)"):
            self._check(len(payload) == 5, "FRAME_SIZE_ERROR", f"PRIORITY of length {len(payload)} (§6.3)", sid)
        # §5.3.2: otherwise ignored, in any stream state

    def _on_rst_stream(self, flags, sid, payload):
        if not (self._check(sid != 0, "PROTOCOL_ERROR", "RST_STREAM on stream 0 (§6.4)")
                and self._check(len(payload) == 4, "FRAME_SIZE_ERROR", f"RST_STREAM of length {len(payload)} (§6.4)")
                and self._check(sid in self.state, "PROTOCOL_ERROR", f"RST_STREAM on idle stream {sid} (§6.4)")):
            return
        name = code_name(struct.unpack("!L", payload)[0])
        self._unknown_code(name, "RST_STREAM")
        if self._closed(sid):
            self._late(sid, "RST_STREAM")
        if self.state[sid] not in ("open", "closed"):
            return                                # §5.1: late RST_STREAM on a closed stream is ignored
        self.state[sid] = "reset-remote"
        s = self.streams[sid]
        if self.b.rst_answer_rst:                 # misbehaviour: §5.4.2 forbids answering RST with RST
            self._send(RstStreamFrame(sid, error_code=self._err("STREAM_CLOSED")))
        t = s.transfer
        why = f"server reset stream {sid} with {name}"
        if self.b.upload_reset_fails and s.response_done and not s.local_ended and self._mine(t):
            return t.fail("stream", "STREAM_RESET", f"misbehaviour: {why} before the upload ended")
        if s.response_done or not self._mine(t):  # §8.1: after a complete response, keep the response
            return
        if name == "REFUSED_STREAM" and self.b.refused_ok:
            return t.pretend_ok(why)
        if name == "REFUSED_STREAM" and t.retry(why + " (§8.7: safe to retry)"):
            return
        if name == "HTTP_1_1_REQUIRED" and t.downgrade(why):
            return
        t.truncated("stream", "STREAM_RESET", why + (" mid-response" if s.got_final else ""),
                    allowed=s.got_final)

    def _on_settings(self, flags, sid, payload):
        if not self._check(sid == 0, "PROTOCOL_ERROR", f"SETTINGS on stream {sid} (§6.5)"):
            return
        if flags & ACK:
            self._check(not payload, "FRAME_SIZE_ERROR", "SETTINGS ACK with a payload (§6.5)")
            self.settings_acked = True
            if self.b.table_limit == "ack":
                self.decoder.bind_table_size(self.b.header_table_size)
            return
        if not self._check(len(payload) % 6 == 0, "FRAME_SIZE_ERROR",
                           f"SETTINGS length {len(payload)} not a multiple of 6 (§6.5)"):
            return
        self.settings_frames += 1
        if self.b.max_settings_frames is not None and self.settings_frames > self.b.max_settings_frames:
            raise Violation("ENHANCE_YOUR_CALM", f"more than {self.b.max_settings_frames} SETTINGS frames (§10.5)")
        pairs = [struct.unpack_from("!HL", payload, i) for i in range(0, len(payload), 6)]
        unknown = [ident for ident, _ in pairs if ident not in checks.KNOWN_SETTINGS]
        if unknown and self.b.reject_unknown_settings:
            raise Violation("PROTOCOL_ERROR", f"misbehaviour: rejecting unknown settings {unknown}")
        good = []
        for ident, value in pairs:
            problem = checks.setting_problem(ident, value, self.b.rfc9218)
            if problem is None and ((self.b.strict_bounds and checks.LARGEST.get(ident) == value)
                                    or (self.b.reject_enable_push and ident == checks.ENABLE_PUSH)):
                problem = "PROTOCOL_ERROR", f"misbehaviour: rejecting setting {ident}={value}"
            if problem is None or self._check(False, *problem):
                good.append((ident, value))       # naive: a bad value is dropped
        if not self.b.last_setting_wins:         # misbehaviour: a repeated setting keeps its first value
            good = list({ident: (ident, value) for ident, value in reversed(good)}.values())
        for ident, value in good:                 # §6.5.3: in order, so the last value wins
            self._apply_setting(ident, value)
        self.got_settings = True
        if self.b.ack_settings and self.b.ack_payload:   # misbehaviour: an ACK with a payload (§6.5)
            raw = len(self.b.ack_payload).to_bytes(3, "big") + bytes([SETTINGS, ACK, 0, 0, 0, 0]) + self.b.ack_payload
            self.note("> " + describe(raw))
            self.out += raw
        elif self.b.ack_settings:
            self._send(SettingsFrame(0, flags=["ACK"]))

    def _apply_setting(self, ident: int, value: int) -> None:
        if ident == checks.NO_RFC7540_PRIORITIES and self.b.rfc9218:
            # RFC 9218 §2.1: a change after the first value MAY be a connection error; we make it one
            self._check(self.no_7540_priorities in (None, value), "PROTOCOL_ERROR",
                        f"SETTINGS_NO_RFC7540_PRIORITIES changed from {self.no_7540_priorities} to {value}")
            self.no_7540_priorities = value
        elif ident == checks.ENABLE_CONNECT_PROTOCOL:
            self.connect_protocol = value
        elif ident == checks.MAX_HEADER_LIST_SIZE:
            self.peer_header_list = value
        elif ident == checks.HEADER_TABLE_SIZE and self.b.respect_header_table_size:
            self.encoder.header_table_size = value   # RFC 7541 §4.2: size update in our next block
        elif ident == checks.MAX_CONCURRENT_STREAMS:
            lowered = self.max_concurrent is not None and value < self.max_concurrent
            if lowered and not self.b.honour_lowered_limit:   # misbehaviour: the first limit stays
                self.note(f"misbehaviour: ignoring MAX_CONCURRENT_STREAMS lowered to {value}")
            else:
                self.max_concurrent = value
        elif ident == checks.MAX_FRAME_SIZE:
            self.max_frame = value
        elif ident == checks.INITIAL_WINDOW_SIZE:     # §6.9.2: apply the delta; may go negative
            delta, self.initial_window = value - self.initial_window, value
            for s in self.streams.values():   # misbehaviour iws-new-streams-only: open streams keep theirs
                if self.state[s.id] in ("open", "closed") and self.b.iws_to_open_streams:
                    s.window += delta
                    self._check(s.window <= self._window_limit(), "FLOW_CONTROL_ERROR",
                                f"SETTINGS_INITIAL_WINDOW_SIZE pushes stream {s.id} window above 2^31-1 (§6.9.2)")
        # §6.5.2: unknown settings and ENABLE_PUSH=0 need nothing

    def _on_push_promise(self, flags, sid, payload):
        if self.push is not None:
            return self._on_promise(flags, sid, payload)
        self._check(False, "PROTOCOL_ERROR", "PUSH_PROMISE although we sent SETTINGS_ENABLE_PUSH=0 (§6.6, §8.4)")
        fragment = self._unpad(flags, payload, 4)     # naive: decode it to keep HPACK in sync, then drop
        if fragment is not None:
            self._start_block(sid, fragment, flags, "push")

    def _on_promise(self, flags, sid, payload):
        """Push enabled (§6.6): a promise on a stream of ours the server has not ended, of a new
        even stream; its field block is judged once complete (`_promised`)."""
        fragment = self._unpad(flags, payload, 4)
        if fragment is None:
            return
        promised = struct.unpack_from("!L", payload, 1 if flags & PADDED else 0)[0] & 0x7fffffff
        st = self._state(sid)                     # just reset by us: handled, not an error (§6.6)
        self._check(sid != 0 and st in ("open", "reset-local"), "PROTOCOL_ERROR",
                    f"PUSH_PROMISE on stream {sid} ({st}), neither open nor half-closed (local) (§6.6)")
        self._check(promised % 2 == 0 and promised > self.last_promised, "PROTOCOL_ERROR",
                    f"PUSH_PROMISE of stream {promised}, not a new even stream id (§5.1.1, §6.6)")
        self.last_promised = max(self.last_promised, promised)
        skip = st == "reset-local" and not self.b.decode_promise_on_reset   # misbehaviour: HPACK out of step
        self._start_block(sid, fragment, flags & ~END_STREAM, "dropped" if skip else ("push", promised))

    def _promised(self, sid: int, promised: int, raw_fields) -> None:
        """§8.4: a valid promise reserves the stream until its response, unless the application
        refuses it (RST_STREAM(CANCEL), §8.4.2); an invalid one is a stream error (§8.4.1)."""
        fields = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw_fields]
        parent = self.streams[sid].transfer if sid in self.streams else None
        self.state[promised] = "reset-local"      # until reserved below
        problem = promise_problem(fields, *parent.origin_of_request) if parent else "no parent stream"
        reserved = sum(1 for i, st in self.state.items() if i % 2 == 0 and st == "open"
                       and not self.streams[i].got_final)
        code = ("PROTOCOL_ERROR" if problem and self.v else
                "ENHANCE_YOUR_CALM" if reserved >= (self.b.reserved_limit or MAX_RESERVED) else None)
        if code:
            self.note(f"stream error {code} on promised stream {promised}: {problem or 'too many reserved'}")
            return self._send(RstStreamFrame(promised, error_code=self._err(code)))
        usable = not problem and self._state(sid) == "open" and self._mine(parent)   # naive: refuses a bad one
        pushed = self.push(parent, fields) if usable else None
        if pushed is None:                        # refused by the application, or its stream is gone
            if self.b.refuse_push_with_rst:       # (misbehaviour refuse-push-silently: left reserved)
                self._send(RstStreamFrame(promised, error_code=ErrorCodes.CANCEL))
            return
        s = self.streams[promised] = Stream(promised, pushed, self.initial_window)
        s.local_ended = True                      # reserved (remote): nothing for us to send
        self.state[promised] = "open"
        self.last_taken = promised
        pushed.attach(self, promised)

    def _on_ping(self, flags, sid, payload):
        if not (self._check(sid == 0, "PROTOCOL_ERROR", f"PING on stream {sid} (§6.7)")
                and self._check(len(payload) == 8, "FRAME_SIZE_ERROR", f"PING of length {len(payload)} (§6.7)")):
            return
        if self.b.ack_ping and (not flags & ACK or self.b.answer_ping_ack):   # §6.7: never answer a PING ACK
            self._send(PingFrame(0, opaque_data=payload, flags=["ACK"]))

    def _on_goaway(self, flags, sid, payload):
        if not (self._check(sid == 0, "PROTOCOL_ERROR", f"GOAWAY on stream {sid} (§6.8)")
                and self._check(len(payload) >= 8, "FRAME_SIZE_ERROR", f"GOAWAY of length {len(payload)} (§6.8)")):
            return
        last, code = struct.unpack_from("!LL", payload)
        last, name = last & 0x7fffffff, code_name(code)
        self._unknown_code(name, "GOAWAY")
        if self.b.reject_second_goaway and self.goaway is not None:
            raise Violation("PROTOCOL_ERROR", "misbehaviour: rejecting a second GOAWAY")
        if self.b.reject_goaway_debug and len(payload) > 8:
            raise Violation("FRAME_SIZE_ERROR", "misbehaviour: rejecting GOAWAY debug data")
        self.goaway = last if self.goaway is None else min(self.goaway, last)
        for s in self.streams.values():
            t = s.transfer
            if s.response_done or not self._mine(t) or s.id % 2 == 0:   # pushed streams are the server's
                continue
            if s.id <= last and name != "HTTP_1_1_REQUIRED":
                if self.b.goaway_fails_inflight:  # misbehaviour: the server may still complete it
                    self.state[s.id] = "reset-local"
                    t.fail("http2", "GOAWAY", f"misbehaviour: GOAWAY(last-stream-id {last}) fails stream {s.id}")
                continue                          # §6.8: streams up to last-stream-id carry on
            self.state[s.id] = "reset-local"      # never processed by the server: forget it
            why = f"server sent GOAWAY({name}, last-stream-id {last}) above stream {s.id}"
            if not (t.downgrade(why) if name == "HTTP_1_1_REQUIRED" else t.retry(why + " (§8.7: safe to retry)")):
                t.fail("http2", "GOAWAY", why)
            elif not self.b.honour_goaway:        # misbehaviour: the retry may land on this connection
                t.force_new = False
        if self.b.honour_goaway:
            self._release_queue()

    def _unknown_code(self, name: str, frame: str) -> None:
        if self.b.unknown_code_fatal and name.startswith("0x"):   # misbehaviour: §7 says no special treatment
            raise Violation("PROTOCOL_ERROR", f"misbehaviour: rejecting {frame} with unknown code {name}")

    def _on_window_update(self, flags, sid, payload):
        if not self._check(len(payload) == 4, "FRAME_SIZE_ERROR", f"WINDOW_UPDATE of length {len(payload)} (§6.9)"):
            return
        inc = struct.unpack("!L", payload)[0] & 0x7fffffff
        if sid == 0:
            if self._check(inc != 0, "PROTOCOL_ERROR", "WINDOW_UPDATE increment 0 on the connection (§6.9)"):
                self.conn_window += inc if self.b.use_window_credit else 0   # misbehaviour: credit ignored
                self._check(self.conn_window <= self._window_limit(), "FLOW_CONTROL_ERROR",
                            "connection window above 2^31-1 (§6.9.1)")
            return
        st = self._state(sid)
        if not self._check(st != "idle", "PROTOCOL_ERROR", f"WINDOW_UPDATE on idle stream {sid} (§5.1)"):
            return
        if self._closed(sid):
            return self._late(sid, "WINDOW_UPDATE")
        if self._check(inc != 0, "PROTOCOL_ERROR", f"WINDOW_UPDATE increment 0 on stream {sid} (§6.9)", sid):
            s = self.streams[sid]
            s.window += inc if self.b.use_window_credit else 0
            self._check(s.window <= self._window_limit(), "FLOW_CONTROL_ERROR", f"stream {sid} window above 2^31-1 (§6.9.1)", sid)

    def _on_continuation(self, flags, sid, payload):
        blk = self.block
        if not self._check(blk is not None and blk[0] == sid, "PROTOCOL_ERROR",
                           "CONTINUATION on stream 0 (§6.10)" if sid == 0 else
                           f"CONTINUATION on stream {sid} without an open field block (§6.10)" if blk is None else
                           f"CONTINUATION on stream {sid} inside the field block of stream {blk[0]} (§6.10)"):
            return
        blk[1] += payload
        self.continuations += 1
        if self.b.max_continuations is not None and self.continuations == self.b.max_continuations + 1:
            if not self.b.decode_refused_blocks:  # misbehaviour: the header table falls out of step
                blk[3] = "dropped"
            raise Violation("ENHANCE_YOUR_CALM", f"misbehaviour: more than {self.b.max_continuations} "
                            "CONTINUATION frames in one field block", sid)
        if len(blk[1]) > MAX_FIELD_BLOCK and not self._check(False, "ENHANCE_YOUR_CALM",
                                                             f"field block above {MAX_FIELD_BLOCK} octets (§10.5.1)"):
            blk[1], blk[3] = bytearray(), "dropped"   # naive: keeps reading, memory stays bounded
        if flags & END_HEADERS:
            self._end_block()

    HANDLERS = {DATA: _on_data, HEADERS: _on_headers, PRIORITY: _on_priority, RST_STREAM: _on_rst_stream,
                SETTINGS: _on_settings, PUSH_PROMISE: _on_push_promise, PING: _on_ping, GOAWAY: _on_goaway,
                WINDOW_UPDATE: _on_window_update, CONTINUATION: _on_continuation}

    # -- field blocks and responses ------------------------------------------------------
    def _start_block(self, sid, fragment, flags, kind):
        self.block = [sid, bytearray(fragment), bool(flags & END_STREAM), kind]
        self.continuations = 0
        if self.b.end_stream_at_headers and flags & END_STREAM and not flags & END_HEADERS \
                and self._state(sid) == "open":   # misbehaviour: §6.2 ends the stream with its block
            self.note(f"misbehaviour: stream {sid} ends before its CONTINUATION frames")
            self.state[sid] = "closed"
        if flags & END_HEADERS:
            self._end_block()

    def _end_block(self):
        sid, block, end_stream, kind = self.block
        self.block = None
        if kind == "dropped":
            return
        if not self.b.decode_closed_blocks and self._state(sid) in ("closed", "reset-local", "reset-remote"):
            self.note(f"misbehaviour: field block on stream {sid} dropped without decoding")
            return
        try:                                      # always decode, also on reset streams (§4.3)
            fields = self.decoder.decode(bytes(block), raw=True)
        except OversizedHeaderListError as exc:
            if self.b.oversized_stream_error and sid in self.state:   # misbehaviour: decoding stopped
                raise Violation("ENHANCE_YOUR_CALM", f"misbehaviour: field list too large: {exc}", sid)
            self._check(False, "ENHANCE_YOUR_CALM", f"decoded field list too large: {exc} (§10.5.1)")
            return
        except (HPACKError, ValueError, IndexError) as exc:
            self._check(False, "COMPRESSION_ERROR", f"undecodable field block: {exc} (§4.3)")
            return
        if isinstance(kind, tuple):               # ("push", promised stream)
            return self._promised(sid, kind[1], fields)
        st = self._state(sid)
        if st == "reset-local" and kind != "push":
            self._dropped(sid, "HEADERS")
        if kind == "push" or st in ("idle", "reset-local"):
            return
        if not self._check(st == "open", "STREAM_CLOSED", f"HEADERS on closed stream {sid} (§5.1)", sid):
            return
        self._on_fields(self.streams[sid], fields, end_stream)

    def _on_fields(self, s: Stream, fields, end_stream: bool) -> None:
        t = s.transfer
        if not s.got_final:
            if self.b.reject_obs_text and any(c >= 0x80 for _, v in fields for c in v):
                raise Violation("PROTOCOL_ERROR", "misbehaviour: obs-text in a field value taken as malformed", s.id)
            problem = checks.response_problem(fields, self.b.fold_length_repeats)
            status = checks.status_of(fields)
            informational = status is not None and 100 <= status < 200
            if problem is None and informational:
                problem = ("101 Switching Protocols over HTTP/2 (§8.6)"    # final-1xx: just another 1xx
                           if status == 101 and self.b.skip_informational else
                           f"informational {status} with END_STREAM (§8.1)" if end_stream else None)
            self._check(problem is None, "PROTOCOL_ERROR", f"malformed response: {problem}", s.id)
            if informational and not end_stream:
                if status == 100:
                    s.expect_until = None         # RFC 9110 §10.1.1: the body may go now
                if self.b.skip_informational:
                    return                        # §8.1: 1xx before the final response are skipped
                self.note(f"misbehaviour: {status} taken as the response; the rest of stream {s.id} is ignored")
                t.set_response(status, checks.plain_fields(fields))
                s.got_final = s.response_done = True
                self.state[s.id] = "reset-local"
                return
            if status == 204 and self.b.reject_204_content_length and b"content-length" in dict(fields):
                raise Violation("PROTOCOL_ERROR", "misbehaviour: content-length on a 204 taken as malformed", s.id)
            if self._awaiting_100(s) and self._final_before_body(s, status):
                return
            if t.tunnel is not None:
                return self._tunnel_answered(s, status, fields, end_stream)
            s.got_final = True
            s.content_length = checks.content_length(fields)
            # §8.1.1: HEAD, 204 and 304 have no content, whatever content-length says
            s.no_body = (s.no_body or status in (204, 304)) and self.b.content_length_exemptions
            t.set_response(status, checks.plain_fields(fields))
        else:
            if t.tunnel is not None:              # §8.5: only DATA and stream management on a tunnel
                self._check(False, "PROTOCOL_ERROR", f"HEADERS on the CONNECT tunnel of stream {s.id} (§8.5)", s.id)
                return
            if not self.b.accept_trailers:
                raise Violation("PROTOCOL_ERROR", "misbehaviour: trailers taken as malformed", s.id)
            if not self._check(end_stream, "PROTOCOL_ERROR", "HEADERS after the final response without "
                               "END_STREAM: neither a response nor trailers (§8.1)", s.id):
                return
            problem = checks.trailers_problem(fields)
            self._check(problem is None, "PROTOCOL_ERROR", f"malformed trailers: {problem}", s.id)
            t.set_trailers(checks.plain_fields(fields))
        if end_stream:
            self._end_remote(s)

    def _final_before_body(self, s: Stream, status: int | None) -> bool:
        """RFC 9110 §10.1.1: a final status answered the expectation before the body went out.
        A 417 makes the request go again without it (True: this stream is done with); any other
        status is the response, and the body is never sent."""
        t = s.transfer
        if status == 417 and self.b.retry_417 and t.retry("417 to Expect: 100-continue: again without "
                                                          "the expectation (RFC 9110 §10.1.1)"):
            t.headers = checks.without_expect(t.headers)
            self._send(RstStreamFrame(s.id, error_code=ErrorCodes.CANCEL))
            self.state[s.id] = "reset-local"
            return True
        if self.b.final_ends_upload:              # else (misbehaviour) the body waits on for a 100
            s.expect_until, s.to_send, s.abandoned = None, memoryview(b""), True
        return False

    def _tunnel_answered(self, s: Stream, status: int | None, fields, end_stream: bool) -> None:
        """§8.5, RFC 8441 §5: a 2xx opens the tunnel and its octets start to flow; anything else
        ends the transfer with the status as its answer."""
        t = s.transfer
        s.got_final = True
        if t.tunnel.reports_connect or not (status and 200 <= status < 300):
            t.set_response(status, checks.plain_fields(fields))
        if status and 200 <= status < 300 and not end_stream:
            s.to_send = memoryview(t.tunnel.opened())
        elif self._mine(t):
            t.fail("other", "CONNECT_REFUSED", f"CONNECT answered with {status}")
            if end_stream:
                self._end_remote(s)

    def _close_tunnel(self, s: Stream) -> None:
        """Our side of the tunnel ends: DATA with END_STREAM stands for the TCP FIN (§8.5)."""
        s.to_send, s.local_ended = memoryview(b""), True
        if self.b.tunnel_trailers:                # misbehaviour: §8.5 allows no HEADERS here
            self._send(HeadersFrame(s.id, data=self.encoder.encode([("x-closed", "1")]),
                                    flags=["END_STREAM", "END_HEADERS"]))
        else:
            self._send(DataFrame(s.id, data=b"", flags=["END_STREAM"]))

    def _end_remote(self, s: Stream) -> None:
        if s.transfer.tunnel is not None and s.got_final:
            problem = s.transfer.tunnel.ended()   # the peer's END_STREAM is its FIN
            if problem and self._mine(s.transfer):
                s.transfer.truncated("partial", "PARTIAL_FILE", problem, allowed=True)
            if not s.local_ended and self.b.tunnel_reset_on_fin:   # a FIN answered with a reset
                s.local_ended = True
                self._send(RstStreamFrame(s.id, error_code=ErrorCodes.CANCEL))
                self.state[s.id] = "reset-local"
            elif not s.local_ended:
                self._close_tunnel(s)             # §8.5: answer END_STREAM with our own
        if s.content_length is not None and not s.no_body:
            self._check(s.received == s.content_length, "PROTOCOL_ERROR",
                        f"content-length {s.content_length} but {s.received} octets of DATA (§8.1.1)", s.id)
        self.state[s.id] = "closed"
        s.response_done = True
        if s.abandoned and not s.local_ended:     # the body never went out: end our side of the stream
            self._send(RstStreamFrame(s.id, error_code=ErrorCodes.CANCEL))
            self.state[s.id] = "reset-local"

    def _settle(self) -> None:
        """Complete transfers whose response ended in the batch just processed."""
        for s in self.streams.values():
            upload_pending = (self.b.upload_reset_fails or not self.b.final_ends_upload) \
                and not s.local_ended   # misbehaviour: wait for it
            if s.response_done and self._mine(s.transfer) and s.transfer.stream == s.id and not upload_pending \
                    and not s.transfer.paused:
                if s.transfer.status == 421 and s.transfer.retry(   # RFC 9110 §15.5.20: MAY retry elsewhere
                        "421 Misdirected Request: another connection", self.b.retry_421):
                    s.transfer.force_new = self.b.retry_421_elsewhere
                    continue
                s.transfer.succeed()
                if self.remember:
                    self.remember(self.sock)

    def _give_back(self) -> None:
        """WINDOW_UPDATE for the DATA consumed (§6.9), connection and open streams."""
        if self.b.send_window_update and self.unacked:
            self._send(WindowUpdateFrame(0, window_increment=self.unacked))
            self.recv_window += self.unacked
        self.unacked = 0
        for s in self.streams.values():
            if s.transfer.paused:                 # a paused receiver gives no credit until it resumes
                if not self.b.credit_after_resume:  # misbehaviour: ... nor after it
                    s.unacked = 0
                continue
            if s.unacked and self.b.send_window_update and self.state[s.id] == "open":
                self._send(WindowUpdateFrame(s.id, window_increment=s.unacked))
                s.recv_window += s.unacked
            s.unacked = 0

    def _take_window(self, sid: int, n: int) -> None:
        """enforce-receive-window: DATA beyond our windows is FLOW_CONTROL_ERROR, a connection
        error for the connection window and a stream error for a stream's (§6.9.1 MAY)."""
        self.recv_window -= n
        self._check(self.recv_window >= 0, "FLOW_CONTROL_ERROR",
                    f"DATA {-self.recv_window} octets beyond our connection window (§6.9.1)")
        s = self.streams.get(sid)
        if s is not None and self._state(sid) == "open":
            s.recv_window -= n
            self._check(s.recv_window >= 0, "FLOW_CONTROL_ERROR",
                        f"DATA {-s.recv_window} octets beyond our window on stream {sid} (§6.9.1)", sid)

    def _window_limit(self) -> int:
        """The largest send window (§6.9.1); misbehaviour strict-bounds: one less."""
        return MAX_WINDOW - 1 if self.b.strict_bounds else MAX_WINDOW

    # -- errors and the end -----------------------------------------------------------------
    def _stream_error(self, sid: int, code: str, message: str) -> None:
        """§5.4.2: RST_STREAM(code); the transfer fails, other streams carry on."""
        if self.b.stream_errors_as_connection_errors or sid not in self.state:
            return self._connection_error(code, message)   # §5.4.2 allows it; never RST an idle stream
        self.note(f"stream error {code} on stream {sid}: {message}")
        if self.state[sid] != "reset-local":
            self._send(RstStreamFrame(sid, error_code=self._err(code)))
            self.state[sid] = "reset-local"
        t = self.streams[sid].transfer
        if self._mine(t) and t.stream == sid:
            t.fail("stream", code, f"stream error {code} on stream {sid}: {message}")
        if self.b.kill_siblings:                  # reported, not forbidden: §5.4.2 has no keyword for it
            for other in self.streams.values():
                if other.id != sid and self.state[other.id] in ("open", "closed") and self._mine(other.transfer):
                    self._send(RstStreamFrame(other.id, error_code=ErrorCodes.CANCEL))
                    self.state[other.id] = "reset-local"
                    other.transfer.fail("stream", "CANCEL", f"cancelled with stream {sid}'s error")

    def _connection_error(self, code: str, message: str) -> None:
        """§5.4.1: GOAWAY(last stream id we processed from the server: 0 unless we took a push), then close."""
        self.note(f"connection error {code}: {message}")
        if self.b.send_goaway_on_error:
            last = max(self.streams, default=0) if self.b.goaway_names_client_stream else self.last_taken
            self._send(GoAwayFrame(0, last_stream_id=last, error_code=self._err(code),
                                   additional_data=message[:120].encode()))
        self.flush()
        if not self.b.close_after_goaway:         # misbehaviour: the socket stays open, unused
            self.gave_up = True
            self.note("misbehaviour: leaving the connection open after our GOAWAY")
            return self._fail_all("http2", code, f"connection error {code}: {message}")
        if not self.b.close_on_error:             # misbehaviour: the connection stays open and in use
            self.note("misbehaviour: keeping the connection after our GOAWAY")
            return self._fail_all("http2", code, f"connection error {code}: {message}")
        self._shutdown("http2", code, f"connection error {code}: {message}")

    def _on_eof(self, why: str) -> None:
        if self.goaway is not None:
            why += f" after GOAWAY(last-stream-id {self.goaway})"
        for s in self.streams.values():
            t = s.transfer
            if not self._mine(t) or t.stream != s.id:
                continue
            if t.reused and not s.got_final and t.method in ("GET", "HEAD") and self.goaway is None \
                    and self.b.stale_reuse_check \
                    and t.retry(f"{why} with no GOAWAY before any response on a reused connection (RFC 9110 §9.2.2)"):
                continue
            if self.b.resend_processed and not s.got_final and t.retry(f"misbehaviour: {why}, sending "
                                                                      "the request again"):
                continue
            t.truncated("recv", "CONNECTION_CLOSED", f"{why} before stream {s.id} completed",
                        allowed=s.got_final)
        self._shutdown("recv", "CONNECTION_CLOSED", why)

    def _shutdown(self, cls: str, name: str, message: str) -> None:
        """The connection is gone: every transfer on it fails, queued ones too."""
        self._fail_all(cls, name, message)
        self.close(polite=False)

    def _fail_all(self, cls: str, name: str, message: str) -> None:
        for t in self.queue + [s.transfer for s in self.streams.values()]:
            if self._mine(t):
                t.fail(cls, name, message)
        self.queue.clear()

    def close(self, polite: bool = True) -> None:
        """Close the socket; a healthy connection says GOAWAY(NO_ERROR) first (§6.8)."""
        if self.dead:
            return
        if polite and not self.send_failed and self.b.goaway_on_close:
            last = max(self.streams, default=0) if self.b.goaway_names_client_stream else self.last_taken
            self._send(GoAwayFrame(0, last_stream_id=last, error_code=ErrorCodes.NO_ERROR))
            self.flush()
        if self.remember:
            self.remember(self.sock)
        self.dead = True
        self.note("closed")
        close_socket(self.sock)
