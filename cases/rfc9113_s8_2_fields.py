"""RFC 9113 §8.2 HTTP fields: the client's own field names (§8.2), §8.2.1 field validity,
§8.2.2 connection-specific fields."""
from conformance.case import MUST, NAIVE, SHOULD, Case, Job, Req
from conformance.verdicts import AnyOf, Custom, Exercised, Fails, NotSent, Report, StreamError, Succeeds
from servers.scenario import BODY, Script, reply


def respond(*extra, fields=None, trailers=None):
    """A normal 200 whose field block carries `extra` (or is exactly `fields`)."""
    return lambda: Script(respond=reply(headers=list(extra), fields=fields, trailers=trailers))


def malformed(cid, requirement, server, scenario, *, level=MUST, regression=None, field=None,
              covers=("R-8.2.1-1",)):
    """§8.1.1: a malformed response is a stream error of type PROTOCOL_ERROR.

    With `field`, also report whether that field reached the application (a lenient
    client that drops it is safer than one that passes CR/LF through)."""
    expect = StreamError("PROTOCOL_ERROR")
    if field:
        expect = expect & Report("bad_field_reached_application", lambda ev: _value(ev, field))
    return Case(id=cid, level=level, requirement=requirement, server=server, scenario=scenario,
                expect=expect, regression=regression, bad=NAIVE, covers=covers)


def _value(ev, name):
    """The value the application saw for `name` (adapters may report raw octets as latin-1)."""
    names = {name.lower(), name.lower().encode().decode("latin-1")}
    return next((v for k, v in ev.outcome.headers if k.lower() in names), None)


OBS_TEXT = "caf\u00e9 \u00fcber"   # UTF-8 on the wire: octets 0xc3 0xa9, 0xc3 0xbc (obs-text)


def _passed_unchanged(ev):
    """RFC 9110 §5.5: the application gets the value's octets as sent (adapters hand raw octets
    over as latin-1 text; a UTF-8 decoding of them is the same octets)."""
    sent = OBS_TEXT.encode()
    got = _value(ev, "x-note")
    if got is None:
        return False, f"no x-note field reached the application ({ev.outcome.summary()})"
    same = any(_encodes_to(got, codec, sent) for codec in ("latin-1", "utf-8"))
    return same, f"x-note reached the application as {got!r}"


def _encodes_to(text, codec, octets):
    try:
        return text.encode(codec) == octets
    except UnicodeEncodeError:
        return False


# §8.2.2: what the client must never put on the wire, whatever the application asks.
def request_with(name, value, *, method="GET", body=None):
    return Job((Req(method=method, body=body, headers=((name, value),)),))


def sent_field(name, allowed=lambda v: False):
    """The client's request HEADERS carry field `name` with a value not `allowed`."""
    def where(f):
        return any(k.lower() == name and not allowed(v) for k, v in f.headers or [])
    return where


def never_sends(name, what, allowed=lambda v: False):
    return AnyOf(
        Succeeds() & NotSent("HEADERS", what, sent_field(name, allowed)),
        Fails() & NotSent("HEADERS", "any request (it refused the request locally)"),
        why="§8.2.2 only forbids putting the field on the wire: dropping it (or refusing "
            "the request before sending it) both conform")


# §8.2: the application's field names in mixed case, as an application might write them.
APP_FIELDS = (("X-Client-Token", "abc123"), ("Content-Type", "text/plain"))


def _names(ev) -> list[str]:
    return [k for f in ev.observations.frames("HEADERS") for k, _ in f.headers or []]


def _app_fields_sent(ev):
    sent = {k.lower() for k in _names(ev)}
    missing = [n for n, _ in APP_FIELDS if n.lower() not in sent]
    return not missing, (f"the client dropped {missing}" if missing else
                         "the application's fields went out")


def _lowercase(ev):
    upper = [k for k in _names(ev) if k != k.lower()]
    return not upper, f"field names with uppercase: {upper}" if upper else "every field name is lowercase"


# The regression references come as one group in ../shared/regressions.md (malformed
# response fields); wai#707 is the Connection: keep-alive report, the others are spread here.
CONNECTION_FIELDS = [
    ("connection", "keep-alive", "wai#707"),
    ("keep-alive", "timeout=5", "curl#16290"),
    ("proxy-connection", "keep-alive", None),
    ("transfer-encoding", "chunked", "curl#14620"),
    ("upgrade", "h2c", "curl#12172"),
]

