"""The frame factory and the wire reader agree, frame for frame."""
from hpack import Encoder

from servers import frames as F
from servers.wire import FrameReader


def read(*chunks: bytes, preface: bool = False):
    r = FrameReader(expect_preface=preface)
    out = []
    for c in chunks:
        out += r.feed(c)
    return r, out


def test_settings_round_trip_keeps_order_and_repeats():
    _, [f] = read(F.settings([(F.MAX_FRAME_SIZE, 16383), (F.MAX_FRAME_SIZE, 16384)]))
    assert (f.type, f.stream, f.flags, f.length) == ("SETTINGS", 0, (), 12)
    assert f.settings == [("MAX_FRAME_SIZE", 16383), ("MAX_FRAME_SIZE", 16384)]


def test_goaway_rst_ping_window_update_fields():
    _, fs = read(F.goaway(7, "ENHANCE_YOUR_CALM", b"calm"), F.rst_stream(3, "CANCEL"),
                 F.ping(b"12345678", ack=True), F.window_update(0, 1000))
    assert (fs[0].last_stream, fs[0].error_code, fs[0].debug) == (7, "ENHANCE_YOUR_CALM", b"calm")
    assert (fs[1].stream, fs[1].error_code) == (3, "CANCEL")
    assert fs[2].flags == ("ACK",) and fs[2].ping == b"12345678"
    assert fs[3].increment == 1000


def test_headers_split_over_continuation_decode_once_complete():
    block = Encoder().encode([(":status", "200"), ("x-long", "v" * 300)])
    parts = F.split_block(block, 50)
    chunks = [F.headers(1, parts[0], end_headers=False)] + [
        F.continuation(1, p, end_headers=i == len(parts) - 1) for i, p in enumerate(parts[1:], 1)]
    _, fs = read(b"".join(chunks))
    assert fs[0].type == "HEADERS" and fs[0].headers == [(":status", "200"), ("x-long", "v" * 300)]
    assert all(f.type == "CONTINUATION" for f in fs[1:])


def test_padding_and_priority_are_stripped():
    block = Encoder().encode([(":status", "204")])
    _, [h, d] = read(F.headers(1, block, pad=4, priority=True, end_stream=False),
                     F.data(1, b"abc", end_stream=True, pad=10))
    assert h.flags == ("END_HEADERS", "PADDED", "PRIORITY") and h.headers == [(":status", "204")]
    assert d.data_len == 3 and d.length == 14


def test_malformed_input_is_recorded_not_raised():
    _, fs = read(F.frame(F.PING, 0, 0, b"short"), F.frame(F.DATA, F.PADDED, 1, b"\x09abc"),
                 F.headers(1, b"\xff\xff\xff"), F.frame(0xEE, 0xFF, 5, b"x", reserved=True))
    assert fs[0].problem == "length 5 != 8"
    assert fs[1].problem == "padding length exceeds payload"
    assert fs[2].problem.startswith("field block undecodable")
    assert fs[3].type == "UNKNOWN_0xee" and fs[3].stream == 5


def test_client_preface_checked_and_split_reads():
    wire = F.PREFACE + F.settings({F.ENABLE_PUSH: 0})
    r, fs = read(wire[:10], wire[10:30], wire[30:], preface=True)
    assert r.preface_seen and r.preface_problem is None and fs[0].settings == [("ENABLE_PUSH", 0)]
    r, _ = read(b"GET / HTTP/1.1\r\n\r\n" + b"x" * 10, preface=True)
    assert r.preface_problem.startswith("bad client preface")
