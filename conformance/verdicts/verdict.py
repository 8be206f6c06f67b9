"""Verdicts: the outcome of one case, and the evidence it was judged on."""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from conformance.case import Level
from servers.observations import Observations


class Outcome(str, enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_EXERCISED = "NOT-EXERCISED"   # the scenario never reached the behaviour under test
    UNSUPPORTED = "UNSUPPORTED"   # the client build lacks a needed capability
    CRASH = "CRASH"               # the client process died
    TIMEOUT = "TIMEOUT"           # the client did not answer within the case's bound
    ERROR = "ERROR"               # a fault of the harness or a broken adapter message


@dataclass
class ClientOutcome:
    """One transfer as the client reported it (docs/clients.md `result.outcomes[]`)."""
    ok: bool
    error: dict | None = None
    status: int | None = None
    http_version: str | None = None
    headers: list = field(default_factory=list)
    trailers: list | None = None        # None: the client does not expose response trailers
    body_len: int = 0
    body_sha256: str = ""
    timings: dict = field(default_factory=dict)
    trace: str = ""

    @classmethod
    def from_json(cls, d: dict) -> "ClientOutcome":
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    @property
    def error_class(self) -> str | None:
        return (self.error or {}).get("class")

    def summary(self) -> str:
        if self.ok:
            return f"ok: HTTP/{self.http_version} {self.status}, body {self.body_len} bytes"
        e = self.error or {}
        return f"failed: {e.get('name')} (class {e.get('class')}): {e.get('message')}"


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass
class Evidence:
    """Everything a verdict may look at. `client_sockets`, for a hygiene job (Job.hygiene): the
    sockets the client process still held to the case's server after the job
    ({"sockets": [{"local_port", "state"}, ...]}), or {"unmeasured": why}."""
    outcomes: list[ClientOutcome]
    observations: Observations
    pushed: list[dict] = field(default_factory=list)   # the result's `pushed` (docs/clients.md)
    client_sockets: dict | None = None

    @property
    def outcome(self) -> ClientOutcome:
        return self.outcomes[0]


@dataclass
class Check:
    """One judged fact. `level` None means the case's own level. A `precondition` check
    says whether the scenario reached the behaviour under test at all."""
    passed: bool
    expected: str
    actual: str
    level: Level | None = None
    precondition: bool = False
    name: str = ""   # stable short name, e.g. "goaway-code"; controls assert on it

    def level_or(self, case_level: Level | None) -> Level | None:
        return self.level or case_level


@dataclass
class Verdict:
    outcome: Outcome
    level: Level | None = None     # strongest level violated, for FAIL
    reason: str = ""
    expected: str = ""
    actual: str = ""
    info: dict = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    case_level: Level | None = None

    @property
    def failed_checks(self) -> list[str]:
        """Names of the checks that made this verdict: unmet preconditions, or failures at
        the violated level."""
        if self.outcome is Outcome.NOT_EXERCISED:
            return [c.name for c in self.checks if c.precondition and not c.passed]
        if self.outcome is not Outcome.FAIL:
            return []
        return [c.name for c in self.checks if not c.passed and c.level_or(self.case_level) is self.level]

    @property
    def label(self) -> str:
        """PASS, FAIL (the MUST kind), FAIL-SHOULD, TIMEOUT, ..."""
        if self.outcome is Outcome.FAIL and self.level is Level.SHOULD:
            return "FAIL-SHOULD"
        return self.outcome.value

    def to_json(self) -> dict:
        return {"verdict": self.outcome.value, "label": self.label,
                "violated_level": self.level.value if self.level else None,
                "reason": self.reason, "expected": self.expected, "actual": self.actual,
                "info": self.info,
                "failed_checks": self.failed_checks,
                "checks": [{"name": c.name, "passed": c.passed, "expected": c.expected, "actual": c.actual,
                            "level": c.level.value if c.level else None,
                            **({"precondition": True} if c.precondition else {})}
                           for c in self.checks]}


def combine(checks: list[Check], case_level: Level, info: dict) -> Verdict:
    """MUST failures fail; SHOULD failures fail at SHOULD level; MAY checks only inform.
    A failed precondition makes the case NOT-EXERCISED, whatever the other checks say."""
    unmet = [c for c in checks if c.precondition and not c.passed]
    if unmet:
        return Verdict(Outcome.NOT_EXERCISED, None, "; ".join(c.actual for c in unmet),
                       "; ".join(c.expected for c in unmet), "; ".join(c.actual for c in unmet),
                       info, checks, case_level)
    failing = [c for c in checks if not c.passed and (c.level or case_level) is not Level.MAY]
    expected = "; ".join(c.expected for c in checks)
    if not failing:
        return Verdict(Outcome.PASS, None, "all checks held", expected,
                       "; ".join(c.actual for c in checks), info, checks, case_level)
    worst = Level.MUST if any((c.level or case_level) is Level.MUST for c in failing) else Level.SHOULD
    first = next(c for c in failing if (c.level or case_level) is worst)
    return Verdict(Outcome.FAIL, worst, f"[{first.name}] {first.actual}", first.expected,
                   "; ".join(c.actual for c in failing), info, checks, case_level)
