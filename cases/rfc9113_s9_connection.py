"""RFC 9113 §9 connection management (§9.1 reuse, 421 and connection hygiene, §9.1.1 after
errors, §9.2 TLS)."""
import ipaddress

from conformance.case import MAY, MUST, SHOULD, Case, Job, Req, get, gets
from conformance.verdicts import (AnyOf, ConnectionError, Connections, Custom, Exercised, Fails,
                                  NotSent, Report,
                                  Succeeds, TransferSucceeds)
from servers import frames as F
from servers.openssl_tls import ServerTls
from servers.scenario import Script, close, frames, hold, per_connection, reply, seq
from servers.tls import ORIGIN, OTHER

TWO = gets(2)


# -- helpers ------------------------------------------------------------------------------------
def _after_first_fault(ev):
    """No HEADERS on connection #0 after the server's first GOAWAY or the client's own error GOAWAY
    (or, failing both, after the server's fault frame): that connection is finished (§9.1.1)."""
    if not ev.observations.connections:
        return False, "no connection was made"
    c = ev.observations.connections[0]
    marks = [f.seq for f in c.sent if f.type == "GOAWAY"] + \
            [f.seq for f in c.received if f.type == "GOAWAY" and f.error_code != "NO_ERROR"] + \
            [f.seq for f in c.sent if f.type == "PING" and f.stream != 0]
    if not marks:
        return False, "no GOAWAY or fault on connection #0 (the scenario did not run as intended)"
    late = [f.stream for f in c.headers_after(min(marks))]
    opened = [len(x.streams_opened()) for x in ev.observations.connections]
    return not late, (f"new stream(s) {late} on connection #0 after it ended" if late else
                      f"streams per connection {opened}")


NOT_REUSED = Custom("no new stream on connection #0 once it ended; request 2 goes on a new "
                    "connection (§9.1.1)", _after_first_fault, name="not-reused-after-end")


def _multiplexed(ev):
    per_conn = [len(c.streams_opened()) for c in ev.observations.connections]
    return per_conn == [3], f"streams per connection {per_conn}"


def _tls_versions(ev):
    return [c.tls.version if c.tls else None for c in ev.observations.connections]


def _no_h2_below_12(ev):
    """§9.2: no HTTP/2 frame on a connection that negotiated TLS 1.0 or 1.1."""
    old = [c.index for c in ev.observations.connections
           if c.tls and c.tls.version in ("TLSv1", "TLSv1.1") and c.received]
    got = [(c.tls.versions_offered, c.tls.version, c.tls.client_alerts) if c.tls else None
           for c in ev.observations.connections]
    return not old, (f"HTTP/2 over {ev.observations.connections[old[0]].tls.version} on "
                     f"connection(s) {old}" if old else
                     f"(versions offered, negotiated, client alerts) per connection: {got}")


def _tls_refusal(ev):
    """What the client did against a server offering only TLS 1.0/1.1 (reported)."""
    return {"versions": _tls_versions(ev), "outcome": ev.outcome.summary(),
            "client_alerts": [c.tls.client_alerts for c in ev.observations.connections if c.tls]}


def _tls_12_h2(ev):
    got = [(c.tls.version, c.tls.alpn_selected) if c.tls else None for c in ev.observations.connections]
    ok = bool(got) and all(g == ("TLSv1.2", "h2") for g in got)
    return ok, f"(TLS version, ALPN) per connection: {got}"


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def _no_ip_sni(ev):
    snis = [c.tls.sni if c.tls else None for c in ev.observations.connections]
    bad = [s for s in snis if s and _is_ip(s)]
    return not bad, f"SNI per connection: {snis}"


def _sni(ev):
    return [c.tls.sni if c.tls else None for c in ev.observations.connections]


# -- §9.2: TLS faults (played by pyOpenSSL, servers/openssl_tls.py) ------------------------------
TLS12, TLS13 = ServerTls(versions=("TLSv1.2", "TLSv1.2")), ServerTls(versions=("TLSv1.3", "TLSv1.3"))
# §9.2.2 / Appendix A: CBC suites are on the block list; CHACHA20-POLY1305 with ECDHE is not (and is not the mandatory suite, so a client cannot pass by luck of defaults)
BLOCK_LISTED = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA"   # the test key is ECDSA
ALLOWED = "ECDHE-ECDSA-CHACHA20-POLY1305"


