"""What the reports say, from results documents built here: the HTML report's parts, the
Markdown summary, the curl command of a job, shortened reasons and schema messages."""
from __future__ import annotations

import base64
import re

import pytest

from conformance.reports import results, schema
from conformance.reports.curlcmd import curl_command, curl_family
from conformance.reports.html import report_html
from conformance.reports.markdown import summary_markdown
from conformance.reports.provenance import suite_version
from conformance.reports.writers import RunRecord, results_document, summary_text

LONG_VERSION = ("PycURL/7.49.0 libcurl/8.23.0 OpenSSL/3.6.5 zlib/1.2.13 brotli/1.2.1 libpsl/0.21.5 "
                "libssh2/1.11.1_DEV nghttp2/1.70.0 ngtcp2/1.25.0 nghttp3/1.18.0 mit-krb5/1.22.2")


def record(cid: str, client: str, label: str, level: str = "MUST", violated: str | None = None,
           actual: str = "what happened") -> dict:
    rfc, section, _ = cid.split("/")
    return {"id": cid, "client": client, "rfc": rfc, "section": section, "level": level,
            "violated_level": violated, "requirement": f"§{section}: the requirement of {cid}",
            "server": "does something", "label": label, "verdict": label.split("-")[0],
            "expected": "what should happen", "actual": actual, "reason": actual, "seconds": 0.01,
            "covers": ["R-6.8-2"], "job": None, "curl": None, "frames": "connection #0", "rerun": "rerun it",
            "checks": [{"passed": label == "PASS", "expected": "a GOAWAY", "actual": actual}]}


def two_builds() -> dict:
    cases = [record("9113/6.8/goaway-a", "one", "PASS"), record("9113/6.8/goaway-a", "two", "PASS"),
             record("9113/10.5/flood", "one", "FAIL-SHOULD", violated="SHOULD"),
             record("9113/10.5/flood", "two", "PASS"),
             record("9113/8.2.1/upper", "one", "FAIL", actual="x" * 500)]
    builds = {"one": {"description": "first", "version": LONG_VERSION, "hello": None,
                      "expectations": "expectations/one.json", "known": {"9113/8.2.1/upper": "FAIL"},
                      "differences": [{"id": "9113/10.5/flood", "expected": "PASS", "got": "FAIL-SHOULD"}]},
              "two": {"description": "second", "version": "other/1", "hello": None, "expectations": None,
                      "known": None, "differences": None}}
    doc = results_document(RunRecord(cases, builds, started="2026-01-02T03:04:05Z", planned=5))
    return results.normalise(doc, "built-here")   # what the writers produce passes the schema


def test_html_report_parts():
    page = report_html([two_builds()])
    assert LONG_VERSION in page   # never cut
    assert f"h2clientspec {suite_version()}" in page and "run 2026-01-02T03:04:05Z to" in page
    assert "Report generated " in page
    # the grid: grouped by section, the cell's own level (a FAIL-SHOULD of a MUST case says SHOULD)
    assert page.index("RFC 9113 §6.8") < page.index("RFC 9113 §8.2.1") < page.index("RFC 9113 §10.5")
    flood = re.search(r'data-id="9113/10.5/flood".*?</tr>', page, re.S).group()
    assert "<td>MUST</td>" in flood
    assert '<span class=sym>!</span> FAIL-SHOULD<small>SHOULD</small>' in flood
    assert "cell unexpected" in flood   # differs from build one's expectations file
    assert 'data-differs="1"' in flood
    # totals per level and outcome; a legend with colour and symbol; the filters
    assert "<h2>Totals per level and outcome</h2>" in page
    assert '<span style="background:#f7d79a"><b>!</b> FAIL-SHOULD: a SHOULD requirement is not met</span>' in page
    for control in ('id="f-section"', 'id="f-level"', 'id="f-differs"',
                    '<option value="9113/10">RFC 9113 §10</option>'):
        assert control in page


def test_html_report_keeps_data_inert():
    doc = two_builds()
    doc["cases"][0]["actual"] = "</script><script>alert(1)</script>"
    page = report_html([doc])
    assert "<script>alert(1)" not in page


def test_markdown_summary_for_a_pull_request():
    text = summary_markdown(two_builds())
    assert text.startswith("### h2clientspec: ❌ the run fails")
    assert "| one | PycURL/7.49.0 libcurl/8.23.0" in text and "nghttp2/1.70.0" in text
    assert "- one (expectations/one.json): 9113/10.5/flood: expected PASS, got **FAIL-SHOULD**" in text
    upper = next(line for line in text.splitlines() if line.startswith("| 9113/8.2.1/upper"))
    assert upper.startswith("| 9113/8.2.1/upper | yes | xxxx") and upper.endswith("… |")
    assert "results.json and report.html hold the full text" in text


