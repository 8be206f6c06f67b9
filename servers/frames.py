"""Frame factory: bytes for any HTTP/2 frame, valid or deliberately broken.

Valid frames go through hyperframe; the raw `frame()` builder exists for
everything hyperframe refuses to produce (bad lengths, reserved bits, unknown
types, frames on the wrong stream). RFC 9113 §4.1 is the layout.
"""
from __future__ import annotations

import struct

from hyperframe import frame as hf

# RFC 9113 §6 frame type codes.
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE = 0x0, 0x1, 0x2, 0x3, 0x4, 0x5
PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0x6, 0x7, 0x8, 0x9
TYPE_NAMES = {
    DATA: "DATA", HEADERS: "HEADERS", PRIORITY: "PRIORITY", RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS", PUSH_PROMISE: "PUSH_PROMISE", PING: "PING", GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE", CONTINUATION: "CONTINUATION",
}

# Flags (§6): the same bit means different things per type.
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

# §6.5.2 setting identifiers.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6
SETTING_NAMES = {
    HEADER_TABLE_SIZE: "HEADER_TABLE_SIZE", ENABLE_PUSH: "ENABLE_PUSH",
    MAX_CONCURRENT_STREAMS: "MAX_CONCURRENT_STREAMS", INITIAL_WINDOW_SIZE: "INITIAL_WINDOW_SIZE",
    MAX_FRAME_SIZE: "MAX_FRAME_SIZE", MAX_HEADER_LIST_SIZE: "MAX_HEADER_LIST_SIZE",
}

# §7 error codes.
ERROR_CODES = {
    "NO_ERROR": 0x0, "PROTOCOL_ERROR": 0x1, "INTERNAL_ERROR": 0x2, "FLOW_CONTROL_ERROR": 0x3,
    "SETTINGS_TIMEOUT": 0x4, "STREAM_CLOSED": 0x5, "FRAME_SIZE_ERROR": 0x6,
    "REFUSED_STREAM": 0x7, "CANCEL": 0x8, "COMPRESSION_ERROR": 0x9, "CONNECT_ERROR": 0xA,
    "ENHANCE_YOUR_CALM": 0xB, "INADEQUATE_SECURITY": 0xC, "HTTP_1_1_REQUIRED": 0xD,
}
ERROR_NAMES = {v: k for k, v in ERROR_CODES.items()}

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # §3.4
DEFAULT_MAX_FRAME = 16384  # §4.2


def error_name(code: int) -> str:
    return ERROR_NAMES.get(code, f"UNKNOWN_0x{code:x}")


def _code(code: int | str) -> int:
    return ERROR_CODES[code] if isinstance(code, str) else code


def frame(ftype: int, flags: int, stream: int, payload: bytes = b"", *,
          length: int | None = None, reserved: bool = False) -> bytes:
    """Any frame at all: `length` may lie, `reserved` sets the R bit (§4.1)."""
    n = len(payload) if length is None else length
    sid = (stream & 0x7FFFFFFF) | (0x80000000 if reserved else 0)
    return struct.pack(">I", n)[1:] + struct.pack(">BBI", ftype, flags, sid) + payload


def settings(values: dict[int, int] | list[tuple[int, int]] | None = None, *, ack: bool = False,
             stream: int = 0) -> bytes:
    """SETTINGS; a list of pairs keeps order and repeats (§6.5.3 last one wins)."""
    pairs = list(values.items()) if isinstance(values, dict) else list(values or [])
    payload = b"".join(struct.pack(">HI", k, v) for k, v in pairs)
    return frame(SETTINGS, ACK if ack else 0, stream, payload)


def settings_ack() -> bytes:
    return frame(SETTINGS, ACK, 0)


def headers(stream: int, block: bytes, *, end_stream: bool = False, end_headers: bool = True,
            pad: int | None = None, priority: bool = False) -> bytes:
    f = hf.HeadersFrame(stream, block)
    flags = (["END_STREAM"] if end_stream else []) + (["END_HEADERS"] if end_headers else [])
    if pad is not None:
        f.pad_length = pad
        flags.append("PADDED")
    if priority:
        f.depends_on, f.stream_weight, f.exclusive = 0, 15, False
        flags.append("PRIORITY")
    for flag in flags:
        f.flags.add(flag)
    return f.serialize()


def continuation(stream: int, block: bytes, *, end_headers: bool = True) -> bytes:
    return frame(CONTINUATION, END_HEADERS if end_headers else 0, stream, block)


def data(stream: int, body: bytes = b"", *, end_stream: bool = False, pad: int | None = None) -> bytes:
    f = hf.DataFrame(stream, body)
    if end_stream:
        f.flags.add("END_STREAM")
    if pad is not None:
        f.pad_length = pad
        f.flags.add("PADDED")
    return f.serialize()


def priority(stream: int, depends_on: int = 0, weight: int = 16, exclusive: bool = False) -> bytes:
    dep = (depends_on & 0x7FFFFFFF) | (0x80000000 if exclusive else 0)
    return frame(PRIORITY, 0, stream, struct.pack(">IB", dep, weight - 1))


def rst_stream(stream: int, code: int | str = "NO_ERROR") -> bytes:
    return frame(RST_STREAM, 0, stream, struct.pack(">I", _code(code)))


def push_promise(stream: int, promised: int, block: bytes, *, end_headers: bool = True) -> bytes:
    return frame(PUSH_PROMISE, END_HEADERS if end_headers else 0, stream,
                 struct.pack(">I", promised & 0x7FFFFFFF) + block)


def ping(payload: bytes = b"h2cspec!", *, ack: bool = False, stream: int = 0) -> bytes:
    return frame(PING, ACK if ack else 0, stream, payload)


def goaway(last_stream: int, code: int | str = "NO_ERROR", debug: bytes = b"", *,
           stream: int = 0) -> bytes:
    payload = struct.pack(">II", last_stream & 0x7FFFFFFF, _code(code)) + debug
    return frame(GOAWAY, 0, stream, payload)


def window_update(stream: int, increment: int) -> bytes:
    return frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment & 0x7FFFFFFF))


def split_block(block: bytes, size: int) -> list[bytes]:
    """Cut a field block into fragments for HEADERS + CONTINUATION (§4.3)."""
    return [block[i:i + size] for i in range(0, len(block), size)] or [b""]
