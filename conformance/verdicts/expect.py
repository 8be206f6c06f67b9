"""Shared expectations: a handful of verifiers every case is built from.

Each expectation turns the evidence into `Check`s with an Expected and an
Actual line. Where RFC 9113 allows several reactions the expectation accepts
exactly those and its `expected` text says why; none accepts "any error".
"""
from __future__ import annotations

from typing import Callable, Iterable

from conformance.case import Level
from servers.scenario import BODY
from servers.wire import Frame

from .verdict import Check, Evidence, sha256

NOT_AN_ERROR = {"NO_ERROR", "CANCEL"}   # codes a client uses when it simply stops


class Expectation:
    def judge(self, ev: Evidence) -> list[Check]:
        raise NotImplementedError

    def note(self, ev: Evidence, info: dict) -> None:
        """Add MAY-level facts to the verdict's info."""

    def __and__(self, other: "Expectation") -> "All":
        return All(self, other)


def _client_frames(ev: Evidence, ftype: str) -> list[Frame]:
    return ev.observations.frames(ftype)


def _codes(frames: Iterable[Frame]) -> list[str]:
    return [f.error_code for f in frames]


def _request_stream(ev: Evidence) -> int | None:
    for c in ev.observations.connections:
        opened = c.streams_opened()
        if opened:
            return opened[0]
    return None


def _failed_cleanly(ev: Evidence, index: int = 0) -> Check:
    """The transfer must fail, and not merely by running into the client's timeout."""
    o = ev.outcomes[index] if index < len(ev.outcomes) else None
    if o is None:
        return Check(False, "the transfer fails", "the client reported no outcome")
    passed = not o.ok and o.error_class != "timeout"
    return Check(passed, "the transfer fails with an error (not success, not a timeout)",
                 f"transfer {o.summary()}")


class Succeeds(Expectation):
    """Every transfer succeeds with the exact status and body."""

    def __init__(self, body: bytes | None = BODY, status: int = 200, *, bodies: list[bytes] | None = None,
                 level: Level | None = None):
        self.body, self.status, self.bodies, self.level = body, status, bodies, level

    def judge(self, ev: Evidence) -> list[Check]:
        checks = []
        for i, o in enumerate(ev.outcomes):
            body = self.bodies[i] if self.bodies else self.body
            want = f"transfer {i + 1} succeeds with status {self.status}"
            if body is not None:
                want += f" and the exact {len(body)}-byte body"
            passed = o.ok and o.status == self.status and (
                body is None or (o.body_sha256 == sha256(body) and o.body_len == len(body)))
            actual = f"transfer {i + 1} {o.summary()}"
            if o.ok and body is not None and o.body_sha256 != sha256(body):
                actual += " (body differs)"
            checks.append(Check(passed, want, actual, self.level))
        return checks


class TransferSucceeds(Succeeds):
    """Only transfer `index` (0-based) must succeed with the exact status and body."""

    def __init__(self, index: int, body: bytes | None = BODY, status: int = 200, *,
                 level: Level | None = None):
        super().__init__(body, status, level=level)
        self.index = index

    def judge(self, ev: Evidence) -> list[Check]:
        if self.index >= len(ev.outcomes):
            return [Check(False, f"transfer {self.index + 1} succeeds",
                          f"no outcome for transfer {self.index + 1}", self.level)]
        one = Evidence([ev.outcomes[self.index]], ev.observations)
        checks = super().judge(one)
        for c in checks:
            c.expected = c.expected.replace("transfer 1", f"transfer {self.index + 1}", 1)
            c.actual = c.actual.replace("transfer 1", f"transfer {self.index + 1}", 1)
        return checks


class Ignored(Succeeds):
    """The frame or field is ignored: the transfer succeeds and no error goes back."""

    def judge(self, ev: Evidence) -> list[Check]:
        checks = super().judge(ev)
        errors = [f for f in _client_frames(ev, "GOAWAY") + _client_frames(ev, "RST_STREAM")
                  if f.error_code not in NOT_AN_ERROR]
        checks.append(Check(not errors, "no GOAWAY or RST_STREAM with an error code",
                            "client sent " + (", ".join(f.describe() for f in errors) or "none"),
                            self.level))
        return checks


