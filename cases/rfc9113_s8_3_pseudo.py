"""RFC 9113 §8.3 pseudo-header fields: in responses (§8.3.2) and in the client's requests (§8.3.1)."""
import re

from conformance.case import MUST, NAIVE, SHOULD, Case, Job, Req
from conformance.verdicts import AnyOf, Custom, Report, StreamError, Succeeds
from servers.scenario import BODY, Script, reply

CT, CL = ("content-type", "text/plain"), ("content-length", str(len(BODY)))
PATH = "/a/b?c=d&e"


def respond(*fields, trailers=None):
    """A 200 body after a field block sent exactly as given."""
    return lambda: Script(respond=reply(fields=list(fields), trailers=trailers))


def malformed(name, requirement, server, scenario, section="8.3"):
    return Case(id=f"9113/{section}/{name}", level=MUST, requirement=requirement, server=server,
                scenario=scenario, expect=StreamError("PROTOCOL_ERROR"), bad=NAIVE,
                covers=("R-8.3-1",))


def _handled_as_5xx(ev):
    o = ev.outcome
    return o.ok and o.status is not None and 500 <= o.status <= 599, f"transfer {o.summary()}"


def invalid_status(name, requirement, server, scenario):
    """R-8.3.2-1: an invalid :status is never a success; SE or handling it as a 5xx both pass."""
    return Case(id=f"9113/8.3.2/{name}", level=SHOULD, requirement=requirement, server=server,
                scenario=scenario, covers=("R-8.3.2-1",), bad={"naive": "handled-as-5xx"},
                expect=AnyOf(StreamError("PROTOCOL_ERROR"),
                             Custom("the application gets a 5xx status", _handled_as_5xx, name="handled-as-5xx"),
                             why="§8.3 makes the response malformed; RFC 9110 §15 says to "
                                 "handle an invalid status code as a 5xx"))


# -- §8.3.1: the client's own request, decoded from its HEADERS -----------------------
def _request_fields(ev):
    heads = ev.observations.frames("HEADERS")
    return heads[0].headers if heads and heads[0].headers is not None else None


def _pseudo_problems(ev):
    fields = _request_fields(ev)
    if fields is None:
        return False, "no decodable request HEADERS reached the server"
    names = [k for k, _ in fields]
    problems = [f"{n} appears {names.count(n)} times" for n in (":method", ":scheme", ":path")
                if names.count(n) != 1]
    values = dict(fields)
    if names.count(":path") == 1 and values[":path"] != PATH:
        problems.append(f":path is {values[':path']!r}, not {PATH!r}")
    if values.get(":method") != "GET" or values.get(":scheme") != "https":
        problems.append(f":method/:scheme are {values.get(':method')!r}/{values.get(':scheme')!r}")
    unknown = [n for n in names if n.startswith(":") and n not in
               (":method", ":scheme", ":path", ":authority")]
    first_regular = next((i for i, n in enumerate(names) if not n.startswith(":")), len(names))
    late = [n for n in names[first_regular:] if n.startswith(":")]
    problems += [f"unknown pseudo-header {n}" for n in unknown]
    problems += [f"{n} after a regular field" for n in late]
    return not problems, "; ".join(problems) or "pseudo-headers: " + ", ".join(
        f"{k}={v}" for k, v in fields if k.startswith(":"))


def _authority(pattern):
    """Exactly one :authority matching `pattern`, and no host field that differs from it."""
    def check(ev):
        fields = _request_fields(ev)
        if fields is None:
            return False, "no decodable request HEADERS reached the server"
        auth = [v for k, v in fields if k == ":authority"]
        hosts = [v for k, v in fields if k.lower() == "host"]
        if len(auth) != 1 or not re.fullmatch(pattern, auth[0]):
            return False, f":authority values {auth}"
        if any(h != auth[0] for h in hosts):
            return False, f"host field {hosts} differs from :authority {auth[0]!r}"
        return True, f":authority={auth[0]}" + (f", host={hosts}" if hosts else ", no host field")
    return check


# The mock server listens on 127.0.0.1 and a random port; the observations do not record
# the port, so the check accepts any port number but requires host and port to be present.
ORIGIN = r"127\.0\.0\.1:[0-9]+"


def _pseudo(name, want):
    def check(ev):
        fields = _request_fields(ev)
        if fields is None:
            return False, "no decodable request HEADERS reached the server"
        got = [v for k, v in fields if k == name]
        return got == [want], f"{name} values {got}"
    return check


def _both(ev, *pairs):
    fields = _request_fields(ev)
    if fields is None:
        return False, "no decodable request HEADERS reached the server"
    got = [(k, v) for k, v in fields if k in {p[0] for p in pairs}]
    return sorted(got) == sorted(pairs), f"sent {got}"


def _sent_authorization(ev):
    return any(k.lower() == "authorization" for k, _ in _request_fields(ev) or [])


