"""An adapter that cannot start, or says no hello, stops the run at once with one error line
naming the build and its command, and leaves no process behind (issue 8, "broken adapters").

The builds are registered through --clients-file in a temporary folder, never in builds/.
"""
from __future__ import annotations

import subprocess
import sys
import time

from conformance.clients.process import HELLO_TIMEOUT_S
from tests.test_leftovers import PYTEST, tagged_processes, tagged_run

# Says hello once; crashes on its first job; every later start stays silent.
FLAKY = """\
import json, os, sys, time
marker = sys.argv[1]
if os.path.exists(marker):
    time.sleep(3600)
open(marker, "w").close()
print(json.dumps({"type": "hello", "protocol": 1, "client": {"name": "flaky", "version": "flaky/1"},
                  "capabilities": ["h2"]}), flush=True)
sys.stdin.readline()
sys.exit(3)
"""

CASES = ["9113/6.7/ping-ack", "9113/6.5.2/enable-push-1", "9113/6.8/goaway-last-stream-0"]


def registry(tmp_path) -> str:
    (tmp_path / "flaky.py").write_text(FLAKY)
    path = tmp_path / "clients.toml"
    path.write_text(
        '[silent]\ncommand = ["{python}", "-m", "tests.adapters.misbehaving", "no-hello"]\n'
        '[missing]\ncommand = ["/nonexistent/h2cs-adapter", "--serve"]\n'
        f'[flaky]\ncommand = ["{{python}}", "{tmp_path / "flaky.py"}", "{tmp_path / "marker"}"]\n')
    return str(path)


def start_run(tmp_path, name: str, clients: str, *args: str) -> tuple[subprocess.Popen, str, float]:
    cases = [a for cid in CASES for a in ("--case", cid)]
    proc, tag = tagged_run(tmp_path / name, *PYTEST, "--clients-file", clients, "--client", name, *cases,
                           *args)
    return proc, tag, time.monotonic()


def finish(run) -> tuple[int, str, float]:
    proc, tag, t0 = run
    out, _ = proc.communicate(timeout=60)
    seconds = time.monotonic() - t0
    assert tagged_processes(tag) == [], "processes left behind"
    return proc.returncode, out, seconds


def error_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "client build" in line]


def test_broken_adapters_stop_the_run_with_one_error(tmp_path):
    """Three runs side by side (the silent ones cost HELLO_TIMEOUT_S each, not per case)."""
    clients = registry(tmp_path)
    silent = start_run(tmp_path, "silent", clients, "-n", "2")
    missing = start_run(tmp_path, "missing", clients, "-n", "2")
    flaky = start_run(tmp_path, "flaky", clients, "-p", "no:xdist")

    code, out, seconds = finish(missing)
    assert code == 4, out
    assert error_lines(out) == ["ERROR: client build 'missing' (`/nonexistent/h2cs-adapter --serve`): "
                                "cannot start it: No such file or directory"], out
    assert "Traceback" not in out and seconds < 10

    code, out, seconds = finish(silent)
    assert code == 4, out
    [line] = error_lines(out)
    assert line.startswith("ERROR: client build 'silent' (`")
    assert f"tests.adapters.misbehaving no-hello`): no hello message within {HELLO_TIMEOUT_S:g} s; " \
        "killed it" in line
    assert "Traceback" not in out and seconds < 15

    # The adapter said hello, crashed on the first case, and its restart stays silent: the run
    # stops there, with that one error, instead of waiting on every later case.
    code, out, seconds = finish(flaky)
    assert code == 2, out
    assert "CRASH" in out and "exit status 3" in out
    assert f"Interrupted: client build 'flaky' (`{sys.executable}" in out
    assert sum("no hello message within" in line for line in out.splitlines()
               if line.startswith(("!", "E "))) <= 2, out   # the error, and the stop it caused
    assert "3 cases" not in out and seconds < 15
