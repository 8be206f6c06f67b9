"""TLS session resumption across connections (RFC 8446 §2.2 and §4.6.1; RFC 5077).

The job makes two sequential requests, each on a new connection, with one shared TLS
session cache. What the second ClientHello carried and whether the server resumed come
from `observations.connections[1].tls`.
"""
from conformance.case import MAY, MUST, Case, Job, Req
from conformance.verdicts import Connections, Custom, Exercised, Report, Succeeds
from servers.scenario import Script

TWO_FRESH = Job((Req("/r/1"), Req("/r/2")), connection="fresh", tls_session_cache="shared")
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


REPORTS = (tls_fact("ticket_offered") & tls_fact("resumed") & tls_fact("version")
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
]
