"""Reports never lie (issue 8): every self-test here reproduces something that was seen.

Runs pytest on the catalog (or on a scratch catalog) in a subprocess, with the scripted
client as the adapter, and reads what the run printed and wrote.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import pycurl
import pytest

from conformance.catalog import ROOT
from conformance.reports import results
from conformance.reports.provenance import suite_version

FLAGS = ["-p", "no:cacheprovider", "--assert=plain"]
UPPERCASE, PING, LF = "9113/8.2.1/uppercase-field-name", "9113/6.7/ping-ack", "9113/8.2.1/value-with-lf"


def run(*args: str, cwd: str = ROOT, xdist: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "pytest", "cases", *FLAGS,
                           *(["-n", "2"] if xdist else ["-p", "no:xdist"]), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def cases(*ids: str) -> list[str]:
    return [a for cid in ids for a in ("--case", cid)]


def junit(path) -> dict[str, ET.Element]:
    return {s.get("name"): s for s in ET.parse(path).getroot().findall("testsuite")}


# -- broken case modules and duplicate ids ---------------------------------------------------
def scratch_catalog(tmp_path):
    """A catalog with one good module, a copy of it (every id twice) and one that cannot import."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["conformance.plugin"]\n')
    cases_dir = tmp_path / "cases"
    cases_dir.mkdir()
    (cases_dir / "__init__.py").write_text("")
    shutil.copy(os.path.join(ROOT, "cases", "rfc9113_s6_7_ping.py"), cases_dir / "rfc9113_s6_7_ping.py")
    shutil.copy(os.path.join(ROOT, "cases", "rfc9113_s6_7_ping.py"), cases_dir / "rfc9113_s6_7_ping_copy.py")
    (cases_dir / "rfc9113_s9_broken.py").write_text("import no_such_module  # noqa\n")
    return tmp_path


@pytest.mark.parametrize("xdist", [False, True], ids=["one-process", "xdist"])
def test_broken_module_and_duplicate_ids_fail_the_run_and_are_in_every_report(tmp_path, xdist):
    project = scratch_catalog(tmp_path)
    reports = project / "reports"
    r = run("--client", "scripted-good", "--reports", str(reports), cwd=str(project), xdist=xdist)
    assert r.returncode == 1, r.stdout[-3000:]
    # the console says so in its summary, not only in pytest's error section
    summary = r.stdout[r.stdout.index("h2clientspec verdicts by section"):]
    assert "ERROR: 2 problem(s) kept cases from a verdict" in summary
    assert "cases/rfc9113_s6_7_ping_copy.py: " in summary and "duplicate case id '9113/6.7/ping-ack'" in summary
    assert "cases/rfc9113_s9_broken.py: " in summary and "No module named 'no_such_module'" in summary
    doc = results.load(str(reports / "results.json"))
    assert [p["where"] for p in doc["problems"]] == ["cases/rfc9113_s6_7_ping_copy.py",
                                                     "cases/rfc9113_s9_broken.py"]
    assert doc["run"]["complete"] is True and doc["run"]["planned"] == 4
    assert {c["id"] for c in doc["cases"]} == {PING, "9113/6.7/ping-ack-not-answered",
                                               "9113/6.7/ping-nonzero-stream", "9113/6.7/ping-bad-length"}
    suite = junit(reports / "junit.xml")["h2clientspec problems"]
    assert suite.get("errors") == "2"
    assert [t.get("name") for t in suite.iter("testcase") if t.find("error") is not None] == [
        "cases/rfc9113_s6_7_ping_copy.py", "cases/rfc9113_s9_broken.py"]
    assert "no_such_module" in (reports / "summary.txt").read_text()
    assert "2 problem(s) kept cases from a verdict" in (reports / "summary.md").read_text()
    assert "No verdict for cases/rfc9113_s9_broken.py" in (reports / "report.html").read_text()


def test_a_case_in_a_broken_module_is_not_just_unknown(tmp_path):
    project = scratch_catalog(tmp_path)
    r = run("--client", "scripted-good", "--case", "9113/9/anything", cwd=str(project))
    assert r.returncode == 4
    assert "unknown case id '9113/9/anything'" in r.stderr
    assert "these case modules failed to load: cases/rfc9113_s6_7_ping_copy.py, cases/rfc9113_s9_broken.py" \
        in r.stderr


# -- interrupted and incomplete runs ---------------------------------------------------------
def test_sigint_leaves_the_previous_reports_untouched(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "results.json").write_text('{"previous": true}')
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "cases", *FLAGS, "-n", "2", "-v",
                             "--client", "scripted-good", "--reports", str(reports)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    for line in proc.stdout:   # interrupt once cases are running, as Ctrl-C would
        if " PASSED" in line:
            break
    os.killpg(proc.pid, signal.SIGINT)
    out = line + proc.communicate(timeout=60)[0]
    assert f"run interrupted: the reports in {reports} were left untouched" in out, out[-3000:]
    assert json.loads((reports / "results.json").read_text()) == {"previous": True}
    assert sorted(os.listdir(tmp_path)) == ["reports"], "no half-written folder beside the reports"


