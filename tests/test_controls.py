"""Negative controls: every case PASSes a conforming scripted client and FAILs a misbehaving one."""
from __future__ import annotations

import pytest

from conformance import catalog
from conformance.runner import failure_report, run_case
from conformance.verdicts.verdict import Outcome

CASES = catalog.load_all()
CONTROLS = [(cid, name, "good") for cid, case in CASES.items()
            for name in case.good] + \
           [(cid, name, "bad") for cid, case in CASES.items()
            for name in case.bad]


@pytest.mark.parametrize("case_id,behaviour,kind", CONTROLS,
                         ids=[f"{c}|{b}" for c, b, _ in CONTROLS])
def test_control(case_id, behaviour, kind, servers, scripted):
    case = CASES[case_id]
    result = run_case(case, servers, scripted(behaviour), f"scripted-{behaviour}")
    want = Outcome.PASS if kind == "good" else Outcome.FAIL
    assert result.verdict.outcome is want, (
        f"{behaviour} client should get {want.value}, got {result.verdict.label}\n"
        + failure_report(result))


def test_every_case_has_both_controls():
    for cid, case in CASES.items():
        assert case.good and case.bad, f"{cid} lacks a negative control"
