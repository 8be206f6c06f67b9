"""python -m conformance: report, merge, diff and list at their edges (issue 8, "CLI edges")."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conformance.catalog import ROOT
from conformance.reports import results
from conformance.reports.provenance import suite_version

CASES = ["9113/8.2.1/uppercase-field-name", "9113/6.7/ping-ack"]


def cli(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conformance", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=ROOT))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, str]:
    """results.json of two separate runs, one build each (as two CI jobs would write them)."""
    out = {}
    for build in ("scripted-naive", "scripted-good"):
        folder = tmp_path_factory.mktemp(build)
        args = [sys.executable, "-m", "pytest", "cases", "-p", "no:cacheprovider", "-p", "no:xdist",
                "--assert=plain", "--client", build, "--reports", str(folder)]
        for cid in CASES:
            args += ["--case", cid]
        subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        out[build] = str(folder / "results.json")
    return out


def write(path, doc) -> str:
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def test_version():
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"h2clientspec {suite_version()}"


def test_list_into_a_closed_pipe_is_not_an_error():
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "list", "-v"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()   # `| head -1`: read one line, then leave
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and err == ""


def test_report_and_its_grid_alias(runs, tmp_path):
    for command in ("report", "grid"):
        out = tmp_path / f"{command}.html"
        r = cli(command, runs["scripted-naive"], runs["scripted-good"], "-o", str(out))
        assert r.returncode == 0, r.stderr
        page = out.read_text()
        assert "scripted-naive" in page and "scripted-good" in page and "9113/6.7/ping-ack" in page


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    ({"schema": "something/else"}, "not an h2clientspec results file"),
])
def test_report_never_touches_its_output_on_bad_input(runs, tmp_path, content, message):
    out = tmp_path / "report.html"
    out.write_text("the previous report")
    bad = write(tmp_path / "bad.json", content)
    r = cli("report", runs["scripted-naive"], bad, "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {bad}: {message}")
    assert out.read_text() == "the previous report"
    assert sorted(os.listdir(tmp_path)) == ["bad.json", "report.html"], "no temporary file left"


def test_report_needs_an_output_file_and_never_picks_one(runs, tmp_path):
    r = cli("report", runs["scripted-good"], cwd=str(tmp_path))
    assert r.returncode == 2 and "-o/--output" in r.stderr
    assert os.listdir(tmp_path) == []


def test_report_into_a_missing_folder_names_it(runs, tmp_path):
    out = tmp_path / "no" / "such" / "report.html"
    r = cli("report", runs["scripted-good"], "-o", str(out))
    assert r.returncode == 2 and r.stderr.startswith(f"error: {out}: cannot write: No such file or directory")


def test_errors_name_the_file_and_the_field(runs, tmp_path):
    """A results file whose case lacks `client` once gave `error: 'client'`."""
    doc = json.loads(open(runs["scripted-naive"]).read())
    del doc["cases"][0]["client"]
    bad = write(tmp_path / "no-client.json", doc)
    for args in (["report", bad, "-o", str(tmp_path / "x.html")], ["diff", bad, runs["scripted-good"]],
                 ["expectations", bad], ["merge", bad, "-o", str(tmp_path / "m.json")]):
        r = cli(*args)
        assert r.returncode == 2, args
        assert r.stderr.strip() == f"error: {bad}: cases[0].client: missing (schema h2clientspec/results/3)"


def test_the_results_schema_is_checked(runs, tmp_path):
    doc = json.loads(open(runs["scripted-naive"]).read())
    doc["cases"][1]["label"] = "BOGUS"
    doc["builds"]["scripted-naive"]["differences"] = "none"
    bad = write(tmp_path / "bad.json", doc)
    r = cli("diff", bad, runs["scripted-good"])
    assert r.returncode == 2
    assert r.stderr.startswith(f"error: {bad}: builds.scripted-naive.differences: expected array or null, "
                               f"got string")
    doc["builds"]["scripted-naive"]["differences"] = None
    write(tmp_path / "bad.json", doc)
    r = cli("diff", bad, runs["scripted-good"])
    assert r.stderr.startswith(f"error: {bad}: cases[1].label: 'BOGUS' is not one of PASS, FAIL, ")


def test_diff_exit_status(runs):
    assert cli("diff", runs["scripted-naive"], runs["scripted-naive"]).returncode == 0
    differ = cli("diff", runs["scripted-naive"], runs["scripted-good"])
    assert differ.returncode == 1 and "9113/8.2.1/uppercase-field-name: FAIL -> PASS" in differ.stdout
    assert cli("diff", runs["scripted-naive"], "/nonexistent.json").returncode == 2


def test_merge_combines_jobs_of_one_matrix(runs, tmp_path):
    out = tmp_path / "merged.json"
    r = cli("merge", runs["scripted-naive"], runs["scripted-good"], "-o", str(out))
    assert r.returncode == 0, r.stderr
    merged = results.load(str(out))
    assert sorted(merged["builds"]) == ["scripted-good", "scripted-naive"]
    assert len(merged["cases"]) == 4 and merged["run"]["planned"] == 4 and merged["run"]["complete"]
    assert merged["run"]["counts"] == {"PASS": 3, "FAIL": 1}
    d = cli("diff", str(out), "--build", "scripted-good", "--build", "scripted-naive")
    assert d.returncode == 1 and "PASS -> FAIL" in d.stdout


def test_merge_refuses_the_same_build_twice_and_keeps_its_output(runs, tmp_path):
    out = tmp_path / "merged.json"
    out.write_text("previous")
    r = cli("merge", runs["scripted-naive"], runs["scripted-good"], runs["scripted-naive"], "-o", str(out))
    assert r.returncode == 2 and r.stderr.strip() == f"error: {runs['scripted-naive']}: given twice"
    copy = tmp_path / "copy.json"
    copy.write_text(open(runs["scripted-naive"]).read())
    r = cli("merge", runs["scripted-naive"], str(copy), "-o", str(out))
    assert r.returncode == 2
    assert r.stderr.strip() == (f"error: {copy}: build 'scripted-naive' is also in {runs['scripted-naive']}; "
                                f"merge takes one results file per build")
    assert out.read_text() == "previous"


def test_older_results_files_are_still_read(tmp_path):
    case = {"id": "9113/6.7/ping-ack", "rfc": "9113", "section": "6.7", "level": "MUST",
            "requirement": "§6.7: answer PING", "server": "sends PING", "verdict": "FAIL", "label": "FAIL",
            "violated_level": "MUST", "reason": "no ACK", "expected": "PING ACK", "actual": "no ACK",
            "seconds": 0.1}
    v1 = write(tmp_path / "v1.json", {"schema": "h2clientspec/results/1",
                                      "run": {"client": "old", "client_version": "libcurl/7.0"},
                                      "cases": [case]})
    v2 = write(tmp_path / "v2.json", {"schema": "h2clientspec/results/2",
                                      "run": {"started": "2025-01-01T00:00:00Z", "strict": False},
                                      "builds": {"new": {"version": "libcurl/8.0", "expectations": "e.json",
                                                         "differences": ["9113/6.7/ping-ack: expected FAIL, "
                                                                         "got PASS"]}},
                                      "cases": [dict(case, client="new", label="PASS", verdict="PASS")]})
    assert results.load(v2)["builds"]["new"]["differences"] == [
        {"id": "9113/6.7/ping-ack", "expected": "FAIL", "got": "PASS"}]
    d = cli("diff", v1, v2)
    assert d.returncode == 1 and "9113/6.7/ping-ack: FAIL -> PASS" in d.stdout, d.stderr
    r = cli("report", v1, v2, "-o", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr
    assert "libcurl/7.0" in (tmp_path / "r.html").read_text()
