"""A run, and a run interrupted by SIGINT, leave no processes, ports or files behind."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

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


# The catalog needs no hypothesis; its plugin costs every process a second of imports.
PYTEST = (sys.executable, "-m", "pytest", "cases", "-p", "no:cacheprovider", "-p", "no:hypothesispytest")
SERVE = (sys.executable, "-m", "servers", "serve")


def tagged_run(where, *argv: str) -> tuple[subprocess.Popen, str]:
    """`argv` in its own session, with a private TMPDIR (where/tmp) and a tag in its
    environment that every process it starts inherits."""
    tag = uuid.uuid4().hex
    tmpdir = where / "tmp"
    tmpdir.mkdir(parents=True)
    env = dict(os.environ, H2CS_RUN_TAG=tag, TMPDIR=str(tmpdir))
    proc = subprocess.Popen(argv,
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    return proc, tag


def start(tmp_path, *args: str) -> tuple[subprocess.Popen, str]:
    return tagged_run(tmp_path, *PYTEST, *args)


def assert_clean(tmp_path, tag: str) -> None:
    deadline = time.monotonic() + 5
    while tagged_processes(tag) and time.monotonic() < deadline:
        time.sleep(0.05)  # exiting children are reaped asynchronously by their parents
    assert tagged_processes(tag) == [], "processes left behind"
    # pytest-of-<user> is pytest's own basetemp (xdist creates it), kept by pytest's retention policy.
    left = [n for n in os.listdir(tmp_path / "tmp") if not n.startswith("pytest-of-")]
    assert left == [], "temporary files left behind"


def wait_for_key_material(tmp_path, proc: subprocess.Popen, count: int) -> None:
    """Until `count` processes hold TLS key material in the run's TMPDIR: they are serving."""
    deadline = time.monotonic() + 60
    while len([n for n in os.listdir(tmp_path / "tmp") if n.startswith("h2cs-tls-")]) < count:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.05)


def test_a_finished_run_leaves_nothing(tmp_path):
    args = ["-n", "2", "--reports", str(tmp_path / "r")]
    for cid in SOME_CASES:
        args += ["--case", cid]
    proc, tag = start(tmp_path, *args)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode in (0, 1), out
    assert_clean(tmp_path, tag)


# Who gets the signal: a user's Ctrl-C and a closed terminal signal the whole process group
# (as `timeout` does, below); `kill PID` the controller alone, which must then stop its workers.
@pytest.mark.parametrize("sig,group,workers", [
    (signal.SIGINT, True, 2), (signal.SIGTERM, False, 2), (signal.SIGHUP, True, 2),
    (signal.SIGINT, False, 0), (signal.SIGTERM, False, 0), (signal.SIGHUP, False, 0)],
    ids=lambda v: getattr(v, "name", str(v)))
def test_a_signalled_run_leaves_nothing(tmp_path, sig, group, workers):
    proc, tag = start(tmp_path, "-q", *(["-n", str(workers)] if workers else ["-p", "no:xdist"]))
    wait_for_key_material(tmp_path, proc, max(workers, 1))
    (os.killpg if group else os.kill)(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, out   # pytest's "interrupted"
    assert_clean(tmp_path, tag)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signalled_serve_leaves_nothing(tmp_path, sig):
    proc, tag = tagged_run(tmp_path, *SERVE, "9113/6.7/ping-ack")
    wait_for_key_material(tmp_path, proc, 1)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert_clean(tmp_path, tag)


def test_serve_under_timeout_leaves_nothing(tmp_path):
    proc, tag = tagged_run(tmp_path, "timeout", "3", *SERVE, "9113/6.7/ping-ack")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 124 and "ca file:" in out, out   # it was serving when stopped
    assert_clean(tmp_path, tag)
