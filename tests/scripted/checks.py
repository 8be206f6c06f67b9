"""Field and setting rules of RFC 9113, as pure functions the connection applies.

Each `*_problem` function returns None when all is well, else a short text that
says what is wrong and cites the section.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

# §8.2.2: connection-specific fields never appear in HTTP/2.
CONNECTION_SPECIFIC = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
REQUEST_PSEUDO = {b":method", b":scheme", b":authority", b":path", b":protocol"}
# RFC 9110 §5.1 token characters, lowercase only (§8.2.1 forbids uppercase names).
_NAME = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9a-z]+$")
_STATUS = re.compile(rb"^[1-5][0-9][0-9]$")
_DIGITS = re.compile(rb"^[0-9]+$")

Fields = list[tuple[bytes, bytes]]


# -- what we send ------------------------------------------------------------------
def request_fields(method: str, url: str, headers: list, body: bytes,
                   strip_connection_headers: bool = True, lowercase: bool = True,
                   target: str | None = None) -> list[tuple[str, str]]:
    """The field list of a request (§8.3.1): one each of :method :scheme :authority :path;
    `target`, when given, is the :path (the request-target, '*' for OPTIONS *)."""
    u = urlsplit(url)
    authority = u.netloc.rpartition("@")[2]          # §8.3.1: no userinfo in :authority
    path = target or (u.path or "/") + (f"?{u.query}" if u.query else "")  # §8.3.1: :path never empty
    regular = []
    for given, value in headers:
        name = given.lower()                          # §8.2: names are lowercase on the wire
        if name == "host":                            # §8.3.1: :authority, not a second Host
            authority = value
            continue
        if strip_connection_headers and (
                name in CONNECTION_SPECIFIC
                or (name == "te" and value.strip().lower() != "trailers")):  # §8.2.2
            continue
        regular.append((name if lowercase else given, value))
    if body and not any(n.lower() == "content-length" for n, _ in regular):
        regular.append(("content-length", str(len(body))))
    return [(":method", method), (":scheme", u.scheme), (":authority", authority),
            (":path", path)] + regular


def field_list_size(fields: list) -> int:
    """§6.5.2: a field list's size, each field's name and value octets plus 32."""
    return sum(len(n.encode()) + len(v.encode()) + 32 for n, v in fields)


def true_content_length(headers: list, body: bytes) -> list:
    """The application's headers with any content-length that disagrees with the body (or
    repeats) replaced by the body's real length, in the place of the first (§8.1.1)."""
    given = [i for i, (name, _) in enumerate(headers) if name.lower() == "content-length"]
    if not given or [headers[i][1].strip() for i in given] == [str(len(body))]:
        return headers
    fixed = [h for i, h in enumerate(headers) if i not in given]
    return fixed[:given[0]] + [("content-length", str(len(body)))] + fixed[given[0]:]


def expects_100(headers: list) -> bool:
    """The request carries Expect: 100-continue (RFC 9110 §10.1.1)."""
    return any(n.lower() == "expect" and v.strip().lower() == "100-continue" for n, v in headers)


def without_expect(headers: list) -> list:
    return [(n, v) for n, v in headers if n.lower() != "expect"]


def mark_sensitive(fields: list) -> list[tuple[str, str, bool]]:
    """(name, value, never-index?) for the encoder: credentials and short cookies are never
    indexed, as RFC 7541 §7.1.3 suggests for values an attacker could guess."""
    return [(n, v, n in ("authorization", "proxy-authorization") or (n == "cookie" and len(v) < 20))
            for n, v in fields]


# Deliberate misbehaviours (negative controls): Behaviour.edit_request applies one of these.
def duplicate_path(fields: list) -> list:
    """A second :path right after the first (§8.3.1 wants exactly one)."""
    i = next(i for i, (name, _) in enumerate(fields) if name == ":path")
    return fields[:i + 1] + [fields[i]] + fields[i + 1:]


def trimmed(fields: list, limit: int) -> list:
    """The request without its largest regular fields, until it fits a MAX_HEADER_LIST_SIZE
    (§6.5.2 counts name, value and 32 octets per field): a request the application never asked for."""
    fields = list(fields)
    while sum(len(n) + len(v) + 32 for n, v in fields) > limit:
        regular = [f for f in fields if not f[0].startswith(":")]
        if not regular:
            break
        fields.remove(max(regular, key=lambda f: len(f[0]) + len(f[1])))
    return fields


def authority_with_userinfo(fields: list) -> list:
    """The URL's userinfo left in :authority (§8.3.1 forbids it); the case's URL has 'user:pw'."""
    return [(n, f"user:pw@{v}" if n == ":authority" else v) for n, v in fields]


def unbracketed_ipv6(fields: list) -> list:
    """An IPv6 literal in :authority without its brackets (RFC 3986 §3.2.2 needs them)."""
    return [(n, v.replace("[", "").replace("]", "") if n == ":authority" else v) for n, v in fields]


def empty_root_path(fields: list) -> list:
    """An empty :path for the root or OPTIONS * (§8.3.1: '/' or '*', never empty)."""
    return [(n, "" if n == ":path" and v in ("/", "*") else v) for n, v in fields]


def without_scheme_and_path(fields: list) -> list:
    """An extended CONNECT shaped like a plain one: no :scheme, no :path (RFC 8441 §4 needs both)."""
    return [(n, v) for n, v in fields if n not in (":scheme", ":path")]


def host_not_authority(fields: list) -> list:
    """A Host field after the pseudo-headers instead of :authority (§8.3.1)."""
    pseudo = [f for f in fields if f[0].startswith(":") and f[0] != ":authority"]
    hosts = [("host", v) for n, v in fields if n == ":authority"]
    return pseudo + hosts + [f for f in fields if not f[0].startswith(":")]


