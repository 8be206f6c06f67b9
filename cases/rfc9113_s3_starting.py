"""RFC 9113 §3 Starting HTTP/2: the h2c Upgrade (§3.1), prior knowledge (§3.3), the connection
preface (§3.4). ALPN (§3.2) is in alpn_negotiation.py."""
from conformance.case import MUST, WAIT_TIMEOUT_MS, Case, get
from conformance.verdicts import ConnectionError, Custom, Fails, Report, Sent, Succeeds
from servers import frames as F
from servers.scenario import BODY, HTTP1_BODY, Conn, Script, reply, response_fields

SETTINGS = F.settings({F.MAX_CONCURRENT_STREAMS: 100})
H2C = frozenset({"h2c"})
HTTP1_ANSWER = (b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: "
                + str(len(HTTP1_BODY)).encode() + b"\r\n\r\n" + HTTP1_BODY)


# -- scenarios -------------------------------------------------------------------------

def silent() -> Script:
    """Accepts the connection and never sends a single byte (no SETTINGS, no ACK, no response)."""
    return Script(preface=[], ack=False, respond=lambda conn, req: None)


def headers_before_settings(**kw) -> Script:
    """No preface; once the request is in: response HEADERS, then SETTINGS + ACK, then the body."""
    def respond(conn, req):
        conn.send(F.headers(req.stream, conn.block(response_fields())))
        conn.send(SETTINGS, F.settings_ack())
        conn.send_body(req.stream, BODY)
    return Script(preface=[], ack=False, respond=respond, **kw)


def settings_after_request() -> Script:
    """No preface; the SETTINGS (and the ACK of the client's) go out only once the request is in."""
    def respond(conn, req):
        conn.send(SETTINGS, F.settings_ack())
        reply()(conn, req)
    return Script(preface=[], ack=False, respond=respond)


class H2cUpgrade(Script):
    """RFC 7540 §3.2 on cleartext: an HTTP/1.1 request with `Upgrade: h2c` gets 101, the server
    preface and the response on stream 1 when `accept`, else a plain HTTP/1.1 200 (RFC 9110 §7.8
    lets a server ignore Upgrade). Each request line is recorded with its Upgrade, if any."""

    def __init__(self, accept: bool):
        super().__init__()
        self.accept = accept

    def http1_received(self, conn: Conn, data: bytes) -> None:
        head = bytes(conn.state.get("http1", b"")) + data
        if b"\r\n\r\n" not in head:
            return super().http1_received(conn, data)
        lines = head.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        upgrade = any(line.lower().replace(" ", "") == "upgrade:h2c" for line in lines[1:])
        if not (upgrade and self.accept):
            super().http1_received(conn, data)
            if upgrade:
                conn.record.http1_lines[-1] += " [Upgrade: h2c, ignored]"
            return
        conn.record.http1_lines.append(f"{lines[0]} [Upgrade: h2c, answered 101]")
        conn.state.pop("http1", None)
        conn.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
        conn.protocol = "h2"            # the upgraded request is stream 1, half-closed (local)
        self.server_preface(conn)
        reply()(conn, _UpgradedRequest(conn))


class _UpgradedRequest:
    stream = 1

    def __init__(self, conn: Conn):
        self.conn = conn


# -- checks ----------------------------------------------------------------------------

def _client_preface(ev):
    conns = [c for c in ev.observations.connections if c.received or c.preface_problem]
    if not conns:
        return False, "no connection carried HTTP/2 frames"
    for c in conns:
        if c.preface_problem:
            return False, f"connection #{c.index}: {c.preface_problem}"
        first = c.received[0] if c.received else None
        if first is None or first.type != "SETTINGS" or first.has("ACK"):
            return False, (f"connection #{c.index}: first frame after the preface is "
                           f"{first.describe() if first else 'missing'}")
    return True, f"{len(conns)} connection(s) began with the 24-octet preface and a SETTINGS frame"


CLIENT_PREFACE = Custom("every connection starts with the exact 24-octet preface followed by a "
                        "SETTINGS frame (§3.4)", _client_preface, name="client-preface")


def _request_first(ev):
    """MAY (§3.4): did a request go out before any server frame?"""
    for c in ev.observations.connections:
        heads = [f.seq for f in c.received if f.type == "HEADERS"]
        if heads:
            return not c.sent or heads[0] < c.sent[0].seq
    return None


REQUEST_BEFORE_SETTINGS = Report("request_before_server_settings", _request_first)


def _upgrade(ev):
    """R-3.1-1 (reported): did the client ask for h2c, and did the exchange end over HTTP/2?"""
    c = ev.observations.connections[0] if ev.observations.connections else None
    lines = c.http1_lines if c else []
    return {"upgrade_requested": any("Upgrade: h2c" in line for line in lines),
            "completed_over": ev.outcome.http_version, "request_lines": lines[:2]}


