"""A case: one requirement, one server behaviour, one request, one expected outcome."""
from __future__ import annotations

import base64
import enum
import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from conformance.clients.jobs import capabilities_needed
from servers.scenario import Scenario


class Level(str, enum.Enum):
    """RFC 2119 level of the requirement a case checks."""
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


MUST, SHOULD, MAY = Level.MUST, Level.SHOULD, Level.MAY
# A job's default timeout (docs/clients.md `timeout_ms`). Every client in the matrix ends a
# default-timeout case within a tenth of it; the bound is what a client that hangs (holds a
# connection after its GOAWAY, waits on a stream that will never end) costs. Cases that move
# more data, pause or wait on purpose say their own.
TIMEOUT_MS = 500
WAIT_TIMEOUT_MS = 200   # `waits` cases: the client's own timeout is the behaviour under test
# The usual negative control of a fault case: a client that accepts anything must fail on the
# transfer's outcome, since the requirement is that the fault ends the transfer.
NAIVE = {"naive": "transfer-fails"}


class CaseDefinitionError(ValueError):
    """A case in cases/ is malformed; the message says which field to fix."""


@dataclass(frozen=True)
class Req:
    """One request the client is asked to make. The fields after http_version are protocol 2
    (docs/clients.md); each goes out only when set, and all but host, userinfo and
    default_port's URL need their adapter capability."""
    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    http_version: str = "h2"
    pause_after: int | None = None       # receiver pauses before body octet pause_after + 1 ...
    pause_ms: int | None = None          # ... for this long,
    resume_after: int | None = None      # ... or until this request (same phase) has ended
    cancel_after_bytes: int | None = None  # the application cancels before body octet n + 1
    cancel_after_ms: int | None = None   # the application cancels this long after the start
    body_chunks: tuple[tuple[bytes, int], ...] | None = None  # (data, delay_ms): length unknown
    trailers: tuple[tuple[str, str], ...] | None = None
    # The URL's parts, and the optional request fields of docs/clients.md (capability in brackets)
    host: str | None = None              # the URL's host instead of the server's address; the job
    #                                      resolves it to the server (docs/clients.md `resolve`)
    userinfo: str | None = None          # "user:pw" in the URL (no capability)
    target: str | None = None            # "*": OPTIONS * (asterisk-form)
    default_port: bool = False           # the URL leaves out the port; connect_to the server (connect-to)
    via_proxy: bool = False              # http:// URL tunnelled through the server as HTTPS proxy (https-proxy)
    protocol: str | None = None          # RFC 8441 extended CONNECT with this :protocol (extended-connect)
    expect_timeout_ms: int | None = None  # how long an Expect: 100-continue waits for the 100

    def to_json(self, base_url: str) -> dict:
        scheme, _, hostport = base_url.partition("://")
        host, _, port = hostport.rpartition(":")
        host = self.host or host
        url = (f"{'http' if self.via_proxy else scheme}://"
               f"{self.userinfo + '@' if self.userinfo else ''}"
               f"{host if self.default_port else f'{host}:{port}'}{self.path}")
        out = {"method": self.method, "url": url,
               "headers": [list(h) for h in self.headers],
               "body_b64": base64.b64encode(self.body).decode() if self.body is not None else None,
               "http_version": self.http_version}
        for name in ("pause_after", "pause_ms", "resume_after", "cancel_after_bytes",
                     "cancel_after_ms", "target", "protocol", "expect_timeout_ms"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.body_chunks is not None:
            out["body_chunks"] = [{"data_b64": base64.b64encode(data).decode(), "delay_ms": ms}
                                  for data, ms in self.body_chunks]
        if self.trailers is not None:
            out["trailers"] = [list(t) for t in self.trailers]
        if self.default_port:
            out["connect_to"] = hostport
        if self.via_proxy:
            out["proxy"] = base_url
        return out


@dataclass(frozen=True)
class Job:
    """What the client does in one case (docs/clients.md `run`).

    `phases` ((mode, count), ...) splits `requests` into consecutive phases run one after
    the other on the same client, each in its own mode; `mode` is then unused."""
    requests: tuple[Req, ...] = (Req(),)
    mode: str = "sequential"            # or "parallel"
    connection: str = "reuse"           # or "fresh"
    tls_session_cache: str = "separate"  # or "shared"
    timeout_ms: int = TIMEOUT_MS
    phases: tuple[tuple[str, int], ...] = ()
    push: str | None = None             # "accept" or "refuse": the application's answer to pushes
    resolve: str | None = None          # a host name the URLs use, resolved to the server (SNI cases)
    handles: str = "kept"               # or "closed": each request's handle closed once it ended
    early_data: bool = False            # ask the client for TLS 1.3 early data where it can

    hygiene: bool = False               # the harness counts the client's sockets after the job

    def __post_init__(self):
        if self.phases and sum(n for _, n in self.phases) != len(self.requests):
            raise CaseDefinitionError(f"the phases {self.phases} do not add up to "
                                      f"{len(self.requests)} requests")

    def to_json(self, case_id: str, base_url: str, ca_file: str) -> dict:
        server = urlsplit(base_url)
        url = with_host(base_url, self.resolve) if self.resolve else base_url
        out = {"type": "run", "id": case_id, "timeout_ms": self.timeout_ms, "ca_file": ca_file,
               "connection": self.connection, "tls_session_cache": self.tls_session_cache,
               "requests": [r.to_json(url) for r in self.requests]}
        # "localhost" is a real loopback name: the system resolves it, no job entry needed
        names = sorted({self.resolve, *(r.host for r in self.requests)} - {None, "localhost"})
        if names:   # the URLs name these hosts; the client resolves them to the server's address
            address = server.netloc.rpartition(":")[0]
            out["resolve"] = [f"{name}:{server.port}:{address}" for name in names]
        if self.phases:
            out["phases"] = [{"mode": mode, "count": n} for mode, n in self.phases]
        else:
            out["mode"] = self.mode
        if self.push is not None:
            out["push"] = self.push
        if self.handles != "kept":
            out["handles"] = self.handles
        if self.early_data:
            out["early_data"] = True
        return out

    @property
    def needs(self) -> set[str]:
        """Adapter capabilities the job's own fields need (phases, pause, push, ...)."""
        return capabilities_needed(self.to_json("", "", ""))


def with_host(base_url: str, host: str) -> str:
    """base_url with the server's address replaced by a host name."""
    u = urlsplit(base_url)
    return f"{u.scheme}://{host}:{u.port}{u.path}"


def get(path: str = "/", *, timeout_ms: int = TIMEOUT_MS, **kw) -> Job:
    return Job((Req(path, **kw),), timeout_ms=timeout_ms)


def gets(n: int, *, mode: str = "sequential", timeout_ms: int = TIMEOUT_MS, **kw) -> Job:
    return Job(tuple(Req(f"/r/{i}") for i in range(1, n + 1)), mode=mode, timeout_ms=timeout_ms, **kw)


SLUG = re.compile(r"^(9113|7541|8441|8446|7301|9218|tls|alpn|baseline)/[0-9][0-9.]*/[a-z0-9][a-z0-9-]*$|"
                  r"^(tls|alpn|baseline)/[a-z0-9][a-z0-9.-]*/[a-z0-9][a-z0-9-]*$")
TRANSPORTS = ("tls", "h2c", "reference")
COVERS_ID = re.compile(r"^R-[A-Za-z0-9.-]+-[0-9]+$")


@dataclass(frozen=True)
class Case:
    """A declarative case. See cases/README.md for how to write one."""
    id: str                              # stable slug, e.g. 9113/6.5.2/enable-push-1
    level: Level
    requirement: str                     # the requirement, in our words, with its section
    server: str                          # one line: what the server does
    scenario: Callable[[], Scenario] | None  # a fresh scenario per run; None for "reference"
    expect: object                       # an Expectation (conformance.verdicts.expect)
    request: Job = field(default_factory=Job)
    transport: str = "tls"               # tls (https + ALPN), h2c (prior knowledge), reference
    needs: frozenset = frozenset({"h2"})  # adapter capabilities required
    bad: dict = field(default_factory=dict)  # {scripted behaviour: the check it must fail on}
    good: tuple[str, ...] = ("good",)    # scripted behaviours that must PASS, one per allowed reaction
    regression: str | None = None        # public bug reference, e.g. "curl#11859"
    waits: bool = False                  # True when the client's own timeout is the behaviour under test
    covers: tuple[str, ...] = ()         # requirement IDs of ../shared/requirements.md, e.g. ("R-6.8-2",)
    level_note: str = ""                 # why the level differs from the covered line's, if it does
    ipv6: bool = False                   # the server listens on [::1] instead of 127.0.0.1

    @property
    def rfc(self) -> str:
        return self.id.split("/", 1)[0]

    @property
    def section(self) -> str:
        return self.id.split("/")[1]

    def validate(self, where: str) -> None:
        def bad(msg: str) -> None:
            raise CaseDefinitionError(f"{where}: case {self.id!r}: {msg}")
        if not isinstance(self.id, str) or not SLUG.match(self.id):
            bad("id must be a slug like '9113/6.5.2/enable-push-1' (rfc/section/lowercase-name)")
        if not isinstance(self.level, Level):
            bad("level must be MUST, SHOULD or MAY (from conformance.case)")
        for name in ("requirement", "server"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                bad(f"'{name}' must be a non-empty sentence")
        if self.transport != "reference" and not callable(self.scenario):
            bad("scenario must be a callable that returns a fresh Scenario")
        if not hasattr(self.expect, "judge"):
            bad("expect must be an Expectation from conformance.verdicts.expect")
        if not isinstance(self.request, Job):
            bad("request must be a Job (use conformance.case.get/gets/Job)")
        if self.transport not in TRANSPORTS:
            bad(f"transport must be one of {', '.join(TRANSPORTS)}")
        if not isinstance(self.covers, tuple) or not all(
                isinstance(r, str) and COVERS_ID.match(r) for r in self.covers):
            bad("covers must be a tuple of requirement IDs like ('R-6.8-2',)")
        if not self.covers:
            bad("covers must name the requirement IDs of ../shared/requirements.md the case checks, "
                "e.g. covers=('R-6.8-2',)")
        if not isinstance(self.bad, dict) or not self.bad or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in self.bad.items()):
            bad("bad must map each misbehaving scripted client to the name of the check it must "
                "fail on, e.g. bad={'no-ping-ack': 'sent-ping'} (a negative control)")
        if self.request.timeout_ms > 10000:
            bad("request timeout_ms must stay at or below 10000")
