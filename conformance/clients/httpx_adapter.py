"""Adapter for httpx with HTTP/2 through python-hyper h2 (docs/clients.md, protocol 1).

python -m conformance.clients.httpx_adapter   (JSON lines on stdin/stdout)

httpx picks HTTP versions per client, not per request, so a job gets one AsyncClient per
version setting (connection "reuse") or one per request ("fresh"). Protocol 2: phases, pause,
cancel, streamed bodies and resolve (through socket.getaddrinfo: httpx has no resolver
option); not trailers (httpx sends none) or push (httpcore disables it). Every client is closed
before the result goes out. The trace is the DEBUG logging of httpx, httpcore, h2 and hpack.
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import logging
import re
import socket
import ssl
import sys
import time
import traceback

import h2
import h2.events
import h2.exceptions
import h11
import hpack
import httpcore
import httpx
import hyperframe

from conformance.clients.jobs import PROTOCOL, Trace, answer_with, body_of, phases_of
from conformance.clients.jsonlines import serve

# (http1, http2) for httpx. With http1=False httpcore speaks HTTP/2 whatever ALPN selected:
# that is prior knowledge over cleartext, and also what "HTTP/2 only" does over TLS.
VERSIONS = {"h2": (False, True), "h2-prior-knowledge": (False, True),
            "h2-or-http1.1": (True, True), "http1.1": (True, False)}
SEEN_VERSIONS = {"HTTP/2": "2", "HTTP/1.1": "1.1", "HTTP/1.0": "1.1"}
LOGGERS = ("httpx", "httpcore", "h2", "hpack")
SLACK_S = 0.1      # our own bound on a transfer, past timeout_ms: httpx's timeouts fire first
JOB_SLACK_S = 0.5  # the whole job ends within timeout_ms per request plus this
CLOSE_S = 0.5      # for closing one client
LINE_CAP = 600     # characters kept of one log line
# hpack's per-integer encoding steps: noise next to the header lists h2 logs
HPACK_NOISE = {"Encoding %d with %d bits", "Decoded %d, consumed %d bytes",
               "Adding %s=%s to the header table, sensitive:%s, huffman:%s"}
INCOMPLETE_BODY = re.compile(r"without sending complete message body|incomplete", re.I)

CURRENT_TRACE: contextvars.ContextVar[Trace | None] = contextvars.ContextVar("trace", default=None)


def openssl_version() -> str:
    return ssl.OPENSSL_VERSION.split()[1]


def hello() -> dict:
    parts = [("httpx", httpx), ("httpcore", httpcore), ("h2", h2), ("hpack", hpack),
             ("hyperframe", hyperframe)]
    version = " ".join(f"{name}/{module.__version__}" for name, module in parts)
    tls = f"OpenSSL/{openssl_version()}"
    return {"type": "hello", "protocol": PROTOCOL,
            "client": {"name": "httpx", "version": f"{version} {tls}", "libcurl": None,
                       "tls": tls, "nghttp2": None},
            "capabilities": ["h2", "h2c", "http1.1", "alpn", "parallel", "trace", "phases", "pause",
                             "cancel", "streaming-upload", "resolve", "asterisk-form"]}


# -- trace ------------------------------------------------------------------------------

class TraceHandler(logging.Handler):
    """Copies every library log line to the job's trace and to the logging task's transfer."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.start_job()

    def start_job(self) -> None:
        self.job, self.t0 = Trace(), time.time()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            ms = (record.created - self.t0) * 1000
            line = f"{ms:9.3f} {record.name}: {record.getMessage()[:LINE_CAP]}\n"
        except Exception:   # a record that cannot be formatted
            self.handleError(record)
            return
        self.job.add(line)
        transfer = CURRENT_TRACE.get()
        if transfer is not None:
            transfer.add(line)


