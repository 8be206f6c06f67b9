"""RFC 7541 HPACK, as the client decodes it (and §4.2 for its encoder, RFC 9113 §4.3).

Every response field block here is written by hand, octet by octet, with the
helpers below (never with the connection's Encoder, so our dynamic-table
bookkeeping is exact). A broken representation comes after otherwise complete
response fields and is followed by the body, so a client that skips it reports
success and fails fast. A client that announces a SETTINGS_HEADER_TABLE_SIZE below
4096 gets a size update to it at the start of the first block (§4.2); the valid
cases need at least 256 octets of table.
"""
from hpack import Decoder
from hpack.exceptions import HPACKError
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hpack.struct import NeverIndexedHeaderTuple
from hpack.table import HeaderTable

from conformance.case import MAY, MUST, NAIVE, SHOULD, Case, Job, Req, gets
from conformance.verdicts import ConnectionError, Connections, Custom, Report, Succeeds
from servers import frames as F
from servers.hpack_raw import integer
from servers.scenario import BODY, Script

STATIC = HeaderTable.STATIC_TABLE          # 61 entries, index 1..61 (RFC 7541 Appendix A)
STATUS_200, CONTENT_LENGTH, CONTENT_TYPE = 8, 28, 31   # static indices
EOS = 256                                  # Huffman symbol 256 (Appendix B)
DEFAULT_TABLE = 4096                       # SETTINGS_HEADER_TABLE_SIZE default (RFC 9113 §6.5.2)


# -- encoding helpers (RFC 7541 §5 and §6) --------------------------------------------------
def huffman_bits(data: bytes, symbols=()) -> tuple[int, int]:
    """(bits, count) of the Huffman codes of `data` (Appendix B), then of extra `symbols`."""
    bits = n = 0
    for sym in list(data) + list(symbols):
        size = REQUEST_CODES_LENGTH[sym]
        bits, n = (bits << size) | REQUEST_CODES[sym], n + size
    return bits, n


