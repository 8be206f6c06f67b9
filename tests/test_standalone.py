"""`python -m servers serve <case-id>` serves a case to any client, here Debian's curl CLI: it
suggests a curl command that makes the case's requests, and judges what the server saw."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys

import pytest

from conformance import catalog
from conformance.catalog import ROOT
from conformance.runner import run_case
from conformance.verdicts import server_side

needs_curl = pytest.mark.skipif(not shutil.which("curl"), reason="the curl CLI is installed by make setup")
BODY = "hello from h2clientspec\n"


def serve(*args: str) -> tuple[subprocess.Popen, dict]:
    """Start serving; the facts it prints first (url, ca file, try, ...) by name."""
    proc = subprocess.Popen([sys.executable, "-m", "servers", "serve", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    facts = {}
    for line in proc.stdout:
        key, _, value = line.partition(":")
        facts[key.strip()] = value.strip()
        if key.startswith("conforming client"):
            break
    assert "url" in facts, proc.communicate()[0]
    return proc, facts


def finish(proc: subprocess.Popen) -> str:
    try:
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, rest
    return rest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_curl
def test_serve_judges_what_the_server_saw():
    server, facts = serve("9113/6.7/ping-ack", "--once")
    assert facts["url"].startswith("https://127.0.0.1:")
    assert "PING ACK with the same payload" in facts["conforming client"]
    got = subprocess.run(["curl", "-sS", "--http2", "--cacert", facts["ca file"], facts["url"]],
                         capture_output=True, text=True, timeout=30)
    assert got.returncode == 0 and got.stdout == BODY, got.stderr
    rest = finish(server)
    assert "client PING stream=0 flags=ACK" in rest
    assert "server-side verdict: PASS (from what the server saw; 1 check(s) need the client's report" in rest
    assert "  held: client sends PING ACK with the same payload: sent PING stream=0 flags=ACK" in rest
    assert "  not judged (needs the client's report): transfer 1 succeeds with status 200" in rest


@needs_curl
@pytest.mark.parametrize("case_id,held", [
    # The server answers once all three streams are open: one URL alone waits forever.
    ("9113/9.1/parallel-one-connection", "all three requests are open at once on a single connection"),
    ("9113/9.1/sequential-one-connection", "1 connection(s) (one connection for all three requests)"),
])
def test_the_suggested_command_makes_every_request(case_id, held):
    server, facts = serve(case_id, "--once")
    got = subprocess.run(["sh", "-c", facts["try"]], capture_output=True, text=True, timeout=30)
    assert (got.returncode, got.stdout, got.stderr) == (0, BODY * 3, ""), facts["try"]
    rest = finish(server)
    assert "server-side verdict: PASS (from what the server saw; 3 check(s) need the client's report" in rest
    assert f"  held: {held}: " in rest
    assert rest.count("  not judged (needs the client's report): transfer") == 3


@needs_curl
def test_port_option_and_the_reference_server_by_hand():
    port = free_port()
    server, facts = serve("baseline/reference/get-small", "--port", str(port))
    try:
        assert facts["url"] == f"https://127.0.0.1:{port}/"
        assert facts["try"].startswith("curl ")
        got = subprocess.run(["curl", "-sS", "--http2", "-k", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                              facts["url"]], capture_output=True, text=True, timeout=30)
        assert got.stdout == "200 2", got.stderr
        got = subprocess.run(["sh", "-c", facts["try"]], capture_output=True, text=True, timeout=30)
        assert got.returncode == 0, got.stderr
    finally:
        server.send_signal(signal.SIGTERM)
    finish(server)


def test_a_busy_port_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "servers", "serve", "9113/6.7/ping-ack", "--port", str(port)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr == f"error: cannot listen on port {port}: Address already in use\n"


@pytest.mark.parametrize("case_id,behaviour", [
    ("9113/6.7/ping-ack", "naive"), ("9113/6.5.2/enable-push-1", "good"),
    ("9113/6.5.2/enable-push-1", "naive"), ("9113/6.8/goaway-last-stream-0", "ignore-goaway"),
    ("9113/9.1/parallel-one-connection", "good")])
def test_server_side_checks_agree_with_the_full_verdict(case_id, behaviour, servers, scripted):
    """What serve judges without the client's report is exactly what the run judges of it."""
    case = catalog.load_all()[case_id]
    full = run_case(case, servers, scripted(behaviour), behaviour)
    alone = server_side.judge(case, full.observations)
    checks = [(c.passed, c.expected, c.actual) for c in full.verdict.checks]
    assert alone.judged and all((c.passed, c.expected, c.actual) in checks for c in alone.judged)