def tls_action_then_reply(setup: ServerTls, action: str) -> Script:
    """After the request: the TLS action (Conn.tls_action), then a valid response."""
    def respond(conn, req):
        conn.tls_action(action)
        reply()(conn, req)
    return Script(tls=setup, respond=respond)


def _sni_is_host(ev):
    snis = _sni(ev)
    return bool(snis) and all(s == ORIGIN for s in snis), f"SNI per connection: {snis}"


def _first_tls(ev):
    conns = ev.observations.connections
    return conns[0].tls if conns and conns[0].tls else None


def _hello_request_sent(ev):
    tls = _first_tls(ev)
    state = tls.renegotiation if tls else None
    return state is not None, (f"HelloRequest sent; renegotiation {state}" if state else
                               "the server never got to send its HelloRequest")


def _no_renegotiation(ev):
    """§9.2.1: a client that renegotiates (answers the HelloRequest with a ClientHello) and
    carries on has not treated it as an error; refusing it at the TLS layer, or failing the
    connection, keeps the MUST. The response waits for a renegotiation the client started."""
    tls, o = _first_tls(ev), ev.outcome
    if tls.renegotiation in ("started", "completed") and o.ok:
        return False, (f"the client renegotiated ({tls.renegotiation}) and the transfer succeeded "
                       "over the renegotiated connection")
    return True, f"renegotiation {tls.renegotiation}; client alerts {tls.client_alerts}; {o.summary()}"


def _certificate_request_sent(ev):
    tls = _first_tls(ev)
    got = tls.certificate_request if tls else None
    return got == "sent", f"post-handshake CertificateRequest: {got}"


def _cipher_reaction(ev):
    """R-9.2.2-1 (reported): what the client did with a block-listed TLS 1.2 cipher suite."""
    tls = _first_tls(ev)
    return {"cipher": tls.cipher if tls else None, "goaway": [f.error_code for f in ev.observations.frames("GOAWAY")],
            "client_alerts": tls.client_alerts if tls else None, "outcome": ev.outcome.summary()}


# -- §9.1.1: connection reuse across names, and certificates that do not fit --------------------
TWO_NAMES = Job((Req("/r/1", host=ORIGIN), Req("/r/2", host=OTHER)))


def _authorities(ev):
    """(connection, host of :authority) of every request, in wire order."""
    return [(c.index, (dict(f.headers or []).get(":authority") or "").rpartition(":")[0] or None)
            for c in ev.observations.connections for f in c.frames("HEADERS")]


def _authority_per_host(ev):
    got = _authorities(ev)
    return sorted(h or "" for _, h in got) == sorted([ORIGIN, OTHER]), f"(connection, :authority) per request: {got}"


def _coalesced(ev):
    """R-9.1.1-2 (reported): did one connection carry requests for both names?"""
    per: dict = {}
    for index, host in _authorities(ev):
        per.setdefault(index, set()).add(host)
    return any(len(hosts) > 1 for hosts in per.values())


def _only_covered_names(ev):
    """§9.1.1: a connection whose certificate names one host carries no request for another."""
    wrong = [(c.index, c.tls.sni, host) for c in ev.observations.connections if c.tls
             for index, host in _authorities(ev) if index == c.index and host != c.tls.sni]
    return not wrong, (f"(connection, certificate's name, request's host) off the certificate: {wrong}"
                       if wrong else f"(connection, :authority) per request: {_authorities(ev)}")


def _no_http2(ev):
    spoken = [c.index for c in ev.observations.connections if c.received]
    return not spoken, (f"HTTP/2 frames on connection(s) {spoken}" if spoken else
                        f"no HTTP/2 frame; client alerts {[c.tls.client_alerts for c in ev.observations.connections if c.tls]}")


