"""RFC 9113 §6.6 PUSH_PROMISE (and §8.4 server push)."""
from conformance.case import MUST, Case
from conformance.verdicts import AnyOf, ConnectionError, NotSent, Report, Sent, Succeeds
from servers import frames as F
from servers.scenario import Script, reply


def disabled_push(f) -> bool:
    return not f.has("ACK") and ("ENABLE_PUSH", 0) in (f.settings or [])


def promise_then_reply():
    """Before the response: PUSH_PROMISE on the request stream promising stream 2 for a GET."""
    def respond(conn, req):
        authority = req.header(":authority") or "localhost"
        block = conn.block([(":method", "GET"), (":scheme", req.header(":scheme") or "https"),
                            (":authority", authority), (":path", "/pushed.css")])
        conn.send(F.push_promise(req.stream, 2, block))
        reply()(conn, req)
    return Script(respond=respond)


PUSH_OFF = "client SETTINGS with ENABLE_PUSH=0"

CASES = [
    Case(
        id="9113/6.6/push-promise-push-disabled",
        level=MUST,
        requirement="§6.6 and §8.4: a client that announced SETTINGS_ENABLE_PUSH=0 MUST treat a "
                    "PUSH_PROMISE as a connection error of type PROTOCOL_ERROR. The case first checks "
                    "that the client did disable push (libcurl does unless an application push "
                    "callback is set); a client that left push enabled must instead accept the valid "
                    "promise and complete the transfer.",
        server="Sends a valid PUSH_PROMISE (stream 2, GET /pushed.css) on the request stream, then a "
               "normal response.",
        scenario=promise_then_reply,
        expect=AnyOf(Sent("SETTINGS", PUSH_OFF, disabled_push) & ConnectionError("PROTOCOL_ERROR"),
                     NotSent("SETTINGS", PUSH_OFF, disabled_push) & Succeeds(),
                     why="§8.4: a PUSH_PROMISE is an error only if the client disabled push")
        & Report("push_disabled",
                 lambda ev: any(disabled_push(f) for f in ev.observations.frames("SETTINGS"))),
        bad={"naive": "not-sent-settings"},
        covers=("R-6.6-1",),
    ),
]