def test_shortened_reasons_end_with_an_ellipsis_and_say_where_the_rest_is():
    text = summary_text({"a": record("9113/8.2.1/upper", "one", "FAIL", actual="y" * 500),
                         "b": record("9113/8.2.1/lf", "one", "FAIL", actual="a\nset-cookie: x")})
    assert "FAIL          9113/8.2.1/upper: " + "y" * 199 + "…" in text
    assert "9113/8.2.1/lf: a\\nset-cookie: x" in text
    assert text.endswith("(… ends a shortened reason; results.json holds the full text)")


JOB = {"type": "run", "id": "x", "timeout_ms": 1500, "ca_file": "/tmp/ca.pem", "mode": "sequential",
       "connection": "reuse", "tls_session_cache": "separate",
       "requests": [{"method": "GET", "url": "https://127.0.0.1:1/", "headers": [["te", "gzip"]],
                     "body_b64": None, "http_version": "h2"}]}


def req(**kw) -> dict:
    return dict(JOB["requests"][0], **kw)


@pytest.mark.parametrize("requests,extra,command", [
    ([req()], {}, "curl --http2 --max-time 1.5 --cacert /tmp/ca.pem -H 'te: gzip' https://127.0.0.1:1/"),
    ([req(http_version="h2-prior-knowledge", url="http://127.0.0.1:1/", headers=[["x-empty", ""]])],
     {"ca_file": None}, "curl --http2-prior-knowledge --max-time 1.5 -H 'x-empty;' http://127.0.0.1:1/"),
    ([req(method="PUT", headers=[], http_version="http1.1", body_b64=base64.b64encode(b"hello").decode())], {},
     "curl --http1.1 --max-time 1.5 --cacert /tmp/ca.pem --data-binary hello -X PUT https://127.0.0.1:1/"),
    ([req(headers=[]), req(headers=[], url="https://127.0.0.1:1/2", method="HEAD")], {"mode": "parallel"},
     "curl --parallel --parallel-max 2 --http2 --max-time 1.5 --cacert /tmp/ca.pem https://127.0.0.1:1/ "
     "--next --http2 --max-time 1.5 --cacert /tmp/ca.pem --head https://127.0.0.1:1/2"),
    ([req(headers=[]), req(headers=[])], {"connection": "fresh", "ca_file": None},
     "curl --http2 --max-time 1.5 https://127.0.0.1:1/\ncurl --http2 --max-time 1.5 https://127.0.0.1:1/"),
])
def test_curl_command(requests, extra, command):
    assert curl_command(dict(JOB, requests=requests, **extra)) == command


def test_curl_command_with_a_binary_body_names_its_file():
    body = bytes(range(256))
    job = dict(JOB, requests=[req(method="POST", headers=[], body_b64=base64.b64encode(body).decode())])
    note, command = curl_command(job).split("\n")
    assert note.startswith("# body-1.bin: the 256-byte request body (sha256 40aff2e9d2d8922e")
    assert command.endswith("--data-binary @body-1.bin https://127.0.0.1:1/")


def test_curl_family():
    assert [curl_family({"client": {"name": n}}) for n in ("pycurl", "curl_cffi", "curl", "httpx", "scripted")] \
        == [True, True, True, False, False]


def test_schema_messages_name_the_field():
    doc = two_builds()
    assert schema.problem(doc, schema.RESULTS) is None
    doc["cases"][2]["seconds"] = "slow"
    assert schema.problem(doc, schema.RESULTS) == "cases[2].seconds: expected number, got string"
    doc["cases"][2]["seconds"] = True
    assert schema.problem(doc, schema.RESULTS) == "cases[2].seconds: expected number, got boolean"
    del doc["run"]["started"]
    assert schema.problem(doc, schema.RESULTS) == "run.started: missing"
    assert schema.problem([], schema.RESULTS) == "the document: expected object, got array"


def test_merge_refuses_results_of_different_suite_commits():
    a, b = two_builds(), two_builds()
    del b["builds"]["one"]
    b["cases"] = [c for c in b["cases"] if c["client"] == "two"]
    del a["builds"]["two"]
    a["cases"] = [c for c in a["cases"] if c["client"] == "one"]
    a["run"]["commit"], b["run"]["commit"] = "a" * 40, "b" * 40
    with pytest.raises(results.ResultsError, match=r"^b.json: commit is 'b{40}' but a.json has 'a{40}'"):
        results.merge({"a.json": a, "b.json": b})
    b["run"]["commit"] = a["run"]["commit"]
    merged = results.merge({"a.json": a, "b.json": b})
    assert list(merged["builds"]) == ["one", "two"] and merged["run"]["planned"] == 10
