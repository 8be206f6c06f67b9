"""Drives an adapter process over docs/clients.md for the adapter self-tests."""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPABILITIES = {"h2", "h2c", "http1.1", "alpn", "parallel", "tls-session-cache", "trace",
                "asterisk-form", "connect-to", "https-proxy"}
PROTOCOL_2 = {"phases", "pause", "cancel", "streaming-upload", "trailers", "push",   # docs/clients.md v2
              "resolve", "early-data"}


class AdapterProcess:
    """One adapter started as the harness starts it: cwd=ROOT, JSON lines on stdin/stdout."""

    def __init__(self, python: str | Path, module: str, stderr_path: Path):
        self.stderr_path = stderr_path
        self.stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            [str(python), "-m", f"conformance.clients.{module}"], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.buf = b""

    def __enter__(self) -> AdapterProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, message: dict | str) -> None:
        """Send a message as JSON, or a str line as it is (to send malformed lines)."""
        line = message if isinstance(message, str) else json.dumps(message)
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

    def run(self, job: dict) -> dict:
        self.send(job)
        return self.read()

    def hang_up(self) -> tuple[int, bytes]:
        """Close stdin as the harness does when it goes away: exit status and any further output."""
        self.proc.stdin.close()
        status = self.proc.wait(10)
        return status, self.buf + self.proc.stdout.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            stream.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (just released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job(job_id: str, url: str, ca_file: str | None, n: int = 1, version: str = "h2",
        **kw) -> dict:
    """A run message with n GET requests to url; kw overrides any job field."""
    req = {"method": "GET", "url": url, "headers": [["x-case", "1"]], "body_b64": None,
           "http_version": version}
    return {"type": "run", "id": job_id, "timeout_ms": 3000, "ca_file": ca_file,
            "mode": "sequential", "connection": "reuse", "tls_session_cache": "separate",
            "requests": [dict(req) for _ in range(n)], **kw}


def https_job(job_id: str, port: int, tmp_path: Path, n: int = 1, **kw) -> dict:
    """A job to https://127.0.0.1:port/ trusting an empty CA file, never read if the connect fails."""
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    return job(job_id, f"https://127.0.0.1:{port}/", kw.pop("ca_file", str(ca)), n, **kw)


def connect_failures(result: dict, job_id: str, n: int) -> list[dict]:
    """Check that result answers job_id with n outcomes, each a connect failure; return them."""
    assert result["type"] == "result" and result["id"] == job_id
    assert len(result["outcomes"]) == n
    for outcome in result["outcomes"]:
        assert outcome["ok"] is False and outcome["status"] is None
        assert outcome["error"]["class"] == "connect"
    return result["outcomes"]
