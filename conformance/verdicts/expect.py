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
        return Check(False, "the transfer fails", "the client reported no outcome", name="transfer-fails")
    passed = not o.ok and o.error_class != "timeout"
    return Check(passed, "the transfer fails with an error (not success, not a timeout)",
                 f"transfer {o.summary()}", name="transfer-fails")


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
            checks.append(Check(passed, want, actual, self.level, name="succeeds"))
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
                          f"no outcome for transfer {self.index + 1}", self.level, name="succeeds")]
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
                            self.level, name="no-error-sent"))
        return checks


GENERIC_CODES = {"PROTOCOL_ERROR", "INTERNAL_ERROR"}   # §5.4: allowed in place of a specific code


def _error_goaways(conn) -> list[Frame]:
    return [f for f in conn.frames("GOAWAY") if f.error_code not in NOT_AN_ERROR]


def _fault_connections(ev: Evidence) -> list:
    """The connections a connection error ended: those with the client's error GOAWAY, else
    the one that carried the request."""
    with_goaway = [c for c in ev.observations.connections if _error_goaways(c)]
    if with_goaway:
        return with_goaway
    return [c for c in ev.observations.connections if c.streams_opened()][:1] or \
        ev.observations.connections[:1]


def _code_check(goaways: list[Frame], codes: set[str], optional: bool) -> Check:
    """§5.4.1 SHOULD: a GOAWAY with the named code or a generic one (§5.4)."""
    want = "GOAWAY(" + "|".join(sorted(codes)) + ", or a generic PROTOCOL_ERROR|INTERNAL_ERROR)"
    if not goaways:
        if optional:
            return Check(True, want + " or none (§3.4 allows leaving it out after an invalid "
                         "server preface)", "client sent no GOAWAY", Level.SHOULD, name="goaway-code")
        return Check(False, want + " before closing (§5.4.1 SHOULD)",
                     "client sent no GOAWAY with an error code", Level.SHOULD, name="goaway-code")
    code = goaways[0].error_code
    how = "" if code in codes else " (a generic code)" if code in GENERIC_CODES else ""
    return Check(code in codes | GENERIC_CODES, want, f"client sent GOAWAY({code}){how}",
                 Level.SHOULD, name="goaway-code")


def _last_stream_check(ev: Evidence, goaways: list[Frame]) -> Check:
    """§5.4.1 SHOULD: the GOAWAY names the last server-initiated stream the client processed;
    with no pushed stream that is 0."""
    want = "the GOAWAY's last-stream-id is 0 or a stream the server promised"
    if not goaways:
        return Check(True, want, "no GOAWAY to check", Level.SHOULD, name="goaway-last-stream")
    promised = {f.promised for c in ev.observations.connections for f in c.sent
                if f.type == "PUSH_PROMISE"}
    last = goaways[0].last_stream
    return Check(last == 0 or last in promised, want, f"last-stream-id {last}", Level.SHOULD,
                 name="goaway-last-stream")


def _closed_check(conns: list, outcome=None) -> Check:
    """§5.4.1 MUST: after its error GOAWAY the client closes the TCP connection. The server
    keeps its side open (close_on_client_goaway=False), so only the client can end it; a client
    that sent its GOAWAY and then sat until its own timeout did not close it."""
    want = "the client closes the connection it gave up on"
    left = [c.index for c in conns if c.closed_by is None or c.closed_by.startswith("nobody")]
    by_server = [c.index for c in conns if c.closed_by == "server"]
    waited = [c.index for c in conns if _error_goaways(c)] if (
        outcome is not None and outcome.error_class == "timeout") else []
    actual = (f"connection(s) {left} still open when the case ended" if left else
              f"sent its GOAWAY on connection(s) {waited}, then held the connection until its own "
              f"timeout ({outcome.summary()})" if waited else
              f"the server closed connection(s) {by_server} first" if by_server else
              "the client closed it")
    return Check(not left and not waited, want, actual, name="closes-after-goaway")


def _detected(ev: Evidence, index: int, conns: list) -> Check:
    """The transfer fails. A timeout counts as failing here only when the client had already
    sent its error GOAWAY: it saw the fault, and the wait is judged by closes-after-goaway."""
    check = _failed_cleanly(ev, index)
    o = ev.outcomes[index] if index < len(ev.outcomes) else None
    if not check.passed and o is not None and o.error_class == "timeout" and \
            any(_error_goaways(c) for c in conns):
        return Check(True, check.expected, check.actual + " (after its error GOAWAY)", name=check.name)
    return check