class H2Log:
    """h2's logger interface (debug, trace) forwarded to logging; payload bytes as sizes."""

    log = logging.getLogger("h2")

    def debug(self, fmt, *args) -> None:
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug(fmt, *(f"<{len(a)} bytes>" if isinstance(a, (bytes, bytearray, memoryview))
                                  else a for a in args))

    trace = debug


def install_logging() -> TraceHandler:
    handler = TraceHandler()
    handler.addFilter(lambda record: record.msg not in HPACK_NOISE)
    for name in LOGGERS:
        log = logging.getLogger(name)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        log.addHandler(handler)
    # httpcore gives every h2 connection this shared configuration; h2 logs only through it
    httpcore.AsyncHTTP2Connection.CONFIG.logger = H2Log()
    return handler


# -- errors -----------------------------------------------------------------------------

def causes(exc: BaseException) -> list:
    """exc, its causes and contexts, and the exceptions or h2 events it carries in args."""
    seen, todo, found = set(), [exc], []
    while todo:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        found.append(item)
        if isinstance(item, BaseException):
            todo += [a for a in item.args if isinstance(a, (BaseException, h2.events.Event))]
            todo += [e for e in (item.__cause__, item.__context__) if e is not None]
    return found


def public_name(exc: BaseException) -> str:
    cls = type(exc)
    module = ".".join(p for p in cls.__module__.split(".") if not p.startswith("_"))
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def raised_on_receive(exc: BaseException) -> bool:
    """Did h2 raise this while parsing the peer's bytes (not while preparing our own)?"""
    return any(frame.f_code.co_name == "receive_data"
               and frame.f_globals.get("__name__") == "h2.connection"
               for frame, _ in traceback.walk_tb(exc.__traceback__))


def error_class(exc: BaseException, chain: list) -> str:
    def first(kind):
        return next((e for e in chain if isinstance(e, kind)), None)

    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "tls" if first(ssl.SSLError) else "connect"
    if first(h2.events.StreamReset) or first(h2.exceptions.StreamClosedError):
        return "stream"
    if first(h2.events.ConnectionTerminated):   # the peer's GOAWAY
        return "http2"
    h2_error = first(h2.exceptions.ProtocolError)
    if h2_error is not None:
        return "http2" if raised_on_receive(h2_error) else "other"
    if isinstance(exc, httpx.ReadError):
        return "recv"
    if isinstance(exc, httpx.WriteError):
        return "send"
    if isinstance(exc, httpx.RemoteProtocolError):
        if first(h11.RemoteProtocolError):   # HTTP/1.1 parsing
            return "partial" if INCOMPLETE_BODY.search(str(exc)) else "weird-reply"
        return "recv"   # "Server disconnected"
    return "other"


def describe(chain: list) -> str:
    """'name: text' down the chain; a text already shown by a wrapper is not repeated."""
    parts, shown = [], set()
    for e in chain:
        if isinstance(e, BaseException):
            text = str(e)
            parts.append(f"{public_name(e)}: {text}" if text and text not in shown else public_name(e))
            shown.add(text)
    return " <- ".join(parts)[:2000]


def error_of(exc: BaseException, timeout_ms: int, cls: str | None = None) -> dict:
    chain = causes(exc)
    cls = cls or error_class(exc, chain)
    message = describe(chain)
    if cls == "timeout":
        message = f"no complete response within {timeout_ms} ms: {message}"
    return {"code": 0, "name": public_name(exc), "message": message, "class": cls}


# -- transfers --------------------------------------------------------------------------