class ConnectionError(Expectation):
    """§5.4.1: the transfer fails; a GOAWAY, if sent, carries one of `codes` (sending it is a SHOULD)."""

    def __init__(self, *codes: str):
        self.codes = set(codes)

    def judge(self, ev: Evidence) -> list[Check]:
        goaways = [f for f in _client_frames(ev, "GOAWAY") if f.error_code not in NOT_AN_ERROR]
        right = [f for f in goaways if f.error_code in self.codes]
        want = "GOAWAY(" + "|".join(sorted(self.codes)) + ")"
        if right:
            code_check = Check(True, want, f"client sent GOAWAY({right[0].error_code})")
        elif goaways:  # it signalled a different error: the wrong error type (MUST)
            code_check = Check(False, want, f"client sent GOAWAY({goaways[0].error_code})")
        else:
            rsts = _codes(_client_frames(ev, "RST_STREAM"))
            code_check = Check(False, want + " before closing (RFC 9113 §5.4.1 SHOULD)",
                               "client sent no GOAWAY with an error code"
                               + (f" (RST_STREAM {rsts})" if rsts else ""), Level.SHOULD)
        return [_failed_cleanly(ev), code_check]

    def note(self, ev: Evidence, info: dict) -> None:
        info["goaway_sent"] = _codes(_client_frames(ev, "GOAWAY"))


class StreamError(Expectation):
    """§5.4.2: the transfer fails; RST_STREAM with one of `codes`, or a connection error
    with the same code (§5.4.2 allows escalating); plain close is a CE without GOAWAY (SHOULD)."""

    def __init__(self, *codes: str):
        self.codes = set(codes)

    def judge(self, ev: Evidence) -> list[Check]:
        stream = _request_stream(ev)
        signals = [f for f in _client_frames(ev, "RST_STREAM") if f.stream == stream] + \
            _client_frames(ev, "GOAWAY")
        errors = [f for f in signals if f.error_code not in NOT_AN_ERROR]
        right = [f for f in errors if f.error_code in self.codes]
        codes = "|".join(sorted(self.codes))
        want = f"RST_STREAM({codes}) on stream {stream}, or GOAWAY({codes})"
        if right:
            code_check = Check(True, want, f"client sent {right[0].type}({right[0].error_code})")
        elif errors:
            code_check = Check(False, want, f"client sent {errors[0].type}({errors[0].error_code})")
        else:
            code_check = Check(False, want + " (closing without either is a connection error "
                               "without GOAWAY: SHOULD)",
                               "client sent " + (", ".join(f"{f.type}({f.error_code})" for f in signals)
                                                 or "neither"), Level.SHOULD)
        return [_failed_cleanly(ev), code_check]

    def note(self, ev: Evidence, info: dict) -> None:
        info["rst_sent"] = _codes(_client_frames(ev, "RST_STREAM"))
        info["goaway_sent"] = _codes(_client_frames(ev, "GOAWAY"))


class Fails(Expectation):
    """The transfer fails with an error; `classes` narrows which error classes count."""

    def __init__(self, *classes: str, index: int = 0, allow_timeout: bool = False):
        self.classes, self.index, self.allow_timeout = set(classes), index, allow_timeout

    def judge(self, ev: Evidence) -> list[Check]:
        o = ev.outcomes[self.index]
        ok_classes = self.classes | ({"timeout"} if self.allow_timeout else set())
        passed = not o.ok and (not ok_classes or o.error_class in ok_classes) and (
            self.allow_timeout or o.error_class != "timeout")
        want = f"transfer {self.index + 1} fails" + (
            f" with error class {'|'.join(sorted(ok_classes))}" if ok_classes else " (not a timeout)")
        return [Check(passed, want, f"transfer {self.index + 1} {o.summary()}")]


class Sent(Expectation):
    """The client sent at least one frame of `ftype` matching `where`."""

    def __init__(self, ftype: str, what: str, where: Callable[[Frame], bool] = lambda f: True, *,
                 level: Level | None = None):
        self.ftype, self.what, self.where, self.level = ftype, what, where, level

    def judge(self, ev: Evidence) -> list[Check]:
        frames = _client_frames(ev, self.ftype)
        hit = [f for f in frames if self.where(f)]
        actual = (f"sent {hit[0].describe()}" if hit else
                  f"no such frame; {self.ftype} frames sent: {[f.describe() for f in frames][:4]}")
        return [Check(bool(hit), f"client sends {self.what}", actual, self.level)]