def huffman(data: bytes, *, pad: str | None = None, eos_after: int | None = None) -> bytes:
    """Huffman-coded octets. Normally padded with the most significant bits of EOS (all 1s,
    fewer than 8). `pad` replaces the padding bits as given ("0000", "11111111..."); `eos_after`
    puts the EOS symbol inside the string after that many octets (§5.2)."""
    if eos_after is None:
        bits, n = huffman_bits(data)
    else:
        head, ehead = huffman_bits(data[:eos_after], [EOS])
        tail, etail = huffman_bits(data[eos_after:])
        bits, n = (head << etail) | tail, ehead + etail
    if pad is None:
        pad = "1" * (-n % 8)
    bits, n = (bits << len(pad)) | (int(pad, 2) if pad else 0), n + len(pad)
    assert n % 8 == 0, "padding must complete the last octet"
    return bits.to_bytes(n // 8, "big")


def string(data: bytes | str, *, huff: bool = False) -> bytes:
    """§5.2: a string literal, raw or Huffman-coded."""
    data = data.encode() if isinstance(data, str) else data
    body = huffman(data) if huff else data
    return integer(len(body), 7, 0x80 if huff else 0) + body


def raw_string(coded: bytes) -> bytes:
    """§5.2: a string literal whose Huffman octets are given as they are (maybe broken)."""
    return integer(len(coded), 7, 0x80) + coded


def indexed(index: int) -> bytes:
    """§6.1: indexed field."""
    return integer(index, 7, 0x80)


# §6.2.1 incremental indexing (01, 6-bit index), §6.2.2 without indexing (0000, 4-bit),
# §6.2.3 never indexed (0001, 4-bit).
KINDS = {"incremental": (0x40, 6), "without": (0x00, 4), "never": (0x10, 4)}


def literal(name: int | str, value: str, kind: str = "without", *, huff: bool = False,
            value_octets: bytes | None = None) -> bytes:
    """§6.2: a literal field; `name` is a table index or a new name; `value_octets` is an
    already encoded value string (for broken ones)."""
    flags, prefix = KINDS[kind]
    head = integer(name, prefix, flags) if isinstance(name, int) else (
        bytes([flags]) + string(name, huff=huff))
    return head + (value_octets if value_octets is not None else string(value, huff=huff))


def size_update(size: int) -> bytes:
    """§6.3: dynamic table size update."""
    return integer(size, 5, 0x20)


def entry_size(name: str, value: str) -> int:
    """§4.1: an entry's size is its name and value lengths plus 32."""
    return len(name) + len(value) + 32


# The complete response fields as literals that do not touch the dynamic table.
STATUS = indexed(STATUS_200)
TYPE = literal(CONTENT_TYPE, "text/plain")
LENGTH = literal(CONTENT_LENGTH, str(len(BODY)))
BASE = STATUS + TYPE + LENGTH


# -- scenarios ---------------------------------------------------------------------------
def respond_with(*blocks):
    """The n-th response on a connection carries field block `blocks[n]` (the last repeats),
    then BODY. A block may be a function of the connection (for the client's settings)."""
    def respond(conn, req):
        n = conn.state.get("responses", 0)
        conn.state["responses"] = n + 1
        block = blocks[min(n, len(blocks) - 1)]
        block = block(conn) if callable(block) else block
        if n == 0 and client_table_size(conn) < DEFAULT_TABLE and block[0] & 0xE0 != 0x20:
            block = size_update(client_table_size(conn)) + block   # §4.2: honour a lower limit
        conn.send(F.headers(req.stream, block))
        conn.send(F.data(req.stream, BODY, end_stream=True))
    return lambda: Script(respond=respond)


def client_table_size(conn) -> int:
    return conn.peer_settings.get("HEADER_TABLE_SIZE", DEFAULT_TABLE)


# -- valid blocks ----------------------------------------------------------------------------
# Huffman-coded values whose codes end 0, 1, ... 7 bits short of an octet, so the padding
# takes every allowed length (§5.2).
def _by_padding() -> dict[int, str]:
    found: dict[int, str] = {}
    for i in range(1000):
        value = f"h2cs-{i}"
        found.setdefault(-huffman_bits(value.encode())[1] % 8, value)
        if len(found) == 8:
            return found
    raise AssertionError("no value for some padding length")


PADDED = _by_padding()
# Huffman-coded literals (new names, and values needing 0..7 bits of padding), raw literals
# (H bit 0), and an empty value each way.
HUFFMAN_FIELDS = [(f"x-pad-{k}", v) for k, v in sorted(PADDED.items())] + [("x-huff-empty", "")]
RAW_FIELDS = [("x-raw-name", "raw value, no huffman"), ("x-raw-empty", "")]
STRINGS_BLOCK = (STATUS + literal(CONTENT_TYPE, "text/plain", huff=True)
                 + literal(CONTENT_LENGTH, str(len(BODY)), huff=True)
                 + b"".join(literal(n, v, huff=True) for n, v in HUFFMAN_FIELDS)
                 + b"".join(literal(n, v) for n, v in RAW_FIELDS))

# §6.2.1 then §2.3.3: response 1 inserts content-length (62 after the next insert: 63) and
# x-h2cs (62); response 2 refers to both by index.
INSERT_BLOCK = STATUS + TYPE + literal(CONTENT_LENGTH, str(len(BODY)), "incremental") \
    + literal("x-h2cs", "alpha", "incremental")
REUSE_BLOCK = STATUS + TYPE + indexed(63) + indexed(62)


def not_inserted_blocks(kind: str):
    """Response 1: x-kept inserted (§6.2.1), then x-skipped as `kind`, which must not enter the
    table. Response 2: index 62 is x-kept; a client that also inserted x-skipped reads x-skipped."""
    first = BASE + literal("x-kept", "indexed", "incremental") + literal("x-skipped", kind, kind)
    return first, BASE + indexed(62)


# §4.4 eviction: a 128-octet table, then entries of 40, 40, 48 and 58 octets (name + value + 32).
# The fourth insert evicts the first two: the table holds x-ev-d (62) and content-length (63),
# 106 octets.
EVICT_SIZE = 128
EVICT_ENTRIES = [("x-ev-a", "aa"), ("x-ev-b", "bb"), ("content-length", str(len(BODY))),
                 ("x-ev-d", "d" * 20)]
assert [entry_size(*e) for e in EVICT_ENTRIES] == [40, 40, 48, 58]
EVICT_FIRST = (size_update(EVICT_SIZE) + STATUS + TYPE
               + b"".join(literal(n, v, "incremental") for n, v in EVICT_ENTRIES[:2])
               + literal(CONTENT_LENGTH, str(len(BODY)), "incremental")
               + literal(*EVICT_ENTRIES[3], "incremental"))
EVICT_REUSE = STATUS + TYPE + indexed(63) + indexed(62)      # content-length, x-ev-d
EVICT_GONE = EVICT_FIRST + indexed(64)                       # 64 was x-ev-b: evicted


# §4.2 and §6.3: two updates at the start of a block (down to 0, which empties the table, then
# back up), then fields; a reference to the entry inserted before would now be an error.
def zero_second(conn):
    return (size_update(0) + size_update(client_table_size(conn)) + BASE
            + literal("x-h2cs", "beta", "incremental") + indexed(62))


# §4.4: an entry larger than the whole table empties it and is not added; the field still counts.
# With a 256-octet table: x-first (62), then x-huge (338 octets: the table empties), then x-after.
HUGE = ("x-huge", "h" * 300)
assert entry_size(*HUGE) > 256
OVERSIZE_FIRST = (size_update(256) + BASE + literal("x-first", "1", "incremental")
                  + literal(*HUGE, "incremental") + literal("x-after", "2", "incremental"))
OVERSIZE_REUSE = BASE + indexed(62)                          # x-after, the table's only entry

# §4.4: a new entry whose name is the entry it evicts. With a 128-octet table x-ev-a: aaa.. (88
# octets) is 62; the next literal names index 62 and needs its room, so x-ev-a is evicted after
# its name was read: the table then holds x-ev-a: bbb.. alone.
NAMED_A, NAMED_B = "a" * 50, "b" * 50
NAME_EVICT_FIRST = (size_update(128) + BASE + literal("x-ev-a", NAMED_A, "incremental")
                    + literal(62, NAMED_B, "incremental"))
NAME_EVICT_REUSE = BASE + indexed(62)

# §2.3.2: the dynamic table may hold duplicate entries.
DUPLICATE_FIRST = BASE + literal("x-dup", "same", "incremental") * 2
DUPLICATE_REUSE = BASE + indexed(62) + indexed(63)


# -- broken blocks ---------------------------------------------------------------------------
# 2^70 + 8: ten continuation octets; modulo 2^32 or 2^64 it is 8 (:status 200), so a decoder that
# silently wraps around decodes a valid response.
OVERFLOW_INDEX = 2 ** 70 + 8
assert len(indexed(OVERFLOW_INDEX)) == 11
OVERFLOW_BLOCK = indexed(OVERFLOW_INDEX) + TYPE + LENGTH

# Huffman strings for the x-bad field value. Each breaks exactly one rule of §5.2.
ALIGNED = next(v for k, v in PADDED.items() if k == 0)      # codes fill whole octets
FOUR_BIT = next(v for k, v in PADDED.items() if k == 4)     # 4 bits of padding
BAD_HUFFMAN = {
    # 8 bits of EOS-prefix padding after a value that needs none
    "padding-too-long": (ALIGNED, huffman(ALIGNED.encode(), pad="1" * 8)),
    # 4 bits of padding that are 0s, not the most significant bits of EOS
    "padding-not-eos": (FOUR_BIT, huffman(FOUR_BIT.encode(), pad="0000")),
    # the 30-bit EOS symbol after the 4th octet of the value, properly padded after it
    "eos-in-string": (FOUR_BIT, huffman(FOUR_BIT.encode(), eos_after=4)),
}


def bad_value(name: str) -> bytes:
    return BASE + literal("x-bad", "", value_octets=raw_string(BAD_HUFFMAN[name][1]))


# -- checks ------------------------------------------------------------------------------------
def has_fields(i: int, fields) -> Custom:
    """Transfer i's response headers, as the application sees them, include `fields`."""
    want = [(n, v) for n, v in fields]

    def check(ev):
        o = ev.outcomes[i] if i < len(ev.outcomes) else None
        if o is None:
            return False, f"no outcome for transfer {i + 1}"
        got = [tuple(h) for h in o.headers]
        missing = [f for f in want if f not in got]
        return not missing, (f"transfer {i + 1} headers {got}" if missing else
                             f"transfer {i + 1} has {len(want)} expected field(s)")
    shown = ", ".join(f"{n}: {v}" for n, v in want)
    return Custom(f"transfer {i + 1} shows the fields {shown[:200]}", check, name="fields-shown")


def lacks_field(i: int, name: str) -> Custom:
    def check(ev):
        o = ev.outcomes[i] if i < len(ev.outcomes) else None
        got = [tuple(h) for h in (o.headers if o else [])]
        bad = [h for h in got if h[0] == name]
        return not bad, f"transfer {i + 1} headers {got}"
    return Custom(f"transfer {i + 1} has no {name} field (it was never added to the table)", check, name="field-absent")


ONE_CONNECTION = Connections(1, level=SHOULD, why="the second response reuses the dynamic table "
                                                   "of the first, so both must share a connection")
TWO = gets(2)
DYNAMIC_BAD = {"hpack-no-dynamic-table": "fields-shown"}   # a decoder that never inserts: index 62+ fails


# -- the client's own encoder: SETTINGS_HEADER_TABLE_SIZE=0 (RFC 7541 §4.2, RFC 9113 §4.3.1) ----
def client_blocks(c) -> list[tuple[int, bytes]]:
    """(seq, octets) of every field block the client sent on connection `c`."""
    return [(f.seq, f.block) for f in c.received if f.type == "HEADERS" and f.block is not None]


class HpackError(Exception):
    pass


class StrictDecoder:
    """A small RFC 7541 decoder that records how the encoder used its dynamic table."""

    def __init__(self, limit: int = DEFAULT_TABLE):
        self.limit, self.max, self.table = limit, DEFAULT_TABLE, []   # table: newest first

    def _int(self, data: bytes, pos: int, prefix: int) -> tuple[int, int]:
        value, pos, shift = data[pos] & ((1 << prefix) - 1), pos + 1, 0
        if value == (1 << prefix) - 1:
            while True:
                if pos >= len(data) or shift > 28:
                    raise HpackError("bad integer")
                b = data[pos]
                pos, value, shift = pos + 1, value + ((b & 0x7F) << shift), shift + 7
                if not b & 0x80:
                    break
        return value, pos

    def _str(self, data: bytes, pos: int) -> tuple[bytes, int]:
        huff = data[pos] & 0x80
        n, pos = self._int(data, pos, 7)
        if pos + n > len(data):
            raise HpackError("truncated string")
        s = data[pos:pos + n]
        return (decode_huffman(s) if huff else s), pos + n

    def _get(self, index: int, uses: list) -> tuple[bytes, bytes]:
        if 1 <= index <= len(STATIC):
            return STATIC[index - 1]
        if index - len(STATIC) - 1 < len(self.table) and index > len(STATIC):
            uses.append(f"references dynamic entry {index}")
            return self.table[index - len(STATIC) - 1]
        raise HpackError(f"index {index} outside the table")

    def _evict(self) -> None:
        while sum(len(n) + len(v) + 32 for n, v in self.table) > self.max:
            self.table.pop()

    def decode(self, data: bytes) -> tuple[list[int], list[str]]:
        """(leading size updates, dynamic-table uses as text) of one field block; the decoded
        fields are left in `self.fields`."""
        updates, uses, pos, fields = [], [], 0, 0
        self.fields: list[tuple[bytes, bytes]] = []
        while pos < len(data):
            b = data[pos]
            if b & 0x80:
                index, pos = self._int(data, pos, 7)
                self.fields.append(self._get(index, uses))
            elif b & 0xE0 == 0x20:
                if fields:
                    raise HpackError("size update after a field")
                size, pos = self._int(data, pos, 5)
                if size > self.limit:
                    raise HpackError(f"size update to {size} above the limit {self.limit}")
                updates.append(size)
                self.max = size
                self._evict()
                continue
            else:
                incremental = bool(b & 0x40)
                index, pos = self._int(data, pos, 6 if incremental else 4)
                name = self._get(index, uses)[0] if index else None
                if name is None:
                    name, pos = self._str(data, pos)
                value, pos = self._str(data, pos)
                self.fields.append((name, value))
                if incremental:
                    uses.append(f"inserts {name.decode('latin-1')} into a table of max {self.max}")
                    self.table.insert(0, (name, value))
                    self._evict()
            fields += 1
        return updates, uses


def _encoder_findings(ev) -> tuple[list[str], list[str]]:
    """(first blocks after the client ACKed HEADER_TABLE_SIZE=0 that do not start with a size
    update to 0, whether or not the table held entries; every way a block after the ACK used a
    dynamic table larger than 0) (RFC 7541 §4.2)."""
    missing, problems = [], []
    for c in ev.observations.connections:
        acks = [f.seq for f in c.received if f.type == "SETTINGS" and f.has("ACK")]
        blocks = client_blocks(c)
        if not acks:
            if blocks:
                problems.append(f"connection #{c.index}: the client never ACKed "
                                "HEADER_TABLE_SIZE=0")
            continue
        d, first = StrictDecoder(), True
        for seq, block in blocks:
            after = seq > acks[0]
            if after:
                d.limit = 0
            try:
                updates, uses = d.decode(block)
            except Exception as exc:  # ours, or the Huffman decoder's
                problems.append(f"connection #{c.index}: block at #{seq}: {exc}")
                continue
            if not after:
                continue
            if first and not (updates and min(updates) == 0):
                missing.append(f"connection #{c.index}: the first block after the ACK (#{seq}) "
                               f"starts with size update(s) {updates or 'none'}, not one to 0")
            first = False
            problems += [f"connection #{c.index}: block #{seq} {u}" for u in uses if d.max > 0
                         or u.startswith("references")]
    return missing, problems


def _size_update_first(ev):
    missing = _encoder_findings(ev)[0]
    return not missing, "; ".join(missing) or "the first block after the ACK starts with a size update to 0"


def _encoder_respects_zero(ev):
    problems = _encoder_findings(ev)[1]
    n = sum(len(client_blocks(c)) for c in ev.observations.connections)
    undecodable = [f.describe() for f in ev.observations.frames("HEADERS") if f.problem]
    problems += undecodable
    return not problems, ("; ".join(problems[:3])
                          or f"{n} client field block(s), none uses a table above 0")


def _size_updates(ev):
    """The dynamic table size updates that open each client field block (reported)."""
    out = []
    for c in ev.observations.connections:
        for seq, block in client_blocks(c):
            pos, ups = 0, []
            while pos < len(block) and block[pos] & 0xE0 == 0x20:
                d = StrictDecoder()
                size, pos = d._int(block, pos, 5)
                ups.append(size)
            out.append(ups)
    return out


CLIENT_FIELDS = (("x-client-token", "a value the encoder would like to index"),)
SMALL_TABLE = 256


def _encoder_within(limit):
    """RFC 7541 §4.2 after the client ACKed HEADER_TABLE_SIZE=`limit`: the first block opens with a
    size update to at most `limit`, and a decoder whose table never exceeds `limit` decodes
    every block to the same fields as the connection's own (permissive) decoder did."""
    def check(ev):
        problems, n = [], 0
        for c in ev.observations.connections:
            acks = [f.seq for f in c.received if f.type == "SETTINGS" and f.has("ACK")]
            heads = {f.seq: f.headers for f in c.received if f.type == "HEADERS"}
            d, first = StrictDecoder(), True
            for seq, block in client_blocks(c):
                n += 1
                after = bool(acks) and seq > acks[0]
                if after:
                    d.limit = limit
                try:
                    updates, _ = d.decode(block)
                except Exception as exc:   # ours, or the Huffman decoder's
                    problems.append(f"connection #{c.index}: block at #{seq}: {exc}")
                    break
                if after and first:
                    first = False
                    if not updates:
                        problems.append(f"connection #{c.index}: first block after the ACK (#{seq}) "
                                        f"has no size update (table maximum still {d.max})")
                got = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in d.fields]
                if heads.get(seq) is not None and got != heads[seq]:
                    problems.append(f"connection #{c.index}: block at #{seq} decodes differently "
                                    f"with a {limit}-octet table")
        return not problems, "; ".join(problems[:3]) or f"{n} client field block(s) decode within {limit} octets"
    return check

