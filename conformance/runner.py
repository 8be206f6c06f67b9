"""Run one case: host its scenario, hand the job to the client, judge what happened."""
from __future__ import annotations

import base64
import hashlib
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Protocol

from servers.observations import Observations
from servers.transport import ServerSet

from . import procfs
from .case import Case, Level
from .clients.process import AdapterError, Reply
from .reports.curlcmd import curl_command, curl_family
from .reports.detail import escaped, job_lines
from .verdicts.verdict import ClientOutcome, Evidence, Outcome, Verdict, combine

BOUND_MARGIN_S = 2.0      # beyond the client's own timeout, before we call it a hang
CLOSE_WAIT_S = 2.0        # for the client to close its connections after answering
KEPT_BODY = 4096          # reports keep request bodies up to this size; longer ones by length and hash


class Client(Protocol):
    hello: dict | None

    def run(self, job: dict, bound_s: float) -> Reply: ...

    def pids(self) -> list[int]: ...   # the client's processes, for hygiene jobs


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
    job: dict | None = None          # the `run` message the client was given
    curl: str | None = None          # the equivalent curl command, for the curl family

    def to_json(self) -> dict:
        c = self.case
        return {
            "id": c.id, "rfc": c.rfc, "section": c.section, "level": c.level.value,
            "requirement": c.requirement, "covers": list(c.covers), "server": c.server,
            "regression": c.regression, "waits": c.waits, "client": self.client,
            **self.verdict.to_json(),
            "seconds": round(self.seconds, 4), "phases": self.phases,
            "job": _kept(self.job), "curl": self.curl, "rerun": rerun_command(c.id, self.client),
            "frames": self.observations.transcript() if self.job else None,
            "outcomes": [o.__dict__ for o in self.outcomes],
            "observations": self.observations.to_json(), "stderr": self.stderr,
        }


def _kept(job: dict | None) -> dict | None:
    """The job as reports keep it: a long request body by its length and hash."""
    if job is None:
        return None
    requests = []
    for req in job["requests"]:
        raw = base64.b64decode(req["body_b64"]) if req.get("body_b64") is not None else b""
        if len(raw) > KEPT_BODY:
            req = dict(req, body_b64=None, body_omitted=True, body_len=len(raw),
                       body_sha256=hashlib.sha256(raw).hexdigest())
        requests.append(req)
    return dict(job, requests=requests)


def capabilities(client: Client) -> set[str]:
    return set((client.hello or {}).get("capabilities", []))


def run_case(case: Case, servers: ServerSet, client: Client, client_name: str) -> CaseResult:
    t0 = time.monotonic()
    phases: dict[str, float] = {}
    missing = (set(case.needs) | case.request.needs) - capabilities(client)
    if missing:
        v = Verdict(Outcome.UNSUPPORTED, reason=f"client lacks {', '.join(sorted(missing))}")
        return CaseResult(case, v, client_name, seconds=time.monotonic() - t0)
    if case.transport == "reference":
        hosted = servers.host_reference()
    else:
        hosted = servers.host(case.scenario(), secure=case.transport != "h2c",
                              family=socket.AF_INET6 if case.ipv6 else socket.AF_INET)
    phases["server_start"] = time.monotonic() - t0
    reply, stderr, sockets = None, "", None
    try:
        job = case.request.to_json(case.id, hosted.url("").rstrip("/"), hosted.ca_file)
        curl = curl_command(job) if curl_family(client.hello) else None
        t1 = time.monotonic()
        try:
            reply = client.run(job, case.request.timeout_ms / 1000 * len(case.request.requests)
                               + BOUND_MARGIN_S)
        except AdapterError as exc:  # the adapter could not even be restarted
            reply = Reply("error", detail=str(exc))
        phases["client"] = time.monotonic() - t1
        stderr = reply.stderr
        sockets = _client_sockets(client, hosted.port) if case.request.hygiene else None
        t2 = time.monotonic()
        hosted.wait_closed(CLOSE_WAIT_S)
        phases["close_wait"] = time.monotonic() - t2
    finally:
        observations = hosted.close()
    result = CaseResult(case, Verdict(Outcome.ERROR), client_name, observations=observations,
                        stderr=stderr, phases={k: round(v, 4) for k, v in phases.items()},
                        job=job, curl=curl)
    result.verdict = _judge(case, reply, result, sockets)
    result.seconds = time.monotonic() - t0
    return result


def _client_sockets(client: Client, port: int) -> dict:
    """What the client process still holds to the server once the job is over (R-HYG-1)."""
    if "process-per-job" in capabilities(client):
        return {"unmeasured": "the client ran in a process that ended with the job"}
    return {"sockets": procfs.sockets_to(client.pids(), port)}


_NOT_JUDGED = {"crash": Outcome.CRASH, "timeout": Outcome.TIMEOUT, "error": Outcome.ERROR,
               "unsupported": Outcome.UNSUPPORTED}


def _judge(case: Case, reply: Reply, result: CaseResult, sockets: dict | None = None) -> Verdict:
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
    ev = Evidence(result.outcomes, obs, msg.get("pushed") or [], sockets)
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
    """h2spec's shape: Requirement / Expected / Actual, what the client was asked to do,
    then frames, trace and a rerun line. Control bytes are escaped; what is shortened says so."""
    c, v = result.case, result.verdict
    level = v.level.value if v.level else c.level.value
    lines = [escaped(line) for line in (
        f"{c.id} [{level}] {v.label}",
        f"  Requirement: {c.requirement}" + (f" ({', '.join(c.covers)})" if c.covers else ""),
        f"  Server:      {c.server}",
        f"  Expected:    {v.expected or '-'}",
        f"  Actual:      {v.actual or v.reason}")]
    if v.outcome is not Outcome.FAIL and v.reason:
        lines.append(f"  Reason:      {escaped(_clip(v.reason.strip(), 2000), keep=chr(10))}")
    lines += [escaped(f"  Transfer {i}:  {o.summary()}") for i, o in enumerate(result.outcomes, 1)]
    if result.job:
        lines += ["", "Asked of the client:"] + [f"  {line}" for line in job_lines(result.job)]
    if result.curl:
        lines += ["", "As a curl command:"] + [f"  {escaped(line)}" for line in result.curl.split("\n")]
    lines += ["", "Frames exchanged:", result.observations.transcript()]
    trace = (result.client_trace or "").strip("\n")
    if trace:
        every = trace.split("\n")   # not splitlines(): a CR inside a line is shown escaped
        shown = every[-trace_lines:]
        lines += ["", "Client trace:" if len(shown) == len(every) else
                  f"Client trace (last {len(shown)} of {len(every)} lines; all of them in results.json):"]
        lines += [f"  {escaped(t)}" for t in shown]
    if result.stderr.strip():
        err = result.stderr.strip()
        lines += ["", "Client stderr:" if len(err) <= 2000 else
                  f"Client stderr (last 2000 of {len(err)} characters; all of them in results.json):",
                  escaped(err[-2000:], keep="\n")]
    lines += ["", "Rerun this case alone:", f"  {rerun_command(c.id, result.client)}"]
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else \
        f"{text[:limit]}… ({len(text) - limit} more characters in results.json)"


def level_fails(v: Verdict, strict: bool) -> bool:
    """Whether a verdict fails the run: SHOULD failures only under --strict."""
    if v.outcome is Outcome.FAIL:
        return v.level is Level.MUST or strict
    return v.outcome in (Outcome.CRASH, Outcome.TIMEOUT, Outcome.ERROR)