def _host_sent(ev):
    return [v for k, v in _request_fields(ev) or [] if k.lower() == "host"]


V6_ORIGIN = r"\[::1\]:[0-9]+"
DEFAULT_PORT_AUTHORITY = r"127\.0\.0\.1(:443)?"

CASES = [
    # -- §8.3.2 and §8.1.1: malformed responses -------------------------------------
    malformed("status-missing",
              "§8.3.2: a response MUST carry :status; a field block without it is malformed "
              "(stream error PROTOCOL_ERROR).",
              "Sends a response field block with content-type and content-length but no :status, then the body.",
              respond(CT, CL), "8.3.2"),
    malformed("status-duplicated",
              "§8.3: each pseudo-header appears at most once; a response with two :status fields "
              "is malformed (stream error PROTOCOL_ERROR), even when both say 200.",
              "Sends :status 200 twice in one field block, then the body.",
              respond((":status", "200"), (":status", "200"), CT, CL)),
    invalid_status("status-not-three-digits",
                   "RFC 9110 §15: a status code is three digits, and a client SHOULD handle an "
                   "invalid one such as '2000' as a 5xx. RFC 9113 makes invalid pseudo-header "
                   "fields malformed but gives :status no syntax of its own (§8.3.2, §10.3), so "
                   "the stream error PROTOCOL_ERROR also passes; never a success.",
                   "Sends :status 2000, then the body.",
                   respond((":status", "2000"), CT, CL)),
    invalid_status("status-not-numeric",
                   "RFC 9110 §15: a status code is three digits, and a client SHOULD handle an "
                   "invalid one such as '2OO' (letters O) as a 5xx; the stream error "
                   "PROTOCOL_ERROR also passes (RFC 9113 §8.3.2 gives :status no syntax of its "
                   "own); never a success.",
                   "Sends :status 2OO, then the body.",
                   respond((":status", "2OO"), CT, CL)),
    malformed("request-pseudo-method",
              "§8.3: request pseudo-headers MUST NOT appear in a response; :method in one makes "
              "it malformed (stream error PROTOCOL_ERROR).",
              "Sends :status 200 and :method GET in the response field block, then the body.",
              respond((":status", "200"), (":method", "GET"), CT, CL)),
    malformed("request-pseudo-path",
              "§8.3: request pseudo-headers MUST NOT appear in a response; :path in one makes "
              "it malformed (stream error PROTOCOL_ERROR).",
              "Sends :status 200 and :path / in the response field block, then the body.",
              respond((":status", "200"), (":path", "/"), CT, CL)),
    malformed("unknown-pseudo",
              "§8.3: endpoints MUST NOT generate pseudo-headers other than those defined; a "
              "response with :foo is malformed (stream error PROTOCOL_ERROR).",
              "Sends :status 200 and :foo bar in the response field block, then the body.",
              respond((":status", "200"), (":foo", "bar"), CT, CL)),
    malformed("pseudo-after-regular",
              "§8.3: all pseudo-headers MUST come before regular fields; a response with "
              ":status after content-type is malformed (stream error PROTOCOL_ERROR).",
              "Sends content-type first and :status 200 after it, then the body.",
              respond(CT, (":status", "200"), CL)),
    malformed("pseudo-in-trailers",
              "§8.3: pseudo-headers MUST NOT appear in trailers; a trailer block with :status "
              "makes the response malformed (stream error PROTOCOL_ERROR).",
              "Sends a complete 200 with body, then trailers carrying :status 200 and x-checksum.",
              respond((":status", "200"), CT, CL, trailers=[(":status", "200"), ("x-checksum", "1")])),
    # -- §8.3.1: what the client sends ------------------------------------------------
    Case(
        id="9113/8.3.1/request-pseudo-headers",
        level=MUST,
        requirement="§8.3.1: a request carries exactly one :method, :scheme and :path (non-empty, "
                    "here the path and query as given), no other pseudo-header, and every "
                    "pseudo-header before the regular fields.",
        server="Answers every request with a normal 200 and records the decoded request fields.",
        scenario=Script,
        request=Job((Req(PATH),)),
        expect=Succeeds() & Custom("exactly one :method GET, :scheme https and :path "
                                   f"{PATH!r}, all before regular fields", _pseudo_problems, name="request-pseudo-fields"),
        bad={"duplicate-path": "request-pseudo-fields"},
        covers=("R-8.3.1-1",),
    ),
    Case(
        id="9113/8.3.1/request-authority",
        level=MUST,
        requirement="§8.3.1: a client generating requests directly MUST convey the target's "
                    "authority in :authority, and MUST NOT send a Host field that differs from it "
                    "(whether it sends an equal Host is reported).",
        server="Answers every request with a normal 200 and records the decoded request fields.",
        scenario=Script,
        expect=Succeeds() & Custom("exactly one :authority 127.0.0.1:<port>; any host field "
                                   "equal to it", _authority(ORIGIN), name="authority-field")
        & Report("host_field_sent", _host_sent),
        bad={"host-not-authority": "authority-field"},
        covers=("R-8.3.1-3",),
    ),
    Case(
        id="9113/8.3.1/request-app-host-header",
        level=MUST,
        requirement="§8.3.1: when the application supplies its own Host header, the request still "
                    "carries exactly one :authority and no Host field that differs from it.",
        server="Answers every request with a normal 200 and records the decoded request fields.",
        scenario=Script,
        request=Job((Req(headers=(("Host", "example.test"),)),)),
        expect=Succeeds() & Custom("exactly one :authority (example.test or 127.0.0.1:<port>), "
                                   "and no host field that differs from it",
                                   _authority(f"example\\.test|{ORIGIN}"), name="authority-field")
        & Report("authority_sent", lambda ev: dict(_request_fields(ev) or []).get(":authority"))
        & Report("host_field_sent", _host_sent),
        bad={"host-not-authority": "authority-field"},
        covers=("R-8.3.1-3",),
    ),
    Case(
        id="9113/8.3.1/path-for-url-without-path",
        level=MUST,
        requirement="§8.3.1: :path MUST NOT be empty; for a URL with no path at all "
                    "(https://host:port) the client sends '/'.",
        server="Answers every request with a normal 200 and records the decoded request fields.",
        scenario=Script,
        request=Job((Req(""),)),
        expect=Succeeds() & Custom(":path is '/'", _pseudo(":path", "/"), name="path-not-empty"),
        bad={"empty-path": "path-not-empty"},
        covers=("R-8.3.1-2",),
    ),
    Case(
        id="9113/8.3.1/path-asterisk-for-options",
        level=MUST,
        requirement="§8.3.1: an OPTIONS request for the server as a whole (OPTIONS *, asterisk-form) "
                    "carries :path '*', never an empty :path.",
        server="Answers every request, OPTIONS * included, with a normal 200.",
        scenario=Script,
        request=Job((Req(method="OPTIONS", target="*"),)),
        expect=Succeeds() & Custom(":method is OPTIONS and :path is '*'",
                                   lambda ev: _both(ev, (":method", "OPTIONS"), (":path", "*")),
                                   name="path-not-empty"),
        bad={"empty-path": "path-not-empty"},
        covers=("R-8.3.1-2",),
    ),
    Case(
        id="9113/8.3.1/authority-without-userinfo",
        level=MUST,
        requirement="§8.3.1: :authority MUST NOT include the deprecated userinfo of the URL "
                    "(https://user:pw@host:port/): it carries host:port only (whether the "
                    "credentials go out as an Authorization field is reported).",
        server="Answers every request with a normal 200 and records the decoded request fields.",
        scenario=Script,
        request=Job((Req(userinfo="user:pw"),)),
        expect=Succeeds() & Custom("exactly one :authority 127.0.0.1:<port>, no userinfo",
                                   _authority(ORIGIN), name="authority-field")
        & Report("authorization_sent", _sent_authorization),
        bad={"userinfo-in-authority": "authority-field"},
        covers=("R-8.3.1-3",),
    ),
    Case(
        id="9113/8.3.1/authority-ipv6-literal",
        level=MUST,
        requirement="§8.3.1 with RFC 3986 §3.2.2: for an IPv6 literal URL (https://[::1]:port/), "
                    ":authority carries the address in brackets with the port.",
        server="Listens on [::1]; answers every request with a normal 200.",
        scenario=Script,
        ipv6=True,
        expect=Succeeds() & Custom("exactly one :authority [::1]:<port>; any host field equal to it",
                                   _authority(V6_ORIGIN), name="authority-field"),
        bad={"ipv6-unbracketed": "authority-field"},
        covers=("R-8.3.1-3",),
    ),
    Case(
        id="9113/8.3.1/authority-default-port",
        level=MUST,
        requirement="§8.3.1: :authority conveys the target URI's authority; for https://127.0.0.1/ "
                    "(the default port) reached at another address it is 127.0.0.1 or 127.0.0.1:443, "
                    "never the address connected to (whether the default port is sent is reported).",
        server="Answers every request with a normal 200; the client reaches it through its "
               "connect-to option, the URL naming port 443.",
        scenario=Script,
        request=Job((Req(default_port=True),)),
        expect=Succeeds() & Custom("exactly one :authority 127.0.0.1 or 127.0.0.1:443",
                                   _authority(DEFAULT_PORT_AUTHORITY), name="authority-field")
        & Report("authority_sent", lambda ev: dict(_request_fields(ev) or []).get(":authority")),
        bad={"authority-from-address": "authority-field"},
        covers=("R-8.3.1-3", "R-8.3.1-4"),
    ),
]
