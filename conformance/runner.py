"""Run one case: host its scenario, hand the job to the client, judge what happened."""
from __future__ import annotations

import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Protocol

from servers.observations import Observations
from servers.transport import ServerSet

from .case import Case, Level
from .clients.process import AdapterError, Reply
from .verdicts.verdict import ClientOutcome, Evidence, Outcome, Verdict, combine

BOUND_MARGIN_S = 2.0      # beyond the client's own timeout, before we call it a hang
CLOSE_WAIT_S = 2.0        # for the client to close its connections after answering


class Client(Protocol):
    hello: dict | None

    def run(self, job: dict, bound_s: float) -> Reply: ...


@dataclass
class CaseResult:
    case: Case
    verdict: Verdict
    client: str
    outcomes: list[ClientOutcome] = field(default_factory=list)
    observations: Observations = field(default_factory=Observations)
    client_trace: str = ""
    stderr: str = ""
    seconds: float = 0.0
    phases: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        c = self.case
        return {
            "id": c.id, "rfc": c.rfc, "section": c.section, "level": c.level.value,
            "requirement": c.requirement, "server": c.server, "regression": c.regression,
            "waits": c.waits, "client": self.client, **self.verdict.to_json(),
            "seconds": round(self.seconds, 4), "phases": self.phases,
            "outcomes": [o.__dict__ for o in self.outcomes],
            "observations": self.observations.to_json(), "stderr": self.stderr,
        }


def capabilities(client: Client) -> set[str]:
    return set((client.hello or {}).get("capabilities", []))


def run_case(case: Case, servers: ServerSet, client: Client, client_name: str) -> CaseResult:
    t0 = time.monotonic()
    phases: dict[str, float] = {}
    missing = set(case.needs) - capabilities(client)
    if missing:
        v = Verdict(Outcome.UNSUPPORTED, reason=f"client lacks {', '.join(sorted(missing))}")
        return CaseResult(case, v, client_name, seconds=time.monotonic() - t0)
    if case.transport == "reference":
        hosted = servers.host_reference()
    else:
        hosted = servers.host(case.scenario(), secure=case.transport != "h2c",
                              family=socket.AF_INET6 if case.ipv6 else socket.AF_INET)
    phases["server_start"] = time.monotonic() - t0
    reply, stderr = None, ""
    try:
        job = case.request.to_json(case.id, hosted.url("").rstrip("/"), hosted.ca_file)
        t1 = time.monotonic()
        try:
            reply = client.run(job, case.request.timeout_ms / 1000 * len(case.request.requests)
                               + BOUND_MARGIN_S)
        except AdapterError as exc:  # the adapter could not even be restarted
            reply = Reply("error", detail=str(exc))
        phases["client"] = time.monotonic() - t1
        stderr = reply.stderr
        t2 = time.monotonic()
        hosted.wait_closed(CLOSE_WAIT_S)
        phases["close_wait"] = time.monotonic() - t2
    finally:
        observations = hosted.close()
    result = CaseResult(case, Verdict(Outcome.ERROR), client_name, observations=observations,
                        stderr=stderr, phases={k: round(v, 4) for k, v in phases.items()})
    result.verdict = _judge(case, reply, result)
    result.seconds = time.monotonic() - t0
    return result


_NOT_JUDGED = {"crash": Outcome.CRASH, "timeout": Outcome.TIMEOUT, "error": Outcome.ERROR}


def _judge(case: Case, reply: Reply, result: CaseResult) -> Verdict:
    obs = result.observations
    if reply.kind in _NOT_JUDGED:
        return Verdict(_NOT_JUDGED[reply.kind], reason=reply.detail)
    if obs.server_errors:
        return Verdict(Outcome.ERROR, reason="the mock server raised: " + obs.server_errors[0])
    msg = reply.message
    try:
        result.outcomes = [ClientOutcome.from_json(o) for o in msg["outcomes"]]
    except (TypeError, KeyError) as exc:
        return Verdict(Outcome.ERROR, reason=f"adapter result has a malformed outcome: {exc}")
    result.client_trace = msg.get("trace") or "\n".join(o.trace for o in result.outcomes)
    ev = Evidence(result.outcomes, obs)
    info: dict = {"connections": len(obs.connections),
                  "client_goaway": [f.error_code for f in obs.frames("GOAWAY")],
                  "client_rst_stream": [f.error_code for f in obs.frames("RST_STREAM")]}
    try:
        checks = case.expect.judge(ev)
        case.expect.note(ev, info)
    except Exception:
        return Verdict(Outcome.ERROR, reason="the verdict raised: " + traceback.format_exc())
    if not checks:
        return Verdict(Outcome.ERROR, reason="the case's expectation produced no checks")
    if obs.unclosed:
        info["unclosed_connections"] = obs.unclosed
    return combine(checks, case.level, info)


def rerun_command(case_id: str, client: str) -> str:
    return f".venv/bin/python -m pytest cases -p no:xdist --client {client} --case '{case_id}'"


def failure_report(result: CaseResult, *, trace_lines: int = 40) -> str:
    """h2spec's shape: Requirement / Expected / Actual, then frames, trace and a rerun line."""
    c, v = result.case, result.verdict
    level = v.level.value if v.level else c.level.value
    lines = [f"{c.id} [{level}] {v.label}",
             f"  Requirement: {c.requirement}",
             f"  Server:      {c.server}",
             f"  Expected:    {v.expected or '-'}",
             f"  Actual:      {v.actual or v.reason}"]
    if v.outcome is not Outcome.FAIL and v.reason:
        lines.append(f"  Reason:      {v.reason.strip()[:2000]}")
    for i, o in enumerate(result.outcomes, 1):
        lines.append(f"  Transfer {i}:  {o.summary()}")
    lines += ["", "Frames exchanged:", result.observations.transcript()]
    trace = (result.client_trace or "").strip().splitlines()
    if trace:
        lines += ["", f"Client trace (last {min(len(trace), trace_lines)} lines):"]
        lines += [f"  {t}" for t in trace[-trace_lines:]]
    if result.stderr.strip():
        lines += ["", "Client stderr:", result.stderr.strip()[-2000:]]
    lines += ["", "Rerun this case alone:", f"  {rerun_command(c.id, result.client)}"]
    return "\n".join(lines)


def level_fails(v: Verdict, strict: bool) -> bool:
    """Whether a verdict fails the run: SHOULD failures only under --strict."""
    if v.outcome is Outcome.FAIL:
        return v.level is Level.MUST or strict
    return v.outcome in (Outcome.CRASH, Outcome.TIMEOUT, Outcome.ERROR)
