"""report.html in a real browser: headless Chromium loads a two-build report, the
"differs between builds" filter is applied and a cell's details panel opened by the page's
own script, and what the browser then renders is checked."""
from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys

from conformance.catalog import ROOT

CASES = ["9113/6.7/ping-ack", "9113/8.2.1/uppercase-field-name", "9113/8.2.1/value-with-lf"]
SCREENSHOT = "/tmp/h2clientspec-report.png"

# Appended to the page: acts as a user would (tick the filter, click a cell), then writes
# what the browser renders (rows laid out, the panel's visible text) into <pre id=probe>.
PROBE = """<script>
document.getElementById('f-differs').click();
document.querySelector('tr[data-id="9113/8.2.1/uppercase-field-name"] td[data-build="scripted-naive"]').click();
var panel = document.getElementById('panel');
var probe = document.createElement('pre');
probe.id = 'probe';
probe.textContent = JSON.stringify({
  visible: Array.prototype.filter.call(document.querySelectorAll('#grid tr.case'),
                                       function (r) { return r.getClientRects().length > 0; })
           .map(function (r) { return r.dataset.id; }),
  shown: document.getElementById('shown').textContent,
  panelShown: panel.getClientRects().length > 0,
  panel: panel.innerText});
document.body.appendChild(probe);
</script>"""


def chromium() -> str:
    found = shutil.which("chromium")
    assert found, "Debian's chromium is needed: apt-get install chromium (scripts/setup-system.sh)"
    return found


def browse(page, *args: str, profile) -> str:
    r = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        f"--user-data-dir={profile}", *args, page.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_two_build_report_in_chromium(tmp_path):
    args = [sys.executable, "-m", "pytest", "cases", "-p", "no:cacheprovider", "-p", "no:xdist",
            "--assert=plain", "--client", "scripted-naive", "--client", "scripted-good",
            "--reports", str(tmp_path / "r")]
    for cid in CASES:
        args += ["--case", cid]
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout[-3000:]
    report = tmp_path / "report.html"
    made = subprocess.run([sys.executable, "-m", "conformance", "report", str(tmp_path / "r" / "results.json"),
                           "-o", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    page = report.read_text()
    assert not re.search(r"\b(src|href)=|url\(|@import", page), "the report must need no other resource"

    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = browse(probed, "--dump-dom", profile=tmp_path / "profile")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(html.unescape(found.group(1)))

    assert seen["visible"] == ["9113/8.2.1/uppercase-field-name", "9113/8.2.1/value-with-lf"]
    assert seen["shown"] == "2 of 3 cases shown"
    assert seen["panelShown"]
    panel = seen["panel"]
    for shown in ("9113/8.2.1/uppercase-field-name — scripted-naive",
                  "✗ FAIL at MUST level",
                  "§8.2.1: a field name containing uppercase characters",   # the requirement
                  "R-8.2.1-1",                                               # and its ID
                  "the transfer fails with an error",                        # expected
                  "transfer ok: HTTP/2 200, body 24 bytes",                  # actual
                  "Failed checks",
                  "request 1: GET https://127.0.0.1:",                       # the job
                  "server HEADERS stream=1 flags=END_HEADERS headers=:status: 200",  # frames
                  "client GOAWAY stream=0 error_code=NO_ERROR",
                  "naive: ignoring malformed response: uppercase field name",       # client trace
                  "--client scripted-naive --case '9113/8.2.1/uppercase-field-name'"):  # rerun
        assert shown in panel, f"{shown!r} not in the details panel:\n{panel}"

    browse(probed, f"--screenshot={SCREENSHOT}", "--window-size=1400,1000", profile=tmp_path / "profile")
    print(f"screenshot: {SCREENSHOT}")
