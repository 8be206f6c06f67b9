"""Negative controls: every case PASSes each conforming scripted client with every check held,
and FAILs each misbehaving one on the check tied to its requirement (Case.bad names it). A
check judged at MAY level only reports: its misbehaving control leaves it unmet."""
from __future__ import annotations

import pytest

from conformance import catalog
from conformance.case import MAY
from conformance.runner import failure_report, run_case
from conformance.verdicts.expect import All, AnyOf, ConnectionError, StreamError
from conformance.verdicts.verdict import Outcome

CASES = catalog.load_all()


def _parts(expect):
    """The expectations that every client must meet (AnyOf options are alternatives)."""
    if isinstance(expect, All):
        return [p for part in expect.parts for p in _parts(part)]
    return [] if isinstance(expect, AnyOf) else [expect]


def allowed_reactions(case) -> list[str]:
    """Scripted clients for the reactions RFC 9113 allows besides the usual one: each must PASS.
    A connection error may carry a generic code (§5.4) and, after an invalid server preface,
    come without GOAWAY (§3.4); a stream error may be escalated to a connection error (§5.4.2).
    They vary the "good" profile, so a case exercised only by another profile gets none."""
    if "good" not in case.good:
        return []
    extra: list[str] = []
    for p in _parts(case.expect):
        if isinstance(p, (ConnectionError, StreamError)):
            extra.append("generic-code")
        if isinstance(p, ConnectionError) and p.goaway_optional:
            extra.append("no-goaway")
        if isinstance(p, StreamError):
            extra.append("stream-as-connection")
    return [b for b in dict.fromkeys(extra) if b not in case.good]


GOOD = [(cid, name) for cid, case in CASES.items() for name in (*case.good, *allowed_reactions(case))]
BAD = [(cid, name) for cid, case in CASES.items() for name in case.bad]


@pytest.mark.parametrize("case_id,behaviour", GOOD, ids=[f"{c}|{b}" for c, b in GOOD])
def test_behaving_client_passes_every_check(case_id, behaviour, servers, scripted):
    result = run_case(CASES[case_id], servers, scripted(behaviour), f"scripted-{behaviour}")
    v = result.verdict
    unmet = [c.name for c in v.checks if not c.passed]
    assert v.outcome is Outcome.PASS and not unmet, (
        f"{behaviour} client should PASS with every check held; got {v.label}, "
        f"unmet checks {unmet}\n" + failure_report(result))


@pytest.mark.parametrize("case_id,behaviour", BAD, ids=[f"{c}|{b}" for c, b in BAD])
def test_misbehaving_client_fails_its_check(case_id, behaviour, servers, scripted):
    case = CASES[case_id]
    result = run_case(case, servers, scripted(behaviour), f"scripted-{behaviour}")
    v, want = result.verdict, case.bad[behaviour]
    named = [c for c in v.checks if c.name == want]
    if named and all(c.level_or(case.level) is MAY for c in named):   # reported, never failed
        assert v.outcome is not Outcome.NOT_EXERCISED and not all(c.passed for c in named), (
            f"{behaviour} client should leave the reported check {want!r} unmet; got {v.label}\n"
            + failure_report(result))
        return
    assert v.outcome is Outcome.FAIL and want in v.failed_checks, (
        f"{behaviour} client should FAIL on check {want!r}; got {v.label} failing "
        f"{v.failed_checks}\n" + failure_report(result))


def test_every_case_has_both_controls():
    for cid, case in CASES.items():
        assert case.good and case.bad, f"{cid} lacks a negative control"