class NotSent(Sent):
    """The client sent no frame of `ftype` matching `where`."""

    def judge(self, ev: Evidence) -> list[Check]:
        hit = [f for f in _client_frames(ev, self.ftype) if self.where(f)]
        return [Check(not hit, f"client never sends {self.what}",
                      f"sent {hit[0].describe()}" if hit else "none sent", self.level)]


class Connections(Expectation):
    """How many connections the client opened: exactly `n`, or between `min` and `max`."""

    def __init__(self, n: int | None = None, *, min: int = 1, max: int | None = None,
                 why: str = "", level: Level | None = None):
        self.min = n if n is not None else min
        self.max = n if n is not None else max
        self.why, self.level = why, level

    def judge(self, ev: Evidence) -> list[Check]:
        got = len(ev.observations.connections)
        passed = got >= self.min and (self.max is None or got <= self.max)
        rng = str(self.min) if self.min == self.max else (
            f"{self.min}..{self.max}" if self.max is not None else f"at least {self.min}")
        return [Check(passed, f"{rng} connection(s){' (' + self.why + ')' if self.why else ''}",
                      f"{got} connection(s)", self.level)]

    def note(self, ev: Evidence, info: dict) -> None:
        info["connections"] = len(ev.observations.connections)


class Retried(Connections):
    """A retry on a new connection is allowed (MAY, reported) but bounded (MUST)."""

    def __init__(self, max_retries: int):
        super().__init__(min=1, max=1 + max_retries,
                         why=f"at most {max_retries} retr{'y' if max_retries == 1 else 'ies'} on new connections")

    def note(self, ev: Evidence, info: dict) -> None:
        info["retried"] = len(ev.observations.connections) > 1
        info["connections"] = len(ev.observations.connections)


class Custom(Expectation):
    """A one-off check: `fn(ev) -> (passed, actual)`."""

    def __init__(self, expected: str, fn: Callable[[Evidence], tuple[bool, str]], *, level: Level | None = None):
        self.expected, self.fn, self.level = expected, fn, level

    def judge(self, ev: Evidence) -> list[Check]:
        passed, actual = self.fn(ev)
        return [Check(passed, self.expected, actual, self.level)]


class Exercised(Expectation):
    """A precondition: `fn(ev) -> (reached, actual)` says whether the scenario reached the
    behaviour under test. When it did not, the verdict is NOT-EXERCISED, never PASS."""

    def __init__(self, what: str, fn: Callable[[Evidence], tuple[bool, str]]):
        self.what, self.fn = what, fn

    def judge(self, ev: Evidence) -> list[Check]:
        reached, actual = self.fn(ev)
        return [Check(reached, f"exercised: {self.what}", actual, Level.MAY, precondition=True)]


class Report(Expectation):
    """MAY-level behaviour: recorded in the verdict's info, never judged."""

    def __init__(self, key: str, fn: Callable[[Evidence], object]):
        self.key, self.fn = key, fn

    def judge(self, ev: Evidence) -> list[Check]:
        return []

    def note(self, ev: Evidence, info: dict) -> None:
        info[self.key] = self.fn(ev)


class All(Expectation):
    def __init__(self, *parts: Expectation):
        self.parts = [p for part in parts for p in (part.parts if isinstance(part, All) else [part])]

    def judge(self, ev: Evidence) -> list[Check]:
        return [c for p in self.parts for c in p.judge(ev)]

    def note(self, ev: Evidence, info: dict) -> None:
        for p in self.parts:
            p.note(ev, info)


class AnyOf(Expectation):
    """Several reactions are allowed; `why` says which RFC text allows them."""

    def __init__(self, *options: Expectation, why: str):
        self.options, self.why = options, why

    def judge(self, ev: Evidence) -> list[Check]:
        results = [o.judge(ev) for o in self.options]
        for checks in results:
            if all(c.passed for c in checks):
                return checks
        # None held fully: report the option that came closest (fewest hard failures).
        def distance(cs: list[Check]) -> tuple[int, int]:
            soft = (Level.SHOULD, Level.MAY)
            return (sum(not c.passed and c.level not in soft for c in cs), sum(not c.passed for c in cs))
        best = min(results, key=distance)
        for c in best:
            c.expected = f"{c.expected} [one of {len(self.options)} allowed reactions: {self.why}]"
        return best

    def note(self, ev: Evidence, info: dict) -> None:
        for o in self.options:
            o.note(ev, info)
