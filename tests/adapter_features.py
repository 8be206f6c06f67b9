"""The protocol 2 features (docs/clients.md), each against a small mock server scenario: the
adapter self-tests and the scripted client's run them through `run(job) -> result`.

Each `check_*` asserts what the protocol promises (the job's shape reached the client, the
outcome reports it), not how the client behaves on the wire."""
from __future__ import annotations

import base64
import functools
import hashlib
import socket
import threading
import time

import pytest

from servers import frames as F
from servers.scenario import Script, body_for, reply, response_fields
from tests.adapter_driver import job

BIG = body_for("/big", 300_000)       # beyond every client's first delivery and initial window
PUSHED = b"pushed body\n"
CHUNKS = [(b"a" * 100, 0), (b"b" * 200, 200), (b"c" * 50, 100)]   # (data, delay_ms)
TRAILERS = [["x-checksum", "abc"]]


def exercise(run, servers, scenario: Script, n: int = 1, requests: list[dict] = (), **job_fields):
    """Host the scenario, run a job of n GETs to it (requests[i] updates request i), and
    return (result, observations, seconds)."""
    hosted = servers.host(scenario, secure=True)
    try:
        message = job("v2", hosted.url("/big"), hosted.ca_file, n=n, **job_fields)
        if message["mode"] is None:   # a job with phases has no mode
            del message["mode"]
        for req, extra in zip(message["requests"], requests):
            req.update(extra)
        t0 = time.monotonic()
        result = run(message)
        seconds = time.monotonic() - t0
        hosted.wait_closed(2.0)
    finally:
        observations = hosted.close()
    assert result["type"] == "result", result
    return result, observations, seconds


def ok(outcome: dict, body: bytes) -> None:
    assert outcome["ok"] is True and outcome["error"] is None, outcome["error"]
    assert outcome["body_len"] == len(body)
    assert outcome["body_sha256"] == hashlib.sha256(body).hexdigest()


# -- phases -------------------------------------------------------------------------------
def check_phases(run, servers) -> None:
    """A warm-up transfer ends before the parallel phase starts, on the same client (its
    connection is reused)."""
    message = {"mode": None, "phases": [{"mode": "sequential", "count": 1},
                                        {"mode": "parallel", "count": 3}]}
    result, obs, _ = exercise(run, servers, Script(), n=4, **message)
    for outcome in result["outcomes"]:
        assert outcome["ok"] is True, outcome["error"]
    first = obs.connections[0]
    warm_up = first.streams_opened()[0]
    ended = min(f.seq for f in first.sent if f.stream == warm_up and f.has("END_STREAM"))
    opened_later = [f.seq for f in first.received if f.type == "HEADERS" and f.stream != warm_up]
    assert opened_later, "the parallel phase never used the warm-up's connection"
    assert min(opened_later) > ended, "a parallel transfer started before the warm-up ended"


# -- pause ---------------------------------------------------------------------------------
def check_pause(run, servers) -> None:
    """The receiver pauses for pause_ms, then takes the whole body."""
    result, _, seconds = exercise(run, servers, Script(respond=reply(body=BIG)),
                                  requests=[{"pause_after": 1000, "pause_ms": 300}])
    outcome = result["outcomes"][0]
    ok(outcome, BIG)
    assert "paused" in outcome["trace"] and seconds >= 0.3


def check_resume_after(run, servers) -> None:
    """Request 0 pauses at its first delivery and resumes once request 1 has ended."""
    def respond(conn, req):
        if req.path == "/big":
            return reply(body=BIG)(conn, req)
        conn.state["late"] = req            # answered after one PING round trip
        conn.send(F.ping(b"resume!!"))

    def on_frame(conn, f):
        if f.type == "PING" and f.has("ACK") and f.ping == b"resume!!":
            reply()(conn, conn.state.pop("late"))
    result, _, _ = exercise(run, servers, Script(respond=respond, on_frame=on_frame), n=2,
                            mode="parallel", requests=[{"pause_after": 0, "resume_after": 1}, {}])
    for outcome in result["outcomes"]:
        assert outcome["ok"] is True, outcome["error"]
    ok(result["outcomes"][0], BIG)


# -- cancel ----------------------------------------------------------------------------------
def check_cancel_bytes(run, servers) -> None:
    result, _, _ = exercise(run, servers, Script(respond=reply(body=BIG)),
                            requests=[{"cancel_after_bytes": 1000}])
    outcome = result["outcomes"][0]
    assert outcome["ok"] is False and outcome["error"]["class"] == "cancelled"
    assert 1000 <= outcome["body_len"] < len(BIG) and outcome["status"] == 200


def check_cancel_ms(run, servers) -> None:
    result, _, seconds = exercise(run, servers, Script(respond=lambda conn, req: None),
                                  requests=[{"cancel_after_ms": 200}])
    outcome = result["outcomes"][0]
    assert outcome["ok"] is False and outcome["error"]["class"] == "cancelled"
    assert outcome["status"] is None and 0.2 <= seconds < 2.0


# -- streamed bodies and trailers ------------------------------------------------------------
def chunks_json() -> list[dict]:
    return [{"data_b64": base64.b64encode(data).decode(), "delay_ms": ms} for data, ms in CHUNKS]


