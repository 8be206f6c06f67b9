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


def evidence(*client_frames: bytes, outcome=OK, connections: int = 1, closed_by="client",
             outcomes=None) -> Evidence:
    obs = Observations()
    for i in range(connections):
        c = Connection(i, True, closed_by=closed_by)
        reader = FrameReader()
        c.received = reader.feed(F.headers(1, REQUEST, end_stream=True) + b"".join(client_frames))
        for seq, f in enumerate(c.received):
            f.seq = seq
        obs.connections.append(c)
    return Evidence(outcomes or [outcome], obs)


def verdict(expect, ev, level=MUST):
    return combine(expect.judge(ev), level, {})


def failing(v) -> tuple:
    return v.outcome, v.level, v.failed_checks


def test_connection_error_goaway_is_a_should_with_generic_codes_allowed():
    """The CE legend: the named code or PROTOCOL_ERROR/INTERNAL_ERROR meet the SHOULD; another
    code or no GOAWAY fail it at SHOULD; last-stream-id must be 0 with no pushed stream."""
    exp = ConnectionError("FLOW_CONTROL_ERROR")
    for code in ("FLOW_CONTROL_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR"):
        assert verdict(exp, evidence(F.goaway(0, code), outcome=FAILED)).outcome is Outcome.PASS
    wrong = verdict(exp, evidence(F.goaway(0, "STREAM_CLOSED"), outcome=FAILED))
    assert failing(wrong) == (Outcome.FAIL, SHOULD, ["goaway-code"])
    silent = verdict(exp, evidence(outcome=FAILED))
    assert failing(silent) == (Outcome.FAIL, SHOULD, ["goaway-code"])
    last = verdict(exp, evidence(F.goaway(1, "PROTOCOL_ERROR"), outcome=FAILED))
    assert failing(last) == (Outcome.FAIL, SHOULD, ["goaway-last-stream"])


def test_connection_error_goaway_may_be_left_out_after_a_bad_preface():
    exp = ConnectionError("PROTOCOL_ERROR", goaway_optional=True)
    assert verdict(exp, evidence(outcome=FAILED)).outcome is Outcome.PASS


def test_connection_error_musts_fail_the_transfer_close_and_open_nothing_more():
    exp = ConnectionError("PROTOCOL_ERROR")
    accepted = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=OK))
    assert failing(accepted) == (Outcome.FAIL, MUST, ["transfer-fails"])
    waited = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=TIMED_OUT))
    assert failing(waited) == (Outcome.FAIL, MUST, ["closes-after-goaway"])
    assert "held the connection until its own timeout" in waited.actual
    silent_wait = verdict(exp, evidence(outcome=TIMED_OUT))
    assert "transfer-fails" in silent_wait.failed_checks
    open_ = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED,
                                  closed_by="nobody (still open when the case ended)"))
    assert failing(open_) == (Outcome.FAIL, MUST, ["closes-after-goaway"])
    reused = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), F.headers(3, REQUEST, end_stream=True),
                                   outcome=FAILED))
    assert failing(reused) == (Outcome.FAIL, MUST, ["no-stream-after-goaway"])
    server_closed = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED, closed_by="server"))
    assert server_closed.outcome is Outcome.PASS


def test_stream_error_accepts_rst_with_the_code_a_generic_one_or_a_connection_error():
    exp = StreamError("STREAM_CLOSED")
    for frame in (F.rst_stream(1, "STREAM_CLOSED"), F.rst_stream(1, "PROTOCOL_ERROR"),
                  F.goaway(0, "STREAM_CLOSED"), F.goaway(0, "INTERNAL_ERROR")):
        assert verdict(exp, evidence(frame, outcome=FAILED)).outcome is Outcome.PASS
    wrong = verdict(exp, evidence(F.rst_stream(1, "FLOW_CONTROL_ERROR"), outcome=FAILED))
    assert failing(wrong) == (Outcome.FAIL, MUST, ["rst-code"])
    other_stream = verdict(exp, evidence(F.rst_stream(3, "STREAM_CLOSED"), outcome=FAILED))
    assert failing(other_stream) == (Outcome.FAIL, SHOULD, ["rst-code"])
    cancel = verdict(exp, evidence(F.rst_stream(1, "CANCEL"), outcome=FAILED))
    assert failing(cancel) == (Outcome.FAIL, SHOULD, ["rst-code"])
    escalated_open = verdict(exp, evidence(F.goaway(0, "PROTOCOL_ERROR"), outcome=FAILED, closed_by=None))
    assert failing(escalated_open) == (Outcome.FAIL, MUST, ["closes-after-goaway"])


def test_stream_error_reports_siblings_killed_without_a_connection_error():
    exp = StreamError("PROTOCOL_ERROR")
    ev = evidence(F.rst_stream(1, "PROTOCOL_ERROR"), F.rst_stream(3, "CANCEL"), outcomes=[FAILED, FAILED])
    info: dict = {}
    exp.note(ev, info)
    assert info["siblings"] == {"completed": 0, "failed": 1, "escalated": False,
                                "killed_without_connection_error": True}
    info = {}
    exp.note(evidence(F.rst_stream(1, "PROTOCOL_ERROR"), outcomes=[FAILED, OK]), info)
    assert info["siblings"]["completed"] == 1 and not info["siblings"]["killed_without_connection_error"]


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