# RFC 7541 §7.1.3: fields worth protecting from compression-based guessing.
SENSITIVE = (("authorization", "Bearer h2cs-secret-0123456789"), ("cookie", "sid=h2cs42"))


def _client_fields(ev) -> list[list]:
    """Each client field block decoded in wire order per connection, as (name, value, never
    indexed?) triples, or a string saying why a block did not decode."""
    out = []
    for c in ev.observations.connections:
        d = Decoder()
        d.max_header_list_size = 1 << 20
        for _, block in client_blocks(c):
            try:
                out.append([(n, v, isinstance(h, NeverIndexedHeaderTuple))
                            for h in d.decode(block) for n, v in [h]])
            except (HPACKError, ValueError, IndexError) as exc:
                out.append(f"undecodable: {exc}")
    return out


def _sensitive_as_given(ev):
    blocks = _client_fields(ev)
    for i, fields in enumerate(blocks):
        if isinstance(fields, str):
            return False, f"request {i + 1}: {fields}"
        got = [(n, v) for n, v, _ in fields]
        missing = [f for f in SENSITIVE if f not in got]
        if missing:
            return False, f"request {i + 1} carries {[f for f in got if f[0] in dict(SENSITIVE)]}"
    return len(blocks) == 2, f"{len(blocks)} request(s), each with the application's credentials"


