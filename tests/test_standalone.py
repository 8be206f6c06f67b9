"""`python -m servers serve <case-id>` serves a case to any client, here Debian's curl CLI."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from conformance.catalog import ROOT



@pytest.mark.skipif(not shutil.which("curl"), reason="the curl CLI is installed by make setup")
def test_serve_ping_ack_to_curl_cli():
    server = subprocess.Popen([sys.executable, "-m", "servers", "serve", "9113/6.7/ping-ack", "--once"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        facts = {}
        for line in server.stdout:
            key, _, value = line.partition(":")
            facts[key.strip()] = value.strip()
            if key.startswith("conforming client"):
                break
        assert facts["url"].startswith("https://127.0.0.1:")
        assert "PING ACK with the same payload" in facts["conforming client"]
        got = subprocess.run(["curl", "-sS", "--http2", "--cacert", facts["ca file"], facts["url"]],
                             capture_output=True, text=True, timeout=30)
        assert got.returncode == 0, got.stderr
        assert got.stdout == "hello from h2clientspec\n"
        rest, _ = server.communicate(timeout=30)
        assert "client PING stream=0 flags=ACK" in rest
        assert server.returncode == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
