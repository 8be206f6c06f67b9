"""Bad input gets a one-line error that says what to fix, and keeps recorded results."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conformance.catalog import ROOT
from conformance.case import MUST, Case, CaseDefinitionError, get
from conformance.verdicts import Succeeds
from servers.scenario import Script



def pytest_run(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_unknown_case_id():
    r = pytest_run("cases", "--case", "9113/6.5.2/no-such-case")
    assert r.returncode == 4
    assert "unknown case id '9113/6.5.2/no-such-case'" in r.stderr


def test_unknown_client():
    r = pytest_run("cases", "--client", "libcurl-9000")
    assert r.returncode == 4
    assert "unknown client build 'libcurl-9000'; known builds:" in r.stderr


def test_bad_expectations_file(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    r = pytest_run("cases", "--expectations", str(bad))
    assert r.returncode == 4 and "is not valid JSON" in r.stderr


def test_malformed_case_is_named_and_reported(tmp_path):
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["conformance.plugin"]\n')
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "__init__.py").write_text("")
    (tmp_path / "cases" / "rfc9113_s9_broken.py").write_text(
        "from conformance.case import Case, MUST\n"
        "CASES = [Case(id='9113/9/Bad Slug', level=MUST, requirement='r', server='s',\n"
        "              scenario=None, expect=None)]\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "results.json").write_text('{"earlier": true}')
    r = pytest_run("cases", "--reports", str(reports), cwd=str(tmp_path))
    assert r.returncode == 1
    message = "malformed case definition: cases/rfc9113_s9_broken.py: case '9113/9/Bad Slug': id must be"
    assert message in r.stdout
    problems = json.loads((reports / "results.json").read_text())["problems"]
    assert problems[0]["where"] == "cases/rfc9113_s9_broken.py" and message in problems[0]["message"]


@pytest.mark.parametrize("field,value,message", [
    ("id", "6.5.2/x", "id must be a slug"),
    ("requirement", " ", "'requirement' must be a non-empty sentence"),
    ("scenario", "not callable", "scenario must be a callable"),
    ("expect", object(), "expect must be an Expectation"),
    ("bad", {}, "bad must map each misbehaving scripted client"),
    ("covers", (), "covers must name the requirement IDs"),
    ("covers", ("6.8-2",), "covers must be a tuple of requirement IDs"),
])
def test_case_validation_messages(field, value, message):
    fields = dict(id="9113/6.5/ok-case", level=MUST, requirement="r", server="s",
                  scenario=Script, expect=Succeeds(), request=get(), covers=("R-6.8-2",))
    fields[field] = value
    with pytest.raises(CaseDefinitionError, match=message):
        Case(**fields).validate("cases/x.py")


def test_serve_unknown_case_gives_one_line():
    r = subprocess.run([sys.executable, "-m", "servers", "serve", "9113/0/nothing"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("error: unknown case id '9113/0/nothing'")
