"""What the server side alone can judge of a case, for `python -m servers serve`.

A case's expectation reads what the mock server saw and the outcomes the client
reports. A client driven by hand reports nothing, so the expectation is judged
under several made-up reports (a success, an error status, a protocol error, a
timeout): a check that comes out the same under every one of them rests on what
the server saw alone and is judged; one that changes needs the client's report
and is listed as not judged.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from servers.observations import Observations
from servers.scenario import BODY

from .expect import All
from .verdict import Check, ClientOutcome, Evidence, Verdict, combine, sha256


def _made_up_reports(n: int) -> list[list[ClientOutcome]]:
    def failed(error_class: str) -> ClientOutcome:
        return ClientOutcome(False, {"code": None, "name": "MADE_UP", "class": error_class,
                                     "message": "a made-up report"})
    one = [ClientOutcome(True, None, 200, "2", [["content-type", "text/plain"]], len(BODY), sha256(BODY)),
           ClientOutcome(True, None, 503, "1.1", [], 0, sha256(b"")),
           failed("http2"), failed("timeout")]
    return [[outcome] * n for outcome in one]


@dataclass
class ServerSideVerdict:
    verdict: Verdict | None                 # None: every check needs the client's report
    judged: list[Check] = field(default_factory=list)
    not_judged: list[str] = field(default_factory=list)   # what each unjudged check expects
    info: dict = field(default_factory=dict)


def judge(case, observations: Observations) -> ServerSideVerdict:
    expect = case.expect
    reports = [Evidence(r, observations) for r in _made_up_reports(len(case.request.requests))]
    result = ServerSideVerdict(None)
    for part in expect.parts if isinstance(expect, All) else [expect]:
        runs = [_checks(part, ev) for ev in reports]
        if None in runs or len({len(r) for r in runs}) != 1:
            result.not_judged.append(_describe(part, runs))
            continue
        for alike in zip(*runs):
            if all(_key(c) == _key(alike[0]) for c in alike):
                result.judged.append(alike[0])
            else:
                result.not_judged.append(alike[0].expected)
    result.info = _stable_notes(expect, reports)
    result.info["connections"] = len(observations.connections)
    if result.judged:
        result.verdict = combine(result.judged, case.level, result.info)
    return result


def _checks(part, ev: Evidence) -> list[Check] | None:
    try:
        return part.judge(ev)
    except Exception:   # a check that cannot read a made-up report needs the real one
        return None


def _key(c: Check) -> tuple:
    return c.passed, c.expected, c.actual, c.level, c.precondition


def _describe(part, runs: list) -> str:
    some = next((r for r in runs if r), None)
    if some:
        return "; ".join(c.expected for c in some)
    doc = (type(part).__doc__ or "").strip().splitlines()
    return f"{type(part).__name__}: {doc[0]}" if doc else type(part).__name__


def _stable_notes(expect, reports: list[Evidence]) -> dict:
    """The MAY-level facts that do not depend on the client's report."""
    notes = []
    for ev in reports:
        info: dict = {}
        try:
            expect.note(ev, info)
        except Exception:
            pass
        notes.append(info)
    return {k: v for k, v in notes[0].items() if all(n.get(k, object()) == v for n in notes[1:])}
