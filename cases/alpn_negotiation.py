"""RFC 9113 §3.2 [RFC 7540 §3.3]: HTTP/2 over TLS is negotiated with ALPN (RFC 7301).

Each server variant runs against the two client modes that ask for HTTP/2 over TLS:
`h2-or-http1.1` (HTTP/2 preferred, HTTP/1.1 allowed) and `h2-prior-knowledge` (HTTP/2 without
negotiation). The protocol's plain `h2` mode is not crossed with the variants: libcurl gets the
same option for it as for `h2-or-http1.1` (CURL_HTTP_VERSION_2TLS/2_0 offer the same ALPN), so
those cases would repeat each other; every other case of the catalog runs in that mode.
What is judged: the ALPN list the ClientHello offered, and that no HTTP/2 goes over a TLS
connection whose ALPN did not select h2 (§3.3, whatever the client was told); what the client
did instead (HTTP/1.1 or an error) is reported.
"""
from conformance.case import MUST, Case, Job, Req
from conformance.verdicts import Custom, Exercised, Report
from servers.openssl_tls import ServerTls
from servers.scenario import HTTP1_BODY, Script

FALLBACK = frozenset({"h2", "http1.1"})
RESUMPTION = frozenset({"h2", "http1.1", "tls-session-cache"})
MODES = {"": "h2-or-http1.1", "-prior-knowledge": "h2-prior-knowledge"}


def _never_h2_unnegotiated(ev):
    for c in ev.observations.connections:
        if c.tls is not None and c.tls.alpn_selected == "h2":
            continue
        if c.received:
            return False, (f"connection #{c.index} (ALPN {c.tls.alpn_selected if c.tls else None!r}) "
                           f"carried HTTP/2 frames: {c.received[0].describe()}")
        if any(line.startswith("PRI * HTTP/2.0") for line in c.http1_lines):
            return False, f"connection #{c.index} (ALPN http/1.1) got the HTTP/2 preface"
    return True, "no HTTP/2 preface or frame on any connection without ALPN h2"


NEVER_H2 = Custom("the client never speaks HTTP/2 on a TLS connection where ALPN did not select "
                  "h2 (§3.2, §3.3)", _never_h2_unnegotiated, name="no-h2-without-alpn")


def _alpn_outcome(ev):
    """R-3.2-3 (reported): what the client did once ALPN did not select h2."""
    o = ev.outcomes[-1]
    lines = [line for c in ev.observations.connections for line in c.http1_lines]
    tls = [(c.tls.alpn_offered, c.tls.alpn_selected, c.tls.client_alerts) if c.tls else None
           for c in ev.observations.connections]
    return {"fell_back_to_http1": o.ok and o.http_version == "1.1" and o.body_len == len(HTTP1_BODY),
            "outcome": o.summary(), "http1_request_lines": lines[:2],
            "alpn_offered_selected_alerts": tls}


ALPN_OUTCOME = Report("alpn_outcome", _alpn_outcome)


def _offers_h2(ev):
    offered = [c.tls.alpn_offered for c in ev.observations.connections if c.tls]
    wrong = [o for o in offered if not o or "h2" not in o or "h2c" in o]
    return bool(offered) and not wrong, f"ALPN offered per connection: {offered}"


OFFERS_H2 = Custom("every ClientHello offers h2 in ALPN, and never h2c (§3.2, §3.3)", _offers_h2,
                   name="alpn-offer")


def _resumed_second(ev):
    conns = ev.observations.connections
    tls = conns[1].tls if len(conns) > 1 and conns[1].tls else None
    if tls is None:
        return False, "no second TLS connection"
    return tls.resumed, (f"the second connection resumed the session of the first and ALPN "
                         f"selected {tls.alpn_selected!r}" if tls.resumed else
                         f"the second connection did not resume (ticket offered: {tls.ticket_offered})")


def one(mode: str) -> Job:
    return Job((Req(http_version=mode),))


# The server variants: (id part, server line, scenario, misbehaving profile, extra requirement text)
VARIANTS = [
    ("none", "No ALPN at all (ignores the extension); answers HTTP/1.1 requests, and h2 if sniffed.",
     lambda: Script(alpn=None), "ignore-alpn",
     "a TLS server that selects no ALPN protocol has not agreed to h2"),
    ("no-overlap", "Knows only ALPN spdy/3.1 and answers a ClientHello without it with the "
     "no_application_protocol alert (RFC 7301 §3.2).",
     lambda: Script(alpn=("spdy/3.1",), tls=ServerTls(alpn_refuse=True)), "alpn-fallback-h2",
     "a server whose ALPN list does not overlap the client's refuses the handshake (RFC 7301 "
     "§3.2); a client that then tries again without ALPN must still not speak h2"),
    ("unoffered", "Selects ALPN h2c, which the client never offered (RFC 7301 §3.2 forbids it); "
     "answers h2 if sniffed.",
     lambda: Script(tls=ServerTls(alpn_select="h2c")), "offer-h2c",
     "a server that selects a protocol the client did not offer (h2c, which §3.2 keeps off TLS) "
     "has not agreed to h2"),
]