def goaway_after_response(code):
    """Connection 0: each response is followed by GOAWAY(code, last=that stream); the connection
    stays open. Later connections answer normally."""
    return lambda: Script(respond=per_connection(
        seq(reply(), frames(lambda conn, req: F.goaway(req.stream, code))), reply()))


# §9.1.1: an idle connection closed while the client works on another one
class NarrowCertificate(Script):
    narrow_cert = True    # SNI localhost gets a certificate for localhost alone


class IdleCloseElsewhere(NarrowCertificate):
    """Answers every request; the request to 127.0.0.1 first closes the localhost connection that
    answered /r/1, idle since, from the other connection's callback (so the client is done with it)."""

    def __init__(self):
        super().__init__(respond=self._respond)
        self.idle = None

    def _respond(self, conn, req):
        if conn.closing:                          # the closed connection answers nothing more
            return
        if req.path == "/r/1":
            self.idle = conn
        elif req.path == "/r/other" and self.idle is not None:
            self.idle.close(half=True)            # the FIN goes out now, before the answer below
            self.idle.wake()
        reply()(conn, req)


# /r/1 to localhost, a request to 127.0.0.1 on a connection of its own (certificate), /r/2 to localhost
IDLE_THEN_ELSEWHERE = Job((Req("/r/1", host="localhost"), Req("/r/other"), Req("/r/2", host="localhost")))


def _paths_per_connection(ev):
    return [[dict(f.headers or []).get(":path") for f in c.frames("HEADERS")]
            for c in ev.observations.connections]


def _not_coalesced(ev):
    paths = _paths_per_connection(ev)
    together = any({"/r/other", "/r/2"} <= set(p) for p in paths)
    return not together, f"paths per connection: {paths}"


MISDIRECTED = b"misdirected request\n"
MAX_ATTEMPTS = 3   # the request and at most two retries


def _attempts(ev) -> list[int]:
    return [len(c.streams_opened()) for c in ev.observations.connections]


BOUNDED = Custom(f"at most {MAX_ATTEMPTS} attempts in all (the request and two retries): no retry "
                 "loop (R-HYG-3, no keyword: reported)",
                 lambda ev: (sum(_attempts(ev)) <= MAX_ATTEMPTS,
                             f"{sum(_attempts(ev))} attempt(s) on {len(_attempts(ev))} connection(s)"),
                 name="attempts-bounded")


def _retried_elsewhere(ev):
    """RFC 9110 §15.5.20 lets a 421 be retried over a different connection: never on the one that
    answered 421."""
    again = [c.index for c in ev.observations.connections if len(c.streams_opened()) > 1]
    return not again, (f"request sent again on connection(s) {again} after their 421" if again else
                       f"attempts per connection {_attempts(ev)}")


def _how_421_ended(ev):
    o, n = ev.outcome, sum(_attempts(ev))
    return {"status": o.status, "ok": o.ok, "connections": len(ev.observations.connections),
            "attempt_bound": f"{'reached' if n >= MAX_ATTEMPTS else 'not approached'}: {n} attempt(s) "
                             f"of at most {MAX_ATTEMPTS}"}


def by_path(**responders):
    """The responder for each request path (`r1=...` answers /r/1); anything else: a plain 200."""
    def respond(conn, req):
        responders.get(req.path.strip("/").replace("/", ""), reply())(conn, req)
    return respond


def _measured(ev):
    s = ev.client_sockets or {}
    if "unmeasured" in s:
        return False, s["unmeasured"]
    return True, f"after the job the client process held {len(s.get('sockets', []))} socket(s) to the server"


def _own_goaway_sockets(ev) -> list[dict]:
    """The client's sockets that still belong to the connection whose PING on a stream made it end
    the connection with a connection error."""
    ports = {c.peer_port for c in ev.observations.connections
             if any(f.type == "PING" and f.stream for f in c.sent)}
    return [s for s in (ev.client_sockets or {}).get("sockets", []) if s["local_port"] in ports]


def _closed_after_own_goaway(ev):
    left = _own_goaway_sockets(ev)
    return not left, (f"socket(s) {left} of the connection it ended with its GOAWAY still open" if left
                      else "none of the connection it ended is left")


