"""A client that crashes, hangs or babbles costs one verdict, never the run."""
from __future__ import annotations

import sys

import pytest

from conformance import catalog
from conformance.clients.process import AdapterError, ClientProcess
from conformance.runner import run_case
from conformance.verdicts.verdict import Outcome

ROOT = catalog.ROOT
CASE = catalog.load_all()["9113/6.7/ping-ack"]


def adapter(mode: str) -> ClientProcess:
    return ClientProcess(f"misbehaving-{mode}", [sys.executable, "-m", "tests.adapters.misbehaving", mode],
                         cwd=ROOT)


@pytest.mark.parametrize("mode,outcome,detail", [
    ("segfault", Outcome.CRASH, "SIGSEGV"),
    ("exit", Outcome.CRASH, "exit status 3"),
    ("garbage", Outcome.ERROR, "not JSON"),
    ("wrong-id", Outcome.ERROR, "broke the protocol"),
])
def test_broken_adapter_costs_one_verdict(servers, mode, outcome, detail):
    client = adapter(mode)
    try:
        client.start()
        first = run_case(CASE, servers, client, client.name)
        assert first.verdict.outcome is outcome
        assert detail in first.verdict.reason
        # The next case gets a fresh process and its own verdict.
        second = run_case(CASE, servers, client, client.name)
        assert second.verdict.outcome is outcome
    finally:
        client.close()


def test_hang_gives_timeout_within_the_bound(servers):
    client = adapter("hang")
    try:
        client.start()
        reply = client.run({"type": "run", "id": "x", "requests": [{}]}, bound_s=0.5)
        assert reply.kind == "timeout"
        assert not client.alive()
    finally:
        client.close()


def test_killed_mid_case_gives_crash(servers):
    """Kill the real adapter while it works on a case: CRASH, and the next case runs."""
    import os
    import signal
    import threading
    client = adapter("hang")
    try:
        client.start()
        pid = client._proc.pid
        threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
        result = run_case(CASE, servers, client, client.name)
        assert result.verdict.outcome is Outcome.CRASH
        assert "SIGKILL" in result.verdict.reason
    finally:
        client.close()


def test_adapter_without_hello_is_a_clear_error():
    import conformance.clients.process as proc
    client = adapter("no-hello")
    old, proc.HELLO_TIMEOUT_S = proc.HELLO_TIMEOUT_S, 0.5
    try:
        with pytest.raises(AdapterError, match="no hello message"):
            client.start()
    finally:
        proc.HELLO_TIMEOUT_S = old
        client.close()


def test_killing_the_real_adapter_mid_case_gives_crash_and_the_run_goes_on(servers):
    """The pycurl adapter is killed while libcurl waits on a silent server: CRASH, then the
    next case runs on a fresh adapter process and gets its own verdict."""
    import dataclasses
    import os
    import signal
    import threading
    from conformance.clients import registry
    build = registry.find("pycurl-wheel")
    client = ClientProcess(build.name, list(build.argv), cwd=ROOT)
    cases = catalog.load_all()
    try:
        client.start()
        threading.Timer(0.3, os.kill, (client._proc.pid, signal.SIGKILL)).start()
        silent = cases["9113/3.4/server-sends-nothing"]   # with a timeout the kill comes well inside
        silent = dataclasses.replace(silent, request=dataclasses.replace(silent.request, timeout_ms=5000))
        killed = run_case(silent, servers, client, build.name)
        assert killed.verdict.outcome is Outcome.CRASH and "SIGKILL" in killed.verdict.reason
        after = run_case(CASE, servers, client, build.name)
        assert after.verdict.outcome is Outcome.PASS
    finally:
        client.close()
