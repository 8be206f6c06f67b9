"""RFC 9113 §6.6 PUSH_PROMISE (and §8.4 server push)."""
from conformance.case import MUST, Case
from conformance.verdicts import ConnectionError, Exercised
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


CASES = [
    Case(
        id="9113/6.6/push-promise-push-disabled",
        level=MUST,
        requirement="§6.6 and §8.4: a client that announced SETTINGS_ENABLE_PUSH=0 MUST treat a "
                    "PUSH_PROMISE as a connection error of type PROTOCOL_ERROR. A client that left "
                    "push enabled is not exercised (R-6.6-4 judges a push it accepts).",
        server="Sends a valid PUSH_PROMISE (stream 2, GET /pushed.css) on the request stream, then a "
               "normal response.",
        scenario=promise_then_reply,
        expect=Exercised("the client sent SETTINGS_ENABLE_PUSH=0", lambda ev: (
            any(disabled_push(f) for f in ev.observations.frames("SETTINGS")),
            "client SETTINGS: " + "; ".join(f.describe() for f in ev.observations.frames("SETTINGS")
                                            if not f.has("ACK"))))
        & ConnectionError("PROTOCOL_ERROR"),
        bad={"naive": "transfer-fails"},
        covers=("R-6.6-1",),
    ),
]
