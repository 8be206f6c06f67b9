"""TLS session resumption across connections (RFC 8446 §2.2 and §4.6.1; RFC 5077; RFC 5246).

The job makes two sequential requests, each on a new connection, with one shared TLS
session cache. What the second ClientHello carried and whether the server resumed come
from `observations.connections[1].tls`. Builds differ in what they offer (libcurl 7.88 stops
offering its TLS 1.3 ticket once the first handle is closed; 8.x does not): the verdict's info
shows it as a fact, and a rejection for which nothing was offered is not exercised.
"""
from conformance.case import MAY, MUST, Case, Job, Req
from conformance.verdicts import Connections, Custom, Exercised, Report, Succeeds
from servers.openssl_tls import ServerTls
from servers.scenario import Script

TWO_FRESH = Job((Req("/r/1"), Req("/r/2")), connection="fresh", tls_session_cache="shared")
FIRST_HANDLE_CLOSED = Job((Req("/r/1"), Req("/r/2")), connection="fresh", tls_session_cache="shared",
                          handles="closed")
TWO_SEPARATE = Job((Req("/r/1"), Req("/r/2")), connection="fresh", tls_session_cache="separate")
TLS12 = ("TLSv1.2", "TLSv1.2")
NEEDS = frozenset({"h2", "tls-session-cache"})


def second_tls(ev):
    conns = ev.observations.connections
    return conns[1].tls if len(conns) > 1 and conns[1].tls else None


def tls_fact(name):
    return Report(f"second_connection_{name}", lambda ev: getattr(second_tls(ev), name, None))


def not_resumed(ev):
    tls = second_tls(ev)
    if tls is None:
        return False, "SCENARIO BROKEN: no second TLS connection to look at"
    if tls.resumed:
        return False, ("SCENARIO BROKEN: the server resumed a session although its ticket keys "
                       "were rotated, so the rejection path was never exercised")
    return True, f"the second handshake was a full one (ticket offered: {tls.ticket_offered})"


def ticket_offered(ev):
    tls = second_tls(ev)
    offered = bool(tls and tls.ticket_offered)
    return offered, ("the second ClientHello offered a ticket/PSK" if offered else
                     "the second ClientHello offered no ticket or PSK, so there was nothing to reject")


def session_id_offered(ev):
    """TLS 1.2 resumption by ID (RFC 5246 §7.4.1.2): the second ClientHello names the session
    the server gave the first connection."""
    conns = ev.observations.connections
    first, second = (conns[0].tls, conns[1].tls) if len(conns) > 1 else (None, None)
    offered = bool(first and second and first.server_session_id
                   and second.session_id == first.server_session_id)
    return offered, ("the second ClientHello offered the first connection's session ID" if offered
                     else "the second ClientHello offered no session ID of ours")


def ticket_or_session_id_offered(ev):
    ticket, id_ = ticket_offered(ev), session_id_offered(ev)
    return ticket[0] or id_[0], f"{ticket[1]}; {id_[1]}"


def _not_offered(ev):
    tls = second_tls(ev)
    return {"ticket_offered": bool(tls and tls.ticket_offered),
            "session_id_of_first_offered": session_id_offered(ev)[0]}


REPORTS = (tls_fact("ticket_offered") & tls_fact("resumed") & tls_fact("version")
           & Report("second_connection_session_id_offered", lambda ev: session_id_offered(ev)[0])
           & Report("first_connection_version",
                    lambda ev: ev.observations.connections[0].tls.version
                    if ev.observations.connections and ev.observations.connections[0].tls else None))
TWO_CONNECTIONS = Connections(2, why="the job asks for a new connection per request", level=MUST)

