"""`pip install h2clientspec` from the wheel built from this checkout, into a fresh venv:
the cases, the servers, the client registry, the pytest11 entry point and the
`h2clientspec` command, run from a folder outside the repository."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conformance.catalog import ROOT

CASE = "9113/6.7/ping-ack"
# Left out of the copy the wheel is built from: what is not source.
NOT_SOURCE = {".git", ".venv", "builds", "reports", "build"}


def check(cmd: list, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def build_and_install(tmp: Path) -> Path:
    """The wheel is built from a copy, so no build/ or egg-info lands in the checkout;
    the venv gets the wheel and its dependencies from the package registry (or pip's cache)."""
    src = tmp / "src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=lambda folder, names: [
        n for n in names if n == "__pycache__" or n.endswith(".egg-info")
        or (folder == ROOT and n in NOT_SOURCE)])
    pip = [sys.executable, "-m", "pip"]
    check(pip + ["wheel", "-q", "--no-deps", "-w", tmp / "dist", src])
    (wheel,) = (tmp / "dist").glob("h2clientspec-*.whl")
    venv = tmp / "venv"
    check([sys.executable, "-m", "venv", "--without-pip", venv])
    check(pip + ["--python", venv / "bin" / "python", "install", "-q", wheel])
    return venv


def test_the_installed_wheel_runs_a_case_from_outside_the_checkout(tmp_path):
    venv = build_and_install(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "H2CS_BUILDS", "VIRTUAL_ENV")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    reports = elsewhere / "out"

    where = check([venv / "bin" / "python", "-c", "import cases, servers, conformance.clients.registry as r;"
                   "print(cases.__file__, servers.__file__, r.REGISTRY)"], cwd=elsewhere, env=env)
    assert all(p.startswith(str(venv)) for p in where.stdout.split()), where.stdout

    r = check([venv / "bin" / "h2clientspec", "run", "--case", CASE, "--reports", reports],
              cwd=elsewhere, env=env)
    assert "1 passed" in r.stdout and "plugins: h2clientspec" in r.stdout, r.stdout
    doc = json.loads((reports / "results.json").read_text())
    assert [(c["id"], c["verdict"]) for c in doc["cases"]] == [(CASE, "PASS")]
    assert {p.name for p in reports.iterdir()} >= {"results.json", "junit.xml", "summary.txt"}
    assert "differences from" in r.stdout   # the known verdicts shipped with the wheel were read

    # list, diff, ... are the commands of `python -m conformance`; serve is `python -m servers serve`.
    assert CASE in check([venv / "bin" / "h2clientspec", "list"], cwd=elsewhere, env=env).stdout
    same = check([venv / "bin" / "h2clientspec", "diff", reports / "results.json", reports / "results.json"],
                 cwd=elsewhere, env=env)
    assert "0 verdict(s) differ" in same.stdout
    assert "case_id" in check([venv / "bin" / "h2clientspec", "serve", "--help"], cwd=elsewhere, env=env).stdout

    # The checkout's conftest.py names the plugin the entry point already loaded: one registration.
    r = check([venv / "bin" / "python", "-m", "pytest", "cases", "-p", "no:xdist", "--case", CASE],
              cwd=ROOT, env=env)
    assert "1 passed" in r.stdout, r.stdout