def variant_cases() -> list[Case]:
    cases = []
    for name, server, scenario, bad, why in VARIANTS:
        for suffix, mode in MODES.items():
            cases.append(Case(
                id=f"9113/3.2/alpn-{name}{suffix}",
                level=MUST,
                covers=("R-3.2-2", "R-3.2-3"),
                requirement=f"§3.3: {why}, so the client never speaks h2 on that connection, in "
                            f"{mode} mode too; whether it continues over HTTP/1.1 or fails is "
                            "reported (no keyword).",
                server=server,
                scenario=scenario,
                needs=FALLBACK if mode == "h2-or-http1.1" else frozenset({"h2"}),
                request=one(mode),
                expect=NEVER_H2 & ALPN_OUTCOME,
                bad={bad: "no-h2-without-alpn"},
                regression="curl#7980" if suffix else None,
            ))
    return cases


CASES = [
    Case(
        id="9113/3.2/alpn-offer",
        level=MUST,
        covers=("R-3.2-1",),
        requirement="§3.3: a client that wants HTTP/2 over TLS offers h2 in ALPN, and §3.2 keeps "
                    "h2c off TLS: the ClientHello never offers it.",
        server="ALPN h2 and http/1.1; answers normally; records the ClientHello's ALPN list.",
        scenario=Script,
        needs=FALLBACK,
        request=one("h2-or-http1.1"),
        expect=OFFERS_H2 & NEVER_H2,
        bad={"offer-h2c": "alpn-offer"},
    ),
    Case(
        id="9113/3.2/alpn-offer-prior-knowledge",
        level=MUST,
        covers=("R-3.2-1",),
        requirement="§3.3: HTTP/2 over TLS MUST be negotiated with ALPN even when the client has "
                    "prior knowledge: its ClientHello offers h2, never h2c.",
        server="ALPN h2 and http/1.1; answers normally (h2 if sniffed without ALPN).",
        scenario=Script,
        request=one("h2-prior-knowledge"),
        expect=OFFERS_H2 & NEVER_H2,
        bad={"offer-h2c": "alpn-offer"},
        regression="curl#7980",
    ),
    Case(
        id="9113/3.2/alpn-http1-fallback",
        level=MUST,
        covers=("R-3.2-2", "R-3.2-3"),
        requirement="§3.3: a client offering h2 and http/1.1 to a server whose ALPN selects http/1.1 "
                    "never sends HTTP/2 on that connection; whether it continues over HTTP/1.1 is "
                    "reported (no keyword).",
        server="ALPN offers http/1.1 only; answers HTTP/1.1 requests with 200.",
        scenario=lambda: Script(alpn=("http/1.1",)),
        needs=FALLBACK,
        request=one("h2-or-http1.1"),
        expect=NEVER_H2 & ALPN_OUTCOME,
        bad={"ignore-alpn": "no-h2-without-alpn"},
    ),
    Case(
        id="9113/3.3/prior-knowledge-over-tls-alpn-http1",
        level=MUST,
        covers=("R-3.2-2", "R-3.2-3"),
        requirement="§3.3: HTTP/2 over TLS MUST be negotiated with ALPN, even with prior knowledge: "
                    "a client configured for HTTP/2 only, whose server does not select h2, never "
                    "speaks h2 there. Whether it fails or switches to HTTP/1.1 is reported (the "
                    "option's promise of no fallback is not the RFC's).",
        server="ALPN offers http/1.1 only; answers HTTP/1.1 requests, and h2 if sniffed on a "
               "connection without ALPN.",
        scenario=lambda: Script(alpn=("http/1.1",)),
        request=one("h2-prior-knowledge"),
        expect=NEVER_H2 & ALPN_OUTCOME,
        bad={"ignore-alpn": "no-h2-without-alpn"},
        regression="curl#7980",
    ),
    *variant_cases(),
    Case(
        id="9113/3.2/alpn-resumed-http1",
        level=MUST,
        covers=("R-3.2-2",),
        requirement="RFC 7301 §3.1 and §3.3: ALPN belongs to each connection. A session first "
                    "used with h2 and resumed on a connection whose ALPN selects http/1.1 carries "
                    "no HTTP/2 there.",
        server="Same ticket keys on both connections; ALPN selects h2 on the first and http/1.1 "
               "on the second (resumed) one.",
        scenario=lambda: Script(tls=ServerTls(alpn_after_first=("http/1.1",))),
        needs=RESUMPTION,
        request=Job((Req("/r/1", http_version="h2-or-http1.1"), Req("/r/2", http_version="h2-or-http1.1")),
                    connection="fresh", tls_session_cache="shared"),
        expect=Exercised("the second connection resumed the first one's session", _resumed_second)
        & NEVER_H2 & ALPN_OUTCOME,
        bad={"ignore-alpn": "no-h2-without-alpn"},
    ),
]