CASES = [
    # -- §8.2: field names go out in lowercase --------------------------------------------
    Case(
        id="9113/8.2/request-field-names-lowercase",
        level=MUST,
        covers=("R-8.2-1",),
        requirement="§8.2: field names MUST be converted to lowercase when constructing an HTTP/2 "
                    "message; the application's X-Client-Token and Content-Type go out as "
                    "x-client-token and content-type.",
        server="Answers a POST whose application headers are X-Client-Token and Content-Type, and "
               "records the field names of the request HEADERS.",
        scenario=Script,
        request=Job((Req("/upload", method="POST", body=b"a small form\n", headers=APP_FIELDS),)),
        expect=Exercised("the client sent the application's fields", _app_fields_sent)
        & Custom("every request field name is lowercase", _lowercase, name="names-lowercase"),
        bad={"keep-name-case": "names-lowercase"},
    ),
    # -- §8.2.1: field names are lowercase ("header rewriting" by a proxy) ----------
    malformed("9113/8.2.1/uppercase-field-name",
              "§8.2.1: a field name containing uppercase characters makes the response "
              "malformed: a stream error of type PROTOCOL_ERROR.",
              "Sends a normal 200 whose field block has X-Custom: 1.",
              respond(("X-Custom", "1"))),
    malformed("9113/8.2.1/uppercase-content-type",
              "§8.2.1: a well-known field in mixed case (Content-Type) is still an uppercase "
              "field name: the response is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with Content-Type (mixed case) instead of content-type.",
              respond(fields=[(":status", "200"), ("Content-Type", "text/plain"),
                              ("content-length", str(len(BODY)))])),
    malformed("9113/8.2.1/uppercase-trailer-name",
              "§8.2.1: an uppercase field name in trailers makes the response malformed "
              "(stream error PROTOCOL_ERROR), even after the whole body arrived.",
              "Sends a normal 200 with body, then trailers X-Checksum: abc.",
              respond(trailers=[("X-Checksum", "abc")])),
    # -- §8.2.1: forbidden characters ----------------------------------------------
    malformed("9113/8.2.1/name-with-space",
              "§8.2.1: a field name MUST NOT contain octets 0x00-0x20; a response with one "
              "is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with a field named 'x custom'.",
              respond(("x custom", "1")), field="x custom"),
    malformed("9113/8.2.1/name-with-colon",
              "§8.2.1: a regular field name MUST NOT contain a colon; a response with one "
              "is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with a field named 'x:custom'.",
              respond(("x:custom", "1")), field="x:custom"),
    malformed("9113/8.2.1/name-non-ascii",
              "§8.2.1: a field name MUST NOT contain octets 0x7f-0xff; a response with one "
              "is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with a field named 'x-caf\\xc3\\xa9' (UTF-8 octets above 0x7f).",
              respond(("x-caf\u00e9", "1")), field="x-caf\u00e9"),
    malformed("9113/8.2.1/name-not-a-token",
              "§8.2.1: implementations SHOULD validate field names against the HTTP token "
              "grammar and treat other characters (here '(') as malformed.",
              "Sends a 200 with a field named 'x(custom)'.",
              respond(("x(custom)", "1")), level=SHOULD, field="x(custom)", covers=("R-8.2.1-2",)),
    malformed("9113/8.2.1/name-empty",
              "§8.2.1: a field name is a token of at least one character (RFC 9110 §5.1); "
              "implementations SHOULD treat a response with an empty field name as malformed.",
              "Sends a 200 with a field whose name is empty (a literal with a zero-length name).",
              respond(("", "empty-name")), level=SHOULD, covers=("R-8.2.1-2",)),
    malformed("9113/8.2.1/value-with-cr",
              "§8.2.1: a field value MUST NOT contain CR; a response with one is malformed "
              "(stream error PROTOCOL_ERROR).",
              "Sends a 200 with x-custom: 'a\\rb'.",
              respond(("x-custom", "a\rb")), field="x-custom"),
    malformed("9113/8.2.1/value-with-lf",
              "§8.2.1: a field value MUST NOT contain LF; a response with one is malformed "
              "(stream error PROTOCOL_ERROR).",
              "Sends a 200 with x-custom: 'a\\nset-cookie: injected=1'.",
              respond(("x-custom", "a\nset-cookie: injected=1")), field="x-custom"),
    malformed("9113/8.2.1/value-with-nul",
              "§8.2.1: a field value MUST NOT contain NUL; a response with one is malformed "
              "(stream error PROTOCOL_ERROR).",
              "Sends a 200 with x-custom: 'a\\x00b'.",
              respond(("x-custom", "a\0b")), field="x-custom"),
    Case(
        id="9113/8.2.1/value-obs-text",
        level=SHOULD,
        requirement="RFC 9110 §5.5 (kept by §8.2.1): octets 0x80-0xff in a field value are obs-text, "
                    "not an error; a client SHOULD accept the response and pass the value on unchanged.",
        server="Sends a normal 200 whose field block has x-note with UTF-8 octets above 0x7f.",
        scenario=respond(("x-note", OBS_TEXT)),
        expect=Succeeds() & Custom("x-note reaches the application with the octets sent",
                                   _passed_unchanged, name="value-unchanged"),
        bad={"reject-obs-text": "succeeds"},
        covers=("R-8.2.1-3",),
    ),
    *[malformed(f"9113/8.2.1/value-control-{name}",
                "§8.2.1 SHOULD, with RFC 9110 §5.5: a field value never holds a control character "
                f"other than tab; a response with {name} in a value is malformed (stream error "
                "PROTOCOL_ERROR).",
                f"Sends a 200 whose x-custom value is 'a', the octet {name}, then 'b'.",
                respond(("x-custom", f"a{char}b")), level=SHOULD, field="x-custom", covers=("R-8.2.1-2",))
      for name, char in (("0x01", "\x01"), ("0x7f", "\x7f"))],
    # §8.2.1 puts leading/trailing whitespace on its minimal list (a MUST), though some clients
    # accept it on purpose (nghttp2#1786, curl PR 9448): those fail here, and the report says so.
    malformed("9113/8.2.1/value-leading-whitespace",
              "§8.2.1: a field value MUST NOT start with whitespace; a response with leading "
              "whitespace in a value is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with x-custom: ' padded'.",
              respond(("x-custom", " padded")), field="x-custom", regression="nghttp2#1786"),
    malformed("9113/8.2.1/value-trailing-whitespace",
              "§8.2.1: a field value MUST NOT end with whitespace; a response with trailing "
              "whitespace in a value is malformed (stream error PROTOCOL_ERROR).",
              "Sends a 200 with x-custom: 'padded\\t'.",
              respond(("x-custom", "padded\t")), field="x-custom", regression="nghttp2#1786"),
    # -- §8.2.2: connection-specific fields in a response --------------------------------
    *[malformed(cid, f"§8.2.2: a response carrying the connection-specific field {name} is "
                "malformed: a stream error of type PROTOCOL_ERROR, not a success.",
                f"Sends a normal 200 whose field block has {name}: {value}.",
                respond((name, value)), regression=ref, covers=("R-8.2.2-1",))
      for cid, (name, value, ref) in zip(("9113/8.2.2/response-connection",
                                          "9113/8.2.2/response-keep-alive",
                                          "9113/8.2.2/response-proxy-connection",
                                          "9113/8.2.2/response-transfer-encoding",
                                          "9113/8.2.2/response-upgrade"), CONNECTION_FIELDS, strict=True)],
    # -- §8.2.2: the client's own request -------------------------------------------------
    *[Case(
        id=cid,
        level=MUST,
        requirement=f"§8.2.2: a client MUST NOT send the connection-specific field {name} over "
                    "HTTP/2, even when the application supplies it.",
        server="Answers every request with a normal 200.",
        scenario=Script,
        request=request_with(name.title(), value, **kw),
        expect=never_sends(name, f"a {name} field"),
        bad={"keep-connection-headers": "not-sent-headers"},
        regression=ref,
        covers=("R-8.2.2-2",),
    ) for cid, name, value, ref, kw in (
        ("9113/8.2.2/request-connection", "connection", "keep-alive", "curl#401", {}),
        ("9113/8.2.2/request-keep-alive", "keep-alive", "timeout=5", None, {}),
        ("9113/8.2.2/request-transfer-encoding", "transfer-encoding", "chunked", None,
         {"method": "POST", "body": b"chunk me\n"}),
        ("9113/8.2.2/request-upgrade", "upgrade", "websocket", None, {}),
    )],
    Case(
        id="9113/8.2.2/request-te-gzip",
        level=MUST,
        requirement="§8.2.2: the only TE value a client may send over HTTP/2 is 'trailers'; an "
                    "application's TE: gzip MUST be dropped or turned into 'trailers'.",
        server="Answers every request with a normal 200.",
        scenario=Script,
        request=request_with("TE", "gzip"),
        expect=never_sends("te", "a te field other than 'trailers'", lambda v: v == "trailers")
        & Report("te_sent", lambda ev: [v for f in ev.observations.frames("HEADERS")
                                        for k, v in f.headers or [] if k.lower() == "te"]),
        bad={"keep-connection-headers": "not-sent-headers"},
        regression="curl#9129",
        covers=("R-8.2.2-2",),
    ),
]
