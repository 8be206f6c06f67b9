"""The curl command-line adapter speaks docs/clients.md: hello, a failing job, a bad job,
no curl left behind when the harness goes away, a streamed body from stdin, and the protocol 2
capabilities the tool lacks refused as unsupported."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.clients.process import ClientProcess
from tests.adapter_driver import CAPABILITIES, PROTOCOL_2, ROOT, AdapterProcess, closed_port, \
    connect_failures, https_job
from tests.adapter_features import chunks_json, features, unsupported_job

CURL = shutil.which(os.environ.get("CURL", "curl"))
pytestmark = pytest.mark.skipif(CURL is None, reason="no curl binary")


@pytest.fixture
def adapter(tmp_path):
    with AdapterProcess(sys.executable, "curl_cli_adapter", tmp_path / "stderr.txt") as a:
        yield a


def test_hello_names_the_exact_curl_binary(adapter):
    hello = adapter.read()
    version = subprocess.run([CURL, "-q", "--version"], capture_output=True, text=True).stdout
    assert hello["type"] == "hello" and hello["protocol"] == 2
    client = hello["client"]
    assert client["name"] == "curl"
    assert client["version"] == version.splitlines()[0]
    assert f"libcurl/{client['libcurl']}" in client["version"]
    caps = set(hello["capabilities"])
    assert caps <= CAPABILITIES | {"streaming-upload", "resolve", "process-per-job"}
    assert {"http1.1", "trace", "streaming-upload", "resolve", "process-per-job"} <= caps
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
    result = adapter.run(https_job("closed", closed_port(), tmp_path, n=2, **shape))
    for outcome in connect_failures(result, "closed", 2):
        assert outcome["error"]["name"] == "CURLE_COULDNT_CONNECT"
        assert outcome["error"]["code"] == 7
        assert "Trying 127.0.0.1" in outcome["trace"]


def test_bad_jobs_are_errors_and_the_adapter_keeps_serving(adapter, tmp_path):
    adapter.read()
    reply = adapter.run(https_job("bad", 1, tmp_path, mode="sideways"))
    assert reply["type"] == "error" and reply["id"] == "bad" and "mode" in reply["message"]
    reply = adapter.run(https_job("shared", 1, tmp_path, n=2, connection="fresh",
                                  tls_session_cache="shared"))
    assert reply["type"] == "error" and reply["id"] == "shared"
    assert reply["unsupported"] == ["tls-session-cache"]
    assert adapter.run(https_job("after", closed_port(), tmp_path))["type"] == "result"


def test_stdin_hangup_mid_job_kills_curl_and_exits_0(adapter, tmp_path):
    adapter.read()
    with socket.socket() as silent:   # accepts the TCP connect, never answers the TLS hello
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        adapter.send(https_job("hang", port, tmp_path, timeout_ms=20000, ca_file=None))
        deadline = time.monotonic() + 10
        while not curl_processes_for(port):
            assert time.monotonic() < deadline, "curl never started"
            time.sleep(0.05)
        assert adapter.hang_up()[0] == 0
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


@pytest.mark.parametrize("check", features({"streaming-upload", "resolve"}))
def test_protocol_2_feature(adapter, servers, check):
    adapter.read()
    check(adapter.run, servers)


@pytest.mark.parametrize("capability", sorted(PROTOCOL_2 - {"streaming-upload", "resolve"}))
def test_what_the_tool_cannot_do_is_unsupported(adapter, capability):
    adapter.read()
    reply = adapter.run(unsupported_job(capability, f"https://127.0.0.1:{closed_port()}/"))
    assert reply["type"] == "error" and reply["unsupported"] == [capability]


def test_two_streamed_bodies_in_one_process_are_unsupported(adapter, tmp_path):
    adapter.read()
    message = https_job("two", closed_port(), tmp_path, n=2)
    for req in message["requests"]:
        req.update(method="POST", body_chunks=chunks_json())
    reply = adapter.run(message)
    assert reply["type"] == "error" and reply["unsupported"] == ["streaming-upload"]


def test_the_harness_judges_an_unsupported_answer_unsupported():
    """An adapter's `unsupported` error (docs/clients.md) is a Reply of its own kind."""
    client = ClientProcess("curl-cli", [sys.executable, "-m", "conformance.clients.curl_cli_adapter"],
                           cwd=str(ROOT))
    try:
        assert client.start()["protocol"] == 2
        reply = client.run(unsupported_job("pause", f"https://127.0.0.1:{closed_port()}/"), 5.0)
        assert reply.kind == "unsupported" and "pause" in reply.detail
    finally:
        client.close()