def _no_stream_check(conns: list) -> Check:
    """§5.4.1 MUST: no new stream on a connection after the client's error GOAWAY."""
    late = [(c.index, f.stream) for c in conns for g in _error_goaways(c)[:1]
            for f in c.headers_after(g.seq) if f.stream not in _opened_before(c, g)]
    return Check(not late, "no new stream on a connection after the client's GOAWAY",
                 f"opened stream(s) {late} after its GOAWAY" if late else "none opened",
                 name="no-stream-after-goaway")


def _opened_before(conn, goaway: Frame) -> set[int]:
    return {f.stream for f in conn.received if f.type == "HEADERS" and f.seq < goaway.seq}


class ConnectionError(Expectation):
    """§5.4.1 as the catalog's CE legend reads it. MUST: the transfer fails, the client closes
    the connection and opens no stream on it after its GOAWAY. SHOULD: a GOAWAY carrying the
    named code or a generic one, with the right last-stream-id. `goaway_optional`: after an
    invalid server preface the GOAWAY may be left out (§3.4)."""

    def __init__(self, *codes: str, goaway_optional: bool = False, index: int = 0):
        self.codes, self.goaway_optional, self.index = set(codes), goaway_optional, index

    def judge(self, ev: Evidence) -> list[Check]:
        conns = _fault_connections(ev)
        goaways = [g for c in conns for g in _error_goaways(c)]
        outcome = ev.outcomes[self.index] if self.index < len(ev.outcomes) else None
        return [_detected(ev, self.index, conns), _code_check(goaways, self.codes, self.goaway_optional),
                _last_stream_check(ev, goaways), _closed_check(conns, outcome), _no_stream_check(conns)]

    def note(self, ev: Evidence, info: dict) -> None:
        info["goaway_sent"] = _codes(_client_frames(ev, "GOAWAY"))


class StreamError(Expectation):
    """§5.4.2: the transfer fails and the client resets the stream with the named code or a
    generic one (MUST), or treats it as a connection error (§5.4.1 allows it), which then has
    to meet the connection-error checks. What happens to sibling streams is reported
    (R-5.4.2-2). `path` picks the faulty request's stream; default the first opened.
    `fails=False`: the fault came after a complete response, so the transfer's outcome is not
    judged here."""

    def __init__(self, *codes: str, path: str | None = None, index: int = 0, fails: bool = True):
        self.codes, self.path, self.index, self.fails = set(codes), path, index, fails

    def _stream(self, ev: Evidence) -> int | None:
        if self.path is not None:
            for f in ev.observations.frames("HEADERS"):
                if dict(f.headers or []).get(":path") == self.path:
                    return f.stream
        return _request_stream(ev)

    def judge(self, ev: Evidence) -> list[Check]:
        stream = self._stream(ev)
        rsts = [f for f in _client_frames(ev, "RST_STREAM") if f.stream == stream]
        conns = [c for c in ev.observations.connections if _error_goaways(c)]
        codes = "|".join(sorted(self.codes))
        want = f"RST_STREAM({codes} or a generic code) on stream {stream}, or a connection error"
        outcome = ev.outcomes[self.index] if self.index < len(ev.outcomes) else None
        checks = [_detected(ev, self.index, conns)] if self.fails else []
        right = [f for f in rsts if f.error_code in self.codes | GENERIC_CODES]
        if right:
            checks.append(Check(True, want, f"client sent RST_STREAM({right[0].error_code})", name="rst-code"))
        elif conns:   # escalated: judge it as the connection error it became
            checks.append(Check(True, want, "client escalated to a connection error", name="rst-code"))
            goaways = [g for c in conns for g in _error_goaways(c)]
            checks += [_code_check(goaways, self.codes, False), _last_stream_check(ev, goaways),
                       _closed_check(conns, outcome), _no_stream_check(conns)]
        elif [f for f in rsts if f.error_code not in NOT_AN_ERROR]:
            checks.append(Check(False, want, f"client sent RST_STREAM({rsts[0].error_code})", name="rst-code"))
        else:   # neither: a connection error without GOAWAY, if the client closed (SHOULD)
            sent = ", ".join(f.describe() for f in rsts) or "neither"
            checks.append(Check(False, want + " (closing without either is a connection error "
                                "without GOAWAY: SHOULD)", f"client sent {sent}", Level.SHOULD,
                                name="rst-code"))
            checks.append(_closed_check(_fault_connections(ev)))
        return checks

    def note(self, ev: Evidence, info: dict) -> None:
        info["rst_sent"] = _codes(_client_frames(ev, "RST_STREAM"))
        info["goaway_sent"] = _codes(_client_frames(ev, "GOAWAY"))
        if len(ev.outcomes) > 1:
            info["siblings"] = _siblings(ev, self.index)


