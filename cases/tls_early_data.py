"""TLS 1.3 early data (0-RTT) on a resumed connection (RFC 8446 §2.3 and §4.2.10, RFC 8470 §4).

The job makes sequential requests, each on a new connection, sharing one session cache, and
asks the client for early data (libcurl's CURLSSLOPT_EARLYDATA). The server's tickets allow
early data; on the resumed connections it reads the early data, or rejects it. pyOpenSSL plays
the server (servers/openssl_tls.py): Python's ssl cannot accept early data.
"""
from conformance.case import MUST, Case, Job, Req
from conformance.verdicts import Custom, Exercised, Report, Succeeds
from servers.openssl_tls import ServerTls
from servers.scenario import Script

NEEDS = frozenset({"h2", "tls-session-cache"})   # and early-data, for the job's early_data
SAFE = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})   # RFC 9110 §9.2.1


def early_job(*requests: Req) -> Job:
    return Job(requests, connection="fresh", tls_session_cache="shared", early_data=True)


def _second(ev):
    conns = ev.observations.connections
    return conns[1] if len(conns) > 1 and conns[1].tls else None


def _early_offered(ev):
    c = _second(ev)
    if c is None:
        return False, "no second TLS connection"
    if not c.tls.early_data_offered:
        return False, (f"the second ClientHello carried no early_data extension (ticket offered: "
                       f"{c.tls.ticket_offered}, resumed: {c.tls.resumed})")
    return True, "the second ClientHello offered early data"


EARLY_OFFERED = Exercised("the client sent early data on the resumed connection", _early_offered)


def _early_requests(ev):
    """(method, path) of every request whose HEADERS came in early data, on any connection."""
    early = [f for c in ev.observations.connections if c.tls
             for f in c.received[:c.tls.early_data_frames]]
    return [(dict(f.headers or []).get(":method"), dict(f.headers or []).get(":path"))
            for f in early if f.type == "HEADERS"]


def _octets_match(ev):
    c, o = _second(ev), ev.outcomes[1]
    return {"client_reported": o.early_data_sent, "server_read": c.tls.early_data_octets if c else None,
            "equal": o.early_data_sent == (c.tls.early_data_octets if c else None)}


def _only_safe(ev):
    unsafe = [r for r in _early_requests(ev) if r[0] not in SAFE]
    return not unsafe, (f"unsafe request(s) in early data: {unsafe}" if unsafe else
                        f"early requests: {_early_requests(ev) or 'none'}")


def _resent_after_reject(ev):
    """RFC 8470 §4 / RFC 8446 §4.2.10: rejected early data is gone; the client starts the
    connection again (preface, SETTINGS) and sends the request again, or fails it."""
    c, o = _second(ev), ev.outcomes[-1]
    if not o.ok and o.error_class == "timeout":
        return False, (f"after the rejection the request never reached the server; the transfer "
                       f"ran into its timeout ({o.summary()})")
    if c.tls.early_data_accepted:
        return False, "SCENARIO BROKEN: the server accepted the early data it should reject"
    heads = [f for f in c.received if f.type == "HEADERS"]
    if o.ok and not heads:
        return False, "the transfer succeeded but no request reached the server after the handshake"
    if o.ok and c.preface_problem:
        return False, f"the connection did not start again with the preface: {c.preface_problem}"
    return True, (f"request sent again after the handshake ({len(heads)} HEADERS)" if heads else
                  f"request abandoned: {o.summary()}")


REPORTS = (Report("early_data_octets", _octets_match)
           & Report("early_requests", _early_requests))

CASES = [
    Case(
        id="tls/early-data/accepted",
        level=MUST,
        covers=("R-TLS-5", "R-TLS-6"),
        requirement="RFC 8446 §2.3 and RFC 8470 §4: a client that resumes with early data sends "
                    "only safe requests early (a GET may go, a POST waits for the handshake), and "
                    "every transfer succeeds; whether the octets it reports as sent early equal "
                    "what the server read is reported (no keyword).",
        server="Tickets allow early data; on every resumed connection the server reads the early "
               "data and answers the requests in it.",
        scenario=lambda: Script(tls=ServerTls(early_data="accept")),
        request=early_job(Req("/r/1"), Req("/r/2"), Req("/r/3", method="POST", body=b"not idempotent")),
        needs=NEEDS,
        expect=EARLY_OFFERED & Succeeds()
        & Custom("only safe methods go in early data (RFC 8470 §4)", _only_safe, name="early-safe-only")
        & REPORTS,
        bad={"early-data-post": "early-safe-only"},
    ),
    Case(
        id="tls/early-data/rejected",
        level=MUST,
        covers=("R-TLS-4",),
        requirement="RFC 8446 §4.2.10 and RFC 8470 §4: when the server rejects early data, what "
                    "the client sent early is lost; it starts the connection again (preface "
                    "included) and sends the requests again, or fails them with an error.",
        server="Tickets allow early data; on the resumed connection the server rejects it (reads "
               "none) and answers what arrives after the handshake.",
        scenario=lambda: Script(tls=ServerTls(early_data="reject")),
        request=early_job(Req("/r/1"), Req("/r/2")),
        needs=NEEDS,
        expect=EARLY_OFFERED
        & Custom("after rejected early data the request is sent again (or fails); never a success "
                 "the server did not answer", _resent_after_reject, name="resent-after-reject")
        & REPORTS,
        bad={"early-data-no-resend": "resent-after-reject"},
        regression="curl#17481, curl#22649",
    ),
]
