"""The curl_cffi adapter speaks docs/clients.md: hello, a failing job, a bad job.
Skipped where the curl-cffi build is not prepared (bash scripts/build-venv.sh curl-cffi ...)."""
from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from conformance.catalog import ROOT
from conformance.clients.registry import BUILDS_DIR

PYTHON = os.path.join(BUILDS_DIR, "curl-cffi", "venv", "bin", "python")
CAPABILITIES = {"h2", "h2c", "http1.1", "alpn", "parallel", "tls-session-cache", "trace"}

pytestmark = pytest.mark.skipif(not os.path.exists(PYTHON),
                                reason="curl-cffi build not prepared (builds/curl-cffi/venv)")


def converse(*messages: dict) -> list[dict]:
    """Send the messages, close stdin, and return every line the adapter wrote."""
    lines = "".join(json.dumps(m) + "\n" for m in messages)
    proc = subprocess.run([PYTHON, "-m", "conformance.clients.curl_cffi_adapter"], cwd=ROOT,
                          input=lines, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def job(job_id: str, tmp_path, port: int = 1, n: int = 1, **kw) -> dict:
    ca = tmp_path / "ca.pem"
    ca.write_text("")  # never read: the connect fails first
    req = {"method": "GET", "url": f"https://127.0.0.1:{port}/", "headers": [["x-case", "1"]],
           "body_b64": None, "http_version": "h2"}
    return {"type": "run", "id": job_id, "timeout_ms": 3000, "ca_file": str(ca),
            "mode": "sequential", "connection": "reuse", "tls_session_cache": "separate",
            "requests": [dict(req) for _ in range(n)], **kw}


def test_hello_names_curl_cffi_and_its_boringssl_libcurl():
    [hello] = converse()
    assert hello["type"] == "hello" and hello["protocol"] == 1
    client = hello["client"]
    assert client["name"] == "curl_cffi"
    assert client["version"].startswith("curl_cffi/") and " libcurl/" in client["version"]
    assert client["tls"] == "BoringSSL" and "BoringSSL" in client["version"]
    assert f"libcurl/{client['libcurl']} " in client["version"]
    assert f"nghttp2/{client['nghttp2']}" in client["version"]
    assert "HTTP2" in client["features"] and "SSL" in client["features"]
    assert set(hello["capabilities"]) == CAPABILITIES


@pytest.mark.parametrize("mode", ["sequential", "parallel"])
def test_closed_port_is_a_connect_failure(tmp_path, mode):
    _, result = converse(job("closed", tmp_path, closed_port(), n=2, mode=mode))
    assert result["type"] == "result" and result["id"] == "closed"
    assert len(result["outcomes"]) == 2
    for outcome in result["outcomes"]:
        assert outcome["ok"] is False and outcome["status"] is None
        assert outcome["error"]["class"] == "connect"
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["message"]
    assert "== request 1:" in result["trace"]


def test_bad_job_gets_an_error_message_and_the_adapter_keeps_serving(tmp_path):
    _, bad, after = converse(job("bad", tmp_path, mode="sideways"),
                             job("after", tmp_path, closed_port()))
    assert bad["type"] == "error" and bad["id"] == "bad" and "mode" in bad["message"]
    assert after["type"] == "result" and after["outcomes"][0]["error"]["class"] == "connect"
