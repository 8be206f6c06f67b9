"""A run, and a run interrupted by SIGINT, leave no processes, ports or files behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from conformance.catalog import ROOT

SOME_CASES = ["9113/6.7/ping-ack", "9113/6.5.2/enable-push-1", "9113/6.8/goaway-last-stream-0",
              "9113/3.3/h2c-prior-knowledge", "baseline/reference/get-small"]


def tagged_processes(tag: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if f"H2CS_RUN_TAG={tag}".encode() in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def tagged_run(where, *args: str, command: tuple[str, ...] = ("pytest", "cases", "-p", "no:cacheprovider")
               ) -> tuple[subprocess.Popen, str]:
    """`python -m <command> <args>` in its own session, with a private TMPDIR (where/tmp) and a
    tag in its environment that every process it starts inherits."""
    tag = uuid.uuid4().hex
    tmpdir = where / "tmp"
    tmpdir.mkdir(parents=True)
    env = dict(os.environ, H2CS_RUN_TAG=tag, TMPDIR=str(tmpdir))
    proc = subprocess.Popen([sys.executable, "-m", *command, *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    return proc, tag


def start(tmp_path, *args: str) -> tuple[subprocess.Popen, str]:
    return tagged_run(tmp_path, *args)


def assert_clean(tmp_path, tag: str) -> None:
    deadline = time.monotonic() + 5
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.05)  # exiting children are reaped asynchronously by their parents
    assert tagged_processes(tag) == [], "processes left behind"
    # pytest-of-<user> is pytest's own basetemp (xdist creates it), kept by pytest's retention policy.
    left = [n for n in os.listdir(tmp_path / "tmp") if not n.startswith("pytest-of-")]
    assert left == [], "temporary files left behind"


def test_a_finished_run_leaves_nothing(tmp_path):
    args = ["-n", "2", "--reports", str(tmp_path / "r")]
    for cid in SOME_CASES:
        args += ["--case", cid]
    proc, tag = start(tmp_path, *args)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), out
    assert_clean(tmp_path, tag)


def test_an_interrupted_run_leaves_nothing(tmp_path):
    proc, tag = start(tmp_path, "-n", "2", "-v")
    # Interrupt once cases are running, as a user's Ctrl-C would: the whole process group.
    for line in proc.stdout:
        if " PASSED" in line or " FAILED" in line or " XFAIL" in line:
            break
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert_clean(tmp_path, tag)