# -- what we receive ---------------------------------------------------------------
def _field_problem(name: bytes, value: bytes) -> str | None:
    if not name:
        return "empty field name (§8.2.1)"
    if not _NAME.match(name):
        what = "uppercase" if name.lower() != name else "forbidden characters in"
        return f"{what} field name {name!r} (§8.2.1)"
    if any(c in value for c in b"\0\r\n"):
        return f"NUL, CR or LF in the value of {name!r} (§8.2.1)"
    if value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
        return f"leading or trailing whitespace in the value of {name!r} (§8.2.1)"
    if any((c < 0x20 and c != 0x09) or c == 0x7f for c in value):   # RFC 9110 §5.5 field-value
        return f"a control character in the value of {name!r} (§8.2.1 SHOULD, RFC 9110 §5.5)"
    if name.decode() in CONNECTION_SPECIFIC or (name == b"te" and value != b"trailers"):
        return f"connection-specific field {name!r} (§8.2.2)"
    return None


def response_problem(fields: Fields, fold_lengths: bool = True) -> str | None:
    """A response (final or 1xx) field section; None if it is well formed (§8.2, §8.3).
    `fold_lengths`: a content-length repeating one value counts once (RFC 9110 §8.6 MAY)."""
    statuses, regular_seen = [], False
    for name, value in fields:
        if name.startswith(b":"):
            if regular_seen:
                return f"pseudo-header {name!r} after a regular field (§8.3)"
            if name in REQUEST_PSEUDO:
                return f"request pseudo-header {name!r} in a response (§8.3)"
            if name != b":status":
                return f"unknown pseudo-header {name!r} (§8.3)"
            statuses.append(value)
            continue
        regular_seen = True
        problem = _field_problem(name, value)
        if problem:
            return problem
    if len(statuses) != 1:
        return ":status missing (§8.3.2)" if not statuses else ":status duplicated (§8.3)"
    if not _STATUS.match(statuses[0]):
        return f":status {statuses[0]!r} is not a three-digit code (§8.3.2)"
    lengths = _lengths(fields) if fold_lengths else {v for n, v in fields if n == b"content-length"}
    count = len(lengths) if fold_lengths else sum(1 for n, _ in fields if n == b"content-length")
    if lengths and (count > 1 or not _DIGITS.match(next(iter(lengths)))):
        return f"invalid content-length {sorted(lengths)} (§8.1.1)"
    return None


def _lengths(fields: Fields) -> set[bytes]:
    """The distinct content-length values, repeats and "n, n" lists folded (RFC 9110 §8.6 MAY)."""
    return {part.strip() for n, v in fields if n == b"content-length" for part in v.split(b",")}


def trailers_problem(fields: Fields) -> str | None:
    """A trailer section (§8.1): no pseudo-headers, valid fields."""
    for name, value in fields:
        if name.startswith(b":"):
            return f"pseudo-header {name!r} in trailers (§8.1)"
        problem = _field_problem(name, value)
        if problem:
            return problem
    return None


def status_of(fields: Fields) -> int | None:
    for name, value in fields:
        if name == b":status":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def content_length(fields: Fields) -> int | None:
    lengths = _lengths(fields)
    if len(lengths) == 1 and _DIGITS.match(next(iter(lengths))):
        return int(next(iter(lengths)))
    return None


def plain_fields(fields: Fields) -> list[list[str]]:
    """Regular fields as the application sees them: names lowercased, text."""
    return [[n.decode("latin-1").lower(), v.decode("latin-1")] for n, v in fields
            if not n.startswith(b":")]


# -- settings (§6.5.2) ---------------------------------------------------------------
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 1, 2, 3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 4, 5, 6
ENABLE_CONNECT_PROTOCOL, NO_RFC7540_PRIORITIES = 8, 9   # RFC 8441 §3, RFC 9218 §2.1
MAX_WINDOW = 2**31 - 1
KNOWN_SETTINGS = range(HEADER_TABLE_SIZE, MAX_HEADER_LIST_SIZE + 1)
LARGEST = {INITIAL_WINDOW_SIZE: MAX_WINDOW, MAX_FRAME_SIZE: 2**24 - 1}   # the largest values allowed


def setting_problem(ident: int, value: int, rfc9218: bool = False) -> tuple[str, str] | None:
    """(error code, text) for a setting value a server must not send; `rfc9218`: the client
    implements RFC 9218, so SETTINGS_NO_RFC7540_PRIORITIES is not an unknown setting to it."""
    if rfc9218 and ident == NO_RFC7540_PRIORITIES and value > 1:
        return "PROTOCOL_ERROR", f"SETTINGS_NO_RFC7540_PRIORITIES={value}, not 0 or 1 (RFC 9218 §2.1)"
    if ident == ENABLE_PUSH and value != 0:
        return "PROTOCOL_ERROR", f"server sent SETTINGS_ENABLE_PUSH={value} (§6.5.2: only 0 is allowed from a server)"
    if ident == INITIAL_WINDOW_SIZE and value > MAX_WINDOW:
        return "FLOW_CONTROL_ERROR", f"SETTINGS_INITIAL_WINDOW_SIZE={value} above 2^31-1 (§6.5.2)"
    if ident == MAX_FRAME_SIZE and not 16384 <= value <= 2**24 - 1:
        return "PROTOCOL_ERROR", f"SETTINGS_MAX_FRAME_SIZE={value} outside [2^14, 2^24-1] (§6.5.2)"
    return None
