"""Sans-IO reader that turns an HTTP/2 byte stream into `Frame` records.

It never raises on bad input: a frame it cannot make sense of is recorded with
a `problem`. Used for the client's bytes (what the client sent) and for the
server's own bytes (what a scenario sent), so reports show both directions.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hpack import Decoder

from . import frames as F

FLAG_NAMES = {  # per frame type, §6
    F.DATA: {0x1: "END_STREAM", 0x8: "PADDED"},
    F.HEADERS: {0x1: "END_STREAM", 0x4: "END_HEADERS", 0x8: "PADDED", 0x20: "PRIORITY"},
    F.SETTINGS: {0x1: "ACK"},
    F.PUSH_PROMISE: {0x4: "END_HEADERS", 0x8: "PADDED"},
    F.PING: {0x1: "ACK"},
    F.CONTINUATION: {0x4: "END_HEADERS"},
}


@dataclass
class Frame:
    """One frame as seen on the wire."""
    type: str
    stream: int
    flags: tuple[str, ...]
    length: int
    error_code: str | None = None       # RST_STREAM, GOAWAY
    last_stream: int | None = None      # GOAWAY
    promised: int | None = None         # PUSH_PROMISE: the promised stream id
    debug: bytes | None = None          # GOAWAY debug data
    settings: list[tuple[str, int]] | None = None
    ping: bytes | None = None
    increment: int | None = None        # WINDOW_UPDATE
    headers: list[tuple[str, str]] | None = None  # decoded once END_HEADERS arrives
    block: bytes | None = None          # the whole field block's octets, on its first frame
    data_len: int | None = None         # DATA payload minus padding
    problem: str | None = None
    reserved: bool = False              # the R bit of the stream identifier (§4.1)
    seq: int = 0                        # order across both directions of a connection

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def describe(self) -> str:
        bits = [f"{self.type} stream={self.stream}"]
        if self.flags:
            bits.append("flags=" + "|".join(self.flags))
        for name in ("error_code", "last_stream", "promised", "increment", "data_len"):
            value = getattr(self, name)
            if value is not None:
                bits.append(f"{name}={value}")
        if self.settings is not None:
            bits.append("settings={" + ", ".join(f"{k}={v}" for k, v in self.settings) + "}")
        if self.ping is not None:
            bits.append(f"payload={self.ping.hex()}")
        if self.debug:
            bits.append(f"debug={self.debug[:40]!r}")
        if self.headers is not None:
            shown = ", ".join(f"{k}: {v}" for k, v in self.headers)
            if not shown.isprintable():   # a NUL, CR or LF in a field must not fake a report line
                shown = shown.encode("unicode_escape").decode("ascii")
            bits.append("headers=" + (shown if len(shown) <= 300 else shown[:300] + "…"))
        if self.reserved:
            bits.append("reserved-bit")
        if self.problem:
            bits.append(f"problem={self.problem}")
        return " ".join(bits)

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items()
               if v is not None and k not in ("reserved", "block", "headers")}
        if self.headers is not None:  # capped: a decompression bomb must not bloat reports
            out["headers"] = [[k[:200], v[:200]] for k, v in self.headers[:100]]
        if self.block is not None:
            out["block_len"] = len(self.block)
        if self.reserved:
            out["reserved"] = True
        out["flags"] = list(self.flags)
        if self.debug is not None:
            out["debug"] = self.debug.decode("latin-1")
        if self.ping is not None:
            out["ping"] = self.ping.hex()
        return out


def _flags(ftype: int, bits: int) -> tuple[str, ...]:
    names = FLAG_NAMES.get(ftype, {})
    return tuple(name for bit, name in sorted(names.items()) if bits & bit) + (
        (f"0x{bits & ~sum(names):02x}",) if bits & ~sum(names) else ())


def _unpad(payload: bytes, flags: int) -> tuple[bytes, str | None]:
    if not flags & F.PADDED:
        return payload, None
    if not payload or payload[0] >= len(payload):
        return b"", "padding length exceeds payload"
    return payload[1:len(payload) - payload[0]], None


@dataclass
class FrameReader:
    """Feed bytes, get frames. `expect_preface` for the client → server direction."""
    expect_preface: bool = False
    preface_seen: bool = False
    preface_problem: str | None = None
    _buf: bytearray = field(default_factory=bytearray)
    _decoder: Decoder = field(default_factory=lambda: Decoder(max_header_list_size=1 << 24))
    _block: bytearray = field(default_factory=bytearray)
    _block_frame: Frame | None = None

    def feed(self, chunk: bytes) -> list[Frame]:
        self._buf += chunk
        out: list[Frame] = []
        if self.expect_preface and not self.preface_seen:
            if len(self._buf) < len(F.PREFACE):
                if not F.PREFACE.startswith(bytes(self._buf)):
                    self.preface_problem = f"bad client preface {bytes(self._buf[:24])!r}"
                return out
            if bytes(self._buf[:24]) != F.PREFACE:
                self.preface_problem = f"bad client preface {bytes(self._buf[:24])!r}"
            del self._buf[:24]
            self.preface_seen = True
        while len(self._buf) >= 9:
            length = int.from_bytes(self._buf[:3], "big")
            if len(self._buf) < 9 + length:
                break
            ftype, flags = self._buf[3], self._buf[4]
            word = struct.unpack(">I", self._buf[5:9])[0]
            payload = bytes(self._buf[9:9 + length])
            del self._buf[:9 + length]
            fr = self._parse(ftype, flags, word & 0x7FFFFFFF, payload)
            fr.reserved = bool(word & 0x80000000)
            out.append(fr)
        return out

    def _parse(self, ftype: int, flags: int, stream: int, payload: bytes) -> Frame:
        fr = Frame(F.TYPE_NAMES.get(ftype, f"UNKNOWN_0x{ftype:02x}"), stream,
                   _flags(ftype, flags), len(payload))
        handler = _PARSERS.get(ftype)
        if handler:
            try:
                handler(self, fr, flags, payload)
            except (struct.error, IndexError) as exc:
                fr.problem = f"unparsable payload: {exc}"
        return fr

    # Field blocks span HEADERS/PUSH_PROMISE + CONTINUATION (§4.3).
    def _block_start(self, fr: Frame, flags: int, fragment: bytes) -> None:
        self._block = bytearray(fragment)
        self._block_frame = fr
        if flags & F.END_HEADERS:
            self._block_end()

    def _block_end(self) -> None:
        fr, block = self._block_frame, bytes(self._block)
        self._block_frame, self._block = None, bytearray()
        fr.block = block
        try:
            fr.headers = [(k.decode("latin-1") if isinstance(k, bytes) else k,
                           v.decode("latin-1") if isinstance(v, bytes) else v)
                          for k, v in self._decoder.decode(block, raw=True)]
        except Exception as exc:  # hpack raises several types; all mean "undecodable"
            fr.problem = f"field block undecodable: {type(exc).__name__}: {exc}"
            self._decoder = Decoder(max_header_list_size=1 << 24)

    def _headers(self, fr: Frame, flags: int, payload: bytes) -> None:
        body, fr.problem = _unpad(payload, flags)
        if flags & F.PRIORITY_FLAG:
            body = body[5:]
        self._block_start(fr, flags, body)

    def _push_promise(self, fr: Frame, flags: int, payload: bytes) -> None:
        body, fr.problem = _unpad(payload, flags)
        if len(body) >= 4:
            fr.promised = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
        self._block_start(fr, flags, body[4:])

    def _continuation(self, fr: Frame, flags: int, payload: bytes) -> None:
        if self._block_frame is None:
            fr.problem = "CONTINUATION without an open field block"
            return
        self._block += payload
        if flags & F.END_HEADERS:
            self._block_end()

    def _data(self, fr: Frame, flags: int, payload: bytes) -> None:
        body, fr.problem = _unpad(payload, flags)
        fr.data_len = len(body)

    def _rst(self, fr: Frame, flags: int, payload: bytes) -> None:
        fr.error_code = F.error_name(struct.unpack(">I", payload[:4])[0])
        if len(payload) != 4:
            fr.problem = f"length {len(payload)} != 4"

    def _settings(self, fr: Frame, flags: int, payload: bytes) -> None:
        fr.settings = [(F.SETTING_NAMES.get(k, f"0x{k:x}"), v)
                       for k, v in struct.iter_unpack(">HI", payload[:len(payload) // 6 * 6])]
        if len(payload) % 6:
            fr.problem = f"length {len(payload)} not a multiple of 6"

    def _ping(self, fr: Frame, flags: int, payload: bytes) -> None:
        fr.ping = payload
        if len(payload) != 8:
            fr.problem = f"length {len(payload)} != 8"

    def _goaway(self, fr: Frame, flags: int, payload: bytes) -> None:
        last, code = struct.unpack(">II", payload[:8])
        fr.last_stream, fr.error_code, fr.debug = last & 0x7FFFFFFF, F.error_name(code), payload[8:]

    def _window_update(self, fr: Frame, flags: int, payload: bytes) -> None:
        fr.increment = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
        if len(payload) != 4:
            fr.problem = f"length {len(payload)} != 4"


_PARSERS = {
    F.DATA: FrameReader._data, F.HEADERS: FrameReader._headers, F.RST_STREAM: FrameReader._rst,
    F.SETTINGS: FrameReader._settings, F.PUSH_PROMISE: FrameReader._push_promise,
    F.PING: FrameReader._ping, F.GOAWAY: FrameReader._goaway,
    F.WINDOW_UPDATE: FrameReader._window_update, F.CONTINUATION: FrameReader._continuation,
}