def _siblings(ev: Evidence, faulty: int) -> dict:
    """R-5.4.2-2 (reported): did the other transfers carry on after the stream error?"""
    others = [o for i, o in enumerate(ev.outcomes) if i != faulty]
    escalated = any(_error_goaways(c) for c in ev.observations.connections)
    failed = sum(not o.ok for o in others)
    return {"completed": len(others) - failed, "failed": failed, "escalated": escalated,
            "killed_without_connection_error": bool(failed) and not escalated}


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
        return [Check(passed, want, f"transfer {self.index + 1} {o.summary()}", name="transfer-fails")]


class Sent(Expectation):
    """The client sent at least one frame of `ftype` matching `where`."""

    prefix = "sent"

    def __init__(self, ftype: str, what: str, where: Callable[[Frame], bool] = lambda f: True, *,
                 level: Level | None = None, name: str = ""):
        self.ftype, self.what, self.where, self.level = ftype, what, where, level
        self.name = name or f"{self.prefix}-{ftype.lower().replace('_', '-')}"

    def judge(self, ev: Evidence) -> list[Check]:
        frames = _client_frames(ev, self.ftype)
        hit = [f for f in frames if self.where(f)]
        actual = (f"sent {hit[0].describe()}" if hit else
                  f"no such frame; {self.ftype} frames sent: {[f.describe() for f in frames][:4]}")
        return [Check(bool(hit), f"client sends {self.what}", actual, self.level, name=self.name)]


class NotSent(Sent):
    """The client sent no frame of `ftype` matching `where`."""

    prefix = "not-sent"

    def judge(self, ev: Evidence) -> list[Check]:
        hit = [f for f in _client_frames(ev, self.ftype) if self.where(f)]
        return [Check(not hit, f"client never sends {self.what}",
                      f"sent {hit[0].describe()}" if hit else "none sent", self.level, name=self.name)]


class Connections(Expectation):
    """How many connections the client opened: exactly `n`, or between `min` and `max`."""

    def __init__(self, n: int | None = None, *, min: int = 1, max: int | None = None,
                 why: str = "", level: Level | None = None, name: str = "connections"):
        self.min = n if n is not None else min
        self.max = n if n is not None else max
        self.why, self.level, self.name = why, level, name

    def judge(self, ev: Evidence) -> list[Check]:
        got = len(ev.observations.connections)
        passed = got >= self.min and (self.max is None or got <= self.max)
        rng = str(self.min) if self.min == self.max else (
            f"{self.min}..{self.max}" if self.max is not None else f"at least {self.min}")
        return [Check(passed, f"{rng} connection(s){' (' + self.why + ')' if self.why else ''}",
                      f"{got} connection(s)", self.level, name=self.name)]

    def note(self, ev: Evidence, info: dict) -> None:
        info["connections"] = len(ev.observations.connections)


class Retried(Connections):
    """A retry on a new connection is allowed (MAY, reported) but bounded (MUST)."""

    def __init__(self, max_retries: int):
        super().__init__(min=1, max=1 + max_retries, name="retries-bounded",
                         why=f"at most {max_retries} retr{'y' if max_retries == 1 else 'ies'} on new connections")

    def note(self, ev: Evidence, info: dict) -> None:
        info["retried"] = len(ev.observations.connections) > 1
        info["connections"] = len(ev.observations.connections)


class Custom(Expectation):
    """A one-off check: `fn(ev) -> (passed, actual)`."""

    def __init__(self, expected: str, fn: Callable[[Evidence], tuple[bool, str]], *,
                 level: Level | None = None, name: str):
        self.expected, self.fn, self.level, self.name = expected, fn, level, name

    def judge(self, ev: Evidence) -> list[Check]:
        passed, actual = self.fn(ev)
        return [Check(passed, self.expected, actual, self.level, name=self.name)]


class Exercised(Expectation):
    """A precondition: `fn(ev) -> (reached, actual)` says whether the scenario reached the
    behaviour under test. When it did not, the verdict is NOT-EXERCISED, never PASS."""

    def __init__(self, what: str, fn: Callable[[Evidence], tuple[bool, str]]):
        self.what, self.fn = what, fn

    def judge(self, ev: Evidence) -> list[Check]:
        reached, actual = self.fn(ev)
        return [Check(reached, f"exercised: {self.what}", actual, Level.MAY, precondition=True,
                      name="exercised")]


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
