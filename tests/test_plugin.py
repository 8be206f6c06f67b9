"""The pytest plugin end to end, with the scripted client as the adapter under test."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET

from conformance.catalog import ROOT

FLAGS = ["-p", "no:cacheprovider", "-p", "no:xdist", "--assert=plain"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "cases", *FLAGS, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_reports_from_a_naive_client(tmp_path):
    """naive accepts a malformed header (FAIL) and answers PING (PASS)."""
    r = run("--client", "scripted-naive", "--reports", str(tmp_path),
            "--case", "9113/8.2.1/uppercase-field-name", "--case", "9113/6.7/ping-ack")
    assert r.returncode == 1, r.stdout[-3000:]
    assert "Requirement: §8.2.1" in r.stdout and "Rerun this case alone:" in r.stdout
    assert "--case '9113/8.2.1/uppercase-field-name'" in r.stdout
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["schema"] == "h2clientspec/results/3"
    assert list(doc["builds"]) == ["scripted-naive"]
    assert doc["builds"]["scripted-naive"]["version"] == "scripted/1"
    verdicts = {c["id"]: c["verdict"] for c in doc["cases"]}
    assert verdicts == {"9113/8.2.1/uppercase-field-name": "FAIL", "9113/6.7/ping-ack": "PASS"}
    assert "client scripted-naive: scripted/1" in r.stdout
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    failed = [t for t in suite.iter("testcase") if t.find("failure") is not None]
    assert [t.get("name") for t in failed] == ["9113/8.2.1/uppercase-field-name"]
    assert "9113 §8.2.1" in (tmp_path / "summary.txt").read_text()
    assert "9113/8.2.1/uppercase-field-name" in (tmp_path / "report.html").read_text()


def test_expectations_turn_known_failures_into_xfail(tmp_path):
    known = tmp_path / "known.json"
    known.write_text(json.dumps({"known": {"9113/8.2.1/uppercase-field-name": "FAIL"}}))
    r = run("--client", "scripted-naive", "--expectations", str(known),
            "--case", "9113/8.2.1/uppercase-field-name", "--case", "9113/6.7/ping-ack")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "1 passed" in r.stdout and "1 xfailed" in r.stdout
    assert "differences from" in r.stdout
    known.write_text(json.dumps({"known": {}}))
    r = run("--client", "scripted-naive", "--expectations", str(known),
            "--case", "9113/8.2.1/uppercase-field-name")
    assert r.returncode == 1 and "verdict changed: expected PASS" in r.stdout


def test_markers_select_by_section_and_level():
    r = run("--collect-only", "-q", "-m", "sec_6_7 and must")
    ids = [line.split("::", 1)[1] for line in r.stdout.splitlines() if "::" in line]
    assert ids and all(i.startswith("9113/6.7/") for i in ids)
    r = run("--collect-only", "-q", "-k", "enable-push")
    assert "9113/6.5.2/enable-push-1" in r.stdout


def test_should_failures_warn_unless_strict(tmp_path):
    """no-reuse breaks a SHOULD (§9.1 one connection per origin): a warning, a failure with --strict."""
    clients = tmp_path / "clients.toml"
    clients.write_text('[no-reuse]\ncommand = ["{python}", "-m", "tests.scripted", "no-reuse"]\n')
    case = ["--clients-file", str(clients), "--client", "no-reuse",
            "--case", "9113/9.1/sequential-one-connection"]
    r = run(*case)
    assert r.returncode == 0 and "SHOULD not met" in r.stdout, r.stdout[-2000:]
    r = run(*case, "--strict")
    assert r.returncode == 1 and "[SHOULD] FAIL-SHOULD" in r.stdout, r.stdout[-2000:]


def test_two_builds_in_one_run(tmp_path):
    """--client twice: one item per case and build, one results file holding both builds."""
    r = run("--client", "scripted-naive", "--client", "scripted-good", "--reports", str(tmp_path),
            "--case", "9113/8.2.1/uppercase-field-name")
    assert r.returncode == 1, r.stdout[-3000:]
    assert "9113/8.2.1/uppercase-field-name[scripted-naive]" in r.stdout
    doc = json.loads((tmp_path / "results.json").read_text())
    assert sorted(doc["builds"]) == ["scripted-good", "scripted-naive"]
    got = {(c["client"], c["id"]): c["label"] for c in doc["cases"]}
    assert got == {("scripted-naive", "9113/8.2.1/uppercase-field-name"): "FAIL",
                   ("scripted-good", "9113/8.2.1/uppercase-field-name"): "PASS"}
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert {s.get("name"): s.get("failures") for s in suites} == {
        "h2clientspec scripted-naive": "1", "h2clientspec scripted-good": "0"}
    d = subprocess.run([sys.executable, "-m", "conformance", "diff", str(tmp_path / "results.json"),
                        "--build", "scripted-good", "--build", "scripted-naive"],
                       cwd=ROOT, capture_output=True, text=True)
    assert d.returncode == 1 and "PASS -> FAIL" in d.stdout and "1 verdict(s) differ" in d.stdout


def test_expectations_folder_without_a_file_for_the_build(tmp_path):
    """A build with no expectations file yet runs, is judged by level, and is told how to record one."""
    r = run("--client", "scripted-good", "--expectations", str(tmp_path), "--reports", str(tmp_path / "r"),
            "--case", "9113/6.7/ping-ack")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "no expectations file for scripted-good yet" in r.stdout
    assert "--build scripted-good -o expectations/scripted-good.json" in r.stdout