CASES = [
    Case(
        id="tls/resumption/ticket-accepted",
        level=MAY,
        requirement="RFC 8446 §2.2: a client that shares its session cache between connections "
                    "MAY offer the ticket it got on the first connection and resume; whether it "
                    "offered and resumed is reported. Both transfers MUST succeed on two connections.",
        server="Issues session tickets with the same keys on every connection (resumption works).",
        scenario=Script,
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Succeeds(level=MUST) & TWO_CONNECTIONS & REPORTS,
        bad={"ignore-fresh": "connections"},
        regression="curl#3202",
        covers=("R-TLS-1", "R-TLS-3"),
    ),
    Case(
        id="tls/resumption/ticket-rejected",
        level=MUST,
        requirement="RFC 8446 §4.6.1 / RFC 5077 §3.3: when the server cannot use the offered ticket "
                    "(its keys rotated) the client MUST complete a full handshake and the transfer "
                    "MUST succeed; whether a ticket was offered is reported.",
        server="Uses a fresh TLS context, so fresh ticket keys, on every connection: every ticket is rejected.",
        scenario=lambda: Script(rotate_ticket_keys=True),
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Exercised("the client offered a ticket that the server could reject", ticket_offered)
        & Succeeds() & TWO_CONNECTIONS
        & Custom("the second connection does not resume (the scenario rejects every ticket)",
                 not_resumed, name="not-resumed")
        & REPORTS,
        bad={"require-resumption": "succeeds"},
        regression="curl#7222",
        covers=("R-TLS-2",),
    ),
    Case(
        id="tls/resumption/tls12-ticket",
        level=MAY,
        requirement="RFC 5077 §3.1: over TLS 1.2 a client that shares its session cache MAY offer "
                    "the ticket it got on the first connection; whether it offered and resumed is "
                    "reported. Both transfers MUST succeed on two connections.",
        server="TLS 1.2 only; issues RFC 5077 session tickets with the same keys on every connection.",
        scenario=lambda: Script(tls_max_version="TLSv1_2"),
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Succeeds(level=MUST) & TWO_CONNECTIONS & REPORTS,
        bad={"ignore-fresh": "connections"},
        covers=("R-TLS-1",),
    ),
    Case(
        id="tls/resumption/tls12-session-id",
        level=MAY,
        requirement="RFC 5246 §7.4.1.2: over TLS 1.2 without tickets a client MAY resume by "
                    "offering the session ID of its first connection; whether it offered and "
                    "resumed is reported. Both transfers MUST succeed on two connections.",
        server="TLS 1.2 only, no session tickets; resumes sessions by ID from its own cache.",
        scenario=lambda: Script(tls=ServerTls(versions=TLS12, tickets=False)),
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Succeeds(level=MUST) & TWO_CONNECTIONS & REPORTS,
        bad={"ignore-fresh": "connections"},
        covers=("R-TLS-1",),
    ),
    Case(
        id="tls/resumption/tls12-ticket-rejected",
        level=MUST,
        requirement="RFC 5077 §3.3 and RFC 5246 §7.4.1.2: when a TLS 1.2 server cannot use the "
                    "offered ticket or session ID (keys and cache are new) the client MUST complete "
                    "a full handshake and the transfer MUST succeed; what was offered is reported.",
        server="TLS 1.2 only; a fresh TLS context (new ticket keys, empty session cache) on every "
               "connection.",
        scenario=lambda: Script(tls_max_version="TLSv1_2", rotate_ticket_keys=True),
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Exercised("the client offered a ticket or a session ID that the server could reject",
                         ticket_or_session_id_offered)
        & Succeeds() & TWO_CONNECTIONS
        & Custom("the second connection does not resume (the scenario rejects every ticket)",
                 not_resumed, name="not-resumed")
        & REPORTS,
        bad={"require-resumption": "succeeds"},
        covers=("R-TLS-2",),
    ),
    Case(
        id="tls/resumption/tickets-switched-off",
        level=MUST,
        requirement="RFC 8446 §2.2: a server may decline to resume; when it has switched tickets "
                    "off since it issued the client's ticket, the client MUST complete a full "
                    "handshake and the transfer MUST succeed.",
        server="TLS 1.3; the first connection issues a ticket, the second has tickets switched off "
               "(neither accepted nor issued).",
        scenario=lambda: Script(tls=ServerTls(tickets_after_first=False)),
        request=TWO_FRESH,
        needs=NEEDS,
        expect=Exercised("the client offered a ticket that the server could reject", ticket_offered)
        & Succeeds() & TWO_CONNECTIONS
        & Custom("the second connection does not resume (tickets are off there)",
                 not_resumed, name="not-resumed")
        & REPORTS,
        bad={"require-resumption": "succeeds"},
        covers=("R-TLS-2",),
    ),
    Case(
        id="tls/resumption/first-handle-closed",
        level=MAY,
        requirement="RFC 8446 §2.2: a client whose application closes the first handle before "
                    "the next transfer, keeping only the shared session cache, MAY still offer the "
                    "ticket; whether it offered and resumed is reported. Both transfers MUST succeed.",
        server="TLS 1.3; issues session tickets with the same keys on every connection.",
        scenario=Script,
        request=FIRST_HANDLE_CLOSED,
        needs=NEEDS,
        expect=Succeeds(level=MUST) & TWO_CONNECTIONS & REPORTS,
        bad={"ignore-fresh": "connections"},
        covers=("R-TLS-1", "R-TLS-3"),
    ),
    Case(
        id="tls/resumption/cache-not-shared",
        level=MUST,
        requirement="RFC 8446 §2.2: when the application gives each transfer its own session "
                    "cache (a reset cache), the next connection does a full handshake and the "
                    "transfer MUST succeed; whether anything was offered anyway is reported.",
        server="TLS 1.3; issues session tickets with the same keys on every connection.",
        scenario=Script,
        request=TWO_SEPARATE,
        needs=NEEDS,
        expect=Succeeds() & TWO_CONNECTIONS & Report("offered_without_shared_cache", _not_offered),
        bad={"ignore-fresh": "connections"},
        covers=("R-TLS-3",),
    ),
]