def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Peer and host verification on; ca_file is the only trust anchor."""
    if ca_file is None:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=ca_file)


def new_client(job: dict, req: dict) -> httpx.AsyncClient:
    http1, http2 = VERSIONS[req["http_version"]]
    verify = tls_context(job["ca_file"]) if req["url"].startswith("https:") else False
    return httpx.AsyncClient(http1=http1, http2=http2, verify=verify, trust_env=False,
                             timeout=job["timeout_ms"] / 1000, follow_redirects=False)


async def close_client(client: httpx.AsyncClient) -> None:
    try:
        await asyncio.wait_for(client.aclose(), CLOSE_S)
    except Exception as exc:
        print(f"httpx adapter: closing a client failed: {exc!r}", file=sys.stderr)


class Transfer:
    """One request and what came back. The application pauses, cancels and streams its body
    as the request asks (docs/clients.md, protocol 2)."""

    def __init__(self, req: dict, timeout_ms: int, job: list[Transfer]):
        self.req, self.timeout_ms, self.job = req, timeout_ms, job
        self.ended = asyncio.Event()
        self.cancelled: str | None = None
        self.trace, self.sha, self.body_len = Trace(), hashlib.sha256(), 0
        self.response: httpx.Response | None = None
        self.error: BaseException | None = None
        self.forced_class: str | None = None   # when the exception alone does not tell
        self.marks: dict[str, float] = {}
        self.t0 = self.t1 = 0.0

    async def on_event(self, name: str, info: dict) -> None:
        self.marks.setdefault(name, time.monotonic())

    async def run(self, client: httpx.AsyncClient, deadline: float) -> None:
        CURRENT_TRACE.set(self.trace)   # this task's context: its log lines land here
        self.t0 = time.monotonic()
        bound = min(self.timeout_ms / 1000 + SLACK_S, deadline - self.t0)
        cancel_ms = self.req.get("cancel_after_ms")
        try:
            await asyncio.wait_for(self.exchange(client), max(bound, 0.001) if cancel_ms is None
                                   else min(bound, cancel_ms / 1000))
        except (TimeoutError, asyncio.TimeoutError) as exc:
            if cancel_ms is not None and time.monotonic() - self.t0 < bound:
                self.cancel(f"after {cancel_ms} ms")
            else:
                self.error = exc
        except Exception as exc:
            self.error = exc
        self.t1 = time.monotonic()
        self.ended.set()

    def cancel(self, when: str) -> None:
        self.cancelled = f"cancelled by the application {when}"
        self.trace.add(f"[adapter] {self.cancelled}\n")

    async def exchange(self, client: httpx.AsyncClient) -> None:
        req = self.req
        content = body_of(req) if req.get("body_chunks") is None else self.chunks()
        extensions = {"trace": self.on_event}
        if req.get("target"):   # httpcore sends this request-target instead of the URL's path
            extensions["target"] = req["target"].encode()
        request = client.build_request(req["method"], req["url"], headers=req.get("headers") or [],
                                       content=content, extensions=extensions)
        self.response = await client.send(request, stream=True)
        cancel_after, pause_after = req.get("cancel_after_bytes"), req.get("pause_after")
        try:
            async for chunk in self.response.aiter_raw():
                # once at least the limit is held, the next delivery cancels or pauses first
                if cancel_after is not None and self.body_len >= cancel_after:
                    return self.cancel(f"after {self.body_len} body octets")
                if pause_after is not None and self.body_len >= pause_after:
                    pause_after = None
                    await self.paused()
                self.sha.update(chunk)
                self.body_len += len(chunk)
        finally:
            await self.response.aclose()

    async def paused(self) -> None:
        """The receiver takes nothing for pause_ms, or until request resume_after has ended."""
        self.trace.add(f"[adapter] receiver paused after {self.body_len} body octets\n")
        if self.req.get("pause_ms") is not None:
            await asyncio.sleep(self.req["pause_ms"] / 1000)
        else:
            await self.job[self.req["resume_after"]].ended.wait()
        self.trace.add("[adapter] receiver unpaused\n")

    async def chunks(self):
        """body_chunks: each one delay_ms after httpx took the one before."""
        for chunk in self.req["body_chunks"]:
            await asyncio.sleep(chunk["delay_ms"] / 1000)
            yield base64.b64decode(chunk["data_b64"])

    def since_start(self, mark: str) -> float:
        at = self.marks.get(mark)
        return round((at - self.t0) * 1000, 3) if at else 0.0

    def outcome(self) -> dict:
        r = self.response
        error = None if self.error is None else error_of(self.error, self.timeout_ms,
                                                         self.forced_class)
        if self.cancelled:
            error = {"code": None, "name": "CANCELLED", "message": self.cancelled,
                     "class": "cancelled"}
        return {
            "ok": error is None, "error": error,
            "status": r.status_code if r is not None else None,
            "http_version": SEEN_VERSIONS.get(r.http_version) if r is not None else None,
            "headers": [[k.decode("latin-1").lower(), v.decode("latin-1")]
                        for k, v in r.headers.raw] if r is not None else [],
            "trailers": None,   # httpx does not expose response trailers
            "body_len": self.body_len, "body_sha256": self.sha.hexdigest(),
            "timings": {"total_ms": round((self.t1 - self.t0) * 1000, 3),
                        "connect_ms": self.since_start("connection.connect_tcp.complete"),
                        "tls_ms": self.since_start("connection.start_tls.complete")},
            "trace": self.trace.text()}


class Clients:
    """The job's clients: with reuse, one per (HTTP version setting, scheme); all closed at the end."""

    def __init__(self, job: dict):
        self.job, self.shared = job, {}
        budget = job["timeout_ms"] / 1000 * len(job["requests"]) + JOB_SLACK_S
        self.deadline = time.monotonic() + budget

    def shared_for(self, req: dict) -> httpx.AsyncClient:
        key = (VERSIONS[req["http_version"]], req["url"].split(":", 1)[0])
        if key not in self.shared:
            self.shared[key] = new_client(self.job, req)
        return self.shared[key]

    async def run(self, t: Transfer) -> None:
        fresh = self.job["connection"] == "fresh"
        try:
            client = new_client(self.job, t.req) if fresh else self.shared_for(t.req)
        except OSError as exc:   # the CA file cannot be loaded (curl: SSL_CACERT_BADFILE)
            t.error, t.forced_class = exc, "tls"
            return
        try:
            await t.run(client, self.deadline)
        finally:
            if fresh:
                await close_client(client)

    async def aclose(self) -> None:
        for client in self.shared.values():
            await close_client(client)


