"""The CI workflow (.github/workflows/conformance.yml) checked offline against GitHub's
workflow schema, the one check-jsonschema ships, and against the client registry."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from conformance.catalog import ROOT
from conformance.clients import registry

WORKFLOW = os.path.join(ROOT, ".github", "workflows", "conformance.yml")
# Any attempt to reach the network goes to a closed loopback port and fails.
OFFLINE = dict(os.environ, HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")


def validate(path: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema",
                           "vendor.github-workflows", path], env=OFFLINE,
                          capture_output=True, text=True, timeout=60)


def test_workflow_matches_the_github_schema():
    r = validate(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok -- validation done" in r.stdout


def test_the_schema_check_rejects_a_broken_workflow(tmp_path):
    """Negative control: a job without runs-on is not a workflow GitHub would run."""
    with open(WORKFLOW, encoding="utf-8") as fh:
        broken = fh.read().replace("runs-on:", "runs_on:")
    (tmp_path / "broken.yml").write_text(broken, encoding="utf-8")
    r = validate(str(tmp_path / "broken.yml"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "$.jobs.build" in r.stdout


def test_one_job_per_matrix_build_and_a_merged_report():
    with open(WORKFLOW, encoding="utf-8") as fh:
        text = fh.read()
    matrix = re.search(r"^ +build: \[(.*)\]$", text, re.M)
    assert matrix, "the matrix must list the builds on one line: build: [a, b, ...]"
    listed = [b.strip() for b in matrix.group(1).split(",")]
    wanted = [name for name, b in registry.load(registry.REGISTRY).items() if b.matrix]
    assert listed == wanted
    assert "make conformance CLIENT=${{ matrix.build }}" in text
    assert "name: results-${{ matrix.build }}" in text
    assert "python -m conformance merge results/*/results.json" in text
    assert "python -m conformance report merged/results.json -o merged/report.html" in text
