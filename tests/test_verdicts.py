"""The shared expectations on hand-built evidence: exact frames in, exact verdicts out."""
from __future__ import annotations

from conformance.case import MUST, SHOULD
from conformance.verdicts import (AnyOf, ConnectionError, Connections, Exercised, Ignored, NotSent,
                                  Outcome, Retried, Sent, StreamError, Succeeds, combine)
from conformance.verdicts.verdict import ClientOutcome, Evidence, sha256
from servers import frames as F
from servers.observations import Connection, Observations
from servers.scenario import BODY
from servers.wire import FrameReader
from hpack import Encoder

REQUEST = Encoder().encode([(":method", "GET"), (":path", "/"), (":scheme", "https"),
                            (":authority", "x")])
OK = ClientOutcome(ok=True, status=200, http_version="2", body_len=len(BODY), body_sha256=sha256(BODY))
FAILED = ClientOutcome(ok=False, error={"class": "http2", "name": "CURLE_HTTP2", "message": "boom"})
TIMED_OUT = ClientOutcome(ok=False, error={"class": "timeout", "name": "CURLE_OPERATION_TIMEDOUT"})


def evidence(*client_frames: bytes, outcome=OK, connections: int = 1) -> Evidence:
    obs = Observations()
    for i in range(connections):
        c = Connection(i, True)
        reader = FrameReader()
        c.received = reader.feed(F.headers(1, REQUEST, end_stream=True) + b"".join(client_frames))
        obs.connections.append(c)
    return Evidence([outcome], obs)


def verdict(expect, ev, level=MUST):
    return combine(expect.judge(ev), level, {})


def test_connection_error_needs_failure_and_the_right_goaway():
    exp = ConnectionError("PROTOCOL_ERROR")
    assert verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED)).outcome is Outcome.PASS
    wrong = verdict(exp, evidence(F.goaway(0, "INTERNAL_ERROR"), outcome=FAILED))
    assert (wrong.outcome, wrong.level, wrong.actual) == (Outcome.FAIL, MUST, "client sent GOAWAY(INTERNAL_ERROR)")
    silent = verdict(exp, evidence(outcome=FAILED))
    assert (silent.outcome, silent.level) == (Outcome.FAIL, SHOULD)
    accepted = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=OK))
    assert accepted.outcome is Outcome.FAIL and accepted.level is MUST
    waited = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=TIMED_OUT))
    assert waited.outcome is Outcome.FAIL and "timeout" in waited.actual


def test_stream_error_accepts_rst_or_goaway_with_the_code():
    exp = StreamError("PROTOCOL_ERROR")
    assert verdict(exp, evidence(F.rst_stream(1, "PROTOCOL_ERROR"), outcome=FAILED)).outcome is Outcome.PASS
    assert verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED)).outcome is Outcome.PASS
    other_stream = verdict(exp, evidence(F.rst_stream(3, "PROTOCOL_ERROR"), outcome=FAILED))
    assert other_stream.level is SHOULD
    cancel = verdict(exp, evidence(F.rst_stream(1, "CANCEL"), outcome=FAILED))
    assert cancel.outcome is Outcome.FAIL and cancel.level is SHOULD
    wrong = verdict(exp, evidence(F.rst_stream(1, "STREAM_CLOSED"), outcome=FAILED))
    assert wrong.level is MUST


def test_succeeds_checks_status_and_exact_body():
    assert verdict(Succeeds(), evidence()).outcome is Outcome.PASS
    short = ClientOutcome(ok=True, status=200, body_len=3, body_sha256=sha256(b"hel"))
    v = verdict(Succeeds(), evidence(outcome=short))
    assert v.outcome is Outcome.FAIL and "body differs" in v.actual
    assert verdict(Succeeds(status=204, body=None), evidence()).outcome is Outcome.FAIL


def test_ignored_rejects_error_frames_but_not_cancel():
    assert verdict(Ignored(), evidence(F.rst_stream(1, "CANCEL"))).outcome is Outcome.PASS
    assert verdict(Ignored(), evidence(F.goaway(0, "PROTOCOL_ERROR"))).outcome is Outcome.FAIL


def test_sent_and_not_sent_match_exact_frames():
    ack = Sent("SETTINGS", "SETTINGS ACK", lambda f: f.has("ACK"))
    assert verdict(ack, evidence(F.settings_ack())).outcome is Outcome.PASS
    assert verdict(ack, evidence(F.settings({}))).outcome is Outcome.FAIL
    no_ping = NotSent("PING", "a PING")
    assert verdict(no_ping, evidence(F.ping(b"abcdefgh"))).outcome is Outcome.FAIL


def test_connection_counts_and_bounded_retries():
    assert verdict(Connections(2), evidence(connections=2)).outcome is Outcome.PASS
    assert verdict(Connections(2), evidence(connections=1)).outcome is Outcome.FAIL
    info: dict = {}
    ev = evidence(connections=4)
    Retried(2).note(ev, info)
    assert verdict(Retried(2), ev).outcome is Outcome.FAIL and info == {"retried": True, "connections": 4}
    assert verdict(Retried(3), ev).outcome is Outcome.PASS


def test_any_of_passes_on_one_allowed_reaction_and_reports_the_closest():
    exp = AnyOf(Succeeds(), ConnectionError("PROTOCOL_ERROR"), why="test")
    assert verdict(exp, evidence()).outcome is Outcome.PASS
    assert verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED)).outcome is Outcome.PASS
    v = verdict(exp, evidence(outcome=TIMED_OUT))
    assert v.outcome is Outcome.FAIL and "one of 2 allowed reactions" in v.expected


def test_should_level_case_fails_at_should():
    v = verdict(Sent("PING", "a PING"), evidence(), level=SHOULD)
    assert (v.outcome, v.level, v.label) == (Outcome.FAIL, SHOULD, "FAIL-SHOULD")


def test_a_scenario_that_never_reached_the_behaviour_is_not_exercised():
    """A failed precondition wins over every other check: neither PASS nor FAIL."""
    reached = Exercised("a ticket was offered", lambda ev: (True, "offered"))
    missed = Exercised("a ticket was offered", lambda ev: (False, "no ticket offered"))
    assert verdict(reached & Succeeds(), evidence()).outcome is Outcome.PASS
    assert verdict(reached & Succeeds(), evidence(outcome=FAILED)).outcome is Outcome.FAIL
    for outcome in (OK, FAILED):
        v = verdict(missed & Succeeds(), evidence(outcome=outcome))
        assert (v.outcome, v.label, v.reason) == (Outcome.NOT_EXERCISED, "NOT-EXERCISED", "no ticket offered")