def _sensitive_encoding(ev):
    """R-7541-7.1.3-1 (reported): how each request sent the sensitive fields."""
    return [fields if isinstance(fields, str) else
            {n: "never-indexed" if never else "indexable" for n, _, never in fields if n in dict(SENSITIVE)}
            for fields in _client_fields(ev)]

# -- cases ---------------------------------------------------------------------------------
COMPRESSION = ("§4.3 of RFC 9113: a field block that cannot be decoded is a connection error of "
               "type COMPRESSION_ERROR")


def broken(cid, requirement, server, block, covers):
    return Case(id=cid, level=MUST, requirement=requirement + " (" + COMPRESSION + ").",
                server=server, scenario=respond_with(block),
                expect=ConnectionError("COMPRESSION_ERROR"), bad=NAIVE, covers=covers)


CASES = [
    # -- decoding errors: each is a connection error COMPRESSION_ERROR -----------------------
    broken("7541/6.1/indexed-index-0",
           "§6.1: an indexed field with index 0 MUST be treated as a decoding error",
           "Sends response HEADERS with :status, content-type and content-length, then an indexed "
           "field with index 0 (octet 0x80); then the body.",
           BASE + indexed(0), ("R-7541-6.1-1",)),
    broken("7541/2.3.3/index-past-static-table",
           "§2.3.3: an index beyond the static table plus the (empty) dynamic table MUST be "
           "treated as a decoding error",
           "Sends the response's first field block with complete fields, then an indexed field "
           "with index 62 while the dynamic table is empty; then the body.",
           BASE + indexed(62), ("R-7541-2.3.3-1",)),
    broken("7541/2.3.3/index-past-dynamic-table",
           "§2.3.3: an index one past the last dynamic table entry MUST be treated as a decoding "
           "error",
           "Sends response fields, a literal with incremental indexing (x-h2cs: alpha, now index "
           "62), then an indexed field with index 63 (one past the end); then the body.",
           BASE + literal("x-h2cs", "alpha", "incremental") + indexed(63), ("R-7541-2.3.3-1",)),
    broken("7541/6.2.1/literal-name-index-past-table",
           "§6.2.1 and §2.3.3: a literal whose name index lies beyond the table MUST be treated "
           "as a decoding error",
           "Sends response fields, then a literal with incremental indexing whose name index is "
           "70 (static table 61 entries, dynamic table empty); then the body.",
           BASE + literal(70, "value", "incremental"), ("R-7541-2.3.3-1",)),
    broken("7541/4.2/size-update-above-setting",
           "§4.2 and §6.3: a dynamic table size update above the client's "
           "SETTINGS_HEADER_TABLE_SIZE MUST be treated as a decoding error",
           "Opens the response field block with a dynamic table size update to the client's "
           "SETTINGS_HEADER_TABLE_SIZE + 1 (4097 by default), then valid fields; then the body.",
           lambda conn: size_update(client_table_size(conn) + 1) + BASE, ("R-7541-6.3-1",)),
    broken("7541/4.2/size-update-after-field",
           "§4.2: a dynamic table size update MUST come at the start of a field block; one after "
           "a field MUST be treated as a decoding error",
           "Sends :status 200, then a dynamic table size update to the current size (4096 by "
           "default: a no-op value), then content-type and content-length; then the body.",
           lambda conn: STATUS + size_update(client_table_size(conn)) + TYPE + LENGTH,
           ("R-7541-4.2-1",)),
    broken("7541/5.2/huffman-padding-too-long",
           "§5.2: Huffman padding longer than 7 bits MUST be treated as a decoding error",
           f"Sends response fields, then x-bad whose value is the Huffman code of "
           f"{BAD_HUFFMAN['padding-too-long'][0]!r} (a whole number of octets) plus one octet of "
           f"1-bits: 8 bits of padding; then the body.",
           bad_value("padding-too-long"), ("R-7541-5.2-1",)),
    broken("7541/5.2/huffman-padding-not-eos",
           "§5.2: Huffman padding that is not the most significant bits of EOS MUST be treated as "
           "a decoding error",
           f"Sends response fields, then x-bad whose Huffman-coded value "
           f"({BAD_HUFFMAN['padding-not-eos'][0]!r}) ends with 4 padding bits of 0 instead of 1; "
           f"then the body.",
           bad_value("padding-not-eos"), ("R-7541-5.2-1",)),
    broken("7541/5.2/huffman-eos-in-string",
           "§5.2: a Huffman-coded string containing the EOS symbol MUST be treated as a decoding "
           "error",
           f"Sends response fields, then x-bad whose Huffman-coded value "
           f"({BAD_HUFFMAN['eos-in-string'][0]!r}) has the 30-bit EOS symbol after its 4th "
           f"character, correctly padded; then the body.",
           bad_value("eos-in-string"), ("R-7541-5.2-1",)),
    broken("7541/5.1/integer-overflow",
           "§5.1: an integer beyond the decoder's limits (value or length) MUST be treated as a "
           "decoding error, never wrapped around",
           "Sends a field block whose first field is indexed with index 2^70+8: ten continuation "
           "octets, and 8 (:status 200) modulo 2^32 and 2^64; then content-type, content-length "
           "and the body.",
           OVERFLOW_BLOCK, ("R-7541-5.1-1",)),
    Case(
        id="7541/4.4/index-of-evicted-entry",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-7541-2.3.3-1",),
        requirement="§4.4 and §2.3.3: entries evicted to make room are gone; a later index that "
                    "pointed at one lies past the table and MUST be treated as a decoding error ("
                    + COMPRESSION + ").",
        server="Sets the table to 128 octets, inserts complete response fields as 40-, 40-, 48- "
               "and 58-octet entries (evicting the first two), then refers to index 64 (the "
               "evicted second entry); then the body.",
        scenario=respond_with(EVICT_GONE),
        expect=ConnectionError("COMPRESSION_ERROR"),
    ),
    # -- valid representations: each MUST be accepted ---------------------------------------
    Case(
        id="7541/6.2.1/incremental-indexing-reuse",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§6.2.1 and §2.3.2: a literal with incremental indexing adds its field to the "
                    "dynamic table; a later response on the connection may refer to it by index.",
        server="Response 1 sends content-length and x-h2cs: alpha as literals with incremental "
               "indexing; response 2 on the same connection sends them as indexed fields 63 and 62.",
        scenario=respond_with(INSERT_BLOCK, REUSE_BLOCK),
        request=TWO,
        expect=Succeeds() & has_fields(0, [("x-h2cs", "alpha")]) & has_fields(1, [("x-h2cs", "alpha")])
        & ONE_CONNECTION,
        bad=DYNAMIC_BAD,
    ),
    Case(
        id="7541/6.2.2/literal-without-indexing",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§6.2.2: a literal without indexing is accepted and does not change the dynamic "
                    "table.",
        server="Response 1 inserts x-kept (incremental), then sends x-skipped as a literal without "
               "indexing; response 2 sends index 62, which must still be x-kept.",
        scenario=respond_with(*not_inserted_blocks("without")),
        request=TWO,
        expect=Succeeds() & has_fields(0, [("x-kept", "indexed"), ("x-skipped", "without")])
        & has_fields(1, [("x-kept", "indexed")]) & lacks_field(1, "x-skipped") & ONE_CONNECTION,
        bad={"hpack-index-all": "fields-shown", **DYNAMIC_BAD},
    ),
    Case(
        id="7541/6.2.3/literal-never-indexed",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§6.2.3: a never-indexed literal is accepted and does not change the dynamic "
                    "table.",
        server="Response 1 inserts x-kept (incremental), then sends x-skipped as a never-indexed "
               "literal; response 2 sends index 62, which must still be x-kept.",
        scenario=respond_with(*not_inserted_blocks("never")),
        request=TWO,
        expect=Succeeds() & has_fields(0, [("x-kept", "indexed"), ("x-skipped", "never")])
        & has_fields(1, [("x-kept", "indexed")]) & lacks_field(1, "x-skipped") & ONE_CONNECTION,
        bad={"hpack-index-all": "fields-shown", **DYNAMIC_BAD},
    ),
    Case(
        id="7541/5.2/huffman-and-raw-strings",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§5.2: string literals are accepted both Huffman-coded (with any padding of 0 "
                    "to 7 bits made of the most significant bits of EOS) and raw, empty ones too.",
        server="Sends a field block of Huffman-coded literals (x-pad-N values needing N = 0..7 bits "
               "of padding, an empty value) and raw literals (one with an empty value); then the "
               "body.",
        scenario=respond_with(STRINGS_BLOCK),
        expect=Succeeds() & has_fields(0, HUFFMAN_FIELDS + RAW_FIELDS),
        bad={"no-huffman": "fields-shown"},
    ),
    Case(
        id="7541/4.4/eviction",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§4.3 and §4.4: inserting into a full dynamic table evicts the oldest entries "
                    "until the new one fits; the entries still present keep working.",
        server="Response 1 sets the table to 128 octets and inserts 40-, 40-, 48- (content-length) "
               "and 58-octet entries, evicting the first two; response 2 refers to indexes 63 "
               "(content-length) and 62.",
        scenario=respond_with(EVICT_FIRST, EVICT_REUSE),
        request=TWO,
        expect=Succeeds() & has_fields(1, [("x-ev-d", "d" * 20)]) & ONE_CONNECTION,
        bad=DYNAMIC_BAD,
    ),
    Case(
        id="7541/4.2/size-update-to-zero",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§4.2 and §6.3: a field block may start with dynamic table size updates; one to "
                    "0 empties the table, a second one sets the final size, and fields follow.",
        server="Response 1 inserts two entries; response 2 starts with size updates to 0 and then "
               "4096, then literal fields, x-h2cs: beta with incremental indexing, and index 62 "
               "(that new entry).",
        scenario=respond_with(INSERT_BLOCK, zero_second),
        request=TWO,
        expect=Succeeds() & has_fields(1, [("x-h2cs", "beta")]) & ONE_CONNECTION,
        bad=DYNAMIC_BAD,
    ),
    Case(
        id="7541/4.4/entry-larger-than-table",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§4.4: an entry larger than the dynamic table empties the table and is not "
                    "added; this is not an error, the field is still part of the response, and "
                    "later insertions work as usual.",
        server="Response 1 sets the table to 256 octets, inserts x-first, then a 338-octet x-huge "
               "entry (emptying the table), then x-after; response 2 refers to index 62 (x-after).",
        scenario=respond_with(OVERSIZE_FIRST, OVERSIZE_REUSE),
        request=TWO,
        expect=Succeeds() & has_fields(0, [HUGE, ("x-after", "2")]) & has_fields(1, [("x-after", "2")])
        & ONE_CONNECTION,
        bad={"hpack-reject-oversize-entry": "succeeds", **DYNAMIC_BAD},
    ),
    Case(
        id="7541/4.4/name-of-evicted-entry",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§4.4: a new entry may name (by index) the very entry its insertion evicts; "
                    "the name is read before the eviction, so the field decodes and enters the table.",
        server="Response 1 sets the table to 128 octets, inserts x-ev-a (88 octets), then a literal "
               "with incremental indexing whose name is index 62 and whose 88-octet entry evicts "
               "it; response 2 refers to index 62.",
        scenario=respond_with(NAME_EVICT_FIRST, NAME_EVICT_REUSE),
        request=TWO,
        expect=Succeeds() & has_fields(0, [("x-ev-a", NAMED_A), ("x-ev-a", NAMED_B)])
        & has_fields(1, [("x-ev-a", NAMED_B)]) & ONE_CONNECTION,
        bad={"hpack-evict-before-name": "succeeds", **DYNAMIC_BAD},
    ),
    Case(
        id="7541/2.3.2/duplicate-entries",
        level=MUST,
        covers=("R-7541-3.2-1",),
        requirement="§2.3.2: the dynamic table may hold the same field twice; a decoder MUST NOT "
                    "treat duplicate entries as an error.",
        server="Response 1 inserts x-dup: same twice (incremental indexing); response 2 refers to "
               "both entries (62 and 63).",
        scenario=respond_with(DUPLICATE_FIRST, DUPLICATE_REUSE),
        request=TWO,
        expect=Succeeds() & has_fields(1, [("x-dup", "same")]) & ONE_CONNECTION,
        bad={"hpack-reject-duplicates": "succeeds", **DYNAMIC_BAD},
    ),
    # -- the client's encoder ----------------------------------------------------------------
    Case(
        id="7541/4.2/encoder-table-size-zero",
        level=MUST,
        covers=("R-7541-4.2-2",),
        requirement="§4.2 (and RFC 9113 §4.3.1, §6.5.2): once the client has acknowledged the "
                    "server's SETTINGS_HEADER_TABLE_SIZE=0, the first field block it sends MUST "
                    "start with a dynamic table size update to 0, whether or not its table held "
                    "entries, and no block inserts into or refers to a table larger than 0.",
        server="Sets SETTINGS_HEADER_TABLE_SIZE=0 in its preface; answers two sequential requests "
               "(each with an extra x-client-token field) and decodes them with a limit of 0.",
        scenario=lambda: Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                                           F.HEADER_TABLE_SIZE: 0})]),
        request=Job(tuple(Req(f"/r/{i}", headers=CLIENT_FIELDS) for i in (1, 2))),
        expect=Succeeds() & Custom("the first client field block after the ACK starts with a "
                                   "size update to 0", _size_update_first, name="size-update-first")
        & Custom("no client field block after the ACK uses a dynamic table above 0",
                 _encoder_respects_zero, name="no-stale-table-reference")
        & Report("size_updates_per_block", _size_updates),
        bad={"ignore-header-table-size": "size-update-first"},
    ),
    Case(
        id="7541/7.1.3/sensitive-fields",
        level=MAY,
        covers=("R-7541-7.1.3-1",),
        level_note="R-7541-7.1.3-1 only reports the representation (Y); the MUST is that both "
                   "requests carry the application's credentials as an RFC 7541 decoder reads "
                   "them, which an encoder whose table drifts from the decoder's breaks.",
        requirement="RFC 7541 §7.1.3: a client may send credentials and short cookies as "
                    "never-indexed literals, so that no one can probe for them through the "
                    "compression state; how each request encoded them is reported.",
        server="Answers two sequential requests, each carrying an Authorization and a short Cookie, "
               "and decodes their field blocks in order.",
        scenario=lambda: Script(),
        request=Job(tuple(Req(f"/r/{i}", headers=SENSITIVE) for i in (1, 2))),
        expect=Succeeds(level=MUST)
        & Custom("both requests carry the application's authorization and cookie",
                 _sensitive_as_given, level=MUST, name="fields-as-given")
        & Report("sensitive_encoding", _sensitive_encoding),
        bad={"hpack-never-indexed-inserted": "fields-as-given"},
    ),
    Case(
        id="7541/4.2/encoder-table-size-256",
        level=MUST,
        covers=("R-7541-4.2-2",),
        requirement="§4.2 (and RFC 9113 §4.3.1): after the client acknowledges a lowered, non-zero "
                    f"SETTINGS_HEADER_TABLE_SIZE ({SMALL_TABLE}), its next field block MUST start with a "
                    f"size update to at most {SMALL_TABLE}, and its table MUST never exceed that size: "
                    "a decoder held to it decodes every later block exactly.",
        server=f"Sets SETTINGS_HEADER_TABLE_SIZE={SMALL_TABLE} in its preface and answers 20 sequential "
               "requests, each with its own x-client-token field worth indexing.",
        scenario=lambda: Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                                           F.HEADER_TABLE_SIZE: SMALL_TABLE})]),
        request=Job(tuple(Req(f"/r/{i}", headers=(("x-client-token", f"token-{i:02d}-" + "v" * 40),))
                          for i in range(1, 21))),
        expect=Succeeds() & Custom(f"every client field block decodes exactly with a {SMALL_TABLE}-octet "
                                   "table, the first after the ACK opening with a size update",
                                   _encoder_within(SMALL_TABLE), name="table-within-limit")
        & Report("size_updates_per_block", _size_updates),
        bad={"ignore-header-table-size": "table-within-limit"},
    ),
]