def _outcomes(ev):
    return [o.summary() for o in ev.outcomes]


CASES = [
    # §9.1: connection reuse
    Case(
        id="9113/9.1/sequential-one-connection",
        level=SHOULD,
        requirement="§9.1: a client SHOULD NOT open more than one connection to an origin; "
                    "sequential requests on one handle reuse the open connection.",
        server="Answers three sequential requests normally and keeps the connection open.",
        scenario=lambda: Script(),
        request=gets(3),
        expect=Succeeds() & Connections(1, why="one connection for all three requests"),
        bad={"no-reuse": "connections"},
        covers=("R-9.1-1",),
    ),
    Case(
        id="9113/9.1/parallel-one-connection",
        level=SHOULD,
        requirement="§9.1: parallel requests to one origin SHOULD be multiplexed as concurrent "
                    "streams on one connection rather than spread over several.",
        server="Holds every response until three requests are open on the same connection, then "
               "answers all three.",
        scenario=lambda: Script(respond=hold(3, lambda conn, reqs: [reply()(conn, r) for r in reqs])),
        request=gets(3, mode="parallel"),
        needs=frozenset({"h2", "parallel"}),
        expect=Succeeds() & Custom("all three requests are open at once on a single connection",
                                   _multiplexed, name="multiplexed"),
        bad={"no-multiplex": "multiplexed"},
        covers=("R-9.1-1",),
    ),
    # §9.1.1 and RFC 9110 §15.5.20: 421 Misdirected Request
    Case(
        id="9113/9.1/misdirected-421",
        level=MAY,
        requirement="§9.1.1 with RFC 9110 §15.5.20: a client MAY retry a request answered with 421 "
                    "over a different connection (reported, no keyword); the transfer ends with the "
                    "retried request's 200 or the 421 itself, and a retry never goes back to the "
                    "connection that answered 421.",
        server="Connection 0 answers every request with 421 and a 20-octet body; later connections "
               "answer 200 normally.",
        scenario=lambda: Script(respond=per_connection(reply(421, MISDIRECTED), reply())),
        request=get(),
        expect=AnyOf(Succeeds(), Succeeds(MISDIRECTED, 421),
                     why="RFC 9110 §15.5.20 lets the client retry on another connection or hand "
                         "the 421 to the application")
        & Custom("no retry on the connection that answered 421", _retried_elsewhere,
                 name="retried-elsewhere")
        & Report("misdirected", _how_421_ended),
        good=("good", "retry-421"),
        bad={"retry-421-same-connection": "retried-elsewhere"},
        covers=("R-9.1-2",),
    ),
    Case(
        id="9113/9.1/misdirected-421-every-connection",
        level=MAY,
        requirement="§9.1.1 with RFC 9110 §15.5.20: when every connection answers 421, a client "
                    "that retries stops after a bounded number of attempts and reports the 421 "
                    "with its exact body; it never loops (no keyword: reported).",
        server="Answers every request on every connection with 421 and a 20-octet body.",
        scenario=lambda: Script(respond=reply(421, MISDIRECTED)),
        request=get(),
        expect=Succeeds(MISDIRECTED, 421) & BOUNDED & Report("misdirected", _how_421_ended),
        good=("good", "retry-421"),
        bad={"retry-421-forever": "attempts-bounded"},
        covers=("R-9.1-2", "R-HYG-3"),
    ),
    Case(
        id="9113/9.1/idle-close-next-request",
        level=MAY,
        requirement="§9.1 and RFC 9110 §9.2.2: a server may close an idle connection; when its FIN "
                    "(with TLS close_notify, no GOAWAY) meets the client's next GET on the wire, the "
                    "client may send that GET again on a new connection: whether it did (and the "
                    "transfer succeeded) is reported. The close meets the request on the wire, so "
                    "every client takes the same path whatever its timing.",
        server="Connection 0 answers request 1; when request 2 arrives on it, closes without "
               "answering and without GOAWAY, as a server whose idle timer fired just as the request "
               "crossed it; later connections answer normally.",
        scenario=lambda: Script(respond=lambda conn, req: (
            close() if conn.index == 0 and req.path != "/r/1" else reply())(conn, req)),
        request=TWO,
        expect=Succeeds() & Report("streams_per_connection",
                                   lambda ev: [len(c.streams_opened()) for c in ev.observations.connections]),
        bad={"reuse-stale-connection": "succeeds"},
        covers=("R-9.1-3",),
        level_note="The FIN meets request 2 on the wire, so only RFC 9110 §9.2.2's permission to "
                   "retry (MAY) saves the request; idle-close-seen-before-next-request is R-9.1-3's "
                   "MUST case.",
    ),
    Case(
        id="9113/9.1/idle-close-seen-before-next-request",
        level=MUST,
        requirement="§9.1: a server may close an idle connection; after its FIN (with TLS "
                    "close_notify, no GOAWAY) reached the client, the next request to that origin "
                    "MUST NOT fail: it goes out on a new connection and succeeds.",
        server="SNI localhost gets a certificate for localhost alone, so the request to 127.0.0.1 "
               "between /r/1 and /r/2 needs a connection of its own. When that request arrives, the "
               "server closes the localhost connection, idle since /r/1 (FIN, TLS close_notify, no "
               "GOAWAY), and only then answers it: the FIN is at the client before /r/2.",
        scenario=IdleCloseElsewhere,
        request=IDLE_THEN_ELSEWHERE,
        expect=Exercised("/r/2 was not coalesced onto the 127.0.0.1 connection", _not_coalesced)
        & Succeeds() & Report("requests_per_connection", _paths_per_connection),
        bad={"reuse-stale-connection": "succeeds"},
        covers=("R-9.1-3",),
    ),
    # Connection hygiene: the client's own sockets, counted after the job
    Case(
        id="9113/9.1/connections-closed-after-faults",
        level=MUST,
        requirement="§5.4.1: after its error GOAWAY the client closes the TCP connection, even when "
                    "the server has closed its side first; and after stream errors, a malformed "
                    "response and the server's GOAWAY(PROTOCOL_ERROR) it holds no socket to the "
                    "server once the job is over (R-HYG-1, no keyword: reported).",
        server="Answers /r/1 with RST_STREAM(INTERNAL_ERROR), /r/2 with an uppercase header name, "
               "/r/3 with a PING on its stream (a connection error) and closes as soon as the "
               "client's GOAWAY arrives, /r/4 normally, /r/5 with GOAWAY(PROTOCOL_ERROR) and a "
               "close, /r/6 normally.",
        scenario=lambda: Script(respond=by_path(
            r1=frames(lambda conn, req: F.rst_stream(req.stream, "INTERNAL_ERROR")),
            r2=reply(headers=[("X-Upper", "1")]),
            r3=frames(lambda conn, req: F.ping(b"stream-3", stream=req.stream)),
            r5=seq(frames(lambda conn, req: F.goaway(req.stream, "PROTOCOL_ERROR")), close())),
            close_on_client_goaway=True),
        request=Job(gets(6).requests, timeout_ms=1000, hygiene=True),
        expect=Exercised("the client process outlives the job, so its sockets can be counted", _measured)
        & TransferSucceeds(3) & TransferSucceeds(5)
        & Custom("no socket of the connection the client ended with its GOAWAY is left (§5.4.1)",
                 _closed_after_own_goaway, name="closed-after-own-goaway")
        & Custom("no socket to the server is left after the job (R-HYG-1)",
                 lambda ev: (not ev.client_sockets.get("sockets"), f"{ev.client_sockets.get('sockets')}"),
                 level=MAY, name="no-socket-left")
        & Report("outcomes", _outcomes),
        bad={"keep-open-after-goaway": "closed-after-own-goaway"},
        covers=("R-5.4.1-2", "R-HYG-1"),
    ),
    # §9.1.1: a connection that ended is never used again
    Case(
        id="9113/9.1.1/no-reuse-after-connection-error",
        level=MUST,
        requirement="§9.1.1 and §5.4.1: after a connection error the connection is closed and "
                    "never used again; the next request goes on a new connection.",
        server="Connection 0 answers request 1 with a PING on stream 1 (a connection error "
               "PROTOCOL_ERROR, §6.7), then a valid response, and stays open after the client's "
               "GOAWAY; later connections answer normally.",
        # The server stays open after the client's GOAWAY, so reuse would be seen, not refused.
        scenario=lambda: Script(respond=per_connection(
            seq(frames(lambda conn, req: F.ping(b"stream-1", stream=req.stream)), reply()), reply()),
            close_on_client_goaway=False),
        request=TWO,
        expect=ConnectionError("PROTOCOL_ERROR") & TransferSucceeds(1) & NOT_REUSED
        & Connections(2, why="request 2 needs a new connection"),
        bad={"reuse-after-error": "not-reused-after-end"},
        covers=("R-9.1.1-3", "R-5.4.1-2"),
    ),
    Case(
        id="9113/9.1.1/no-reuse-after-goaway-error",
        level=MUST,
        requirement="§9.1.1 and §6.8: after the server signals a connection error with GOAWAY "
                    "the client opens no new stream on that connection, even while it stays open; "
                    "the completed response stands and the next request uses a new connection.",
        server="Connection 0 follows response 1 with GOAWAY(INTERNAL_ERROR, last=1) and stays "
               "open; later connections answer normally.",
        scenario=goaway_after_response("INTERNAL_ERROR"),
        request=TWO,
        expect=Succeeds() & NOT_REUSED & Connections(2, why="request 2 needs a new connection"),
        bad={"ignore-goaway": "not-reused-after-end"},
        covers=("R-9.1.1-3",),
    ),
    # §9.1.1: reuse across names (coalescing) and certificates that do not fit
    Case(
        id="9113/9.1.1/coalescing-covered",
        level=MUST,
        level_note="R-9.1.1-2 is Y (§9.1.1 lets the client reuse the connection): whether it does is "
                   "reported; the check is that each request carries its own host in :authority "
                   "on whichever connection it goes (§8.3.1), which the host-not-authority "
                   "profile breaks.",
        requirement="§9.1.1: a connection whose certificate also covers another host that resolves "
                    "to the same address MAY be reused for that host; whether the client does is "
                    "reported, and each request names its own host in :authority.",
        server=f"{ORIGIN} and {OTHER} both lead here (the job resolves them); one certificate "
               "covers both names; answers normally.",
        scenario=Script,
        request=TWO_NAMES,
        expect=Succeeds() & Custom("each request carries its own host in :authority",
                                   _authority_per_host, name="authority-per-host")
        & Report("coalesced", _coalesced),
        bad={"host-not-authority": "authority-per-host"},
        covers=("R-9.1.1-2",),
    ),
    Case(
        id="9113/9.1.1/coalescing-not-covered",
        level=MUST,
        requirement="§9.1.1: a connection is reused for another host only if its certificate is "
                    "valid for that host; here it is not, so the second host needs its own "
                    "connection.",
        server=f"{ORIGIN} and {OTHER} both lead here; each SNI name gets a certificate for that "
               "name only; answers normally.",
        scenario=lambda: Script(tls=ServerTls(cert="per-name")),
        request=TWO_NAMES,
        expect=Succeeds() & Custom("no request goes on a connection whose certificate does not "
                                   "name its host", _only_covered_names, name="covered-by-certificate")
        & Report("coalesced", _coalesced),
        bad={"coalesce-by-address": "covered-by-certificate"},
        covers=("R-9.1.1-1",),
    ),
    Case(
        id="9113/9.1.1/certificate-wrong-name",
        level=MUST,
        level_note="No line of its own: RFC 9110 §4.3.4 (a client MUST check that the certificate "
                   "names the origin) is the premise of R-9.1.1-1.",
        requirement="RFC 9110 §4.3.4 with §9.1.1: a certificate that does not name the host fails "
                    "the connection; no HTTP/2 goes over it.",
        server="Presents a certificate (from the trusted CA) for wrong.h2cs.test only.",
        scenario=lambda: Script(tls=ServerTls(cert="wrong-name")),
        request=get(),
        expect=Fails("tls") & Custom("no HTTP/2 over the connection", _no_http2, name="no-h2"),
        bad={"no-verify": "transfer-fails"},
        covers=("R-9.1.1-1",),
    ),
    Case(
        id="9113/9.1.1/certificate-unknown-ca",
        level=MUST,
        level_note="No line of its own: RFC 9110 §4.3.4 (a client MUST check the certificate "
                   "chain) is the premise of R-9.1.1-1.",
        requirement="RFC 9110 §4.3.4 with §9.1.1: a certificate from a CA the client does not "
                    "trust fails the connection; no HTTP/2 goes over it.",
        server="Presents a certificate for 127.0.0.1 issued by a CA outside the job's ca_file.",
        scenario=lambda: Script(tls=ServerTls(cert="unknown-ca")),
        request=get(),
        expect=Fails("tls") & Custom("no HTTP/2 over the connection", _no_http2, name="no-h2"),
        bad={"no-verify": "transfer-fails"},
        covers=("R-9.1.1-1",),
    ),
    # §9.2: TLS
    Case(
        id="9113/9.2/tls-12-or-newer",
        level=MUST,
        requirement="§9.2: HTTP/2 over TLS MUST use TLS 1.2 or newer; against a server that offers "
                    "only TLS 1.0 and 1.1 with ALPN h2 the client never speaks HTTP/2.",
        server="Offers TLS 1.0 and 1.1 only (security level 0), ALPN h2; answers normally over "
               "whatever the client accepts.",
        scenario=lambda: Script(tls=ServerTls(versions=("TLSv1", "TLSv1.1"))),
        request=get(),
        expect=Custom("no HTTP/2 on a connection below TLS 1.2", _no_h2_below_12, name="tls-12-or-newer")
        & Report("tls_refusal", _tls_refusal),
        bad={"tls-max-1.1": "tls-12-or-newer"},
        covers=("R-9.2-1",),
    ),
    Case(
        id="9113/9.2/tls-12-only-server",
        level=MUST,
        requirement="§9.2: TLS 1.2 is allowed for HTTP/2; a client MUST be able to use h2 with a "
                    "server that offers no newer TLS version.",
        server="Caps TLS at version 1.2 and answers normally over h2.",
        scenario=lambda: Script(tls_max_version="TLSv1_2"),
        request=get(),
        expect=Succeeds() & Custom("the connection uses TLS 1.2 with ALPN h2", _tls_12_h2, name="tls-12-with-h2"),
        bad={"tls13-only": "tls-12-with-h2"},
        covers=("R-9.2-2",),
        level_note="R-9.2-2 is Y (§9.2 allows TLS 1.2 but does not make a client support it); both "
                   "checks, the one tls13-only breaks, stand on this line alone.",
    ),
    Case(
        id="9113/9.2/no-ip-literal-sni",
        level=MUST,
        requirement="§9.2 with RFC 6066 §3: the client sends SNI for host names, but an IP "
                    "literal is never a valid server_name, so for an IP-address URL it sends none.",
        server="Answers normally on https://127.0.0.1 and records the ClientHello's server_name.",
        scenario=lambda: Script(),
        request=get(),
        expect=Succeeds() & Custom("no connection carries an IP address as SNI", _no_ip_sni, name="no-ip-sni")
        & Report("sni", _sni),
        bad={"ip-sni": "no-ip-sni"},
        covers=("R-9.2-4",),
        level_note="R-9.2-4 is Y (RFC 6066 §3 forbids IP literals in server_name without a keyword); "
                   "ip-sni breaks only the SNI check.",
    ),
    Case(
        id="9113/9.2/sni-host-name",
        level=MUST,
        requirement="§9.2: a client that reaches the server by a host name sends that name in the "
                    "server_name extension (RFC 6066).",
        server="Serves https://origin.h2cs.test (the job resolves it to 127.0.0.1) with a "
               "certificate for that name; records the ClientHello's server_name.",
        scenario=Script,
        request=Job((Req(),), resolve=ORIGIN),
        expect=Succeeds() & Custom(f"every connection carries SNI {ORIGIN}", _sni_is_host, name="sni-host"),
        bad={"no-sni": "sni-host"},
        covers=("R-9.2-3",),
    ),
    Case(
        id="9113/9.2.1/renegotiation",
        level=MUST,
        requirement="§9.2.1: a client MUST treat a TLS 1.2 renegotiation as a connection error "
                    "PROTOCOL_ERROR; refusing it at the TLS layer also keeps the requirement, "
                    "completing it and carrying on over HTTP/2 does not.",
        server="TLS 1.2 only; after the request, a HelloRequest, then a valid response (held "
               "until a renegotiation the client starts has completed).",
        scenario=lambda: tls_action_then_reply(TLS12, "renegotiate"),
        request=get(),
        expect=Exercised("the server sent its HelloRequest", _hello_request_sent)
        & Custom("the client never carries on over a renegotiated connection", _no_renegotiation,
                 name="no-renegotiation"),
        bad={"allow-renegotiation": "no-renegotiation"},
        covers=("R-9.2.1-1",),
    ),
    Case(
        id="9113/9.2.2/block-listed-cipher",
        level=MUST,
        level_note="R-9.2.2-1 is Y (the client MAY end the connection with INADEQUATE_SECURITY); "
                   "the case reports which reaction it picked and holds it to that reaction's "
                   "MUSTs: a connection error closes the connection (§5.4.1).",
        requirement="§9.2.2: over TLS 1.2 with a cipher suite from the block list the client MAY "
                    "treat the connection as a connection error INADEQUATE_SECURITY; refusing "
                    "the handshake or going on are its choice too (reported).",
        server="TLS 1.2 only, with block-listed cipher suites only (ECDHE with CBC); answers normally.",
        scenario=lambda: Script(tls=ServerTls(versions=("TLSv1.2", "TLSv1.2"), ciphers=BLOCK_LISTED)),
        request=get(),
        expect=AnyOf(ConnectionError("INADEQUATE_SECURITY"), Fails("tls"), Succeeds(),
                     why="§9.2.2 lets the client end the connection (INADEQUATE_SECURITY); it may "
                         "also refuse the suite in the handshake or go on")
        & Report("cipher_reaction", _cipher_reaction),
        bad={"keep-open-after-goaway": "closes-after-goaway"},
        covers=("R-9.2.2-1",),
    ),
    Case(
        id="9113/9.2.2/allowed-cipher",
        level=MUST,
        requirement="§9.2.2: a client never treats a TLS 1.2 cipher suite that is not on the block "
                    "list as INADEQUATE_SECURITY.",
        server=f"TLS 1.2 only, with {ALLOWED} only (not on the block list); answers normally.",
        scenario=lambda: Script(tls=ServerTls(versions=("TLSv1.2", "TLSv1.2"), ciphers=ALLOWED)),
        request=get(),
        expect=Succeeds() & NotSent("GOAWAY", "GOAWAY(INADEQUATE_SECURITY)",
                                    lambda f: f.error_code == "INADEQUATE_SECURITY",
                                    name="no-inadequate-security"),
        bad={"inadequate-security-always": "no-inadequate-security"},
        covers=("R-9.2.2-2",),
    ),
    Case(
        id="9113/9.2.3/post-handshake-certificate-request",
        level=MUST,
        requirement="§9.2.3: a client MUST treat a TLS 1.3 post-handshake CertificateRequest as a "
                    "connection error PROTOCOL_ERROR, even when it offered post-handshake auth. "
                    "Without that offer the server cannot send one: not exercised.",
        server="TLS 1.3 only; after the request, a post-handshake CertificateRequest (when the "
               "client offered post_handshake_auth), then a valid response.",
        scenario=lambda: tls_action_then_reply(TLS13, "certificate-request"),
        request=get(),
        expect=Exercised("the client offered post_handshake_auth, so the CertificateRequest went out",
                         _certificate_request_sent) & ConnectionError("PROTOCOL_ERROR"),
        bad={"accept-certificate-request": "transfer-fails"},
        covers=("R-9.2.3-1",),
    ),
]
