"""The reference pycurl adapter speaks docs/clients.md: hello, errors, a failing job, EOF."""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pycurl = pytest.importorskip("pycurl")

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = {"h2", "h2c", "http1.1", "alpn", "parallel", "tls-session-cache", "trace"}


class Adapter:
    def __init__(self, stderr_path: Path):
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.clients.pycurl_adapter"], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.buf = b""

    def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
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


def test_hello_names_the_exact_runtime_client(adapter):
    hello = adapter.read()
    info = pycurl.version_info()
    assert hello["type"] == "hello" and hello["protocol"] == 1
    client = hello["client"]
    assert client["name"] == "pycurl"
    assert client["version"] == pycurl.version
    assert client["libcurl"] == info[1]
    assert client["tls"] == info[5]
    caps = set(hello["capabilities"])
    assert caps <= CAPABILITIES and {"http1.1", "trace"} <= caps
    has_h2 = bool(info[4] & pycurl.VERSION_HTTP2)
    assert ("HTTP2" in client["features"]) == has_h2 == ("h2c" in caps)
    if has_h2:
        assert f"nghttp2/{client['nghttp2']}" in pycurl.version


def test_malformed_line_is_answered_and_the_adapter_keeps_serving(adapter, tmp_path):
    adapter.read()
    adapter.send("{this is not json")
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] is None and reply["message"]
    adapter.send(json.dumps(job("bad", 1, tmp_path, mode="sideways")))
    reply = adapter.read()
    assert reply["type"] == "error" and reply["id"] == "bad" and "mode" in reply["message"]
    adapter.send(json.dumps(job("after", closed_port(), tmp_path)))
    assert adapter.read()["type"] == "result"


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_closed_port_is_a_connect_error(adapter, tmp_path, mode):
    adapter.read()
    adapter.send(json.dumps(job("closed", closed_port(), tmp_path, n=2, mode=mode)))
    result = adapter.read()
    assert result["type"] == "result" and result["id"] == "closed"
    assert len(result["outcomes"]) == 2
    for outcome in result["outcomes"]:
        assert outcome["ok"] is False and outcome["status"] is None
        assert outcome["error"]["class"] == "connect"
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["code"] == pycurl.E_COULDNT_CONNECT
    assert isinstance(result["trace"], str)


def test_eof_exits_with_status_0(adapter):
    adapter.read()
    adapter.proc.stdin.close()
    assert adapter.proc.wait(10) == 0
    assert adapter.proc.stdout.read() == b""