def test_a_run_stopped_early_is_marked_incomplete(tmp_path):
    r = run("-x", "--client", "scripted-naive", "--reports", str(tmp_path), *cases(UPPERCASE, PING, LF))
    assert r.returncode == 1
    doc = results.load(str(tmp_path / "results.json"))
    assert (doc["run"]["complete"], doc["run"]["planned"], len(doc["cases"])) == (False, 3, 2)
    assert "INCOMPLETE: 2 of 3 selected case items ran" in r.stdout
    assert "INCOMPLETE: 2 of 3 selected case items ran" in (tmp_path / "summary.txt").read_text()
    assert "Incomplete run" in (tmp_path / "report.html").read_text()


def test_a_reports_folder_that_cannot_be_made_stops_the_run_before_any_case(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    r = run("--client", "scripted-good", "--reports", str(blocker / "reports"), *cases(PING))
    assert r.returncode == 4 and r.stdout.count("PASSED") == 0
    assert f"--reports {blocker / 'reports'}: {blocker} is not a folder" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


# -- JUnit agrees with the exit status ------------------------------------------------------
def test_junit_agrees_with_the_exit_status(tmp_path):
    known = tmp_path / "known.json"
    known.write_text(json.dumps({"known": {UPPERCASE: "FAIL"}}))
    r = run("--client", "scripted-naive", "--expectations", str(known), "--reports", str(tmp_path / "a"),
            *cases(UPPERCASE, PING))
    assert r.returncode == 0, r.stdout[-3000:]
    suite = junit(tmp_path / "a" / "junit.xml")["h2clientspec scripted-naive"]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "1")
    skipped = [t for t in suite.iter("testcase") if t.find("skipped") is not None]
    assert skipped[0].find("skipped").get("message").startswith("known FAIL: transfer ok")

    known.write_text(json.dumps({"known": {}}))   # the same verdict now differs: the run fails
    r = run("--client", "scripted-naive", "--expectations", str(known), "--reports", str(tmp_path / "b"),
            *cases(UPPERCASE, PING))
    assert r.returncode == 1
    suite = junit(tmp_path / "b" / "junit.xml")["h2clientspec scripted-naive"]
    assert (suite.get("failures"), suite.get("errors")) == ("1", "0")
    failure = next(t for t in suite.iter("testcase") if t.find("failure") is not None).find("failure")
    assert failure.get("message").startswith("verdict changed: expected PASS, got FAIL")
    build = results.load(str(tmp_path / "b" / "results.json"))["builds"]["scripted-naive"]
    assert build["expectations"] == str(known)
    assert build["differences"] == [{"id": UPPERCASE, "expected": "PASS", "got": "FAIL"}]


def test_every_testcase_carries_frames_and_the_rerun_command(tmp_path):
    r = run("--client", "scripted-naive", "--reports", str(tmp_path), *cases(UPPERCASE, PING))
    assert r.returncode == 1
    for case in junit(tmp_path / "junit.xml")["h2clientspec scripted-naive"].iter("testcase"):
        out = case.find("system-out").text
        assert "client HEADERS stream=1" in out and "server HEADERS stream=1" in out   # both ways
        assert f"--client scripted-naive --case '{case.get('name')}'" in out
        assert "request 1: GET https://127.0.0.1:" in out


# -- the console ------------------------------------------------------------------------------
def test_first_line_names_the_build_with_its_full_version():
    r = run("--client", "pycurl-wheel", "-q", *cases(PING))
    first = r.stdout.splitlines()[0]
    assert first == f"h2clientspec {suite_version()}: client pycurl-wheel: {pycurl.version}"
    assert "nghttp2/" in first   # past the 100 characters an earlier header kept


def test_control_bytes_in_header_values_are_escaped_on_the_console(tmp_path):
    r = run("--client", "scripted-naive", "--reports", str(tmp_path),
            *cases(LF, "9113/8.2.1/value-with-cr", "9113/8.2.1/value-with-nul"))
    assert r.returncode == 1
    assert "x-custom: a\\nset-cookie: injected=1" in r.stdout
    assert "x-custom: a\\rb" in r.stdout and "x-custom: a\\x00b" in r.stdout
    assert "\r" not in r.stdout and "\0" not in r.stdout
    assert not [line for line in r.stdout.splitlines() if line.startswith("set-cookie")], "a faked line"


# -- what the client was asked, and where the run came from --------------------------------------
def test_failure_report_and_results_say_what_the_client_was_asked(tmp_path):
    r = run("--client", "scripted-naive", "--reports", str(tmp_path), *cases(UPPERCASE))
    assert "Asked of the client:\n  sequential requests, connection reuse" in r.stdout
    assert "  request 1: GET https://127.0.0.1:" in r.stdout and "/ (h2)" in r.stdout
    doc = results.load(str(tmp_path / "results.json"))
    run_ = doc["run"]
    assert run_["suite_version"] == suite_version() and run_["started"] <= run_["finished"]
    assert len(run_["commit"]) == 40   # from this checkout
    case = doc["cases"][0]
    assert case["job"]["type"] == "run" and case["job"]["requests"][0]["http_version"] == "h2"
    assert case["covers"] == ["R-8.2.1-1"]
    assert case["curl"] is None   # the scripted client is not of the curl family


def test_curl_family_records_an_equivalent_curl_command(tmp_path):
    r = run("--client", "pycurl-wheel", "--reports", str(tmp_path), *cases(PING))
    assert r.returncode == 0, r.stdout[-3000:]
    case = results.load(str(tmp_path / "results.json"))["cases"][0]
    url = case["job"]["requests"][0]["url"]
    assert case["curl"] == (f"curl --http2 --max-time 0.5 --cacert {case['job']['ca_file']} {url}")