def _succeeds_either_way(ev):
    """The answer of the protocol the client ended up on: HTTP/2 after a 101, else HTTP/1.1."""
    o = ev.outcome
    want = {"2": len(BODY), "1.1": len(HTTP1_BODY)}.get(o.http_version)
    ok = o.ok and o.status == 200 and o.body_len == want
    return ok, f"transfer {o.summary()}"


SUCCEEDS_EITHER_WAY = Custom("the transfer succeeds with the answer of the protocol it ended on",
                             _succeeds_either_way, name="succeeds")
UPGRADE_RUN = get(http_version="h2-or-http1.1")
CLEARTEXT_UPGRADE = frozenset({"h2c", "http1.1"})
SETTINGS_ACK = Sent("SETTINGS", "an empty SETTINGS ACK", lambda f: f.has("ACK") and f.length == 0)
H2C_RUN = get(http_version="h2-prior-knowledge")

CASES = [
    # §3.4: the client's own preface
    Case(
        id="9113/3.4/client-preface",
        level=MUST,
        covers=("R-3.4-1",),
        requirement="§3.4: the client's connection preface is the exact 24-octet sequence "
                    "PRI * HTTP/2.0... followed by a SETTINGS frame as its first frame.",
        server="A conforming server that records the client's first bytes.",
        scenario=lambda: Script(),
        request=get(),
        expect=Succeeds() & CLIENT_PREFACE,
        bad={"no-preface": "client-preface"},
    ),
    Case(
        id="9113/3.4/client-acks-server-settings",
        level=MUST,
        covers=("R-3.4-2",),
        requirement="§3.4 and §6.5.3: the client acknowledges the SETTINGS frame of the server's "
                    "preface with an empty SETTINGS ACK.",
        server="Sends SETTINGS(MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE=65535) as its preface, "
               "then answers normally.",
        scenario=lambda: Script(preface=[F.settings({F.MAX_CONCURRENT_STREAMS: 100,
                                                     F.INITIAL_WINDOW_SIZE: 65535})]),
        expect=Succeeds() & SETTINGS_ACK,
        bad={"no-settings-ack": "sent-settings"},
    ),
    # §3.4: a missing or wrong server preface
    Case(
        id="9113/3.4/server-sends-nothing",
        level=MUST,
        covers=("R-3.4-4",),
        level_note="R-3.4-4 is Y (§3.4 has no keyword for a silent server), but the only check is "
                   "that the transfer never ends as a success; reporting it instead would leave "
                   "the ok-on-timeout control nothing to fail.",
        requirement="§3.4: without a server preface the connection never becomes usable; the client "
                    "must end the transfer with an error within its own timeout, not hang.",
        server="Completes the TLS handshake with ALPN h2, then never sends a byte.",
        scenario=silent,
        request=get(timeout_ms=WAIT_TIMEOUT_MS),
        expect=Fails("timeout", "http2", allow_timeout=True) & REQUEST_BEFORE_SETTINGS,
        bad={"ok-on-timeout": "transfer-fails"},
        waits=True,
    ),
    Case(
        id="9113/3.4/server-preface-missing",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-3.4-3",),
        requirement="§3.4: a server whose first frame is not SETTINGS has sent an invalid preface, "
                    "a connection error of type PROTOCOL_ERROR.",
        server="Never sends SETTINGS: answers the request with HEADERS and DATA straight away.",
        scenario=lambda: Script(preface=[], ack=False),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/3.4/server-preface-ping-first",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-3.4-3",),
        requirement="§3.4: the server's preface MUST be a SETTINGS frame first; a PING first is an "
                    "invalid preface, a connection error of type PROTOCOL_ERROR.",
        server="Sends PING, then its SETTINGS, then answers normally.",
        scenario=lambda: Script(preface=[F.ping(b"preface!"), SETTINGS]),
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/3.4/server-preface-headers-first",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-3.4-3",),
        requirement="§3.4: response HEADERS before the server's SETTINGS is an invalid preface, "
                    "a connection error of type PROTOCOL_ERROR.",
        server="Sends nothing until the request, then response HEADERS, SETTINGS + ACK, and the body.",
        scenario=headers_before_settings,
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
    Case(
        id="9113/3.4/h2c-headers-before-settings",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-3.4-3",),
        requirement="§3.4: over cleartext prior knowledge too, HEADERS before the server's SETTINGS "
                    "is a connection error of type PROTOCOL_ERROR, reported without hanging.",
        server="h2c: sends nothing until the request, then HEADERS, SETTINGS + ACK, and the body.",
        scenario=headers_before_settings,
        transport="h2c",
        needs=H2C,
        request=H2C_RUN,
        expect=ConnectionError("PROTOCOL_ERROR"),
        regression="curl#192",
    ),
    Case(
        id="9113/3.4/server-settings-after-request",
        level=MUST,
        covers=("R-3.4-2", "R-3.4-5"),
        requirement="§3.4: the client MAY send its request before the server's preface arrives; a "
                    "SETTINGS that arrives only then is still a valid preface, so the transfer "
                    "completes and the SETTINGS is acknowledged.",
        server="Sends nothing until the whole request is in, then SETTINGS + ACK and the response.",
        scenario=settings_after_request,
        request=get(),
        expect=Succeeds() & SETTINGS_ACK & REQUEST_BEFORE_SETTINGS,
        bad={"no-settings-ack": "sent-settings"},
    ),
    # §3.1: the h2c Upgrade of RFC 7540 §3.2 (deprecated, still done by libcurl for http://)
    Case(
        id="9113/3.1/h2c-upgrade-accepted",
        level=MUST,
        covers=("R-3.1-1",),
        level_note="R-3.1-1 is Y (§3.1 deprecates the Upgrade without a keyword): whether the "
                   "client asks for it and ends on HTTP/2 is reported; the one check, that the "
                   "transfer succeeds over whichever protocol it ended on, is what a server that "
                   "accepts the Upgrade may expect (RFC 9110 §7.8).",
        requirement="RFC 7540 §3.2 (§3.1 of RFC 9113 deprecates it): a client asking for HTTP/2 on "
                    "an http:// URL may send Upgrade: h2c; a server that answers 101 continues "
                    "over HTTP/2 with the response on stream 1. Whether the client upgrades is "
                    "reported.",
        server="Cleartext: a request with Upgrade: h2c gets 101, SETTINGS and the response on "
               "stream 1; one without gets a plain HTTP/1.1 200.",
        scenario=lambda: H2cUpgrade(accept=True),
        transport="h2c",
        needs=CLEARTEXT_UPGRADE,
        request=UPGRADE_RUN,
        expect=SUCCEEDS_EITHER_WAY & Report("h2c_upgrade", _upgrade),
        bad={"h2c-upgrade-broken": "succeeds"},
    ),
    Case(
        id="9113/3.1/h2c-upgrade-ignored",
        level=MUST,
        covers=("R-3.1-2",),
        requirement="RFC 9110 §7.8: a server may ignore Upgrade; a client that asked for h2c and "
                    "got a plain HTTP/1.1 200 takes that response as it is.",
        server="Cleartext: answers every request with a plain HTTP/1.1 200, Upgrade or not.",
        scenario=lambda: H2cUpgrade(accept=False),
        transport="h2c",
        needs=CLEARTEXT_UPGRADE,
        request=UPGRADE_RUN,
        expect=Succeeds(body=HTTP1_BODY) & Report("h2c_upgrade", _upgrade),
        bad={"h2c-upgrade-broken": "succeeds"},
    ),
    # §3.3: prior knowledge over cleartext
    Case(
        id="9113/3.3/h2c-prior-knowledge",
        level=MUST,
        covers=("R-3.4-1", "R-3.3-1"),
        requirement="§3.3: with prior knowledge over cleartext TCP the client starts with the "
                    "connection preface (no HTTP/1.1 Upgrade) and the exchange runs over HTTP/2.",
        server="h2c: a conforming server.",
        scenario=lambda: Script(),
        transport="h2c",
        needs=H2C,
        request=H2C_RUN,
        expect=Succeeds() & CLIENT_PREFACE & Custom(
            "the client reports HTTP/2", lambda ev: (ev.outcome.http_version == "2",
                                                     f"HTTP/{ev.outcome.http_version}"), name="reports-http2"),
        bad={"no-preface": "client-preface"},
    ),
    Case(
        id="9113/3.3/h2c-http1-answer",
        level=MUST,
        bad={"naive": "transfer-fails"},
        covers=("R-3.3-2",),
        requirement="§3.3 and §3.4: a prior-knowledge server that answers in HTTP/1.1 sent no valid "
                    "preface; the client fails clearly (connection error PROTOCOL_ERROR).",
        server="h2c: answers the client preface with an HTTP/1.1 200 response and keeps the connection open.",
        scenario=lambda: Script(preface=[HTTP1_ANSWER], ack=False, respond=lambda conn, req: None),
        transport="h2c",
        needs=H2C,
        request=H2C_RUN,
        expect=ConnectionError("PROTOCOL_ERROR"),
    ),
]