def check_streaming_upload(run, servers) -> None:
    """The body goes out as its chunks come, without content-length, and ends."""
    result, obs, seconds = exercise(run, servers, Script(),
                                    requests=[{"method": "POST", "body_chunks": chunks_json()}])
    assert result["outcomes"][0]["ok"] is True, result["outcomes"][0]["error"]
    [headers] = obs.frames("HEADERS")
    assert "content-length" not in dict(headers.headers)
    data = obs.frames("DATA")
    assert sum(f.data_len for f in data) == sum(len(d) for d, _ in CHUNKS)
    assert data[-1].has("END_STREAM") and seconds >= 0.3


def check_h2_trailers(run, servers) -> None:
    """Trailers go out as a HEADERS frame that ends the stream, after the body."""
    result, obs, _ = exercise(run, servers, Script(), requests=[{
        "method": "POST", "body_b64": base64.b64encode(b"xyz").decode(), "trailers": TRAILERS}])
    assert result["outcomes"][0]["ok"] is True
    last = obs.frames("HEADERS")[-1]
    assert last.has("END_STREAM") and [list(h) for h in last.headers] == TRAILERS


class Http1Capture:
    """A cleartext HTTP/1.1 server that keeps the first request's raw octets, chunked body
    and trailer section included, then answers 200."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.raw = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def serve(self) -> None:
        sock, _ = self.listener.accept()
        with sock:
            sock.settimeout(5)
            while b"\r\n0\r\n" not in self.raw or not self.raw.endswith(b"\r\n\r\n"):
                data = sock.recv(65536)
                if not data:
                    return
                self.raw += data
            sock.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")

    def close(self) -> bytes:
        self.thread.join(5)
        self.listener.close()
        return self.raw


def check_http1_trailers(run) -> None:
    """libcurl sends trailers only after a chunked HTTP/1.1 upload: they reach the wire there."""
    server = Http1Capture()
    message = job("trailers", server.url(), None, version="http1.1")
    message["requests"][0].update(method="POST", body_chunks=chunks_json(), trailers=TRAILERS)
    result = run(message)
    raw = server.close()
    assert result["outcomes"][0]["ok"] is True, result["outcomes"][0]["error"]
    assert raw.endswith(b"\r\n0\r\nx-checksum: abc\r\n\r\n"), raw[-200:]


# -- push -------------------------------------------------------------------------------------
def pushing() -> Script:
    """Promises /pushed on each request's stream, answers the request, then the push."""
    def respond(conn, req):
        promised = [(":method", "GET"), (":scheme", "https"),
                    (":authority", req.header(":authority")), (":path", "/pushed")]
        conn.send(F.push_promise(req.stream, req.stream + 1, conn.block(promised)))
        reply()(conn, req)
        conn.send_fields(req.stream + 1, response_fields(len(PUSHED)))
        conn.send_body(req.stream + 1, PUSHED)
    return Script(respond=respond)


def check_push(run, servers, answer: str) -> None:
    result, obs, _ = exercise(run, servers, pushing(), push=answer)
    ok(result["outcomes"][0], b"hello from h2clientspec\n")
    [pushed] = result["pushed"]
    assert pushed["parent"] == 0 and [":path", "/pushed"] in pushed["request_headers"]
    assert pushed["accepted"] is (answer == "accept")
    if answer == "accept":
        ok(pushed, PUSHED)
    else:
        assert any(f.stream == 2 and f.error_code in ("CANCEL", "REFUSED_STREAM")
                   for f in obs.frames("RST_STREAM"))


# -- resolve ---------------------------------------------------------------------------------
def check_resolve(run, servers) -> None:
    """A URL naming a host that resolves nowhere reaches the server: the TLS handshake carries
    the name (SNI), which the server's certificate does not cover."""
    hosted = servers.host(Script(), secure=True)
    try:
        port = hosted.url("/").split(":")[2].split("/")[0]
        message = job("resolve", f"https://resolve.invalid:{port}/", hosted.ca_file,
                      resolve=[f"resolve.invalid:{port}:127.0.0.1"])
        result = run(message)
        hosted.wait_closed(2.0)
    finally:
        obs = hosted.close()
    assert result["outcomes"][0]["error"]["class"] == "tls", result["outcomes"][0]
    assert [c.tls.sni for c in obs.connections] == ["resolve.invalid"]


FEATURES = [   # (capability, name, check of (run, servers))
    ("phases", "phases", check_phases),
    ("pause", "pause-ms", check_pause),
    ("pause", "resume-after", check_resume_after),
    ("cancel", "cancel-after-bytes", check_cancel_bytes),
    ("cancel", "cancel-after-ms", check_cancel_ms),
    ("streaming-upload", "body-chunks", check_streaming_upload),
    ("push", "push-accept", functools.partial(check_push, answer="accept")),
    ("push", "push-refuse", functools.partial(check_push, answer="refuse")),
    ("resolve", "resolve", check_resolve),
]


def features(capabilities) -> list:
    """The checks of these capabilities, as pytest parameters."""
    return [pytest.param(check, id=name) for cap, name, check in FEATURES if cap in capabilities]


def unsupported_job(capability: str, url: str) -> dict:
    """A job that needs `capability` (protocol 2)."""
    message = job(f"needs-{capability}", url, None)
    req = message["requests"][0]
    if capability == "phases":
        message.pop("mode")
        message["phases"] = [{"mode": "sequential", "count": 1}]
    elif capability == "push":
        message["push"] = "accept"
    elif capability == "resolve":
        message["resolve"] = ["example.test:443:127.0.0.1"]
    else:
        req.update({"pause": {"pause_after": 0, "pause_ms": 10},
                    "cancel": {"cancel_after_ms": 10},
                    "streaming-upload": {"body_chunks": chunks_json()},
                    "trailers": {"trailers": TRAILERS}}[capability])
    return message