async def run_async(job: dict) -> list[Transfer]:
    transfers: list[Transfer] = []
    transfers += [Transfer(r, job["timeout_ms"], transfers) for r in job["requests"]]
    clients = Clients(job)
    try:
        for mode, indices in phases_of(job):   # every phase on the same clients
            if mode == "parallel":
                await asyncio.gather(*(clients.run(transfers[i]) for i in indices))
            else:
                for i in indices:
                    await clients.run(transfers[i])
    finally:
        await clients.aclose()
    return transfers


class Resolved:
    """The job's `resolve` entries for the length of the job: httpx has no resolver option, so
    socket.getaddrinfo (which asyncio's resolver calls) answers those names itself."""

    def __init__(self, entries: list[str]):
        self.names = {}
        for entry in entries:
            host, port, address = entry.split(":", 2)
            self.names[(host, int(port))] = address.strip("[]")

    def __enter__(self):
        self.original = socket.getaddrinfo
        socket.getaddrinfo = self.getaddrinfo

    def __exit__(self, *exc):
        socket.getaddrinfo = self.original

    def getaddrinfo(self, host, port, *args, **kw):
        name = host.decode() if isinstance(host, bytes) else host
        return self.original(self.names.get((name, int(port or 0)), host), port, *args, **kw)


def job_runner(handler: TraceHandler):
    def run_job(job: dict) -> dict:
        handler.start_job()
        with Resolved(job.get("resolve") or []):
            transfers = asyncio.run(run_async(job))
        return {"type": "result", "id": job["id"], "outcomes": [t.outcome() for t in transfers],
                "trace": handler.job.text()}
    return run_job


def main() -> int:
    greeting = hello()
    return serve(greeting, answer_with(job_runner(install_logging()), greeting["capabilities"]))


if __name__ == "__main__":
    sys.exit(main())
