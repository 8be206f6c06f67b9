"""The curl command-line adapter speaks docs/clients.md: hello, a failing job, a bad job,
and no curl left behind when the harness goes away."""
from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CURL = shutil.which(os.environ.get("CURL", "curl"))
pytestmark = pytest.mark.skipif(CURL is None, reason="no curl binary")

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = {"h2", "h2c", "http1.1", "alpn", "parallel", "tls-session-cache", "trace"}


class Adapter:
    def __init__(self, stderr_path: Path):
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.clients.curl_cli_adapter"], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.buf = b""

    def send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()

    def read(self, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no line from the adapter in time"
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 65536)
                assert chunk, f"adapter closed stdout (exit {self.proc.poll()})"
                self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            if not stream.closed:
                stream.close()


@pytest.fixture
def adapter(tmp_path):
    a = Adapter(tmp_path / "stderr.txt")
    try:
        yield a
    finally:
        a.close()


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job(job_id: str, port: int, tmp_path: Path, n: int = 1, **kw) -> dict:
    ca = tmp_path / "ca.pem"
    ca.write_text("")  # never read: the connect fails first
    req = {"method": "GET", "url": f"https://127.0.0.1:{port}/", "headers": [["x-case", "1"]],
           "body_b64": None, "http_version": "h2"}
    return {"type": "run", "id": job_id, "timeout_ms": 3000, "ca_file": str(ca),
            "mode": "sequential", "connection": "reuse", "tls_session_cache": "separate",
            "requests": [dict(req) for _ in range(n)], **kw}


def test_hello_names_the_exact_curl_binary(adapter):
    hello = adapter.read()
    version = subprocess.run([CURL, "-q", "--version"], capture_output=True, text=True).stdout
    assert hello["type"] == "hello" and hello["protocol"] == 1
    client = hello["client"]
    assert client["name"] == "curl"
    assert client["version"] == version.splitlines()[0]
    assert f"libcurl/{client['libcurl']}" in client["version"]
    caps = set(hello["capabilities"])
    assert caps <= CAPABILITIES and {"http1.1", "trace"} <= caps
    assert "tls-session-cache" not in caps   # fresh connections cannot share one
    has_h2 = "HTTP2" in client["features"]
    assert has_h2 == ("h2c" in caps) == ("parallel" in caps)
    if has_h2:
        assert f"nghttp2/{client['nghttp2']}" in client["version"]
    if "SSL" in client["features"]:
        assert client["tls"] and client["tls"] in client["version"]


@pytest.mark.parametrize("shape", [{"mode": "sequential"}, {"mode": "parallel"},
                                   {"connection": "fresh"}])
def test_closed_port_is_a_connect_error(adapter, tmp_path, shape):
    adapter.read()
    adapter.send(job("closed", closed_port(), tmp_path, n=2, **shape))
    result = adapter.read()
    assert result["type"] == "result" and result["id"] == "closed"
    assert len(result["outcomes"]) == 2
    for outcome in result["outcomes"]:
        assert outcome["ok"] is False and outcome["status"] is None
        assert outcome["error"]["class"] == "connect"
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["code"] == 7
        assert "Trying 127.0.0.1" in outcome["trace"]


def test_bad_jobs_are_errors_and_the_adapter_keeps_serving(adapter, tmp_path):
    adapter.read()
    adapter.send(job("bad", 1, tmp_path, mode="sideways"))
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] == "bad" and "mode" in reply["message"]
    adapter.send(job("shared", 1, tmp_path, n=2, connection="fresh", tls_session_cache="shared"))
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] == "shared"
    adapter.send(job("after", closed_port(), tmp_path))
    assert adapter.read()["type"] == "result"


def test_stdin_hangup_mid_job_kills_curl_and_exits_0(adapter, tmp_path):
    adapter.read()
    with socket.socket() as silent:   # accepts the TCP connect, never answers the TLS hello
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        adapter.send(job("hang", port, tmp_path, timeout_ms=20000, ca_file=None))
        deadline = time.monotonic() + 10
        while not curl_processes_for(port):
            assert time.monotonic() < deadline, "curl never started"
            time.sleep(0.05)
        adapter.proc.stdin.close()
        assert adapter.proc.wait(10) == 0
        assert not curl_processes_for(port)


def curl_processes_for(port: int) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if f"127.0.0.1:{port}/".encode() in cmdline and ") Z" not in stat:
            found.append(pid)
    return found
